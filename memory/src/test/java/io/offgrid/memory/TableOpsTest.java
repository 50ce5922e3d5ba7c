package io.offgrid.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Table kernels checked against a plain Java computation on the same data, over many seeded random
 * tables and random expressions. {@code -Dmemory.tableops.seeds=N} runs more.
 */
@Timeout(120)
class TableOpsTest extends StoreFixture
{
    @Test
    void randomExpressionsAgreeWithPlainJava()
    {
        final int seeds = Integer.getInteger("memory.tableops.seeds", 60);
        for (int seed = 0; seed < seeds; seed++)
        {
            try
            {
                runSeed(seed);
            }
            catch (final AssertionError | RuntimeException ex)
            {
                throw new AssertionError("seed " + seed + " failed: " + ex, ex);
            }
        }
    }

    private void runSeed(final long seed)
    {
        final Random random = new Random(seed);
        final int rows = random.nextInt(5) == 0 ? random.nextInt(3) : random.nextInt(5000);
        final long[] x = new long[rows];
        final double[] y = new double[rows];
        final String[] s = new String[rows];
        for (int i = 0; i < rows; i++)
        {
            x[i] = random.nextInt(2001) - 1000;
            y[i] = random.nextGaussian() * 100;
            s[i] = "r" + i + (random.nextBoolean() ? "é" : "");
        }
        final ColumnarTable heap = ColumnarTable.builder().addLong("x", x).addDouble("y", y).addString("s", s).build();
        try (NativeTable table = nativeCopy(heap))
        {
            final TableView view = table.view();
            for (int e = 0; e < 8; e++)
            {
                final Expr predicate = randomPredicate(random, 3);
                final boolean[] expected = new boolean[rows];
                for (int r = 0; r < rows; r++)
                {
                    expected[r] = ((Number)Reference.eval(predicate, x[r], y[r])).longValue() == 1;
                }
                // filter
                try (NativeTable filtered = TableOps.filter(view, predicate))
                {
                    final ColumnarTable got = filtered.toColumnarTable();
                    final List<Long> ex = new ArrayList<>();
                    final List<Double> ey = new ArrayList<>();
                    final List<String> es = new ArrayList<>();
                    for (int r = 0; r < rows; r++)
                    {
                        if (expected[r])
                        {
                            ex.add(x[r]);
                            ey.add(y[r]);
                            es.add(s[r]);
                        }
                    }
                    assertEquals(ex.size(), got.rowCount(), predicate.toString());
                    assertArrayEquals(ex.stream().mapToLong(Long::longValue).toArray(), got.longs("x"));
                    assertArrayEquals(ey.stream().mapToDouble(Double::doubleValue).toArray(), got.doubles("y"));
                    assertArrayEquals(es.toArray(new String[0]), got.strings("s"));
                    assertEquals(ex.size(), TableOps.count(view, predicate));
                }
                // withColumn + aggregates
                final Expr numeric = randomNumeric(random, 3);
                try (NativeTable assigned = TableOps.withColumn(view, "z", numeric))
                {
                    final ColumnarTable got = assigned.toColumnarTable();
                    assertEquals(List.of("x", "y", "s", "z"), got.names());
                    double sum = 0;
                    double min = Double.POSITIVE_INFINITY;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int r = 0; r < rows; r++)
                    {
                        final Object v = Reference.eval(numeric, x[r], y[r]);
                        final double d = ((Number)v).doubleValue();
                        if (got.type("z") == ColumnType.LONG)
                        {
                            assertEquals(((Number)v).longValue(), got.longs("z")[r], numeric + " row " + r);
                        }
                        else
                        {
                            assertEquals(d, got.doubles("z")[r], 0.0, numeric + " row " + r);
                        }
                        sum += d;
                        min = Math.min(min, d);
                        max = Math.max(max, d);
                    }
                    final double delta = Double.isFinite(sum) ? Math.abs(sum) * 1e-12 + 1e-9 : 0.0;
                    assertEquals(sum, TableOps.sum(view, numeric), delta, numeric.toString());
                    assertEquals(min, TableOps.min(view, numeric), 0.0);
                    assertEquals(max, TableOps.max(view, numeric), 0.0);
                    // the windowed, masked aggregate (filter + aggregate without a result table), with the
                    // new column substituted as a fused filter + withColumn + aggregate pipeline does
                    double msum = 0;
                    double mmin = Double.POSITIVE_INFINITY;
                    double mmax = Double.NEGATIVE_INFINITY;
                    long selected = 0;
                    for (int r = 0; r < rows; r++)
                    {
                        if (expected[r])
                        {
                            final double d = ((Number)Reference.eval(numeric, x[r], y[r])).doubleValue();
                            msum += d;
                            mmin = Math.min(mmin, d);
                            mmax = Math.max(mmax, d);
                            selected++;
                        }
                    }
                    final long[] agg = TableOps.aggregate(view, predicate,
                        Expr.col("z").times(Expr.lit(1L)).substitute(java.util.Map.of("z", numeric)), true);
                    assertEquals(selected, agg[1], "rows where " + predicate);
                    final boolean isLong = agg[0] == 0;
                    assertEquals(got.type("z") == ColumnType.LONG, isLong);
                    final double aggSum = isLong ? agg[2] : Double.longBitsToDouble(agg[2]);
                    final double mdelta = Double.isFinite(msum) ? Math.abs(msum) * 1e-9 + 1e-9 : 0.0;
                    assertEquals(msum, aggSum, mdelta, "masked sum of " + numeric + " where " + predicate);
                    if (selected > 0)
                    {
                        assertEquals(mmin, isLong ? agg[3] : Double.longBitsToDouble(agg[3]), 0.0);
                        assertEquals(mmax, isLong ? agg[4] : Double.longBitsToDouble(agg[4]), 0.0);
                    }
                }
                // one-pass filter + withColumns equals filter, then withColumn, then withColumn (replacing y)
                final Expr second = randomNumeric(random, 2);
                try (NativeTable filtered = TableOps.filter(view, predicate);
                    NativeTable withZ = TableOps.withColumn(filtered.view(), "z", numeric);
                    NativeTable stepwise = TableOps.withColumn(withZ.view(), "y", second);
                    NativeTable fused = TableOps.filterWithColumns(view, predicate, new String[]{"z", "y"},
                        new Expr[]{numeric, second}))
                {
                    assertEquals(stepwise.toColumnarTable(), fused.toColumnarTable(),
                        "filter " + predicate + ", z = " + numeric + ", y = " + second);
                }
            }
            assertEquals(java.util.Arrays.stream(x).sum(), TableOps.sumLong(view, Expr.col("x")));
        }
    }

    @Test
    void kernelsReturnNativeMemoryToBaseline()
    {
        final int rows = 3 * TableOps.WINDOW + 17; // several windows and a partial one
        final long[] x = new long[rows];
        final double[] y = new double[rows];
        final String[] s = new String[rows];
        for (int i = 0; i < rows; i++)
        {
            x[i] = i % 101 - 50;
            y[i] = i * 0.5;
            s[i] = "s" + i;
        }
        final Expr predicate = Expr.col("x").gt(0).and(Expr.col("y").lt(Expr.lit(5000.0)));
        final Expr numeric = Expr.col("x").times(Expr.col("y")).plus(Expr.lit(1L));
        try (NativeTable table = nativeCopy(
            ColumnarTable.builder().addLong("x", x).addDouble("y", y).addString("s", s).build()))
        {
            final TableView view = table.view();
            final NativeMemoryTracking.Snapshot before = NativeMemoryTracking.other();
            for (int i = 0; i < 20; i++)
            {
                try (NativeTable a = TableOps.filter(view, predicate);
                    NativeTable b = TableOps.withColumn(view, "z", numeric);
                    NativeTable c = TableOps.filterWithColumns(view, predicate, new String[]{"z"}, new Expr[]{numeric});
                    NativeTable d = TableOps.filterWithColumns(view, null, new String[]{"y"}, new Expr[]{numeric});
                    NativeTable e = TableOps.select(view, "s", "x");
                    NativeTable f = TableOps.head(view, 100))
                {
                    assertTrue(a.view().rowCount() == c.view().rowCount() && b.view().rowCount() == rows &&
                        d.view().rowCount() == rows && e.view().columnCount() == 2 && f.view().rowCount() == 100);
                }
                assertEquals(TableOps.count(view, predicate), TableOps.aggregate(view, predicate, numeric, true)[1]);
                TableOps.aggregate(view, null, Expr.col("y"), false);
            }
            final NativeMemoryTracking.Snapshot after = NativeMemoryTracking.other();
            assertEquals(before, after, "every result table, mask and temporary freed");
        }
    }

    @Test
    void selectDropHeadAndReplacingAColumn()
    {
        final ColumnarTable heap = ColumnarTable.builder()
            .addLong("a", new long[]{1, 2, 3}).addDouble("b", new double[]{0.5, 1.5, 2.5})
            .addString("c", new String[]{"x", "yy", "zzz"}).build();
        try (NativeTable table = nativeCopy(heap);
            NativeTable selected = TableOps.select(table.view(), "c", "a");
            NativeTable dropped = TableOps.drop(table.view(), "b");
            NativeTable head = TableOps.head(table.view(), 2);
            NativeTable replaced = TableOps.withColumn(table.view(), "a", Expr.col("a").times(Expr.lit(10L))))
        {
            final ColumnarTable s = selected.toColumnarTable();
            assertEquals(List.of("c", "a"), s.names());
            assertArrayEquals(new String[]{"x", "yy", "zzz"}, s.strings("c"));
            assertEquals(List.of("a", "c"), dropped.toColumnarTable().names());
            final ColumnarTable h = head.toColumnarTable();
            assertEquals(2, h.rowCount());
            assertArrayEquals(new String[]{"x", "yy"}, h.strings("c"));
            final ColumnarTable r = replaced.toColumnarTable();
            assertEquals(List.of("b", "c", "a"), r.names());
            assertArrayEquals(new long[]{10, 20, 30}, r.longs("a"));
            assertThrows(IllegalArgumentException.class, () -> TableOps.select(table.view(), "nope"));
            assertThrows(IllegalArgumentException.class, () -> TableOps.filter(table.view(), Expr.col("c").gt(1)));
            assertThrows(IllegalArgumentException.class, () -> TableOps.filter(table.view(), Expr.col("a")));
            assertThrows(IllegalArgumentException.class, () -> TableOps.sum(table.view(), Expr.col("a").gt(1)));
        }
    }

    @Test
    void nativeTablesAreStoredAsOrdinaryTableBlocks()
    {
        final BlockStore store = open(8 << 20);
        final ColumnarTable heap = ColumnarTable.builder().addDouble("v", new double[]{1, 2, 3}).build();
        try (NativeTable table = nativeCopy(heap); NativeTable doubled =
            TableOps.withColumn(table.view(), "w", Expr.col("v").times(2)))
        {
            store.put("t", doubled);
        }
        final ColumnarTable back = store.getValue("t");
        assertArrayEquals(new double[]{2, 4, 6}, back.doubles("w"));
        try (Block block = store.get("t"))
        {
            final TableView view = new TableView().wrap(block.payload(), 0, (int)block.payloadLength());
            assertEquals(12.0, TableOps.sum(view, Expr.col("w")));
        }
    }

    static NativeTable nativeCopy(final ColumnarTable heap)
    {
        final Codec<Object> codec = new CodecRegistry().codecFor(heap);
        final org.agrona.ExpandableArrayBuffer scratch = new org.agrona.ExpandableArrayBuffer();
        final int length = codec.encodedLength(heap);
        codec.encode(heap, scratch, 0);
        return NativeTable.copyOf(scratch, 0, length);
    }

    private static Expr randomNumeric(final Random random, final int depth)
    {
        final int pick = random.nextInt(depth <= 0 ? 4 : 8);
        switch (pick)
        {
            case 0:
                return Expr.col("x");
            case 1:
                return Expr.col("y");
            case 2:
                return Expr.lit((long)(random.nextInt(21) - 10));
            case 3:
                return Expr.lit(random.nextDouble() * 10 - 5);
            default:
                final Expr a = randomNumeric(random, depth - 1);
                final Expr b = randomNumeric(random, depth - 1);
                switch (random.nextInt(4))
                {
                    case 0:
                        return a.plus(b);
                    case 1:
                        return a.minus(b);
                    case 2:
                        return a.times(b);
                    default:
                        return a.div(b);
                }
        }
    }

    private static Expr randomPredicate(final Random random, final int depth)
    {
        final int pick = random.nextInt(depth <= 0 ? 6 : 9);
        final Expr a = randomNumeric(random, 1);
        final Expr b = randomNumeric(random, 1);
        switch (pick)
        {
            case 0:
                return a.lt(b);
            case 1:
                return a.le(b);
            case 2:
                return a.gt(b);
            case 3:
                return a.ge(b);
            case 4:
                return a.eq(b);
            case 5:
                return a.ne(b);
            case 6:
                return randomPredicate(random, depth - 1).and(randomPredicate(random, depth - 1));
            case 7:
                return randomPredicate(random, depth - 1).or(randomPredicate(random, depth - 1));
            default:
                return randomPredicate(random, depth - 1).not();
        }
    }

    /** Row-at-a-time evaluation with plain Java, the semantics the kernels must match. */
    static final class Reference
    {
        static Object eval(final Expr e, final long x, final double y)
        {
            if (e instanceof Expr.Column)
            {
                return ((Expr.Column)e).name.equals("x") ? (Object)x : (Object)y;
            }
            if (e instanceof Expr.Literal)
            {
                final Expr.Literal l = (Expr.Literal)e;
                return l.kind == Expr.Kind.LONG ? (Object)l.bits : (Object)Double.longBitsToDouble(l.bits);
            }
            if (e instanceof Expr.Not)
            {
                return 1L ^ (Long)eval(((Expr.Not)e).operand, x, y);
            }
            if (e instanceof Expr.Logic)
            {
                final Expr.Logic l = (Expr.Logic)e;
                final long a = (Long)eval(l.left, x, y);
                final long b = (Long)eval(l.right, x, y);
                return l.and ? a & b : a | b;
            }
            final Expr.Binary b = (Expr.Binary)e;
            final Object l = eval(b.left, x, y);
            final Object r = eval(b.right, x, y);
            final boolean longs = l instanceof Long && r instanceof Long && b.op != VectorKernels.DIV;
            if (longs)
            {
                final long p = (Long)l;
                final long q = (Long)r;
                switch (b.op)
                {
                    case VectorKernels.ADD: return p + q;
                    case VectorKernels.SUB: return p - q;
                    case VectorKernels.MUL: return p * q;
                    case VectorKernels.LT: return p < q ? 1L : 0L;
                    case VectorKernels.LE: return p <= q ? 1L : 0L;
                    case VectorKernels.GT: return p > q ? 1L : 0L;
                    case VectorKernels.GE: return p >= q ? 1L : 0L;
                    case VectorKernels.EQ: return p == q ? 1L : 0L;
                    default: return p != q ? 1L : 0L;
                }
            }
            final double p = ((Number)l).doubleValue();
            final double q = ((Number)r).doubleValue();
            switch (b.op)
            {
                case VectorKernels.ADD: return p + q;
                case VectorKernels.SUB: return p - q;
                case VectorKernels.MUL: return p * q;
                case VectorKernels.DIV: return p / q;
                case VectorKernels.LT: return p < q ? 1L : 0L;
                case VectorKernels.LE: return p <= q ? 1L : 0L;
                case VectorKernels.GT: return p > q ? 1L : 0L;
                case VectorKernels.GE: return p >= q ? 1L : 0L;
                case VectorKernels.EQ: return p == q ? 1L : 0L;
                default: return p != q ? 1L : 0L;
            }
        }
    }
}
