package io.offgrid.grid;

import io.offgrid.client.internal.GridProtocol;
import io.offgrid.scheduler.CommandSink;
import io.offgrid.scheduler.ComputeTask;
import io.offgrid.scheduler.KeyStatus;
import io.offgrid.scheduler.Scheduler;
import io.offgrid.scheduler.TaskGraph;
import io.offgrid.transport.PeerListener;
import io.offgrid.transport.AgentGroup;
import io.offgrid.transport.TransportNode;
import io.offgrid.transport.WakeableIdleStrategy;
import io.offgrid.transport.protocol.BooleanType;
import io.offgrid.transport.protocol.CancelKeysDecoder;
import io.offgrid.transport.protocol.CancelKeysEncoder;
import io.offgrid.transport.protocol.ClusterInfoEncoder;
import io.offgrid.transport.protocol.ComputeTaskEncoder;
import io.offgrid.transport.protocol.CopyKeysEncoder;
import io.offgrid.transport.protocol.DefineFunctionDecoder;
import io.offgrid.transport.protocol.DefineFunctionEncoder;
import io.offgrid.transport.protocol.FreeKeysEncoder;
import io.offgrid.transport.protocol.InfoRequestDecoder;
import io.offgrid.transport.protocol.KeyLocationsEncoder;
import io.offgrid.transport.protocol.KeyState;
import io.offgrid.transport.protocol.KeyStateUpdateEncoder;
import io.offgrid.transport.protocol.KeysStoredDecoder;
import io.offgrid.transport.protocol.LocateKeysDecoder;
import io.offgrid.transport.protocol.MessageHeaderDecoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.NodeRole;
import io.offgrid.transport.protocol.RebalanceRequestDecoder;
import io.offgrid.transport.protocol.RegisterAckEncoder;
import io.offgrid.transport.protocol.RegisterNodeDecoder;
import io.offgrid.transport.protocol.ReleaseKeysDecoder;
import io.offgrid.transport.protocol.ReplicateRequestDecoder;
import io.offgrid.transport.protocol.RequestDoneDecoder;
import io.offgrid.transport.protocol.RequestDoneEncoder;
import io.offgrid.transport.protocol.RequestStatus;
import io.offgrid.transport.protocol.RestartDecoder;
import io.offgrid.transport.protocol.RestartEncoder;
import io.offgrid.transport.protocol.ScatterRequestDecoder;
import io.offgrid.transport.protocol.SubmitGraphDecoder;
import io.offgrid.transport.protocol.TaskErredDecoder;
import io.offgrid.transport.protocol.TaskFinishedDecoder;
import io.offgrid.transport.protocol.TasksFinishedDecoder;
import io.offgrid.transport.protocol.WantKeysDecoder;
import io.offgrid.transport.protocol.WorkerHeartbeatDecoder;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The scheduler node: the {@link Scheduler} state machine behind a {@link TransportNode}, both on one agent
 * thread. Messages become event calls; the scheduler's commands become messages.
 * <pre>{@code
 * try (SchedulerServer server = SchedulerServer.launch(new SchedulerServer.Context().listenEndpoint("0.0.0.0:4000")))
 * {
 *     ...   // workers and clients connect to server.endpoint()
 * }
 * }</pre>
 */
public final class SchedulerServer implements AutoCloseable
{
    private static final Logger LOG = LoggerFactory.getLogger(SchedulerServer.class);
    private static final long TICK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(10);

    /**
     * Settings with defaults: listen on 127.0.0.1 (any port), embedded driver, no secret, 5 s peer timeout.
     */
    public static final class Context
    {
        private String listenEndpoint = "127.0.0.1:0";
        private String aeronDirectoryName;
        private AgentGroup agentGroup;
        private WakeableIdleStrategy idleStrategy;
        private byte[] clusterSecret;
        private long peerTimeoutNs = TimeUnit.SECONDS.toNanos(5);
        private Scheduler.Context schedulerContext;

        /**
         * @param endpoint host:port to listen on (port 0: any free one).
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
         * @param dir a shared media driver's directory (in-process clusters), or null for an embedded one.
         * @return this.
         */
        public Context aeronDirectoryName(final String dir)
        {
            this.aeronDirectoryName = dir;
            return this;
        }

        /**
         * @param secret cluster secret for the HMAC handshake, or null.
         * @return this.
         */
        public Context clusterSecret(final byte[] secret)
        {
            this.clusterSecret = null == secret ? null : secret.clone();
            return this;
        }

        /**
         * @param ns how long a silent worker or client is given before it counts as gone.
         * @return this.
         */
        public Context peerTimeoutNs(final long ns)
        {
            this.peerTimeoutNs = ns;
            return this;
        }

        /**
         * @param ctx the scheduler state machine's settings.
         * @return this.
         */
        public Context schedulerContext(final Scheduler.Context ctx)
        {
            this.schedulerContext = ctx;
            return this;
        }

        /**
         * Check and fill in defaults.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (null == listenEndpoint || listenEndpoint.lastIndexOf(':') <= 0)
            {
                throw new IllegalArgumentException("listenEndpoint must be host:port: " + listenEndpoint);
            }
            if (peerTimeoutNs <= 0)
            {
                throw new IllegalArgumentException("peerTimeoutNs must be positive");
            }
            if (null == schedulerContext)
            {
                schedulerContext = new Scheduler.Context();
            }
            return this;
        }
    }

    private final Context ctx;
    private final TransportNode node;
    private final Scheduler scheduler;
    /** This node's own thread or its group; other threads hand it work with {@code thread.wake()}. */
    private final NodeThread thread;
    private final ConcurrentHashMap<Long, long[]> workerView = new ConcurrentHashMap<>();
    private volatile int clientCount;

