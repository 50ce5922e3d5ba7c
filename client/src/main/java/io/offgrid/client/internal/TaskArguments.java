package io.offgrid.client.internal;

import io.offgrid.memory.Codec;
import io.offgrid.memory.CodecRegistry;
import org.agrona.DirectBuffer;
import org.agrona.ExpandableArrayBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * Encodes a task's arguments: literal values with the memory module's codecs, and dependencies by key (the
 * worker resolves them from its block store). Layout, little-endian: {@code int count}, then per argument a
 * tag byte and either {@code int codecId, int length, bytes} (literal) or {@code int length, utf8 key}.
 */
public final class TaskArguments
{
    /** A literal value follows. */
    public static final byte LITERAL = 0;
    /** A dependency key follows. */
    public static final byte DEPENDENCY = 1;

    private TaskArguments()
    {
    }

    /**
     * A reference to another key among the arguments being encoded.
     *
     * @param key the key.
     */
    public record KeyRef(String key)
    {
    }

    /**
     * @param codecs codecs for literal values.
     * @param args   literal values and {@link KeyRef}s.
     * @return the encoded arguments.
     */
    public static byte[] encode(final CodecRegistry codecs, final Object[] args)
    {
        final ExpandableArrayBuffer buffer = new ExpandableArrayBuffer(64);
        int p = 0;
        buffer.putInt(p, args.length, ByteOrder.LITTLE_ENDIAN);
        p += 4;
        for (final Object arg : args)
        {
            if (arg instanceof KeyRef)
            {
                final byte[] key = ((KeyRef)arg).key().getBytes(StandardCharsets.UTF_8);
                buffer.putByte(p++, DEPENDENCY);
                buffer.putInt(p, key.length, ByteOrder.LITTLE_ENDIAN);
                buffer.putBytes(p + 4, key);
                p += 4 + key.length;
            }
            else
            {
                final Codec<Object> codec = codecs.codecFor(arg);
                final int length = codec.encodedLength(arg);
                buffer.putByte(p++, LITERAL);
                buffer.putInt(p, codec.id(), ByteOrder.LITTLE_ENDIAN);
                buffer.putInt(p + 4, length, ByteOrder.LITTLE_ENDIAN);
                buffer.checkLimit(p + 8 + length);
                codec.encode(arg, buffer, p + 8);
                p += 8 + length;
            }
        }
        final byte[] out = new byte[p];
        buffer.getBytes(0, out);
        return out;
    }

    /**
     * @param codecs   codecs for literal values.
     * @param bytes    what {@link #encode} wrote.
     * @param resolver gives the value of a dependency key.
     * @return the argument values.
     */
    public static Object[] decode(final CodecRegistry codecs, final byte[] bytes, final Function<String, Object> resolver)
    {
        final DirectBuffer buffer = new UnsafeBuffer(bytes);
        int p = 0;
        final int count = checkedInt(buffer, p, bytes.length);
        p += 4;
        if (count < 0 || count > bytes.length)
        {
            throw new IllegalArgumentException("bad argument count " + count);
        }
        final Object[] args = new Object[count];
        for (int i = 0; i < count; i++)
        {
            check(p + 1, bytes.length);
            final byte tag = buffer.getByte(p++);
            if (tag == DEPENDENCY)
            {
                final int length = checkedInt(buffer, p, bytes.length);
                check(p + 4 + length, bytes.length);
                args[i] = resolver.apply(buffer.getStringWithoutLengthUtf8(p + 4, length));
                p += 4 + length;
            }
            else if (tag == LITERAL)
            {
                final int id = checkedInt(buffer, p, bytes.length);
                final int length = checkedInt(buffer, p + 4, bytes.length);
                check(p + 8 + length, bytes.length);
                args[i] = codecs.codecFor(id).decode(buffer, p + 8, length);
                p += 8 + length;
            }
            else
            {
                throw new IllegalArgumentException("bad argument tag " + tag);
            }
        }
        return args;
    }

    /**
     * @param bytes what {@link #encode} wrote.
     * @return the dependency keys among the arguments, in order (literals are skipped, not decoded).
     */
    public static java.util.List<String> dependencies(final byte[] bytes)
    {
        final DirectBuffer buffer = new UnsafeBuffer(bytes);
        final java.util.ArrayList<String> keys = new java.util.ArrayList<>();
        final int count = checkedInt(buffer, 0, bytes.length);
        int p = 4;
        for (int i = 0; i < count; i++)
        {
            check(p + 1, bytes.length);
            final byte tag = buffer.getByte(p++);
            if (tag == DEPENDENCY)
            {
                final int length = checkedInt(buffer, p, bytes.length);
                check(p + 4 + length, bytes.length);
                keys.add(buffer.getStringWithoutLengthUtf8(p + 4, length));
                p += 4 + length;
            }
            else
            {
                final int length = checkedInt(buffer, p + 4, bytes.length);
                check(p + 8 + length, bytes.length);
                p += 8 + length;
            }
        }
        return keys;
    }

    private static int checkedInt(final DirectBuffer buffer, final int p, final int limit)
    {
        check(p + 4, limit);
        final int v = buffer.getInt(p, ByteOrder.LITTLE_ENDIAN);
        if (v < 0)
        {
            throw new IllegalArgumentException("negative length in arguments");
        }
        return v;
    }

    private static void check(final int end, final int limit)
    {
        if (end > limit || end < 0)
        {
            throw new IllegalArgumentException("arguments truncated");
        }
    }
}
