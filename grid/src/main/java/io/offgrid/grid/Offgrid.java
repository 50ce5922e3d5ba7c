package io.offgrid.grid;

import io.offgrid.grid.internal.Demo;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The command line behind {@code ./offgrid}: {@code scheduler}, {@code worker} and {@code demo}.
 */
@Command(name = "offgrid", mixinStandardHelpOptions = true, version = "offgrid 0.1.0",
    description = "Offgrid: an off-heap, memory-centric data grid for the JVM.",
    subcommands = {Offgrid.SchedulerCommand.class, Offgrid.WorkerCommand.class, Offgrid.DemoCommand.class})
public final class Offgrid implements Callable<Integer>
{
    /** Environment variable holding the cluster secret when --secret is not given. */
    public static final String SECRET_ENV = "OFFGRID_SECRET";

    /**
     * @param args command line.
     */
    public static void main(final String[] args)
    {
        // Quiet by default: set before the first logger is created; --verbose lowers it.
        boolean verbose = false;
        for (final String a : args)
        {
            verbose |= "--verbose".equals(a) || "-v".equals(a);
        }
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", verbose ? "info" : "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        // The transport logs through java.util.logging: same rule.
        java.util.logging.Logger.getLogger("").setLevel(verbose ? java.util.logging.Level.INFO : java.util.logging.Level.WARNING);
        for (final java.util.logging.Handler h : java.util.logging.Logger.getLogger("").getHandlers())
        {
            h.setLevel(verbose ? java.util.logging.Level.INFO : java.util.logging.Level.WARNING);
        }
        final int code = new CommandLine(new Offgrid()).execute(args);
        System.exit(code);
    }

    @Override
    public Integer call()
    {
        CommandLine.usage(this, System.out);
        return 0;
    }

    /** Options every subcommand takes. */
    static class Common
    {
        @Option(names = "--secret", description = "Cluster secret (HMAC-SHA256 handshake). Default: $" + SECRET_ENV + ".")
        String secret;

        @Option(names = {"-v", "--verbose"}, description = "Log more (info level).")
        boolean verbose;

        byte[] secretBytes()
        {
            final String s = null != secret ? secret : System.getenv(SECRET_ENV);
            return null == s || s.isEmpty() ? null : s.getBytes(StandardCharsets.UTF_8);
        }
    }

    /**
     * @param text a size like 4g, 512m, 64k or a number of bytes.
     * @return bytes.
     */
    static long parseBytes(final String text)
    {
        final String t = text.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        String num = t;
        if (t.endsWith("b"))
        {
            num = t.substring(0, t.length() - 1);
        }
        if (num.endsWith("k"))
        {
            mult = 1L << 10;
        }
        else if (num.endsWith("m"))
        {
            mult = 1L << 20;
        }
        else if (num.endsWith("g"))
        {
            mult = 1L << 30;
        }
        else if (num.endsWith("t"))
        {
            mult = 1L << 40;
        }
        if (mult > 1)
        {
            num = num.substring(0, num.length() - 1);
        }
        try
        {
            final double v = Double.parseDouble(num);
            if (v <= 0)
            {
                throw new NumberFormatException();
            }
            return (long)(v * mult);
        }
        catch (final NumberFormatException ex)
        {
            throw new CommandLine.TypeConversionException("not a size (like 4g, 512m, 1024): '" + text + "'");
        }
    }

    /** {@code offgrid scheduler}. */
    @Command(name = "scheduler", mixinStandardHelpOptions = true,
        description = "Run the scheduler; workers and clients connect to it.")
    static final class SchedulerCommand extends Common implements Callable<Integer>
    {
        @Option(names = "--listen", defaultValue = "127.0.0.1:4000", description = "HOST:PORT to listen on (default ${DEFAULT-VALUE}).")
        String listen;

        @Override
        public Integer call() throws InterruptedException
        {
            final CountDownLatch stop = new CountDownLatch(1);
            try (SchedulerServer server = SchedulerServer.launch(new SchedulerServer.Context()
                .listenEndpoint(listen).clusterSecret(secretBytes())))
            {
                Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
                System.out.println("offgrid scheduler listening on " + server.endpoint() +
                    (null == secretBytes() ? " (no cluster secret)" : " (cluster secret set)"));
                stop.await();
            }
            return 0;
        }
    }

