package io.offgrid.scheduler;

import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.Object2IntHashMap;
import org.agrona.collections.Object2ObjectHashMap;
import org.agrona.collections.ObjectHashSet;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.Consumer;

/**
 * The cluster's brain: a single-threaded, sans-I/O state machine over the task graph, workers and clients.
 * <p>
 * Events go in as method calls (time, where it matters, is an argument); commands come out through the
 * {@link CommandSink} given at construction, synchronously, during the call that caused them. One thread
 * owns an instance; nothing is locked. Event methods validate their input before changing anything: bad input
 * throws {@link IllegalArgumentException} (unknown client, malformed graph) and leaves the state as it was.
 * Stale events from the network (results for keys since forgotten, messages from workers since removed) are
 * expected and handled, never thrown.
 * <p>
 * The rules it keeps (DESIGN.md): a key stays in memory exactly while some client wants it or some task still
 * to run needs it, and is freed on every holder in the step where neither holds; lineage (the graph, not the
 * data) is kept for every wanted key; lost results are recomputed from it; scattered data has none and is
 * reported lost. Every state change goes through the one table in {@link TaskState}, except that
 * {@link #restart()} drops all records at once.
 */
public final class Scheduler implements AutoCloseable
{
    /**
     * The pseudo-client that wants fire-and-forget keys until they finish.
     */
    public static final long FIRE_AND_FORGET_CLIENT = -1;

    /**
     * Configuration with defaults; {@link #conclude()} validates it.
     */
    public static final class Context
    {
        /** Most extra root tasks per thread that {@link #rootTaskPipelineNs(long)} gives. */
        public static final int MAX_PIPELINED_PER_THREAD = 16;

        private double workerSaturation = 1.1;
        private long rootTaskPipelineNs = 250_000L;
        private int dependentsAhead = 32;
        private long bandwidthBytesPerSecond = 100_000_000L;
        private long defaultTaskDurationNs = 500_000_000L;
        private long stealIntervalNs = 100_000_000L;
        private long workerTimeoutNs = 60_000_000_000L;
        private int killedWorkerLimit = 3;
        private double rebalanceGap = 0.10;
        private double rebalanceSenderMin = 0.30;
        private double rebalanceRecipientMax = 0.60;
        private boolean concluded;

        /**
         * Root tasks are released to a worker while it has fewer than ceil(threads x saturation) tasks
         * (Dask's worker-saturation; default 1.1).
         *
         * @param v saturation, at least 1.0.
         * @return this.
         */
        public Context workerSaturation(final double v)
        {
            workerSaturation = v;
            return this;
        }

        /**
         * @return worker saturation.
         */
        public double workerSaturation()
        {
            return workerSaturation;
        }

        /**
         * Root tasks that take less than this on average (measured) get extra slots on top of the saturation, so a
         * worker's threads do not wait out the scheduler's round trip between one short task and the next: up to
         * {@code rootTaskPipelineNs / average duration} more per thread, at most {@link #MAX_PIPELINED_PER_THREAD}.
         * Long tasks are queued exactly as by the saturation alone. Default 250 us (about the round trip through
         * the scheduler here); 0 turns it off.
         *
         * @param v nanoseconds, not negative.
         * @return this.
         */
        public Context rootTaskPipelineNs(final long v)
        {
            rootTaskPipelineNs = v;
            return this;
        }

        /**
         * @return the round trip short root tasks are pipelined over, ns (0: off).
         */
        public long rootTaskPipelineNs()
        {
            return rootTaskPipelineNs;
        }

        /**
         * How many links of a chain go to a worker ahead of their input. When a task is sent to a worker, its
         * dependent, if it is the only one and waits for nothing else (other inputs in memory, the worker allowed),
         * is sent to the same worker at once, and so on down the chain to this depth; the worker starts each as
         * soon as its input is stored there, without the scheduler's round trip in between. A result read by
         * several tasks is not followed: those are placed when it exists, so a fan-out spreads over workers. If the input does not reach memory
         * there (error, retry, cancel, lost worker) the dependents sent ahead are cancelled on the worker and go
         * back to waiting (or err with it). Default 32; 0 turns it off.
         *
         * @param v links, 0 to 64.
         * @return this.
         */
        public Context dependentsAhead(final int v)
        {
            dependentsAhead = v;
            return this;
        }

        /**
         * @return links of a chain sent ahead of their input (0: off).
         */
        public int dependentsAhead()
        {
            return dependentsAhead;
        }

        /**
         * Estimated bandwidth between workers, to price moving data (default 100 MB/s).
         *
         * @param v bytes per second, positive.
         * @return this.
         */
        public Context bandwidthBytesPerSecond(final long v)
        {
            bandwidthBytesPerSecond = v;
            return this;
        }

        /**
         * @return bandwidth in bytes per second.
         */
        public long bandwidthBytesPerSecond()
        {
            return bandwidthBytesPerSecond;
        }

        /**
         * Task duration assumed until durations are measured (default 0.5 s, as Dask's unknown-task-duration).
         *
         * @param v nanoseconds, positive.
         * @return this.
         */
        public Context defaultTaskDurationNs(final long v)
        {
            defaultTaskDurationNs = v;
            return this;
        }

        /**
         * @return default task duration in ns.
         */
        public long defaultTaskDurationNs()
        {
            return defaultTaskDurationNs;
        }

        /**
         * How often {@link Scheduler#tick(long)} considers stealing (default 100 ms); 0 steals on every tick.
         *
         * @param v nanoseconds, not negative.
         * @return this.
         */
        public Context stealIntervalNs(final long v)
        {
            stealIntervalNs = v;
            return this;
        }

        /**
         * @return steal interval in ns.
         */
        public long stealIntervalNs()
        {
            return stealIntervalNs;
        }

        /**
         * A worker silent for longer is removed as dead by {@link Scheduler#tick(long)} (default 60 s);
         * 0 disables the check (the transport's liveness then reports deaths).
         *
         * @param v nanoseconds, not negative.
         * @return this.
         */
        public Context workerTimeoutNs(final long v)
        {
            workerTimeoutNs = v;
            return this;
        }

        /**
         * @return worker timeout in ns.
         */
        public long workerTimeoutNs()
        {
            return workerTimeoutNs;
        }

        /**
         * The number of worker deaths while a task is processing that make it erred with a killed-worker error
         * (default 3), so one poison task cannot kill the whole cluster.
         *
         * @param v at least 1.
         * @return this.
         */
        public Context killedWorkerLimit(final int v)
        {
            killedWorkerLimit = v;
            return this;
        }

        /**
         * @return killed-worker limit.
         */
        public int killedWorkerLimit()
        {
            return killedWorkerLimit;
        }

        /**
         * Rebalance's sender/recipient gap around the mean, as a fraction of a worker's memory limit
         * (default 0.10: a worker ends within half of it either side of the mean).
         *
         * @param v fraction in [0, 1].
         * @return this.
         */
        public Context rebalanceGap(final double v)
        {
            rebalanceGap = v;
            return this;
        }

        /**
         * @return rebalance gap.
         */
        public double rebalanceGap()
        {
            return rebalanceGap;
        }

        /**
         * Only workers above this fraction of their memory limit send in a rebalance (default 0.30).
         *
         * @param v fraction in [0, 1].
         * @return this.
         */
        public Context rebalanceSenderMin(final double v)
        {
            rebalanceSenderMin = v;
            return this;
        }

        /**
         * @return rebalance sender minimum.
         */
        public double rebalanceSenderMin()
        {
            return rebalanceSenderMin;
        }

        /**
         * Only workers below this fraction of their memory limit receive in a rebalance (default 0.60).
         *
         * @param v fraction in [0, 1].
         * @return this.
         */
        public Context rebalanceRecipientMax(final double v)
        {
            rebalanceRecipientMax = v;
            return this;
        }

        /**
         * @return rebalance recipient maximum.
         */
        public double rebalanceRecipientMax()
        {
            return rebalanceRecipientMax;
        }

        /**
         * Validate the settings.
         *
         * @return this.
         * @throws IllegalArgumentException naming the first bad setting.
         */
        public Context conclude()
        {
            require(workerSaturation >= 1.0 && workerSaturation <= 1000, "workerSaturation must be in [1, 1000]");
            require(rootTaskPipelineNs >= 0, "rootTaskPipelineNs must not be negative");
            require(dependentsAhead >= 0 && dependentsAhead <= 64, "dependentsAhead must be in [0, 64]");
            require(bandwidthBytesPerSecond > 0, "bandwidthBytesPerSecond must be positive");
            require(defaultTaskDurationNs > 0, "defaultTaskDurationNs must be positive");
            require(stealIntervalNs >= 0, "stealIntervalNs must not be negative");
            require(workerTimeoutNs >= 0, "workerTimeoutNs must not be negative");
            require(killedWorkerLimit >= 1 && killedWorkerLimit <= Byte.MAX_VALUE,
                "killedWorkerLimit must be in [1, 127]");
            require(rebalanceGap >= 0 && rebalanceGap <= 1, "rebalanceGap must be in [0, 1]");
            require(rebalanceSenderMin >= 0 && rebalanceSenderMin <= 1, "rebalanceSenderMin must be in [0, 1]");
            require(rebalanceRecipientMax >= 0 && rebalanceRecipientMax <= 1,
                "rebalanceRecipientMax must be in [0, 1]");
            concluded = true;
            return this;
        }

        private static void require(final boolean ok, final String message)
        {
            if (!ok)
            {
                throw new IllegalArgumentException(message);
            }
        }
    }

    static final class PendingCopy
    {
        final TaskRecord task;
        final WorkerState from;
        final WorkerState to;
        final boolean move;
        /** A replicate lowered n while the copy was in flight: drop it when it lands. */
        boolean cancelled;
        /** The next older pending copy of the same key. */
        PendingCopy next;

        PendingCopy(final TaskRecord task, final WorkerState from, final WorkerState to, final boolean move)
        {
            this.task = task;
            this.from = from;
            this.to = to;
            this.move = move;
        }
    }

    private final class ComputeTaskView implements ComputeTask
    {
        TaskRecord t;

        public String key()
        {
            return t.key;
        }

        public byte[] function()
        {
            return t.function;
        }

        public int priority()
        {
            return t.priority;
        }

        public int dependencyCount()
        {
            return t.dependencies.length;
        }

        public String dependencyKey(final int index)
        {
            return t.dependencies[index].key;
        }

