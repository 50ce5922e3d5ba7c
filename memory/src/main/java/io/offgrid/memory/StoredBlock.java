package io.offgrid.memory;

import io.offgrid.memory.internal.Checksums;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.MappedByteBuffer;
import java.nio.file.Path;

/**
 * One stored block and its bookkeeping. Every field but the payload itself is guarded by the
 * store's lock; the handle given to readers is this object (no allocation per {@code get}).
 */
final class StoredBlock implements Block
{
    static final byte RESERVED = 0;
    static final byte MEMORY = 1;
    static final byte SPILLING = 2;
    static final byte SPILLED = 3;
    static final byte UNSPILLING = 4;
    static final byte REMOVED = 5;

    static final int CODEC_OFFSET = 0;
    static final int CRC_OFFSET = 4;
    static final int FLAGS_OFFSET = 8;
    static final int FLAG_CRC_VALID = 1;

    final BlockStore store;
    final String key;
    final long length;
    long address;
    MappedByteBuffer mapping; // non-null when the block lives in a shared-memory file
    Path sharedFile;
    Path spillFile;
    int refCount;
    byte state = RESERVED;
    StoredBlock prev;
    StoredBlock next;
    private final UnsafeBuffer payload = new UnsafeBuffer(0, 0);

    StoredBlock(final BlockStore store, final String key, final long length)
    {
        this.store = store;
        this.key = key;
        this.length = length;
    }

    /** Point the payload view at the current memory; called while no reader holds the block. */
    void wrapPayload()
    {
        final long payloadLength = length - BlockStore.HEADER_LENGTH;
        if (address != 0 && payloadLength <= Integer.MAX_VALUE)
        {
            payload.wrap(address + BlockStore.HEADER_LENGTH, (int)payloadLength);
        }
    }

    UnsafeBuffer writablePayload()
    {
        return payload;
    }

    void writeHeader(final int codecId)
    {
        UnsafeApi.putInt(address + CODEC_OFFSET, codecId);
        UnsafeApi.putInt(address + CRC_OFFSET, 0);
        UnsafeApi.putInt(address + FLAGS_OFFSET, 0);
        UnsafeApi.putInt(address + 12, 0);
    }

    boolean hasChecksum()
    {
        return (UnsafeApi.getIntVolatile(null, address + FLAGS_OFFSET) & FLAG_CRC_VALID) != 0;
    }

    int storedChecksum()
    {
        return UnsafeApi.getInt(address + CRC_OFFSET);
    }

    int computeChecksum()
    {
        return Checksums.crc32c(address + BlockStore.HEADER_LENGTH, length - BlockStore.HEADER_LENGTH);
    }

    public String key()
    {
        return key;
    }

    public int codecId()
    {
        return UnsafeApi.getInt(address + CODEC_OFFSET);
    }

    public long payloadLength()
    {
        return length - BlockStore.HEADER_LENGTH;
    }

    public long payloadAddress()
    {
        return address + BlockStore.HEADER_LENGTH;
    }

    public DirectBuffer payload()
    {
        if (payloadLength() > Integer.MAX_VALUE)
        {
            throw new IllegalStateException("block '" + key + "' has a payload of " + payloadLength() +
                " bytes, past the 2 GiB buffer limit: read it through payloadAddress()/payloadLength()");
        }
        return payload;
    }

    public long address()
    {
        return address;
    }

    public long length()
    {
        return length;
    }

    public int checksum()
    {
        if (hasChecksum())
        {
            return storedChecksum();
        }
        // Several readers may compute it at once; they write the same value, flag last.
        final int crc = computeChecksum();
        UnsafeApi.putInt(address + CRC_OFFSET, crc);
        UnsafeApi.putIntRelease(null, address + FLAGS_OFFSET, FLAG_CRC_VALID);
        return crc;
    }

    public SharedBlockLocation sharedLocation()
    {
        return sharedFile == null ? null : new SharedBlockLocation(sharedFile, 0, length);
    }

    public void close()
    {
        store.release(this);
    }

    @Override
    public String toString()
    {
        return "Block{" + key + ", " + length + " bytes}";
    }
}
