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
     * Allocate {@code length} bytes of native memory; contents are undefined.
     *
     * @param length bytes, positive.
     * @return the address.
     */
    public static long allocate(final long length)
    {
        return UnsafeApi.allocateMemory(length);
    }

    /**
     * Free memory returned by {@link #allocate(long)}.
     *
     * @param address the address.
     */
    public static void free(final long address)
    {
        UnsafeApi.freeMemory(address);
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