        public long dependencyNbytes(final int index)
        {
            return t.dependencies[index].nbytes;
        }

        public int dependencyHolderCount(final int index)
        {
            final TaskRecord d = t.dependencies[index];
            return pendingHere(d) ? 1 : d.holderCount;
        }

        /** An input of a task sent ahead that is still computing on the same worker. */
        private boolean pendingHere(final TaskRecord d)
        {
            return t.hasFlag(TaskRecord.FLAG_AHEAD) && d.is(PROCESSING) && d.processingOn == t.processingOn;
        }

        public long dependencyHolder(final int index, final int holder)
        {
            final TaskRecord d = t.dependencies[index];
            if (pendingHere(d) && 0 == holder)
            {
                return d.processingOn.id; // the worker itself: it stores the input before it starts this task
            }
            if (holder < 0 || holder >= d.holderCount)
            {
                throw new IndexOutOfBoundsException("holder " + holder + " of " + d.holderCount);
            }
            return d.holderAt(holder).id;
        }
    }

    private static final TaskState RELEASED = TaskState.RELEASED;
    private static final TaskState WAITING = TaskState.WAITING;
    private static final TaskState QUEUED = TaskState.QUEUED;
    private static final TaskState NO_WORKER = TaskState.NO_WORKER;
    private static final TaskState PROCESSING = TaskState.PROCESSING;
    private static final TaskState MEMORY = TaskState.MEMORY;
    private static final TaskState ERRED = TaskState.ERRED;
    private static final TaskState FORGOTTEN = TaskState.FORGOTTEN;

    final Context ctx;
    final CommandSink sink;
    final Object2ObjectHashMap<String, TaskRecord> tasks = new Object2ObjectHashMap<>();
    final Long2ObjectHashMap<WorkerState> workers = new Long2ObjectHashMap<>();
    final ArrayList<WorkerState> workerList = new ArrayList<>();
    final Long2ObjectHashMap<ClientState> clients = new Long2ObjectHashMap<>();
    final Object2ObjectHashMap<String, ClientState> datasets = new Object2ObjectHashMap<>();
    final TaskQueue queue = new TaskQueue();
    final ObjectHashSet<TaskRecord> noWorker = new ObjectHashSet<>();
    final PendingCopies pendingCopies = new PendingCopies();

    private final ArrayDeque<TaskRecord> toErr = new ArrayDeque<>();
    private final ArrayDeque<TaskRecord> toCompute = new ArrayDeque<>();
    private final ArrayDeque<TaskRecord> toRelease = new ArrayDeque<>();
    /** Dependents sent ahead whose input left processing without reaching memory. */
    private final ArrayDeque<TaskRecord> toPullBack = new ArrayDeque<>();
    private final ArrayList<TaskRecord> scratch = new ArrayList<>();
    /** The key being cancelled and its dependents; cancel's own, so nothing it calls can reuse it under it. */
    private final ArrayList<TaskRecord> cancelScratch = new ArrayList<>();
    private final ArrayList<WorkerState> workerScratch = new ArrayList<>();
    private final Object2IntHashMap<String> graphIndex = new Object2IntHashMap<>(-1);
    private TaskRecord[] existing = new TaskRecord[64];
    private final ComputeTaskView computeView = new ComputeTaskView();
    private final ClientState fireAndForget = new ClientState(FIRE_AND_FORGET_CLIENT, null);

    private long nextSeq;
    private long nextPseudoClientId = -2;
    private long avgDurationNs;
    /** Measured duration per task kind (the grid's function id), like Dask's per-prefix averages; -1 unknown. */
    private final Long2LongHashMap kindDurationNs = new Long2LongHashMap(-1);
    private long lastStealNs = Long.MIN_VALUE;
    private long transitionCount;
    long stealCount;
    private boolean closed;

    /**
     * @param ctx  configuration, concluded here if it was not.
     * @param sink where commands go.
     */
    public Scheduler(final Context ctx, final CommandSink sink)
    {
        if (null == ctx || null == sink)
        {
            throw new IllegalArgumentException("context and sink are required");
        }
        if (!ctx.concluded)
        {
            ctx.conclude();
        }
        this.ctx = ctx;
        this.sink = sink;
        this.avgDurationNs = ctx.defaultTaskDurationNs;
        clients.put(FIRE_AND_FORGET_CLIENT, fireAndForget);
    }

    /**
     * A scheduler with default settings.
     *
     * @param sink where commands go.
     */
    public Scheduler(final CommandSink sink)
    {
        this(new Context(), sink);
    }

    // =================================================================================================
    // Client events
    // =================================================================================================

    /**
     * A client connected.
     *
     * @param clientId a non-negative id not currently connected.
     */
    public void clientConnected(final long clientId)
    {
        checkOpen();
        if (clientId < 0)
        {
            throw new IllegalArgumentException("client ids must not be negative (reserved): " + clientId);
        }
        if (clients.containsKey(clientId))
        {
            throw new IllegalArgumentException("client " + clientId + " is already connected");
        }
        clients.put(clientId, new ClientState(clientId, null));
    }

    /**
     * A client disconnected: everything it wanted is released for it.
     *
     * @param clientId the client; unknown ids are ignored.
     */
    public void clientDisconnected(final long clientId)
    {
        checkOpen();
        if (clientId < 0)
        {
            return;
        }
        final ClientState c = clients.remove(clientId);
        if (null != c)
        {
            releaseAllWants(c);
            settle();
        }
    }

    /**
     * A client submitted a graph. New tasks are recorded (existing keys keep their definition), the client's
     * wants are added, and whatever is now needed is scheduled. Tasks nobody wants or needs are not kept.
     *
     * @param clientId a connected client.
     * @param graph    the graph; not retained.
     * @throws IllegalArgumentException (state unchanged) for an unknown client, a duplicate key, a
     *                                  dependency or wanted key that is neither in the graph nor known, or a cycle.
     */
    public void submitGraph(final long clientId, final TaskGraph graph)
    {
        checkOpen();
        final ClientState c = requireClient(clientId);
        final int n = graph.taskCount();
        final Object2IntHashMap<String> index = graphIndex;
        index.clear();
        if (existing.length < n)
        {
            existing = new TaskRecord[Math.max(n, existing.length * 2)];
        }
        final TaskRecord[] known = existing;
        try
        {
            for (int i = 0; i < n; i++)
            {
                final String key = graph.key(i);
                if (index.put(key, i) != -1)
                {
                    throw new IllegalArgumentException("duplicate key in graph: '" + key + "'");
                }
                known[i] = tasks.get(key);
            }
            boolean internalEdges = false;
            for (int i = 0; i < n; i++)
            {
                if (null != known[i])
                {
                    continue;
                }
                for (int d = 0, dn = graph.dependencyCount(i); d < dn; d++)
                {
                    final String dep = graph.dependency(i, d);
                    final int j = index.getValue(dep);
                    if (j >= 0)
                    {
                        internalEdges |= null == known[j];
                    }
                    else if (!tasks.containsKey(dep))
                    {
                        throw new IllegalArgumentException("task '" + graph.key(i) + "' depends on '" + dep +
                            "', which is neither in the graph nor known to the scheduler");
                    }
                }
            }
            for (int i = 0, wn = graph.wantCount(); i < wn; i++)
            {
                final String k = graph.wanted(i);
                if (!index.containsKey(k) && !tasks.containsKey(k))
                {
                    throw new IllegalArgumentException("wanted key '" + k +
                        "' is neither in the graph nor known to the scheduler");
                }
            }
            if (internalEdges)
            {
                checkAcyclic(graph, n, known);
            }

            // Valid: create records (known[i] then holds every task of the graph), then wire dependencies.
            for (int i = 0; i < n; i++)
            {
                if (null != known[i])
                {
                    continue;
                }
                final String key = graph.key(i);
                final TaskRecord t = new TaskRecord(key, nextSeq++);
                t.function = graph.function(i);
                t.priority = graph.priorityOf(i);
                t.retries = (byte)graph.retriesOf(i);
                t.kind = graph.kindOf(i);
                t.allowedWorkers = graph.allowedWorkers(i);
                t.setFlag(TaskRecord.FLAG_ALLOW_OTHER, graph.allowOther(i));
                t.setFlag(TaskRecord.FLAG_MARK, true);
                known[i] = t;
                tasks.put(key, t);
                toRelease.add(t);
            }
            for (int i = 0; i < n; i++)
            {
                final TaskRecord t = known[i];
                final int dn = graph.dependencyCount(i);
                if (!t.hasFlag(TaskRecord.FLAG_MARK) || dn == 0)
                {
                    continue;
                }
                TaskRecord[] deps = new TaskRecord[dn];
                int count = 0;
                for (int d = 0; d < dn; d++)
                {
                    final String depKey = graph.dependency(i, d);
                    final int j = index.getValue(depKey);
                    final TaskRecord dep = j >= 0 ? known[j] : tasks.get(depKey);
                    boolean duplicate = false;
                    for (int k = 0; k < count; k++)
                    {
                        duplicate |= deps[k] == dep;
                    }
                    if (!duplicate)
                    {
                        deps[count++] = dep;
                        dep.addDependent(t);
                    }
                }
                if (count < dn)
                {
                    deps = java.util.Arrays.copyOf(deps, count);
                }
                t.dependencies = deps;
            }
            for (int i = 0; i < n; i++)
            {
                known[i].setFlag(TaskRecord.FLAG_MARK, false);
            }
            for (int i = 0, wn = graph.wantCount(); i < wn; i++)
            {
                final String k = graph.wanted(i);
                final int j = index.getValue(k);
                addWant(c, j >= 0 ? known[j] : tasks.get(k));
            }
        }
        finally
        {
            index.clear();
            java.util.Arrays.fill(known, 0, n, null);
        }
        settle();
    }

    /**
     * A client wants a key (holds a future to it). A key in memory or erred is reported at once; a released key
     * is recomputed from lineage; an unknown key is reported {@link KeyStatus#LOST}.
     *
     * @param clientId a connected client.
     * @param key      the key.
     */
    public void wantKey(final long clientId, final String key)
    {
        checkOpen();
        final ClientState c = requireClient(clientId);
        final TaskRecord t = tasks.get(key);
        if (null == t)
        {
            sink.keyStatus(clientId, key, KeyStatus.LOST, "key '" + key + "' is not known to the scheduler");
            return;
        }
        addWant(c, t);
        settle();
    }

