package io.offgrid.perf.grid;

import io.offgrid.client.Bag;
import io.offgrid.client.Client;
import io.offgrid.client.GridFuture;
import io.offgrid.client.SubmitOptions;
import io.offgrid.grid.LocalCluster;
import io.offgrid.scheduler.Scheduler;
import org.HdrHistogram.Histogram;

import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The issue-5 figures for the grid, with HdrHistogram (the perf issue builds the full harness):
 * submit-to-result round trip p50/p99 on an in-process LocalCluster and with process workers, 20,000-task map
 * throughput, and restart wall time. Baseline measured in the same run: the same round trip through a plain
 * {@link ExecutorService} in this JVM (no grid, no transport, no off-heap store).
 * <pre>
 * java $(cat perf/target/classes/offgrid-jvm.flags) -cp perf/target/classes:$(cat perf/target/classpath.txt) \
 *     io.offgrid.perf.grid.GridFigures [roundTrips] [mapTasks]
 * </pre>
 */
public final class GridFigures
{
    private GridFigures()
    {
    }

    /**
     * @param args optional: number of round trips (default 3000), tasks in the map (default 20000).
     * @throws Exception on failure.
     */
    public static void main(final String[] args) throws Exception
    {
        final int roundTrips = args.length > 0 ? Integer.parseInt(args[0]) : 3_000;
        final int mapTasks = args.length > 1 ? Integer.parseInt(args[1]) : 20_000;
        System.out.println("load average at start: " + loadAverage());

        final Histogram baseline = executorRoundTrip(roundTrips);
        print("baseline: ExecutorService submit->get (same JVM)", baseline);

        for (final boolean processes : new boolean[]{false, true})
        {
            final String mode = processes ? "process workers (on the cluster's driver, Aeron IPC)" : "in-process workers (IPC)";
            try (LocalCluster cluster = LocalCluster.builder().workers(2).threadsPerWorker(2).processes(processes).start();
                 Client client = cluster.client())
            {
                final Histogram rt = gridRoundTrip(client, roundTrips);
                print("grid submit->result, " + mode, rt);
                System.out.printf("  ratio to baseline: p50 %.1fx, p99 %.1fx%n",
                    rt.getValueAtPercentile(50) / (double)baseline.getValueAtPercentile(50),
                    rt.getValueAtPercentile(99) / (double)baseline.getValueAtPercentile(99));

                // Warm first (JIT, tables grown), as a long-running service is: the first maps run at half speed.
                for (int i = 0; i < MAP_WARMUPS; i++)
                {
                    mapThroughput(client, mapTasks);
                }
                final double[] rates = new double[MAP_RUNS];
                for (int i = 0; i < rates.length; i++)
                {
                    rates[i] = mapThroughput(client, mapTasks);
                }
                Arrays.sort(rates);
                final double execRate = executorThroughput(mapTasks);
                System.out.printf("%d-task map, %s, after %d warm-up maps: median %.0f tasks/s (runs %s); ExecutorService baseline %.0f tasks/s; ratio %.3f%n",
                    mapTasks, mode, MAP_WARMUPS, rates[MAP_RUNS / 2], Arrays.toString(Arrays.stream(rates).map(Math::round).toArray()),
                    execRate, rates[MAP_RUNS / 2] / execRate);

                // The same map with root-task queuing off (Dask's worker-saturation: "inf"): every task goes to a
                // worker at once, so messages batch per duty cycle; the default (1.1) keeps memory-heavy roots queued.
                try (LocalCluster unqueued = LocalCluster.builder().workers(2).threadsPerWorker(2).processes(processes)
                    .schedulerContext(new Scheduler.Context().workerSaturation(1000)).start();
                     Client other = unqueued.client())
                {
                    for (int i = 0; i < MAP_WARMUPS; i++)
                    {
                        mapThroughput(other, mapTasks);
                    }
                    final double[] unqueuedRates = new double[MAP_RUNS];
                    for (int i = 0; i < unqueuedRates.length; i++)
                    {
                        unqueuedRates[i] = mapThroughput(other, mapTasks);
                    }
                    Arrays.sort(unqueuedRates);
                    System.out.printf("%d-task map, %s, root-task queuing off: median %.0f tasks/s (runs %s)%n",
                        mapTasks, mode, unqueuedRates[MAP_RUNS / 2], Arrays.toString(Arrays.stream(unqueuedRates).map(Math::round).toArray()));
                }

                final double[] restarts = new double[7];
                for (int i = 0; i < restarts.length; i++)
                {
                    final Bag<Long> bag = client.persist(Bag.range(200_000, 16));
                    for (var p : bag.partitions())
                    {
                        p.future().await(60, TimeUnit.SECONDS);
                    }
                    final long t0 = System.nanoTime();
                    client.restart();
                    restarts[i] = (System.nanoTime() - t0) / 1e6;
                }
                Arrays.sort(restarts);
                System.out.printf("restart() wall time, %s, 16 partitions in memory: median %.1f ms, max %.1f ms%n",
                    mode, restarts[restarts.length / 2], restarts[restarts.length - 1]);
            }
        }
        System.out.println("load average at end: " + loadAverage());
    }

