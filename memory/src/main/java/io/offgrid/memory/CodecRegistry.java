package io.offgrid.memory;

import net.openhft.chronicle.bytes.BytesMarshallable;
import java.io.Serializable;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Which {@link Codec} encodes a value, and which decodes a block with a given codec id.
 *
 * <p>A value's codec is chosen by, in order: its exact class among registered and built-in codecs
 * (null, Boolean, Integer, Long, Double, String, byte[], int[], long[], double[],
 * {@link ColumnarTable}, and {@link NativeTable}, stored as a table block); chronicle-bytes {@link BytesMarshallable}; Java serialization, only for
 * classes the allow-list passes. Anything else is refused with a {@link CodecException}.
 *
 * <p>Register user codecs before the registry is shared; lookups are thread-safe after that.
 * Every node of a cluster must register the same user codecs under the same ids.
 */
public final class CodecRegistry
{
    /** The lowest id available to user codecs. */
    public static final int FIRST_USER_ID = 64;
    /** The default Java serialization allow-list: nothing, so serialization is off. */
    public static final String NO_SERIALIZATION = "!*";

    private final ConcurrentHashMap<Class<?>, Codec<?>> byClass = new ConcurrentHashMap<>();
    // Copy-on-write so the read path (every get) takes no lock.
    private volatile Codec<?>[] byId = new Codec<?>[FIRST_USER_ID];
    private final Codec<Object> nullCodec = new BuiltinCodecs.NullCodec();
    private final BuiltinCodecs.MarshallableCodec marshallable;
    private final BuiltinCodecs.SerializedCodec serialized;

    /**
     * A registry with the built-in codecs and Java serialization off.
     */
    public CodecRegistry()
    {
        this(NO_SERIALIZATION);
    }

    /**
     * A registry with the built-in codecs and Java serialization limited to {@code allowList}.
     *
     * @param allowList an {@link java.io.ObjectInputFilter} pattern such as
     *                  {@code "java.util.*;com.acme.model.*;!*"}; classes it does not allow are refused.
     */
    public CodecRegistry(final String allowList)
    {
        marshallable = new BuiltinCodecs.MarshallableCodec(CodecRegistry.class.getClassLoader());
        serialized = new BuiltinCodecs.SerializedCodec(allowList);
        builtIn(nullCodec);
        builtIn(new BuiltinCodecs.BooleanCodec());
        builtIn(new BuiltinCodecs.IntegerCodec());
        builtIn(new BuiltinCodecs.LongCodec());
        builtIn(new BuiltinCodecs.DoubleCodec());
        builtIn(new BuiltinCodecs.StringCodec());
        builtIn(new BuiltinCodecs.BytesCodec());
        builtIn(new BuiltinCodecs.IntsCodec());
        builtIn(new BuiltinCodecs.LongsCodec());
        builtIn(new BuiltinCodecs.DoublesCodec());
        builtIn(new BuiltinCodecs.TableCodec());
        byClass.put(NativeTable.class, new BuiltinCodecs.NativeTableCodec());
        putId(marshallable);
        putId(serialized);
    }

    private void builtIn(final Codec<?> codec)
    {
        putId(codec);
        if (codec.id() != BuiltinCodecs.NULL)
        {
            byClass.put(codec.type(), codec);
        }
    }

    /**
     * Register a codec for its {@link Codec#type()}.
     *
     * @param codec a codec whose id is at least {@link #FIRST_USER_ID} and not yet taken.
     * @param <T>   value type.
     * @return this registry.
     */
    public synchronized <T> CodecRegistry register(final Codec<T> codec)
    {
        if (codec.id() < FIRST_USER_ID || codec.id() > 0xFFFF)
        {
            throw new IllegalArgumentException("user codec ids are " + FIRST_USER_ID + "..65535: " + codec.id());
        }
        final Codec<?> taken = lookup(codec.id());
        if (taken != null)
        {
            throw new IllegalArgumentException("codec id " + codec.id() + " is already registered to " +
                taken.type().getName());
        }
        if (byClass.containsKey(codec.type()))
        {
            throw new IllegalArgumentException("a codec for " + codec.type().getName() + " is already registered");
        }
        putId(codec);
        byClass.put(codec.type(), codec);
        return this;
    }

    /**
     * The codec that encodes {@code value}.
     *
     * @param value any value, null included.
     * @return its codec.
     * @throws CodecException if no codec accepts the value's class.
     */
    @SuppressWarnings("unchecked")
    public Codec<Object> codecFor(final Object value)
    {
        if (value == null)
        {
            return nullCodec;
        }
        final Class<?> type = value.getClass();
        final Codec<?> exact = byClass.get(type);
        if (exact != null)
        {
            return (Codec<Object>)exact;
        }
        if (value instanceof BytesMarshallable)
        {
            return (Codec<Object>)(Codec<?>)marshallable;
        }
        if (value instanceof Serializable && serialized.allows(type))
        {
            return serialized;
        }
        throw new CodecException("no codec for " + type.getName() + ": register a Codec for it, implement " +
            "BytesMarshallable, or allow it for Java serialization (allow-list '" + serialized.pattern() + "')");
    }

    /**
     * The codec for a block's codec id.
     *
     * @param id the id from a block header.
     * @return the codec.
     * @throws CodecException if the id is unknown here.
     */
    @SuppressWarnings("unchecked")
    public Codec<Object> codecFor(final int id)
    {
        final Codec<?> codec = lookup(id);
        if (codec == null)
        {
            throw new CodecException("unknown codec id " + id + ": is a user codec registered on this node?");
        }
        return (Codec<Object>)codec;
    }

    private Codec<?> lookup(final int id)
    {
        final Codec<?>[] table = byId;
        return id >= 0 && id < table.length ? table[id] : null;
    }

    private synchronized void putId(final Codec<?> codec)
    {
        Codec<?>[] table = byId;
        if (codec.id() >= table.length)
        {
            table = Arrays.copyOf(table, Math.max(codec.id() + 1, table.length * 2));
        }
        else
        {
            table = table.clone();
        }
        table[codec.id()] = codec;
        byId = table;
    }
}
