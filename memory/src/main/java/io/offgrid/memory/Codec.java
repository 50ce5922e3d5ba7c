package io.offgrid.memory;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

/**
 * Turns a Java value into bytes in a buffer and back. The codec's {@link #id()} is stored in the
 * header of every block it writes, so a reader on any node picks the same codec to decode it.
 * Implementations are stateless or thread-safe: one instance serves every thread of a store.
 *
 * @param <T> the value type.
 */
public interface Codec<T>
{
    /**
     * The id stored in block headers. Ids below {@link CodecRegistry#FIRST_USER_ID} are Offgrid's.
     *
     * @return the codec id.
     */
    int id();

    /**
     * The class this codec encodes; the registry picks a codec by a value's exact class.
     *
     * @return the value class.
     */
    Class<T> type();

    /**
     * Bytes {@link #encode(Object, MutableDirectBuffer, int)} will write for {@code value}.
     *
     * @param value the value.
     * @return encoded length in bytes.
     */
    int encodedLength(T value);

    /**
     * Write exactly {@link #encodedLength(Object)} bytes of {@code value} at {@code offset}.
     *
     * @param value  the value.
     * @param buffer destination.
     * @param offset where to start.
     */
    void encode(T value, MutableDirectBuffer buffer, int offset);

    /**
     * Read a value back from {@code length} bytes at {@code offset}. Must check the lengths it
     * reads against {@code length} and throw {@link CodecException} on malformed input.
     *
     * @param buffer source.
     * @param offset where the encoded value starts.
     * @param length encoded length.
     * @return the value.
     */
    T decode(DirectBuffer buffer, int offset, int length);
}
