package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.Frame;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridException;
import io.offgrid.client.GridFuture;
import io.offgrid.client.RemoteTaskException;
import io.offgrid.memory.ColumnType;
import io.offgrid.memory.ColumnarTable;
import io.offgrid.memory.CsvOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;

import static io.offgrid.grid.GridTests.MIB;
import static io.offgrid.grid.GridTests.await;
import static io.offgrid.grid.GridTests.total;
import static io.offgrid.memory.Expr.col;
import static io.offgrid.memory.Expr.lit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Frame on a two-worker cluster: the seed example of issue 6 line by line with the cluster's memory asserted
 * after each line, CSV edge cases through the workers, and frame results against plain Java.
 */
@Timeout(90)
class FrameTest
{
    @TempDir
    Path dir;

    private LocalCluster cluster;
    private Client client;

    @BeforeEach
    void start()
    {
        cluster = LocalCluster.builder().workers(2).threadsPerWorker(2).memoryLimit(256L * MIB).start();
        client = cluster.client();
    }

    @AfterEach
    void stop()
    {
        cluster.close();
    }

    /** Plain-Java copy of the generated CSV data. */
    static final class Data
    {
        final List<double[]> x = new ArrayList<>();
        final List<double[]> y = new ArrayList<>();
    }

    static Data writeCsvFiles(final Path dir, final int files, final int rows, final long seed) throws IOException
    {
        final Data data = new Data();
        final SplittableRandom random = new SplittableRandom(seed);
        for (int f = 0; f < files; f++)
        {
            final StringBuilder sb = new StringBuilder("id,x,y\n");
            final double[] x = new double[rows];
            final double[] y = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                final String xs = String.format("%.3f", random.nextDouble(-20, 20));
                final String ys = String.format("%.3f", random.nextDouble(-20, 20));
                x[r] = Double.parseDouble(xs);
                y[r] = Double.parseDouble(ys);
                sb.append(f * rows + r).append(',').append(xs).append(',').append(ys).append('\n');
            }
            Files.writeString(dir.resolve(String.format("part-%02d.csv", f)), sb.toString());
            data.x.add(x);
            data.y.add(y);
        }
        return data;
    }

    static void assertClose(final double expected, final double actual, final String what)
    {
        assertEquals(expected, actual, 1e-9 * Math.max(1, Math.abs(expected)), what);
    }

    static long sum(final Map<String, Long> nbytes)
    {
        return nbytes.values().stream().mapToLong(Long::longValue).sum();
    }

    @Test
    void seedExampleLineByLine() throws IOException
    {
        final Data data = writeCsvFiles(dir, 4, 20_000, 6);
        double expectedSumX = 0;
        long expectedRows = 0;
        long expectedBelow10 = 0;
        for (int f = 0; f < 4; f++)
        {
            for (int r = 0; r < data.x.get(f).length; r++)
            {
                final double x = data.x.get(f)[r];
                if (x > 0)
                {
                    expectedSumX += x;
                    expectedRows++;
                    expectedBelow10 += x < 10 ? 1 : 0;
                }
            }
        }

        // df = read_csv(...); df = df[df.x > 0]; df = df.assign(z = df.x + df.y): lazy, nothing in memory
        Frame df = Frame.readCsv(dir + "/part-*.csv", CsvOptions.defaults());
        df = df.filter(col("x").gt(0));
        df = df.withColumn("z", col("x").plus(col("y")));
        assertEquals(4, df.npartitions());
        assertEquals(0, total(cluster), "lazy: nothing computed");
        assertEquals(0, client.info().taskCount());

        // df = client.persist(df): returns at once, computes in the background; the partitions stay pinned
        df = client.persist(df);
        final List<GridFuture<?>> parts = df.futures();
        assertEquals(4, parts.size());
        client.waitAll(parts);
        for (final GridFuture<?> f : parts)
        {
            assertEquals(FutureStatus.FINISHED, f.status());
        }
        final long pinned = sum(client.nbytes(parts));
        // id, x, y, z of the kept rows, plus a table header per partition
        assertTrue(pinned >= 32 * expectedRows && pinned < 32 * expectedRows + 4 * 4096, "persisted bytes " + pinned);
        await(() -> total(cluster) == pinned, 5_000, "only the persisted partitions in memory (CSV intermediates freed)");
        final Map<String, long[]> holders = client.whoHas(parts);
        for (final GridFuture<?> f : parts)
        {
            assertEquals(1, holders.get(f.key()).length, "one copy of " + f.key());
        }
        await(() -> client.info().managedBytes() == pinned, 5_000, "heartbeats report the persisted bytes");

        // df.x.sum().compute(): a small result, blocking; brings the value back and pins nothing
        final double sumX = df.column("x").sum().compute(client).doubleValue();
        assertClose(expectedSumX, sumX, "sum of x");
        await(() -> total(cluster) == pinned && client.info().taskCount() == 4, 5_000, "compute pinned nothing");

        // future = client.compute(df.x.sum()): a future; its small result is pinned while the future lives
        final GridFuture<?> future = client.compute(df.column("x").sum()).get(0);
        assertClose(expectedSumX, ((Number)future.get()).doubleValue(), "sum of x through a future");
        final long scalarBytes = sum(client.nbytes(List.of(future)));
        assertTrue(scalarBytes > 0 && scalarBytes <= 64, "a scalar is a few bytes: " + scalarBytes);
        await(() -> total(cluster) == pinned + scalarBytes, 5_000, "partitions and the scalar");

        // df2 = df[df.x < 10]; del df: df2 still holds the data, nothing freed
        final Frame df2 = df.filter(col("x").lt(10));
        final Frame dfBefore = df;
        df.release();
        GridTests.sleep(200);
        assertEquals(pinned + scalarBytes, total(cluster), "releasing df while df2 exists frees nothing");
        assertEquals(4, client.whoHas(df2.futures()).size());
        assertEquals(expectedBelow10, df2.count().compute(client).longValue(), "df2 computes from df's partitions");
        // a frame and a scalar computed from df, in cluster memory
        final Frame df3 = client.persist(df2.select("x"));
        client.waitAll(df3.futures());
        final GridFuture<?> maxFuture = client.compute(df2.column("z").max()).get(0);
        maxFuture.await(10, TimeUnit.SECONDS);
        assertEquals(FutureStatus.FINISHED, maxFuture.status());

        // client.cancel(df): kills df, df2 and every dependent computation
        client.cancel(dfBefore, false);
        // Client.cancel returns at once for keys already FINISHED (it waits for "done"), so the CANCELLED
        // status is awaited here.
        for (final GridFuture<?> f : dfBefore.futures())
        {
            await(() -> f.status() == FutureStatus.CANCELLED, 5_000, "df cancelled");
        }
        for (final GridFuture<?> f : df2.futures())
        {
            assertEquals(FutureStatus.CANCELLED, f.status(), "df2 holds df's keys: cancelled with them");
        }
        for (final GridFuture<?> f : df3.futures())
        {
            await(() -> f.status() == FutureStatus.CANCELLED, 5_000, "persisted dependent frame cancelled");
        }
        await(() -> future.status() == FutureStatus.CANCELLED, 5_000, "scalar future cancelled");
        await(() -> maxFuture.status() == FutureStatus.CANCELLED, 5_000, "scalar of df2 cancelled");
        assertThrows(CancellationException.class, future::get);
        assertThrows(GridException.class, () -> df2.count().compute(client), "df2 was killed with df");
        await(() -> total(cluster) == 0, 5_000, "everything computed from df freed");
        df2.release();
        df3.release();

        // client.restart(): clears everything, and the cluster works after
        final Frame again = client.persist(Frame.random(10_000, 2, 1, -1, 1, "x", "y"));
        client.waitAll(again.futures());
        assertTrue(total(cluster) >= 2 * 8 * 10_000);
        client.restart();
        assertEquals(0, total(cluster));
        assertEquals(0, client.info().taskCount());
        for (final GridFuture<?> f : again.futures())
        {
            assertEquals(FutureStatus.CANCELLED, f.status());
        }
        assertEquals(1000L, Frame.range(1000, 3).count().compute(client));
    }

    @Test
    void seedOnProcessWorkers() throws IOException
    {
        final Data data = writeCsvFiles(dir, 3, 20_000, 11);
        double expected = 0;
        for (final double[] x : data.x)
        {
            for (final double v : x)
            {
                expected += v > 0 ? v : 0;
            }
        }
        try (LocalCluster processes = LocalCluster.builder().workers(2).processes(true).start();
             Client c = processes.client())
        {
            final Frame df = c.persist(Frame.readCsv(dir + "/part-*.csv", CsvOptions.defaults())
                .filter(col("x").gt(0)).withColumn("z", col("x").plus(col("y"))));
            c.waitAll(df.futures());
            final long pinned = sum(c.nbytes(df.futures()));
            await(() -> total(processes) == pinned, 5_000, "heartbeats report the persisted partitions");
            final GridFuture<?> future = c.compute(df.column("x").sum()).get(0);
            assertClose(expected, ((Number)future.get()).doubleValue(), "sum on process workers");
            assertEquals(data.x.stream().mapToLong(x -> java.util.Arrays.stream(x).filter(v -> v > 0).count()).sum(),
                df.compute().rowCount(), "every partition fetched and concatenated");
            c.cancel(df, false);
            await(() -> future.status() == FutureStatus.CANCELLED, 5_000, "the scalar computed from df cancelled");
            await(() -> total(processes) == 0, 5_000, "freed in the worker processes");
        }
    }

    private Path write(final String name, final String content) throws IOException
    {
        final Path file = dir.resolve(name);
        Files.write(file, content.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    @Test
    void csvEdgeCasesThroughTheWorkers() throws IOException
    {
        // empty file: no columns, no rows
        final Frame empty = Frame.readCsv(write("empty.csv", "").toString(), CsvOptions.defaults());
        assertEquals(0L, empty.count().compute(client));
        assertEquals(0, empty.head(5).rowCount());

        // header only: the columns, no rows
        final Frame headerOnly = Frame.readCsv(write("header.csv", "a,b\n").toString(), CsvOptions.defaults());
        assertEquals(0L, headerOnly.count().compute(client));
        assertEquals(List.of("a", "b"), headerOnly.head(5).names());

        // quoted fields holding delimiters and quotes, CRLF line ends
        final Frame quoted = Frame.readCsv(write("quoted.csv",
            "name,qty,price\r\n\"Smith, J\",3,1.5\r\n\"say \"\"hi\"\"\",4,2.25\r\nplain,5,3\r\n").toString(),
            CsvOptions.defaults());
        final ColumnarTable q = quoted.compute();
        assertArrayEquals(new String[]{"Smith, J", "say \"hi\"", "plain"}, q.strings("name"));
        assertArrayEquals(new long[]{3, 4, 5}, q.longs("qty"));
        assertArrayEquals(new double[]{1.5, 2.25, 3.0}, q.doubles("price"));
        assertEquals(12L, quoted.column("qty").sum().compute(client));
        assertEquals(28.5, quoted.column(col("qty").times(col("price"))).sum().compute(client).doubleValue(), 1e-12);

        // a bad number: the task fails naming the file and the line; the types come from the first file
        write("good-1.csv", "a,b\n1,2\n3,4\n");
        final Path bad = write("good-2.csv", "a,b\n5,6\n7,oops\n9,10\n");
        final Frame both = Frame.readCsv(dir + "/good-*.csv", CsvOptions.defaults());
        final RemoteTaskException ex = assertThrows(RemoteTaskException.class,
            () -> both.column("a").sum().compute(client));
        assertTrue(ex.getMessage().contains(bad + ":3"), ex.getMessage());
        // or, by option, skipped
        final Frame skipping = Frame.readCsv(dir + "/good-*.csv", CsvOptions.defaults().skipMalformed(true));
        assertEquals(1L + 3 + 5 + 9, skipping.column("a").sum().compute(client));
        assertEquals(4L, skipping.count().compute(client));
        assertEquals(1L, skipping.malformedRows().compute(client), "the skipped row is counted");
        assertEquals(1L, skipping.filter(col("a").gt(1)).malformedRows().compute(client));

        // a missing file: a clear error naming it, and the workers keep running
        final String missing = dir.resolve("missing.csv").toString();
        final RemoteTaskException gone = assertThrows(RemoteTaskException.class,
            () -> Frame.readCsv(missing, CsvOptions.defaults()).count().compute(client));
        assertTrue(gone.getMessage().contains(missing) && gone.getMessage().contains("no such file"), gone.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Frame.readCsv(dir + "/nothing-*.csv", CsvOptions.defaults()));

        // a large file split into blocks on line boundaries gives the same rows as one partition
        final StringBuilder sb = new StringBuilder("k,v\n");
        long expected = 0;
        for (int i = 0; i < 50_000; i++)
        {
            sb.append(i).append(',').append(i % 7).append('\n');
            expected += i % 7;
        }
        final Path big = write("big.csv", sb.toString());
        final Frame split = Frame.readCsv(List.of(big.toString()), CsvOptions.defaults(), 64 * 1024);
        assertTrue(split.npartitions() > 4, "split into " + split.npartitions());
        assertEquals(50_000L, split.count().compute(client));
        assertEquals(expected, split.column("v").sum().compute(client));
        assertEquals(49_999L, split.column("k").max().compute(client));
        assertEquals(ColumnType.LONG, split.head(3).type("k"));
        await(() -> total(cluster) == 0, 5_000, "nothing persisted");
    }

    /** A random expression with its plain-Java meaning (long arithmetic for LONG operands, as Expr does). */
    record Gen(io.offgrid.memory.Expr expr, boolean isLong, RowFn fn)
    {
    }

    @FunctionalInterface
    interface RowFn
    {
        /** @return the value as long bits (LONG) or a double's raw bits (DOUBLE), or 0/1 (boolean). */
        long at(long[] a, double[] b, long[] c, int r);
    }

    static Gen numeric(final SplittableRandom random, final int depth)
    {
        if (depth == 0 || random.nextInt(3) == 0)
        {
            switch (random.nextInt(5))
            {
                case 0:
                    return new Gen(col("a"), true, (a, b, c, r) -> a[r]);
                case 1:
                    return new Gen(col("b"), false, (a, b, c, r) -> Double.doubleToRawLongBits(b[r]));
                case 2:
                    return new Gen(col("c"), true, (a, b, c, r) -> c[r]);
                case 3:
                {
                    final long v = random.nextLong(-5, 6);
                    return new Gen(lit(v), true, (a, b, c, r) -> v);
                }
                default:
                {
                    final double v = random.nextInt(-500, 500) / 100.0;
                    return new Gen(lit(v), false, (a, b, c, r) -> Double.doubleToRawLongBits(v));
                }
            }
        }
        final Gen l = numeric(random, depth - 1);
        final Gen rr = numeric(random, depth - 1);
        final int op = random.nextInt(4);
        final boolean longs = l.isLong && rr.isLong && op != 3;
        final io.offgrid.memory.Expr e = op == 0 ? l.expr.plus(rr.expr) : op == 1 ? l.expr.minus(rr.expr) :
            op == 2 ? l.expr.times(rr.expr) : l.expr.div(rr.expr);
        if (longs)
        {
            return new Gen(e, true, (a, b, c, r) ->
            {
                final long x = l.fn.at(a, b, c, r);
                final long y = rr.fn.at(a, b, c, r);
                return op == 0 ? x + y : op == 1 ? x - y : x * y;
            });
        }
        return new Gen(e, false, (a, b, c, r) ->
        {
            final double x = asDouble(l, a, b, c, r);
            final double y = asDouble(rr, a, b, c, r);
            return Double.doubleToRawLongBits(op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y);
        });
    }

    static double asDouble(final Gen g, final long[] a, final double[] b, final long[] c, final int r)
    {
        final long bits = g.fn.at(a, b, c, r);
        return g.isLong ? (double)bits : Double.longBitsToDouble(bits);
    }

    static Gen predicate(final SplittableRandom random, final int depth)
    {
        if (depth == 0 || random.nextInt(2) == 0)
        {
            final Gen l = numeric(random, 1);
            final Gen rr = numeric(random, 1);
            final int op = random.nextInt(4);
            final io.offgrid.memory.Expr e = op == 0 ? l.expr.lt(rr.expr) : op == 1 ? l.expr.gt(rr.expr) :
                op == 2 ? l.expr.le(rr.expr) : l.expr.ne(rr.expr);
            final boolean longs = l.isLong && rr.isLong;
            return new Gen(e, true, (a, b, c, r) ->
            {
                final boolean v;
                if (longs)
                {
                    final long x = l.fn.at(a, b, c, r);
                    final long y = rr.fn.at(a, b, c, r);
                    v = op == 0 ? x < y : op == 1 ? x > y : op == 2 ? x <= y : x != y;
                }
                else
                {
                    final double x = asDouble(l, a, b, c, r);
                    final double y = asDouble(rr, a, b, c, r);
                    v = op == 0 ? x < y : op == 1 ? x > y : op == 2 ? x <= y : x != y;
                }
                return v ? 1 : 0;
            });
        }
        final Gen l = predicate(random, depth - 1);
        final int op = random.nextInt(3);
        if (op == 2)
        {
            return new Gen(l.expr.not(), true, (a, b, c, r) -> 1 - l.fn.at(a, b, c, r));
        }
        final Gen rr = predicate(random, depth - 1);
        return new Gen(op == 0 ? l.expr.and(rr.expr) : l.expr.or(rr.expr), true, (a, b, c, r) -> op == 0 ?
            l.fn.at(a, b, c, r) & rr.fn.at(a, b, c, r) : l.fn.at(a, b, c, r) | rr.fn.at(a, b, c, r));
    }

    @Test
    void frameResultsMatchPlainJavaOverSeededRandomTables()
    {
        final long baseSeed = Long.getLong("frame.seed", System.nanoTime());
        for (int t = 0; t < 25; t++)
        {
            final long seed = baseSeed + t;
            try
            {
                checkOneTable(seed);
            }
            catch (final AssertionError | RuntimeException ex)
            {
                throw new AssertionError("seed " + seed + " (rerun with -Dframe.seed=" + seed + "): " + ex, ex);
            }
        }
        await(() -> total(cluster) == 0, 5_000, "nothing left behind");
    }

    private void checkOneTable(final long seed)
    {
        final SplittableRandom random = new SplittableRandom(seed);
        final int rows = random.nextInt(0, 10_000);
        final long[] a = new long[rows];
        final double[] b = new double[rows];
        final long[] c = new long[rows];
        for (int r = 0; r < rows; r++)
        {
            a[r] = random.nextLong(-1000, 1000);
            b[r] = random.nextInt(8) == 0 ? a[r] : random.nextDouble(-100, 100);
            c[r] = random.nextLong(-3, 4);
        }
        final ColumnarTable table = ColumnarTable.builder().addLong("a", a).addDouble("b", b).addLong("c", c).build();
        final Gen p = predicate(random, 2);
        final Gen z = numeric(random, 3);
        final Frame frame = Frame.fromColumns(table, 1 + random.nextInt(5));
        final Frame result = frame.filter(p.expr).withColumn("z", z.expr);

        final ArrayList<Integer> kept = new ArrayList<>();
        for (int r = 0; r < rows; r++)
        {
            if (p.fn.at(a, b, c, r) == 1)
            {
                kept.add(r);
            }
        }
        final ColumnarTable got = result.compute();
        assertEquals(List.of("a", "b", "c", "z"), got.names());
        assertEquals(kept.size(), got.rowCount(), "rows kept by " + p.expr);
        long lsum = 0;
        double dsum = 0;
        double magnitude = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < kept.size(); i++)
        {
            final int r = kept.get(i);
            assertEquals(a[r], got.longs("a")[i]);
            assertEquals(Double.doubleToLongBits(b[r]), Double.doubleToLongBits(got.doubles("b")[i]));
            if (z.isLong)
            {
                final long v = z.fn.at(a, b, c, r);
                assertEquals(v, got.longs("z")[i], "z = " + z.expr + " at row " + r);
                lsum += v;
                min = Math.min(min, v);
            }
            else
            {
                final double v = Double.longBitsToDouble(z.fn.at(a, b, c, r));
                assertEquals(Double.doubleToLongBits(v), Double.doubleToLongBits(got.doubles("z")[i]),
                    "z = " + z.expr + " at row " + r);
                dsum += v;
                magnitude += Math.abs(v);
                min = Math.min(min, v);
            }
        }
        assertEquals((long)kept.size(), result.count().compute(client));
        final Number sum = result.column("z").sum().compute(client);
        if (z.isLong)
        {
            assertEquals(lsum, sum.longValue(), "sum of " + z.expr);
        }
        else if (Double.isFinite(magnitude))
        {
            assertEquals(dsum, sum.doubleValue(), 1e-9 * Math.max(1, magnitude), "sum of " + z.expr);
        }
        final Number gotMin = result.column("z").min().compute(client);
        if (kept.isEmpty())
        {
            assertNull(gotMin);
        }
        else if (!Double.isNaN(min))
        {
            assertEquals(min, gotMin.doubleValue(), 0.0, "min of " + z.expr);
        }
        final int n = random.nextInt(0, 50);
        final ColumnarTable head = result.select("z", "a").head(n);
        assertEquals(Math.min(n, kept.size()), head.rowCount());
        for (int i = 0; i < head.rowCount(); i++)
        {
            assertEquals(a[kept.get(i)], head.longs("a")[i]);
        }
        assertEquals(List.of("a", "c"), result.drop("b", "z").head(1).names());
    }

    @Test
    void describeAndGenerators()
    {
        final Frame f = Frame.random(20_000, 3, 42, -1, 1, "x", "y").withColumn("k", col("x").gt(0));
        final ColumnarTable all = f.compute();
        final double[] x = all.doubles("x");
        double sum = 0;
        for (final double v : x)
        {
            sum += v;
            assertTrue(v >= -1 && v < 1);
        }
        final double mean = sum / x.length;
        double m2 = 0;
        for (final double v : x)
        {
            m2 += (v - mean) * (v - mean);
        }
        final ColumnarTable d = f.describe();
        assertArrayEquals(new String[]{"count", "mean", "std", "min", "max"}, d.strings("statistic"));
        assertEquals(List.of("statistic", "x", "y", "k"), d.names());
        assertEquals(20_000, d.doubles("x")[0]);
        assertClose(mean, d.doubles("x")[1], "mean");
        assertClose(Math.sqrt(m2 / (x.length - 1)), d.doubles("x")[2], "std");
        assertEquals(f.column("x").min().compute(client).doubleValue(), d.doubles("x")[3]);
        assertClose(mean, f.column("x").mean().compute(client), "mean scalar");
        assertEquals(all.doubles("y")[0], Frame.random(20_000, 3, 42, -1, 1, "x", "y").head(1).doubles("y")[0],
            "same seed, same frame");
        final ColumnarTable ids = Frame.range(10, 3).compute();
        assertArrayEquals(new long[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, ids.longs("id"));
        assertEquals(45L, Frame.range(10, 3).column("id").sum().compute(client));
        await(() -> total(cluster) == 0, 5_000, "nothing persisted");
    }
}
