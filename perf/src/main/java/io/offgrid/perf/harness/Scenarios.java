package io.offgrid.perf.harness;

import io.offgrid.client.Client;
import io.offgrid.client.Delayed;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import io.offgrid.grid.LocalCluster;
import io.offgrid.perf.transport.BlockThroughputBench;
import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The scenarios of dask_bench.py on an Offgrid {@link LocalCluster}, one run each: same names, same units (µs for
 * latency, tasks/s, MB/s with MB = 10^6 bytes, ms or s for wall times). Each method returns the figures of one run
 * as a JSON-ready map; {@link BenchMain} repeats runs and takes medians.
 */
final class Scenarios
{
    /** One scenario: its letter, its name (dask_bench.py's phase name) and how to run it once. */
    record Scenario(String letter, String name, Runner runner)
    {
    }

    /** Runs a scenario once. */
    @FunctionalInterface
    interface Runner
    {
        Map<String, Object> run(Scenarios s) throws Exception;
    }

    /** Sizes of the scenarios; the defaults are dask_bench.py's. */
    static final class Context
    {
        int latencyN = 2000;
        int latencyWarmup = 200;
        int mapN = 20_000;
        int treeLeaves = 10_000;
        int chainN = 500;
        int bigMiB = 256;
        int smallCount = 64;
        int smallMiB = 4;
        int persistChunks = 8;
        int persistChunkMiB = 64;
        int cancelChainN = 5000;
        int cancelMapN = 20_000;
        long cancelAfterMs = 500;
        long idleTimeoutMs = 20_000;

        /** Sizes small enough for a smoke test: every code path, seconds in all. */
        static Context smoke()
        {
            final Context c = new Context();
            c.latencyN = 200;
            c.latencyWarmup = 20;
            c.mapN = 500;
            c.treeLeaves = 200;
            c.chainN = 50;
            c.bigMiB = 4;
            c.smallCount = 8;
            c.smallMiB = 1;
            c.persistChunks = 4;
            c.persistChunkMiB = 2;
            c.cancelChainN = 400;
            c.cancelMapN = 2000;
            c.cancelAfterMs = 100;
            return c;
        }

        Context conclude()
        {
            if (latencyN < 1 || latencyWarmup < 0 || mapN < 1 || treeLeaves < 2 || chainN < 1 || bigMiB < 1 ||
                smallCount < 1 || smallMiB < 1 || persistChunks < 1 || persistChunkMiB < 1 || cancelChainN < 1 ||
                cancelMapN < 1 || cancelAfterMs < 0 || idleTimeoutMs < 1)
            {
                throw new IllegalArgumentException("every scenario size must be positive");
            }
            return this;
        }

        Map<String, Object> toMap()
        {
            final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
            m.put("latency_n", latencyN);
            m.put("map_n", mapN);
            m.put("tree_leaves", treeLeaves);
            m.put("chain_n", chainN);
            m.put("big_mib", bigMiB);
            m.put("small", smallCount + "x" + smallMiB + "MiB");
            m.put("persist", persistChunks + "x" + persistChunkMiB + "MiB");
            m.put("cancel_chain_n", cancelChainN);
            m.put("cancel_map_n", cancelMapN);
            return m;
        }
    }

    static final List<Scenario> ALL = List.of(
        new Scenario("a", "a_submit_latency", Scenarios::submitLatency),
        new Scenario("b", "b_throughput", Scenarios::throughput),
        new Scenario("c", "c_scatter_gather", Scenarios::scatterGather),
        new Scenario("d", "d_worker_to_worker", Scenarios::workerToWorker),
        new Scenario("e", "e_memory_release", Scenarios::memoryRelease),
        new Scenario("h", "h_replicate_rebalance", Scenarios::replicateRebalance),
        new Scenario("g", "g_cancel", Scenarios::cancel),
        new Scenario("f", "f_restart", Scenarios::restart));

    private static final long MIB = 1L << 20;
    private static final long THRESHOLD_BYTES = MIB; // "~0 managed bytes": under 1 MiB, as dask_bench.py

    private final Context ctx;
    private final LocalCluster cluster;
    private final Client client;
    private final boolean inProcess;
    private final boolean overUdp;

