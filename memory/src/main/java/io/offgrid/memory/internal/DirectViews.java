package io.offgrid.memory.internal;

import org.agrona.BufferUtil;
import org.agrona.UnsafeApi;

import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * Re-points a reusable direct {@link ByteBuffer} at arbitrary native memory, so JDK APIs that take
 * buffers (CRC32C, FileChannel) read blocks in place without allocating a view per call.
 */
public final class DirectViews
{
    private static final long CAPACITY_FIELD_OFFSET;

    static
    {
        try
        {
            CAPACITY_FIELD_OFFSET = UnsafeApi.objectFieldOffset(Buffer.class.getDeclaredField("capacity"));
        }
        catch (final NoSuchFieldException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private DirectViews()
    {
    }

    /**
     * A new view for {@link #point(ByteBuffer, long, int)}; never use its own memory.
     *
     * @return a direct buffer to re-point.
     */
    public static ByteBuffer newView()
    {
        return ByteBuffer.allocateDirect(0);
    }

    /**
     * Point {@code view} at {@code length} bytes at {@code address}, position 0, limit length.
     *
     * @param view    a buffer from {@link #newView()}.
     * @param address native address.
     * @param length  bytes.
     * @return the view.
     */
    public static ByteBuffer point(final ByteBuffer view, final long address, final int length)
    {
        UnsafeApi.putLong(view, BufferUtil.BYTE_BUFFER_ADDRESS_FIELD_OFFSET, address);
        UnsafeApi.putInt(view, CAPACITY_FIELD_OFFSET, length);
        view.clear();
        return view;
    }
}
