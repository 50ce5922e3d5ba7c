package io.offgrid.client.internal;

import io.offgrid.memory.ColumnType;
import io.offgrid.memory.ColumnarTable;
import io.offgrid.memory.CsvOptions;
import io.offgrid.memory.CsvReader;
import io.offgrid.memory.Expr;
import io.offgrid.memory.NativeTable;
import io.offgrid.memory.TableOps;
import io.offgrid.memory.TableView;
import org.agrona.UnsafeApi;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The tasks a Frame ships to the workers: a partition is a {@link Pipeline} of a source (a generator or a CSV
 * byte range) or an input table, the steps applied to it one after another (filter, withColumn, select, drop,
 * head; fused into one task, intermediates freed as soon as the next step has read them), and optionally a
 * terminal (an aggregate partial). Pipelines are {@link TaskFunctions.TableFunction}s: an input table arrives
 * as a {@link TableView} over the stored block, read in place. Combiners take the small partials.
 */
public final class FrameTasks
{
    private FrameTasks()
    {
    }

    /** Produces a partition's table on the worker. */
    public interface Source extends Serializable
    {
        /**
         * @return a new table (the caller closes it).
         */
        NativeTable produce();
    }

    /** One operation on a partition's table. */
    public interface Step extends Serializable
    {
        /**
         * @param in the table, read in place.
         * @return a new table.
         */
        NativeTable apply(TableView in);
    }

    /** Folds a partition's table to a small value. */
    public interface Terminal extends Serializable
    {
        /**
         * @param in the table, read in place.
         * @return the partial result.
         */
        Object finish(TableView in);
    }

    // ------------------------------------------------------------------------------------------------ sources

    /**
     * The lines of a CSV file starting in [start, end), parsed on the worker.
     *
     * @param path    the file, as the worker sees it.
     * @param start   first byte offset.
     * @param end     end byte offset (exclusive).
     * @param options parse options.
     */
    public record CsvSource(String path, long start, long end, CsvOptions options) implements Source
    {
        public NativeTable produce()
        {
            return CsvReader.read(Path.of(path), start, end, options).table();
        }
    }

    /**
     * Counts the rows of a CSV partition that were skipped as malformed (parses it again).
     *
     * @param source the partition.
     */
    public record CsvSkipped(CsvSource source) implements TaskFunctions.VarFunction
    {
        public Object apply(final Object[] args)
        {
            try (CsvReader.Result r = CsvReader.read(Path.of(source.path()), source.start(), source.end(),
                source.options()))
            {
                return r.skippedRows();
            }
        }
    }

    /**
     * A LONG column of the numbers [from, to).
     *
     * @param name column name.
     * @param from first value.
     * @param to   end (exclusive).
     */
    public record RangeSource(String name, long from, long to) implements Source
    {
        public NativeTable produce()
        {
            final int rows = checkedRows(to - from);
            final NativeTable t = NativeTable.allocate(new String[]{name}, new ColumnType[]{ColumnType.LONG}, rows, null);
            final long a = t.columnAddress(0);
            for (int i = 0; i < rows; i++)
            {
                UnsafeApi.putLong(a + 8L * i, from + i);
            }
            return t;
        }
    }

    /**
     * DOUBLE columns of uniform random numbers in [low, high), from a seeded generator.
     *
     * @param names column names.
     * @param rows  row count.
     * @param seed  generator seed.
     * @param low   lower bound.
     * @param high  upper bound (exclusive).
     */
    public record RandomSource(String[] names, long rows, long seed, double low, double high) implements Source
    {
        public NativeTable produce()
        {
            final int n = checkedRows(rows);
            final ColumnType[] types = new ColumnType[names.length];
            Arrays.fill(types, ColumnType.DOUBLE);
            final NativeTable t = NativeTable.allocate(names, types, n, null);
            final SplittableRandom random = new SplittableRandom(seed);
            final double width = high - low;
            for (int c = 0; c < names.length; c++)
            {
                final long a = t.columnAddress(c);
                for (int i = 0; i < n; i++)
                {
                    UnsafeApi.putDouble(a + 8L * i, low + width * random.nextDouble());
                }
            }
            return t;
        }
    }

    static int checkedRows(final long rows)
    {
        if (rows < 0 || rows > Integer.MAX_VALUE / 8)
        {
            throw new IllegalArgumentException("a partition holds 0 to " + Integer.MAX_VALUE / 8 + " rows: " + rows);
        }
        return (int)rows;
    }

    // ------------------------------------------------------------------------------------------------ steps

    /**
     * Keep the rows for which the predicate holds.
     *
     * @param predicate a boolean expression.
     */
    public record Filter(Expr predicate) implements Step
    {
        public NativeTable apply(final TableView in)
        {
            return TableOps.filter(in, predicate);
        }
    }