    /**
     * @param inProcess the workers run in this JVM (e reads their stores directly).
     * @param overUdp   the workers stream blocks over UDP (each its own driver): c and d then also measure bare
     *                  Aeron over UDP in the same run, and give their figures as fractions of it.
     */
    Scenarios(final Context ctx, final LocalCluster cluster, final Client client, final boolean inProcess,
        final boolean overUdp)
    {
        this.ctx = ctx.conclude();
        this.cluster = cluster;
        this.client = client;
        this.inProcess = inProcess;
        this.overUdp = overUdp;
    }

    /**
     * Bare Aeron moving one block of {@code bytes} over UDP loopback, as BlockThroughputBench does it (each end its
     * own driver stepped by its own thread, 1 MiB messages, the receiver copying into a touched destination, an
     * ack): the median of 3 transfers after 2 untimed ones, in MB/s. Set up and closed here, so none of its threads
     * runs while Offgrid is measured.
     */
    private static double bareUdpMBps(final long bytes)
    {
        final BlockThroughputBench b = new BlockThroughputBench();
        b.impl = "bare";
        b.medium = "udp";
        b.size = bytes;
        b.idle = "default";
        b.chunk = 1 << 20;
        b.readHelpers = "default";
        try
        {
            b.setUp(); // inside: tearDown copes with a half-made setup (drivers, directories, memory)
            b.transfer();
            b.transfer();
            final double[] mbps = new double[3];
            for (int i = 0; i < mbps.length; i++)
            {
                final long t0 = System.nanoTime();
                b.transfer();
                mbps[i] = bytes / ((System.nanoTime() - t0) / 1e9) / 1e6;
            }
            Arrays.sort(mbps);
            return mbps[1];
        }
        finally
        {
            b.tearDown();
        }
    }

    /**
     * The same-run UDP baseline and each named figure (MB/s) as a fraction of it. A baseline that fails is recorded
     * as its error, so the run's own figures are kept.
     */
    private static Map<String, Object> againstBareUdp(final long bytes, final Map<String, Double> figures)
    {
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        final double bare;
        try
        {
            bare = bareUdpMBps(bytes);
        }
        catch (final RuntimeException ex)
        {
            m.put("error", ex.toString());
            return m;
        }
        m.put("bare_aeron_MBps", LoadMonitor.round(bare, 1));
        figures.forEach((name, mbps) -> m.put(name + "_vs_bare", null == mbps ? null : LoadMonitor.round(mbps / bare, 3)));
        return m;
    }

    // ------------------------------------------------------------------------------------------- a

