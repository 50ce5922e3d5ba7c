package io.offgrid.memory.internal;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * CRC32C over native memory, through the JDK's intrinsic. Views are windows of at most 1 GiB so
 * blocks past the 2 GiB {@link ByteBuffer} limit are covered too.
 */
public final class Checksums
{
    private static final long WINDOW = 1L << 30;
    private static final ThreadLocal<CRC32C> CRC = ThreadLocal.withInitial(CRC32C::new);
    private static final ThreadLocal<ByteBuffer> VIEW = ThreadLocal.withInitial(DirectViews::newView);

    private Checksums()
    {
    }

    /**
     * CRC32C of {@code length} bytes at {@code address}.
     *
     * @param address native address.
     * @param length  bytes.
     * @return the checksum as an int.
     */
    public static int crc32c(final long address, final long length)
    {
        final CRC32C crc = CRC.get();
        crc.reset();
        final ByteBuffer view = VIEW.get();
        long done = 0;
        while (done < length)
        {
            final int chunk = (int)Math.min(WINDOW, length - done);
            DirectViews.point(view, address + done, chunk);
            crc.update(view);
            done += chunk;
        }
        return (int)crc.getValue();
    }
}
