package io.offgrid.grid;

import io.offgrid.client.internal.GridProtocol;
import io.offgrid.client.internal.PeerDirectory;
import io.offgrid.client.internal.TaskArguments;
import io.offgrid.client.internal.TaskFunctions;
import io.offgrid.memory.Block;
import io.offgrid.memory.BlockReservation;
import io.offgrid.memory.BlockStore;
import io.offgrid.memory.CodecRegistry;
import io.offgrid.memory.ColumnarTable;
import io.offgrid.memory.NativeTable;
import io.offgrid.memory.TableView;
import io.offgrid.transport.BlockAllocator;
import io.offgrid.transport.BlockListener;
import io.offgrid.transport.PeerListener;
import io.offgrid.transport.AgentGroup;
import io.offgrid.transport.SharedDuty;
import io.offgrid.transport.TransportNode;
import io.offgrid.transport.WakeableIdleStrategy;
import io.offgrid.transport.protocol.BlockStatus;
import io.offgrid.transport.protocol.BooleanType;
import io.offgrid.transport.protocol.CancelKeysDecoder;
import io.offgrid.transport.protocol.ClusterInfoDecoder;
import io.offgrid.transport.protocol.ComputeTaskDecoder;
import io.offgrid.transport.protocol.CopyKeysDecoder;
import io.offgrid.transport.protocol.DefineFunctionDecoder;
import io.offgrid.transport.protocol.FetchKeyDecoder;
import io.offgrid.transport.protocol.FetchKeyEncoder;
import io.offgrid.transport.protocol.FreeKeysDecoder;
import io.offgrid.transport.protocol.KeysStoredEncoder;
import io.offgrid.transport.protocol.MessageHeaderDecoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.NodeRole;
import io.offgrid.transport.protocol.RegisterAckDecoder;
import io.offgrid.transport.protocol.RegisterNodeEncoder;
import io.offgrid.transport.protocol.RequestDoneDecoder;
import io.offgrid.transport.protocol.RequestDoneEncoder;
import io.offgrid.transport.protocol.RequestStatus;
import io.offgrid.transport.protocol.RestartDecoder;
import io.offgrid.transport.protocol.TaskErredEncoder;
import io.offgrid.transport.protocol.TaskFinishedEncoder;
import io.offgrid.transport.protocol.TasksFinishedEncoder;
import io.offgrid.transport.protocol.WorkerHeartbeatEncoder;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A worker node: a {@link BlockStore} for results, executor threads for task code, and a {@link TransportNode},
 * whose agent thread runs the worker's protocol (task code never runs on it). The worker fetches task inputs from
 * the peers that hold them and keeps the copies, reports results with their size, obeys free / copy / cancel /
 * restart, stops starting tasks while its store is paused, and heartbeats its memory to the scheduler.
 */
