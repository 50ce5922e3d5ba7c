package io.offgrid.transport;

import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.collections.Long2LongHashMap;

/**
 * Native allocator that counts what is outstanding, so tests can check memory returns to its baseline.
 */
final class TrackingAllocator implements BlockAllocator
{
    private final Long2LongHashMap live = new Long2LongHashMap(-1);
    private long outstanding;
    private long allocations;
    private boolean refuse;

    synchronized void refuse(final boolean refuse)
    {
        this.refuse = refuse;
    }

    public synchronized long allocate(
        final long peerId, final long transferId, final long length, final DirectBuffer metadata, final int offset, final int metadataLength)
    {
        if (refuse)
        {
            return 0;
        }
        final long address = UnsafeApi.allocateMemory(length);
        live.put(address, length);
        outstanding += length;
        allocations++;
        return address;
    }

    public synchronized void free(final long address, final long length)
    {
        final long known = live.remove(address);
        if (known != length)
        {
            throw new IllegalStateException("free of unknown block " + address + " length " + length + " known " + known);
        }
        outstanding -= length;
        UnsafeApi.freeMemory(address);
    }

    synchronized long outstandingBytes()
    {
        return outstanding;
    }

    synchronized long allocations()
    {
        return allocations;
    }
}