    /** A KeyStates message at most this large: 64 KiB holds ~1,500 updates with small inline values. */
    private static final int KEY_STATES_BATCH_BYTES = 64 * 1024;

    // ---- agent thread only
    private final UnsafeBuffer out;
    private final UnsafeBuffer freeOut;
    private final FreeKeysEncoder freeEncoder = new FreeKeysEncoder();
    private final Long2ObjectHashMap<ArrayList<String>> pendingFrees = new Long2ObjectHashMap<>();
    private final KeyStateBatcher keyStates;
    private byte[] keyScratch = new byte[256];

    /**
     * A reused array to decode a key through: SBE's {@code key()} copies into a new array that the String then
     * copies again; for the 20,000 keys of one cancel or release batch that array is worth saving. Agent thread only.
     */
    private byte[] keyScratch(final int length)
    {
        if (keyScratch.length < length)
        {
            keyScratch = new byte[Math.max(length, keyScratch.length * 2)];
        }
        return keyScratch;
    }

    /** Longest a replicate is held for its copies before it is answered as failed. */
    static final long REPLICATE_WAIT_LIMIT_NS = TimeUnit.MINUTES.toNanos(10);
    /** Replicates whose clients wait for the copies; agent thread only. */
    private final ArrayList<ReplicateWait> replicateWaits = new ArrayList<>();
    private final LongArrayList workersWithFrees = new LongArrayList();
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final Long2ObjectHashMap<String> workerEndpoints = new Long2ObjectHashMap<>();
    private final LongHashSet clients = new LongHashSet();
    private final Long2ObjectHashMap<byte[]> functions = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<LongHashSet> functionsOnWorker = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<TaskGraph> partialGraphs = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<ArrayList<String>> partialWants = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<HashMap<String, long[]>> scatters = new Long2ObjectHashMap<>();
    private final Long2ObjectHashMap<long[]> restarts = new Long2ObjectHashMap<>();
    private final Int2ObjectHashMap<String> typeNames = new Int2ObjectHashMap<>();
    private long restartRequest;
    /** While a TaskFinished is handled: its key and inline value (a view into the received message). */
    private String inlineKey;
    private final UnsafeBuffer inlineValue = new UnsafeBuffer(0, 0);
    private long lastTickNs;

    private SchedulerServer(final Context ctx)
    {
        this.ctx = ctx.conclude();
        this.thread = new NodeThread(ctx.agentGroup, ctx.idleStrategy);
        final Handlers handlers = new Handlers();
        this.scheduler = new Scheduler(ctx.schedulerContext, handlers);
        final TransportNode.Context tctx = new TransportNode.Context()
            .nodeId(GridProtocol.SCHEDULER_NODE_ID)
            .listenEndpoint(ctx.listenEndpoint)
            .clusterSecret(ctx.clusterSecret)
            .peerTimeoutNs(ctx.peerTimeoutNs)
            .heartbeatIntervalNs(Math.min(500_000_000L, ctx.peerTimeoutNs / 4))
            .useAgentRunner(false)
            .agentGroup(thread.group())
            .commandWaker(thread::wake)
            .defaultHandler(handlers::onMessage)
            .peerListener(handlers);
        if (null != ctx.aeronDirectoryName)
        {
            tctx.aeronDirectoryName(ctx.aeronDirectoryName);
        }
        this.node = TransportNode.launch(tctx);
        this.out = new UnsafeBuffer(new byte[node.maxMessageLength()]);
        this.freeOut = new UnsafeBuffer(new byte[node.maxMessageLength()]);
        this.keyStates = new KeyStateBatcher(Math.min(KEY_STATES_BATCH_BYTES, node.maxMessageLength()),
            (clientId, buffer, length) ->
            {
                if (!node.send(clientId, buffer, 0, length))
                {
                    LOG.debug("could not send key states to node {}", clientId);
                }
            });
        thread.start(new ServerAgent(), ex -> LOG.warn("scheduler agent error", ex));
    }

    /**
     * Start a scheduler node.
     *
     * @param ctx settings.
     * @return the running server.
     */
    public static SchedulerServer launch(final Context ctx)
    {
        return new SchedulerServer(ctx);
    }

    /**
     * @return host:port workers and clients connect to.
     */
    public String endpoint()
    {
        return node.endpoint();
    }

    /**
     * @return how many workers are registered (thread-safe).
     */
    public int workerCount()
    {
        return workerView.size();
    }

    /**
     * @return how many clients are connected (thread-safe).
     */
    public int clientCount()
    {
        return clientCount;
    }

    /**
     * @return ids of registered workers (thread-safe snapshot).
     */
    public long[] workerIds()
    {
        return workerView.keySet().stream().mapToLong(Long::longValue).sorted().toArray();
    }

    /**
     * @param workerId a worker.
     * @return managed bytes from its last heartbeat, or -1 if it is not registered (thread-safe).
     */
    public long reportedManagedBytes(final long workerId)
    {
        final long[] v = workerView.get(workerId);
        return null == v ? -1 : v[0];
    }

    @Override
    public void close()
    {
        thread.stop();
        thread.closeNode(node);
        scheduler.close();
    }

    /**
     * A replicate its client waits for, as Dask's does: answered once none of its keys is computing or being copied
     * (a copy that failed is tried again while the key is short of copies). Each check resumes at the first key not
     * yet settled, so a wait costs a lookup or two per duty cycle; after {@link #REPLICATE_WAIT_LIMIT_NS} it is
     * answered as failed.
     */
    private static final class ReplicateWait
    {
        final long peerId;
        final long requestId;
        final ArrayList<String> keys;
        final long startNs = System.nanoTime();
        int next;

