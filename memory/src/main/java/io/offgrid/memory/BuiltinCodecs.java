package io.offgrid.memory;

import io.offgrid.memory.internal.ParallelCopy;
import net.openhft.chronicle.bytes.Bytes;
import net.openhft.chronicle.bytes.BytesMarshallable;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.UnsafeApi;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.lang.reflect.Constructor;
import java.nio.charset.StandardCharsets;

/**
 * Offgrid's own codecs. Arrays are copied as raw little-endian memory, one copy each way.
 */
final class BuiltinCodecs
{
    static final int NULL = 0;
    static final int BOOLEAN = 1;
    static final int INTEGER = 2;
    static final int LONG = 3;
    static final int DOUBLE = 4;
    static final int STRING = 5;
    static final int BYTES = 6;
    static final int INTS = 7;
    static final int LONGS = 8;
    static final int DOUBLES = 9;
    static final int TABLE = 10;
    static final int MARSHALLABLE = 11;
    static final int SERIALIZED = 12;

    private static final long BYTE_BASE = UnsafeApi.arrayBaseOffset(byte[].class);
    private static final long INT_BASE = UnsafeApi.arrayBaseOffset(int[].class);
    private static final long LONG_BASE = UnsafeApi.arrayBaseOffset(long[].class);
    private static final long DOUBLE_BASE = UnsafeApi.arrayBaseOffset(double[].class);

    private BuiltinCodecs()
    {
    }

    static void checkLength(final String what, final int length, final int expected)
    {
        if (length != expected)
        {
            throw new CodecException(what + " block has " + length + " bytes, expected " + expected);
        }
    }

    /**
     * Copy array memory into a buffer, whether the buffer is native or on the heap; a large array is copied by
     * helper threads too ({@link ParallelCopy}).
     */
    static void copyIn(final Object array, final long base, final long bytes, final MutableDirectBuffer buffer,
        final int offset)
    {
        buffer.boundsCheck(offset, (int)bytes);
        ParallelCopy.copy(array, base, buffer.byteArray(), buffer.addressOffset() + offset, bytes);
    }

    static void copyOut(final DirectBuffer buffer, final int offset, final Object array, final long base,
        final long bytes)
    {
        buffer.boundsCheck(offset, (int)bytes);
        ParallelCopy.copy(buffer.byteArray(), buffer.addressOffset() + offset, array, base, bytes);
    }

    static final class NullCodec implements Codec<Object>
    {
        public int id()
        {
            return NULL;
        }

        public Class<Object> type()
        {
            return Object.class;
        }

        public int encodedLength(final Object value)
        {
            return 0;
        }

        public void encode(final Object value, final MutableDirectBuffer buffer, final int offset)
        {
        }

        public Object decode(final DirectBuffer buffer, final int offset, final int length)
        {
            checkLength("null", length, 0);
            return null;
        }
    }

    static final class BooleanCodec implements Codec<Boolean>
    {
        public int id()
        {
            return BOOLEAN;
        }

        public Class<Boolean> type()
        {
            return Boolean.class;
        }

        public int encodedLength(final Boolean value)
        {
            return 1;
        }

        public void encode(final Boolean value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putByte(offset, value ? (byte)1 : (byte)0);
        }

        public Boolean decode(final DirectBuffer buffer, final int offset, final int length)
        {
            checkLength("Boolean", length, 1);
            final byte b = buffer.getByte(offset);
            if (b != 0 && b != 1)
            {
                throw new CodecException("Boolean block holds byte " + b);
            }
            return b == 1;
        }
    }

    static final class IntegerCodec implements Codec<Integer>
    {
        public int id()
        {
            return INTEGER;
        }

        public Class<Integer> type()
        {
            return Integer.class;
        }

        public int encodedLength(final Integer value)
        {
            return 4;
        }

        public void encode(final Integer value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putInt(offset, value);
        }

        public Integer decode(final DirectBuffer buffer, final int offset, final int length)
        {
            checkLength("Integer", length, 4);
            return buffer.getInt(offset);
        }
    }