    /** {@code offgrid worker}. */
    @Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run a worker: block store, executor threads, transport.")
    static final class WorkerCommand extends Common implements Callable<Integer>
    {
        @Option(names = "--scheduler", required = true, description = "Scheduler HOST:PORT.")
        String scheduler;

        @Option(names = "--listen", defaultValue = "127.0.0.1:0", description = "HOST:PORT to listen on (default ${DEFAULT-VALUE}: any free port).")
        String listen;

        @Option(names = "--threads", defaultValue = "0", description = "Executor threads (default: available processors).")
        int threads;

        @Option(names = "--memory-limit", defaultValue = "4g", description = "Block store memory limit, like 4g or 512m (default ${DEFAULT-VALUE}).")
        String memoryLimit;

        @Option(names = "--spill-directory", description = "Where spilled blocks go (default: $TMPDIR/offgrid-spill).")
        String spillDirectory;

        @Option(names = "--allow", description = "Extra Java serialization allow-list patterns for your classes, like 'com.acme.**'.")
        String allow;

        @Option(names = "--aeron-dir", description = "Join the media driver running in this directory (one driver per " +
            "host: nodes on it move data over shared memory) instead of embedding one (UDP to every peer).")
        String aeronDir;

        @Option(names = "--id", hidden = true, defaultValue = "-1")
        long id;

        @Option(names = "--peer-timeout-ms", hidden = true, defaultValue = "5000")
        long peerTimeoutMs;

        @Option(names = "--print-ready", hidden = true)
        boolean printReady;

        @Override
        public Integer call() throws InterruptedException
        {
            final Worker.Context ctx = new Worker.Context()
                .nodeId(id)
                .schedulerAddress(scheduler)
                .listenEndpoint(listen)
                .clusterSecret(secretBytes())
                .memoryLimit(parseBytes(memoryLimit))
                .peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(peerTimeoutMs));
            if (threads > 0)
            {
                ctx.threads(threads);
            }
            if (null != aeronDir)
            {
                ctx.aeronDirectoryName(aeronDir);
            }
            if (null != spillDirectory)
            {
                ctx.spillDirectory(java.nio.file.Paths.get(spillDirectory));
            }
            if (null != allow)
            {
                ctx.serializationAllowList(io.offgrid.client.internal.GridProtocol.DEFAULT_ALLOW_LIST + ";" + allow);
            }
            final Worker worker = Worker.launch(ctx);
            final CountDownLatch stop = new CountDownLatch(1);
            final Thread hook = new Thread(() ->
            {
                stop.countDown();
                worker.close();
            });
            Runtime.getRuntime().addShutdownHook(hook);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!worker.isRegistered())
            {
                if (System.nanoTime() - deadline > 0 || worker.isSchedulerLost())
                {
                    System.err.println("offgrid worker: no answer from the scheduler at " + scheduler);
                    return 2;
                }
                Thread.sleep(1);
            }
            if (printReady)
            {
                System.out.println(LocalCluster.READY_LINE + " " + worker.id() + " " + worker.endpoint() + " " +
                    worker.aeronDirectoryName());
            }
            else
            {
                System.out.println("offgrid worker " + worker.id() + " on " + worker.endpoint() + " joined " + scheduler);
            }
            System.out.flush();
            // Exit when the scheduler is gone or when our parent (a LocalCluster) died, so nothing is orphaned.
            final ProcessHandle parent = ProcessHandle.current().parent().orElse(null);
            while (!stop.await(100, TimeUnit.MILLISECONDS))
            {
                if (worker.isSchedulerLost() || (printReady && (null == parent || !parent.isAlive())))
                {
                    return 3;
                }
            }
            return 0;
        }
    }

    /** {@code offgrid demo}. */
    @Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Tell the story of the memory model on an embedded LocalCluster; the last line is JSON.")
    static final class DemoCommand extends Common implements Callable<Integer>
    {
        @Option(names = "--workers", defaultValue = "2", description = "Workers (default ${DEFAULT-VALUE}).")
        int workers;

        @Option(names = "--processes", description = "Run each worker in its own JVM (UDP on 127.0.0.1).")
        boolean processes;

        @Override
        public Integer call()
        {
            return new Demo(System.out, workers, processes, secretBytes()).run();
        }
    }
}
