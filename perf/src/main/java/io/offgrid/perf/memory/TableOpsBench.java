package io.offgrid.perf.memory;

import io.offgrid.memory.ColumnarTable;
import io.offgrid.memory.Expr;
import io.offgrid.memory.NativeTable;
import io.offgrid.memory.TableOps;
import io.offgrid.memory.TableView;
import io.offgrid.memory.BlockStore;
import io.offgrid.memory.Block;
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

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The Frame pipeline's kernels on one partition: filter(x &gt; 0), withColumn(z = x + y), sum(z),
 * read in place from a stored table block, next to a single-threaded plain Java loop over two
 * double[] of the same data in the same run (the limit). Rows/s = rows / (seconds per op).
 *
 * <pre>perf/jmh TableOpsBench -f 1 -wi 3 -i 5</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class TableOpsBench
{
    /** Rows in the partition. */
    @Param({"10000000"})
    public int rows;

    private double[] x;
    private double[] y;
    private BlockStore store;
    private Block block;
    private TableView view;

    /**
     * Two random double columns, stored as a table block.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        final Random random = new Random(42);
        x = new double[rows];
        y = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            x[i] = random.nextGaussian();
            y[i] = random.nextGaussian();
        }
        store = new BlockStore(new BlockStore.Context().name("tablebench").memoryLimit(4L << 30));
        store.put("t", ColumnarTable.builder().addDouble("x", x).addDouble("y", y).build());
        block = store.get("t");
        view = new TableView().wrap(block.payload(), 0, (int)block.payloadLength());
    }

    /**
     * Release everything.
     */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        block.close();
        store.close();
    }

    /**
     * @return the sum of z over the filtered rows.
     */
    @Benchmark
    public double kernels()
    {
        try (NativeTable filtered = TableOps.filter(view, Expr.col("x").gt(0));
            NativeTable assigned = TableOps.withColumn(filtered.view(), "z", Expr.col("x").plus(Expr.col("y"))))
        {
            return TableOps.sum(assigned.view(), Expr.col("z"));
        }
    }

    /**
     * The same pipeline as the Frame runs it: one windowed, masked aggregate over the table in place,
     * with z substituted (no result table, temporaries of one window reused).
     *
     * @return the sum of z over the filtered rows.
     */
    @Benchmark
    public double fused()
    {
        return Double.longBitsToDouble(TableOps.aggregate(view, Expr.col("x").gt(0),
            Expr.col("x").plus(Expr.col("y")), false)[2]);
    }

    /**
     * The same result with a fused plain loop over heap arrays: the limit.
     *
     * @return the sum.
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
