package io.offgrid.perf.transport;

import io.aeron.Aeron;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.IoUtil;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.BusySpinIdleStrategy;

import java.io.File;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The baseline: a media driver and client with no Offgrid code, configured the way the bare probe
 * was (4 MiB socket buffers and window). INVOKER mode is stepped by the owning thread; SHARED runs its
 * own thread, for IPC between threads.
 */
final class BareAeron implements AutoCloseable
{
    final MediaDriver driver;
    final Aeron aeron;
    final AgentInvoker driverInvoker;
    final AgentInvoker conductorInvoker;

    BareAeron(final ThreadingMode mode, final String existingDir)
    {
        if (null == existingDir)
        {
            final String dir = new File("/dev/shm/offgrid-aeron-" + ProcessHandle.current().pid() + "-bare-" +
                Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE)).getPath();
            driver = MediaDriver.launch(new MediaDriver.Context()
                .aeronDirectoryName(dir)
                .threadingMode(mode)
                .sharedIdleStrategy(mode == ThreadingMode.INVOKER ? new BusySpinIdleStrategy() :
                    new org.agrona.concurrent.BackoffIdleStrategy(100, 10, 1_000, 100_000))
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true)
                .termBufferSparseFile(true)
                .socketRcvbufLength(4 << 20)
                .socketSndbufLength(4 << 20)
                .initialWindowLength(4 << 20));
            driverInvoker = mode == ThreadingMode.INVOKER ? driver.sharedAgentInvoker() : null;
        }
        else
        {
            driver = null;
            driverInvoker = null;
        }
        aeron = Aeron.connect(new Aeron.Context()
            .aeronDirectoryName(null != existingDir ? existingDir : driver.aeronDirectoryName())
            .useConductorAgentInvoker(true)
            .driverAgentInvoker(driverInvoker));
        conductorInvoker = aeron.conductorAgentInvoker();
    }

    String dir()
    {
        return aeron.context().aeronDirectoryName();
    }

    int invoke()
    {
        int work = conductorInvoker.invoke();
        if (null != driverInvoker)
        {
            work += driverInvoker.invoke();
        }
        return work;
    }

    public void close()
    {
        CloseHelper.quietClose(aeron);
        if (null != driver)
        {
            final String dir = driver.aeronDirectoryName();
            CloseHelper.quietClose(driver);
            IoUtil.delete(new File(dir), true);
        }
    }
}
