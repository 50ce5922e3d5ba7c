package io.offgrid.transport;

import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.io.File;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;

/**
 * An Aeron media driver in this process, in its own uniquely named directory (under /dev/shm by default),
 * deleted at close. Directories left by killed processes are deleted when a driver starts.
 * <p>
 * A {@link TransportNode} embeds one of these by default, in {@link ThreadingMode#INVOKER} mode, stepped by the
 * node's own agent: one thread does everything, which suits a 2-core machine. Several nodes of one process (or
 * of one host) can instead share a driver launched here in {@link ThreadingMode#SHARED} mode by naming its
 * {@link #aeronDirectoryName()} in their context; nodes on one driver move control and bulk data over Aeron IPC
 * (shared memory) rather than the UDP stack.
 */
public final class TransportDriver implements AutoCloseable
{
    private final Context ctx;
    private final MediaDriver driver;

    private TransportDriver(final Context ctx)
    {
        this.ctx = ctx;
        DriverDirectories.deleteStale(ctx.parentDirectory);
        final String dir = DriverDirectories.newDirectory(ctx.parentDirectory);
        final MediaDriver.Context driverCtx = new MediaDriver.Context()
            .aeronDirectoryName(dir)
            .threadingMode(ctx.threadingMode)
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .warnIfDirectoryExists(false)
            .printConfigurationOnStart(false)
            .termBufferSparseFile(true)
            .performStorageChecks(false)
            .socketRcvbufLength(ctx.socketBufferLength)
            .socketSndbufLength(ctx.socketBufferLength)
            .initialWindowLength(ctx.initialWindowLength)
            .imageLivenessTimeoutNs(ctx.imageLivenessTimeoutNs)
            .sharedIdleStrategy(ctx.idleStrategy)
            .errorHandler(ctx.errorHandler);
        try
        {
            driver = MediaDriver.launch(driverCtx);
        }
        catch (final RuntimeException ex)
        {
            DriverDirectories.delete(Paths.get(dir));
            throw new TransportException("media driver failed to start in " + dir, ex);
        }
    }

    /**
     * Starts a driver.
     *
     * @param ctx configuration; concluded here.
     * @return the running driver.
     */
    public static TransportDriver launch(final Context ctx)
    {
        return new TransportDriver(ctx.conclude());
    }

    /**
     * @return the directory nodes name in {@link TransportNode.Context#aeronDirectoryName(String)} to share this driver.
     */
    public String aeronDirectoryName()
    {
        return driver.aeronDirectoryName();
    }

    /**
     * @return the threading mode the driver runs in.
     */
    public ThreadingMode threadingMode()
    {
        return ctx.threadingMode;
    }

    AgentInvoker invoker()
    {
        return driver.sharedAgentInvoker();
    }

    /**
     * Stops the driver and deletes its directory.
     */
    public void close()
    {
        final String dir = driver.aeronDirectoryName();
        CloseHelper.quietClose(driver);
        DriverDirectories.delete(Paths.get(dir));
    }

    /**
     * Driver configuration. Defaults suit bulk transfers on loopback: 4 MiB socket buffers and receiver window.
     */
    public static final class Context
    {
        private ThreadingMode threadingMode = ThreadingMode.SHARED;
        private IdleStrategy idleStrategy;
        private String parentDirectory;
        private int socketBufferLength = 4 * 1024 * 1024;
        private int initialWindowLength = 4 * 1024 * 1024;
        private long imageLivenessTimeoutNs = TimeUnit.SECONDS.toNanos(10);
        private org.agrona.ErrorHandler errorHandler = TransportNode::logError;

        /**
         * @param mode INVOKER (stepped by a node's agent), SHARED (one driver thread) or DEDICATED (three).
         * @return this.
         */
        public Context threadingMode(final ThreadingMode mode)
        {
            this.threadingMode = mode;
            return this;
        }

        /**
         * @param idleStrategy idle strategy of the driver's shared thread (SHARED mode).
         * @return this.
         */
        public Context idleStrategy(final IdleStrategy idleStrategy)
        {
            this.idleStrategy = idleStrategy;
            return this;
        }

        /**
         * @param parentDirectory where the driver directory is made; /dev/shm by default.
         * @return this.
         */
        public Context parentDirectory(final String parentDirectory)
        {
            this.parentDirectory = parentDirectory;
            return this;
        }

        /**
         * @param length SO_SNDBUF and SO_RCVBUF asked of the kernel, bytes.
         * @return this.
         */
        public Context socketBufferLength(final int length)
        {
            this.socketBufferLength = length;
            return this;
        }

        /**
         * @param length initial receiver window, bytes.
         * @return this.
         */
        public Context initialWindowLength(final int length)
        {
            this.initialWindowLength = length;
            return this;
        }

        /**
         * @param timeoutNs how long an image may stay silent before the driver drops it.
         * @return this.
         */
        public Context imageLivenessTimeoutNs(final long timeoutNs)
        {
            this.imageLivenessTimeoutNs = timeoutNs;
            return this;
        }

        /**
         * @param errorHandler receives driver errors; logs them by default.
         * @return this.
         */
        public Context errorHandler(final org.agrona.ErrorHandler errorHandler)
        {
            this.errorHandler = errorHandler;
            return this;
        }

        /**
         * Validates and fills defaults.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (null == threadingMode)
            {
                throw new TransportException("threadingMode must be set");
            }
            if (null == idleStrategy)
            {
                // Measured on 2 cores (see transport/README.md): spin briefly, then park up to 100 µs.
                idleStrategy = new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(100));
            }
            if (null == parentDirectory)
            {
                parentDirectory = DriverDirectories.defaultParent();
            }
            if (!new File(parentDirectory).isDirectory())
            {
                throw new TransportException("driver parent directory does not exist: " + parentDirectory);
            }
            if (socketBufferLength <= 0 || initialWindowLength <= 0 || imageLivenessTimeoutNs <= 0)
            {
                throw new TransportException("socket buffer, window and image liveness must be positive");
            }
            return this;
        }
    }
}
