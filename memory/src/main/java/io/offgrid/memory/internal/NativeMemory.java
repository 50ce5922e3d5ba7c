package io.offgrid.memory.internal;

import org.agrona.UnsafeApi;

import java.nio.ByteOrder;

/**
 * Raw native memory: allocation, release and copies. One place so that every byte the store takes
 * from the C heap goes through the same two calls, which the JVM's native memory tracking counts.
 */
public final class NativeMemory
{
    /**
     * Bytes per copy call. One call is one stretch without a safepoint poll: a 256 MiB copy in one call was seen
     * holding a safepoint (so every other thread of the JVM, a whole in-process cluster) for 1.57 s. The JDK's own
     * buffer copies slice at 1 MiB for the same reason.
     */
    static final long COPY_SLICE = 1024 * 1024;

    /** Written (xor the address) below a large region, so a free with the wrong length is caught. */
    private static final long LARGE_MARK = 0x4f66_6772_6964_4c50L;

    private NativeMemory()
    {
    }

    static
    {
        // Block and codec layouts are little-endian in memory and on the wire; a big-endian host
        // would need byte swapping on every read, which no supported platform needs.
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
        {
            throw new IllegalStateException("Offgrid requires a little-endian platform");
        }
    }

    /**
     * Allocate {@code length} bytes of native memory; contents are undefined. A region of {@link LargePages#SIZE}
     * or more starts on a huge-page boundary and is advised as huge pages (see {@link LargePages}): it is taken from
     * the C heap with {@code SIZE + 16} bytes of slack, and the C heap's own address sits in the 8 bytes below the
     * returned one. The slack is address space only; the page holding that word is the one touched.
     *
     * @param length bytes, positive.
     * @return the address.
     */
    public static long allocate(final long length)
    {
        if (length < LargePages.SIZE)
        {
            return UnsafeApi.allocateMemory(length);
        }
        final long raw = UnsafeApi.allocateMemory(length + LargePages.SIZE + 16);
        final long aligned = (raw + 16 + LargePages.SIZE - 1) & -LargePages.SIZE;
        UnsafeApi.putLong(aligned - 8, raw);
        UnsafeApi.putLong(aligned - 16, LARGE_MARK ^ aligned);
        LargePages.advise(aligned, length);
        return aligned;
    }

    /**
     * Free memory returned by {@link #allocate(long)}.
     *
     * @param address the address; 0 does nothing.
     * @param length  the length it was allocated with.
     * @throws IllegalStateException if the length says one kind of region and the mark below the address (or its
     *                               absence) the other, rather than letting the C heap abort the process.
     */
    public static void free(final long address, final long length)
    {
        if (0 == address)
        {
            return; // what allocate(0) gave, like free(NULL)
        }
        // Below a small region lies the C heap's chunk header, which never equals the mark.
        final boolean marked = UnsafeApi.getLong(address - 16) == (LARGE_MARK ^ address);
        if (marked != (length >= LargePages.SIZE))
        {
            throw new IllegalStateException("freeing " + Long.toHexString(address) + " with length " + length +
                (marked ? ": it is a large region" : ": it is not a large region from NativeMemory.allocate"));
        }
        if (!marked)
        {
            UnsafeApi.freeMemory(address);
            return;
        }
        UnsafeApi.putLong(address - 16, 0);
        UnsafeApi.freeMemory(UnsafeApi.getLong(address - 8));
    }

    /**
     * Copy between native addresses.
     *
     * @param from   source address.
     * @param to     destination address.
     * @param length bytes.
     */
    public static void copy(final long from, final long to, final long length)
    {
        copy(null, from, null, to, length);
    }

    /**
     * Copy between an object (array or null for native) and another object or native memory.
     *
     * @param src       source array or null.
     * @param srcOffset source offset (array base offset plus index, or an address).
     * @param dst       destination array or null.
     * @param dstOffset destination offset.
     * @param length    bytes.
     */
    public static void copy(
        final Object src, final long srcOffset, final Object dst, final long dstOffset, final long length)
    {
        if (length <= COPY_SLICE)
        {
            UnsafeApi.copyMemory(src, srcOffset, dst, dstOffset, length);
            return;
        }
        // Overlapping with the destination after the source: slices go from the end, as one call would copy.
        final boolean backwards = src == dst && dstOffset > srcOffset && dstOffset < srcOffset + length;
        long done = 0;
        while (done < length)
        {
            final long n = Math.min(COPY_SLICE, length - done);
            final long at = backwards ? length - done - n : done;
            UnsafeApi.copyMemory(src, srcOffset + at, dst, dstOffset + at, n);
            done += n;
        }
    }
}
