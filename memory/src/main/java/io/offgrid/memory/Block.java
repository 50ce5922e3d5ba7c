package io.offgrid.memory;

import org.agrona.DirectBuffer;

/**
 * A read handle on a stored block, from {@link BlockStore#get(String)}. While a handle is open the
 * block's memory stays valid and in place: it is not spilled, and a {@code remove} or replacing
 * {@code put} frees it only when the last handle closes. Close each handle exactly once; handles
 * may be read from any thread.
 *
 * <p>A block is a 16-byte header (codec id, CRC32C, flags) followed by the payload the codec wrote.
 */
public interface Block extends AutoCloseable
{
    /**
     * @return the key the block was stored under.
     */
    String key();

    /**
     * @return the id of the codec that wrote the payload.
     */
    int codecId();

    /**
     * @return payload length in bytes.
     */
    long payloadLength();

    /**
     * @return native address of the payload.
     */
    long payloadAddress();

    /**
     * The payload as a buffer, for reading in place. Blocks of 2 GiB or more have no buffer view:
     * read them through {@link #payloadAddress()} and {@link #payloadLength()}.
     *
     * @return a read-only view of the payload.
     * @throws IllegalStateException if the payload is 2 GiB or more.
     */
    DirectBuffer payload();

    /**
     * Native address of the whole block (header and payload), as sent to another node.
     *
     * @return the address.
     */
    long address();

    /**
     * @return length of the whole block: header plus payload; what the store accounts.
     */
    long length();

    /**
     * CRC32C of the payload, computed on first need and kept in the header so a receiver or a
     * spill read can check it.
     *
     * @return the checksum.
     */
    int checksum();

    /**
     * Where another process on this host can map the block, or null if it lives in private memory.
     *
     * @return the shared location or null.
     */
    SharedBlockLocation sharedLocation();

    /**
     * Release this handle.
     */
    @Override
    void close();
}