    private static Histogram gridRoundTrip(final Client client, final int n)
    {
        final Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        final SubmitOptions impure = SubmitOptions.options().pure(false);
        for (int i = 0; i < n + n / 4; i++)
        {
            final long t0 = System.nanoTime();
            final GridFuture<Integer> f = client.submit((Integer x) -> x + 1, impure, i);
            final int v = f.get();
            final long t = System.nanoTime() - t0;
            f.release();
            if (v != i + 1)
            {
                throw new IllegalStateException("wrong result " + v);
            }
            if (i >= n / 4)
            {
                h.recordValue(t);
            }
        }
        return h;
    }

    private static final int MAP_WARMUPS = 8;
    private static final int MAP_RUNS = 5;

    private static double mapThroughput(final Client client, final int n)
    {
        final List<Integer> items = new ArrayList<>(n);
        for (int i = 0; i < n; i++)
        {
            items.add(i);
        }
        final long t0 = System.nanoTime();
        final List<GridFuture<Integer>> out = client.map((Integer x) -> x * 2, items, SubmitOptions.options().pure(false));
        client.waitAll(out, 120, TimeUnit.SECONDS);
        final double rate = n / ((System.nanoTime() - t0) / 1e9);
        out.forEach(GridFuture::release);
        return rate;
    }

    private static Histogram executorRoundTrip(final int n) throws Exception
    {
        final ExecutorService pool = Executors.newFixedThreadPool(2);
        final Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
        try
        {
            for (int i = 0; i < n + n / 4; i++)
            {
                final int x = i;
                final long t0 = System.nanoTime();
                final Future<Integer> f = pool.submit(() -> x + 1);
                f.get();
                if (i >= n / 4)
                {
                    h.recordValue(System.nanoTime() - t0);
                }
            }
        }
        finally
        {
            pool.shutdownNow();
        }
        return h;
    }

    private static double executorThroughput(final int n) throws Exception
    {
        final ExecutorService pool = Executors.newFixedThreadPool(4);
        try
        {
            final long t0 = System.nanoTime();
            final List<Future<Integer>> fs = new ArrayList<>(n);
            for (int i = 0; i < n; i++)
            {
                final int x = i;
                fs.add(pool.submit(() -> x * 2));
            }
            for (final Future<Integer> f : fs)
            {
                f.get();
            }
            return n / ((System.nanoTime() - t0) / 1e9);
        }
        finally
        {
            pool.shutdownNow();
        }
    }

    private static void print(final String what, final Histogram h)
    {
        System.out.printf("%s: p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us (n=%d)%n", what,
            h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3,
            h.getMaxValue() / 1e3, h.getTotalCount());
    }

    private static String loadAverage()
    {
        try
        {
            return Files.readString(Paths.get("/proc/loadavg")).trim();
        }
        catch (final Exception ex)
        {
            return "n/a";
        }
    }
}