    Map<String, Object> submitLatency()
    {
        final SubmitOptions opts = SubmitOptions.options().pure(false);
        for (long i = 0; i < ctx.latencyWarmup; i++)
        {
            final GridFuture<Long> f = client.submit(Tasks.INC, opts, i);
            f.get();
            f.release();
        }
        final Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(60), 3);
        for (long i = 0; i < ctx.latencyN; i++)
        {
            final long t0 = System.nanoTime();
            final GridFuture<Long> f = client.submit(Tasks.INC, opts, i);
            final long r = f.get();
            final long t = System.nanoTime() - t0;
            h.recordValue(Math.min(t, h.getHighestTrackableValue()));
            f.release();
            check(r == i + 1, "inc(" + i + ") returned " + r);
        }
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        m.put("n", h.getTotalCount());
        m.put("min_us", us(h.getMinValue()));
        m.put("p50_us", us(h.getValueAtPercentile(50)));
        m.put("p90_us", us(h.getValueAtPercentile(90)));
        m.put("p99_us", us(h.getValueAtPercentile(99)));
        m.put("max_us", us(h.getMaxValue()));
        m.put("mean_us", LoadMonitor.round(h.getMean() / 1e3, 1));
        return m;
    }

    // ------------------------------------------------------------------------------------------- b

    Map<String, Object> throughput()
    {
        final SubmitOptions opts = SubmitOptions.options().pure(false);
        final LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        // Untimed warm-up of the same size: the JIT compiles the per-task paths, as in a running service (the
        // first map of a fresh JVM runs at about half speed).
        release(gatherAndCheck(client.map(Tasks.INC, range(ctx.mapN), opts), ctx.mapN));
        waitIdle();

        final int n = ctx.mapN;
        final List<Long> items = range(n);
        long t0 = System.nanoTime();
        final List<GridFuture<Long>> futs = client.map(Tasks.INC, items, opts);
        final long tSub = System.nanoTime();
        gatherAndCheck(futs, n);
        long t1 = System.nanoTime();
        release(futs);
        final LinkedHashMap<String, Object> map = new LinkedHashMap<>();
        map.put("n_tasks", n);
        map.put("submit_s", seconds(tSub - t0));
        map.put("total_s", seconds(t1 - t0));
        map.put("tasks_per_s", rate(n, t1 - t0));
        out.put("map", map);
        waitIdle();

        final long tb0 = System.nanoTime();
        List<Delayed<Long>> level = new ArrayList<>(ctx.treeLeaves);
        for (long i = 0; i < ctx.treeLeaves; i++)
        {
            level.add(Delayed.call(Tasks.INC, i));
        }
        int nTasks = level.size();
        while (level.size() > 1)
        {
            final List<Delayed<Long>> next = new ArrayList<>(level.size() / 2 + 1);
            for (int i = 0; i + 1 < level.size(); i += 2)
            {
                next.add(Delayed.call(Tasks.ADD, level.get(i), level.get(i + 1)));
            }
            if (level.size() % 2 == 1)
            {
                next.add(level.get(level.size() - 1));
            }
            nTasks += level.size() / 2;
            level = next;
        }
        final long tb1 = System.nanoTime();
        t0 = System.nanoTime();
        final GridFuture<?> root = client.compute(level.get(0)).get(0);
        final Object sum = root.get();
        t1 = System.nanoTime();
        root.release();
        final long leaves = ctx.treeLeaves;
        check(Long.valueOf(leaves * (leaves + 1) / 2).equals(sum), "tree reduction returned " + sum);
        final LinkedHashMap<String, Object> tree = new LinkedHashMap<>();
        tree.put("leaves", ctx.treeLeaves);
        tree.put("n_tasks", nTasks);
        tree.put("graph_build_s", seconds(tb1 - tb0));
        tree.put("compute_s", seconds(t1 - t0));
        tree.put("tasks_per_s", rate(nTasks, t1 - t0));
        out.put("tree_reduction", tree);
        waitIdle();

        Delayed<Long> d = Delayed.call(Tasks.INC, 0L);
        for (int i = 1; i < ctx.chainN; i++)
        {
            d = Delayed.call(Tasks.INC, d);
        }
        t0 = System.nanoTime();
        final GridFuture<?> tip = client.compute(d).get(0);
        final Object last = tip.get();
        t1 = System.nanoTime();
        tip.release();
        check(Long.valueOf(ctx.chainN).equals(last), "chain returned " + last);
        final LinkedHashMap<String, Object> chain = new LinkedHashMap<>();
        chain.put("n_tasks", ctx.chainN);
        chain.put("compute_s", seconds(t1 - t0));
        chain.put("tasks_per_s", rate(ctx.chainN, t1 - t0));
        chain.put("us_per_task", LoadMonitor.round((t1 - t0) / 1e3 / ctx.chainN, 1));
        out.put("chain", chain);
        waitIdle();
        return out;
    }

    // ------------------------------------------------------------------------------------------- c

    Map<String, Object> scatterGather()
    {
        final long a = workers()[0];
        final double[] big = randomDoubles(1, ctx.bigMiB * MIB);
        final List<double[]> small = new ArrayList<>();
        for (int i = 0; i < ctx.smallCount; i++)
        {
            small.add(randomDoubles(100 + i, ctx.smallMiB * MIB));
        }
        final long smallBytes = (long)ctx.smallCount * ctx.smallMiB * MIB;
        final ScatterOptions toA = ScatterOptions.options().workers(a).hash(false);

        long t0 = System.nanoTime();
        final GridFuture<double[]> f = client.scatter(big, toA);
        long t1 = System.nanoTime();
        double[] back = client.gather(f);
        long t2 = System.nanoTime();
        check(back.length == big.length && back[12345 % big.length] == big[12345 % big.length] &&
            back[big.length - 1] == big[big.length - 1], "gathered 256 MiB array differs");
        f.release();
        back = null;
        final Map<String, Object> bigScatter = bandwidth(big.length * 8L, t1 - t0);
        final Map<String, Object> bigGather = bandwidth(big.length * 8L, t2 - t1);

        t0 = System.nanoTime();
        final List<GridFuture<double[]>> fs = client.scatter(small, toA);
        t1 = System.nanoTime();
        final List<double[]> backs = client.gather(fs);
        t2 = System.nanoTime();
        check(backs.size() == small.size() && Arrays.equals(backs.get(backs.size() - 1), small.get(small.size() - 1)),
            "gathered small arrays differ");
        release(fs);
        waitIdle();
        final LinkedHashMap<String, Object> direct = new LinkedHashMap<>();
        direct.put("big_scatter", bigScatter);
        direct.put("big_gather", bigGather);
        direct.put(ctx.smallCount + "x" + ctx.smallMiB + "MiB_scatter", bandwidth(smallBytes, t1 - t0));
        direct.put(ctx.smallCount + "x" + ctx.smallMiB + "MiB_gather", bandwidth(smallBytes, t2 - t1));
        final LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        out.put("note", "the client streams blocks straight to and from the workers (Dask's direct=True path); " +
            "the scheduler only places keys");
        out.put("direct", direct);
        if (overUdp)
        {
            final LinkedHashMap<String, Double> figures = new LinkedHashMap<>();
            figures.put("big_scatter", (Double)bigScatter.get("MBps"));
            figures.put("big_gather", (Double)bigGather.get("MBps"));
            out.put("udp_baseline", againstBareUdp(big.length * 8L, figures));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------- d

    Map<String, Object> workerToWorker()
    {
        final long[] ids = workers();
        final long a = ids[0];
        final long b = ids[1];
        final SubmitOptions onB = SubmitOptions.options().workers(b).allowOtherWorkers(false).pure(false);
        final double[] base = new double[50];
        for (int i = 0; i < base.length; i++)
        {
            final long t0 = System.nanoTime();
            final GridFuture<Long> f = client.submit(Tasks.INC, onB, (long)i);
            f.get();
            base[i] = (System.nanoTime() - t0) / 1e9;
            f.release();
        }
        Arrays.sort(base);
        final double baseS = base[base.length / 2];
        final ScatterOptions toA = ScatterOptions.options().workers(a).hash(false);
        final GridFuture<double[]> warm = client.scatter(new double[1024], toA);
        final GridFuture<Long> warmTask = client.submit(Tasks.NBYTES_OF, onB, warm);
        warmTask.get();
        warmTask.release();
        warm.release();

        final double[] big = randomDoubles(2, ctx.bigMiB * MIB);
        final long nbytes = big.length * 8L;
        final LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        out.put("bytes", nbytes);
        out.put("baseline_pinned_task_s_median", LoadMonitor.round(baseS, 5));

        GridFuture<double[]> f = client.scatter(big, toA);
        check(Arrays.equals(client.whoHas(List.of(f)).get(f.key()), new long[]{a}), "scattered array not on A only");
        long t0 = System.nanoTime();
        GridFuture<Long> n = null;
        try
        {
            n = client.submit(Tasks.NBYTES_OF, onB, f);
            final long got = n.get();
            final long t1 = System.nanoTime();
            check(got == nbytes, "task on B saw " + got + " bytes");
            final long[] holders = client.whoHas(List.of(f)).get(f.key());
            out.put("task_wall_s", seconds(t1 - t0));
            out.put("MBps_task_wall", mbps(nbytes, t1 - t0));
            out.put("MBps_minus_task_overhead", mbps(nbytes, (t1 - t0) - (long)(baseS * 1e9)));
            out.put("key_now_on", holdersNamed(holders, a, b));
        }
        catch (final RuntimeException ex)
        {
            // Process workers decode a task's arguments onto their heap; say so instead of losing the other figure.
            out.put("task_error", ex.getClass().getSimpleName() + ": " + ex.getMessage());
        }
        finally
        {
            if (null != n)
            {
                n.release(); // an erred key stays on the scheduler while wanted
            }
        }
        f.release();
        waitIdle();

        // The transfer alone: one more copy of the block on B, no task, no decoding.
        f = client.scatter(big, toA);
        t0 = System.nanoTime();
        client.replicate(List.of(f), 2, null);
        final long tCall = System.nanoTime();
        final String key = f.key();
        final List<GridFuture<double[]>> one = List.of(f);
        final long t1 = pollUntil(() -> client.whoHas(one).get(key).length == 2, 60_000);
        out.put("replicate_call_ms", ms(tCall - t0));
        out.put("replicate_wall_s", t1 < 0 ? null : seconds(t1 - t0));
        out.put("MBps_replicate", t1 < 0 ? null : mbps(nbytes, t1 - t0));
        f.release();
        waitIdle();
        if (overUdp)
        {
            final LinkedHashMap<String, Double> figures = new LinkedHashMap<>();
            figures.put("replicate", (Double)out.get("MBps_replicate"));
            out.put("udp_baseline", againstBareUdp(nbytes, figures));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------- e

    Map<String, Object> memoryRelease() throws InterruptedException
    {
        waitIdle();
        final long chunkDoubles = ctx.persistChunkMiB * MIB / 8;
        final List<Long> sizes = new ArrayList<>();
        for (int i = 0; i < ctx.persistChunks; i++)
        {
            sizes.add(chunkDoubles);
        }
        final List<GridFuture<double[]>> chunks = client.map(Tasks.CHUNK, sizes, SubmitOptions.options().pure(false));
        client.waitAll(chunks);
        final long nbytes = ctx.persistChunks * chunkDoubles * 8;
        final LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        out.put("array_bytes", nbytes);
        out.put("n_chunks", ctx.persistChunks);
        final long hb0 = System.nanoTime();
        while (client.info().managedBytes() < nbytes * 99 / 100 && System.nanoTime() - hb0 < TimeUnit.SECONDS.toNanos(5))
        {
            Thread.sleep(5);
        }
        out.put("heartbeat_metric_caught_up_after_s", seconds(System.nanoTime() - hb0));
        out.put("worker_managed_bytes_after_persist", workerManagedBytes());

        final List<String> keys = new ArrayList<>();
        for (final GridFuture<double[]> f : chunks)
        {
            keys.add(f.key());
        }
        final List<GridFuture<double[]>> locate = chunks;
        long tWorker = -1;
        long tSched = -1;
        long tHb = -1;
        final ArrayList<Long> pollCosts = new ArrayList<>();
        // In-process, a watcher thread reads the workers' stores every 20 µs: the round trips of the loop below
        // (whoHas, info) take 0.1-2 ms each after the pause, and checking the stores between them made that
        // round trip this figure's resolution (a 2 ms poll read as a 2 ms release).
        final AtomicLong workerZeroAt = new AtomicLong(-1);
        final Thread watcher = inProcess ? startReleaseWatcher(workerZeroAt) : null;
        final long t0 = System.nanoTime();
        release(chunks);
        while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(15))
        {
            final long p0 = System.nanoTime();
            if (tWorker < 0 && inProcess && workerZeroAt.get() >= 0)
            {
                tWorker = Math.max(0, workerZeroAt.get() - t0);
            }
            if (tSched < 0 && noneHeld(client.whoHas(locate), keys))
            {
                tSched = System.nanoTime() - t0;
            }
            if (tHb < 0 && client.info().managedBytes() < THRESHOLD_BYTES)
            {
                tHb = System.nanoTime() - t0;
            }
            pollCosts.add(System.nanoTime() - p0);
            if ((tWorker >= 0 || !inProcess) && tSched >= 0 && tHb >= 0)
            {
                break;
            }
            LockSupport.parkNanos(100_000);
        }
        if (null != watcher)
        {
            watcher.interrupt();
            watcher.join(1_000);
            if (tWorker < 0 && workerZeroAt.get() >= 0)
            {
                tWorker = Math.max(0, workerZeroAt.get() - t0);
            }
        }
        out.put("release_ms_worker_state_nbytes", tWorker < 0 ? null : ms(tWorker));
        out.put("release_ms_scheduler_keys", tSched < 0 ? null : ms(tSched));
        out.put("release_ms_heartbeat_managed_bytes", tHb < 0 ? null : ms(tHb));
        pollCosts.sort(null);
        out.put("poll_interval_ms", 0.1);
        out.put("poll_cost_ms_median", ms(pollCosts.get(pollCosts.size() / 2)));
        out.put("n_polls", pollCosts.size());
        out.put("note", "worker_state_nbytes = each worker's block store (in-process workers only: the public API " +
            "gives process workers' memory through heartbeats only); scheduler_keys = whoHas of the released keys " +
            "empty; heartbeat_managed_bytes = Client.info() (worker heartbeats every 200 ms). Resolution = 0.1 ms " +
            "park + poll cost.");
        waitIdle();
        return out;
    }

    // ------------------------------------------------------------------------------------------- h

    Map<String, Object> replicateRebalance()
    {
        final long[] ids = workers();
        final long a = ids[0];
        final long b = ids[1];
        final List<double[]> blocks = new ArrayList<>();
        for (int i = 0; i < ctx.smallCount; i++)
        {
            blocks.add(randomDoubles(300 + i, ctx.smallMiB * MIB));
        }
        final long nbytes = (long)ctx.smallCount * ctx.smallMiB * MIB;
        final ScatterOptions toA = ScatterOptions.options().workers(a).hash(false);
        final LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        out.put("bytes", nbytes);

        List<GridFuture<double[]>> fs = client.scatter(blocks, toA);
        check(allOnlyOn(client.whoHas(fs), a), "scattered blocks not on A only");
        long t0 = System.nanoTime();
        client.replicate(fs, 2, null);
        final long tCall = System.nanoTime();
        final List<GridFuture<double[]>> rep = fs;
        final long t1 = pollUntil(() -> countWithCopies(client.whoHas(rep), 2) == rep.size(), 60_000);
        final LinkedHashMap<String, Object> r = new LinkedHashMap<>();
        r.put("call_ms", ms(tCall - t0));
        r.put("wall_s", t1 < 0 ? null : seconds(t1 - t0));
        r.put("wall_ms", t1 < 0 ? null : ms(t1 - t0));
        r.put("MBps", t1 < 0 ? null : mbps(nbytes, t1 - t0));
        r.put("keys_with_2_replicas", countWithCopies(client.whoHas(fs), 2));
        out.put("replicate_n2", r);
        release(fs);
        waitIdle();

        fs = client.scatter(blocks, toA);
        check(allOnlyOn(client.whoHas(fs), a), "scattered blocks not on A only");
        t0 = System.nanoTime();
        client.rebalance(fs, null);
        final long tCallRebalance = System.nanoTime();
        // Moves complete in the background: done when every key has one copy and the split has not changed for
        // 20 ms (200 ms while nothing moved: the thresholds may leave it be); the time is when that final split
        // was first seen.
        int lastOnB = -1;
        long firstSeen = -1;
        Map<String, long[]> wh = null;
        while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(30))
        {
            wh = client.whoHas(fs);
            final int onB = countOn(wh, b);
            final long now = System.nanoTime();
            if (onB != lastOnB || countWithCopies(wh, 2) > 0)
            {
                lastOnB = onB;
                firstSeen = now;
            }
            else if (now - firstSeen >= (onB > 0 ? 20_000_000L : 200_000_000L))
            {
                break;
            }
            LockSupport.parkNanos(200_000);
        }
        final LinkedHashMap<String, Object> rb = new LinkedHashMap<>();
        rb.put("call_ms", ms(tCallRebalance - t0));
        rb.put("wall_s", seconds(firstSeen - t0));
        rb.put("wall_ms", ms(firstSeen - t0));
        rb.put("keys_on_A", countOn(wh, a));
        rb.put("keys_on_B", countOn(wh, b));
        final long moved = (long)countOn(wh, b) * ctx.smallMiB * MIB;
        rb.put("moved_MB", LoadMonitor.round(moved / 1e6, 1));
        rb.put("MBps_moved", moved > 0 ? mbps(moved, firstSeen - t0) : null);
        out.put("rebalance", rb);
        release(fs);
        waitIdle();
        return out;
    }

    // ------------------------------------------------------------------------------------------- g

    Map<String, Object> cancel() throws InterruptedException
    {
        waitIdle();
        final LinkedHashMap<String, Object> out = new LinkedHashMap<>();
        Delayed<Long> d = Delayed.call(Tasks.SLOW_INC, 0L);
        for (int i = 1; i < ctx.cancelChainN; i++)
        {
            d = Delayed.call(Tasks.SLOW_INC, d);
        }
        final Delayed<Long> persisted = client.persist(d);
        final Map<String, Object> chain = cancelAndTime(List.of(persisted.future()));
        chain.put("chain_len", ctx.cancelChainN);
        chain.put("task", "sleep(1ms)+1");
        out.put("chain", chain);
        waitIdle();

        final List<GridFuture<Long>> futs = client.map(Tasks.SLOW_INC, range(ctx.cancelMapN),
            SubmitOptions.options().pure(false));
        final Map<String, Object> wide = cancelAndTime(futs);
        wide.put("n_tasks", ctx.cancelMapN);
        wide.put("task", "sleep(1ms)+1");
        out.put("wide_map", wide);
        waitIdle();
        return out;
    }

    private Map<String, Object> cancelAndTime(final Collection<? extends GridFuture<?>> futures)
        throws InterruptedException
    {
        Thread.sleep(ctx.cancelAfterMs);
        final long before = client.info().taskCount();
        final long t0 = System.nanoTime();
        client.cancel(futures, false);
        final long tCall = System.nanoTime() - t0;
        // Dask's cancel also drops the client's want; here that is release().
        release(futures);
        final long[] polls = {0};
        final long tEmpty = pollUntil(() ->
        {
            polls[0]++;
            return client.info().taskCount() == 0;
        }, 30_000);
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        m.put("scheduler_tasks_at_cancel", before);
        m.put("cancel_call_ms", ms(tCall));
        m.put("ms_until_scheduler_empty", tEmpty < 0 ? null : ms(tEmpty - t0));
        m.put("polls", polls[0]);
        return m;
    }

    // ------------------------------------------------------------------------------------------- f

    Map<String, Object> restart()
    {
        final List<GridFuture<Long>> fs = client.map(Tasks.INC, range(100), SubmitOptions.options().pure(false));
        gatherAndCheck(fs, 100);
        final long t0 = System.nanoTime();
        client.restart();
        final long t1 = System.nanoTime();
        final int workersBack = client.info().workers().size();
        release(fs);
        final long f0 = System.nanoTime();
        final GridFuture<Long> f = client.submit(Tasks.INC, SubmitOptions.options().pure(false), 1L);
        final long r = f.get();
        final long f1 = System.nanoTime();
        f.release();
        check(r == 2, "first task after restart returned " + r);
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        m.put("wall_s", seconds(t1 - t0));
        m.put("wall_ms", ms(t1 - t0));
        m.put("workers_back", workersBack);
        m.put("first_task_after_restart_ms", ms(f1 - f0));
        return m;
    }

    // ------------------------------------------------------------------------------------------- helpers

    /** Wait until the scheduler holds no keys (after futures were released). */
    boolean waitIdle()
    {
        return pollUntil(() -> client.info().taskCount() == 0, ctx.idleTimeoutMs) >= 0;
    }

    private static long pollUntil(final java.util.function.BooleanSupplier done, final long timeoutMs)
    {
        final long t0 = System.nanoTime();
        while (System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(timeoutMs))
        {
            if (done.getAsBoolean())
            {
                return System.nanoTime();
            }
            LockSupport.parkNanos(100_000);
        }
        return -1;
    }

    private long[] workers()
    {
        final long[] ids = cluster.workerIds().clone();
        Arrays.sort(ids);
        check(ids.length >= 2, "need 2 workers, have " + ids.length);
        return ids;
    }

    /** Records when the in-process workers' stores first hold under {@link #THRESHOLD_BYTES}; stops on interrupt. */
    private Thread startReleaseWatcher(final AtomicLong zeroAt)
    {
        final List<LocalCluster.WorkerHandle> workers = List.copyOf(cluster.workers());
        final Thread t = new Thread(() ->
        {
            while (!Thread.currentThread().isInterrupted())
            {
                long managed = 0;
                for (final LocalCluster.WorkerHandle w : workers)
                {
                    managed += w.managedBytes();
                }
                if (managed < THRESHOLD_BYTES)
                {
                    zeroAt.set(System.nanoTime());
                    return;
                }
                LockSupport.parkNanos(20_000);
            }
        }, "bench-release-watcher");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private Map<String, Object> workerManagedBytes()
    {
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        for (final LocalCluster.WorkerHandle w : cluster.workers())
        {
            m.put(Long.toString(w.id()), w.managedBytes());
        }
        return m;
    }

    private static long sum(final Map<String, Object> m)
    {
        long s = 0;
        for (final Object v : m.values())
        {
            s += (Long)v;
        }
        return s;
    }

    private List<GridFuture<Long>> gatherAndCheck(final List<GridFuture<Long>> futs, final int n)
    {
        final List<Long> res = client.gather(futs);
        check(res.size() == n && res.get(n - 1) == n, "map returned " + res.size() + " results, last " +
            (res.isEmpty() ? null : res.get(res.size() - 1)));
        return futs;
    }

    /** As Dask's {@code del} of a collection: one batch. */
    private void release(final Collection<? extends GridFuture<?>> futures)
    {
        client.release(futures);
    }

    private static boolean noneHeld(final Map<String, long[]> wh, final List<String> keys)
    {
        for (final String k : keys)
        {
            final long[] h = wh.get(k);
            if (null != h && h.length > 0)
            {
                return false;
            }
        }
        return true;
    }

    private static boolean allOnlyOn(final Map<String, long[]> wh, final long worker)
    {
        for (final long[] h : wh.values())
        {
            if (h.length != 1 || h[0] != worker)
            {
                return false;
            }
        }
        return true;
    }

    private static int countWithCopies(final Map<String, long[]> wh, final int copies)
    {
        int n = 0;
        for (final long[] h : wh.values())
        {
            if (h.length == copies)
            {
                n++;
            }
        }
        return n;
    }

    private static int countOn(final Map<String, long[]> wh, final long worker)
    {
        int n = 0;
        for (final long[] h : wh.values())
        {
            for (final long w : h)
            {
                if (w == worker)
                {
                    n++;
                    break;
                }
            }
        }
        return n;
    }

    private static List<String> holdersNamed(final long[] holders, final long a, final long b)
    {
        final ArrayList<String> names = new ArrayList<>();
        for (final long h : holders)
        {
            names.add(h == a ? "A" : h == b ? "B" : Long.toString(h));
        }
        names.sort(null);
        return names;
    }

    static List<Long> range(final int n)
    {
        final ArrayList<Long> l = new ArrayList<>(n);
        for (long i = 0; i < n; i++)
        {
            l.add(i);
        }
        return l;
    }

    /** Random (incompressible) doubles filling {@code bytes}. */
    static double[] randomDoubles(final long seed, final long bytes)
    {
        final SplittableRandom rnd = new SplittableRandom(seed);
        final double[] a = new double[(int)(bytes / 8)];
        for (int i = 0; i < a.length; i++)
        {
            a[i] = rnd.nextDouble();
        }
        return a;
    }

    private static Map<String, Object> bandwidth(final long bytes, final long nanos)
    {
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        m.put("bytes", bytes);
        m.put("seconds", seconds(nanos));
        m.put("MBps", mbps(bytes, nanos));
        return m;
    }

    static Double mbps(final long bytes, final long nanos)
    {
        return nanos > 0 ? LoadMonitor.round(bytes / (nanos / 1e9) / 1e6, 1) : null;
    }

    private static Double rate(final long n, final long nanos)
    {
        return LoadMonitor.round(n / (nanos / 1e9), 1);
    }

    private static Double seconds(final long nanos)
    {
        return LoadMonitor.round(nanos / 1e9, 5);
    }

    private static Double ms(final long nanos)
    {
        return LoadMonitor.round(nanos / 1e6, 3);
    }

    private static Double us(final long nanos)
    {
        return LoadMonitor.round(nanos / 1e3, 1);
    }

    private static void check(final boolean ok, final String what)
    {
        if (!ok)
        {
            throw new IllegalStateException(what);
        }
    }

}
