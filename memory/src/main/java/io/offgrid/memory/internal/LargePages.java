package io.offgrid.memory.internal;

import net.openhft.posix.MAdviseFlag;
import net.openhft.posix.PosixAPI;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Asks the kernel to back large regions with transparent huge pages ({@code madvise(MADV_HUGEPAGE)}).
 * <p>
 * Why: the first touch of fresh memory costs a page fault per 4 KiB page, about 15 µs each on this project's 2-core
 * VM: a new 256 MiB region filled at 230-300 MB/s, against 12 GB/s once the region was advised (one fault per
 * 2 MiB). Every block that arrives in fresh memory (a replica, a gathered value, an unspill) paid it. Under the
 * kernel's default THP mode ({@code madvise}) only advised regions get huge pages.
 * <p>
 * The binding (OpenHFT posix over JNR) takes about half a second of CPU to load, so it loads on a daemon thread at
 * the first large allocation; regions allocated before it is ready, or where it cannot load, stay unadvised (4 KiB
 * pages) and behave as before. {@code -Doffgrid.memory.largePages=false} turns advice off.
 */
public final class LargePages
{
    /** Huge page size on x86-64 and the usual arm64 configuration; regions are aligned to it. */
    public static final long SIZE = 2L * 1024 * 1024;

    private static final int MADV_HUGEPAGE = MAdviseFlag.MADV_HUGEPAGE.value();
    private static final int IDLE = 0;
    private static final int LOADING = 1;
    private static final int READY = 2;
    private static final int UNAVAILABLE = 3;
    private static final boolean ENABLED = !"false".equals(System.getProperty("offgrid.memory.largePages"));
    private static final AtomicInteger STATE = new AtomicInteger(ENABLED ? IDLE : UNAVAILABLE);
    private static final AtomicLong ADVISED = new AtomicLong();
    private static volatile PosixAPI posix;

    private LargePages()
    {
    }

    /**
     * Advise {@code [address, address + length)} as huge pages if the binding is loaded; start loading it otherwise.
     * Never fails: a refused advice leaves the region on normal pages.
     *
     * @param address start, aligned to {@link #SIZE}.
     * @param length  bytes.
     */
    static void advise(final long address, final long length)
    {
        final int state = STATE.get();
        if (state == READY)
        {
            if (0 == posix.madvise(address, length, MADV_HUGEPAGE))
            {
                ADVISED.incrementAndGet();
            }
        }
        else if (state == IDLE && STATE.compareAndSet(IDLE, LOADING))
        {
            final Thread loader = new Thread(LargePages::load, "offgrid-large-pages");
            loader.setDaemon(true);
            loader.start();
        }
    }

    /**
     * Start loading the binding now, if nobody has, so that it is ready by the first large allocation: a region
     * allocated before it is ready stays on 4 KiB pages for its whole life, region cache reuse included, and reading
     * another process's block into 4 KiB pages, or out of them, runs at 5 GB/s against 13 GB/s between huge pages.
     */
    public static void preload()
    {
        if (STATE.get() == IDLE)
        {
            advise(0, 0); // starts the loader; advises nothing
        }
    }

    private static void load()
    {
        try
        {
            if (!thpOffered())
            {
                STATE.set(UNAVAILABLE);
                return;
            }
            final PosixAPI api = PosixAPI.posix();
            if (api.getClass().getSimpleName().startsWith("NoOp"))
            {
                STATE.set(UNAVAILABLE);
                return;
            }
            api.madvise(0, 0, MADV_HUGEPAGE); // an empty range: binds the call now, not on a node's thread later
            posix = api;
            STATE.set(READY);
        }
        catch (final Throwable t)
        {
            STATE.set(UNAVAILABLE); // no native binding here: regions stay on normal pages
        }
    }

    /** Linux offers transparent huge pages to advised regions unless its mode is "never". */
    private static boolean thpOffered()
    {
        try
        {
            final String mode = Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
            return !mode.contains("[never]");
        }
        catch (final Exception ex)
        {
            return false;
        }
    }

    /**
     * Wait until the binding has loaded or failed to, starting it if need be. For tests and benchmarks that want
     * advised regions from their first allocation.
     *
     * @param timeout how long to wait.
     * @param unit    its unit.
     * @return whether regions are now advised.
     */
    public static boolean awaitReady(final long timeout, final TimeUnit unit)
    {
        final long deadline = System.nanoTime() + unit.toNanos(timeout);
        if (STATE.get() == IDLE)
        {
            advise(0, 0); // starts the loader; advises nothing
        }
        while (STATE.get() == LOADING && System.nanoTime() < deadline)
        {
            Thread.onSpinWait();
            Thread.yield();
        }
        return STATE.get() == READY;
    }

    /** @return regions advised so far in this JVM. */
    public static long advisedCount()
    {
        return ADVISED.get();
    }
}