    static final class LongCodec implements Codec<Long>
    {
        public int id()
        {
            return LONG;
        }

        public Class<Long> type()
        {
            return Long.class;
        }

        public int encodedLength(final Long value)
        {
            return 8;
        }

        public void encode(final Long value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putLong(offset, value);
        }

        public Long decode(final DirectBuffer buffer, final int offset, final int length)
        {
            checkLength("Long", length, 8);
            return buffer.getLong(offset);
        }
    }

    static final class DoubleCodec implements Codec<Double>
    {
        public int id()
        {
            return DOUBLE;
        }

        public Class<Double> type()
        {
            return Double.class;
        }

        public int encodedLength(final Double value)
        {
            return 8;
        }

        public void encode(final Double value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putDouble(offset, value);
        }

        public Double decode(final DirectBuffer buffer, final int offset, final int length)
        {
            checkLength("Double", length, 8);
            return buffer.getDouble(offset);
        }
    }

    static final class StringCodec implements Codec<String>
    {
        public int id()
        {
            return STRING;
        }

        public Class<String> type()
        {
            return String.class;
        }

        public int encodedLength(final String value)
        {
            // Exact UTF-8 length without encoding twice for the common ASCII case.
            int length = 0;
            for (int i = 0; i < value.length(); i++)
            {
                final char c = value.charAt(i);
                if (c < 0x80)
                {
                    length += 1;
                }
                else if (c < 0x800)
                {
                    length += 2;
                }
                else if (Character.isHighSurrogate(c) && i + 1 < value.length() &&
                    Character.isLowSurrogate(value.charAt(i + 1)))
                {
                    length += 4;
                    i++;
                }
                else
                {
                    length += 3;
                }
            }
            return length;
        }

        public void encode(final String value, final MutableDirectBuffer buffer, final int offset)
        {
            final byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
            buffer.putBytes(offset, utf8);
        }

        public String decode(final DirectBuffer buffer, final int offset, final int length)
        {
            return buffer.getStringWithoutLengthUtf8(offset, length);
        }
    }

    static final class BytesCodec implements Codec<byte[]>
    {
        public int id()
        {
            return BYTES;
        }

        public Class<byte[]> type()
        {
            return byte[].class;
        }

        public int encodedLength(final byte[] value)
        {
            return value.length;
        }

        public void encode(final byte[] value, final MutableDirectBuffer buffer, final int offset)
        {
            copyIn(value, BYTE_BASE, value.length, buffer, offset);
        }

