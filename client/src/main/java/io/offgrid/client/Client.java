package io.offgrid.client;

import io.offgrid.client.internal.GridProtocol;
import io.offgrid.client.internal.PeerDirectory;
import io.offgrid.client.internal.TaskArguments;
import io.offgrid.client.internal.TaskFunctions;
import io.offgrid.memory.Block;
import io.offgrid.memory.BlockReservation;
import io.offgrid.memory.BlockStore;
import io.offgrid.memory.CodecRegistry;
import io.offgrid.transport.BlockAllocator;
import io.offgrid.transport.BlockListener;
import io.offgrid.transport.PeerListener;
import io.offgrid.transport.AgentGroup;
import io.offgrid.transport.TransportNode;
import io.offgrid.transport.protocol.BlockStatus;
import io.offgrid.transport.protocol.BooleanType;
import io.offgrid.transport.protocol.CancelKeysEncoder;
import io.offgrid.transport.protocol.ClusterInfoDecoder;
import io.offgrid.transport.protocol.DefineFunctionEncoder;
import io.offgrid.transport.protocol.FetchKeyEncoder;
import io.offgrid.transport.protocol.InfoRequestEncoder;
import io.offgrid.transport.protocol.KeyLocationsDecoder;
import io.offgrid.transport.protocol.KeyStateUpdateDecoder;
import io.offgrid.transport.protocol.KeyStatesDecoder;
import io.offgrid.transport.protocol.KeysStoredEncoder;
import io.offgrid.transport.protocol.LocateKeysEncoder;
import io.offgrid.transport.protocol.MessageHeaderDecoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.NodeRole;
import io.offgrid.transport.protocol.RebalanceRequestEncoder;
import io.offgrid.transport.protocol.RegisterAckDecoder;
import io.offgrid.transport.protocol.RegisterNodeEncoder;
import io.offgrid.transport.protocol.ReleaseKeysEncoder;
import io.offgrid.transport.protocol.ReplicateRequestEncoder;
import io.offgrid.transport.protocol.RequestDoneDecoder;
import io.offgrid.transport.protocol.RequestStatus;
import io.offgrid.transport.protocol.RestartEncoder;
import io.offgrid.transport.protocol.ScatterRequestEncoder;
import io.offgrid.transport.protocol.SubmitGraphEncoder;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;
import org.agrona.concurrent.UnsafeBuffer;