    /**
     * A client released a key (its last future to it is gone). If nothing else holds the key it is freed on
     * every holder in this call.
     *
     * @param clientId the client; unknown clients and keys are ignored.
     * @param key      the key.
     */
    public void releaseKey(final long clientId, final String key)
    {
        checkOpen();
        final ClientState c = clientId < 0 ? null : clients.get(clientId);
        final TaskRecord t = tasks.get(key);
        if (null == c || null == t)
        {
            return;
        }
        if (t.removeWanter(clientId))
        {
            c.wantCount--;
            toRelease.add(t);
            settle();
        }
    }

    /**
     * Keep a key until it finishes (memory or erred) without any client holding it.
     *
     * @param key a known key.
     * @throws IllegalArgumentException if the key is unknown.
     */
    public void fireAndForget(final String key)
    {
        checkOpen();
        final TaskRecord t = requireTask(key);
        if (t.is(MEMORY) || t.is(ERRED))
        {
            return;
        }
        addWant(fireAndForget, t);
        settle();
    }

    /**
     * Cancel a key for a client. The key and every dependent, transitively, are cancelled for all their wanters
     * and freed; a running task is told to stop and its result, if it still arrives, is discarded. Without
     * {@code force}, a key of that set that another client (or a published dataset, or fire-and-forget) wants is
     * only released for the caller (told {@link KeyStatus#CANCELLED}) and goes on, with what it needs.
     *
     * @param clientId the client asking.
     * @param key      the key; unknown keys are ignored.
     * @param force    cancel even if other clients want it.
     */
    public void cancel(final long clientId, final String key, final boolean force)
    {
        cancel(clientId, List.of(key), force, true);
    }

    /**
     * Cancel one key without settling: a batch settles once at its end, so slots its running keys free are not
     * refilled, between two keys, with queued tasks the batch cancels next (a 20,000-task map cancelled key by key
     * had sent almost every task to a worker, and then its cancel, that way). Tasks a batch has cancelled stay
     * marked until {@link #endCancelBatch()}, so a later key of the batch does not walk them again.
     */
    private void cancelOne(final long clientId, final String key, final boolean force, final boolean tellCaller)
    {
        final TaskRecord t = tasks.get(key);
        if (null == t || t.hasFlag(TaskRecord.FLAG_MARK))
        {
            return;
        }
        final ClientState caller = clientId < 0 ? null : clients.get(clientId);
        final boolean callerWants = null != caller && t.hasWanter(clientId);
        if (!force && t.wanterCount > (callerWants ? 1 : 0))
        {
            if (callerWants)
            {
                caller.wantCount--;
                t.removeWanter(clientId);
                if (tellCaller)
                {
                    sink.keyStatus(clientId, key, KeyStatus.CANCELLED, "cancelled");
                }
                toRelease.add(t);
            }
            return;
        }
        // Collect the key and its dependents, transitively.
        final ArrayList<TaskRecord> all = cancelScratch;
        final int from = all.size();
        all.add(t);
        t.setFlag(TaskRecord.FLAG_MARK, true);
        for (int i = from; i < all.size(); i++)
        {
            final TaskRecord x = all.get(i);
            for (int d = 0; d < x.dependentCount; d++)
            {
                final TaskRecord dep = x.dependents[d];
                if (!dep.hasFlag(TaskRecord.FLAG_MARK))
                {
                    dep.setFlag(TaskRecord.FLAG_MARK, true);
                    all.add(dep);
                }
            }
        }
        // Walked by index, not copied to an array: a 20,000-task map is cancelled one key at a time, and the
        // reflective array copy per key took 12% of an in-process cluster's thread in that cancel (JFR).
        for (int i = from, n = all.size(); i < n; i++)
        {
            final TaskRecord x = all.get(i);
            if (!force && hasOtherWanter(x, clientId))
            {
                // Another client, a dataset or fire-and-forget still wants this dependent: without force it is only
                // released for the caller, and what it needs stays needed through its waiter counts.
                if (wantedBy(caller, x))
                {
                    caller.wantCount--;
                    x.removeWanter(clientId);
                    if (tellCaller || x != t)
                    {
                        sink.keyStatus(clientId, x.key, KeyStatus.CANCELLED, "cancelled");
                    }
                    toRelease.add(x);
                }
                continue;
            }
            while (x.wanterCount > 0)
            {
                final long w = x.wanterAt(x.wanterCount - 1);
                x.removeWanter(w);
                final ClientState wc = clients.get(w);
                if (null != wc)
                {
                    wc.wantCount--;
                }
                if (w >= 0 && (tellCaller || w != clientId || x != t))
                {
                    sink.keyStatus(w, x.key, KeyStatus.CANCELLED, "cancelled");
                }
            }
            toRelease.add(x);
        }
    }

    private void endCancelBatch()
    {
        final ArrayList<TaskRecord> all = cancelScratch;
        for (int i = 0, n = all.size(); i < n; i++)
        {
            all.get(i).setFlag(TaskRecord.FLAG_MARK, false);
        }
        all.clear();
    }

    private static boolean hasOtherWanter(final TaskRecord t, final long clientId)
    {
        for (int i = 0; i < t.wanterCount; i++)
        {
            if (t.wanterAt(i) != clientId)
            {
                return true;
            }
        }
        return false;
    }

    private static boolean wantedBy(final ClientState caller, final TaskRecord t)
    {
        return null != caller && t.hasWanter(caller.id);
    }

    /**
     * Cancel several keys; see {@link #cancel(long, String, boolean)}.
     *
     * @param clientId the client asking.
     * @param keys     the keys; unknown keys are ignored.
     * @param force    cancel even if other clients want them.
     */
    public void cancel(final long clientId, final Collection<String> keys, final boolean force)
    {
        cancel(clientId, keys, force, true);
    }

    /**
     * Cancel several keys; see {@link #cancel(long, String, boolean)}. The caller loses its want of every key it
     * names either way, so it may mark them cancelled itself after a round trip, and not be told of each.
     *
     * @param clientId   the client asking.
     * @param keys       the keys; unknown keys are ignored.
     * @param force      cancel even if other clients want them.
     * @param tellCaller false: the caller is not told of the keys it named (it is told of their dependents).
     */
    public void cancel(final long clientId, final Collection<String> keys, final boolean force,
        final boolean tellCaller)
    {
        checkOpen();
        try
        {
            for (final String key : keys)
            {
                cancelOne(clientId, key, force, tellCaller);
            }
        }
        finally
        {
            endCancelBatch();
        }
        settle();
    }

    /**
     * Restart: every task forgotten, every client told each wanted key was cancelled by restart, every
     * worker told to restart, published datasets dropped. Afterwards the state equals a fresh scheduler's with
     * the same workers and clients.
     */
    public void restart()
    {
        checkOpen();
        for (final TaskRecord t : tasks.values())
        {
            for (int i = 0; i < t.wanterCount; i++)
            {
                tell(t.wanterAt(i), t, KeyStatus.CANCELLED, "cancelled by restart");
            }
        }
        for (final ClientState c : clients.values())
        {
            c.wantCount = 0;
        }
        final ArrayList<ClientState> pseudo = new ArrayList<>();
        for (final ClientState c : clients.values())
        {
            if (null != c.datasetName)
            {
                pseudo.add(c);
            }
        }
        for (final ClientState c : pseudo)
        {
            clients.remove(c.id);
        }
        datasets.clear();
        for (final TaskRecord t : tasks.values())
        {
            t.state = (byte)FORGOTTEN.ordinal();
            t.processingOn = null;
        }
        tasks.clear();
        queue.clear();
        noWorker.clear();
        pendingCopies.clear();
        toErr.clear();
        toCompute.clear();
        toRelease.clear();
        toPullBack.clear();
        for (final WorkerState w : workerList)
        {
            w.held.clear();
            w.managedBytes = 0;
            w.procHead = null;
            w.procTail = null;
            w.processingCount = 0;
            sink.restartWorker(w.id);
        }
        avgDurationNs = ctx.defaultTaskDurationNs;
        kindDurationNs.clear();
    }

    /**
     * Publish a dataset: a named pseudo-client wants the keys until {@link #unpublish(String)}.
     *
     * @param name unique name.
     * @param keys known keys.
     * @throws IllegalArgumentException if the name exists or a key is unknown.
     */
    public void publish(final String name, final Collection<String> keys)
    {
        checkOpen();
        if (null == name || datasets.containsKey(name))
        {
            throw new IllegalArgumentException("dataset name missing or already published: " + name);
        }
        for (final String k : keys)
        {
            requireTask(k);
        }
        final ClientState c = new ClientState(nextPseudoClientId--, name);
        clients.put(c.id, c);
        datasets.put(name, c);
        for (final String k : keys)
        {
            addWant(c, tasks.get(k));
        }
        settle();
    }

    /**
     * Unpublish a dataset; its keys are freed if nothing else holds them.
     *
     * @param name the dataset; unknown names are ignored.
     */
    public void unpublish(final String name)
    {
        checkOpen();
        final ClientState c = datasets.remove(name);
        if (null != c)
        {
            clients.remove(c.id);
            releaseAllWants(c);
            settle();
        }
    }

    // =================================================================================================
    // Worker events
    // =================================================================================================

    /**
     * A worker joined. Tasks waiting for a worker and queued root tasks are placed on it.
     *
     * @param nowNs       the caller's clock.
     * @param workerId    a new id.
     * @param threads     executor threads, at least 1.
     * @param memoryLimit bytes, 0 for none.
     */
    public void workerJoined(final long nowNs, final long workerId, final int threads, final long memoryLimit)
    {
        checkOpen();
        if (workers.containsKey(workerId))
        {
            throw new IllegalArgumentException("worker " + workerId + " is already joined");
        }
        if (threads < 1 || memoryLimit < 0)
        {
            throw new IllegalArgumentException("worker " + workerId + ": threads must be >= 1 and memory limit >= 0");
        }
        final WorkerState w = new WorkerState(workerId, threads, memoryLimit);
        w.lastSeenNs = nowNs;
        workers.put(workerId, w);
        workerList.add(w);
        placeNoWorkerTasks();
        settle();
    }