        ReplicateWait(final long peerId, final long requestId, final ArrayList<String> keys)
        {
            this.peerId = peerId;
            this.requestId = requestId;
            this.keys = keys;
        }

        boolean settled(final Scheduler scheduler)
        {
            while (next < keys.size() && !scheduler.replicating(keys.get(next)))
            {
                next++;
            }
            return next == keys.size();
        }
    }

    private int answerSettledReplicates()
    {
        int answered = 0;
        final long now = System.nanoTime();
        for (int i = replicateWaits.size() - 1; i >= 0; i--)
        {
            final ReplicateWait wait = replicateWaits.get(i);
            if (wait.settled(scheduler))
            {
                replicateWaits.remove(i);
                requestDone(wait.peerId, wait.requestId, RequestStatus.OK, null);
                answered++;
            }
            else if (now - wait.startNs > REPLICATE_WAIT_LIMIT_NS)
            {
                // A copy that keeps failing is retried while the key is short of copies: the request is not held
                // for ever (the copies go on).
                replicateWaits.remove(i);
                requestDone(wait.peerId, wait.requestId, RequestStatus.FAILED, "key '" + wait.keys.get(wait.next) +
                    "' still computing or being copied after " + TimeUnit.NANOSECONDS.toSeconds(now - wait.startNs) + " s");
                answered++;
            }
        }
        return answered;
    }

    private final class ServerAgent implements Agent
    {
        public int doWork()
        {
            int work = node.doWork();
            final long now = System.nanoTime();
            if (now - lastTickNs >= TICK_INTERVAL_NS)
            {
                lastTickNs = now;
                scheduler.tick(now);
                work++;
            }
            if (!replicateWaits.isEmpty())
            {
                work += answerSettledReplicates();
            }
            if (!workersWithFrees.isEmpty())
            {
                flushFrees();
            }
            keyStates.flushAll();
            return work;
        }

        public String roleName()
        {
            return "offgrid-scheduler";
        }
    }

    // ============================================================================================ sending

    private void flushFrees()
    {
        for (int i = 0, n = workersWithFrees.size(); i < n; i++)
        {
            flushFrees(workersWithFrees.getLong(i));
        }
        workersWithFrees.clear();
    }

    private void flushFrees(final long workerId)
    {
        final ArrayList<String> batch = pendingFrees.get(workerId);
        if (null == batch || batch.isEmpty())
        {
            return;
        }
        final int n = batch.size();
        int i = 0;
        while (i < n)
        {
            final int count = GridProtocol.keysThatFit(batch, i,
                MessageHeaderEncoder.ENCODED_LENGTH + FreeKeysEncoder.BLOCK_LENGTH + 4, freeOut.capacity());
            final FreeKeysEncoder e = freeEncoder.wrapAndApplyHeader(freeOut, 0, headerEncoder);
            final FreeKeysEncoder.KeysEncoder ke = e.keysCount(count);
            for (int k = 0; k < count; k++)
            {
                ke.next().key(batch.get(i + k));
            }
            i += count;
            if (!node.send(workerId, freeOut, 0, MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength()))
            {
                LOG.debug("could not send frees to node {}", workerId);
            }
        }
        batch.clear();
    }

    private void send(final long peerId, final int encodedLength)
    {
        if (!workersWithFrees.isEmpty())
        {
            flushFrees(peerId); // keep this worker's messages in the order the scheduler made them
        }
        keyStates.flush(peerId); // and this client's
        if (!node.send(peerId, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + encodedLength))
        {
            LOG.debug("could not send to node {}", peerId);
        }
    }

    private void requestDone(final long peerId, final long requestId, final RequestStatus status, final String message)
    {
        final RequestDoneEncoder e = new RequestDoneEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
            .requestId(requestId).status(status);
        e.keysCount(0);
        e.message(null == message ? "" : message);
        send(peerId, e.encodedLength());
    }

    /** The directory: every worker's endpoint, pushed to every node on membership changes (request id 0). */
    private void broadcastDirectory()
    {
        final int length = encodeInfo(0);
        for (final long w : workerEndpoints.keySet())
        {
            node.send(w, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + length);
        }
        final LongHashSet.LongIterator it = clients.iterator();
        while (it.hasNext())
        {
            node.send(it.nextValue(), out, 0, MessageHeaderEncoder.ENCODED_LENGTH + length);
        }
    }

    private int encodeInfo(final long requestId)
    {
        final long[] ids = scheduler.workerIds();
        final ClusterInfoEncoder e = new ClusterInfoEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
            .requestId(requestId).taskCount(scheduler.taskCount());
        final ClusterInfoEncoder.WorkersEncoder we = e.workersCount(ids.length);
        for (final long id : ids)
        {
            we.next().nodeId(id).threads(scheduler.workerThreads(id)).memoryLimit(scheduler.workerMemoryLimit(id))
                .managedBytes(scheduler.reportedManagedBytes(id)).spilledBytes(scheduler.spilledBytes(id))
                .paused(scheduler.isPaused(id) ? BooleanType.TRUE : BooleanType.FALSE)
                .address(workerEndpoints.getOrDefault(id, ""));
        }
        return e.encodedLength();
    }

    private void finishRestartFor(final long workerId)
    {
        final ArrayList<Long> done = new ArrayList<>();
        for (final Long2ObjectHashMap<long[]>.EntryIterator it = restarts.entrySet().iterator(); it.hasNext(); )
        {
            it.next();
            final long requestId = it.getLongKey();
            final long[] waiting = it.getValue();
            boolean any = false;
            for (int i = 1; i < waiting.length; i++)
            {
                if (waiting[i] == workerId)
                {
                    waiting[i] = -1;
                }
                any |= waiting[i] != -1;
            }
            if (!any)
            {
                done.add(requestId);
            }
        }
        for (final long requestId : done)
        {
            final long[] waiting = restarts.remove(requestId);
            requestDone(waiting[0], requestId, RequestStatus.OK, null);
        }
    }