    /**
     * Add or replace a column.
     *
     * @param name column name.
     * @param expr its values.
     */
    public record WithColumn(String name, Expr expr) implements Step
    {
        public NativeTable apply(final TableView in)
        {
            return TableOps.withColumn(in, name, expr);
        }
    }

    /**
     * Keep only these columns.
     *
     * @param columns names, in order.
     */
    public record Select(String[] columns) implements Step
    {
        public NativeTable apply(final TableView in)
        {
            return TableOps.select(in, columns);
        }
    }

    /**
     * Remove these columns.
     *
     * @param columns names.
     */
    public record Drop(String[] columns) implements Step
    {
        public NativeTable apply(final TableView in)
        {
            return TableOps.drop(in, columns);
        }
    }

    /**
     * The first rows.
     *
     * @param rows how many.
     */
    public record Head(int rows) implements Step
    {
        public NativeTable apply(final TableView in)
        {
            return TableOps.head(in, rows);
        }
    }

    // ------------------------------------------------------------------------------------------------ terminals

    /**
     * A terminal that can run on the pipeline's input directly, with the filters folded into one predicate
     * and the added columns substituted into its expression.
     */
    interface FusedTerminal extends Terminal
    {
        Object finish(TableView in, Expr predicate, Map<String, Expr> columns);
    }

    /**
     * Partial of an aggregate: {kind (0 LONG, 1 DOUBLE), count, sum, min, max}, longs or double bits.
     *
     * @param expr     the numeric expression.
     * @param extremes whether min and max are needed.
     */
    public record Aggregate(Expr expr, boolean extremes) implements FusedTerminal
    {
        public Object finish(final TableView in)
        {
            return TableOps.aggregate(in, null, expr, extremes);
        }

        public Object finish(final TableView in, final Expr predicate, final Map<String, Expr> columns)
        {
            return TableOps.aggregate(in, predicate, expr.substitute(columns), extremes);
        }
    }

    /** Row count of a partition. */
    public record RowCount() implements FusedTerminal
    {
        public Object finish(final TableView in)
        {
            return (long)in.rowCount();
        }

        public Object finish(final TableView in, final Expr predicate, final Map<String, Expr> columns)
        {
            return null == predicate ? (long)in.rowCount() :
                TableOps.aggregate(in, predicate, Expr.lit(0L), false)[1];
        }
    }

    /**
     * Per numeric column: count, mean, M2 (sum of squared deviations), min, max, as a one-row-per-statistic
     * DOUBLE table (Chan's parallel variance merges them).
     */
    public record DescribePartial() implements Terminal
    {
        public Object finish(final TableView in)
        {
            final ColumnarTable.Builder b = ColumnarTable.builder();
            final int rows = in.rowCount();
            final long base = in.buffer().addressOffset();
            for (int c = 0; c < in.columnCount(); c++)
            {
                final ColumnType type = in.columnType(c);
                if (type == ColumnType.STRING)
                {
                    continue;
                }
                final long a = base + in.columnOffset(c);
                final boolean isLong = type == ColumnType.LONG;
                double sum = 0;
                double min = Double.POSITIVE_INFINITY;
                double max = Double.NEGATIVE_INFINITY;
                for (int r = 0; r < rows; r++)
                {
                    final double v = isLong ? (double)UnsafeApi.getLong(a + 8L * r) : UnsafeApi.getDouble(a + 8L * r);
                    sum += v;
                    min = Math.min(min, v);
                    max = Math.max(max, v);
                }
                final double mean = rows == 0 ? 0 : sum / rows;
                double m2 = 0;
                for (int r = 0; r < rows; r++)
                {
                    final double v = isLong ? (double)UnsafeApi.getLong(a + 8L * r) : UnsafeApi.getDouble(a + 8L * r);
                    m2 += (v - mean) * (v - mean);
                }
                b.addDouble(in.columnName(c), new double[]{rows, mean, m2, min, max});
            }
            return b.build();
        }
    }

    // ------------------------------------------------------------------------------------------------ pipeline

    /**
     * One partition's work, fused into one task.
     *
     * @param source   where the table comes from, or null when it is the task's one dependency.
     * @param steps    operations in order.
     * @param terminal what folds the result, or null to return the table.
     */
    public record Pipeline(Source source, Step[] steps, Terminal terminal) implements TaskFunctions.TableFunction
    {
        private boolean fusable()
        {
            return FrameTasks.fusable(steps);
        }

        private Object fused(final TableView in)
        {
            return FrameTasks.fused(steps, (FusedTerminal)terminal, in);
        }

