package io.offgrid.grid.internal;

import io.offgrid.client.Bag;
import io.offgrid.client.Client;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SerializableFunction;
import io.offgrid.grid.LocalCluster;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * {@code ./offgrid demo}: the memory model told step by step on an embedded cluster, with every worker's
 * managed bytes after each step. The last line is one JSON object with the figures.
 */
public final class Demo
{
    private static final long MB = 1 << 20;

    private final PrintStream out;
    private final int workers;
    private final boolean processes;
    private final byte[] secret;
    private final Map<String, Object> figures = new LinkedHashMap<>();
    private LocalCluster cluster;
    private int step;

    /**
     * @param out       where the story goes.
     * @param workers   number of workers.
     * @param processes one JVM per worker.
     * @param secret    cluster secret or null.
     */
    public Demo(final PrintStream out, final int workers, final boolean processes, final byte[] secret)
    {
        this.out = out;
        this.workers = Math.max(1, workers);
        this.processes = processes;
        this.secret = secret;
    }

    /**
     * @return process exit code: 0 when every step behaved as the memory model says.
     */
    public int run()
    {
        final long t0 = System.nanoTime();
        boolean ok = true;
        try (LocalCluster c = LocalCluster.builder().workers(workers).threadsPerWorker(2)
            .memoryLimit(512 * MB).processes(processes).clusterSecret(secret).start())
        {
            cluster = c;
            final double startMs = ms(t0);
            figures.put("workers", workers);
            figures.put("processes", processes);
            figures.put("start_ms", round(startMs));
            out.printf("Offgrid demo: a scheduler and %d %s workers started in %.0f ms.%n", workers,
                processes ? "process" : "in-process", startMs);
            out.println("Results live off-heap in each worker's block store; the numbers below are each worker's");
            out.println("managed bytes, read after every step.");
            final Client client = c.client();
            memory("empty cluster");

            // 1. scatter
            section("scatter: put 8 MiB of doubles into cluster memory");
            final double[] data = new double[1 << 20];
            for (int i = 0; i < data.length; i++)
            {
                data[i] = i;
            }
            final GridFuture<double[]> scattered = client.scatter(data, ScatterOptions.options());
            out.println("  one copy, on the worker with the most free memory (no lineage: it cannot be recomputed).");
            settle(() -> total() >= 8 * MB);
            memory("after scatter");
            figures.put("scatter_bytes", total());

            // 2. chain holding only its tip
            section("a chain of 20 tasks, holding only its tip");
            final SerializableFunction<double[], double[]> scale = a ->
            {
                final double[] r = new double[a.length];
                for (int i = 0; i < a.length; i++)
                {
                    r[i] = a[i] * 1.01;
                }
                return r;
            };
            GridFuture<double[]> tip = client.submit(scale, scattered);
            for (int i = 1; i < 20; i++)
            {
                final GridFuture<double[]> next = client.submit(scale, tip);
                tip.release(); // the next task still needs it, so it stays until that task has run
                tip = next;
            }
            tip.await(60, TimeUnit.SECONDS);
            settle(() -> total() <= 17 * MB);
            out.println("  each link was freed as soon as the next had run: only the scattered input and the tip remain.");
            memory("after the chain");
            fresh();
            final long chainBytes = total();
            figures.put("chain_bytes", chainBytes);
            ok &= check(total() <= 17 * MB);

            // 3. persist and keep working
            section("persist a collection and keep working while it computes");
            final Bag<Long> lazy = Bag.range(400_000, 8).map(x ->
            {
                long h = x;
                for (int i = 0; i < 200; i++)
                {
                    h = h * 6364136223846793005L + 1442695040888963407L;
                }
                return h & 0xffff;
            });
            final long p0 = System.nanoTime();
            final Bag<Long> persisted = client.persist(lazy);
            final double persistMs = ms(p0);
            final GridFuture<Integer> sideFuture = client.submit((Integer x) -> x + 1, 41);
            final int side = sideFuture.get();
            sideFuture.release();
            out.printf("  persist returned in %.2f ms; meanwhile another task answered %d.%n", persistMs, side);
            figures.put("persist_return_ms", round(persistMs));
            final List<GridFuture<?>> parts = new ArrayList<>();
            for (var p : persisted.partitions())
            {
                parts.add(p.future());
            }
            client.waitAll(parts, 120, TimeUnit.SECONDS);
            final double persistDoneMs = ms(p0);
            out.printf("  all 8 partitions in memory after %.0f ms.%n", persistDoneMs);
            final long bagOnly = client.nbytes(parts).values().stream().mapToLong(Long::longValue).sum();
            settle(() -> total() == chainBytes + bagOnly); // the inputs of the map are freed once it has run
            memory("after persist");
            fresh();
            final long withBag = total();
            figures.put("persisted_bytes", withBag);

            // 4. compute a small result
            section("compute a small result (blocking; persists nothing)");
            final java.util.Set<String> keysBefore = heldKeys(client);
            final Number sum = persisted.sum().compute();
            out.printf("  sum = %s; the reduction's intermediates were freed as it went.%n", sum);
            settle(() -> heldKeys(client).equals(keysBefore));
            final boolean copied = total() > withBag;
            out.println(copied ?
                "  no new key is held; a worker that fetched a partition for the reduction kept its copy (rule 5)." :
                "  no new key is held.");
            memory("after compute");
            ok &= check(heldKeys(client).equals(keysBefore));

            // 5. release and watch memory return
            section("release the chain's tip and the scattered data");
            fresh();
            final long beforeRelease = total();
            tip.release();
            scattered.release();
            final long r0 = System.nanoTime();
            settle(() -> total() == beforeRelease - chainBytes);
            final double releaseMs = ms(r0);
            out.printf("  freed on the workers %.1f ms after release.%n", releaseMs);
            ok &= check(total() == beforeRelease - chainBytes);
            figures.put("release_free_ms", round(releaseMs));
            memory("after release");

            // 6. two collections sharing data
            section("two collections sharing keys: release one, then the other");
            final Bag<Long> again = client.persist(lazy); // the same lazy graph: the same keys
            fresh();
            final long bagBytes = total();
            persisted.release();
            settle(() -> false, 150);
            out.println("  released the first: the second still points to the same keys, so nothing is freed.");
            memory("after releasing one");
            ok &= check(total() == bagBytes);
            again.release();
            settle(() -> total() == 0);
            out.println("  released the second: nothing points to the keys any more.");
            memory("after releasing both");
            ok &= check(total() == 0);

            // 7. cancel with dependents
            section("cancel a task and everything depending on it");
            final GridFuture<Long> slow = client.submit((Long ms) ->
            {
                try
                {
                    Thread.sleep(ms);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                return ms;
            }, 5_000L);
            final GridFuture<Long> dep1 = client.submit((Long x) -> x + 1, slow);
            final GridFuture<Long> dep2 = client.submit((Long x) -> x * 2, dep1);
            Thread.sleep(100);
            final long k0 = System.nanoTime();
            client.cancel(List.of(slow), false);
            dep2.await(10, TimeUnit.SECONDS);
            final double cancelMs = ms(k0);
            out.printf("  cancelled in %.1f ms: %s=%s, %s=%s, %s=%s%n", cancelMs, slow.key(), slow.status(), dep1.key(),
                dep1.status(), dep2.key(), dep2.status());
            figures.put("cancel_ms", round(cancelMs));
            slow.release();
            dep1.release();
            dep2.release();
            ok &= check(dep2.status() == FutureStatus.CANCELLED && dep1.status() == FutureStatus.CANCELLED);
            memory("after cancel");

            // 8. restart
            section("restart: forget everything, clear every worker");
            final Bag<Long> before = client.persist(Bag.range(100_000, 4));
            for (var p : before.partitions())
            {
                p.future().await(30, TimeUnit.SECONDS);
            }
            memory("before restart");
            final long s0 = System.nanoTime();
            client.restart();
            final double restartMs = ms(s0);
            out.printf("  restart took %.1f ms; every future is now %s.%n", restartMs,
                before.partitions().get(0).future().status());
            figures.put("restart_ms", round(restartMs));
            memory("after restart");
            ok &= check(total() == 0);
            final GridFuture<Integer> afterFuture = client.submit((Integer x) -> x * 2, 21);
            final int after = afterFuture.get();
            afterFuture.release();
            before.release();
            out.printf("  and the cluster works after it: 21 * 2 = %d.%n", after);

            // 9. the seed example on a Frame
            ok &= frameSeed(client);
        }
        catch (final Exception ex)
        {
            ok = false;
            out.println("demo failed: " + ex);
            figures.put("error", String.valueOf(ex.getMessage()));
        }
        figures.put("ok", ok);
        figures.put("total_ms", round(ms(t0)));
        out.println(json(figures));
        return ok ? 0 : 1;
    }

    /**
     * The memory model's own dataframe example, line by line, on generated CSV files read by the workers:
     * <pre>
     * df = read_csv(...); df = df[df.x > 0]; df = df.assign(z = df.x + df.y)
     * df = client.persist(df); df.x.sum().compute(); future = client.compute(df.x.sum())
     * df2 = df[df.x < 10]; del df; client.cancel(df); client.restart()
     * </pre>
     */
    private boolean frameSeed(final Client client) throws Exception
    {
        section("the seed example on a Frame: CSV files read by the workers, columns off-heap");
        final Map<String, Object> frame = new LinkedHashMap<>();
        figures.put("frame", frame);
        final int files = 4;
        final int rows = 250_000;
        final java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("offgrid-frame-demo");
        boolean ok = true;
        try
        {
            final java.util.SplittableRandom random = new java.util.SplittableRandom(6);
            long csvBytes = 0;
            double expectedSum = 0;
            for (int f = 0; f < files; f++)
            {
                final StringBuilder sb = new StringBuilder(rows * 24).append("id,x,y\n");
                for (int r = 0; r < rows; r++)
                {
                    final double x = Math.round(random.nextDouble(-20, 20) * 1000) / 1000.0;
                    final double y = Math.round(random.nextDouble(-20, 20) * 1000) / 1000.0;
                    expectedSum += x > 0 ? x : 0;
                    sb.append(f * rows + r).append(',').append(x).append(',').append(y).append('\n');
                }
                final java.nio.file.Path file = dir.resolve(String.format(Locale.ROOT, "part-%02d.csv", f));
                java.nio.file.Files.writeString(file, sb);
                csvBytes += java.nio.file.Files.size(file);
            }
            out.printf("  wrote %d CSV files, %s, %d rows each, in %s%n", files, human(csvBytes), rows, dir);
            frame.put("csv_bytes", csvBytes);

            out.println("  df = Frame.readCsv(dir + \"/part-*.csv\"); df = df.filter(col(\"x\").gt(0));");
            out.println("  df = df.withColumn(\"z\", col(\"x\").plus(col(\"y\")))");
            io.offgrid.client.Frame df = io.offgrid.client.Frame.readCsv(dir + "/part-*.csv",
                io.offgrid.memory.CsvOptions.defaults());
            df = df.filter(io.offgrid.memory.Expr.col("x").gt(0));
            df = df.withColumn("z", io.offgrid.memory.Expr.col("x").plus(io.offgrid.memory.Expr.col("y")));
            out.println("    lazy: nothing has run.");
            memory("frame: lazy");
            ok &= check(total() == 0);

            out.println("  df = client.persist(df)");
            final long p0 = System.nanoTime();
            df = client.persist(df);
            final double returnMs = ms(p0);
            client.waitAll(df.futures(), 120, TimeUnit.SECONDS);
            final double doneMs = ms(p0);
            final long pinned = client.nbytes(df.futures()).values().stream().mapToLong(Long::longValue).sum();
            out.printf("    returned in %.2f ms; %d partitions parsed on the workers and pinned after %.0f ms (%s).%n",
                returnMs, df.npartitions(), doneMs, human(pinned));
            settle(() -> total() == pinned);
            memory("frame: after persist");
            ok &= check(total() == pinned);
            frame.put("persist_return_ms", round(returnMs));
            frame.put("persist_done_ms", round(doneMs));
            frame.put("persisted_bytes", pinned);

            out.println("  df.column(\"x\").sum().compute()");
            final long c0 = System.nanoTime();
            final double sum = df.column("x").sum().compute(client).doubleValue();
            final double computeMs = ms(c0);
            out.printf("    = %.3f in %.1f ms (plain Java on the same numbers: %.3f); nothing new pinned.%n", sum,
                computeMs, expectedSum);
            settle(() -> total() == pinned);
            memory("frame: after compute");
            ok &= check(total() == pinned && Math.abs(sum - expectedSum) <= 1e-6 * Math.abs(expectedSum));
            frame.put("sum_compute_ms", round(computeMs));

            out.println("  future = client.compute(df.column(\"x\").sum())");
            final GridFuture<?> future = client.compute(df.column("x").sum()).get(0);
            future.await(60, TimeUnit.SECONDS);
            final long scalar = client.nbytes(List.of(future)).values().stream().mapToLong(Long::longValue).sum();
            out.printf("    %s: %s; the future pins its %d-byte result.%n", future.status(), future.get(), scalar);
            settle(() -> total() == pinned + scalar);
            memory("frame: after client.compute");
            ok &= check(total() == pinned + scalar);

            out.println("  df2 = df.filter(col(\"x\").lt(10)); df.release()");
            final io.offgrid.client.Frame df2 = df.filter(io.offgrid.memory.Expr.col("x").lt(10));
            df.release();
            settle(() -> false, 200);
            out.println("    df2 still holds df's partitions: nothing freed.");
            memory("frame: after releasing df");
            ok &= check(total() == pinned + scalar);
            final long below10 = df2.count().compute(client);
            out.printf("    df2.count() = %d%n", below10);

            out.println("  client.cancel(df)");
            final long k0 = System.nanoTime();
            client.cancel(df, false);
            settle(() -> total() == 0 && future.status() == FutureStatus.CANCELLED);
            final double cancelMs = ms(k0);
            out.printf("    df, df2 and the future are cancelled (future: %s) and freed in %.1f ms.%n", future.status(),
                cancelMs);
            memory("frame: after cancel");
            ok &= check(total() == 0 && future.status() == FutureStatus.CANCELLED);
            frame.put("cancel_free_ms", round(cancelMs));
            df2.release();
            future.release();

            out.println("  client.restart()");
            final io.offgrid.client.Frame more = client.persist(io.offgrid.client.Frame.random(1_000_000, 4, 1, -1, 1,
                "x", "y"));
            client.waitAll(more.futures(), 60, TimeUnit.SECONDS);
            memory("frame: a new persisted frame");
            final long s0 = System.nanoTime();
            client.restart();
            final double restartMs = ms(s0);
            out.printf("    restart took %.1f ms.%n", restartMs);
            memory("frame: after restart");
            ok &= check(total() == 0);
            frame.put("restart_ms", round(restartMs));
            more.release();
        }
        finally
        {
            try (java.util.stream.Stream<java.nio.file.Path> list = java.nio.file.Files.list(dir))
            {
                for (final java.nio.file.Path f : (Iterable<java.nio.file.Path>)list::iterator)
                {
                    java.nio.file.Files.deleteIfExists(f);
                }
            }
            java.nio.file.Files.deleteIfExists(dir);
        }
        return ok;
    }

    private boolean check(final boolean held)
    {
        if (!held)
        {
            out.println("  UNEXPECTED: this step did not behave as the memory model says");
        }
        return held;
    }

    private void section(final String title)
    {
        out.println();
        out.printf("%d. %s%n", ++step, title);
    }

    /** Process workers report memory with their heartbeat (every 200 ms): wait for a fresh one. */
    private void fresh()
    {
        if (processes)
        {
            settle(() -> false, 450);
        }
    }

    private void memory(final String label)
    {
        fresh();
        final StringBuilder sb = new StringBuilder("  [").append(label).append("] ");
        final List<LocalCluster.WorkerHandle> ws = cluster.workers();
        for (int i = 0; i < ws.size(); i++)
        {
            final LocalCluster.WorkerHandle w = ws.get(i);
            sb.append(i == 0 ? "" : " | ").append("worker ").append(w.id()).append(": ").append(human(w.managedBytes()));
        }
        out.println(sb);
        @SuppressWarnings("unchecked")
        final Map<String, Object> mem = (Map<String, Object>)figures.computeIfAbsent("managed_bytes", k -> new LinkedHashMap<>());
        mem.put(label, total());
    }

    private static java.util.Set<String> heldKeys(final Client client)
    {
        final java.util.Set<String> keys = new java.util.HashSet<>();
        client.hasWhat().values().forEach(keys::addAll);
        return keys;
    }

    private long total()
    {
        long sum = 0;
        for (final LocalCluster.WorkerHandle w : cluster.workers())
        {
            sum += w.managedBytes();
        }
        return sum;
    }

    private void settle(final BooleanSupplier done)
    {
        settle(done, processes ? 6_000 : 5_000);
    }

    private static void settle(final BooleanSupplier done, final long maxMs)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(maxMs);
        while (!done.getAsBoolean() && System.nanoTime() - deadline < 0)
        {
            try
            {
                Thread.sleep(1);
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static double ms(final long t0)
    {
        return (System.nanoTime() - t0) / 1e6;
    }

    private static double round(final double v)
    {
        return Math.round(v * 100) / 100.0;
    }

    private static String human(final long bytes)
    {
        if (bytes < 1024)
        {
            return bytes + " B";
        }
        if (bytes < MB)
        {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double)MB);
    }

    static String json(final Map<String, Object> map)
    {
        final StringBuilder sb = new StringBuilder("{");
        boolean first = true;
        for (final Map.Entry<String, Object> e : map.entrySet())
        {
            sb.append(first ? "" : ",").append('"').append(e.getKey()).append("\":");
            first = false;
            final Object v = e.getValue();
            if (v instanceof Map)
            {
                @SuppressWarnings("unchecked")
                final Map<String, Object> m = (Map<String, Object>)v;
                sb.append(json(m));
            }
            else if (v instanceof Number || v instanceof Boolean)
            {
                sb.append(v);
            }
            else
            {
                sb.append('"').append(String.valueOf(v).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
            }
        }
        return sb.append('}').toString();
    }
}