    // ============================================================================================ handlers

    private final class Handlers implements CommandSink, PeerListener
    {
        private final RegisterNodeDecoder register = new RegisterNodeDecoder();
        private final WorkerHeartbeatDecoder heartbeat = new WorkerHeartbeatDecoder();
        private final DefineFunctionDecoder defineFunction = new DefineFunctionDecoder();
        private final SubmitGraphDecoder submitGraph = new SubmitGraphDecoder();
        private final TaskFinishedDecoder taskFinished = new TaskFinishedDecoder();
        private final TasksFinishedDecoder tasksFinished = new TasksFinishedDecoder();
        private final TaskErredDecoder taskErred = new TaskErredDecoder();
        private final KeysStoredDecoder keysStored = new KeysStoredDecoder();
        private final WantKeysDecoder wantKeys = new WantKeysDecoder();
        private final ReleaseKeysDecoder releaseKeys = new ReleaseKeysDecoder();
        private final CancelKeysDecoder cancelKeys = new CancelKeysDecoder();
        private final RestartDecoder restart = new RestartDecoder();
        private final ScatterRequestDecoder scatter = new ScatterRequestDecoder();
        private final LocateKeysDecoder locate = new LocateKeysDecoder();
        private final RebalanceRequestDecoder rebalance = new RebalanceRequestDecoder();
        private final ReplicateRequestDecoder replicate = new ReplicateRequestDecoder();
        private final RequestDoneDecoder requestDoneDecoder = new RequestDoneDecoder();
        private final InfoRequestDecoder infoRequest = new InfoRequestDecoder();
        private final ComputeTaskEncoder computeEncoder = new ComputeTaskEncoder();
        private final KeyStateUpdateEncoder keyStateEncoder = new KeyStateUpdateEncoder();
        private final ArrayList<String> keyList = new ArrayList<>();

        void onMessage(final long peerId, final int templateId, final DirectBuffer buffer, final int offset,
            final int length)
        {
            try
            {
                dispatch(peerId, templateId, buffer, offset);
            }
            catch (final IllegalArgumentException | IllegalStateException ex)
            {
                // Bad input changes nothing in the scheduler; the node keeps running.
                LOG.warn("message {} from node {} refused: {}", templateId, peerId, ex.getMessage());
            }
        }

