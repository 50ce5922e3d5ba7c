package io.offgrid.memory;

import io.offgrid.memory.internal.NativeMemory;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;

/**
 * Large native regions kept after their block is freed, for the next block of the same length.
 * Fresh memory costs a page fault per 4 KiB on first touch; on this project's 2-core VM that made a
 * 64 MiB unspill or receive several times slower than the copy itself. Cached bytes count against
 * the store's budget and are the first thing given back when room is needed. Guarded by the
 * store's lock.
 */
final class RegionCache
{
    private final long capacity;
    private final long minLength;
    private final Long2ObjectHashMap<LongArrayList> byLength = new Long2ObjectHashMap<>();
    private final LongArrayList lengths = new LongArrayList(); // insertion order, for eviction
    private long cachedBytes;

    RegionCache(final long capacity, final long minLength)
    {
        this.capacity = capacity;
        this.minLength = minLength;
    }

    long cachedBytes()
    {
        return cachedBytes;
    }

    /** A cached region of exactly {@code length} bytes, or 0. */
    long take(final long length)
    {
        if (length < minLength)
        {
            return 0;
        }
        final LongArrayList regions = byLength.get(length);
        if (regions == null || regions.isEmpty())
        {
            return 0;
        }
        final long address = regions.removeAt(regions.size() - 1);
        lengths.removeAt(lengths.indexOf(length));
        cachedBytes -= length;
        return address;
    }

    /** Keep the region if it is large and fits; otherwise the caller frees it. */
    boolean offer(final long address, final long length)
    {
        if (length < minLength || cachedBytes + length > capacity)
        {
            return false;
        }
        byLength.computeIfAbsent(length, l -> new LongArrayList()).addLong(address);
        lengths.addLong(length);
        cachedBytes += length;
        return true;
    }

    /** Free regions, oldest first, until at least {@code bytes} are given back or none is left. */
    long evict(final long bytes)
    {
        long freed = 0;
        while (freed < bytes && !lengths.isEmpty())
        {
            final long length = lengths.removeAt(0);
            final LongArrayList regions = byLength.get(length);
            NativeMemory.free(regions.removeAt(0), length);
            cachedBytes -= length;
            freed += length;
        }
        return freed;
    }

    void clear()
    {
        evict(Long.MAX_VALUE);
    }
}