import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.WeakHashMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A connection to an Offgrid cluster: submit tasks, scatter and gather data, compute and persist collections,
 * and manage what stays in memory. Thread-safe: API calls from any thread hand their work to the client's
 * transport agent thread, which alone talks to the cluster.
 * <pre>{@code
 * try (Client client = Client.connect("127.0.0.1:4000"))
 * {
 *     GridFuture<Integer> x = client.submit((Integer a) -> a + 1, 41);
 *     GridFuture<Integer> y = client.submit((Integer a) -> a * 2, x);   // depends on x, runs where x is
 *     x.release();                                                     // y still needs x until it has run
 *     System.out.println(y.get());                                     // 84
 * }
 * }</pre>
 * The most recently opened client is the default for {@link Delayed#compute()} and {@link Bag#persist()}.
 */
public final class Client implements AutoCloseable
{
    private static volatile Client current;

    private final ClientConfig config;
    private final long nodeId;
    private final CodecRegistry codecs;
    private final BlockStore store;
    private final TransportNode node;
    private final AtomicLong nextRequestId = new AtomicLong(1);
    private final AtomicLong nextLocalKey = new AtomicLong(1);
    private static final String INLINE_PREFIX = "inline-";
    private final CompletableFuture<Void> registered = new CompletableFuture<>();

    /** Guarded by itself: the want table shared by user threads and the agent. */
    private final HashMap<String, WantedKey> wants = new HashMap<>();
    private final Map<Object, ShippedFunction> shipped = new WeakHashMap<>();
    private volatile GridException failure;
    private volatile boolean closed;

    // ---- agent thread only
    private final UnsafeBuffer out;
    // ---- release batching, agent thread only
    private final UnsafeBuffer releaseOut;
    private final ReleaseKeysEncoder releaseEncoder = new ReleaseKeysEncoder();
    private final ArrayList<String> releaseBatch = new ArrayList<>();
    /** Written by the agent only; read by anyone. */
    private volatile long releasesSent;
    private final AtomicInteger releasesQueued = new AtomicInteger();
    private static final int RELEASE_BATCH_LIMIT = 4096;
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final Long2ObjectHashMap<Pending> pending = new Long2ObjectHashMap<>();
    private final LongHashSet definedFunctions = new LongHashSet();
    private final PeerDirectory directory = new PeerDirectory();
    private final HashMap<String, Incoming> incoming = new HashMap<>();
    private final HashMap<String, Outgoing> outgoing = new HashMap<>();

    private record ShippedFunction(long id, byte[] code)
    {
    }

    /** A task ready to be sent: its function shipped by id. */
    /** Bytes one scattered value takes at most in a request or stored notice: sizes, lengths, "scatter-" + 16 hex. */
    private static final int SCATTER_ENTRY_BOUND = 64;

    record TaskSpec(String key, long functionId, byte[] functionCode, byte[] arguments, List<String> dependencies,
        int priority, int retries, boolean pure, long[] workers, boolean allowOtherWorkers)
    {
    }

    private Client(final ClientConfig config)
    {
        this.config = config.conclude();
        this.nodeId = config.nodeId();
        this.codecs = new CodecRegistry(config.serializationAllowList());
        this.store = new BlockStore(new BlockStore.Context()
            .name("client-" + Long.toHexString(nodeId))
            .memoryLimit(config.memoryLimit())
            .backgroundSpill(false)
            .codecs(codecs));
        final ClientHandlers handlers = new ClientHandlers();
        final TransportNode.Context ctx = new TransportNode.Context()
            .nodeId(nodeId)
            .listenEndpoint(config.listenEndpoint())
            .clusterSecret(config.clusterSecret())
            .peerTimeoutNs(config.peerTimeoutNs())
            .heartbeatIntervalNs(Math.min(500_000_000L, config.peerTimeoutNs() / 4))
            .defaultHandler(handlers::onMessage)
            .peerListener(handlers)
            .blockAllocator(handlers)
            .blockListener(handlers);
        if (null != config.aeronDirectoryName())
        {
            ctx.aeronDirectoryName(config.aeronDirectoryName());
        }
        final AgentGroup group = config.agentGroup();
        if (null != group)
        {
            ctx.agentGroup(group);
        }
        TransportNode launched = null;
        try
        {
            launched = TransportNode.launch(ctx);
            if (null != group)
            {
                group.add(launched);
            }
        }
        catch (final RuntimeException ex)
        {
            if (null != launched)
            {
                final TransportNode failed = launched;
                group.call(() ->
                {
                    failed.close();
                    return null;
                });
            }
            store.close();
            throw ex;
        }
        this.node = launched;
        this.out = new UnsafeBuffer(new byte[node.maxMessageLength()]);
        this.releaseOut = new UnsafeBuffer(new byte[node.maxMessageLength()]);
    }

    /**
     * Connect to the scheduler at {@code address} with default settings.
     *
     * @param address host:port.
     * @return the connected client; it becomes the default client.
     */
    public static Client connect(final String address)
    {
        return connect(new ClientConfig().schedulerAddress(address));
    }

    /**
     * Connect with the given settings; blocks until the scheduler accepted the registration.
     *
     * @param config settings.
     * @return the connected client; it becomes the default client.
     * @throws GridException if the scheduler does not answer within the request timeout.
     */
    public static Client connect(final ClientConfig config)
    {
        final Client client = new Client(config);
        try
        {
            client.node.execute(() ->
            {
                client.node.addPeer(GridProtocol.SCHEDULER_NODE_ID, client.config.schedulerAddress());
                final RegisterNodeEncoder e = new RegisterNodeEncoder()
                    .wrapAndApplyHeader(client.out, 0, client.headerEncoder)
                    .role(NodeRole.CLIENT).threads(0).memoryLimit(0).pid(ProcessHandle.current().pid())
                    .name(client.node.endpoint());
                client.sendToScheduler(e.encodedLength());
            });
            client.await(client.registered, client.config.requestTimeoutNs(), "connect to " + config.schedulerAddress());
        }
        catch (final RuntimeException ex)
        {
            client.close();
            throw ex;
        }
        current = client;
        return client;
    }

    /**
     * @return the most recently connected client that is still open.
     * @throws IllegalStateException if there is none.
     */
    public static Client current()
    {
        final Client c = current;
        if (null == c || c.closed)
        {
            throw new IllegalStateException("no open Client: call Client.connect(...) or LocalCluster.client() first");
        }
        return c;
    }

    /**
     * @return this client's node id.
     */
    public long id()
    {
        return nodeId;
    }

    /**
     * @return this client's transport counters (thread-safe reads, for diagnostics): for example how many gathered
     *         blocks were read straight from a worker's memory on this host ({@code blocksReadDirect}) and how many
     *         scattered blocks a worker asked to have streamed instead ({@code offersStreamed}).
     */
    public io.offgrid.transport.TransportCounters transportCounters()
    {
        return node.counters();
    }

    /**
     * @return the codecs this client encodes arguments and decodes results with.
     */
    public CodecRegistry codecs()
    {
        return codecs;
    }

    long requestTimeoutNs()
    {
        return config.requestTimeoutNs();
    }

    // =============================================================================================== submit

    /**
     * Run {@code fn()} on a worker.
     *
     * @param fn  the function.
     * @param <R> result type.
     * @return a future to the result.
     */
    public <R> GridFuture<R> submit(final SerializableCallable<R> fn)
    {
        return submitAny(fn, SubmitOptions.options(), new Object[0]);
    }

    /**
     * Run {@code fn(arg)} on a worker. A {@link GridFuture} argument is a dependency: the task runs after it,
     * on a worker that fetches the value from a holder.
     *
     * @param fn  the function.
     * @param arg a value or a future.
     * @param <T> argument type.
     * @param <R> result type.
     * @return a future to the result.
     */
    public <T, R> GridFuture<R> submit(final SerializableFunction<T, R> fn, final Object arg)
    {
        return submitAny(fn, SubmitOptions.options(), new Object[]{arg});
    }

    /**
     * Run {@code fn(a, b)} on a worker.
     *
     * @param fn  the function.
     * @param a   first argument (value or future).
     * @param b   second argument (value or future).
     * @param <T> first type.
     * @param <U> second type.
     * @param <R> result type.
     * @return a future to the result.
     */
    public <T, U, R> GridFuture<R> submit(final SerializableBiFunction<T, U, R> fn, final Object a, final Object b)
    {
        return submitAny(fn, SubmitOptions.options(), new Object[]{a, b});
    }

    /**
     * Run {@code fn()} with options.
     *
     * @param fn      the function.
     * @param options key, workers, priority, retries, purity.
     * @param <R>     result type.
     * @return a future to the result.
     */
    public <R> GridFuture<R> submit(final SerializableCallable<R> fn, final SubmitOptions options)
    {
        return submitAny(fn, options, new Object[0]);
    }

    /**
     * Run {@code fn(arg)} with options.
     *
     * @param fn      the function.
     * @param options key, workers, priority, retries, purity.
     * @param arg     a value or a future.
     * @param <T>     argument type.
     * @param <R>     result type.
     * @return a future to the result.
     */
    public <T, R> GridFuture<R> submit(final SerializableFunction<T, R> fn, final SubmitOptions options, final Object arg)
    {
        return submitAny(fn, options, new Object[]{arg});
    }

    /**
     * Run {@code fn(a, b)} with options.
     *
     * @param fn      the function.
     * @param options key, workers, priority, retries, purity.
     * @param a       first argument (value or future).
     * @param b       second argument (value or future).
     * @param <T>     first type.
     * @param <U>     second type.
     * @param <R>     result type.
     * @return a future to the result.
     */
    public <T, U, R> GridFuture<R> submit(
        final SerializableBiFunction<T, U, R> fn, final SubmitOptions options, final Object a, final Object b)
    {
        return submitAny(fn, options, new Object[]{a, b});
    }

    @SuppressWarnings("unchecked")
    private <R> GridFuture<R> submitAny(final Object fn, final SubmitOptions options, final Object[] args)
    {
        TaskFunctions.checkArity(fn, args.length);
        final ShippedFunction f = ship(fn);
        final TaskSpec spec = task(f, "task", options.key, options, args);
        return (GridFuture<R>)submitGraph(List.of(spec), List.of(spec.key)).get(0);
    }

    /**
     * Run {@code fn} on every item; one task and one future per item, submitted as one graph. The function is
     * shipped once.
     *
     * @param fn      the function.
     * @param items   the items (values or futures).
     * @param options options for every task; a key is used as a prefix.
     * @param <T>     item type.
     * @param <R>     result type.
     * @return futures in item order.
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public <T, R> List<GridFuture<R>> map(
        final SerializableFunction<T, R> fn, final Collection<?> items, final SubmitOptions options)
    {
        final ShippedFunction f = ship(fn);
        final ArrayList<TaskSpec> specs = new ArrayList<>(items.size());
        final ArrayList<String> keys = new ArrayList<>(items.size());
        final LinkedHashMap<String, Boolean> seen = new LinkedHashMap<>();
        int i = 0;
        for (final Object item : items)
        {
            final TaskSpec spec = task(f, "map", null == options.key ? null : options.key + "-" + i, options,
                new Object[]{item});
            keys.add(spec.key);
            if (null == seen.put(spec.key, Boolean.TRUE))
            {
                specs.add(spec);
            }
            i++;
        }
        return (List)submitGraph(specs, keys);
    }

    /**
     * {@link #map(SerializableFunction, Collection, SubmitOptions)} with default options.
     *
     * @param fn    the function.
     * @param items the items.
     * @param <T>   item type.
     * @param <R>   result type.
     * @return futures in item order.
     */
    public <T, R> List<GridFuture<R>> map(final SerializableFunction<T, R> fn, final Collection<?> items)
    {
        return map(fn, items, SubmitOptions.options());
    }

    TaskSpec task(final ShippedFunction f, final String label, final String key, final SubmitOptions options,
        final Object[] args)
    {
        final Object[] encoded = new Object[args.length];
        final ArrayList<String> deps = new ArrayList<>(2);
        for (int i = 0; i < args.length; i++)
        {
            final Object a = args[i];
            if (a instanceof GridFuture)
            {
                final GridFuture<?> dep = (GridFuture<?>)a;
                if (dep.client() != this)
                {
                    throw new IllegalArgumentException("future " + dep.key() + " belongs to another client");
                }
                encoded[i] = new TaskArguments.KeyRef(dep.key());
                deps.add(dep.key());
            }
            else if (a instanceof TaskArguments.KeyRef)
            {
                encoded[i] = a;
                deps.add(((TaskArguments.KeyRef)a).key());
            }
            else
            {
                encoded[i] = a;
            }
        }
        final byte[] argBytes = TaskArguments.encode(codecs, encoded);
        String k = key;
        if (null == k)
        {
            final long token = options.pure ?
                GridProtocol.hash64(argBytes, 0, argBytes.length, f.id) :
                ThreadLocalRandom.current().nextLong();
            k = label + "-" + Long.toHexString(token);
        }
        return new TaskSpec(k, f.id, f.code, argBytes, deps, options.priority, options.retries, options.pure,
            options.workers, options.allowOtherWorkers);
    }

    ShippedFunction ship(final Object fn)
    {
        synchronized (shipped)
        {
            ShippedFunction f = shipped.get(fn);
            if (null == f)
            {
                final byte[] code = TaskFunctions.serialize(fn);
                f = new ShippedFunction(GridProtocol.hash64(code, 0, code.length, 0x0ff9), code);
                shipped.put(fn, f);
            }
            return f;
        }
    }

    /**
     * Send tasks (in dependency order) and want {@code wantKeys}; one future per wanted key, in order.
     */
    List<GridFuture<?>> submitGraph(final List<TaskSpec> tasks, final List<String> wantKeys)
    {
        checkOpen();
        final List<GridFuture<?>> futures = newFutures(wantKeys, true);
        final ArrayList<String> uniqueWants = new ArrayList<>(new LinkedHashMap<String, Boolean>()
        {
            {
                for (final String k : wantKeys)
                {
                    put(k, Boolean.TRUE);
                }
            }
        }.keySet());
        node.execute(() -> sendGraph(tasks, uniqueWants));
        return futures;
    }

    /** @param sendsWant the caller sends the scheduler a want for the keys (a submit, a scatter). */
    private List<GridFuture<?>> newFutures(final List<String> keys, final boolean sendsWant)
    {
        final ArrayList<GridFuture<?>> futures = new ArrayList<>(keys.size());
        synchronized (wants)
        {
            for (final String key : keys)
            {
                WantedKey w = wants.get(key);
                if (null == w)
                {
                    w = new WantedKey(key);
                    if (null != failure)
                    {
                        w.update(FutureStatus.ERROR, failure);
                    }
                    wants.put(key, w);
                }
                w.count++;
                if (sendsWant)
                {
                    w.wantsSent++;
                }
                futures.add(new GridFuture<>(this, w));
            }
        }
        return futures;
    }

    // =============================================================================================== scatter

    /**
     * Put one value into cluster memory.
     *
     * @param value   the value (encoded with the client's codecs).
     * @param options workers, broadcast, hashing.
     * @param <T>     value type.
     * @return a future to it; scattered data has no lineage, so it is LOST if every copy is lost.
     */
    @SuppressWarnings("unchecked")
    public <T> GridFuture<T> scatter(final T value, final ScatterOptions options)
    {
        return (GridFuture<T>)scatter(List.of(value), options).get(0);
    }

    /**
     * Put values into cluster memory: the scheduler places each on the worker with the most free memory (or on
     * every allowed worker with broadcast) and the client streams the blocks straight to them. Returns when
     * every copy has arrived.
     *
     * @param values  the values.
     * @param options workers, broadcast, hashing.
     * @param <T>     value type.
     * @return one future per value, in order.
     */
    public <T> List<GridFuture<T>> scatter(final List<T> values, final ScatterOptions options)
    {
        checkOpen();
        // A scatter request names every key with its size, and so does the stored notice: more values than one
        // message holds go a message's worth at a time.
        final int page = Math.max(1, out.capacity() / SCATTER_ENTRY_BOUND);
        if (values.size() <= page)
        {
            return scatterPage(values, options);
        }
        final List<GridFuture<T>> all = new ArrayList<>(values.size());
        try
        {
            for (int i = 0; i < values.size(); i += page)
            {
                all.addAll(scatterPage(values.subList(i, Math.min(values.size(), i + page)), options));
            }
        }
        catch (final RuntimeException ex)
        {
            for (final GridFuture<T> f : all)
            {
                f.release();
            }
            throw ex;
        }
        return all;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private <T> List<GridFuture<T>> scatterPage(final List<T> values, final ScatterOptions options)
    {
        final int n = values.size();
        final String[] locals = new String[n];
        final String[] keys = new String[n];
        final long[] sizes = new long[n];
        try
        {
            for (int i = 0; i < n; i++)
            {
                locals[i] = "scatter-src-" + nextLocalKey.getAndIncrement();
                store.put(locals[i], values.get(i));
                try (Block b = store.get(locals[i]))
                {
                    sizes[i] = b.length();
                    if (options.hash)
                    {
                        // Content-addressed key: hashed in place, in windows so payloads past 2 GiB work too.
                        long h = b.codecId();
                        final long total = b.payloadLength();
                        final UnsafeBuffer window = new UnsafeBuffer(0, 0);
                        long off = 0;
                        do
                        {
                            final int len = (int)Math.min(1 << 30, total - off);
                            window.wrap(b.payloadAddress() + off, len);
                            h = GridProtocol.hashBuffer(window, 0, len, h);
                            off += len;
                        }
                        while (off < total);
                        keys[i] = "scatter-" + Long.toHexString(h);
                    }
                    else
                    {
                        keys[i] = "scatter-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
                    }
                }
            }
            final List<GridFuture<?>> futures = newFutures(List.of(keys), true);
            final ScatterJob job = new ScatterJob(keys, locals, sizes);
            final long requestId = nextRequestId.getAndIncrement();
            node.execute(() -> startScatter(requestId, job, options));
            try
            {
                await(job.result, config.requestTimeoutNs(), "scatter");
            }
            catch (final RuntimeException ex)
            {
                for (final GridFuture<?> f : futures)
                {
                    f.release();
                }
                throw ex;
            }
            return (List)futures;
        }
        finally
        {
            for (final String local : locals)
            {
                if (null != local)
                {
                    store.remove(local);
                }
            }
        }
    }

    // =============================================================================================== gather

    /**
     * @param future a future.
     * @param <T>    value type.
     * @return its value (waits for it).
     */
    public <T> T gather(final GridFuture<T> future)
    {
        return future.get();
    }

    /**
     * Bring many results to this JVM; fetches run concurrently.
     *
     * @param futures the futures.
     * @param <T>     value type.
     * @return the values in order.
     */
    @SuppressWarnings("unchecked")
    public <T> List<T> gather(final List<? extends GridFuture<? extends T>> futures)
    {
        final long deadline = System.nanoTime() + config.requestTimeoutNs();
        helpUntilAllDone(futures, config.requestTimeoutNs());
        for (final GridFuture<?> f : futures)
        {
            awaitDone(f.want(), deadline - System.nanoTime());
        }
        final ArrayList<CompletableFuture<String>> fetches = new ArrayList<>(futures.size());
        for (final GridFuture<?> f : futures)
        {
            fetches.add(status(f.want()) == FutureStatus.FINISHED ? fetchOrInline(f.want()) : null);
        }
        final ArrayList<T> values = new ArrayList<>(futures.size());
        for (int i = 0; i < futures.size(); i++)
        {
            final CompletableFuture<String> fetch = fetches.get(i);
            Object v = null;
            if (null != fetch)
            {
                try
                {
                    v = readFetched(await(fetch, deadline - System.nanoTime(), "gather"));
                }
                catch (final GridException ex)
                {
                    v = null; // fall back to the one-by-one path, which waits for recomputation
                    fetches.set(i, null);
                }
            }
            values.add(null == fetch || null == fetches.get(i) ?
                (T)fetch(futures.get(i).want(), Math.max(1, deadline - System.nanoTime())) : (T)v);
        }
        return values;
    }

    <T> T fetch(final WantedKey want, final long timeoutNs)
    {
        final long deadline = System.nanoTime() + timeoutNs;
        GridException last = null;
        while (true)
        {
            awaitDone(want, deadline - System.nanoTime());
            final FutureStatus status;
            final Throwable error;
            synchronized (wants)
            {
                status = want.status;
                error = want.error();
            }
            switch (status)
            {
                case FINISHED:
                    break;
                case ERROR:
                    if (error instanceof RemoteTaskException)
                    {
                        final RemoteTaskException r = (RemoteTaskException)error;
                        throw new RemoteTaskException(r.key(), r.remoteClass(), r.remoteMessage(), r.remoteStackTrace());
                    }
                    throw new GridException(error.getMessage(), error);
                case CANCELLED:
                    final CancellationException c = new CancellationException(
                        "'" + want.key + "' was cancelled" + (null == error ? "" : ": " + error.getMessage()));
                    throw c;
                case LOST:
                    throw new GridException(null == error ? "'" + want.key + "' was lost" : error.getMessage(), error);
                default:
                    continue;
            }
            try
            {
                return readFetched(await(fetchOrInline(want), deadline - System.nanoTime(), "gather " + want.key));
            }
            catch (final GridException ex)
            {
                last = ex;
                if (System.nanoTime() - deadline >= 0 || null != failure)
                {
                    throw ex;
                }
                sleepQuietly(); // the holder may have died: wait for the scheduler to recompute it
            }
            if (System.nanoTime() - deadline >= 0)
            {
                throw last;
            }
        }
    }

    @SuppressWarnings("unchecked")
    private <T> T takeLocal(final String localKey)
    {
        try
        {
            return (T)store.getValue(localKey);
        }
        finally
        {
            store.remove(localKey);
        }
    }

    /** The inline copy's local key when the result came with its state update, else a fetch from a holder. */
    private CompletableFuture<String> fetchOrInline(final WantedKey want)
    {
        synchronized (wants)
        {
            if (null != want.inline)
            {
                return CompletableFuture.completedFuture(want.inline);
            }
        }
        return startFetch(want.key);
    }

    /** Decode a fetched copy (and drop it) or an inline copy (kept while the key is wanted, for the next get). */
    private <T> T readFetched(final String localKey)
    {
        return localKey.startsWith(INLINE_PREFIX) ? (T)store.getValue(localKey) : takeLocal(localKey);
    }

    private CompletableFuture<String> startFetch(final String key)
    {
        checkOpen();
        final CompletableFuture<String> result = new CompletableFuture<>();
        final long requestId = nextRequestId.getAndIncrement();
        node.execute(() -> locate(requestId, List.of(key), new Pending()
        {
            void onLocations(final KeyLocationsDecoder d)
            {
                final ArrayList<Long> holders = new ArrayList<>();
                for (final KeyLocationsDecoder.LocationsDecoder l : d.locations())
                {
                    holders.add(l.nodeId());
                    l.skipKey();
                }
                if (holders.isEmpty())
                {
                    result.completeExceptionally(new GridException("no worker holds '" + key + "'"));
                    return;
                }
                new Fetch(key, holders, result).next();
            }

            void fail(final GridException ex)
            {
                result.completeExceptionally(ex);
            }
        }));
        return result;
    }

    // =============================================================================================== collections

    /**
     * Submit collections' graphs and return one future per collection (for a {@link Bag}, a future to the list
     * of all its items).
     *
     * @param collections Delayed, Bag, Frame (a future to all its rows as one table) or Scalar objects.
     * @return futures, in order.
     */
    public List<GridFuture<?>> compute(final Object... collections)
    {
        final ArrayList<Delayed<?>> roots = new ArrayList<>();
        for (final Object c : collections)
        {
            if (c instanceof Delayed)
            {
                roots.add((Delayed<?>)c);
            }
            else if (c instanceof Bag)
            {
                roots.add(((Bag<?>)c).toList());
            }
            else if (c instanceof Frame)
            {
                roots.add(((Frame)c).toTable());
            }
            else if (c instanceof Scalar)
            {
                roots.add(((Scalar<?>)c).delayed());
            }
            else
            {
                throw new IllegalArgumentException("not a collection: " + c);
            }
        }
        return submitDelayed(roots);
    }

    /**
     * Cut the lazy graph off a Delayed: submit it and return at once a Delayed backed by a future.
     *
     * @param delayed the lazy value.
     * @param <T>     value type.
     * @return a persisted Delayed (release it to drop the data).
     */
    @SuppressWarnings("unchecked")
    public <T> Delayed<T> persist(final Delayed<T> delayed)
    {
        return Delayed.of((GridFuture<T>)submitDelayed(List.of(delayed)).get(0));
    }

    /**
     * Persist a bag: submit every partition's graph and return at once a bag whose partitions are futures.
     *
     * @param bag the bag.
     * @param <T> item type.
     * @return the persisted bag (release it to drop the data).
     */
    @SuppressWarnings("unchecked")
    public <T> Bag<T> persist(final Bag<T> bag)
    {
        final List<GridFuture<?>> futures = submitDelayed(new ArrayList<>(bag.partitions()));
        final ArrayList<Delayed<List<T>>> parts = new ArrayList<>(futures.size());
        for (final GridFuture<?> f : futures)
        {
            parts.add(Delayed.of((GridFuture<List<T>>)f));
        }
        return new Bag<>(parts);
    }

    /**
     * Persist a frame: submit every partition's graph and return at once a frame whose partitions are futures.
     *
     * @param frame the frame.
     * @return the persisted frame (release it to drop the data).
     */
    public Frame persist(final Frame frame)
    {
        return Frame.ofFutures(submitDelayed(frame.partitions()));
    }

    /** Another future object for the same key (counts as one more reference on this client). */
    <T> GridFuture<T> anotherFuture(final GridFuture<T> future)
    {
        @SuppressWarnings("unchecked")
        final GridFuture<T> f = (GridFuture<T>)newFutures(List.of(future.key()), false).get(0);
        return f;
    }

    List<GridFuture<?>> submitDelayed(final List<? extends Delayed<?>> roots)
    {
        final ArrayList<TaskSpec> specs = new ArrayList<>();
        final HashMap<String, Boolean> seen = new HashMap<>();
        final ArrayList<String> keys = new ArrayList<>(roots.size());
        final ArrayList<GridFuture<?>> pins = new ArrayList<>();
        for (final Delayed<?> root : roots)
        {
            collect(root, specs, seen, pins);
            keys.add(root.key());
        }
        final List<GridFuture<?>> result = submitGraph(specs, keys);
        // Futures the graph depends on stay referenced until the graph is on its way (sent before any release).
        node.execute(pins::clear);
        return result;
    }

    private void collect(final Delayed<?> root, final List<TaskSpec> specs, final Map<String, Boolean> seen,
        final List<GridFuture<?>> pins)
    {
        // Iterative post-order: dependencies are added before their dependents; deep chains do not grow the stack.
        final ArrayList<Object[]> stack = new ArrayList<>();
        stack.add(new Object[]{root, Boolean.FALSE});
        while (!stack.isEmpty())
        {
            final Object[] top = stack.remove(stack.size() - 1);
            final Delayed<?> d = (Delayed<?>)top[0];
            if (seen.containsKey(d.key()))
            {
                continue;
            }
            if (null != d.future())
            {
                if (d.future().client() != this)
                {
                    throw new IllegalArgumentException("'" + d.key() + "' was persisted on another client");
                }
                seen.put(d.key(), Boolean.TRUE);
                pins.add(d.future());
                continue;
            }
            if (top[1] == Boolean.TRUE)
            {
                seen.put(d.key(), Boolean.TRUE);
                final Object[] args = new Object[d.args().length];
                for (int i = 0; i < args.length; i++)
                {
                    final Object a = d.args()[i];
                    if (a instanceof Delayed)
                    {
                        args[i] = new TaskArguments.KeyRef(((Delayed<?>)a).key());
                    }
                    else if (a instanceof GridFuture)
                    {
                        pins.add((GridFuture<?>)a);
                        args[i] = a;
                    }
                    else
                    {
                        args[i] = a;
                    }
                }
                specs.add(task(ship(d.function()), "delayed", d.key(), SubmitOptions.options(), args));
                continue;
            }
            stack.add(new Object[]{d, Boolean.TRUE});
            for (final Object a : d.args())
            {
                if (a instanceof Delayed && !seen.containsKey(((Delayed<?>)a).key()))
                {
                    stack.add(new Object[]{a, Boolean.FALSE});
                }
            }
        }
    }

    // =============================================================================================== control

    /**
     * Cancel keys and everything that depends on them; waits (up to the request timeout) until the futures it
     * names read CANCELLED. A future already released is cancelled too, but not waited for: nothing reports it to
     * this client any more.
     *
     * @param futures the futures.
     * @param force   cancel even if other clients want them.
     */
    public void cancel(final Collection<? extends GridFuture<?>> futures, final boolean force)
    {
        checkOpen();
        // A key with one want, sent before the cancel goes out, is marked cancelled here once the scheduler has acted
        // on it: it always drops the caller's want of a key it names, so it need not tell the caller key by key. The
        // choice is made on the agent thread as the cancel is sent, in order with every want this client sends: a
        // want sent after it (another thread submitting the key again) restores the key, and then it is not marked.
        final ArrayList<WantedKey> named = new ArrayList<>();
        final ArrayList<String> released = new ArrayList<>(); // futures already released: cancelled, not marked
        synchronized (wants)
        {
            for (final GridFuture<?> f : futures)
            {
                final WantedKey w = f.want();
                if (wants.get(w.key) == w)
                {
                    named.add(w);
                }
                else
                {
                    released.add(w.key);
                }
            }
        }
        final ArrayList<WantedKey> quietWants = new ArrayList<>();
        node.execute(() ->
        {
            final ArrayList<String> told = new ArrayList<>(released);
            final ArrayList<String> quiet = new ArrayList<>();
            synchronized (wants)
            {
                for (final WantedKey w : named)
                {
                    if (wants.get(w.key) == w && w.wantsSent == 1)
                    {
                        quiet.add(w.key);
                        quietWants.add(w);
                    }
                    else
                    {
                        told.add(w.key);
                    }
                }
            }
            sendCancel(told, force, false);
            sendCancel(quiet, force, true);
        });
        try
        {
            // A round trip behind the cancels: the scheduler answers only after the updates they made, finished
            // futures included, so every future reads CANCELLED when this returns (as in Dask).
            info();
        }
        finally
        {
            // Marked even if the round trip failed: the cancel is on its way and the scheduler will not report
            // these keys, so unmarked they would stay pending for good. The list is complete: info() was queued
            // behind the runnable that filled it, and its answer (or failure) came after.
            synchronized (wants)
            {
                for (final WantedKey w : quietWants)
                {
                    if (wants.get(w.key) == w && w.wantsSent == 1)
                    {
                        w.updateWithReason(FutureStatus.CANCELLED, "cancelled");
                    }
                }
            }
        }
        final long deadline = System.nanoTime() + config.requestTimeoutNs();
        for (final WantedKey w : named)
        {
            awaitDone(w, deadline - System.nanoTime()); // a released future is no longer told anything: not waited for
        }
    }

    /** Agent thread: as many CancelKeys messages as the keys need; each key's cancel stands alone on the scheduler. */
    private void sendCancel(final List<String> keys, final boolean force, final boolean callerMarks)
    {
        int i = 0;
        while (i < keys.size())
        {
            final int count = GridProtocol.keysThatFit(keys, i,
                MessageHeaderEncoder.ENCODED_LENGTH + CancelKeysEncoder.BLOCK_LENGTH + 4, out.capacity());
            final CancelKeysEncoder e = new CancelKeysEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .force(force ? BooleanType.TRUE : BooleanType.FALSE)
                .callerMarks(callerMarks ? BooleanType.TRUE : BooleanType.FALSE);
            final CancelKeysEncoder.KeysEncoder ke = e.keysCount(count);
            for (int k = 0; k < count; k++)
            {
                ke.next().key(keys.get(i + k));
            }
            i += count;
            sendToScheduler(e.encodedLength());
        }
    }

    /**
     * Cancel every partition of a collection.
     *
     * @param collection a persisted Delayed, Bag or Frame.
     * @param force      cancel even if other clients want them.
     */
    public void cancel(final Object collection, final boolean force)
    {
        cancel(futuresOf(collection), force);
    }

    /**
     * Forget every task and every result, on the scheduler and on every worker; every future of every client
     * becomes CANCELLED. Returns when every worker has cleared its memory.
     */
    public void restart()
    {
        final long requestId = nextRequestId.getAndIncrement();
        request(requestId, "restart", () ->
        {
            final RestartEncoder e = new RestartEncoder().wrapAndApplyHeader(out, 0, headerEncoder).requestId(requestId);
            sendToScheduler(e.encodedLength());
        });
    }

    /**
     * Even out memory between workers (Dask's rule); the moves complete in the background.
     *
     * @param futures keys that may move (empty: all).
     * @param workers workers taking part (null or empty: all).
     */
    public void rebalance(final Collection<? extends GridFuture<?>> futures, final long[] workers)
    {
        final int fixed = MessageHeaderEncoder.ENCODED_LENGTH + RebalanceRequestEncoder.BLOCK_LENGTH + 8 +
            8 * (null == workers ? 0 : workers.length);
        // More keys than one message holds: rebalanced a message's worth at a time, in turn.
        for (final List<String> page : keyPages(futures, fixed))
        {
            final long requestId = nextRequestId.getAndIncrement();
            request(requestId, "rebalance", () ->
            {
                final RebalanceRequestEncoder e = new RebalanceRequestEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .requestId(requestId);
                final RebalanceRequestEncoder.KeysEncoder ke = e.keysCount(page.size());
                for (final String key : page)
                {
                    ke.next().key(key);
                }
                final RebalanceRequestEncoder.WorkersEncoder we = e.workersCount(null == workers ? 0 : workers.length);
                if (null != workers)
                {
                    for (final long w : workers)
                    {
                        we.next().nodeId(w);
                    }
                }
                sendToScheduler(e.encodedLength());
            });
        }
    }

    /**
     * Keep exactly {@code n} copies of each key on the allowed workers. Returns, as Dask's does, once none of the
     * keys is computing or being copied any more: a key still computing is copied when it finishes, and a copy
     * that failed is tried again while the key is short of copies. Fails if that takes longer than the request
     * timeout (the copies go on).
     *
     * @param futures the keys.
     * @param n       copies wanted.
     * @param workers allowed workers (null or empty: all).
     */
    public void replicate(final Collection<? extends GridFuture<?>> futures, final int n, final long[] workers)
    {
        if (n < 1)
        {
            throw new IllegalArgumentException("replicate needs n >= 1: " + n);
        }
        final int fixed = MessageHeaderEncoder.ENCODED_LENGTH + ReplicateRequestEncoder.BLOCK_LENGTH + 8 +
            8 * (null == workers ? 0 : workers.length);
        for (final List<String> page : keyPages(futures, fixed))
        {
            final long requestId = nextRequestId.getAndIncrement();
            request(requestId, "replicate", () ->
            {
                final ReplicateRequestEncoder e = new ReplicateRequestEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .requestId(requestId).copies(n);
                final ReplicateRequestEncoder.KeysEncoder ke = e.keysCount(page.size());
                for (final String key : page)
                {
                    ke.next().key(key);
                }
                final ReplicateRequestEncoder.WorkersEncoder we = e.workersCount(null == workers ? 0 : workers.length);
                if (null != workers)
                {
                    for (final long w : workers)
                    {
                        we.next().nodeId(w);
                    }
                }
                sendToScheduler(e.encodedLength());
            });
        }
    }

    /**
     * The futures' keys cut into lists that each fit one message beside {@code fixedLength} bytes of other fields;
     * one empty list for none.
     */
    private List<List<String>> keyPages(final Collection<? extends GridFuture<?>> futures, final int fixedLength)
    {
        final ArrayList<String> keys = new ArrayList<>(null == futures ? 0 : futures.size());
        if (null != futures)
        {
            for (final GridFuture<?> f : futures)
            {
                keys.add(f.key());
            }
        }
        final List<List<String>> pages = new ArrayList<>();
        int i = 0;
        do
        {
            final int count = keys.isEmpty() ? 0 : GridProtocol.keysThatFit(keys, i, fixedLength, out.capacity());
            pages.add(keys.subList(i, i + count));
            i += count;
        }
        while (i < keys.size());
        return pages;
    }

    /**
     * @param futures the keys.
     * @return for each key, the workers holding a copy (empty if none).
     */
    public Map<String, long[]> whoHas(final Collection<? extends GridFuture<?>> futures)
    {
        final ArrayList<String> keys = new ArrayList<>();
        for (final GridFuture<?> f : futures)
        {
            keys.add(f.key());
        }
        final LinkedHashMap<String, long[]> result = new LinkedHashMap<>();
        for (final String k : keys)
        {
            result.put(k, new long[0]);
        }
        for (final Object[] loc : locations(keys))
        {
            final long[] old = result.get((String)loc[0]);
            final long[] grown = java.util.Arrays.copyOf(old, old.length + 1);
            grown[old.length] = (Long)loc[1];
            result.put((String)loc[0], grown);
        }
        return result;
    }

    /**
     * @return for each worker, the keys it holds.
     */
    public Map<Long, List<String>> hasWhat()
    {
        final LinkedHashMap<Long, List<String>> result = new LinkedHashMap<>();
        for (final ClusterState.WorkerInfo w : info().workers())
        {
            result.put(w.id(), new ArrayList<>());
        }
        for (final Object[] loc : locations(List.of()))
        {
            result.computeIfAbsent((Long)loc[1], k -> new ArrayList<>()).add((String)loc[0]);
        }
        return result;
    }

    /**
     * @param futures the keys.
     * @return each key's size in bytes as stored (0 if not in memory).
     */
    public Map<String, Long> nbytes(final Collection<? extends GridFuture<?>> futures)
    {
        final LinkedHashMap<String, Long> result = new LinkedHashMap<>();
        final ArrayList<String> keys = new ArrayList<>();
        for (final GridFuture<?> f : futures)
        {
            keys.add(f.key());
            result.put(f.key(), 0L);
        }
        for (final Object[] loc : locations(keys))
        {
            result.put((String)loc[0], (Long)loc[2]);
        }
        return result;
    }

    private List<Object[]> locations(final List<String> keys)
    {
        // A request names as many keys as fit in one message; a longer list becomes several requests.
        final int budget = out.capacity() - 256;
        int from = 0;
        int count = GridProtocol.keysThatFit(keys, 0, 64, budget);
        if (count >= keys.size())
        {
            return locationsOfOneRequest(keys);
        }
        final ArrayList<Object[]> all = new ArrayList<>();
        while (from < keys.size())
        {
            all.addAll(locationsOfOneRequest(keys.subList(from, from + count)));
            from += count;
            count = GridProtocol.keysThatFit(keys, from, 64, budget);
        }
        return all;
    }

    private List<Object[]> locationsOfOneRequest(final List<String> keys)
    {
        checkOpen();
        final CompletableFuture<List<Object[]>> result = new CompletableFuture<>();
        final long requestId = nextRequestId.getAndIncrement();
        node.execute(() -> locate(requestId, keys, new Pending()
        {
            private final ArrayList<Object[]> list = new ArrayList<>();

            void onLocationsPart(final KeyLocationsDecoder d)
            {
                for (final KeyLocationsDecoder.LocationsDecoder l : d.locations())
                {
                    final long id = l.nodeId();
                    final long nbytes = l.nbytes();
                    list.add(new Object[]{l.key(), id, nbytes});
                }
            }

            void onLocations(final KeyLocationsDecoder d)
            {
                onLocationsPart(d);
                result.complete(list);
            }

            void fail(final GridException ex)
            {
                result.completeExceptionally(ex);
            }
        }));
        return await(result, config.requestTimeoutNs(), "locate keys");
    }

    /**
     * @return the workers (address, threads, memory limit, managed, spilled, paused) and the task count.
     */
    public ClusterState info()
    {
        checkOpen();
        final CompletableFuture<ClusterState> result = new CompletableFuture<>();
        final long requestId = nextRequestId.getAndIncrement();
        node.execute(() ->
        {
            pending.put(requestId, new Pending()
            {
                void onInfo(final ClusterInfoDecoder d)
                {
                    final ArrayList<ClusterState.WorkerInfo> list = new ArrayList<>();
                    final long taskCount = d.taskCount();
                    for (final ClusterInfoDecoder.WorkersDecoder w : d.workers())
                    {
                        list.add(new ClusterState.WorkerInfo(w.nodeId(), null, w.threads(), w.memoryLimit(),
                            w.managedBytes(), w.spilledBytes(), w.paused() == BooleanType.TRUE));
                        final ClusterState.WorkerInfo last = list.remove(list.size() - 1);
                        list.add(new ClusterState.WorkerInfo(last.id(), w.address(), last.threads(),
                            last.memoryLimit(), last.managedBytes(), last.spilledBytes(), last.paused()));
                    }
                    result.complete(new ClusterState(list, taskCount));
                }

                void fail(final GridException ex)
                {
                    result.completeExceptionally(ex);
                }
            });
            final InfoRequestEncoder e = new InfoRequestEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                .requestId(requestId);
            sendToScheduler(e.encodedLength());
        });
        return await(result, config.requestTimeoutNs(), "info");
    }

    /**
     * Wait until every future is done (finished, erred, cancelled or lost).
     *
     * @param futures the futures.
     * @param timeout how long.
     * @param unit    its unit.
     * @throws GridException if the timeout passed first.
     */
    public void waitAll(final Collection<? extends GridFuture<?>> futures, final long timeout, final TimeUnit unit)
    {
        final long deadline = System.nanoTime() + unit.toNanos(timeout);
        helpUntilAllDone(futures, unit.toNanos(timeout));
        for (final GridFuture<?> f : futures)
        {
            awaitDone(f.want(), deadline - System.nanoTime());
        }
    }

    /**
     * For many futures, run the group's cycles once until all are done (see {@link #await}), instead of once per
     * future: each helper that leaves wakes the group's thread, and 20,000 of those cost more than they save.
     */
    private void helpUntilAllDone(final Collection<? extends GridFuture<?>> futures, final long timeoutNs)
    {
        final AgentGroup group = config.agentGroup();
        if (null == group || futures.isEmpty())
        {
            return;
        }
        final Iterator<? extends GridFuture<?>> pending = futures.iterator();
        final GridFuture<?>[] current = {pending.next()};
        group.helpUntil(() ->
        {
            while (current[0].isDone())
            {
                if (!pending.hasNext())
                {
                    return true;
                }
                current[0] = pending.next();
            }
            return false;
        }, config.helpWhileWaitingNs(), timeoutNs);
    }

    /**
     * {@link #waitAll(Collection, long, TimeUnit)} with the request timeout.
     *
     * @param futures the futures.
     */
    public void waitAll(final Collection<? extends GridFuture<?>> futures)
    {
        waitAll(futures, config.requestTimeoutNs(), TimeUnit.NANOSECONDS);
    }

    /**
     * Iterate over futures in the order they finish; {@code next()} blocks (up to the request timeout).
     *
     * @param futures the futures.
     * @param <T>     value type.
     * @return an iterator in completion order.
     */
    public <T> Iterator<GridFuture<T>> asCompleted(final Collection<GridFuture<T>> futures)
    {
        final LinkedBlockingQueue<GridFuture<T>> done = new LinkedBlockingQueue<>();
        for (final GridFuture<T> f : futures)
        {
            doneFuture(f.want()).whenComplete((v, t) -> done.add(f));
        }
        final int total = futures.size();
        return new Iterator<>()
        {
            private int taken;

            public boolean hasNext()
            {
                return taken < total;
            }

            public GridFuture<T> next()
            {
                if (taken >= total)
                {
                    throw new NoSuchElementException();
                }
                try
                {
                    final GridFuture<T> f = done.poll(config.requestTimeoutNs(), TimeUnit.NANOSECONDS);
                    if (null == f)
                    {
                        throw new GridException("asCompleted: nothing finished within the request timeout");
                    }
                    taken++;
                    return f;
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    throw new GridException("interrupted", ex);
                }
            }
        };
    }

    private static List<GridFuture<?>> futuresOf(final Object collection)
    {
        final ArrayList<GridFuture<?>> list = new ArrayList<>();
        if (collection instanceof Delayed && null != ((Delayed<?>)collection).future())
        {
            list.add(((Delayed<?>)collection).future());
        }
        else if (collection instanceof Bag)
        {
            for (final Delayed<?> d : ((Bag<?>)collection).partitions())
            {
                if (null != d.future())
                {
                    list.add(d.future());
                }
            }
        }
        else if (collection instanceof Frame)
        {
            list.addAll(((Frame)collection).futures());
        }
        else
        {
            throw new IllegalArgumentException("not a persisted collection: " + collection);
        }
        return list;
    }

    // =============================================================================================== want table

    FutureStatus status(final WantedKey w)
    {
        synchronized (wants)
        {
            return w.status;
        }
    }

    Throwable error(final WantedKey w)
    {
        synchronized (wants)
        {
            return w.error();
        }
    }

    CompletableFuture<Void> doneFuture(final WantedKey w)
    {
        synchronized (wants)
        {
            return w.done;
        }
    }

    void awaitDone(final WantedKey w, final long timeoutNs)
    {
        final CompletableFuture<Void> done = doneFuture(w);
        if (done.isDone() && !done.isCompletedExceptionally())
        {
            return; // most of a cancel's 20,000 futures: no wait, and no message made for one
        }
        await(done, Math.max(0, timeoutNs), "waiting for '" + w.key + "'");
    }

    /**
     * Release many futures at once, like {@link GridFuture#release()} on each, with one hand-over to the client's
     * event loop for the lot (Python's {@code del} of a persisted collection). Futures already released, or listed
     * more than once, count once; those of another client are released through it, after this client's.
     *
     * @param futures the futures; no null elements.
     * @throws NullPointerException if one is null; the futures before it are released all the same.
     */
    public void release(final Collection<? extends GridFuture<?>> futures)
    {
        final ArrayList<WantedKey> mine = new ArrayList<>(futures.size());
        ArrayList<GridFuture<?>> others = null;
        try
        {
            for (final GridFuture<?> f : futures)
            {
                if (f.client() != this)
                {
                    if (null == others)
                    {
                        others = new ArrayList<>();
                    }
                    others.add(f);
                    continue;
                }
                final WantedKey w = f.releaseForBatch();
                if (null != w)
                {
                    mine.add(w);
                }
            }
        }
        finally
        {
            // Wants claimed above must be ended even if the loop stopped: their futures' Cleaners no longer will.
            final ArrayList<String> keys = new ArrayList<>(mine.size());
            synchronized (wants)
            {
                for (final WantedKey w : mine)
                {
                    final String key = endWantLocked(w);
                    if (null != key)
                    {
                        keys.add(key);
                    }
                }
            }
            queueReleases(keys);
        }
        if (null != others)
        {
            for (final GridFuture<?> f : others)
            {
                f.release();
            }
        }
    }

    void release(final WantedKey w)
    {
        final String key;
        synchronized (wants)
        {
            key = endWantLocked(w);
        }
        if (null != key)
        {
            queueReleases(List.of(key));
        }
    }

    /**
     * One future's share of a want ends; the want ends with its last.
     *
     * @return the key to release on the scheduler, or null (other futures still hold it, or the scheduler
     * cancelled it for this client and holds no want of ours).
     */
    private String endWantLocked(final WantedKey w)
    {
        if (--w.count > 0 || wants.get(w.key) != w)
        {
            return null;
        }
        wants.remove(w.key);
        if (null != w.inline)
        {
            store.remove(w.inline);
            w.inline = null;
        }
        return w.schedulerDropped() ? null : w.key;
    }

    private void queueReleases(final List<String> keys)
    {
        if (closed || keys.isEmpty())
        {
            return;
        }
        // Releases batch: the last queued release (or a full batch) sends them in one message, and any other
        // message to the scheduler sends the batch first. A key wanted again by the time its release reaches the
        // agent is not released: wants are a set on the scheduler, so its new want (queued before or after this)
        // keeps it. The agent never queues a command itself (its own queue may be full).
        releasesQueued.incrementAndGet();
        try
        {
            node.execute(() ->
            {
                synchronized (wants)
                {
                    for (final String key : keys)
                    {
                        if (!wants.containsKey(key))
                        {
                            releaseBatch.add(key);
                        }
                    }
                }
                if (releasesQueued.decrementAndGet() == 0 || releaseBatch.size() >= RELEASE_BATCH_LIMIT)
                {
                    flushReleases();
                }
            });
        }
        catch (final RuntimeException ex)
        {
            releasesQueued.decrementAndGet();
            throw ex;
        }
    }

    /**
     * @return keys whose release this client has sent the scheduler. A key the scheduler cancelled for this client
     * needs none: it dropped the want itself.
     */
    public long releasesSent()
    {
        return releasesSent;
    }

    /**
     * @return how many keys this client currently wants (holds at least one live future to).
     */
    public int wantedKeyCount()
    {
        synchronized (wants)
        {
            return wants.size();
        }
    }

    // =============================================================================================== lifecycle

    /**
     * Release everything this client wants (the scheduler drops its wants when it goes) and disconnect.
     */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (current == this)
        {
            current = null;
        }
        fail(new GridException("client closed"));
        if (null != config.agentGroup())
        {
            config.agentGroup().remove(node); // closes the node on the group's thread
        }
        node.close();
        store.close();
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("client is closed");
        }
        final GridException f = failure;
        if (null != f)
        {
            throw new GridException(f.getMessage(), f);
        }
    }

    private void fail(final GridException ex)
    {
        if (null == failure)
        {
            failure = ex;
        }
        synchronized (wants)
        {
            for (final WantedKey w : wants.values())
            {
                if (w.status == FutureStatus.PENDING)
                {
                    w.update(FutureStatus.ERROR, ex);
                }
            }
        }
        registered.completeExceptionally(ex);
    }

    private void request(final long requestId, final String what, final Runnable send)
    {
        checkOpen();
        final CompletableFuture<Void> result = new CompletableFuture<>();
        node.execute(() ->
        {
            pending.put(requestId, new Pending()
            {
                void onDone(final RequestDoneDecoder d)
                {
                    if (d.status() == RequestStatus.OK)
                    {
                        result.complete(null);
                    }
                    else
                    {
                        d.keys().forEach(RequestDoneDecoder.KeysDecoder::skipKey);
                        result.completeExceptionally(new GridException(what + " failed: " + d.message()));
                    }
                }

                void fail(final GridException ex)
                {
                    result.completeExceptionally(ex);
                }
            });
            send.run();
        });
        await(result, config.requestTimeoutNs(), what);
    }

    private <V> V await(final CompletableFuture<V> f, final long timeoutNs, final String what)
    {
        final AgentGroup group = config.agentGroup();
        if (null != group && !f.isDone())
        {
            // Run the group's cycles here until the answer comes (no hand-over from the group's thread to this one).
            group.helpUntil(f::isDone, config.helpWhileWaitingNs(), timeoutNs);
        }
        try
        {
            return f.get(timeoutNs, TimeUnit.NANOSECONDS);
        }
        catch (final TimeoutException ex)
        {
            final GridException fail = failure;
            throw new GridException(what + ": no answer within " + TimeUnit.NANOSECONDS.toMillis(timeoutNs) + " ms" +
                (null == fail ? "" : " (" + fail.getMessage() + ")"));
        }
        catch (final ExecutionException ex)
        {
            final Throwable cause = ex.getCause();
            if (cause instanceof GridException)
            {
                throw new GridException(cause.getMessage(), cause);
            }
            throw new GridException(what + " failed: " + cause, cause);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new GridException(what + ": interrupted", ex);
        }
    }

    private static void sleepQuietly()
    {
        try
        {
            Thread.sleep(5);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }

    // =============================================================================================== agent side

    /** Agent thread: send the batched releases, as many ReleaseKeys messages as their size needs. */
    private void flushReleases()
    {
        final int n = releaseBatch.size();
        int i = 0;
        while (i < n)
        {
            final int count = GridProtocol.keysThatFit(releaseBatch, i,
                MessageHeaderEncoder.ENCODED_LENGTH + ReleaseKeysEncoder.BLOCK_LENGTH + 4, releaseOut.capacity());
            final ReleaseKeysEncoder e = releaseEncoder.wrapAndApplyHeader(releaseOut, 0, headerEncoder);
            final ReleaseKeysEncoder.KeysEncoder keys = e.keysCount(count);
            for (int k = 0; k < count; k++)
            {
                keys.next().key(releaseBatch.get(i + k));
            }
            i += count;
            if (!node.send(GridProtocol.SCHEDULER_NODE_ID, releaseOut, 0, MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength()))
            {
                fail(new GridException("cannot send to the scheduler at " + config.schedulerAddress()));
            }
            else
            {
                releasesSent += count;
            }
        }
        releaseBatch.clear();
    }

    private void sendToScheduler(final int length)
    {
        if (!releaseBatch.isEmpty())
        {
            flushReleases();
        }
        if (!node.send(GridProtocol.SCHEDULER_NODE_ID, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + length))
        {
            fail(new GridException("cannot send to the scheduler at " + config.schedulerAddress()));
        }
    }

    private boolean ensurePeer(final long peerId)
    {
        return directory.ensure(node, peerId);
    }

    private void sendGraph(final List<TaskSpec> tasks, final List<String> wantKeys)
    {
        if (null != failure)
        {
            return;
        }
        // Ship each function once: DefineFunction before the first graph that uses it.
        for (final TaskSpec t : tasks)
        {
            if (definedFunctions.add(t.functionId))
            {
                final DefineFunctionEncoder e = new DefineFunctionEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .functionId(t.functionId);
                if (t.functionCode.length + 64 > out.capacity())
                {
                    fail(new GridException("function of " + t.functionCode.length + " bytes is too large to ship"));
                    return;
                }
                e.putCode(t.functionCode, 0, t.functionCode.length);
                sendToScheduler(e.encodedLength());
            }
        }
        // Tasks are in dependency order, so chunks can go one after the other. Every chunk but the last carries a
        // negative graph id: the scheduler server collects them and submits the whole graph with the last one.
        final int budget = out.capacity() - 1024;
        final long graphId = nextRequestId.getAndIncrement();
        final ArrayList<int[]> chunks = new ArrayList<>();
        int t = 0;
        int w = 0;
        final int n = tasks.size();
        final int m = wantKeys.size();
        do
        {
            int size = 64;
            final int t0 = t;
            final int w0 = w;
            while (t < n && t - t0 < 60_000)
            {
                final int s = estimate(tasks.get(t));
                if (s + 64 > budget)
                {
                    fail(new GridException("task '" + tasks.get(t).key + "' is too large to send (" + s + " bytes)"));
                    return;
                }
                if (size + s > budget)
                {
                    break;
                }
                size += s;
                t++;
            }
            if (t == n)
            {
                while (w < m && w - w0 < 60_000)
                {
                    final int s = 8 + wantKeys.get(w).length() * 3;
                    if (size + s > budget)
                    {
                        break;
                    }
                    size += s;
                    w++;
                }
            }
            chunks.add(new int[]{t0, t, w0, w});
        }
        while (t < n || w < m);
        for (int i = 0; i < chunks.size(); i++)
        {
            final int[] c = chunks.get(i);
            sendChunk(i == chunks.size() - 1 ? graphId : -graphId, tasks, c[0], c[1], wantKeys, c[2], c[3]);
        }
    }

    private static int estimate(final TaskSpec t)
    {
        int s = 40 + t.key.length() * 3 + t.arguments.length + (null == t.workers ? 0 : t.workers.length * 8);
        for (final String d : t.dependencies)
        {
            s += 8 + d.length() * 3;
        }
        return s;
    }

    private void sendChunk(final long graphId, final List<TaskSpec> tasks, final int from, final int to, final List<String> wantKeys,
        final int wantFrom, final int wantTo)
    {
        final SubmitGraphEncoder e = new SubmitGraphEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
            .graphId(graphId);
        final SubmitGraphEncoder.TasksEncoder te = e.tasksCount(to - from);
        for (int i = from; i < to; i++)
        {
            final TaskSpec t = tasks.get(i);
            te.next().functionId(t.functionId).priority(t.priority).retries(t.retries)
                .pure(t.pure ? BooleanType.TRUE : BooleanType.FALSE)
                .allowOtherWorkers(t.allowOtherWorkers ? BooleanType.TRUE : BooleanType.FALSE);
            final SubmitGraphEncoder.TasksEncoder.DependenciesEncoder de = te.dependenciesCount(t.dependencies.size());
            for (final String d : t.dependencies)
            {
                de.next().key(d);
            }
            final SubmitGraphEncoder.TasksEncoder.WorkersEncoder we =
                te.workersCount(null == t.workers ? 0 : t.workers.length);
            if (null != t.workers)
            {
                for (final long w : t.workers)
                {
                    we.next().nodeId(w);
                }
            }
            te.key(t.key);
            te.putArguments(t.arguments, 0, t.arguments.length);
        }
        final SubmitGraphEncoder.WantsEncoder we = e.wantsCount(wantTo - wantFrom);
        for (int i = wantFrom; i < wantTo; i++)
        {
            we.next().key(wantKeys.get(i));
        }
        sendToScheduler(e.encodedLength());
    }

    private void locate(final long requestId, final List<String> keys, final Pending p)
    {
        pending.put(requestId, p);
        final LocateKeysEncoder e = new LocateKeysEncoder().wrapAndApplyHeader(out, 0, headerEncoder).requestId(requestId);
        final LocateKeysEncoder.KeysEncoder ke = e.keysCount(keys.size());
        for (final String k : keys)
        {
            ke.next().key(k);
        }
        sendToScheduler(e.encodedLength());
    }

    /** Scatter in progress: blocks encoded in the client's store, sent to the placed workers. */
    private static final class ScatterJob
    {
        final String[] keys;
        final String[] locals;
        final long[] sizes;
        final CompletableFuture<Void> result = new CompletableFuture<>();
        int inFlight;
        int failed;
        String failure;
        /** The scheduler's placement can span several KeyLocations pages: finish only after the last. */
        boolean placed;
        HashMap<String, Integer> index;

        ScatterJob(final String[] keys, final String[] locals, final long[] sizes)
        {
            this.keys = keys;
            this.locals = locals;
            this.sizes = sizes;
        }
    }

    private void startScatter(final long requestId, final ScatterJob job, final ScatterOptions options)
    {
        pending.put(requestId, new Pending()
        {
            void onLocations(final KeyLocationsDecoder d)
            {
                final boolean last = d.more() != BooleanType.TRUE;
                if (last)
                {
                    pending.remove(requestId);
                    job.placed = true;
                }
                if (null == job.index)
                {
                    job.index = new HashMap<>();
                    for (int i = 0; i < job.keys.length; i++)
                    {
                        job.index.put(job.keys[i], i);
                    }
                }
                final HashMap<String, Integer> index = job.index;
                final byte[] meta = new byte[TransportNode.MAX_BLOCK_METADATA_LENGTH];
                final UnsafeBuffer mb = new UnsafeBuffer(meta);
                for (final KeyLocationsDecoder.LocationsDecoder l : d.locations())
                {
                    final long worker = l.nodeId();
                    final String key = l.key();
                    final Integer i = index.get(key);
                    if (null == i)
                    {
                        continue;
                    }
                    final Block block = store.get(job.locals[i]);
                    ensurePeer(worker);
                    final int metaLength = blockMetadata(mb, requestId, key);
                    final long transferId = node.sendBlock(worker, block.address(), block.length(), mb, 0, metaLength);
                    if (transferId < 0)
                    {
                        block.close();
                        job.failed++;
                        job.failure = "worker " + worker + " is not reachable";
                        continue;
                    }
                    job.inFlight++;
                    outgoing.put(worker + ":" + transferId, new Outgoing(block, () ->
                    {
                        if (--job.inFlight == 0 && job.placed)
                        {
                            finishScatter(requestId, job);
                        }
                    }, reason ->
                    {
                        job.failed++;
                        job.failure = "sending '" + key + "' to worker " + worker + " failed: " + reason;
                        if (--job.inFlight == 0 && job.placed)
                        {
                            finishScatter(requestId, job);
                        }
                    }));
                }
                if (job.inFlight == 0 && job.placed)
                {
                    finishScatter(requestId, job);
                }
            }

            void fail(final GridException ex)
            {
                job.result.completeExceptionally(ex);
            }
        });
        final ScatterRequestEncoder e = new ScatterRequestEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
            .requestId(requestId).broadcast(options.broadcast ? BooleanType.TRUE : BooleanType.FALSE);
        final ScatterRequestEncoder.KeysEncoder ke = e.keysCount(job.keys.length);
        for (int i = 0; i < job.keys.length; i++)
        {
            ke.next().nbytes(job.sizes[i]).key(job.keys[i]);
        }
        final ScatterRequestEncoder.WorkersEncoder we = e.workersCount(null == options.workers ? 0 : options.workers.length);
        if (null != options.workers)
        {
            for (final long w : options.workers)
            {
                we.next().nodeId(w);
            }
        }
        sendToScheduler(e.encodedLength());
    }

    private void finishScatter(final long requestId, final ScatterJob job)
    {
        if (job.failed > 0)
        {
            job.result.completeExceptionally(new GridException("scatter failed: " + job.failure));
            return;
        }
        // The scheduler learns the data is in place only now that every copy arrived intact.
        final KeysStoredEncoder e = new KeysStoredEncoder().wrapAndApplyHeader(out, 0, headerEncoder).requestId(requestId);
        final KeysStoredEncoder.KeysEncoder ke = e.keysCount(job.keys.length);
        for (int i = 0; i < job.keys.length; i++)
        {
            ke.next().nbytes(job.sizes[i]).typeCode(0).key(job.keys[i]);
        }
        sendToScheduler(e.encodedLength());
        job.result.complete(null);
    }

    /**
     * Block metadata: {@code long requestId, utf8 key}; the same layout the workers use.
     */
    static int blockMetadata(final UnsafeBuffer buffer, final long requestId, final String key)
    {
        buffer.putLong(0, requestId, ByteOrder.LITTLE_ENDIAN);
        return 8 + buffer.putStringWithoutLengthUtf8(8, key);
    }

    /** A fetch of one key from its holders, one after the other until one answers. */
    private final class Fetch
    {
        final String key;
        final List<Long> holders;
        final CompletableFuture<String> result;
        int next;

        Fetch(final String key, final List<Long> holders, final CompletableFuture<String> result)
        {
            this.key = key;
            this.holders = holders;
            this.result = result;
        }

        void next()
        {
            while (next < holders.size())
            {
                final long holder = holders.get(next++);
                if (!ensurePeer(holder))
                {
                    continue;
                }
                final long requestId = nextRequestId.getAndIncrement();
                final Pending fetchPending = new Pending()
                {
                    void onDone(final RequestDoneDecoder d)
                    {
                        pending.remove(requestId);
                        next();
                    }

                    void onBlock(final String localKey)
                    {
                        pending.remove(requestId);
                        result.complete(localKey);
                    }

                    void fail(final GridException ex)
                    {
                        pending.remove(requestId);
                        next();
                    }
                };
                fetchPending.awaitedNode = holder;
                pending.put(requestId, fetchPending);
                final FetchKeyEncoder e = new FetchKeyEncoder().wrapAndApplyHeader(out, 0, headerEncoder)
                    .requestId(requestId).key(key);
                if (node.send(holder, out, 0, MessageHeaderEncoder.ENCODED_LENGTH + e.encodedLength()))
                {
                    return;
                }
                pending.remove(requestId);
            }
            result.completeExceptionally(new GridException("no holder of '" + key + "' could send it"));
        }
    }

    /** What a request id waits for; agent thread only. */
    private abstract static class Pending
    {
        /** The node that must answer (a fetch's holder), or -1: failed if that node is lost. */
        long awaitedNode = -1;

        void onLocations(final KeyLocationsDecoder d)
        {
        }

        /** A part of a listing too long for one message; {@link #onLocations} gets the last part. */
        void onLocationsPart(final KeyLocationsDecoder d)
        {
            onLocations(d);
        }

        void onDone(final RequestDoneDecoder d)
        {
        }

        void onInfo(final ClusterInfoDecoder d)
        {
        }

        void onBlock(final String localKey)
        {
        }

        abstract void fail(GridException ex);
    }

    private record Incoming(long requestId, BlockReservation reservation)
    {
    }

    private record Outgoing(Block block, Runnable onSent, java.util.function.Consumer<String> onFailed)
    {
    }

    private final class ClientHandlers implements PeerListener, BlockAllocator, BlockListener
    {
        private final UnsafeBuffer inlineValue = new UnsafeBuffer(0, 0);
        private final UnsafeBuffer reasonView = new UnsafeBuffer(0, 0);
        private byte[] lastReasonBytes = new byte[0];
        private String lastReason;
        private final UnsafeBuffer inlineCopy = new UnsafeBuffer(0, 0);
        private final RegisterAckDecoder registerAck = new RegisterAckDecoder();
        private final KeyStateUpdateDecoder keyState = new KeyStateUpdateDecoder();
        private final KeyStatesDecoder keyStates = new KeyStatesDecoder();
        private final KeyLocationsDecoder keyLocations = new KeyLocationsDecoder();
        private final RequestDoneDecoder requestDone = new RequestDoneDecoder();
        private final ClusterInfoDecoder clusterInfo = new ClusterInfoDecoder();

        void onMessage(final long peerId, final int templateId, final DirectBuffer buffer, final int offset,
            final int length)
        {
            switch (templateId)
            {
                case RegisterAckDecoder.TEMPLATE_ID:
                    registerAck.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    if (registerAck.accepted() == BooleanType.TRUE)
                    {
                        registered.complete(null);
                    }
                    else
                    {
                        fail(new GridException("scheduler refused this client: " + registerAck.message()));
                    }
                    break;
                case KeyStateUpdateDecoder.TEMPLATE_ID:
                    onKeyState(keyState.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case KeyStatesDecoder.TEMPLATE_ID:
                    onKeyStates(keyStates.wrapAndApplyHeader(buffer, offset, headerDecoder));
                    break;
                case KeyLocationsDecoder.TEMPLATE_ID:
                {
                    keyLocations.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    if (keyLocations.more() == BooleanType.TRUE)
                    {
                        final Pending p = pending.get(keyLocations.requestId());
                        if (null != p)
                        {
                            p.onLocationsPart(keyLocations);
                        }
                        break;
                    }
                    final Pending p = pending.remove(keyLocations.requestId());
                    if (null != p)
                    {
                        p.onLocations(keyLocations);
                    }
                    break;
                }
                case RequestDoneDecoder.TEMPLATE_ID:
                {
                    requestDone.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    final Pending p = pending.remove(requestDone.requestId());
                    if (null != p)
                    {
                        p.onDone(requestDone);
                    }
                    break;
                }
                case ClusterInfoDecoder.TEMPLATE_ID:
                {
                    clusterInfo.wrapAndApplyHeader(buffer, offset, headerDecoder);
                    if (clusterInfo.requestId() == 0)
                    {
                        for (final ClusterInfoDecoder.WorkersDecoder w : clusterInfo.workers())
                        {
                            directory.put(w.nodeId(), w.address());
                        }
                    }
                    else
                    {
                        final Pending p = pending.remove(clusterInfo.requestId());
                        if (null != p)
                        {
                            p.onInfo(clusterInfo);
                        }
                    }
                    break;
                }
                default:
                    break;
            }
        }

        /** Copy an inline result (a whole stored block) into the client's store; caller holds the wants lock. */
        private void keepInline(final WantedKey w, final DirectBuffer value)
        {
            if (null != w.inline)
            {
                return; // the same key finished again (recomputed): the copy we have is as good
            }
            final String localKey = INLINE_PREFIX + nextLocalKey.getAndIncrement();
            try (BlockReservation r = store.reserve(localKey, value.capacity()))
            {
                inlineCopy.wrap(r.address(), value.capacity());
                value.getBytes(0, inlineCopy, 0, value.capacity());
                r.commit();
                w.inline = localKey;
            }
            catch (final RuntimeException ex)
            {
                // Out of client memory: keep nothing; get() fetches it instead, through the budgeted transfer path.
            }
        }

        private void onKeyState(final KeyStateUpdateDecoder d)
        {
            final io.offgrid.transport.protocol.KeyState state = d.state();
            d.nbytes();
            final String key = d.key();
            final String exClass = d.exceptionClass();
            final String message = d.message();
            final String stack = d.stackTrace();
            d.wrapValue(inlineValue);
            synchronized (wants)
            {
                final WantedKey w = wants.get(key);
                if (null != w)
                {
                    if (state == io.offgrid.transport.protocol.KeyState.ERRED)
                    {
                        w.update(FutureStatus.ERROR, new RemoteTaskException(key, exClass, message, stack));
                    }
                    else
                    {
                        apply(w, state, message);
                    }
                }
            }
        }

        /** A batch of updates: one pass under the want table's lock; a key no future wants any more is skipped. */
        private void onKeyStates(final KeyStatesDecoder d)
        {
            synchronized (wants)
            {
                for (final KeyStatesDecoder.EntriesDecoder e : d.entries())
                {
                    final io.offgrid.transport.protocol.KeyState state = e.state();
                    e.nbytes();
                    final WantedKey w = wants.get(e.key());
                    // Only a cancelled or lost key's future keeps the reason; 20,000 cancels carry the same one.
                    final String message = null != w &&
                        (state == io.offgrid.transport.protocol.KeyState.CANCELLED ||
                        state == io.offgrid.transport.protocol.KeyState.LOST) ? reason(e) : skipReason(e);
                    e.wrapValue(inlineValue);
                    if (null != w)
                    {
                        apply(w, state, message);
                    }
                }
            }
        }

        /** The entry's reason, the previous entry's String when the bytes are the same. */
        private String reason(final KeyStatesDecoder.EntriesDecoder e)
        {
            e.wrapMessage(reasonView);
            final int length = reasonView.capacity();
            if (null != lastReason && length == lastReasonBytes.length)
            {
                int i = 0;
                while (i < length && reasonView.getByte(i) == lastReasonBytes[i])
                {
                    i++;
                }
                if (i == length)
                {
                    return lastReason;
                }
            }
            lastReasonBytes = new byte[length];
            reasonView.getBytes(0, lastReasonBytes);
            lastReason = new String(lastReasonBytes, java.nio.charset.StandardCharsets.UTF_8);
            return lastReason;
        }

        private String skipReason(final KeyStatesDecoder.EntriesDecoder e)
        {
            e.skipMessage();
            return null;
        }

        /** Caller holds the want table's lock. Exceptions are made when a caller asks for them, not here. */
        private void apply(final WantedKey w, final io.offgrid.transport.protocol.KeyState state, final String message)
        {
            switch (state)
            {
                case MEMORY:
                    if (inlineValue.capacity() > 0)
                    {
                        keepInline(w, inlineValue);
                    }
                    w.update(FutureStatus.FINISHED, null);
                    break;
                case CANCELLED:
                    w.updateWithReason(FutureStatus.CANCELLED, message);
                    break;
                case LOST:
                    w.updateWithReason(FutureStatus.LOST, message);
                    break;
                case PENDING:
                case PROCESSING:
                    w.update(FutureStatus.PENDING, null);
                    break;
                default:
                    break;
            }
        }

        public void onPeerJoined(final long peerId, final String endpoint)
        {
        }

        public void onPeerLost(final long peerId, final String reason, final int droppedMessages)
        {
            directory.lost(peerId);
            for (final Pending p : new ArrayList<>(pending.values()))
            {
                if (p.awaitedNode == peerId)
                {
                    p.fail(new GridException("node " + peerId + " was lost: " + reason));
                }
            }
            if (peerId == GridProtocol.SCHEDULER_NODE_ID && !closed)
            {
                final GridException ex = new GridException("the scheduler at " + config.schedulerAddress() +
                    " is gone (" + reason + ")");
                fail(ex);
                for (final Pending p : new ArrayList<>(pending.values()))
                {
                    p.fail(ex);
                }
                pending.clear();
            }
        }

        public long allocate(final long peerId, final long transferId, final long length, final DirectBuffer metadata,
            final int metadataOffset, final int metadataLength)
        {
            if (metadataLength < 8)
            {
                return 0;
            }
            final long requestId = metadata.getLong(metadataOffset, ByteOrder.LITTLE_ENDIAN);
            if (!pending.containsKey(requestId))
            {
                return 0;
            }
            try
            {
                final BlockReservation r = store.reserve("gather-" + requestId, length);
                incoming.put(peerId + ":" + transferId, new Incoming(requestId, r));
                return r.address();
            }
            catch (final RuntimeException ex)
            {
                return 0;
            }
        }

        public void free(final long address, final long length)
        {
            final Iterator<Map.Entry<String, Incoming>> it = incoming.entrySet().iterator();
            while (it.hasNext())
            {
                final Incoming in = it.next().getValue();
                if (in.reservation.address() == address)
                {
                    it.remove();
                    in.reservation.close();
                    final Pending p = pending.get(in.requestId);
                    if (null != p)
                    {
                        p.fail(new GridException("transfer failed"));
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
            final Pending p = pending.get(in.requestId);
            try
            {
                in.reservation.commit();
            }
            catch (final RuntimeException ex)
            {
                in.reservation.close();
                if (null != p)
                {
                    p.fail(new GridException("received block failed its check: " + ex.getMessage()));
                }
                return;
            }
            if (null != p)
            {
                p.onBlock(in.reservation.key());
            }
            else
            {
                store.remove(in.reservation.key());
            }
        }

        public void onBlockReceiveFailed(final long peerId, final long transferId, final BlockStatus status)
        {
            final Incoming in = incoming.remove(peerId + ":" + transferId);
            if (null != in)
            {
                final Pending p = pending.get(in.requestId);
                if (null != p)
                {
                    p.fail(new GridException("transfer from " + peerId + " failed: " + status));
                }
            }
        }

        public void onBlockSent(final long peerId, final long transferId)
        {
            final Outgoing o = outgoing.remove(peerId + ":" + transferId);
            if (null != o)
            {
                o.block.close();
                o.onSent.run();
            }
        }

        public void onBlockSendFailed(final long peerId, final long transferId, final BlockStatus status)
        {
            final Outgoing o = outgoing.remove(peerId + ":" + transferId);
            if (null != o)
            {
                o.block.close();
                o.onFailed.accept(status.name());
            }
        }
    }
}
