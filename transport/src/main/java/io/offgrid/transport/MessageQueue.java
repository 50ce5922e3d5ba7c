package io.offgrid.transport;

import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A peer's queue of messages waiting to be offered (handshake not done yet, or back pressure): a ring of
 * length-prefixed records in native memory that grows by doubling up to a bound. Unlike a direct
 * {@code ByteBuffer}, whose memory waits for the garbage collector, its memory is freed by {@link #close()},
 * which the node calls when the peer is lost or removed and at close. Agent thread only.
 */
final class MessageQueue implements AutoCloseable
{
    /** Takes one message; false leaves it (and the rest) queued. */
    @FunctionalInterface
    interface MessageConsumer
    {
        boolean onMessage(DirectBuffer buffer, int offset, int length);
    }

    static final int HEADER_LENGTH = 8;
    private static final int ALIGNMENT = 8;

    private final int initialCapacity;
    private final int maxCapacity;
    private final TransportCounters counters;
    private final UnsafeBuffer buffer = new UnsafeBuffer(0, 0);
    private long address;
    private int capacity;
    private int headIndex;
    private int tailIndex;
    private int size;
    private int count;

    /**
     * @param initialCapacity bytes at the first append.
     * @param maxCapacity     bound on the ring's bytes (headers and padding included).
     * @param counters        where the native bytes held are counted.
     */
    MessageQueue(final int initialCapacity, final int maxCapacity, final TransportCounters counters)
    {
        this.maxCapacity = maxCapacity & ~(ALIGNMENT - 1);
        this.initialCapacity = Math.min(align(initialCapacity), this.maxCapacity);
        this.counters = counters;
    }

    /** @return messages queued. */
    int count()
    {
        return count;
    }

    /** @return native bytes held. */
    int capacity()
    {
        return capacity;
    }

    /**
     * @return false if the message does not fit even at the bound; nothing is queued then.
     */
    boolean append(final DirectBuffer src, final int offset, final int length)
    {
        final int recordLength = align(HEADER_LENGTH + length);
        if (recordLength > maxCapacity || recordLength < 0)
        {
            return false;
        }
        int at = reserve(recordLength);
        if (at < 0)
        {
            if (!grow(recordLength))
            {
                return false;
            }
            at = reserve(recordLength);
        }
        buffer.putInt(at, length);
        buffer.putBytes(at + HEADER_LENGTH, src, offset, length);
        tailIndex = at + recordLength == capacity ? 0 : at + recordLength;
        size += recordLength;
        count++;
        return true;
    }

    /**
     * Hands messages in order to {@code consumer} until it declines one or {@code limit} were taken.
     *
     * @return messages taken.
     */
    int consume(final MessageConsumer consumer, final int limit)
    {
        int taken = 0;
        while (size > 0 && taken < limit)
        {
            final int length = buffer.getInt(headIndex);
            if (length < 0)
            {
                size -= capacity - headIndex; // padding to the end of the ring
                headIndex = 0;
                continue;
            }
            if (!consumer.onMessage(buffer, headIndex + HEADER_LENGTH, length))
            {
                break;
            }
            final int recordLength = align(HEADER_LENGTH + length);
            headIndex = headIndex + recordLength == capacity ? 0 : headIndex + recordLength;
            size -= recordLength;
            count--;
            taken++;
        }
        if (0 == size)
        {
            headIndex = 0;
            tailIndex = 0;
        }
        return taken;
    }

    /** Frees the memory; the queue is empty afterwards (and would allocate again if appended to). */
    public void close()
    {
        if (0 != address)
        {
            UnsafeApi.freeMemory(address);
            counters.queueMemoryBytes -= capacity;
            address = 0;
            capacity = 0;
            buffer.wrap(0, 0);
        }
        headIndex = 0;
        tailIndex = 0;
        size = 0;
        count = 0;
    }

    /** @return where a record of this length goes, writing a padding record first if it wraps; -1 if no room. */
    private int reserve(final int recordLength)
    {
        if (0 == capacity)
        {
            return -1;
        }
        if (0 == size)
        {
            headIndex = 0;
            tailIndex = 0;
        }
        if (tailIndex >= headIndex && !(size > 0 && tailIndex == headIndex))
        {
            if (capacity - tailIndex >= recordLength)
            {
                return tailIndex;
            }
            if (headIndex >= recordLength)
            {
                buffer.putInt(tailIndex, -1);
                size += capacity - tailIndex;
                tailIndex = 0;
                return 0;
            }
            return -1;
        }
        return headIndex - tailIndex >= recordLength ? tailIndex : -1;
    }

    /** Moves the records, in order and unwrapped, into a larger ring with room for one more record. */
    private boolean grow(final int recordLength)
    {
        final long needed = (long)liveBytes() + recordLength;
        long newCapacity = Math.max(initialCapacity, (long)capacity * 2);
        while (newCapacity < needed)
        {
            newCapacity *= 2;
        }
        newCapacity = Math.min(newCapacity, maxCapacity);
        if (newCapacity < needed)
        {
            return false; // at the bound (a ring of the same size is allocated to compact a wrapped one)
        }
        final long newAddress = UnsafeApi.allocateMemory(newCapacity);
        counters.queueMemoryBytes += newCapacity;
        int written = 0;
        int index = headIndex;
        int remaining = size;
        while (remaining > 0)
        {
            final int length = buffer.getInt(index);
            if (length < 0)
            {
                remaining -= capacity - index;
                index = 0;
                continue;
            }
            final int record = align(HEADER_LENGTH + length);
            UnsafeApi.copyMemory(address + index, newAddress + written, record);
            written += record;
            remaining -= record;
            index = index + record == capacity ? 0 : index + record;
        }
        if (0 != address)
        {
            UnsafeApi.freeMemory(address);
            counters.queueMemoryBytes -= capacity;
        }
        address = newAddress;
        capacity = (int)newCapacity;
        buffer.wrap(address, capacity);
        headIndex = 0;
        tailIndex = written == capacity ? 0 : written;
        size = written;
        return true;
    }

    private int liveBytes()
    {
        int bytes = 0;
        int index = headIndex;
        int remaining = size;
        while (remaining > 0)
        {
            final int length = buffer.getInt(index);
            if (length < 0)
            {
                remaining -= capacity - index;
                index = 0;
                continue;
            }
            final int record = align(HEADER_LENGTH + length);
            bytes += record;
            remaining -= record;
            index = index + record == capacity ? 0 : index + record;
        }
        return bytes;
    }

    private static int align(final int length)
    {
        return (length + ALIGNMENT - 1) & ~(ALIGNMENT - 1);
    }
}