    /**
     * A worker's heartbeat with its metrics. Leaving the paused state makes it eligible for new work.
     *
     * @param nowNs     the caller's clock.
     * @param workerId  the worker; unknown ids are ignored.
     * @param managed   managed bytes the worker reports.
     * @param spilled   bytes spilled to disk.
     * @param paused    whether it has stopped starting tasks (memory past its pause fraction).
     * @param executing tasks executing now.
     */
    public void workerHeartbeat(
        final long nowNs, final long workerId, final long managed, final long spilled, final boolean paused,
        final int executing)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        if (null == w)
        {
            return;
        }
        w.lastSeenNs = nowNs;
        w.reportedManaged = managed;
        w.spilled = spilled;
        w.executing = executing;
        final boolean unpaused = w.paused && !paused;
        w.paused = paused;
        if (unpaused)
        {
            placeNoWorkerTasks();
            settle();
        }
    }

    /**
     * A worker left gracefully: like {@link #workerDied(long)} but its tasks are not counted as suspicious.
     *
     * @param workerId the worker; unknown ids are ignored.
     */
    public void workerLeft(final long workerId)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        if (null != w)
        {
            removeWorker(w, false);
        }
    }

    /**
     * A worker died. Its processing tasks are rescheduled (each death counts; at the killed-worker limit the task
     * errs); keys whose only copy it held are recomputed if needed, or reported lost if they were scattered;
     * keys with a declared replication get new copies.
     *
     * @param workerId the worker; unknown ids are ignored.
     */
    public void workerDied(final long workerId)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        if (null != w)
        {
            removeWorker(w, true);
        }
    }

    /**
     * A task finished on a worker. Accepted when the task is processing (on this worker, or on another after a
     * steal: the first result wins); a result nobody needs is freed on that worker.
     *
     * @param workerId  the worker.
     * @param key       the task key.
     * @param nbytes    the result's size, not negative.
     * @param type      the result's type name (may be null).
     * @param computeNs how long it ran, 0 if unknown.
     */
    public void taskFinished(
        final long workerId, final String key, final long nbytes, final String type, final long computeNs)
    {
        checkOpen();
        if (nbytes < 0)
        {
            throw new IllegalArgumentException("task '" + key + "': negative nbytes " + nbytes);
        }
        final WorkerState w = workers.get(workerId);
        if (null == w)
        {
            return;
        }
        final TaskRecord t = tasks.get(key);
        if (null == t)
        {
            sink.freeKey(workerId, key);
            return;
        }
        if (computeNs > 0)
        {
            avgDurationNs = avgDurationNs - (avgDurationNs >> 3) + (computeNs >> 3);
            if (avgDurationNs <= 0)
            {
                avgDurationNs = 1;
            }
            final long kindAvg = kindDurationNs.get(t.kind);
            kindDurationNs.put(t.kind, kindAvg < 0 ? computeNs : Math.max(1, kindAvg - (kindAvg >> 3) + (computeNs >> 3)));
        }
        if (t.is(PROCESSING) && t.hasFlag(TaskRecord.FLAG_AHEAD) && t.processingOn != w)
        {
            sink.freeKey(workerId, key); // a stale copy from before it was sent ahead elsewhere: its input is not in
            return;                      // memory yet, so it cannot have been computed from the current one
        }
        if (t.is(PROCESSING))
        {
            final WorkerState on = t.processingOn;
            if (null != on && on != w)
            {
                sink.cancelCompute(on.id, key);
            }
            t.nbytes = nbytes;
            t.type = type;
            addHolder(t, w);
            transition(t, MEMORY);
            settle();
        }
        else if (t.is(MEMORY))
        {
            if (!t.hasHolder(w))
            {
                addHolder(t, w);
            }
        }
        else
        {
            sink.freeKey(workerId, key);
        }
    }

    /**
     * A task raised an error on a worker. It is retried while it has retries left; otherwise it errs and its
     * waiting dependents err with the same error.
     *
     * @param workerId the worker.
     * @param key      the task key.
     * @param error    error text (remote class, message, stack trace), passed to clients unchanged.
     */
    public void taskErred(final long workerId, final String key, final String error)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        final TaskRecord t = tasks.get(key);
        if (null == w || null == t || !t.is(PROCESSING) || t.processingOn != w)
        {
            return;
        }
        if (t.retries > 0)
        {
            t.retries--;
            reschedule(t);
        }
        else
        {
            errTask(t, null == error ? "error in task '" + key + "'" : error, false);
        }
        settle();
    }

    /**
     * A worker refused a task for lack of memory: the worker is treated as paused until a heartbeat says
     * otherwise and the task is placed again.
     *
     * @param workerId the worker.
     * @param key      the task key.
     */
    public void taskRejected(final long workerId, final String key)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        final TaskRecord t = tasks.get(key);
        if (null == w || null == t || !t.is(PROCESSING) || t.processingOn != w)
        {
            return;
        }
        w.paused = true;
        reschedule(t);
        settle();
    }

    /**
     * A client scattered data: the key is in memory on the given workers, with no lineage, and the client wants
     * it. Unknown or dead holders are ignored; if none is left the client is told the key is lost. Scattered data
     * that was lost may be scattered again: every wanter is told it is in memory. A key already defined by a task
     * that is not in memory is refused (told erred) and the data is freed.
     *
     * @param clientId a connected client.
     * @param key      the key.
     * @param nbytes   size, not negative.
     * @param holders  worker ids that received it.
     */
    public void dataScattered(final long clientId, final String key, final long nbytes, final long... holders)
    {
        checkOpen();
        final ClientState c = requireClient(clientId);
        if (nbytes < 0)
        {
            throw new IllegalArgumentException("scattered key '" + key + "': negative nbytes " + nbytes);
        }
        TaskRecord t = tasks.get(key);
        // Scattered data reported lost may be scattered again (content-hashed keys come back the same).
        final boolean lostData = null != t && t.is(ERRED) && t.hasFlag(TaskRecord.FLAG_LOST);
        if (null != t && !t.is(MEMORY) && !t.is(RELEASED) && !lostData)
        {
            for (final long h : holders)
            {
                if (workers.containsKey(h))
                {
                    sink.freeKey(h, key);
                }
            }
            sink.keyStatus(clientId, key, KeyStatus.ERRED,
                "cannot scatter '" + key + "': the key is in use by a task in state " + t.state());
            return;
        }
        boolean any = false;
        for (final long h : holders)
        {
            any |= workers.containsKey(h);
        }
        if (!any)
        {
            sink.keyStatus(clientId, key, KeyStatus.LOST, "scattered key '" + key + "' reached no live worker");
            return;
        }
        if (null == t)
        {
            t = new TaskRecord(key, nextSeq++);
            tasks.put(key, t);
        }
        if (lostData)
        {
            transition(t, RELEASED);
        }
        if (t.is(RELEASED))
        {
            t.nbytes = nbytes;
        }
        for (final long h : holders)
        {
            final WorkerState w = workers.get(h);
            if (null != w && !t.hasHolder(w))
            {
                addHolder(t, w);
            }
        }
        if (t.is(RELEASED))
        {
            transition(t, MEMORY);
        }
        addWant(c, t);
        settle();
    }

    /**
     * A worker now holds a copy of a key (a copy command completed, or it fetched a dependency: the thief keeps
     * what it fetched). A copy of a key that is no longer in memory is freed. Completes a rebalance move by
     * dropping the sender's copy.
     *
     * @param workerId the worker.
     * @param key      the key.
     */
    public void replicaAdded(final long workerId, final String key)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        if (null == w)
        {
            return;
        }
        final TaskRecord t = tasks.get(key);
        final PendingCopy done = pendingCopies.find(t, workerId);
        if (null != done)
        {
            pendingCopies.remove(done);
        }
        if (null == t || !t.is(MEMORY))
        {
            sink.freeKey(workerId, key);
            return;
        }
        if (null != done && done.cancelled)
        {
            if (!t.hasHolder(w))
            {
                sink.dropReplica(workerId, key);
            }
            return;
        }
        if (!t.hasHolder(w))
        {
            addHolder(t, w);
        }
        // A move drops the sender's copy only if that leaves the declared replication (a replicate after the
        // move started may have counted the new copy as one of its n).
        if (null != done && done.move && t.hasHolder(done.from) && t.holderCount > Math.max(1, t.replication))
        {
            removeHolder(t, done.from);
            sink.dropReplica(done.from.id, key);
        }
    }

    /**
     * A copy command failed (the source no longer had the key, or the transfer broke). A key short of its
     * declared replication is copied again, from a holder, to the least-loaded worker without a copy.
     *
     * @param workerId the intended receiver.
     * @param key      the key.
     */
    public void replicaFailed(final long workerId, final String key)
    {
        checkOpen();
        final TaskRecord t = tasks.get(key);
        final PendingCopy p = pendingCopies.find(t, workerId);
        if (null != p)
        {
            pendingCopies.remove(p);
            if (t.replication > t.holderCount)
            {
                heal(t);
            }
        }
    }

    /**
     * A worker no longer holds a copy it was believed to hold (dropped, or lost locally). If it was the last copy
     * the key is recomputed or reported lost, as for a death.
     *
     * @param workerId the worker.
     * @param key      the key.
     */
    public void replicaDropped(final long workerId, final String key)
    {
        checkOpen();
        final WorkerState w = workers.get(workerId);
        final TaskRecord t = tasks.get(key);
        if (null == w || null == t || !t.hasHolder(w))
        {
            return;
        }
        removeHolder(t, w);
        if (t.holderCount == 0 && t.is(MEMORY))
        {
            loseKey(t);
        }
        else
        {
            heal(t);
        }
        settle();
    }

    /**
     * A worker could not fetch a dependency of a task from a holder the scheduler named. The holder is dropped
     * from the key's holders (the key is recomputed if that was the last copy) and a task processing on the
     * asking worker is sent again with fresh locations.
     *
     * @param workerId the worker that asked.
     * @param key      the dependency key.
     * @param holderId the worker that did not have it.
     */
    public void missingData(final long workerId, final String key, final long holderId)
    {
        checkOpen();
        final TaskRecord t = tasks.get(key);
        final WorkerState holder = workers.get(holderId);
        if (null != t && null != holder && t.hasHolder(holder))
        {
            removeHolder(t, holder);
            if (t.holderCount == 0 && t.is(MEMORY))
            {
                loseKey(t);
            }
            settle();
        }
        final WorkerState w = workers.get(workerId);
        if (null != t && null != w && t.is(MEMORY))
        {
            for (int i = 0; i < t.dependentCount; i++)
            {
                final TaskRecord d = t.dependents[i];
                if (d.is(PROCESSING) && d.processingOn == w)
                {
                    sendCompute(w, d);
                }
            }
        }
    }

    /**
     * Time passes: workers silent past the timeout are removed as dead, and every steal interval queued work
     * moves from saturated to idle workers when moving its inputs costs less than the wait it saves.
     *
     * @param nowNs the caller's clock.
     */
    public void tick(final long nowNs)
    {
        checkOpen();
        if (ctx.workerTimeoutNs > 0)
        {
            WorkerState[] silent = null;
            int count = 0;
            for (final WorkerState w : workerList)
            {
                if (nowNs - w.lastSeenNs > ctx.workerTimeoutNs)
                {
                    if (null == silent)
                    {
                        silent = new WorkerState[workerList.size()];
                    }
                    silent[count++] = w;
                }
            }
            // Removal may heal replicas (which uses workerScratch), so iterate a private copy.
            for (int i = 0; i < count; i++)
            {
                final WorkerState w = silent[i];
                sink.workerRemoved(w.id, "no heartbeat for " + (nowNs - w.lastSeenNs) / 1_000_000 + " ms");
                removeWorker(w, true);
            }
        }
        if (lastStealNs == Long.MIN_VALUE || nowNs - lastStealNs >= ctx.stealIntervalNs)
        {
            lastStealNs = nowNs;
            steal();
        }
    }

    // =================================================================================================
    // Requests: replicate, rebalance, scatter placement
    // =================================================================================================

    /**
     * Keep exactly {@code n} copies of a key on the allowed workers: copies are added on the least-loaded
     * allowed workers and extras dropped from the most-loaded, never the last copy. {@code n} is remembered as
     * the key's declared replication, so copies are made again when a holder dies.
     *
     * @param key       a known key (applied when it reaches memory, if it is not there yet).
     * @param n         copies, 1..127.
     * @param workerIds allowed workers, or null for all.
     */
    public void replicate(final String key, final int n, final long[] workerIds)
    {
        checkOpen();
        if (n < 1 || n > Byte.MAX_VALUE)
        {
            throw new IllegalArgumentException("replication must be in 1..127: " + n);
        }
        final TaskRecord t = requireTask(key);
        t.replication = (byte)n;
        if (!t.is(MEMORY))
        {
            return;
        }
        final ArrayList<WorkerState> allowed = allowedWorkers(workerIds);
        int have = 0;
        for (final WorkerState w : allowed)
        {
            final PendingCopy p;
            if (t.hasHolder(w) || (null != (p = pendingCopy(t, w)) && !p.cancelled))
            {
                have++;
            }
        }
        if (have < n)
        {
            allowed.sort((a, b) -> a.managedBytes != b.managedBytes ?
                Long.compare(a.managedBytes, b.managedBytes) : Long.compare(a.id, b.id));
            for (final WorkerState w : allowed)
            {
                if (have >= n)
                {
                    break;
                }
                if (!t.hasHolder(w))
                {
                    final PendingCopy p = pendingCopy(t, w);
                    if (null == p)
                    {
                        startCopy(t, w, false);
                        have++;
                    }
                    else if (p.cancelled)
                    {
                        p.cancelled = false;
                        have++;
                    }
                }
            }
        }
        else if (have > n)
        {
            allowed.sort((a, b) -> a.managedBytes != b.managedBytes ?
                Long.compare(b.managedBytes, a.managedBytes) : Long.compare(a.id, b.id));
            // Copies still in flight go first: they are dropped when they land, so no existing copy is touched.
            for (final WorkerState w : allowed)
            {
                final PendingCopy p;
                if (have > n && !t.hasHolder(w) && null != (p = pendingCopy(t, w)) && !p.cancelled && !p.move)
                {
                    p.cancelled = true;
                    have--;
                }
            }
            for (final WorkerState w : allowed)
            {
                if (have <= n || t.holderCount <= 1)
                {
                    break;
                }
                if (t.hasHolder(w))
                {
                    removeHolder(t, w);
                    sink.dropReplica(w.id, key);
                    have--;
                }
            }
        }
    }

    /**
     * Whether a replicate of the key still has work to do: the key is computing (its copies are made when it reaches
     * memory), or a copy of it is in flight. A key that is unknown, in error, released, lost or waiting for a worker
     * that can run it has none.
     *
     * @param key the key.
     * @return true while the key is computing or being copied.
     */
    public boolean replicating(final String key)
    {
        final TaskRecord t = tasks.get(key);
        if (null == t)
        {
            return false;
        }
        if (!t.is(MEMORY))
        {
            return t.state().isActive() && !t.is(NO_WORKER);
        }
        for (PendingCopy p = pendingCopies.first(t); null != p; p = p.next)
        {
            if (!p.cancelled)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Replicate several keys; see {@link #replicate(String, int, long[])}.
     *
     * @param keys      known keys.
     * @param n         copies, 1..127.
     * @param workerIds allowed workers, or null for all.
     * @throws IllegalArgumentException (nothing changed) if n is out of range or a key is unknown.
     */
    public void replicate(final Collection<String> keys, final int n, final long[] workerIds)
    {
        for (final String key : keys)
        {
            requireTask(key);
        }
        for (final String key : keys)
        {
            replicate(key, n, workerIds);
        }
    }

    /**
     * Plan moves so that every worker's managed memory ends within half the gap either side of the mean
     * (Dask's rule: only workers above sender-min of their limit send, only workers below recipient-max
     * receive). Each move copies first and drops the sender's copy when the copy is confirmed.
     *
     * @param keys      keys that may move, or null for all.
     * @param workerIds workers taking part, or null for all.
     * @return the number of moves started.
     */
    public int rebalance(final Collection<String> keys, final long[] workerIds)
    {
        checkOpen();
        final ArrayList<WorkerState> ws = allowedWorkers(workerIds);
        if (ws.size() < 2)
        {
            return 0;
        }
        ObjectHashSet<TaskRecord> only = null;
        if (null != keys)
        {
            only = new ObjectHashSet<>();
            for (final String k : keys)
            {
                final TaskRecord t = tasks.get(k);
                if (null != t)
                {
                    only.add(t);
                }
            }
        }
        final int n = ws.size();
        final long[] projected = new long[n];
        final boolean[] recipient = new boolean[n];
        double mean = 0;
        for (int i = 0; i < n; i++)
        {
            projected[i] = ws.get(i).managedBytes;
            mean += projected[i];
        }
        mean /= n;
        for (int i = 0; i < n; i++)
        {
            final WorkerState w = ws.get(i);
            recipient[i] = projected[i] < mean - halfGap(w) && projected[i] < recipientMax(w);
        }
        int moves = 0;
        final ArrayList<TaskRecord> candidates = new ArrayList<>();
        for (int s = 0; s < n; s++)
        {
            final WorkerState sender = ws.get(s);
            final double halfGap = halfGap(sender);
            final double senderMin = sender.memoryLimit > 0 ? ctx.rebalanceSenderMin * sender.memoryLimit : 0;
            if (projected[s] < mean + halfGap || projected[s] < senderMin)
            {
                continue;
            }
            candidates.clear();
            for (final TaskRecord t : sender.held)
            {
                if (t.is(MEMORY) && (null == only || only.contains(t)) && !hasPendingMoveFrom(t, sender))
                {
                    candidates.add(t);
                }
            }
            candidates.sort((a, b) -> a.nbytes != b.nbytes ? Long.compare(b.nbytes, a.nbytes) :
                Long.compare(a.seq, b.seq));
            for (final TaskRecord t : candidates)
            {
                if (projected[s] <= mean + halfGap)
                {
                    break;
                }
                if (projected[s] - t.nbytes < mean - halfGap)
                {
                    continue;
                }
                // Recipients fill up to the top of the band around the mean, most room first.
                int best = -1;
                double bestRoom = 0;
                for (int r = 0; r < n; r++)
                {
                    final WorkerState rec = ws.get(r);
                    if (!recipient[r] || t.hasHolder(rec) || hasPendingCopy(t, rec))
                    {
                        continue;
                    }
                    final double ceiling = Math.min(mean + halfGap(rec), recipientMax(rec));
                    if (projected[r] + t.nbytes > ceiling)
                    {
                        continue;
                    }
                    final double room = mean - projected[r];
                    if (best < 0 || room > bestRoom)
                    {
                        best = r;
                        bestRoom = room;
                    }
                }
                if (best >= 0)
                {
                    projected[s] -= t.nbytes;
                    projected[best] += t.nbytes;
                    pendingCopies.add(new PendingCopy(t, sender, ws.get(best), true));
                    sink.copyKey(t.key, sender.id, ws.get(best).id);
                    moves++;
                }
            }
        }
        return moves;
    }

    /**
     * Choose workers for data a client is about to scatter: each item goes to the allowed worker with the most
     * free memory (limit minus managed bytes, counting what this call already placed), not round-robin.
     *
     * @param nbytes    sizes of the items.
     * @param count     how many items.
     * @param workerIds allowed workers, or null for all.
     * @param out       receives one worker id per item.
     * @throws IllegalStateException if no allowed worker is alive.
     */
    public void placeScatter(final long[] nbytes, final int count, final long[] workerIds, final long[] out)
    {
        checkOpen();
        if (count < 0 || count > nbytes.length || count > out.length)
        {
            throw new IllegalArgumentException("count " + count + " exceeds the sizes or output array");
        }
        final ArrayList<WorkerState> ws = allowedWorkers(workerIds);
        if (ws.isEmpty())
        {
            throw new IllegalStateException("no live worker to scatter to");
        }
        final long[] planned = new long[ws.size()];
        for (int i = 0; i < count; i++)
        {
            int best = 0;
            long bestFree = Long.MIN_VALUE;
            for (int j = 0; j < ws.size(); j++)
            {
                final WorkerState w = ws.get(j);
                final long limit = w.memoryLimit > 0 ? w.memoryLimit : Long.MAX_VALUE / 4;
                final long free = limit - w.managedBytes - planned[j];
                if (free > bestFree)
                {
                    best = j;
                    bestFree = free;
                }
            }
            planned[best] += nbytes[i];
            out[i] = ws.get(best).id;
        }
    }

    // =================================================================================================
    // Queries
    // =================================================================================================

    /**
     * @param key a key.
     * @return its state, {@link TaskState#FORGOTTEN} if there is no record.
     */
    public TaskState taskState(final String key)
    {
        final TaskRecord t = tasks.get(key);
        return null == t ? FORGOTTEN : t.state();
    }

    /**
     * @return the number of task records.
     */
    public int taskCount()
    {
        return tasks.size();
    }

    /**
     * @param key a key.
     * @return its size if in memory, else -1.
     */
    public long nbytes(final String key)
    {
        final TaskRecord t = tasks.get(key);
        return null != t && t.is(MEMORY) ? t.nbytes : -1;
    }

    /**
     * @param key a key.
     * @return the error text of an erred key, else null.
     */
    public String error(final String key)
    {
        final TaskRecord t = tasks.get(key);
        return null != t && t.is(ERRED) ? t.error : null;
    }

    /**
     * @param key a key.
     * @return ids of the workers holding it (empty if none).
     */
    public long[] whoHas(final String key)
    {
        final TaskRecord t = tasks.get(key);
        if (null == t)
        {
            return new long[0];
        }
        final long[] ids = new long[t.holderCount];
        for (int i = 0; i < ids.length; i++)
        {
            ids[i] = t.holderAt(i).id;
        }
        return ids;
    }

    /**
     * @param workerId a worker.
     * @param consumer receives each key the worker holds.
     */
    public void hasWhat(final long workerId, final Consumer<String> consumer)
    {
        final WorkerState w = workers.get(workerId);
        if (null != w)
        {
            for (final TaskRecord t : w.held)
            {
                consumer.accept(t.key);
            }
        }
    }

    /**
     * @return ids of live workers, in join order.
     */
    public long[] workerIds()
    {
        final long[] ids = new long[workerList.size()];
        for (int i = 0; i < ids.length; i++)
        {
            ids[i] = workerList.get(i).id;
        }
        return ids;
    }

    /**
     * @param workerId a worker.
     * @return bytes of the keys the scheduler believes it holds, -1 if unknown.
     */
    public long managedBytes(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null == w ? -1 : w.managedBytes;
    }

    /**
     * @param workerId a worker.
     * @return tasks sent to it and not yet reported, -1 if unknown.
     */
    public int processingCount(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null == w ? -1 : w.processingCount;
    }

    /**
     * @param workerId a worker.
     * @return its executor threads, -1 if unknown.
     */
    public int workerThreads(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null == w ? -1 : w.threads;
    }

    /**
     * @param workerId a worker.
     * @return its memory limit in bytes (0 for none), -1 if unknown.
     */
    public long workerMemoryLimit(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null == w ? -1 : w.memoryLimit;
    }

    /**
     * @param workerId a worker.
     * @return managed bytes from its last heartbeat, -1 if unknown.
     */
    public long reportedManagedBytes(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null == w ? -1 : w.reportedManaged;
    }

    /**
     * @param workerId a worker.
     * @return spilled bytes from its last heartbeat, -1 if unknown.
     */
    public long spilledBytes(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null == w ? -1 : w.spilled;
    }

    /**
     * @param workerId a worker.
     * @return whether it is paused (false if unknown).
     */
    public boolean isPaused(final long workerId)
    {
        final WorkerState w = workers.get(workerId);
        return null != w && w.paused;
    }

    /**
     * @return root tasks queued on the scheduler.
     */
    public int queuedCount()
    {
        return queue.size();
    }

    /**
     * @param clientId a client.
     * @return how many keys it wants (0 if unknown).
     */
    public int wantedCount(final long clientId)
    {
        final ClientState c = clients.get(clientId);
        return null == c ? 0 : c.wantCount;
    }

    /**
     * @param clientId a client (or a dataset's pseudo-client).
     * @return the keys it wants, in no particular order (scans the records: not for hot paths).
     */
    public String[] wantedKeys(final long clientId)
    {
        final ClientState c = clients.get(clientId);
        if (null == c || c.wantCount == 0)
        {
            return new String[0];
        }
        final String[] keys = new String[c.wantCount];
        int i = 0;
        for (final TaskRecord t : tasks.values())
        {
            if (t.hasWanter(clientId))
            {
                keys[i++] = t.key;
            }
        }
        return keys;
    }

    /**
     * @return published dataset names.
     */
    public String[] datasetNames()
    {
        return datasets.keySet().toArray(new String[0]);
    }

    /**
     * @param name a dataset.
     * @return its keys, or null if not published.
     */
    public String[] datasetKeys(final String name)
    {
        final ClientState c = datasets.get(name);
        if (null == c)
        {
            return null;
        }
        return wantedKeys(c.id);
    }

    /**
     * @return state transitions made so far (a cheap progress counter).
     */
    public long transitionCount()
    {
        return transitionCount;
    }

    /**
     * Drop all state. Further events throw.
     */
    public void close()
    {
        closed = true;
        tasks.clear();
        workers.clear();
        workerList.clear();
        clients.clear();
        datasets.clear();
        queue.clear();
        noWorker.clear();
        pendingCopies.clear();
    }

    // =================================================================================================
    // Internals
    // =================================================================================================

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("scheduler is closed");
        }
    }

    private ClientState requireClient(final long clientId)
    {
        final ClientState c = clientId < 0 ? null : clients.get(clientId);
        if (null == c)
        {
            throw new IllegalArgumentException("unknown client " + clientId);
        }
        return c;
    }

    private TaskRecord requireTask(final String key)
    {
        final TaskRecord t = tasks.get(key);
        if (null == t)
        {
            throw new IllegalArgumentException("unknown key '" + key + "'");
        }
        return t;
    }

    private void checkAcyclic(final TaskGraph graph, final int n, final TaskRecord[] known)
    {
        // Kahn's algorithm over the new tasks only: existing tasks cannot depend on new ones.
        final int[] pending = new int[n];
        final int[] firstOut = new int[n + 1];
        int edges = 0;
        for (int i = 0; i < n; i++)
        {
            if (null != known[i])
            {
                continue;
            }
            for (int d = 0, dn = graph.dependencyCount(i); d < dn; d++)
            {
                final int j = graphIndex.getValue(graph.dependency(i, d));
                if (j >= 0 && null == known[j])
                {
                    pending[i]++;
                    firstOut[j + 1]++;
                    edges++;
                }
            }
        }
        for (int i = 0; i < n; i++)
        {
            firstOut[i + 1] += firstOut[i];
        }
        final int[] out = new int[edges];
        final int[] fill = firstOut.clone();
        for (int i = 0; i < n; i++)
        {
            if (null != known[i])
            {
                continue;
            }
            for (int d = 0, dn = graph.dependencyCount(i); d < dn; d++)
            {
                final int j = graphIndex.getValue(graph.dependency(i, d));
                if (j >= 0 && null == known[j])
                {
                    out[fill[j]++] = i;
                }
            }
        }
        final int[] stack = new int[n];
        int top = 0;
        int done = 0;
        for (int i = 0; i < n; i++)
        {
            if (pending[i] == 0)
            {
                stack[top++] = i;
            }
        }
        while (top > 0)
        {
            final int j = stack[--top];
            done++;
            for (int e = firstOut[j]; e < firstOut[j + 1]; e++)
            {
                if (--pending[out[e]] == 0)
                {
                    stack[top++] = out[e];
                }
            }
        }
        if (done < n)
        {
            for (int i = 0; i < n; i++)
            {
                if (pending[i] > 0)
                {
                    throw new IllegalArgumentException("graph has a cycle through '" + graph.key(i) + "'");
                }
            }
        }
    }

    private void addWant(final ClientState c, final TaskRecord t)
    {
        if (!t.hasWanter(c.id))
        {
            t.addWanter(c.id);
            c.wantCount++;
        }
        switch (t.state())
        {
            case MEMORY:
                tell(c.id, t, KeyStatus.MEMORY, null);
                break;
            case ERRED:
                tell(c.id, t, t.hasFlag(TaskRecord.FLAG_LOST) ? KeyStatus.LOST : KeyStatus.ERRED, t.error);
                break;
            case RELEASED:
                toCompute.add(t);
                break;
            default:
                break;
        }
    }

    private void releaseAllWants(final ClientState c)
    {
        if (c.wantCount > 0)
        {
            scratch.clear();
            for (final TaskRecord t : tasks.values())
            {
                if (t.hasWanter(c.id))
                {
                    scratch.add(t);
                }
            }
            for (final TaskRecord t : scratch)
            {
                t.removeWanter(c.id);
                toRelease.add(t);
            }
            scratch.clear();
            c.wantCount = 0;
        }
    }

    private void tell(final long clientId, final TaskRecord t, final KeyStatus status, final String message)
    {
        if (clientId >= 0)
        {
            sink.keyStatus(clientId, t.key, status, message);
        }
    }

    private void tellWanters(final TaskRecord t, final KeyStatus status, final String message)
    {
        for (int i = 0; i < t.wanterCount; i++)
        {
            tell(t.wanterAt(i), t, status, message);
        }
    }

    private void dropFireAndForget(final TaskRecord t)
    {
        if (t.removeWanter(FIRE_AND_FORGET_CLIENT))
        {
            fireAndForget.wantCount--;
            toRelease.add(t);
        }
    }

    /**
     * The single place a task changes state: checks the table, then keeps the derived structures (waiter
     * counts, queue, no-worker set, processing lists, record map) in step.
     */
    void transition(final TaskRecord t, final TaskState to)
    {
        final TaskState from = t.state();
        if (!from.canTransitionTo(to))
        {
            throw new IllegalStateException("illegal transition of '" + t.key + "': " + from + " -> " + to);
        }
        transitionCount++;
        if (from == QUEUED)
        {
            queue.remove(t);
        }
        else if (from == NO_WORKER)
        {
            noWorker.remove(t);
        }
        final WorkerState left = from == PROCESSING ? t.processingOn : null;
        if (null != left)
        {
            left.unlink(t);
        }
        t.state = (byte)to.ordinal();
        if (from == PROCESSING)
        {
            t.setFlag(TaskRecord.FLAG_AHEAD, false);
            if (to != MEMORY)
            {
                leftProcessing(t);
            }
        }

        final boolean wasActive = from.isActive();
        final boolean isActive = to.isActive();
        final TaskRecord[] deps = t.dependencies;
        if (wasActive && !isActive)
        {
            for (final TaskRecord dep : deps)
            {
                dep.waiterCount--;
                toRelease.add(dep);
            }
        }
        else if (!wasActive && isActive)
        {
            for (final TaskRecord dep : deps)
            {
                dep.waiterCount++;
            }
        }

        switch (to)
        {
            case QUEUED:
                queue.add(t);
                break;
            case NO_WORKER:
                noWorker.add(t);
                break;
            case MEMORY:
                onMemory(t);
                break;
            case ERRED:
                onErred(t);
                break;
            case FORGOTTEN:
                tasks.remove(t.key);
                for (final TaskRecord dep : deps)
                {
                    dep.removeDependent(t);
                    toRelease.add(dep);
                }
                break;
            default:
                break;
        }
        if (from == MEMORY)
        {
            onLeftMemory(t);
        }
        else if (from == ERRED)
        {
            t.error = null;
            t.setFlag(TaskRecord.FLAG_LOST, false);
        }
    }

    private void onMemory(final TaskRecord t)
    {
        t.error = null;
        t.suspicious = 0;
        tellWanters(t, KeyStatus.MEMORY, null);
        for (int i = 0; i < t.dependentCount; i++)
        {
            final TaskRecord d = t.dependents[i];
            if (d.is(WAITING) && --d.waitingOn == 0)
            {
                ready(d);
            }
            else if (d.hasFlag(TaskRecord.FLAG_AHEAD) && d.is(PROCESSING))
            {
                if (!t.hasHolder(d.processingOn))
                {
                    toPullBack.add(d); // the result came from elsewhere: not where d waits for it
                }
                else if (--d.waitingOn == 0)
                {
                    d.setFlag(TaskRecord.FLAG_AHEAD, false); // its input is stored where it runs: ordinary now
                    if (ctx.dependentsAhead > 0)
                    {
                        sendDependentsAhead(d, d.processingOn, 1); // the window moves down the chain by a link
                    }
                }
            }
        }
        dropFireAndForget(t);
        if (t.replication > t.holderCount)
        {
            heal(t);
        }
    }

    private void onErred(final TaskRecord t)
    {
        tellWanters(t, t.hasFlag(TaskRecord.FLAG_LOST) ? KeyStatus.LOST : KeyStatus.ERRED, t.error);
        for (int i = 0; i < t.dependentCount; i++)
        {
            final TaskRecord d = t.dependents[i];
            if (d.state().isActive())
            {
                toErr.add(d);
            }
        }
        dropFireAndForget(t);
        toRelease.add(t);
    }

    private void onLeftMemory(final TaskRecord t)
    {
        pendingCopies.removeTask(t);
        for (int i = 0; i < t.dependentCount; i++)
        {
            final TaskRecord d = t.dependents[i];
            switch (d.state())
            {
                case WAITING:
                    d.waitingOn++;
                    break;
                case QUEUED:
                case NO_WORKER:
                case PROCESSING:
                    if (null != d.processingOn)
                    {
                        sink.cancelCompute(d.processingOn.id, d.key);
                    }
                    transition(d, RELEASED);
                    toCompute.add(d);
                    break;
                default:
                    break;
            }
        }
    }

    /**
     * Work the pending cascades to a fixed point: errors first, then new needs (so nothing needed is freed in
     * between), then releases; finally hand queued root tasks to workers with free slots.
     */
    private void settle()
    {
        while (true)
        {
            TaskRecord t;
            if (null != (t = toErr.pollFirst()))
            {
                propagateError(t);
            }
            else if (null != (t = toPullBack.pollFirst()))
            {
                if (t.hasFlag(TaskRecord.FLAG_AHEAD) && t.is(PROCESSING))
                {
                    sink.cancelCompute(t.processingOn.id, t.key);
                    reschedule(t); // waits for its input again
                }
            }
            else if (null != (t = toCompute.pollFirst()))
            {
                if (t.is(RELEASED) && t.needed())
                {
                    makeWaiting(t);
                }
                else if (t.is(RELEASED))
                {
                    toRelease.add(t);
                }
            }
            else if (null != (t = toRelease.pollFirst()))
            {
                releaseIfUnneeded(t);
            }
            else
            {
                break;
            }
        }
        if (!queue.isEmpty())
        {
            fillSlots();
        }
    }

    private void propagateError(final TaskRecord d)
    {
        if (!d.state().isActive())
        {
            return;
        }
        for (final TaskRecord dep : d.dependencies)
        {
            if (dep.is(ERRED))
            {
                if (null != d.processingOn)
                {
                    sink.cancelCompute(d.processingOn.id, d.key);
                }
                errTask(d, dep.error, false);
                return;
            }
        }
    }

    private void errTask(final TaskRecord t, final String error, final boolean lost)
    {
        t.error = error;
        t.setFlag(TaskRecord.FLAG_LOST, lost);
        transition(t, ERRED);
    }

    private void makeWaiting(final TaskRecord t)
    {
        if (null == t.function)
        {
            errTask(t, "key '" + t.key + "' is lost: it was scattered data (no lineage to recompute it from) " +
                "and no worker holds a copy any more", true);
            return;
        }
        transition(t, WAITING);
        int missing = 0;
        TaskRecord erred = null;
        for (final TaskRecord dep : t.dependencies)
        {
            if (!dep.is(MEMORY))
            {
                missing++;
                if (dep.is(ERRED))
                {
                    erred = dep;
                }
                else if (dep.is(RELEASED))
                {
                    toCompute.add(dep);
                }
            }
        }
        t.waitingOn = missing;
        if (null != erred)
        {
            errTask(t, erred.error, false);
        }
        else if (missing == 0)
        {
            ready(t);
        }
        else if (1 == missing && ctx.dependentsAhead > 0)
        {
            sendAheadOfProcessingInput(t);
        }
    }

    /**
     * A task that became waiting on one input already computing (a chain built one submit at a time): send it
     * ahead to that input's worker if the chain sent ahead there is shorter than {@link Context#dependentsAhead}.
     */
    private void sendAheadOfProcessingInput(final TaskRecord t)
    {
        TaskRecord input = null;
        for (final TaskRecord dep : t.dependencies)
        {
            if (!dep.is(MEMORY))
            {
                input = dep;
            }
        }
        if (null == input || !input.is(PROCESSING) || 1 != input.dependentCount)
        {
            return;
        }
        int depth = 1;
        for (TaskRecord link = input; link.hasFlag(TaskRecord.FLAG_AHEAD); depth++)
        {
            TaskRecord next = null;
            for (final TaskRecord dep : link.dependencies)
            {
                if (!dep.is(MEMORY))
                {
                    next = dep;
                }
            }
            if (null == next || depth > ctx.dependentsAhead)
            {
                return;
            }
            link = next;
        }
        final WorkerState w = input.processingOn;
        if (depth <= ctx.dependentsAhead && !w.paused && (null == t.allowedWorkers || allows(t, w)))
        {
            t.setFlag(TaskRecord.FLAG_AHEAD, true);
            transition(t, PROCESSING);
            w.link(t);
            sendCompute(w, t);
        }
    }

    private void releaseIfUnneeded(final TaskRecord t)
    {
        if (t.is(FORGOTTEN) || t.needed())
        {
            return;
        }
        switch (t.state())
        {
            case MEMORY:
                while (t.holderCount > 0)
                {
                    final WorkerState w = t.holderAt(t.holderCount - 1);
                    removeHolder(t, w);
                    sink.freeKey(w.id, t.key);
                }
                transition(t, RELEASED);
                break;
            case PROCESSING:
                if (null != t.processingOn)
                {
                    sink.cancelCompute(t.processingOn.id, t.key);
                }
                transition(t, RELEASED);
                break;
            case ERRED:
            case WAITING:
            case QUEUED:
            case NO_WORKER:
                transition(t, RELEASED);
                break;
            default:
                break;
        }
        if (t.is(RELEASED) && t.dependentCount == 0)
        {
            transition(t, FORGOTTEN);
        }
    }

    private void reschedule(final TaskRecord t)
    {
        transition(t, RELEASED);
        toCompute.add(t);
    }

    private void ready(final TaskRecord t)
    {
        if (t.dependencies.length == 0 && null == t.allowedWorkers)
        {
            // Root tasks always pass through the queue; settle() then hands them to free slots highest priority
            // first, so a high-priority task is not left behind lower ones that became ready before it.
            transition(t, QUEUED);
        }
        else
        {
            final WorkerState w = chooseWorker(t);
            if (null != w)
            {
                assign(t, w);
            }
            else
            {
                transition(t, NO_WORKER);
            }
        }
    }

    private void assign(final TaskRecord t, final WorkerState w)
    {
        transition(t, PROCESSING);
        w.link(t);
        sendCompute(w, t);
        if (ctx.dependentsAhead > 0)
        {
            sendDependentsAhead(t, w, 1);
        }
    }

    /**
     * Send to {@code w} now the dependents of {@code t} (processing there) that wait for nothing else, and theirs,
     * to {@link Context#dependentsAhead(int)} links: the worker runs each once its input is stored, so a chain does
     * not pay the scheduler's round trip per link.
     */
    private void sendDependentsAhead(final TaskRecord t, final WorkerState w, final int depth)
    {
        // Chains only: a result several tasks read is spread by placement once it exists, not piled onto the
        // worker computing it (and the walk below stays one link per level, bounded by the depth).
        if (depth > ctx.dependentsAhead || w.paused || 1 != t.dependentCount)
        {
            return;
        }
        for (int i = 0; i < t.dependentCount; i++)
        {
            final TaskRecord d = t.dependents[i];
            if (d.hasFlag(TaskRecord.FLAG_AHEAD) && d.is(PROCESSING) && d.processingOn == w)
            {
                sendDependentsAhead(d, w, depth + 1); // already there: look further down
            }
            else if (d.is(WAITING) && 1 == d.waitingOn && (null == d.allowedWorkers || allows(d, w)) &&
                onlyMissing(d, t))
            {
                d.setFlag(TaskRecord.FLAG_AHEAD, true);
                transition(d, PROCESSING);
                w.link(d);
                sendCompute(w, d);
                sendDependentsAhead(d, w, depth + 1);
            }
        }
    }

    private static boolean hasDependentAhead(final TaskRecord t)
    {
        for (int i = 0; i < t.dependentCount; i++)
        {
            if (t.dependents[i].hasFlag(TaskRecord.FLAG_AHEAD))
            {
                return true;
            }
        }
        return false;
    }

    private static boolean onlyMissing(final TaskRecord d, final TaskRecord input)
    {
        for (final TaskRecord dep : d.dependencies)
        {
            if (dep != input && !dep.is(MEMORY))
            {
                return false;
            }
        }
        return true;
    }

    /**
     * A task left processing other than into memory (the paths that do so cancel it on its worker). Its dependents
     * sent ahead can no longer get their input where they are: pull them back (in {@link #settle()}, after errors,
     * so a dependent of an erred task errs instead).
     */
    private void leftProcessing(final TaskRecord t)
    {
        for (int i = 0; i < t.dependentCount; i++)
        {
            final TaskRecord d = t.dependents[i];
            if (d.hasFlag(TaskRecord.FLAG_AHEAD) && d.is(PROCESSING))
            {
                toPullBack.add(d);
            }
        }
    }

    private void sendCompute(final WorkerState w, final TaskRecord t)
    {
        computeView.t = t;
        sink.computeTask(w.id, computeView);
        computeView.t = null;
    }

    private int openSlots(final WorkerState w, final int pipelined)
    {
        return (int)Math.ceil(w.threads * ctx.workerSaturation) + w.threads * pipelined - w.processingCount;
    }

    private WorkerState mostOpenSlots(final int pipelined)
    {
        WorkerState best = null;
        int bestSlots = 0;
        for (int i = 0, n = workerList.size(); i < n; i++)
        {
            final WorkerState w = workerList.get(i);
            if (!w.paused)
            {
                final int slots = openSlots(w, pipelined);
                if (slots > bestSlots)
                {
                    best = w;
                    bestSlots = slots;
                }
            }
        }
        return best;
    }

    private void fillSlots()
    {
        WorkerState w;
        while (!queue.isEmpty() && null != (w = mostOpenSlots(pipelined(queue.peek()))))
        {
            assign(queue.peek(), w);
        }
    }

    /** Extra slots per thread for a root task of this kind: short kinds ride past the saturation. */
    private int pipelined(final TaskRecord t)
    {
        if (0 == ctx.rootTaskPipelineNs)
        {
            return 0;
        }
        final long kindAvg = kindDurationNs.get(t.kind);
        return kindAvg < 0 ? 0 : (int)Math.min(Context.MAX_PIPELINED_PER_THREAD, ctx.rootTaskPipelineNs / kindAvg);
    }

    private static boolean allows(final TaskRecord t, final WorkerState w)
    {
        for (final long id : t.allowedWorkers)
        {
            if (id == w.id)
            {
                return true;
            }
        }
        return false;
    }

    /**
     * Restrictions first; then the worker minimising (bytes to move / bandwidth) + (its queued work).
     */
    WorkerState chooseWorker(final TaskRecord t)
    {
        WorkerState best = pick(t, null != t.allowedWorkers);
        if (null == best && null != t.allowedWorkers && t.hasFlag(TaskRecord.FLAG_ALLOW_OTHER))
        {
            best = pick(t, false);
        }
        return best;
    }

    private WorkerState pick(final TaskRecord t, final boolean restricted)
    {
        WorkerState best = null;
        double bestCost = Double.MAX_VALUE;
        for (int i = 0, n = workerList.size(); i < n; i++)
        {
            final WorkerState w = workerList.get(i);
            if (w.paused || (restricted && !allows(t, w)))
            {
                continue;
            }
            final double cost = transferNs(t, w) + (double)w.processingCount * avgDurationNs / w.threads;
            if (cost < bestCost)
            {
                best = w;
                bestCost = cost;
            }
        }
        return best;
    }

    private double transferNs(final TaskRecord t, final WorkerState w)
    {
        long missing = 0;
        for (final TaskRecord dep : t.dependencies)
        {
            if (!dep.hasHolder(w))
            {
                missing += dep.nbytes;
            }
        }
        return missing * 1e9 / ctx.bandwidthBytesPerSecond;
    }

    private void placeNoWorkerTasks()
    {
        if (!noWorker.isEmpty())
        {
            scratch.clear();
            scratch.addAll(noWorker);
            scratch.sort((a, b) -> Long.compare(a.seq, b.seq));
            for (final TaskRecord t : scratch)
            {
                final WorkerState w = chooseWorker(t);
                if (null != w)
                {
                    assign(t, w);
                }
            }
            scratch.clear();
        }
    }

    private void steal()
    {
        for (int i = 0, n = workerList.size(); i < n; i++)
        {
            final WorkerState thief = workerList.get(i);
            while (!thief.paused && thief.processingCount < thief.threads)
            {
                WorkerState victim = null;
                int backlog = 0;
                for (int j = 0; j < n; j++)
                {
                    final WorkerState v = workerList.get(j);
                    final int b = v.processingCount - (v.paused ? 0 : v.threads);
                    if (v != thief && b > backlog)
                    {
                        victim = v;
                        backlog = b;
                    }
                }
                if (null == victim)
                {
                    break;
                }
                final double gainNs = (double)avgDurationNs * backlog / victim.threads;
                TaskRecord chosen = null;
                TaskRecord t = victim.procTail;
                for (int k = 0; k < backlog && null != t; k++, t = t.procPrev)
                {
                    // A task sent ahead waits for an input computing on the victim; one with dependents sent ahead
                    // must store its result there: neither moves.
                    if (t.hasFlag(TaskRecord.FLAG_AHEAD) || hasDependentAhead(t))
                    {
                        continue;
                    }
                    if ((null == t.allowedWorkers || allows(t, thief)) && transferNs(t, thief) < gainNs)
                    {
                        chosen = t;
                        break;
                    }
                }
                if (null == chosen)
                {
                    break;
                }
                victim.unlink(chosen);
                stealCount++;
                sink.cancelCompute(victim.id, chosen.key);
                thief.link(chosen);
                sendCompute(thief, chosen);
            }
        }
    }

    private void addHolder(final TaskRecord t, final WorkerState w)
    {
        t.addHolder(w);
        w.held.add(t);
        w.managedBytes += t.nbytes;
    }

    private void removeHolder(final TaskRecord t, final WorkerState w)
    {
        if (t.removeHolder(w))
        {
            w.held.remove(t);
            w.managedBytes -= t.nbytes;
        }
    }

    private void loseKey(final TaskRecord t)
    {
        transition(t, RELEASED);
        if (null != t.function && t.needed())
        {
            tellWanters(t, KeyStatus.PENDING, "key '" + t.key + "' lost its last copy; recomputing");
        }
        toCompute.add(t);
    }

    private void heal(final TaskRecord t)
    {
        if (!t.is(MEMORY) || t.holderCount == 0)
        {
            return;
        }
        int have = t.holderCount;
        for (PendingCopy p = pendingCopies.first(t); null != p; p = p.next)
        {
            if (!p.cancelled && !t.hasHolder(p.to))
            {
                have++;
            }
        }
        if (have >= t.replication)
        {
            return;
        }
        workerScratch.clear();
        workerScratch.addAll(workerList);
        workerScratch.sort((a, b) -> a.managedBytes != b.managedBytes ?
            Long.compare(a.managedBytes, b.managedBytes) : Long.compare(a.id, b.id));
        for (final WorkerState w : workerScratch)
        {
            if (have >= t.replication)
            {
                break;
            }
            if (!t.hasHolder(w))
            {
                final PendingCopy p = pendingCopy(t, w);
                if (null == p)
                {
                    startCopy(t, w, false);
                    have++;
                }
                else if (p.cancelled)
                {
                    p.cancelled = false;
                    have++;
                }
            }
        }
        workerScratch.clear();
    }

    private void startCopy(final TaskRecord t, final WorkerState to, final boolean move)
    {
        WorkerState from = t.holder0;
        for (int i = 1; i < t.holderCount; i++)
        {
            if (t.holderAt(i).processingCount < from.processingCount)
            {
                from = t.holderAt(i);
            }
        }
        pendingCopies.add(new PendingCopy(t, from, to, move));
        sink.copyKey(t.key, from.id, to.id);
    }

    private boolean hasPendingCopy(final TaskRecord t, final WorkerState w)
    {
        return null != pendingCopy(t, w);
    }

    private PendingCopy pendingCopy(final TaskRecord t, final WorkerState w)
    {
        return pendingCopies.find(t, w.id);
    }

    private boolean hasPendingMoveFrom(final TaskRecord t, final WorkerState w)
    {
        for (PendingCopy p = pendingCopies.first(t); null != p; p = p.next)
        {
            if (p.from == w && p.move)
            {
                return true;
            }
        }
        return false;
    }

    private double recipientMax(final WorkerState w)
    {
        return w.memoryLimit > 0 ? ctx.rebalanceRecipientMax * w.memoryLimit : Double.MAX_VALUE;
    }

    private double halfGap(final WorkerState w)
    {
        return w.memoryLimit > 0 ? ctx.rebalanceGap / 2 * w.memoryLimit : 0;
    }

    private ArrayList<WorkerState> allowedWorkers(final long[] workerIds)
    {
        final ArrayList<WorkerState> ws = new ArrayList<>();
        if (null == workerIds)
        {
            ws.addAll(workerList);
        }
        else
        {
            for (final long id : workerIds)
            {
                final WorkerState w = workers.get(id);
                if (null != w && !ws.contains(w))
                {
                    ws.add(w);
                }
            }
        }
        return ws;
    }

    private void removeWorker(final WorkerState w, final boolean died)
    {
        workers.remove(w.id);
        workerList.remove(w);

        // Tasks it was computing: detach them, count the death against each.
        final ArrayList<TaskRecord> processing = new ArrayList<>(w.processingCount);
        for (TaskRecord t = w.procHead; null != t; t = t.procNext)
        {
            processing.add(t);
        }
        for (final TaskRecord t : processing)
        {
            w.unlink(t);
        }
        for (final TaskRecord t : processing)
        {
            if (died)
            {
                t.suspicious++;
            }
            if (died && t.suspicious >= ctx.killedWorkerLimit)
            {
                errTask(t, "KilledWorker: task '" + t.key + "' was processing on " + t.suspicious +
                    " workers that died (last: worker " + w.id + ")", false);
            }
            else
            {
                reschedule(t);
            }
        }

        // Copies it held.
        final ArrayList<TaskRecord> held = new ArrayList<>(w.held.size());
        held.addAll(w.held);
        held.sort((a, b) -> Long.compare(a.seq, b.seq));
        for (final TaskRecord t : held)
        {
            removeHolder(t, w);
        }
        w.managedBytes = 0;
        pendingCopies.removeWorker(w);
        for (final TaskRecord t : held)
        {
            if (t.is(MEMORY))
            {
                if (t.holderCount == 0)
                {
                    loseKey(t);
                }
                else
                {
                    heal(t);
                }
            }
        }
        settle();
    }
}