        public byte[] decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] value = new byte[length];
            copyOut(buffer, offset, value, BYTE_BASE, length);
            return value;
        }
    }

    static final class IntsCodec implements Codec<int[]>
    {
        public int id()
        {
            return INTS;
        }

        public Class<int[]> type()
        {
            return int[].class;
        }

        public int encodedLength(final int[] value)
        {
            return Math.multiplyExact(value.length, 4);
        }

        public void encode(final int[] value, final MutableDirectBuffer buffer, final int offset)
        {
            copyIn(value, INT_BASE, 4L * value.length, buffer, offset);
        }

        public int[] decode(final DirectBuffer buffer, final int offset, final int length)
        {
            if ((length & 3) != 0)
            {
                throw new CodecException("int[] block length " + length + " is not a multiple of 4");
            }
            final int[] value = new int[length / 4];
            copyOut(buffer, offset, value, INT_BASE, length);
            return value;
        }
    }

    static final class LongsCodec implements Codec<long[]>
    {
        public int id()
        {
            return LONGS;
        }

        public Class<long[]> type()
        {
            return long[].class;
        }

        public int encodedLength(final long[] value)
        {
            return Math.multiplyExact(value.length, 8);
        }

        public void encode(final long[] value, final MutableDirectBuffer buffer, final int offset)
        {
            copyIn(value, LONG_BASE, 8L * value.length, buffer, offset);
        }

        public long[] decode(final DirectBuffer buffer, final int offset, final int length)
        {
            if ((length & 7) != 0)
            {
                throw new CodecException("long[] block length " + length + " is not a multiple of 8");
            }
            final long[] value = new long[length / 8];
            copyOut(buffer, offset, value, LONG_BASE, length);
            return value;
        }
    }

    static final class DoublesCodec implements Codec<double[]>
    {
        public int id()
        {
            return DOUBLES;
        }

        public Class<double[]> type()
        {
            return double[].class;
        }

        public int encodedLength(final double[] value)
        {
            return Math.multiplyExact(value.length, 8);
        }

        public void encode(final double[] value, final MutableDirectBuffer buffer, final int offset)
        {
            copyIn(value, DOUBLE_BASE, 8L * value.length, buffer, offset);
        }

        public double[] decode(final DirectBuffer buffer, final int offset, final int length)
        {
            if ((length & 7) != 0)
            {
                throw new CodecException("double[] block length " + length + " is not a multiple of 8");
            }
            final double[] value = new double[length / 8];
            copyOut(buffer, offset, value, DOUBLE_BASE, length);
            return value;
        }
    }

    static final class TableCodec implements Codec<ColumnarTable>
    {
        private static final StringCodec UTF8 = new StringCodec();

        public int id()
        {
            return TABLE;
        }

        public Class<ColumnarTable> type()
        {
            return ColumnarTable.class;
        }

        private static ColumnType[] types(final ColumnarTable value)
        {
            final ColumnType[] types = new ColumnType[value.names().size()];
            for (int i = 0; i < types.length; i++)
            {
                types[i] = ColumnarTable.typeOf(value.column(i));
            }
            return types;
        }

        private static long[] stringBytes(final ColumnarTable value, final ColumnType[] types)
        {
            final long[] bytes = new long[types.length];
            for (int i = 0; i < types.length; i++)
            {
                if (types[i] == ColumnType.STRING)
                {
                    for (final String s : (String[])value.column(i))
                    {
                        bytes[i] += UTF8.encodedLength(s);
                    }
                }
            }
            return bytes;
        }

        public int encodedLength(final ColumnarTable value)
        {
            final ColumnType[] types = types(value);
            final long length = TableView.encodedLength(
                value.names().toArray(new String[0]), types, value.rowCount(), stringBytes(value, types));
            if (length > Integer.MAX_VALUE - BlockStore.HEADER_LENGTH)
            {
                throw new CodecException("table of " + length + " bytes exceeds 2 GiB: split it into partitions");
            }
            return (int)length;
        }

        public void encode(final ColumnarTable value, final MutableDirectBuffer buffer, final int offset)
        {
            final String[] names = value.names().toArray(new String[0]);
            final ColumnType[] types = types(value);
            final long[] stringBytes = stringBytes(value, types);
            final int length = TableView.layout(names, types, value.rowCount(), stringBytes, buffer, offset);
            final TableView view = new TableView().wrap(buffer, offset, length);
            final int rows = value.rowCount();
            for (int i = 0; i < names.length; i++)
            {
                final Object column = value.column(i);
                if (types[i] == ColumnType.STRING)
                {
                    final int offsets = view.columnOffset(i);
                    int cursor = offsets + (rows + 1) * 8;
                    long position = 0;
                    final String[] strings = (String[])column;
                    for (int r = 0; r < rows; r++)
                    {
                        buffer.putLong(offsets + 8 * r, position);
                        final byte[] utf8 = strings[r].getBytes(StandardCharsets.UTF_8);
                        buffer.putBytes(cursor, utf8);
                        cursor += utf8.length;
                        position += utf8.length;
                    }
                }
                else
                {
                    final long base = column instanceof long[] ? LONG_BASE : DOUBLE_BASE;
                    copyIn(column, base, 8L * rows, buffer, view.columnOffset(i));
                }
            }
        }

        public ColumnarTable decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final TableView view = new TableView().wrap(buffer, offset, length);
            final int rows = view.rowCount();
            final ColumnarTable.Builder builder = ColumnarTable.builder();
            for (int c = 0; c < view.columnCount(); c++)
            {
                switch (view.columnType(c))
                {
                    case LONG:
                    {
                        final long[] values = new long[rows];
                        copyOut(buffer, view.columnOffset(c), values, LONG_BASE, 8L * rows);
                        builder.addLong(view.columnName(c), values);
                        break;
                    }
                    case DOUBLE:
                    {
                        final double[] values = new double[rows];
                        copyOut(buffer, view.columnOffset(c), values, DOUBLE_BASE, 8L * rows);
                        builder.addDouble(view.columnName(c), values);
                        break;
                    }
                    default:
                    {
                        final String[] values = new String[rows];
                        for (int r = 0; r < rows; r++)
                        {
                            values[r] = view.getString(c, r);
                        }
                        builder.addString(view.columnName(c), values);
                    }
                }
            }
            return builder.build();
        }
    }

    /**
     * Stores a {@link NativeTable} as an ordinary table block (codec id {@link #TABLE}) with one
     * memory copy; such blocks decode as {@link ColumnarTable} or are read in place.
     */
    static final class NativeTableCodec implements Codec<NativeTable>
    {
        public int id()
        {
            return TABLE;
        }

        public Class<NativeTable> type()
        {
            return NativeTable.class;
        }

        public int encodedLength(final NativeTable value)
        {
            return value.length();
        }

        public void encode(final NativeTable value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putBytes(offset, value.buffer(), 0, value.length());
        }

        public NativeTable decode(final DirectBuffer buffer, final int offset, final int length)
        {
            return NativeTable.copyOf(buffer, offset, length);
        }
    }

    /**
     * chronicle-bytes {@link BytesMarshallable} values: class name, then the marshalled fields.
     * Decoding only instantiates classes that implement the interface (they opted in), without
     * running their static initialisers before that check.
     */
    static final class MarshallableCodec implements Codec<BytesMarshallable>
    {
        private final ClassLoader loader;
        private final ThreadLocal<EncodeScratch> scratch = ThreadLocal.withInitial(EncodeScratch::new);

        MarshallableCodec(final ClassLoader loader)
        {
            this.loader = loader;
        }

        public int id()
        {
            return MARSHALLABLE;
        }

        public Class<BytesMarshallable> type()
        {
            return BytesMarshallable.class;
        }

        public int encodedLength(final BytesMarshallable value)
        {
            return scratch.get().encode(value, this).length;
        }

        public void encode(final BytesMarshallable value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putBytes(offset, scratch.get().take(value, this));
        }

        byte[] marshal(final Object value)
        {
            final byte[] name = value.getClass().getName().getBytes(StandardCharsets.UTF_8);
            final Bytes<?> out = Bytes.allocateElasticOnHeap(64);
            try
            {
                ((BytesMarshallable)value).writeMarshallable(out);
                final int fields = (int)out.readRemaining();
                final byte[] encoded = new byte[4 + name.length + fields];
                final org.agrona.concurrent.UnsafeBuffer wrapper = new org.agrona.concurrent.UnsafeBuffer(encoded);
                wrapper.putInt(0, name.length);
                wrapper.putBytes(4, name);
                out.read(encoded, 4 + name.length, fields);
                return encoded;
            }
            finally
            {
                out.releaseLast();
            }
        }

        public BytesMarshallable decode(final DirectBuffer buffer, final int offset, final int length)
        {
            if (length < 4)
            {
                throw new CodecException("BytesMarshallable block too short: " + length);
            }
            final int nameLength = buffer.getInt(offset);
            if (nameLength <= 0 || 4L + nameLength > length)
            {
                throw new CodecException("BytesMarshallable block has a bad class-name length " + nameLength);
            }
            final String className = buffer.getStringWithoutLengthUtf8(offset + 4, nameLength);
            final BytesMarshallable value;
            try
            {
                final Class<?> type = Class.forName(className, false, loader);
                if (!BytesMarshallable.class.isAssignableFrom(type))
                {
                    throw new CodecException(className + " does not implement BytesMarshallable; refused");
                }
                final Constructor<?> constructor = type.getDeclaredConstructor();
                constructor.setAccessible(true);
                value = (BytesMarshallable)constructor.newInstance();
            }
            catch (final ReflectiveOperationException ex)
            {
                throw new CodecException("cannot instantiate BytesMarshallable " + className, ex);
            }
            final byte[] fields = new byte[length - 4 - nameLength];
            buffer.getBytes(offset + 4 + nameLength, fields);
            final Bytes<byte[]> in = Bytes.wrapForRead(fields);
            try
            {
                value.readMarshallable(in);
            }
            catch (final RuntimeException ex)
            {
                throw new CodecException("malformed BytesMarshallable " + className, ex);
            }
            finally
            {
                in.releaseLast();
            }
            return value;
        }
    }

    /**
     * Java serialization, the last resort, behind an {@link ObjectInputFilter} allow-list that is
     * applied both when encoding (so a refusal is reported where the value was produced) and when
     * decoding (the security boundary).
     */
    static final class SerializedCodec implements Codec<Object>
    {
        private final ObjectInputFilter filter;
        private final String pattern;
        private final ThreadLocal<EncodeScratch> scratch = ThreadLocal.withInitial(EncodeScratch::new);

        SerializedCodec(final String pattern)
        {
            this.pattern = pattern;
            this.filter = ObjectInputFilter.Config.createFilter(pattern);
        }

        public int id()
        {
            return SERIALIZED;
        }

        public Class<Object> type()
        {
            return Object.class;
        }

        boolean allows(final Class<?> type)
        {
            return filter.checkInput(new ClassCheck(type)) == ObjectInputFilter.Status.ALLOWED;
        }

        String pattern()
        {
            return pattern;
        }

        public int encodedLength(final Object value)
        {
            return scratch.get().encode(value, this).length;
        }

        public void encode(final Object value, final MutableDirectBuffer buffer, final int offset)
        {
            buffer.putBytes(offset, scratch.get().take(value, this));
        }

        byte[] serialize(final Object value)
        {
            try (ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
                ObjectOutputStream out = new ObjectOutputStream(bytes))
            {
                out.writeObject(value);
                out.flush();
                return bytes.toByteArray();
            }
            catch (final IOException ex)
            {
                throw new CodecException("cannot serialize " + value.getClass().getName(), ex);
            }
        }

        public Object decode(final DirectBuffer buffer, final int offset, final int length)
        {
            final byte[] bytes = new byte[length];
            buffer.getBytes(offset, bytes);
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes)))
            {
                in.setObjectInputFilter(filter);
                return in.readObject();
            }
            catch (final java.io.InvalidClassException ex)
            {
                throw new CodecException("Java deserialization refused by the allow-list '" + pattern + "': " +
                    ex.getMessage(), ex);
            }
            catch (final IOException | ClassNotFoundException ex)
            {
                throw new CodecException("malformed Java-serialized block", ex);
            }
        }
    }

    /** A one-class question for an ObjectInputFilter. */
    private static final class ClassCheck implements ObjectInputFilter.FilterInfo
    {
        private final Class<?> type;

        ClassCheck(final Class<?> type)
        {
            this.type = type;
        }

        public Class<?> serialClass()
        {
            return type;
        }

        public long arrayLength()
        {
            return -1;
        }

        public long depth()
        {
            return 1;
        }

        public long references()
        {
            return 1;
        }

        public long streamBytes()
        {
            return 0;
        }
    }

    /**
     * Codecs whose length is known only after encoding (Java serialization, marshallables) encode
     * once in {@code encodedLength} and keep the bytes for the {@code encode} call that follows on
     * the same thread for the same value.
     */
    private static final class EncodeScratch
    {
        private Object value;
        private byte[] bytes;

        byte[] encode(final Object value, final Object codec)
        {
            if (value != this.value || bytes == null)
            {
                bytes = codec instanceof SerializedCodec ?
                    ((SerializedCodec)codec).serialize(value) : ((MarshallableCodec)codec).marshal(value);
                this.value = value;
            }
            return bytes;
        }

        /** The encoded bytes for the write itself; forgets the value so it is not kept alive. */
        byte[] take(final Object value, final Object codec)
        {
            final byte[] result = encode(value, codec);
            this.value = null;
            this.bytes = null;
            return result;
        }
    }
}
