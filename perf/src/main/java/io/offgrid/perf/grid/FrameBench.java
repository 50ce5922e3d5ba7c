package io.offgrid.perf.grid;

import io.offgrid.client.Client;
import io.offgrid.client.Frame;
import io.offgrid.client.internal.FrameTasks;
import io.offgrid.grid.LocalCluster;
import io.offgrid.memory.NativeTable;
import io.offgrid.memory.TableView;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

import static io.offgrid.memory.Expr.col;

/**
 * Issue 6's benchmark: filter(x &gt; 0), withColumn(z = x + y), sum(z) on a persisted frame of two DOUBLE
 * columns on 2 in-process workers of one executor thread each, next to a single-threaded plain Java loop over
 * two double[] holding the same numbers, in the same run (the limit). Rows/s = rows / (seconds per op); column
 * GB/s = rows x 16 bytes / (seconds per op); the target is frame rows/s per worker thread &gt;= 50% of the plain
 * loop's.
 *
 * <pre>perf/jmh FrameBench -f 1 -wi 2 -i 3 -p rows=100000000</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgs = {"-Xmx5g", "-XX:MaxDirectMemorySize=8g"})
public class FrameBench
{
    /** Rows of the frame. */
    @Param({"100000000"})
    public long rows;

    /** Partitions (spread over the 2 workers). */
    @Param({"16"})
    public int partitions;

    private LocalCluster cluster;
    private Client client;
    private Frame persisted;
    private double[] x;
    private double[] y;

    /**
     * Start the cluster, persist the frame, and copy the same numbers into heap arrays for the plain loop.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        cluster = LocalCluster.builder().workers(2).threadsPerWorker(1).memoryLimit(4L << 30).start();
        client = cluster.client();
        final Frame lazy = Frame.random(rows, partitions, 7, -1, 1, "x", "y");
        persisted = client.persist(lazy);
        client.waitAll(persisted.futures(), 10, TimeUnit.MINUTES); // generating 100 M rows on a loaded machine
        final StringBuilder placement = new StringBuilder("\nmanaged bytes per worker after persist:");
        for (final LocalCluster.WorkerHandle w : cluster.workers())
        {
            placement.append(' ').append(w.id()).append('=').append(w.managedBytes());
        }
        System.out.println(placement);
        x = new double[(int)rows];
        y = new double[(int)rows];
        int at = 0;
        for (int p = 0; p < partitions; p++)
        {
            final long from = rows * p / partitions;
            final long to = rows * (p + 1) / partitions;
            // the generator the workers ran, run here for the same numbers
            try (NativeTable t = new FrameTasks.RandomSource(new String[]{"x", "y"}, to - from,
                7 * 0x9E3779B97F4A7C15L + p, -1, 1).produce())
            {
                final TableView v = t.view();
                for (int r = 0; r < v.rowCount(); r++)
                {
                    x[at + r] = v.getDouble(0, r);
                    y[at + r] = v.getDouble(1, r);
                }
                at += v.rowCount();
            }
        }
        final double expected = plainLoop();
        final double got = frame();
        if (Math.abs(expected - got) > 1e-6 * Math.max(1, Math.abs(expected)))
        {
            throw new IllegalStateException("frame sum " + got + " != plain sum " + expected);
        }
    }

    /**
     * Stop everything.
     */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        persisted.release();
        cluster.close();
    }

    /**
     * @return sum of z over the kept rows, computed on the workers (one fused task per partition, in place).
     */
    @Benchmark
    public double frame()
    {
        return persisted.filter(col("x").gt(0)).withColumn("z", col("x").plus(col("y")))
            .column("z").sum().compute(client).doubleValue();
    }

    /**
     * The same pipeline materialized: filter and withColumn persisted as new off-heap partitions (written, then
     * stored with one copy), then summed and released.
     *
     * @return the sum.
     */
    @Benchmark
    public double frameMaterialized()
    {
        final Frame z = client.persist(persisted.filter(col("x").gt(0)).withColumn("z", col("x").plus(col("y"))));
        try
        {
            return z.column("z").sum().compute(client).doubleValue();
        }
        finally
        {
            z.release();
        }
    }

    /**
     * @return the same sum by a fused single-threaded loop over heap arrays: the limit.
     */
    @Benchmark
    public double plainLoop()
    {
        double sum = 0;
        final double[] xs = x;
        final double[] ys = y;
        for (int i = 0; i < xs.length; i++)
        {
            if (xs[i] > 0)
            {
                sum += xs[i] + ys[i];
            }
        }
        return sum;
    }
}
