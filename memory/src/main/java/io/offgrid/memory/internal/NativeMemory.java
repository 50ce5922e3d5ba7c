package io.offgrid.memory.internal;

import org.agrona.UnsafeApi;

import java.nio.ByteOrder;

/**
 * Raw native memory: allocation, release and copies. One place so that every byte the store takes
 * from the C heap goes through the same two calls, which the JVM's native memory tracking counts.
 */
public final class NativeMemory
{
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
        UnsafeApi.copyMemory(from, to, length);
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
        UnsafeApi.copyMemory(src, srcOffset, dst, dstOffset, length);
    }
}
