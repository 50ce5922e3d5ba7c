package io.offgrid.transport;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Turns a key's bytes on the wire into its {@link String} without allocating when the same key was seen recently.
 * A node decodes the same few keys again and again (a task's key arrives in its submit, its finish, its release
 * and its free); decoding each into a fresh {@code String} was the largest single cost of a node's duty cycle
 * per task. A hit also returns the instance the node's tables already hold, whose hash code is cached and which
 * compares equal by identity.
 * <p>
 * A bounded cache, not an intern pool: {@code capacity} slots in pairs (two-way set associative), a newcomer
 * displaces the older of its pair. Keys with bytes outside US-ASCII bypass it and decode as UTF-8. Not
 * thread-safe: one per agent.
 */
public final class KeyCache
{
    private final String[] slots;
    private final UnsafeBuffer asciiView = new UnsafeBuffer(0, 0);
    private byte[] asciiBytes = new byte[64];
    private final int mask;
    private long hits;
    private long misses;

    /** A cache of 65,536 keys (256 KiB of references): a 20,000-task map's keys stay in it from submit to free. */
    public KeyCache()
    {
        this(1 << 16);
    }

    /** @param capacity slots, a power of two of at least 2. */
    public KeyCache(final int capacity)
    {
        if (capacity < 2 || Integer.bitCount(capacity) != 1)
        {
            throw new IllegalArgumentException("capacity must be a power of two >= 2: " + capacity);
        }
        slots = new String[capacity];
        mask = capacity - 1;
    }

    /**
     * @param view exactly over the key's bytes, as a decoder's {@code wrapKey(view)} leaves it.
     * @return the key as a string, equal to decoding the bytes as UTF-8.
     */
    public String get(final DirectBuffer view)
    {
        return get(view, 0, view.capacity());
    }

    /**
     * @param buffer holding the key.
     * @param offset of its first byte.
     * @param length in bytes.
     * @return the key as a string, equal to decoding the bytes as UTF-8.
     */
    public String get(final DirectBuffer buffer, final int offset, final int length)
    {
        if (0 == length)
        {
            return "";
        }
        int hash = 0;
        int ascii = 0;
        for (int i = 0; i < length; i++)
        {
            final byte b = buffer.getByte(offset + i);
            ascii |= b;
            hash = 31 * hash + b;
        }
        if (ascii < 0)
        {
            // A byte >= 0x80: multi-byte UTF-8, which the byte-wise comparison below cannot match.
            misses++;
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            return new String(bytes, StandardCharsets.UTF_8);
        }
        final int first = (hash ^ (hash >>> 16)) & mask & ~1;
        final String a = slots[first];
        if (null != a && matches(a, buffer, offset, length))
        {
            hits++;
            return a;
        }
        final String b = slots[first + 1];
        if (null != b && matches(b, buffer, offset, length))
        {
            hits++;
            // Most recent first, so the next newcomer displaces the older one.
            slots[first + 1] = a;
            slots[first] = b;
            return b;
        }
        misses++;
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        final String key = new String(bytes, StandardCharsets.ISO_8859_1);
        slots[first + 1] = a;
        slots[first] = key;
        return key;
    }

    private static boolean matches(final String s, final DirectBuffer buffer, final int offset, final int length)
    {
        if (s.length() != length)
        {
            return false;
        }
        for (int i = 0; i < length; i++)
        {
            if (s.charAt(i) != buffer.getByte(offset + i))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * The encoding direction, without the byte array {@code String.getBytes} makes: a generated encoder's
     * {@code putKey(view, 0, view.capacity())} copies the key from the returned view.
     *
     * @param key to encode.
     * @return a view over the key's bytes, valid until the next call; null when the key has a character outside
     * US-ASCII (encode it with the encoder's {@code key(String)} then).
     */
    public DirectBuffer ascii(final String key)
    {
        final int length = key.length();
        if (length > asciiBytes.length)
        {
            asciiBytes = new byte[Math.max(length, asciiBytes.length * 2)];
        }
        final byte[] bytes = asciiBytes;
        for (int i = 0; i < length; i++)
        {
            final char c = key.charAt(i);
            if (c >= 0x80)
            {
                return null;
            }
            bytes[i] = (byte)c;
        }
        asciiView.wrap(bytes, 0, length);
        return asciiView;
    }

    /** @return lookups answered with a cached instance. */
    public long hits()
    {
        return hits;
    }

    /** @return lookups that decoded a new string. */
    public long misses()
    {
        return misses;
    }
}
