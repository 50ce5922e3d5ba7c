package io.offgrid.grid;

import io.aeron.driver.ThreadingMode;
import io.offgrid.client.Client;
import io.offgrid.client.ClientConfig;
import io.offgrid.scheduler.Scheduler;
import io.offgrid.transport.AgentGroup;
import io.offgrid.transport.TransportDriver;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The embedded default: a scheduler and N workers on this host with no set-up. Workers run in this JVM sharing
 * one media driver (Aeron IPC between nodes), or each in its own JVM ({@link Builder#processes(boolean)}), joined
 * to this JVM's driver as Aeron clients so data between them still moves over shared memory (or, with
 * {@link Builder#sharedDriver(boolean) sharedDriver(false)}, each with a driver of its own, over UDP on 127.0.0.1). {@link #close()} leaves no process, file or shared memory behind.
 * <pre>{@code
 * try (LocalCluster cluster = LocalCluster.start(2);
 *      Client client = cluster.client())
 * {
 *     GridFuture<Integer> f = client.submit((Integer x) -> x * 2, 21);
 *     System.out.println(f.get());
 * }
 * }</pre>
 */
public final class LocalCluster implements AutoCloseable
{
    /** First line a process worker prints once registered: id, endpoint, driver directory. */
    static final String READY_LINE = "OFFGRID-WORKER-READY";

    private final Builder config;
    /** {@code taskset -c LIST} before a process worker's command, or empty. */
    private final List<String> workerLaunchPrefix;
    private final Path tempDirectory;
    private final TransportDriver driver;
    /** One thread for the driver and every node of this JVM: hops between them are calls within a duty cycle. */
    private final AgentGroup group;
    private final SchedulerServer scheduler;
    private final CopyOnWriteArrayList<WorkerHandle> workers = new CopyOnWriteArrayList<>();
    private final CopyOnWriteArrayList<Client> clients = new CopyOnWriteArrayList<>();
    private long nextWorkerId = 100;
    private volatile boolean closed;

    /**
     * Settings: 2 workers, 2 threads each, 1 GiB each, in-process, no secret, 10 s peer timeout (generous: a
     * loaded 2-core machine can starve a node's thread for seconds; lower it to notice dead workers sooner).
     */
    public static final class Builder
    {
        private int workers = 2;
        private int threadsPerWorker = 2;
        private long memoryLimit = 1L << 30;
        private boolean processes;
        private byte[] clusterSecret;
        private long peerTimeoutNs = TimeUnit.SECONDS.toNanos(10);
        private String serializationAllowList;
        private List<String> workerJvmOptions = List.of("-Xmx1g", "-XX:+UseSerialGC");
        private boolean sharedDriver = true;
        private String workerCpus = WorkerCpus.NONE;
        private Scheduler.Context schedulerContext;

        /**
         * @param n number of workers.
         * @return this.
         */
        public Builder workers(final int n)
        {
            this.workers = n;
            return this;
        }

        /**
         * @param n executor threads per worker.
         * @return this.
         */
        public Builder threadsPerWorker(final int n)
        {
            this.threadsPerWorker = n;
            return this;
        }

        /**
         * @param bytes memory limit per worker.
         * @return this.
         */
        public Builder memoryLimit(final long bytes)
        {
            this.memoryLimit = bytes;
            return this;
        }

        /**
         * @param processes run each worker in its own JVM (UDP on 127.0.0.1) instead of in this one.
         * @return this.
         */
        public Builder processes(final boolean processes)
        {
            this.processes = processes;
            return this;
        }

        /**
         * @param secret cluster secret for every node, or null.
         * @return this.
         */
        public Builder clusterSecret(final byte[] secret)
        {
            this.clusterSecret = null == secret ? null : secret.clone();
            return this;
        }

        /**
         * @param ns how long a silent node is given before it counts as dead (kill detection time).
         * @return this.
         */
        public Builder peerTimeoutNs(final long ns)
        {
            this.peerTimeoutNs = ns;
            return this;
        }

        /**
         * @param allowList extra ObjectInputFilter patterns for user classes (added to the default allow-list).
         * @return this.
         */
        public Builder serializationAllowList(final String allowList)
        {
            this.serializationAllowList = allowList;
            return this;
        }

        /**
         * @param options JVM options of process workers, replacing the default {@code -Xmx1g -XX:+UseSerialGC}
         *                (the module-access flags are always passed). Task arguments and results are decoded on
         *                the worker's heap, so size it for the largest object a task handles.
         * @return this.
         */
        public Builder workerJvmOptions(final List<String> options)
        {
            this.workerJvmOptions = List.copyOf(options);
            return this;
        }

        /** @return JVM options of process workers (the default until set). */
        public List<String> workerJvmOptions()
        {
            return workerJvmOptions;
        }

        /**
         * @param shared process workers join this JVM's media driver, so every node of the cluster moves control
         *               and bulk data over Aeron IPC (shared memory) instead of UDP on 127.0.0.1 (default true);
         *               false: each worker embeds its own driver and talks UDP, as workers on other hosts do.
         * @return this.
         */
        public Builder sharedDriver(final boolean shared)
        {
            this.sharedDriver = shared;
            return this;
        }

        /**
         * @param cpus where process workers may run: {@code "none"} (default) leaves placement to the OS;
         *             {@code "auto"} keeps them off the lowest online CPU this JVM may use, when it may use two or
         *             more, so the caller's and the cluster's threads do not queue behind the workers' on a small
         *             machine (at the price of the workers sharing fewer CPUs); or a CPU list such as
         *             {@code "1-3,5"}. Applied with {@code taskset} (auto without it: no pinning; a list without
         *             it: {@link #start()} fails). Ignored for in-process workers.
         * @return this.
         * @throws IllegalArgumentException if it is not auto, none or a CPU list.
         */
        public Builder workerCpus(final String cpus)
        {
            WorkerCpus.validate(cpus);
            this.workerCpus = cpus;
            return this;
        }

        /**
         * @param ctx the scheduler's settings (worker saturation, rebalance thresholds, bandwidth estimate...);
         *            default {@code new Scheduler.Context()}.
         * @return this.
         */
        public Builder schedulerContext(final Scheduler.Context ctx)
        {
            this.schedulerContext = ctx;
            return this;
        }

        /**
         * @return the started cluster, every worker registered.
         */
        public LocalCluster start()
        {
            if (workers < 0 || threadsPerWorker < 1 || memoryLimit <= 0)
            {
                throw new IllegalArgumentException("workers >= 0, threads >= 1 and memory limit > 0 required");
            }
            return new LocalCluster(this);
        }

        String allowList()
        {
            final String base = io.offgrid.client.internal.GridProtocol.DEFAULT_ALLOW_LIST;
            return null == serializationAllowList ? base : base + ";" + serializationAllowList;
        }
    }

    /**
     * A worker of this cluster.
     */
    public final class WorkerHandle
    {
        private final long id;
        private final Worker worker;
        private final Process process;
        private volatile String aeronDirectory;
        private volatile boolean alive = true;
        private volatile Path errorLog;

        WorkerHandle(final long id, final Worker worker, final Process process)
        {
            this.id = id;
            this.worker = worker;
            this.process = process;
        }

        /**
         * @return the worker's node id.
         */
        public long id()
        {
            return id;
        }

        /**
         * @return whether it runs in its own JVM.
         */
        public boolean isProcess()
        {
            return null != process;
        }

        /**
         * @return the process id of its JVM.
         */
        public long pid()
        {
            return null == process ? ProcessHandle.current().pid() : process.pid();
        }

        /**
         * @return whether it has not been killed.
         */
        public boolean isAlive()
        {
            return alive;
        }

        /**
         * Managed bytes: read from the block store for in-process workers, from the last heartbeat for process
         * workers (every 200 ms, and within a millisecond of memory being freed).
         *
         * @return bytes of results in its memory.
         */
        public long managedBytes()
        {
            if (!alive)
            {
                return 0;
            }
            return null != worker ? worker.managedBytes() : Math.max(0, scheduler.reportedManagedBytes(id));
        }

        /**
         * @return the file a process worker's log (stderr) goes to while the cluster runs (deleted at close), or
         * null for an in-process worker.
         */
        public Path errorLog()
        {
            return errorLog;
        }

        /**
         * @return the in-process worker, or null for a process worker.
         */
        public Worker worker()
        {
            return worker;
        }

        @Override
        public String toString()
        {
            return "worker " + id + (null == process ? "" : " (pid " + process.pid() + ")");
        }
    }

    /**
     * @param workers number of in-process workers.
     * @return the started cluster.
     */
    public static LocalCluster start(final int workers)
    {
        return builder().workers(workers).start();
    }

    /**
     * @return a builder with defaults.
     */
    public static Builder builder()
    {
        return new Builder();
    }

    private LocalCluster(final Builder config)
    {
        this.config = config;
        this.workerLaunchPrefix = config.processes ? WorkerCpus.launchPrefix(config.workerCpus) : List.of();
        try
        {
            this.tempDirectory = Files.createTempDirectory("offgrid-cluster-");
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        TransportDriver d = null;
        AgentGroup g = null;
        SchedulerServer s = null;
        try
        {
            d = TransportDriver.launch(new TransportDriver.Context().threadingMode(ThreadingMode.INVOKER));
            g = AgentGroup.start(new AgentGroup.Context().name("offgrid-cluster").driver(d));
            s = SchedulerServer.launch(new SchedulerServer.Context()
                .listenEndpoint("127.0.0.1:0")
                .aeronDirectoryName(d.aeronDirectoryName())
                .agentGroup(g)
                .schedulerContext(config.schedulerContext)
                .clusterSecret(config.clusterSecret)
                .peerTimeoutNs(config.peerTimeoutNs));
        }
        catch (final RuntimeException ex)
        {
            if (null != s)
            {
                s.close();
            }
            if (null != g)
            {
                g.close();
            }
            if (null != d)
            {
                d.close();
            }
            deleteRecursively(tempDirectory);
            throw ex;
        }
        this.driver = d;
        this.group = g;
        this.scheduler = s;
        try
        {
            final ArrayList<CompletableFuture<Void>> ready = new ArrayList<>();
            for (int i = 0; i < config.workers; i++)
            {
                ready.add(addWorker());
            }
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            for (final CompletableFuture<Void> r : ready)
            {
                r.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            }
            while (scheduler.workerCount() < config.workers)
            {
                if (System.nanoTime() - deadline > 0)
                {
                    throw new IllegalStateException("workers did not register within 60 s");
                }
                Thread.sleep(1);
            }
        }
        catch (final Exception ex)
        {
            close();
            throw ex instanceof RuntimeException ? (RuntimeException)ex : new IllegalStateException(ex);
        }
    }

    /**
     * Start one more worker (same settings as the others).
     *
     * @return completes when the worker is ready.
     */
    public synchronized CompletableFuture<Void> addWorker()
    {
        final long id = nextWorkerId++;
        final Path spill = tempDirectory.resolve("w" + id);
        if (!config.processes)
        {
            final Worker w = Worker.launch(new Worker.Context()
                .nodeId(id)
                .schedulerAddress(scheduler.endpoint())
                .aeronDirectoryName(driver.aeronDirectoryName())
                .agentGroup(group)
                .clusterSecret(config.clusterSecret)
                .threads(config.threadsPerWorker)
                .memoryLimit(config.memoryLimit)
                .peerTimeoutNs(config.peerTimeoutNs)
                .spillDirectory(spill)
                .serializationAllowList(config.allowList()));
            workers.add(new WorkerHandle(id, w, null));
            return CompletableFuture.completedFuture(null);
        }
        final ArrayList<String> cmd = new ArrayList<>(workerLaunchPrefix); // taskset execs java: the pid is the worker's
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        for (final String arg : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (arg.startsWith("--add-") || arg.startsWith("-Dchronicle") || arg.startsWith("-XX:MaxDirectMemorySize") ||
                arg.startsWith("-Dorg.agrona.") || arg.startsWith("-Daeron.") || arg.startsWith("-Doffgrid."))
            {
                cmd.add(arg);
            }
        }
        cmd.addAll(config.workerJvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Offgrid.class.getName());
        cmd.add("worker");
        cmd.add("--scheduler=" + scheduler.endpoint());
        cmd.add("--id=" + id);
        cmd.add("--threads=" + config.threadsPerWorker);
        cmd.add("--memory-limit=" + config.memoryLimit);
        cmd.add("--peer-timeout-ms=" + TimeUnit.NANOSECONDS.toMillis(config.peerTimeoutNs));
        cmd.add("--spill-directory=" + spill);
        cmd.add("--print-ready");
        if (config.sharedDriver)
        {
            cmd.add("--aeron-dir=" + driver.aeronDirectoryName());
        }
        if (null != config.serializationAllowList)
        {
            cmd.add("--allow=" + config.serializationAllowList);
        }
        // The worker's log (stderr) goes to a file in the cluster's directory, there to read while it runs.
        final Path errorLog = tempDirectory.resolve("worker-" + id + ".log");
        final ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(errorLog.toFile());
        if (null != config.clusterSecret)
        {
            pb.environment().put(Offgrid.SECRET_ENV, new String(config.clusterSecret, StandardCharsets.UTF_8));
        }
        final Process p;
        try
        {
            p = pb.start();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot start worker process", ex);
        }
        final WorkerHandle handle = new WorkerHandle(id, null, p);
        handle.errorLog = errorLog;
        workers.add(handle);
        final CompletableFuture<Void> ready = new CompletableFuture<>();
        final Thread reader = new Thread(() ->
        {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while (null != (line = in.readLine()))
                {
                    if (line.startsWith(READY_LINE))
                    {
                        final String[] parts = line.split(" ");
                        handle.aeronDirectory = parts.length > 3 ? parts[3] : null;
                        ready.complete(null);
                    }
                }
            }
            catch (final IOException ignore)
            {
                // the process went away
            }
            if (!ready.isDone())
            {
                ready.completeExceptionally(new IllegalStateException("worker process " + id + " exited before it was ready" +
                    logTail(errorLog)));
            }
        }, "offgrid-worker-" + id + "-stdout");
        reader.setDaemon(true);
        reader.start();
        return ready;
    }

    /**
     * @return a new client connected to this cluster; it becomes the default client and is closed with the
     * cluster.
     */
    public Client client()
    {
        final Client c = Client.connect(new ClientConfig()
            .schedulerAddress(scheduler.endpoint())
            .aeronDirectoryName(driver.aeronDirectoryName())
            .agentGroup(group)
            .clusterSecret(config.clusterSecret)
            .peerTimeoutNs(config.peerTimeoutNs)
            .serializationAllowList(config.allowList()));
        clients.add(c);
        return c;
    }

    /**
     * @return the scheduler's host:port (for clients in other JVMs).
     */
    public String schedulerAddress()
    {
        return scheduler.endpoint();
    }

    /**
     * @return the scheduler node.
     */
    public SchedulerServer scheduler()
    {
        return scheduler;
    }

    /** @return the group running this JVM's nodes on one thread (tests). */
    AgentGroup group()
    {
        return group;
    }

    /**
     * @return cycles of this JVM's cluster thread (scheduler, in-process workers, clients, driver) run by client
     * threads while they waited for an answer ({@code ClientConfig.helpWhileWaitingNs}). A monitoring figure.
     */
    public long cyclesRunByWaitingClients()
    {
        return null == group ? 0 : group.helpedCycles();
    }

    /** @return the end of a worker's log (at most 4 KiB), for the error that says it did not start ("" if none). */
    private static String logTail(final Path log)
    {
        try (java.nio.channels.SeekableByteChannel in = Files.newByteChannel(log))
        {
            final long size = in.size();
            final java.nio.ByteBuffer tail = java.nio.ByteBuffer.allocate((int)Math.min(4096, size));
            in.position(size - tail.capacity());
            while (tail.hasRemaining() && in.read(tail) > 0)
            {
                // read to the end
            }
            final String text = new String(tail.array(), 0, tail.position(), StandardCharsets.UTF_8).trim();
            return text.isEmpty() ? "" : "; its log (" + log + ") ends:\n  " + text.replace("\n", "\n  ");
        }
        catch (final IOException | RuntimeException ex)
        {
            return "";
        }
    }

    /**
     * @return the CPU list process workers are pinned to (see {@link Builder#workerCpus}), or null if they are not.
     */
    public String workerCpus()
    {
        return workerLaunchPrefix.isEmpty() ? null : workerLaunchPrefix.get(2);
    }

    /**
     * @return every worker started, killed ones included (see {@link WorkerHandle#isAlive()}).
     */
    public List<WorkerHandle> workers()
    {
        return List.copyOf(workers);
    }

    /**
     * @return ids of the live workers.
     */
    public long[] workerIds()
    {
        return workers.stream().filter(WorkerHandle::isAlive).mapToLong(WorkerHandle::id).toArray();
    }

    /**
     * @param id a worker id.
     * @return its handle.
     */
    public WorkerHandle worker(final long id)
    {
        for (final WorkerHandle w : workers)
        {
            if (w.id == id)
            {
                return w;
            }
        }
        throw new IllegalArgumentException("no worker " + id);
    }

    /**
     * Kill a worker: SIGKILL for a process worker (no goodbye, the scheduler notices the silence); an in-process
     * worker is closed at once.
     *
     * @param id the worker.
     */
    public void killWorker(final long id)
    {
        final WorkerHandle w = worker(id);
        if (!w.alive)
        {
            return;
        }
        w.alive = false;
        if (null != w.process)
        {
            w.process.destroyForcibly();
            try
            {
                w.process.waitFor(10, TimeUnit.SECONDS);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            cleanUpAfter(w);
        }
        else
        {
            w.worker.close();
        }
    }

    private void cleanUpAfter(final WorkerHandle w)
    {
        // A SIGKILLed JVM cannot delete its driver directory; we know where it is. The shared one is ours to keep:
        // our driver drops a dead worker's publications once its client times out.
        if (null != w.aeronDirectory && !sameDirectory(w.aeronDirectory, driver.aeronDirectoryName()))
        {
            deleteRecursively(Paths.get(w.aeronDirectory));
        }
    }

    private static boolean sameDirectory(final String a, final String b)
    {
        try
        {
            return Paths.get(a).toRealPath().equals(Paths.get(b).toRealPath());
        }
        catch (final IOException ex)
        {
            return Paths.get(a).toAbsolutePath().normalize().equals(Paths.get(b).toAbsolutePath().normalize());
        }
    }

    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        for (final Client c : clients)
        {
            c.close();
        }
        for (final WorkerHandle w : workers)
        {
            if (null != w.worker && w.alive)
            {
                w.alive = false;
                w.worker.close();
            }
            else if (null != w.process && w.alive)
            {
                w.alive = false;
                w.process.destroy();
            }
        }
        for (final WorkerHandle w : workers)
        {
            if (null != w.process)
            {
                try
                {
                    if (!w.process.waitFor(10, TimeUnit.SECONDS))
                    {
                        w.process.destroyForcibly();
                        w.process.waitFor(10, TimeUnit.SECONDS);
                    }
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                cleanUpAfter(w);
            }
        }
        if (null != scheduler)
        {
            scheduler.close();
        }
        if (null != group)
        {
            group.close();
        }
        if (null != driver)
        {
            driver.close();
        }
        deleteRecursively(tempDirectory);
    }

    static void deleteRecursively(final Path dir)
    {
        if (null == dir || !Files.exists(dir))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir))
        {
            paths.sorted(Comparator.reverseOrder()).forEach(p ->
            {
                try
                {
                    Files.deleteIfExists(p);
                }
                catch (final IOException ignore)
                {
                    // best effort
                }
            });
        }
        catch (final IOException ignore)
        {
            // best effort
        }
    }
}
