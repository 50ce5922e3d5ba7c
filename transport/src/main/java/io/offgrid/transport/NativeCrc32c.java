package io.offgrid.transport;

import java.lang.reflect.Constructor;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC32C (hardware-accelerated by the JDK) over native memory of any length. The JDK only checksums
 * ByteBuffers, so this walks the memory through direct-buffer views of up to 1 GiB; a new view is made
 * once per GiB, not per chunk. When views cannot be made (java.nio not opened to this module) it falls
 * back to copying through a small direct scratch buffer.
 */
final class NativeCrc32c
{
    private static final int WINDOW = 1 << 30;
    private static final Constructor<?> VIEW = viewConstructor();

    private final CRC32C crc = new CRC32C();
    private ByteBuffer window;
    private long windowAddress;
    private ByteBuffer scratch;

    void reset()
    {
        crc.reset();
    }

    int value()
    {
        return (int)crc.getValue();
    }

    void update(final long address, final long length)
    {
        long at = address;
        long remaining = length;
        while (remaining > 0)
        {
            if (null == VIEW)
            {
                final int n = (int)Math.min(remaining, 64 * 1024);
                if (null == scratch)
                {
                    scratch = ByteBuffer.allocateDirect(64 * 1024);
                }
                org.agrona.UnsafeApi.copyMemory(at, org.agrona.BufferUtil.address(scratch), n);
                scratch.clear().limit(n);
                crc.update(scratch);
                at += n;
                remaining -= n;
                continue;
            }
            if (null == window || at < windowAddress || at >= windowAddress + WINDOW)
            {
                window = newView(at);
                windowAddress = at;
            }
            final int position = (int)(at - windowAddress);
            final int n = (int)Math.min(remaining, WINDOW - position);
            window.clear();
            window.position(position).limit(position + n);
            crc.update(window);
            at += n;
            remaining -= n;
        }
    }

    static boolean usesViews()
    {
        return null != VIEW;
    }

    private static ByteBuffer newView(final long address)
    {
        try
        {
            return VIEW.getParameterTypes()[1] == long.class ?
                (ByteBuffer)VIEW.newInstance(address, (long)WINDOW) : (ByteBuffer)VIEW.newInstance(address, WINDOW);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static Constructor<?> viewConstructor()
    {
        try
        {
            final Class<?> type = Class.forName("java.nio.DirectByteBuffer");
            Constructor<?> ctor;
            try
            {
                ctor = type.getDeclaredConstructor(long.class, int.class);
            }
            catch (final NoSuchMethodException ex)
            {
                ctor = type.getDeclaredConstructor(long.class, long.class);
            }
            ctor.setAccessible(true);
            return ctor;
        }
        catch (final ReflectiveOperationException | RuntimeException ex)
        {
            return null;
        }
    }
}