public final class Worker implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(Worker.class);

    /**
     * Settings with defaults: a random id, listen on 127.0.0.1 (any port), threads = available processors,
     * 4 GiB memory limit, Dask's memory fractions, the default serialization allow-list.
     */
    public static final class Context
    {
        private long nodeId = -1;
        private String schedulerAddress;
        private String listenEndpoint = "127.0.0.1:0";
        private String aeronDirectoryName;
        private AgentGroup agentGroup;
        private WakeableIdleStrategy idleStrategy;
        private long executorHelpNs = TimeUnit.MICROSECONDS.toNanos(Long.getLong("offgrid.worker.helpUs", 300));
        private byte[] clusterSecret;
        private int threads = Runtime.getRuntime().availableProcessors();
        private long memoryLimit = 4L << 30;
        private long peerTimeoutNs = TimeUnit.SECONDS.toNanos(5);
        private long heartbeatIntervalNs = GridProtocol.HEARTBEAT_INTERVAL_NS;
        private Path spillDirectory;
        private String serializationAllowList = GridProtocol.DEFAULT_ALLOW_LIST;
        private String name;
        private int inlineResultLimit = 2048;

        /**
         * @param bytes results whose stored block is at most this long travel inside the task-finished message and
         *              on to the clients that want them (no fetch round trip); 0 turns it off. Default 2 KiB.
         * @return this.
         */
        public Context inlineResultLimit(final int bytes)
        {
            this.inlineResultLimit = bytes;
            return this;
        }

        /**
         * @param id node id, unique in the cluster and never reused (default: random).
         * @return this.
         */
        public Context nodeId(final long id)
        {
            this.nodeId = id;
            return this;
        }

        /**
         * @return the node id (-1 until concluded when random).
         */
        public long nodeId()
        {
            return nodeId;
        }

        /**
         * @param address the scheduler's host:port.
         * @return this.
         */
        public Context schedulerAddress(final String address)
        {
            this.schedulerAddress = address;
            return this;
        }

        /**
         * @param endpoint host:port to listen on.
         * @return this.
         */
        public Context listenEndpoint(final String endpoint)
        {
            this.listenEndpoint = endpoint;
            return this;
        }

        /**
         * @param idle how this node's own thread idles (ignored in an {@link AgentGroup}); default
         *             {@link WakeableIdleStrategy#forNode()}: spin, yield, then park up to 50 µs.
         * @return this.
         */
        public Context idleStrategy(final WakeableIdleStrategy idle)
        {
            this.idleStrategy = idle;
            return this;
        }

        /**
         * @param ns how long an executor thread with no task runs this worker's duty cycle itself (taking, from the
         *           node's own thread, the reading of the next task and the sending of its result) before it
         *           sleeps, once no cycle has found work for that long; 0: executors sleep at once and hand
         *           everything to the node's thread. That is for a worker on a thread of its own (a process
         *           worker). In an {@link AgentGroup}, where the group's thread and the clients waiting on it run the
         *           cycle, an executor with no task instead watches its queue this long before it sleeps (one
         *           executor of the worker at a time). Default 300 µs, or {@code -Doffgrid.worker.helpUs}. Why:
         *           each hand-over to a sleeping thread costs 25-45 µs on 2 cores (README.md, "Latency").
         * @return this.
         */
        public Context executorHelpNs(final long ns)
        {
            this.executorHelpNs = ns;
            return this;
        }

        /**
         * @param group run this node's agent on a shared {@link AgentGroup} thread (in-process clusters) instead
         *              of a thread of its own; null (default) for its own thread.
         * @return this.
         */
        public Context agentGroup(final AgentGroup group)
        {
            this.agentGroup = group;
            return this;
        }

        /**
         * @param dir a shared media driver's directory, or null for an embedded one.
         * @return this.
         */
        public Context aeronDirectoryName(final String dir)
        {
            this.aeronDirectoryName = dir;
            return this;
        }

        /**
         * @param secret cluster secret or null.
         * @return this.
         */
        public Context clusterSecret(final byte[] secret)
        {
            this.clusterSecret = null == secret ? null : secret.clone();
            return this;
        }

        /**
         * @param threads executor threads for task code.
         * @return this.
         */
        public Context threads(final int threads)
        {
            this.threads = threads;
            return this;
        }

        /**
         * @return executor threads.
         */
        public int threads()
        {
            return threads;
        }

        /**
         * @param bytes the block store's memory limit.
         * @return this.
         */
        public Context memoryLimit(final long bytes)
        {
            this.memoryLimit = bytes;
            return this;
        }

        /**
         * @return the memory limit.
         */
        public long memoryLimit()
        {
            return memoryLimit;
        }

        /**
         * @param ns how long a silent peer is given.
         * @return this.
         */
        public Context peerTimeoutNs(final long ns)
        {
            this.peerTimeoutNs = ns;
            return this;
        }

        /**
         * @param ns interval of memory heartbeats to the scheduler.
         * @return this.
         */
        public Context heartbeatIntervalNs(final long ns)
        {
            this.heartbeatIntervalNs = ns;
            return this;
        }

        /**
         * @param dir where spilled blocks go (default: the block store's default).
         * @return this.
         */
        public Context spillDirectory(final Path dir)
        {
            this.spillDirectory = dir;
            return this;
        }

        /**
         * @param allowList ObjectInputFilter pattern for shipped functions and Java-serialized values.
         * @return this.
         */
        public Context serializationAllowList(final String allowList)
        {
            this.serializationAllowList = allowList;
            return this;
        }

        /**
         * Check and fill in defaults.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (null == schedulerAddress || schedulerAddress.lastIndexOf(':') <= 0)
            {
                throw new IllegalArgumentException("schedulerAddress must be host:port: " + schedulerAddress);
            }
            if (threads < 1)
            {
                throw new IllegalArgumentException("threads must be at least 1: " + threads);
            }
            if (executorHelpNs < 0)
            {
                throw new IllegalArgumentException("executorHelpNs must be >= 0: " + executorHelpNs);
            }
            if (inlineResultLimit < 0 || inlineResultLimit > 16 * 1024)
            {
                throw new IllegalArgumentException("inlineResultLimit must be 0..16384 bytes: " + inlineResultLimit);
            }
            if (memoryLimit <= 0 || peerTimeoutNs <= 0 || heartbeatIntervalNs <= 0)
            {
                throw new IllegalArgumentException("memory limit, peer timeout and heartbeat must be positive");
            }
            if (nodeId < 0)
            {
                nodeId = ThreadLocalRandom.current().nextLong(1L << 32, 1L << 40);
            }
            if (nodeId == GridProtocol.SCHEDULER_NODE_ID)
            {
                throw new IllegalArgumentException("node id " + nodeId + " is the scheduler's");
            }
            if (null == name)
            {
                name = "worker-" + nodeId;
            }
            return this;
        }
    }

    private final Context ctx;
    private final long nodeId;
    private final CodecRegistry codecs;
    private final BlockStore store;
    private final TransportNode node;
    private final ThreadPoolExecutor executor;
    private final WorkerAgent agent;
    /** In a group: the executors' queue, which an idle executor watches before it sleeps; else null. */
    private final SpinningQueue spinningQueue;
    /** The spinning queue's count of tasks in flight, ended when a task ran or was dropped; null without one. */
    private final Runnable onTaskDone;
    /** Executors run the duty cycle while they have no task; null in a group or with executorHelpNs 0. */
    private final SharedDuty duty;
    /** This node's own thread or its group; other threads hand it work with {@code thread.wake()}. */
    private final NodeThread thread;
    private final ManyToOneConcurrentArrayQueue<Result> results = new ManyToOneConcurrentArrayQueue<>(65536);
    private final ConcurrentHashMap<Long, Object> loadedFunctions = new ConcurrentHashMap<>();
    private final AtomicInteger executing = new AtomicInteger();
    /** Executor threads store results under the read lock; restart clears under the write lock (no straggler). */
    private final java.util.concurrent.locks.ReentrantReadWriteLock storeLock =
        new java.util.concurrent.locks.ReentrantReadWriteLock();
    private volatile boolean registered;
    private volatile boolean schedulerLost;

    // ---- agent thread only
    /** A TasksFinished message at most this large: 64 KiB holds ~1,500 finished tasks with small inline values. */
    private static final int FINISHED_BATCH_BYTES = 64 * 1024;
    private final UnsafeBuffer out;
    private final UnsafeBuffer inlineView = new UnsafeBuffer(0, 0);
    private final TaskFinishedEncoder taskFinished = new TaskFinishedEncoder();
    /** Finished tasks gathered into one TasksFinished message per duty cycle (agent thread). */
    private final UnsafeBuffer finishedOut;
    private final TasksFinishedEncoder finishedEncoder = new TasksFinishedEncoder();
    private TasksFinishedEncoder.TasksEncoder finishedEntries;
    private int finishedCount;
    private volatile long inlineSent;
    private volatile long fetchesServed;
    private final UnsafeBuffer meta = new UnsafeBuffer(new byte[TransportNode.MAX_BLOCK_METADATA_LENGTH]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final Long2ObjectHashMap<byte[]> functionCode = new Long2ObjectHashMap<>();
    private final HashMap<String, WorkerTask> tasks = new HashMap<>();
    /**
     * Tasks sent ahead whose one missing input computes here, by that input's key: the executor thread that stores
     * it starts them at once (no hand-over to the agent and back). Guarded by itself.
     */
    private final HashMap<String, ArrayList<WorkerTask>> inlineWaiters = new HashMap<>();
    /** Tasks sent ahead that also wait for fetches: the agent starts them when the last input is in. Agent only. */
    private final HashMap<String, ArrayList<WorkerTask>> localWaiters = new HashMap<>();
    /** Tasks an executor thread could not start while the store was paused: the agent starts them. */
    private final ManyToOneConcurrentArrayQueue<WorkerTask> aheadReady = new ManyToOneConcurrentArrayQueue<>(4096);
    private final ArrayDeque<WorkerTask> ready = new ArrayDeque<>();
    private long taskSequence;
    private long peakSinceReport;
    private static final long EARLY_HEARTBEAT_NS = TimeUnit.MILLISECONDS.toNanos(1);
    private final HashMap<String, FetchState> fetches = new HashMap<>();
    private final Long2ObjectHashMap<FetchState> fetchByRequest = new Long2ObjectHashMap<>();
    private final HashMap<String, Incoming> incoming = new HashMap<>();
    private final HashMap<String, Block> outgoing = new HashMap<>();
    private final HashSet<String> held = new HashSet<>();
    private final PeerDirectory directory = new PeerDirectory();
    private long nextRequestId = 1;
    private long lastHeartbeatNs;

    private static final class WorkerTask
    {
        final String key;
        final long functionId;
        final byte[] arguments;
        final int priority;
        final long sequence;
        int missing;
        volatile boolean cancelled;
        Future<?> future;

        WorkerTask(final String key, final long functionId, final byte[] arguments, final int priority, final long sequence)
        {
            this.key = key;
            this.functionId = functionId;
            this.arguments = arguments;
            this.priority = priority;
            this.sequence = sequence;
        }
    }

    private record Result(WorkerTask task, long nbytes, int codecId, long durationNs, Throwable error)
    {
    }

    private static final class FetchState
    {
        final String key;
        final long[] holders;
        int next;
        long requestId;
        long currentHolder = -1;
        final List<WorkerTask> waiters = new ArrayList<>(1);
        boolean copy;

        FetchState(final String key, final long[] holders)
        {
            this.key = key;
            this.holders = holders;
        }
    }

    private record Incoming(FetchState fetch, BlockReservation reservation)
    {
    }

    private Worker(final Context ctx)
    {
        this.ctx = ctx.conclude();
        this.thread = new NodeThread(ctx.agentGroup, ctx.idleStrategy);
        this.agent = new WorkerAgent();
        this.duty = null != ctx.agentGroup || 0 == ctx.executorHelpNs ? null :
            new SharedDuty(agent::cycle, thread::wake, ex -> LOG.warn("worker agent error (on an executor thread)", ex));
        this.nodeId = ctx.nodeId;
        this.codecs = new CodecRegistry(ctx.serializationAllowList);
        final BlockStore.Context sctx = new BlockStore.Context()
            .name(ctx.name)
            .memoryLimit(ctx.memoryLimit)
            .backgroundRelease(true) // a large free must not stall the agent (or, in a group, every node)
            .codecs(codecs);
        if (null != ctx.spillDirectory)
        {
            sctx.spillDirectory(ctx.spillDirectory);
        }
        this.store = new BlockStore(sctx);
        final AtomicInteger threadIds = new AtomicInteger();
        // Tasks waiting for a thread start highest priority first, then in arrival order (PrioritizedRun).
        this.spinningQueue = null == duty && 0 != ctx.executorHelpNs && null != ctx.agentGroup ?
            new SpinningQueue(ctx.executorHelpNs, ctx.agentGroup) : null;
        this.onTaskDone = null == spinningQueue ? null : spinningQueue::taskDone;
        this.executor = new ThreadPoolExecutor(ctx.threads, ctx.threads, 0, TimeUnit.MILLISECONDS,
            null != duty ? new HelpingQueue() : null != spinningQueue ? spinningQueue : new PriorityBlockingQueue<>(), r ->
            {
                final Thread t = new Thread(r, ctx.name + "-exec-" + threadIds.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
        final Handlers handlers = new Handlers();
        final TransportNode.Context tctx = new TransportNode.Context()
            .nodeId(nodeId)
            .listenEndpoint(ctx.listenEndpoint)
            .clusterSecret(ctx.clusterSecret)
            .peerTimeoutNs(ctx.peerTimeoutNs)
            .heartbeatIntervalNs(Math.min(500_000_000L, ctx.peerTimeoutNs / 4))
            .useAgentRunner(false)
            .agentGroup(thread.group())
            .commandWaker(this::wakeNode)
            .runsCycle(null == duty ? null : duty::heldByCurrentThread)
            .defaultHandler(handlers::onMessage)
            .peerListener(handlers)
            .blockAllocator(handlers)
            .blockListener(handlers);
        if (null != ctx.aeronDirectoryName)
        {
            tctx.aeronDirectoryName(ctx.aeronDirectoryName);
        }
        TransportNode launched = null;
        try
        {
            launched = TransportNode.launch(tctx);
        }
        catch (final RuntimeException ex)
        {
            executor.shutdownNow();
            store.close();
            throw ex;
        }
        this.node = launched;
        this.out = new UnsafeBuffer(new byte[node.maxMessageLength()]);
        this.finishedOut = new UnsafeBuffer(new byte[Math.min(FINISHED_BATCH_BYTES, node.maxMessageLength())]);
        node.execute(() ->
        {
            node.addPeer(GridProtocol.SCHEDULER_NODE_ID, ctx.schedulerAddress);
            final RegisterNodeEncoder e = new RegisterNodeEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .role(NodeRole.WORKER).threads(ctx.threads).memoryLimit(ctx.memoryLimit)
                .pid(ProcessHandle.current().pid()).name(node.endpoint());
            sendToScheduler(e.encodedLength());
        });
        thread.start(agent, ex -> LOG.warn("worker agent error", ex));
    }

    /**
     * Start a worker; it registers with the scheduler in the background (see {@link #isRegistered()}).
     *
     * @param ctx settings.
     * @return the running worker.
     */
    public static Worker launch(final Context ctx)
    {
        return new Worker(ctx);
    }

    /**
     * @return this worker's node id.
     */
    public long id()
    {
        return nodeId;
    }

    /**
     * @return host:port this worker listens on.
     */
    public String endpoint()
    {
        return node.endpoint();
    }

    /**
     * @return the media driver directory this worker uses.
     */
    public String aeronDirectoryName()
    {
        return node.aeronDirectoryName();
    }

    /**
     * @return duty cycles of this worker run by its executor threads while they had no task
     * ({@link Context#executorHelpNs}); 0 in a group or with that help off. A monitoring figure.
     */
    public long cyclesRunByExecutors()
    {
        return null == duty ? 0 : duty.helpedCycles();
    }

    /**
     * @return the worker's block store (thread-safe; for inspection).
     */
    public BlockStore store()
    {
        return store;
    }

    /**
     * @return bytes of results in memory right now.
     */
    public long managedBytes()
    {
        return store.managedBytes();
    }

    /**
     * @return how many distinct functions were shipped to this worker (each once, however many tasks use it).
     */
    public int functionCount()
    {
        synchronized (functionCode)
        {
            return functionCode.size();
        }
    }

    /**
     * @return whether the scheduler accepted the registration.
     */
    public boolean isRegistered()
    {
        return registered;
    }

    /**
     * @return results sent inline with their task-finished message so far (thread-safe, approximate).
     */
    public long inlineResultsSent()
    {
        return inlineSent;
    }

    /**
     * @return fetch requests for a result this worker has answered so far (thread-safe, approximate).
     */
    public long fetchesServed()
    {
        return fetchesServed;
    }

    /**
     * @return whether the connection to the scheduler was lost.
     */
    public boolean isSchedulerLost()
    {
        return schedulerLost;
    }

    @Override
    public void close()
    {
        if (null != duty)
        {
            duty.close(); // executors stop running the cycle (one running finishes first)
        }
        thread.stop();
        for (final Runnable never : executor.shutdownNow())
        {
            ((Future<?>)never).cancel(false); // done(): a queued task leaves the group's count
        }
        try
        {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        for (final Block b : outgoing.values())
        {
            b.close();
        }
        outgoing.clear();
        thread.closeNode(node);
        for (final Incoming in : incoming.values())
        {
            in.reservation.close();
        }
        incoming.clear();
        store.close();
    }

    // ============================================================================================== agent

    private final class WorkerAgent implements Agent
    {
        /** Bound once: a method reference made in doWork() would be a new object every duty cycle. */
        private final java.util.function.Consumer<Result> onResult = Worker.this::onResult;

        public int doWork()
        {
            return null == duty ? cycle() : duty.ownerCycle();
        }

        /** One duty cycle; on the node's thread, or on an executor thread holding the duty ({@link SharedDuty}). */
        int cycle()
        {
            int work = node.doWork();
            work += results.drain(onResult, 1024);
            WorkerTask aheadTask;
            while (null != (aheadTask = aheadReady.poll()))
            {
                if (tasks.get(aheadTask.key) == aheadTask)
                {
                    start(aheadTask);
                }
                work++;
            }
            flushFinished();
            if (!ready.isEmpty() && !store.paused())
            {
                while (!ready.isEmpty())
                {
                    start(ready.poll());
                    work++;
                }
            }
            final long now = System.nanoTime();
            final long managed = store.managedBytes();
            // Memory that went down (frees, restart) is reported within a millisecond, so the scheduler and
            // clients see released memory at once; growth waits for the regular heartbeat.
            peakSinceReport = Math.max(peakSinceReport, managed);
            final boolean dropped = managed < peakSinceReport && now - lastHeartbeatNs >= EARLY_HEARTBEAT_NS;
            if ((dropped || now - lastHeartbeatNs >= ctx.heartbeatIntervalNs) && registered)
            {
                lastHeartbeatNs = now;
                peakSinceReport = managed;
                final WorkerHeartbeatEncoder e = new WorkerHeartbeatEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .timestampNs(now).managedBytes(managed).spilledBytes(store.spilledBytes())
                    .memoryLimit(ctx.memoryLimit).executing(executing.get()).ready(ready.size())
                    .paused(store.paused() ? BooleanType.TRUE : BooleanType.FALSE);
                sendToScheduler(e.encodedLength());
                work++;
            }
            return work;
        }

        public String roleName()
        {
            return "offgrid-worker-" + nodeId;
        }
    }

    private void sendToScheduler(final int encodedLength)
    {
        flushFinished(); // keep the scheduler's view of this worker in the order things happened
        node.send(GridProtocol.SCHEDULER_NODE_ID, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + encodedLength);
    }

    private void send(final long peerId, final int encodedLength)
    {
        ensurePeer(peerId);
        node.send(peerId, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + encodedLength);
    }

    private boolean ensurePeer(final long peerId)
    {
        return directory.ensure(node, peerId);
    }

    private void start(final WorkerTask task)
    {
        if (task.cancelled)
        {
            return;
        }
        if (store.paused())
        {
            ready.add(task); // paused: no new task starts until memory drops below the pause fraction
            return;
        }
        execute(task);
    }

    /** Hand a task to the executors; in a group, counted as in flight until it ran or was dropped. */
    private void execute(final WorkerTask task)
    {
        final PrioritizedRun run = new PrioritizedRun(task, this::run, onTaskDone);
        task.future = run;
        if (null == spinningQueue)
        {
            executor.execute(run);
            return;
        }
        spinningQueue.taskQueued(); // sequential or parallel work: whether an idle executor may spin
        try
        {
            executor.execute(run);
        }
        catch (final RuntimeException | Error ex)
        {
            run.cancel(false); // done() runs once: the task leaves the counts
            throw ex;
        }
    }

    /** Wake the node's own thread, unless an executor is running its cycles (it sees the work in its next one). */
    private void wakeNode()
    {
        if (null == duty || !duty.helping())
        {
            thread.wake();
        }
    }

    /**
     * The executors' queue of a worker with executor help: an executor that finds it empty runs the worker's duty
     * cycle (which is where new tasks come from) until a task is queued or the help budget passes, then waits.
     */
    private final class HelpingQueue extends PriorityBlockingQueue<Runnable>
    {
        @Override
        public Runnable take() throws InterruptedException
        {
            // One idle executor runs the cycle; the others wait for tasks as before (no second spinner).
            if (isEmpty() && !duty.helping())
            {
                duty.helpUntil(() -> !isEmpty(), ctx.executorHelpNs, Long.MAX_VALUE);
            }
            return super.take();
        }
    }

    /**
     * The executors' queue of a worker in an {@link AgentGroup}: an executor that finds it empty watches it for up
     * to {@link Context#executorHelpNs} before it sleeps, so the next task does not pay for waking it (a futex wake
     * and a wait for a core, 20-45 µs here). It watches a counter of offers, not the queue, whose every look takes
     * the queue's lock from the thread offering. One executor of the whole group watches at a time
     * ({@link AgentGroup#tryAcquireSpinSlot()}): it starts only when no task is in flight in the group, and stops when
     * a task is in flight for another worker, or when more than one is in flight here. The others sleep, and an offer
     * still signals them: with more than one executor per worker the offering thread pays that wake as before, and
     * if the woken one takes the task, the watcher spins on beside it until its budget ends. (Leaving as soon as a
     * seen offer was gone cost a's p50 in-process 21.7 → 29.1 µs with one executor per worker, for a reason not
     * found; it is not done.)
     */
    static final class SpinningQueue extends PriorityBlockingQueue<Runnable>
    {
        private final long spinNs;
        private final AgentGroup group;
        private volatile boolean watched;
        private volatile long offers;
        /** This worker's tasks queued or running: the group's count less this is other workers' work. */
        private final AtomicInteger inFlight = new AtomicInteger();

        SpinningQueue(final long spinNs, final AgentGroup group)
        {
            this.spinNs = spinNs;
            this.group = group;
        }

        /** A task is about to be handed to the executors; {@link #taskDone()} follows once it ran or was dropped. */
        void taskQueued()
        {
            inFlight.incrementAndGet(); // before the group's: a spinner never sees the group's count without it
            group.taskQueued();
        }

        /** A task {@link #taskQueued()} counted ran, failed or was cancelled. */
        void taskDone()
        {
            group.taskDone();
            inFlight.decrementAndGet();
        }

        @Override
        public boolean offer(final Runnable r)
        {
            final boolean added = super.offer(r);
            offers++; // under no lock: a lost increment still changes the value a watcher compares against
            return added;
        }

        @Override
        public Runnable take() throws InterruptedException
        {
            long seen = offers; // read before the poll: an offer that the poll misses changes it afterwards
            final Runnable first = poll();
            if (null != first)
            {
                return first;
            }
            if (group.tryAcquireSpinSlot())
            {
                watched = true;
                try
                {
                    final long end = System.nanoTime() + spinNs;
                    // Work elsewhere, or more than the one task this spinner may be about to get: parallel work,
                    // where a spinner costs a core.
                    while (System.nanoTime() - end < 0 && inFlight.get() <= 1 && group.tasksInFlight() <= inFlight.get())
                    {
                        if (Thread.interrupted())
                        {
                            throw new InterruptedException(); // shutdown: the pool interrupts idle executors
                        }
                        final long now = offers;
                        if (now != seen)
                        {
                            seen = now;
                            final Runnable r = poll();
                            if (null != r)
                            {
                                return r;
                            }
                        }
                        Thread.onSpinWait();
                    }
                }
                finally
                {
                    watched = false;
                    group.releaseSpinSlot();
                }
            }
            return super.take();
        }

        /** @return whether an executor is watching this queue now. For tests. */
        boolean watched()
        {
            return watched;
        }
    }

    /** A task's run on an executor thread, ordered for the executor's queue: higher priority, then earlier. */
    private static final class PrioritizedRun extends FutureTask<Void> implements Comparable<PrioritizedRun>
    {
        private final int priority;
        private final long sequence;
        private final Runnable onDone;

        PrioritizedRun(final WorkerTask task, final java.util.function.Consumer<WorkerTask> body, final Runnable onDone)
        {
            super(() -> body.accept(task), null);
            this.priority = task.priority;
            this.sequence = task.sequence;
            this.onDone = onDone;
        }

        @Override
        protected void done()
        {
            // Once per task: after it ran, threw, or was cancelled (also while still queued).
            if (null != onDone)
            {
                onDone.run();
            }
        }

        public int compareTo(final PrioritizedRun other)
        {
            final int byPriority = Integer.compare(other.priority, priority);
            return 0 != byPriority ? byPriority : Long.compare(sequence, other.sequence);
        }
    }

    /** Executor thread: decode arguments, call the function, store the result, hand the outcome to the agent. */
    private void run(final WorkerTask task)
    {
        if (task.cancelled)
        {
            return;
        }
        executing.incrementAndGet();
        final long t0 = System.nanoTime();
        ArrayList<WorkerTask> next = null;
        Result result;
        try
        {
            final Object fn = loadedFunctions.computeIfAbsent(task.functionId, id ->
            {
                final byte[] code;
                synchronized (functionCode)
                {
                    code = functionCode.get(id);
                }
                if (null == code)
                {
                    throw new IllegalStateException("function " + Long.toHexString(id) + " was never defined here");
                }
                return TaskFunctions.deserialize(code, ctx.serializationAllowList);
            });
            final Object value = invokeTask(fn, task);
            final int codecId;
            final long nbytes;
            try
            {
                codecId = codecs.codecFor(value).id();
                storeLock.readLock().lock();
                try
                {
                    if (task.cancelled)
                    {
                        return; // cancelled, freed or restarted: nothing to store or report
                    }
                    store.put(task.key, value);
                    nbytes = store.nbytes(task.key);
                    synchronized (inlineWaiters)
                    {
                        next = task.cancelled ? null : inlineWaiters.remove(task.key);
                    }
                }
                finally
                {
                    storeLock.readLock().unlock();
                }
            }
            finally
            {
                if (value instanceof NativeTable)
                {
                    ((NativeTable)value).close(); // stored with one copy; its native memory goes now
                }
            }
            result = new Result(task, nbytes, codecId, System.nanoTime() - t0, null);
        }
        catch (final Throwable ex)
        {
            result = new Result(task, 0, 0, System.nanoTime() - t0, ex);
        }
        finally
        {
            executing.decrementAndGet();
        }
        if (null != result.error)
        {
            synchronized (inlineWaiters)
            {
                if (!task.cancelled)
                {
                    inlineWaiters.remove(task.key); // never stored here: the scheduler cancels its dependents
                }
            }
        }
        while (!results.offer(result))
        {
            Thread.onSpinWait();
        }
        if (null != next)
        {
            // Its result is reported first (above); its dependents sent ahead start on this thread's pool now.
            for (final WorkerTask w : next)
            {
                startFromExecutor(w);
            }
        }
        if (null == duty || !executor.getQueue().isEmpty())
        {
            // With nothing queued this thread goes on to run the cycle that sends the result (HelpingQueue);
            // otherwise it runs the next task and the node's thread (or a helping executor) sends the result.
            wakeNode();
        }
    }

    /** Start a task sent ahead from an executor thread; while the store is paused the agent starts it later. */
    private void startFromExecutor(final WorkerTask task)
    {
        if (task.cancelled)
        {
            return;
        }
        if (store.paused())
        {
            while (!aheadReady.offer(task))
            {
                Thread.onSpinWait();
            }
            thread.wake();
            return;
        }
        execute(task);
    }

    /**
     * Decode the arguments and call the function. A {@link TaskFunctions.TableFunction} gets its table
     * dependencies as {@link TableView}s over the stored blocks, pinned (never spilled or freed) until it returns:
     * a partition flows from task to task without a copy onto the heap.
     */
    private Object invokeTask(final Object fn, final WorkerTask task) throws Exception
    {
        if (!(fn instanceof TaskFunctions.TableFunction))
        {
            return TaskFunctions.invoke(fn, TaskArguments.decode(codecs, task.arguments, store::getValue));
        }
        final ArrayList<Block> pinned = new ArrayList<>(2);
        try
        {
            final Object[] args = TaskArguments.decode(codecs, task.arguments, key ->
            {
                final Block block = store.get(key);
                if ((Class<?>)codecs.codecFor(block.codecId()).type() != ColumnarTable.class)
                {
                    try
                    {
                        return codecs.codecFor(block.codecId()).decode(block.payload(), 0, (int)block.payloadLength());
                    }
                    finally
                    {
                        block.close();
                    }
                }
                pinned.add(block);
                return new TableView().wrap(block.payload(), 0, (int)block.payloadLength());
            });
            return TaskFunctions.invoke(fn, args);
        }
        finally
        {
            for (final Block block : pinned)
            {
                block.close();
            }
        }
    }

    private void onResult(final Result r)
    {
        final WorkerTask task = r.task;
        if (tasks.get(task.key) != task)
        {
            // Cancelled, freed or restarted while it ran: drop what it stored unless the key is held legitimately.
            if (null == r.error && !held.contains(task.key) && !tasks.containsKey(task.key))
            {
                store.remove(task.key);
            }
            return;
        }
        tasks.remove(task.key);
        final ArrayList<WorkerTask> waiters = localWaiters.remove(task.key);
        if (null != r.error)
        {
            synchronized (inlineWaiters)
            {
                inlineWaiters.remove(task.key); // registered after its executor cleared them: never stored here
            }
            final Throwable ex = r.error;
            final StringWriter trace = new StringWriter();
            ex.printStackTrace(new PrintWriter(trace));
            final TaskErredEncoder e = new TaskErredEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .key(task.key).exceptionClass(ex.getClass().getName())
                .message(null == ex.getMessage() ? "" : ex.getMessage())
                .stackTrace(truncate(trace.toString(), 64 * 1024));
            sendToScheduler(e.encodedLength());
            return;
        }
        held.add(task.key);
        addFinished(r, task.key);
        if (null != waiters)
        {
            // Tasks sent ahead of this one start now, without the scheduler's round trip.
            for (final WorkerTask w : waiters)
            {
                if (tasks.get(w.key) == w && --w.missing == 0)
                {
                    start(w);
                }
            }
        }
    }

    /** Adds a finished task to this duty cycle's TasksFinished, its result inline when its block is small. */
    private void addFinished(final Result r, final String key)
    {
        Block block = null;
        try
        {
            if (ctx.inlineResultLimit > 0 && store.contains(key) && store.nbytes(key) <= ctx.inlineResultLimit)
            {
                try
                {
                    block = store.get(key);
                }
                catch (final RuntimeException ex)
                {
                    LOG.debug("result {} not sent inline", key, ex); // a fetch still works
                }
            }
            final int valueLength = null != block && block.length() <= ctx.inlineResultLimit ? (int)block.length() : 0;
            if (valueLength > 0)
            {
                inlineView.wrap(block.address(), valueLength);
                inlineSent++;
            }
            // UTF-8 needs at most 3 bytes per UTF-16 char; two var-data length prefixes.
            final int need = TasksFinishedEncoder.TasksEncoder.sbeBlockLength() + 8 + 3 * key.length() + valueLength;
            if (finishedCount > 0 && finishedEncoder.limit() + need > finishedOut.capacity())
            {
                flushFinished();
            }
            if (MessageHeaderEncoder.ENCODED_LENGTH + TasksFinishedEncoder.BLOCK_LENGTH + 4 + need > finishedOut.capacity())
            {
                // Too large to batch (a large inline limit): alone, as TaskFinished.
                final TaskFinishedEncoder e = taskFinished.wrapAndApplyHeader(out, 0, headerEncoder)
                    .nbytes(r.nbytes).durationNs(r.durationNs).typeCode(r.codecId).key(key);
                e.putValue(inlineView, 0, valueLength);
                sendToScheduler(e.encodedLength());
                return;
            }
            if (0 == finishedCount)
            {
                finishedEncoder.wrapAndApplyHeader(finishedOut, 0, headerEncoder);
                finishedEntries = finishedEncoder.tasksCount(TasksFinishedEncoder.TasksEncoder.countMaxValue());
            }
            final TasksFinishedEncoder.TasksEncoder e = finishedEntries.next()
                .nbytes(r.nbytes).durationNs(r.durationNs).typeCode(r.codecId);
            e.key(key);
            e.putValue(inlineView, 0, valueLength);
            if (++finishedCount == TasksFinishedEncoder.TasksEncoder.countMaxValue())
            {
                flushFinished();
            }
        }
        finally
        {
            if (null != block)
            {
                block.close();
            }
        }
    }

    private void flushFinished()
    {
        if (0 == finishedCount)
        {
            return;
        }
        finishedEntries.resetCountToIndex();
        finishedCount = 0;
        node.send(GridProtocol.SCHEDULER_NODE_ID, finishedOut, 0, finishedEncoder.limit());
    }

    private static String truncate(final String s, final int max)
    {
        return s.length() <= max ? s : s.substring(0, max);
    }

    private void cancelTask(final String key)
    {
        // Its dependents sent ahead are cancelled by the scheduler too.
        localWaiters.remove(key);
        synchronized (inlineWaiters)
        {
            inlineWaiters.remove(key);
        }
        replaceTask(key);
    }

    /** Stop the task under this key, if any, keeping what waits for its result (it is being sent again). */
    private void replaceTask(final String key)
    {
        final WorkerTask t = tasks.remove(key);
        if (null != t)
        {
            synchronized (inlineWaiters)
            {
                t.cancelled = true; // under the lock: its executor then leaves the waiters to the new task
            }
            if (null != t.future)
            {
                t.future.cancel(false);
            }
        }
    }

    private void dropKey(final String key)
    {
        held.remove(key);
        store.remove(key);
    }

    // ============================================================================================== fetching

    private void fetch(final String key, final long[] holders, final WorkerTask waiter, final boolean copy)
    {
        FetchState f = fetches.get(key);
        if (null == f)
        {
            f = new FetchState(key, holders);
            fetches.put(key, f);
            f.copy = copy;
            if (null != waiter)
            {
                f.waiters.add(waiter);
            }
            tryNextHolder(f);
            return;
        }
        f.copy |= copy;
        if (null != waiter)
        {
            f.waiters.add(waiter);
        }
    }

    private void tryNextHolder(final FetchState f)
    {
        if (f.requestId != 0)
        {
            fetchByRequest.remove(f.requestId);
            f.requestId = 0;
        }
        while (f.next < f.holders.length)
        {
            final long holder = f.holders[f.next++];
            if (holder == nodeId || !ensurePeer(holder))
            {
                continue;
            }
            f.requestId = nextRequestId++;
            f.currentHolder = holder;
            fetchByRequest.put(f.requestId, f);
            final FetchKeyEncoder e = new FetchKeyEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .requestId(f.requestId).key(f.key);
            if (node.send(holder, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength()))
            {
                return;
            }
            fetchByRequest.remove(f.requestId);
            f.requestId = 0;
        }
        fetchFailed(f);
    }

    private void fetchFailed(final FetchState f)
    {
        fetches.remove(f.key);
        final long lastHolder = f.currentHolder;
        // Tell the scheduler; it drops the bad holder and sends the task again with fresh locations.
        final RequestDoneEncoder e = new RequestDoneEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
            .requestId(0).status(f.waiters.isEmpty() ? RequestStatus.FAILED : RequestStatus.NOT_FOUND);
        e.keysCount(1).next().key(f.key);
        e.message(Long.toString(lastHolder));
        for (final WorkerTask t : f.waiters)
        {
            if (tasks.get(t.key) == t)
            {
                tasks.remove(t.key);
            }
        }
        sendToScheduler(e.encodedLength());
        if (f.copy && !f.waiters.isEmpty())
        {
            final RequestDoneEncoder c = new RequestDoneEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .requestId(0).status(RequestStatus.FAILED);
            c.keysCount(1).next().key(f.key);
            c.message("");
            sendToScheduler(c.encodedLength());
        }
    }

    private void fetched(final FetchState f)
    {
        fetches.remove(f.key);
        fetchByRequest.remove(f.requestId);
        held.add(f.key);
        final KeysStoredEncoder e = new KeysStoredEncoder().wrapAndApplyHeader(out, 0, headerEncoder).requestId(0);
        e.keysCount(1).next().nbytes(store.nbytes(f.key)).typeCode(0).key(f.key);
        sendToScheduler(e.encodedLength());
        for (final WorkerTask t : f.waiters)
        {
            if (tasks.get(t.key) == t && --t.missing == 0)
            {
                start(t);
            }
        }
    }

    // ============================================================================================== handlers

    private final class Handlers implements PeerListener, BlockAllocator, BlockListener
    {
        private final RegisterAckDecoder registerAck = new RegisterAckDecoder();
        private final DefineFunctionDecoder defineFunction = new DefineFunctionDecoder();
        private final ComputeTaskDecoder compute = new ComputeTaskDecoder();
        private final FreeKeysDecoder freeKeys = new FreeKeysDecoder();
        private final CancelKeysDecoder cancelKeys = new CancelKeysDecoder();
        private final CopyKeysDecoder copyKeys = new CopyKeysDecoder();
        private final FetchKeyDecoder fetchKey = new FetchKeyDecoder();
        private final RestartDecoder restart = new RestartDecoder();
        private final RequestDoneDecoder requestDone = new RequestDoneDecoder();
        private final ClusterInfoDecoder clusterInfo = new ClusterInfoDecoder();

        void onMessage(final long peerId, final int templateId, final DirectBuffer buffer, final int offset,
            final int length)
        {
            try
            {
                dispatch(peerId, templateId, buffer, offset);
            }
            catch (final RuntimeException ex)
            {
                LOG.warn("worker {}: message {} from {} failed", nodeId, templateId, peerId, ex);
            }
        }

        private void dispatch(final long peerId, final int templateId, final DirectBuffer buffer, final int offset)
        {
            switch (templateId)
            {
                case RegisterAckDecoder.TEMPLATE_ID:
                    registerAck.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    if (registerAck.accepted() == BooleanType.TRUE)
                    {
                        registered = true;
                    }
                    else
                    {
                        LOG.error("worker {} refused by the scheduler: {}", nodeId, registerAck.message());
                    }
                    break;
                case ClusterInfoDecoder.TEMPLATE_ID:
                    clusterInfo.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    if (clusterInfo.requestId() == 0)
                    {
                        for (final ClusterInfoDecoder.WorkersDecoder w : clusterInfo.workers())
                        {
                            final long id = w.nodeId();
                            final String address = w.address();
                            if (id != nodeId)
                            {
                                directory.put(id, address);
                            }
                        }
                    }
                    break;
                case DefineFunctionDecoder.TEMPLATE_ID:
                {
                    defineFunction.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final long id = defineFunction.functionId();
                    final byte[] code = new byte[defineFunction.codeLength()];
                    defineFunction.getCode(code, 0, code.length);
                    synchronized (functionCode)
                    {
                        functionCode.put(id, code);
                    }
                    break;
                }
                case ComputeTaskDecoder.TEMPLATE_ID:
                    onCompute(compute.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case FreeKeysDecoder.TEMPLATE_ID:
                    for (final FreeKeysDecoder.KeysDecoder k : freeKeys.wrapAndApplyHeader(buffer, offset, headerDecoder).keys())
                    {
                        final String key = k.key();
                        cancelTask(key);
                        dropKey(key);
                    }
                    break;
                case CancelKeysDecoder.TEMPLATE_ID:
                    cancelKeys.wrapAndApplyHeader(buffer, offset, headerDecoder).force();
                    for (final CancelKeysDecoder.KeysDecoder k : cancelKeys.keys())
                    {
                        cancelTask(k.key());
                    }
                    break;
                case CopyKeysDecoder.TEMPLATE_ID:
                    copyKeys.wrapAndApplyHeader(buffer, offset, headerDecoder).requestId();
                    for (final CopyKeysDecoder.KeysDecoder k : copyKeys.keys())
                    {
                        final long source = k.sourceNodeId();
                        final String key = k.key();
                        if (store.contains(key))
                        {
                            held.add(key);
                            final KeysStoredEncoder e = new KeysStoredEncoder()
                                .wrapAndApplyHeader(out, 0, headerEncoder).requestId(0);
                            e.keysCount(1).next().nbytes(store.nbytes(key)).typeCode(0).key(key);
                            sendToScheduler(e.encodedLength());
                        }
                        else
                        {
                            fetch(key, new long[]{source}, null, true);
                        }
                    }
                    break;
                case FetchKeyDecoder.TEMPLATE_ID:
                {
                    fetchKey.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    fetchesServed++;
                    onFetchKey(peerId, fetchKey.requestId(), fetchKey.key());
                    break;
                }
                case RequestDoneDecoder.TEMPLATE_ID:
                {
                    // A peer did not have a key we asked it for: try the next holder.
                    requestDone.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final FetchState f = fetchByRequest.get(requestDone.requestId());
                    if (null != f && f.currentHolder == peerId)
                    {
                        tryNextHolder(f);
                    }
                    break;
                }
                case RestartDecoder.TEMPLATE_ID:
                    onRestart(restart.wrapAndApplyHeader(buffer, offset, headerDecoder).requestId());
                    break;
                default:
                    LOG.debug("worker {} ignores message {} from {}", nodeId, templateId, peerId);
                    break;
            }
        }

        private void onCompute(final ComputeTaskDecoder d)
        {
            final long fnId = d.functionId();
            final int priority = d.priority();
            final ComputeTaskDecoder.InputsDecoder inputsDecoder = d.inputs();
            final java.util.Map<String, ArrayList<Long>> inputs = inputsDecoder.count() == 0 ? java.util.Map.of() : new HashMap<>();
            for (final ComputeTaskDecoder.InputsDecoder in : inputsDecoder)
            {
                final long holder = in.nodeId();
                in.nbytes();
                inputs.computeIfAbsent(in.key(), k -> new ArrayList<>(2)).add(holder);
            }
            final String key = d.key();
            final byte[] args = new byte[d.argumentsLength()];
            d.getArguments(args, 0, args.length);
            replaceTask(key); // a task sent again (fresh locations) replaces the earlier one; its waiters stay
            final WorkerTask task = new WorkerTask(key, fnId, args, priority, taskSequence++);
            tasks.put(key, task);
            ArrayList<String> localInputs = null;
            for (final java.util.Map.Entry<String, ArrayList<Long>> e : inputs.entrySet())
            {
                final String input = e.getKey();
                final ArrayList<Long> holders = e.getValue();
                final boolean here = holders.size() == 1 && holders.get(0) == nodeId;
                // Sent ahead: the input computes here. Until its result is reported (it is in tasks) this task waits
                // even if the input is stored already, so the scheduler hears the input finish first. One not here
                // and not stored is sent here again later, or the scheduler cancels this task.
                if (here && (tasks.containsKey(input) || !store.contains(input)))
                {
                    task.missing++;
                    if (null == localInputs)
                    {
                        localInputs = new ArrayList<>(1);
                    }
                    localInputs.add(input);
                }
                else if (!store.contains(input))
                {
                    task.missing++;
                    fetch(input, holders.stream().mapToLong(Long::longValue).toArray(), task, false);
                }
            }
            if (null != localInputs)
            {
                waitForLocalInputs(task, localInputs);
            }
            if (task.missing == 0)
            {
                start(task);
            }
        }

        /**
         * The only missing input, not stored yet: the executor thread that stores it starts the task right after
         * reporting it. Stored but not yet reported, or with fetches as well: this thread counts it down in
         * onResult, after the input's report.
         */
        private void waitForLocalInputs(final WorkerTask task, final ArrayList<String> localInputs)
        {
            if (1 == localInputs.size() && 1 == task.missing)
            {
                final String input = localInputs.get(0);
                synchronized (inlineWaiters)
                {
                    if (!store.contains(input))
                    {
                        inlineWaiters.computeIfAbsent(input, k -> new ArrayList<>(1)).add(task);
                        return;
                    }
                }
            }
            for (final String input : localInputs)
            {
                localWaiters.computeIfAbsent(input, k -> new ArrayList<>(1)).add(task);
            }
        }

        private void onFetchKey(final long peerId, final long requestId, final String key)
        {
            Block block = null;
            if (store.contains(key))
            {
                try
                {
                    block = store.get(key);
                }
                catch (final RuntimeException ex)
                {
                    block = null;
                }
            }
            if (null == block)
            {
                final RequestDoneEncoder e = new RequestDoneEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .requestId(requestId).status(RequestStatus.NOT_FOUND);
                e.keysCount(1).next().key(key);
                e.message("worker " + nodeId + " does not hold '" + key + "'");
                node.send(peerId, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength());
                return;
            }
            meta.putLong(0, requestId, ByteOrder.LITTLE_ENDIAN);
            final int metaLength = 8 + meta.putStringWithoutLengthUtf8(8, key);
            final long transferId = node.sendBlock(peerId, block.address(), block.length(), meta, 0, metaLength);
            if (transferId < 0)
            {
                block.close();
                return;
            }
            outgoing.put(peerId + ":" + transferId, block);
        }

        private void onRestart(final long requestId)
        {
            for (final WorkerTask t : tasks.values())
            {
                t.cancelled = true;
                if (null != t.future)
                {
                    t.future.cancel(true);
                }
            }
            tasks.clear();
            localWaiters.clear();
            synchronized (inlineWaiters)
            {
                inlineWaiters.clear();
            }
            aheadReady.clear();
            ready.clear();
            for (final FetchState f : fetches.values())
            {
                fetchByRequest.remove(f.requestId);
            }
            fetches.clear();
            held.clear();
            storeLock.writeLock().lock();
            try
            {
                store.clear();
            }
            finally
            {
                storeLock.writeLock().unlock();
            }
            final RequestDoneEncoder e = new RequestDoneEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .requestId(requestId).status(RequestStatus.OK);
            e.keysCount(0);
            e.message("");
            sendToScheduler(e.encodedLength());
        }

        // ------------------------------------------------------------------------------------ membership

        public void onPeerJoined(final long peerId, final String endpoint)
        {
        }

        public void onPeerLost(final long peerId, final String reason, final int droppedMessages)
        {
            directory.lost(peerId);
            if (peerId == GridProtocol.SCHEDULER_NODE_ID)
            {
                schedulerLost = true;
                LOG.warn("worker {}: scheduler lost ({})", nodeId, reason);
                return;
            }
            directory.forget(peerId);
            for (final FetchState f : new ArrayList<>(fetches.values()))
            {
                if (f.currentHolder == peerId && f.requestId != 0)
                {
                    tryNextHolder(f);
                }
            }
        }

        // ------------------------------------------------------------------------------------ blocks

        public long allocate(final long peerId, final long transferId, final long length, final DirectBuffer metadata,
            final int metadataOffset, final int metadataLength)
        {
            if (metadataLength <= 8)
            {
                return 0;
            }
            final long requestId = metadata.getLong(metadataOffset, ByteOrder.LITTLE_ENDIAN);
            final String key = metadata.getStringWithoutLengthUtf8(metadataOffset + 8, metadataLength - 8);
            final FetchState f = fetchByRequest.get(requestId);
            final FetchState fetch = null != f && f.currentHolder == peerId && f.key.equals(key) ? f : null;
            try
            {
                final BlockReservation r = store.reserve(key, length);
                incoming.put(peerId + ":" + transferId, new Incoming(fetch, r));
                return r.address();
            }
            catch (final RuntimeException ex)
            {
                LOG.warn("worker {} refuses block '{}' of {} bytes: {}", nodeId, key, length, ex.getMessage());
                return 0;
            }
        }

        public void free(final long address, final long length)
        {
            final java.util.Iterator<Incoming> it = incoming.values().iterator();
            while (it.hasNext())
            {
                final Incoming in = it.next();
                if (in.reservation.address() == address)
                {
                    it.remove();
                    in.reservation.close();
                    if (null != in.fetch && fetches.get(in.fetch.key) == in.fetch)
                    {
                        tryNextHolder(in.fetch);
                    }
                    return;
                }
            }
        }

        public void onBlockReceived(final long peerId, final long transferId, final long address, final long length,
            final DirectBuffer metadata, final int metadataOffset, final int metadataLength)
        {
            final Incoming in = incoming.remove(peerId + ":" + transferId);
            if (null == in)
            {
                return;
            }
            try
            {
                in.reservation.commit();
            }
            catch (final RuntimeException ex)
            {
                in.reservation.close();
                if (null != in.fetch && fetches.get(in.fetch.key) == in.fetch)
                {
                    tryNextHolder(in.fetch);
                }
                return;
            }
            if (null != in.fetch)
            {
                if (fetches.get(in.fetch.key) == in.fetch)
                {
                    fetched(in.fetch);
                }
                else
                {
                    store.remove(in.reservation.key()); // the fetch was abandoned (restart)
                }
            }
            else
            {
                held.add(in.reservation.key()); // scattered to us; the client tells the scheduler
            }
        }

        public void onBlockReceiveFailed(final long peerId, final long transferId, final BlockStatus status)
        {
            final Incoming in = incoming.remove(peerId + ":" + transferId);
            if (null != in && null != in.fetch && fetches.get(in.fetch.key) == in.fetch)
            {
                tryNextHolder(in.fetch);
            }
        }

        public void onBlockSent(final long peerId, final long transferId)
        {
            final Block b = outgoing.remove(peerId + ":" + transferId);
            if (null != b)
            {
                b.close();
            }
        }

        public void onBlockSendFailed(final long peerId, final long transferId, final BlockStatus status)
        {
            onBlockSent(peerId, transferId);
        }
    }
}