        private void dispatch(final long peerId, final int templateId, final DirectBuffer buffer, final int offset)
        {
            switch (templateId)
            {
                case RegisterNodeDecoder.TEMPLATE_ID:
                    onRegister(peerId, register.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case WorkerHeartbeatDecoder.TEMPLATE_ID:
                {
                    final WorkerHeartbeatDecoder h = heartbeat.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    if (workerEndpoints.containsKey(peerId))
                    {
                        scheduler.workerHeartbeat(System.nanoTime(), peerId, h.managedBytes(), h.spilledBytes(),
                            h.paused() == BooleanType.TRUE, h.executing());
                        final long[] view = workerView.get(peerId);
                        if (null != view)
                        {
                            view[0] = h.managedBytes();
                        }
                    }
                    break;
                }
                case DefineFunctionDecoder.TEMPLATE_ID:
                {
                    final DefineFunctionDecoder d = defineFunction.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final long id = d.functionId();
                    final byte[] code = new byte[d.codeLength()];
                    d.getCode(code, 0, code.length);
                    functions.put(id, code);
                    break;
                }
                case SubmitGraphDecoder.TEMPLATE_ID:
                    onSubmit(peerId, submitGraph.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case TaskFinishedDecoder.TEMPLATE_ID:
                {
                    final TaskFinishedDecoder d = taskFinished.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final long nbytes = d.nbytes();
                    final long durationNs = d.durationNs();
                    final int type = d.typeCode();
                    final String key = d.key();
                    d.wrapValue(inlineValue);
                    finished(peerId, key, nbytes, type, durationNs);
                    break;
                }
                case TasksFinishedDecoder.TEMPLATE_ID:
                    for (final TasksFinishedDecoder.TasksDecoder t :
                        tasksFinished.wrapAndApplyHeader(buffer, offset, headerDecoder).tasks())
                    {
                        final long nbytes = t.nbytes();
                        final long durationNs = t.durationNs();
                        final int type = t.typeCode();
                        final String key = t.key();
                        t.wrapValue(inlineValue);
                        finished(peerId, key, nbytes, type, durationNs);
                    }
                    break;
                case TaskErredDecoder.TEMPLATE_ID:
                {
                    final TaskErredDecoder d = taskErred.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final String key = d.key();
                    final String cls = d.exceptionClass();
                    final String msg = d.message();
                    final String stack = d.stackTrace();
                    scheduler.taskErred(peerId, key, GridProtocol.joinError(cls, msg, stack));
                    break;
                }
                case KeysStoredDecoder.TEMPLATE_ID:
                    onKeysStored(peerId, keysStored.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case WantKeysDecoder.TEMPLATE_ID:
                    for (final WantKeysDecoder.KeysDecoder k : wantKeys.wrapAndApplyHeader(buffer, offset, headerDecoder).keys())
                    {
                        scheduler.wantKey(peerId, k.key());
                    }
                    break;
                case ReleaseKeysDecoder.TEMPLATE_ID:
                    for (final ReleaseKeysDecoder.KeysDecoder k : releaseKeys.wrapAndApplyHeader(buffer, offset, headerDecoder).keys())
                    {
                        final int n = k.keyLength();
                        final byte[] bytes = keyScratch(n);
                        scheduler.releaseKey(peerId, new String(bytes, 0, k.getKey(bytes, 0, n), StandardCharsets.UTF_8));
                    }
                    break;
                case CancelKeysDecoder.TEMPLATE_ID:
                {
                    final CancelKeysDecoder d = cancelKeys.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final boolean force = d.force() == BooleanType.TRUE;
                    keyList.clear();
                    for (final CancelKeysDecoder.KeysDecoder k : d.keys())
                    {
                        final int n = k.keyLength();
                        final byte[] bytes = keyScratch(n);
                        keyList.add(new String(bytes, 0, k.getKey(bytes, 0, n), StandardCharsets.UTF_8));
                    }
                    scheduler.cancel(peerId, keyList, force, d.callerMarks() != BooleanType.TRUE);
                    break;
                }
                case RestartDecoder.TEMPLATE_ID:
                {
                    final long requestId = restart.wrapAndApplyHeader(buffer, offset, headerDecoder).requestId();
                    final long[] ids = scheduler.workerIds();
                    final long[] waiting = new long[ids.length + 1];
                    waiting[0] = peerId;
                    System.arraycopy(ids, 0, waiting, 1, ids.length);
                    restartRequest = requestId;
                    scheduler.restart();
                    partialGraphs.clear();
                    partialWants.clear();
                    scatters.clear();
                    if (ids.length == 0)
                    {
                        requestDone(peerId, requestId, RequestStatus.OK, null);
                    }
                    else
                    {
                        restarts.put(requestId, waiting);
                    }
                    break;
                }
                case ScatterRequestDecoder.TEMPLATE_ID:
                    onScatter(peerId, scatter.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case LocateKeysDecoder.TEMPLATE_ID:
                    onLocate(peerId, locate.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case RebalanceRequestDecoder.TEMPLATE_ID:
                {
                    final RebalanceRequestDecoder d = rebalance.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final long requestId = d.requestId();
                    keyList.clear();
                    for (final RebalanceRequestDecoder.KeysDecoder k : d.keys())
                    {
                        keyList.add(k.key());
                    }
                    final long[] ws = workers(d.workers());
                    try
                    {
                        final int moves = scheduler.rebalance(keyList.isEmpty() ? null : keyList, ws);
                        requestDone(peerId, requestId, RequestStatus.OK, Integer.toString(moves));
                    }
                    catch (final IllegalArgumentException | IllegalStateException ex)
                    {
                        requestDone(peerId, requestId, RequestStatus.FAILED, ex.getMessage());
                    }
                    break;
                }
                case ReplicateRequestDecoder.TEMPLATE_ID:
                {
                    final ReplicateRequestDecoder d = replicate.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final long requestId = d.requestId();
                    final int copies = d.copies();
                    keyList.clear();
                    for (final ReplicateRequestDecoder.KeysDecoder k : d.keys())
                    {
                        keyList.add(k.key());
                    }
                    final long[] ws = workers(d.workers());
                    try
                    {
                        scheduler.replicate(keyList, copies, ws);
                        final ReplicateWait wait = new ReplicateWait(peerId, requestId, new ArrayList<>(keyList));
                        if (wait.settled(scheduler))
                        {
                            requestDone(peerId, requestId, RequestStatus.OK, null);
                        }
                        else
                        {
                            replicateWaits.add(wait);
                        }
                    }
                    catch (final IllegalArgumentException | IllegalStateException ex)
                    {
                        requestDone(peerId, requestId, RequestStatus.FAILED, ex.getMessage());
                    }
                    break;
                }
                case RequestDoneDecoder.TEMPLATE_ID:
                    onWorkerRequestDone(peerId, requestDoneDecoder.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case InfoRequestDecoder.TEMPLATE_ID:
                {
                    final long requestId = infoRequest.wrapAndApplyHeader(buffer, offset, headerDecoder).requestId();
                    send(peerId, encodeInfo(requestId));
                    break;
                }
                default:
                    LOG.debug("ignoring message {} from {}", templateId, peerId);
                    break;
            }
        }

        private long[] workers(final Iterable<? extends Object> group)
        {
            final ArrayList<Long> ids = new ArrayList<>();
            for (final Object o : group)
            {
                if (o instanceof RebalanceRequestDecoder.WorkersDecoder)
                {
                    ids.add(((RebalanceRequestDecoder.WorkersDecoder)o).nodeId());
                }
                else if (o instanceof ReplicateRequestDecoder.WorkersDecoder)
                {
                    ids.add(((ReplicateRequestDecoder.WorkersDecoder)o).nodeId());
                }
                else if (o instanceof ScatterRequestDecoder.WorkersDecoder)
                {
                    ids.add(((ScatterRequestDecoder.WorkersDecoder)o).nodeId());
                }
            }
            return ids.isEmpty() ? null : ids.stream().mapToLong(Long::longValue).toArray();
        }

        private void onRegister(final long peerId, final RegisterNodeDecoder d)
        {
            final NodeRole role = d.role();
            final int threads = d.threads();
            final long memoryLimit = d.memoryLimit();
            d.pid();
            final String name = d.name();
            final RegisterAckEncoder ack = new RegisterAckEncoder().wrapAndApplyHeader(out, 0, headerEncoder);
            if (role == NodeRole.WORKER)
            {
                if (workerEndpoints.containsKey(peerId))
                {
                    ack.accepted(BooleanType.TRUE).epoch(0).message("already registered");
                    send(peerId, ack.encodedLength());
                    return;
                }
                try
                {
                    scheduler.workerJoined(System.nanoTime(), peerId, threads, memoryLimit);
                }
                catch (final IllegalArgumentException ex)
                {
                    ack.accepted(BooleanType.FALSE).epoch(0).message(ex.getMessage());
                    send(peerId, ack.encodedLength());
                    return;
                }
                workerEndpoints.put(peerId, name);
                functionsOnWorker.put(peerId, new LongHashSet());
                workerView.put(peerId, new long[]{0});
                LOG.info("worker {} joined from {} ({} threads, limit {} bytes)", peerId, name, threads, memoryLimit);
                ack.accepted(BooleanType.TRUE).epoch(0).message("");
                send(peerId, ack.encodedLength());
                broadcastDirectory();
            }
            else if (role == NodeRole.CLIENT)
            {
                if (!clients.contains(peerId))
                {
                    scheduler.clientConnected(peerId);
                    clients.add(peerId);
                    clientCount = clients.size();
                    LOG.info("client {} connected from {}", peerId, name);
                }
                ack.accepted(BooleanType.TRUE).epoch(0).message("");
                send(peerId, ack.encodedLength());
                send(peerId, encodeInfo(0));
            }
            else
            {
                ack.accepted(BooleanType.FALSE).epoch(0).message("unexpected role " + role);
                send(peerId, ack.encodedLength());
            }
        }

        /** A task finished; {@link #inlineValue} holds its result when the worker sent it inline (else empty). */
        private void finished(final long workerId, final String key, final long nbytes, final int type,
            final long durationNs)
        {
            String typeName = typeNames.get(type);
            if (null == typeName)
            {
                typeName = "codec-" + type;
                typeNames.put(type, typeName);
            }
            // A small result came inline: hand it to the key-state updates this event makes, then forget it.
            inlineKey = inlineValue.capacity() > 0 ? key : null;
            try
            {
                scheduler.taskFinished(workerId, key, nbytes, typeName, durationNs);
            }
            finally
            {
                inlineKey = null;
            }
        }

        private void onSubmit(final long clientId, final SubmitGraphDecoder d)
        {
            final long graphId = d.graphId();
            TaskGraph graph = partialGraphs.get(clientId);
            if (null == graph)
            {
                graph = new TaskGraph();
                partialGraphs.put(clientId, graph);
                partialWants.put(clientId, new ArrayList<>());
            }
            final ArrayList<String> wantList = partialWants.get(clientId);
            String badFunction = null;
            for (final SubmitGraphDecoder.TasksDecoder t : d.tasks())
            {
                final long fnId = t.functionId();
                final int priority = t.priority();
                final int retries = t.retries();
                t.pure();
                final boolean allowOther = t.allowOtherWorkers() == BooleanType.TRUE;
                keyList.clear();
                for (final SubmitGraphDecoder.TasksDecoder.DependenciesDecoder dep : t.dependencies())
                {
                keyList.add(dep.key());
                }
                long[] ws = null;
                final SubmitGraphDecoder.TasksDecoder.WorkersDecoder wd = t.workers();
                if (wd.count() > 0)
                {
                    ws = new long[wd.count()];
                    int i = 0;
                    for (final SubmitGraphDecoder.TasksDecoder.WorkersDecoder w : wd)
                    {
                        ws[i++] = w.nodeId();
                    }
                }
                final String key = t.key();
                // The scheduler's opaque payload: the function id, then the encoded arguments.
                final byte[] payload = new byte[8 + t.argumentsLength()];
                new UnsafeBuffer(payload).putLong(0, fnId, ByteOrder.LITTLE_ENDIAN);
                t.getArguments(payload, 8, payload.length - 8);
                if (!functions.containsKey(fnId))
                {
                    badFunction = "task '" + key + "' uses function " + Long.toHexString(fnId) + " that was never defined";
                }
                graph.task(key, payload).priority(priority).retries(Math.min(127, Math.max(0, retries))).kind(fnId);
                for (final String dep : keyList)
                {
                    graph.dependsOn(dep);
                }
                if (null != ws)
                {
                    graph.workers(ws, allowOther);
                }
            }
            for (final SubmitGraphDecoder.WantsDecoder w : d.wants())
            {
                final String key = w.key();
                graph.want(key);
                wantList.add(key);
            }
            if (graphId < 0)
            {
                return; // more chunks of this graph follow
            }
            partialGraphs.remove(clientId);
            partialWants.remove(clientId);
            graphWants.clear();
            graphWants.addAll(wantList);
            if (null != badFunction)
            {
                refuseGraph(clientId, graph, badFunction);
                return;
            }
            try
            {
                scheduler.submitGraph(clientId, graph);
            }
            catch (final IllegalArgumentException ex)
            {
                refuseGraph(clientId, graph, ex.getMessage());
            }
        }

        private void refuseGraph(final long clientId, final TaskGraph graph, final String reason)
        {
            LOG.warn("graph from client {} refused: {}", clientId, reason);
            final String error = GridProtocol.joinError("java.lang.IllegalArgumentException", reason, "");
            for (final String key : wantedKeys(graph))
            {
                keyStatus(clientId, key, KeyStatus.ERRED, error);
            }
        }

        private List<String> wantedKeys(final TaskGraph graph)
        {
            return graphWants;
        }

        /** The wanted keys of the graph being collected (TaskGraph does not expose its wants). */
        private final List<String> graphWants = new ArrayList<>();

        private void onKeysStored(final long peerId, final KeysStoredDecoder d)
        {
            final long requestId = d.requestId();
            if (clients.contains(peerId))
            {
                final HashMap<String, long[]> placed = scatters.remove(requestId);
                for (final KeysStoredDecoder.KeysDecoder k : d.keys())
                {
                    final long nbytes = k.nbytes();
                    k.typeCode();
                    final String key = k.key();
                    final long[] holders = null == placed ? null : placed.get(key);
                    if (null != holders)
                    {
                        scheduler.dataScattered(peerId, key, nbytes, holders);
                    }
                }
            }
            else
            {
                for (final KeysStoredDecoder.KeysDecoder k : d.keys())
                {
                    k.nbytes();
                    k.typeCode();
                    scheduler.replicaAdded(peerId, k.key());
                }
            }
        }

        private void onScatter(final long clientId, final ScatterRequestDecoder d)
        {
            final long requestId = d.requestId();
            final boolean broadcast = d.broadcast() == BooleanType.TRUE;
            final ArrayList<String> keys = new ArrayList<>();
            final ArrayList<Long> sizes = new ArrayList<>();
            for (final ScatterRequestDecoder.KeysDecoder k : d.keys())
            {
                sizes.add(k.nbytes());
                keys.add(k.key());
            }
            long[] allowed = workers(d.workers());
            final HashMap<String, long[]> placed = new HashMap<>();
            try
            {
                if (broadcast)
                {
                    if (null == allowed)
                    {
                        allowed = scheduler.workerIds();
                    }
                    final LongHashSet live = new LongHashSet();
                    for (final long w : scheduler.workerIds())
                    {
                        live.add(w);
                    }
                    final long[] holders = Arrays.stream(allowed).filter(live::contains).toArray();
                    if (holders.length == 0)
                    {
                        throw new IllegalStateException("no live worker to broadcast to");
                    }
                    for (final String k : keys)
                    {
                        placed.put(k, holders);
                    }
                }
                else
                {
                    final long[] nbytes = sizes.stream().mapToLong(Long::longValue).toArray();
                    final long[] where = new long[keys.size()];
                    scheduler.placeScatter(nbytes, keys.size(), allowed, where);
                    for (int i = 0; i < keys.size(); i++)
                    {
                        placed.put(keys.get(i), new long[]{where[i]});
                    }
                }
            }
            catch (final IllegalArgumentException | IllegalStateException ex)
            {
                final KeyLocationsEncoder e = new KeyLocationsEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .requestId(requestId).more(BooleanType.FALSE);
                e.locationsCount(0);
                send(clientId, e.encodedLength());
                return;
            }
            scatters.put(requestId, placed);
            final ArrayList<Object[]> locations = new ArrayList<>();
            for (int i = 0; i < keys.size(); i++)
            {
                for (final long h : placed.get(keys.get(i)))
                {
                    locations.add(new Object[]{keys.get(i), h, sizes.get(i)});
                }
            }
            sendLocations(clientId, requestId, locations);
        }

        private void onLocate(final long peerId, final LocateKeysDecoder d)
        {
            final long requestId = d.requestId();
            final ArrayList<Object[]> locations = new ArrayList<>();
            final LocateKeysDecoder.KeysDecoder keys = d.keys();
            if (keys.count() == 0)
            {
                for (final long w : scheduler.workerIds())
                {
                    scheduler.hasWhat(w, key -> locations.add(new Object[]{key, w, scheduler.nbytes(key)}));
                }
            }
            else
            {
                for (final LocateKeysDecoder.KeysDecoder k : keys)
                {
                    final String key = k.key();
                    final long[] holders = scheduler.whoHas(key);
                    if (null != holders)
                    {
                        for (final long h : holders)
                        {
                            locations.add(new Object[]{key, h, scheduler.nbytes(key)});
                        }
                    }
                }
            }
            sendLocations(peerId, requestId, locations);
        }

        /**
         * A KeyLocations answer of {key, holder, nbytes} entries in as many messages as it needs; every one but the
         * last says more follow (a long listing or a broadcast's placements outgrow one message).
         */
        private void sendLocations(final long peerId, final long requestId, final List<Object[]> locations)
        {
            int from = 0;
            do
            {
                // Each location: node id and size (16 bytes), then the key (length prefix, at most 3 bytes a char).
                int n = 0;
                int length = MessageHeaderEncoder.ENCODED_LENGTH + KeyLocationsEncoder.BLOCK_LENGTH + 4;
                while (from + n < locations.size() && n < KeyLocationsEncoder.LocationsEncoder.countMaxValue())
                {
                    length += 16 + 4 + 3 * ((String)locations.get(from + n)[0]).length();
                    if (n > 0 && length > out.capacity())
                    {
                        break;
                    }
                    n++;
                }
                final boolean more = from + n < locations.size();
                final KeyLocationsEncoder e = new KeyLocationsEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .requestId(requestId).more(more ? BooleanType.TRUE : BooleanType.FALSE);
                final KeyLocationsEncoder.LocationsEncoder le = e.locationsCount(n);
                for (int i = from; i < from + n; i++)
                {
                    final Object[] l = locations.get(i);
                    le.next().nodeId((Long)l[1]).nbytes((Long)l[2]).key((String)l[0]);
                }
                send(peerId, e.encodedLength());
                from += n;
            }
            while (from < locations.size());
        }

        private void onWorkerRequestDone(final long workerId, final RequestDoneDecoder d)
        {
            final long requestId = d.requestId();
            final RequestStatus status = d.status();
            keyList.clear();
            for (final RequestDoneDecoder.KeysDecoder k : d.keys())
            {
                keyList.add(k.key());
            }
            final String message = d.message();
            if (requestId != 0)
            {
                finishRestartFor(workerId);
                return;
            }
            for (final String key : keyList)
            {
                if (status == RequestStatus.NOT_FOUND)
                {
                    long holder = -1;
                    try
                    {
                        holder = Long.parseLong(message);
                    }
                    catch (final NumberFormatException ignore)
                    {
                        // a holder we cannot name: only the task is re-sent
                    }
                    scheduler.missingData(workerId, key, holder);
                }
                else
                {
                    scheduler.replicaFailed(workerId, key);
                }
            }
        }

        // ---------------------------------------------------------------------------------- PeerListener

        public void onPeerJoined(final long peerId, final String endpoint)
        {
        }

        public void onPeerLost(final long peerId, final String reason, final int droppedMessages)
        {
            if (workerEndpoints.remove(peerId) != null)
            {
                LOG.info("worker {} lost: {}", peerId, reason);
                functionsOnWorker.remove(peerId);
                workerView.remove(peerId);
                scheduler.workerDied(peerId);
                finishRestartFor(peerId);
                broadcastDirectory();
            }
            else if (clients.remove(peerId))
            {
                clientCount = clients.size();
                partialGraphs.remove(peerId);
                partialWants.remove(peerId);
                keyStates.forget(peerId);
                replicateWaits.removeIf(wait -> wait.peerId == peerId);
                scheduler.clientDisconnected(peerId);
            }
        }

        // ---------------------------------------------------------------------------------- CommandSink

        public void computeTask(final long workerId, final ComputeTask task)
        {
            final byte[] payload = task.function();
            final long fnId = new UnsafeBuffer(payload).getLong(0, ByteOrder.LITTLE_ENDIAN);
            final LongHashSet defined = functionsOnWorker.get(workerId);
            if (null != defined && defined.add(fnId))
            {
                final byte[] code = functions.get(fnId);
                final DefineFunctionEncoder e = new DefineFunctionEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .functionId(fnId);
                e.putCode(code, 0, code.length);
                send(workerId, e.encodedLength());
            }
            int inputs = 0;
            for (int i = 0; i < task.dependencyCount(); i++)
            {
                inputs += task.dependencyHolderCount(i);
            }
            final ComputeTaskEncoder e = computeEncoder.wrapAndApplyHeader(out, 0, headerEncoder)
                .functionId(fnId).priority(task.priority());
            final ComputeTaskEncoder.InputsEncoder ie = e.inputsCount(inputs);
            for (int i = 0; i < task.dependencyCount(); i++)
            {
                final String dep = task.dependencyKey(i);
                for (int h = 0; h < task.dependencyHolderCount(i); h++)
                {
                    ie.next().nodeId(task.dependencyHolder(i, h)).nbytes(task.dependencyNbytes(i)).key(dep);
                }
            }
            e.key(task.key());
            e.putArguments(payload, 8, payload.length - 8);
            send(workerId, e.encodedLength());
        }

        public void cancelCompute(final long workerId, final String key)
        {
            final CancelKeysEncoder e = new CancelKeysEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .force(BooleanType.FALSE).callerMarks(BooleanType.FALSE);
            e.keysCount(1).next().key(key);
            send(workerId, e.encodedLength());
        }

        public void freeKey(final long workerId, final String key)
        {
            // Batched per worker until the end of the duty cycle, or until anything else is sent to that worker.
            ArrayList<String> batch = pendingFrees.get(workerId);
            if (null == batch)
            {
                batch = new ArrayList<>();
                pendingFrees.put(workerId, batch);
            }
            if (batch.isEmpty())
            {
                workersWithFrees.add(workerId);
            }
            batch.add(key);
        }

        public void copyKey(final String key, final long fromWorkerId, final long toWorkerId)
        {
            final CopyKeysEncoder e = new CopyKeysEncoder().wrapAndApplyHeader(out, 0, headerEncoder).requestId(0);
            e.keysCount(1).next().sourceNodeId(fromWorkerId).key(key);
            send(toWorkerId, e.encodedLength());
        }

        public void dropReplica(final long workerId, final String key)
        {
            freeKey(workerId, key);
        }

        public void keyStatus(final long clientId, final String key, final KeyStatus status, final String message)
        {
            final KeyState state;
            switch (status)
            {
                case MEMORY:
                    state = KeyState.MEMORY;
                    break;
                case ERRED:
                    state = KeyState.ERRED;
                    break;
                case CANCELLED:
                    state = KeyState.CANCELLED;
                    break;
                case LOST:
                    state = KeyState.LOST;
                    break;
                default:
                    state = KeyState.PENDING;
                    break;
            }
            final long nbytes = status == KeyStatus.MEMORY ? Math.max(0, scheduler.nbytes(key)) : 0;
            final boolean inline = status == KeyStatus.MEMORY && null != inlineKey && inlineKey.equals(key);
            final int valueLength = inline ? inlineValue.capacity() : 0;
            if (status != KeyStatus.ERRED &&
                keyStates.add(clientId, state, nbytes, key, null == message ? "" : message, inlineValue, valueLength))
            {
                return;
            }
            // An error (class, message and stack trace) or an update too large to batch goes alone, in order.
            final KeyStateUpdateEncoder e = keyStateEncoder.wrapAndApplyHeader(out, 0, headerEncoder);
            e.state(state).nbytes(nbytes).typeCode(0);
            e.key(key);
            if (status == KeyStatus.ERRED)
            {
                final String[] parts = GridProtocol.splitError(message);
                e.exceptionClass(parts[0]).message(parts[1]).stackTrace(parts[2]);
            }
            else
            {
                e.exceptionClass("").message(null == message ? "" : message).stackTrace("");
            }
            e.putValue(inlineValue, 0, valueLength);
            send(clientId, e.encodedLength());
        }

        public void restartWorker(final long workerId)
        {
            final RestartEncoder e = new RestartEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .requestId(restartRequest);
            send(workerId, e.encodedLength());
        }

        public void workerRemoved(final long workerId, final String reason)
        {
            LOG.info("worker {} removed: {}", workerId, reason);
            workerEndpoints.remove(workerId);
            pendingFrees.remove(workerId);
            functionsOnWorker.remove(workerId);
            workerView.remove(workerId);
            node.removePeer(workerId);
            finishRestartFor(workerId);
            broadcastDirectory();
        }
    }
}