        public Object apply(final Object[] args)
        {
            NativeTable owned = null;
            TableView view;
            if (null != source)
            {
                owned = source.produce();
                view = owned.view();
            }
            else if (args.length == 1 && args[0] instanceof TableView)
            {
                view = (TableView)args[0];
            }
            else
            {
                throw new IllegalArgumentException("a frame partition is not a table: " +
                    (args.length == 1 && null != args[0] ? args[0].getClass().getName() : Arrays.toString(args)));
            }
            try
            {
                if (terminal instanceof FusedTerminal && fusable())
                {
                    return fused(view);
                }
                if (null == terminal && steps.length > 0 && fusable())
                {
                    final NativeTable result = materialize(steps, view);
                    if (null != owned)
                    {
                        owned.close();
                        owned = null;
                    }
                    return result;
                }
                for (final Step step : steps)
                {
                    final NativeTable next = step.apply(view);
                    if (null != owned)
                    {
                        owned.close();
                    }
                    owned = next;
                    view = next.view();
                }
                if (null != terminal)
                {
                    return terminal.finish(view);
                }
                if (null == owned)
                {
                    owned = TableOps.head(view, view.rowCount());
                }
                final NativeTable result = owned;
                owned = null;
                return result; // the worker stores it (one copy) and frees it
            }
            finally
            {
                if (null != owned)
                {
                    owned.close();
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ fusion

    /**
     * Whether every step is a filter or a numeric withColumn: then an aggregate of the result is an aggregate of
     * the input over the rows where all the filters hold, with the added columns' expressions substituted, and no
     * intermediate table is made at all.
     */
    static boolean fusable(final Step[] steps)
    {
        for (final Step step : steps)
        {
            if (!(step instanceof Filter) && !(step instanceof WithColumn && !((WithColumn)step).expr().isPredicate()))
            {
                return false;
            }
        }
        return true;
    }

    static Object fused(final Step[] steps, final FusedTerminal terminal, final TableView in)
    {
        final Map<String, Expr> columns = new HashMap<>();
        Expr predicate = null;
        for (final Step step : steps)
        {
            if (step instanceof Filter)
            {
                final Expr p = ((Filter)step).predicate().substitute(columns);
                predicate = null == predicate ? p : predicate.and(p);
            }
            else
            {
                final WithColumn w = (WithColumn)step;
                columns.put(w.name(), w.expr().substitute(columns));
            }
        }
        return terminal.finish(in, predicate, columns);
    }

    /**
     * Filters and numeric withColumns in one pass over the input: one predicate, the added columns' expressions
     * substituted, one result table written (no intermediate tables).
     */
    static NativeTable materialize(final Step[] steps, final TableView in)
    {
        final Map<String, Expr> columns = new LinkedHashMap<>();
        Expr predicate = null;
        for (final Step step : steps)
        {
            if (step instanceof Filter)
            {
                final Expr p = ((Filter)step).predicate().substitute(columns);
                predicate = null == predicate ? p : predicate.and(p);
            }
            else
            {
                final WithColumn w = (WithColumn)step;
                final Expr e = w.expr().substitute(columns);
                columns.remove(w.name()); // a replaced column moves to the end, as withColumn does
                columns.put(w.name(), e);
            }
        }
        return TableOps.filterWithColumns(in, predicate, columns.keySet().toArray(new String[0]),
            columns.values().toArray(new Expr[0]));
    }

    // ------------------------------------------------------------------------------------------------ combiners

    /** Which aggregate a {@link Combine} finishes. */
    public enum AggregateOp
    {
        /** Sum: a Long for a LONG expression, else a Double. */
        SUM,
        /** Arithmetic mean, a Double (NaN for no rows). */
        MEAN,
        /** Minimum: Long or Double (null for no rows). */
        MIN,
        /** Maximum: Long or Double (null for no rows). */
        MAX,
        /** Number of values, a Long. */
        COUNT
    }

    /**
     * Merges {@link Aggregate} partials.
     *
     * @param op the aggregate.
     */
    public record Combine(AggregateOp op) implements TaskFunctions.VarFunction
    {
        public Object apply(final Object[] args)
        {
            boolean isDouble = false;
            for (final Object a : args)
            {
                isDouble |= ((long[])a)[0] == 1;
            }
            long count = 0;
            long lsum = 0;
            double dsum = 0;
            long lmin = Long.MAX_VALUE;
            long lmax = Long.MIN_VALUE;
            double dmin = Double.POSITIVE_INFINITY;
            double dmax = Double.NEGATIVE_INFINITY;
            for (final Object a : args)
            {
                final long[] p = (long[])a;
                count += p[1];
                if (p[1] == 0)
                {
                    continue;
                }
                if (p[0] == 1)
                {
                    dsum += Double.longBitsToDouble(p[2]);
                    dmin = Math.min(dmin, Double.longBitsToDouble(p[3]));
                    dmax = Math.max(dmax, Double.longBitsToDouble(p[4]));
                }
                else
                {
                    lsum += p[2];
                    lmin = Math.min(lmin, p[3]);
                    lmax = Math.max(lmax, p[4]);
                    dsum += (double)p[2];
                    dmin = Math.min(dmin, (double)p[3]);
                    dmax = Math.max(dmax, (double)p[4]);
                }
            }
            switch (op)
            {
                case COUNT:
                    return count;
                case SUM:
                    return isDouble ? (Object)dsum : (Object)lsum;
                case MEAN:
                    return count == 0 ? Double.NaN : dsum / count;
                case MIN:
                    return count == 0 ? null : isDouble ? (Object)dmin : (Object)lmin;
                case MAX:
                    return count == 0 ? null : isDouble ? (Object)dmax : (Object)lmax;
                default:
                    throw new IllegalStateException(op.name());
            }
        }
    }

    /** Adds Long partials. */
    public record SumLongs() implements TaskFunctions.VarFunction
    {
        public Object apply(final Object[] args)
        {
            long total = 0;
            for (final Object a : args)
            {
                total += (Long)a;
            }
            return total;
        }
    }

    /** Merges {@link DescribePartial}s into rows count, mean, std (sample), min, max per numeric column. */
    public record DescribeCombine() implements TaskFunctions.VarFunction
    {
        public Object apply(final Object[] args)
        {
            if (args.length == 0)
            {
                return ColumnarTable.builder().build();
            }
            final ColumnarTable first = (ColumnarTable)args[0];
            final ColumnarTable.Builder b = ColumnarTable.builder()
                .addString("statistic", new String[]{"count", "mean", "std", "min", "max"});
            for (final String name : first.names())
            {
                double n = 0;
                double mean = 0;
                double m2 = 0;
                double min = Double.POSITIVE_INFINITY;
                double max = Double.NEGATIVE_INFINITY;
                for (final Object a : args)
                {
                    final double[] s = ((ColumnarTable)a).doubles(name);
                    if (s[0] == 0)
                    {
                        continue;
                    }
                    final double total = n + s[0];
                    final double delta = s[1] - mean;
                    mean += delta * s[0] / total;
                    m2 += s[2] + delta * delta * n * s[0] / total;
                    n = total;
                    min = Math.min(min, s[3]);
                    max = Math.max(max, s[4]);
                }
                final double std = n > 1 ? Math.sqrt(m2 / (n - 1)) : Double.NaN;
                b.addDouble(name, n == 0 ?
                    new double[]{0, Double.NaN, Double.NaN, Double.NaN, Double.NaN} :
                    new double[]{n, mean, std, min, max});
            }
            return b.build();
        }
    }

    /** Concatenates partitions (decoded onto the heap) into one table. */
    public record Concat() implements TaskFunctions.VarFunction
    {
        public Object apply(final Object[] args)
        {
            final List<ColumnarTable> tables = new ArrayList<>(args.length);
            for (final Object a : args)
            {
                tables.add((ColumnarTable)a);
            }
            return concat(tables);
        }
    }

    /**
     * @param tables tables with the same columns.
     * @return their rows, in order, in one table.
     */
    public static ColumnarTable concat(final List<ColumnarTable> tables)
    {
        if (tables.isEmpty())
        {
            return ColumnarTable.builder().build();
        }
        if (tables.size() == 1)
        {
            return tables.get(0);
        }
        final ColumnarTable first = tables.get(0);
        int rows = 0;
        for (final ColumnarTable t : tables)
        {
            if (!t.names().equals(first.names()))
            {
                throw new IllegalArgumentException("partitions have different columns: " + first.names() + " and " +
                    t.names());
            }
            rows += t.rowCount();
        }
        final ColumnarTable.Builder b = ColumnarTable.builder();
        for (final String name : first.names())
        {
            final ColumnType type = first.type(name);
            int at = 0;
            switch (type)
            {
                case LONG:
                {
                    final long[] all = new long[rows];
                    for (final ColumnarTable t : tables)
                    {
                        final long[] part = t.longs(name);
                        System.arraycopy(part, 0, all, at, part.length);
                        at += part.length;
                    }
                    b.addLong(name, all);
                    break;
                }
                case DOUBLE:
                {
                    final double[] all = new double[rows];
                    for (final ColumnarTable t : tables)
                    {
                        final double[] part = t.doubles(name);
                        System.arraycopy(part, 0, all, at, part.length);
                        at += part.length;
                    }
                    b.addDouble(name, all);
                    break;
                }
                default:
                {
                    final String[] all = new String[rows];
                    for (final ColumnarTable t : tables)
                    {
                        final String[] part = t.strings(name);
                        System.arraycopy(part, 0, all, at, part.length);
                        at += part.length;
                    }
                    b.addString(name, all);
                    break;
                }
            }
        }
        return b.build();
    }
}
