package io.offgrid.memory;

import io.offgrid.memory.internal.NativeMemory;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Table kernels: each reads a table in place through a {@link TableView} and writes a new table into
 * a {@link NativeTable}, column by column with memory copies and tight loops, or folds a column to a
 * number. They back the Frame operations (filter, withColumn, select, drop, head, aggregates).
 */
public final class TableOps
{
    private TableOps()
    {
    }

    /**
     * Rows for which {@code predicate} is true.
     *
     * @param table     input.
     * @param predicate a boolean expression.
     * @return a new table with every column, only the selected rows.
     */
    public static NativeTable filter(final TableView table, final Expr predicate)
    {
        try (Expr.Evaluation ev = new Expr.Evaluation(table))
        {
            final Expr.Vector mask = Expr.requireBoolean(predicate.eval(ev));
            final int rows = table.rowCount();
            if (mask.scalar)
            {
                return mask.bits == 1 ? copyRows(table, 0, rows) : copyRows(table, 0, 0);
            }
            final int selected = VectorKernels.countTrue(mask.address, rows);
            final int columns = table.columnCount();
            final String[] names = new String[columns];
            final ColumnType[] types = new ColumnType[columns];
            final long[] stringBytes = new long[columns];
            for (int c = 0; c < columns; c++)
            {
                names[c] = table.columnName(c);
                types[c] = table.columnType(c);
                if (types[c] == ColumnType.STRING)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        if (UnsafeApi.getByte(mask.address + r) != 0)
                        {
                            stringBytes[c] += table.stringLength(c, r);
                        }
                    }
                }
            }
            final NativeTable out = allocate(names, types, selected, stringBytes);
            final TableView view = out.view();
            final long inBase = table.buffer().addressOffset();
            final long outBase = out.mutableBuffer().addressOffset();
            for (int c = 0; c < columns; c++)
            {
                if (types[c] == ColumnType.STRING)
                {
                    copyStrings(table, c, mask.address, view, c, rows);
                }
                else
                {
                    VectorKernels.compact8(inBase + table.columnOffset(c), mask.address,
                        outBase + view.columnOffset(c), rows);
                }
            }
            return out;
        }
    }

    /**
     * Add a column computed by {@code expr}, or replace the column of that name.
     *
     * @param table input.
     * @param name  the column's name.
     * @param expr  a numeric expression (a boolean one is stored as LONG 0/1).
     * @return a new table.
     */
    public static NativeTable withColumn(final TableView table, final String name, final Expr expr)
    {
        try (Expr.Evaluation ev = new Expr.Evaluation(table))
        {
            final Expr.Vector v = expr.eval(ev);
            final int rows = table.rowCount();
            final List<Integer> kept = new ArrayList<>();
            for (int c = 0; c < table.columnCount(); c++)
            {
                if (!table.columnName(c).equals(name))
                {
                    kept.add(c);
                }
            }
            final int columns = kept.size() + 1;
            final String[] names = new String[columns];
            final ColumnType[] types = new ColumnType[columns];
            final long[] stringBytes = new long[columns];
            for (int i = 0; i < kept.size(); i++)
            {
                final int c = kept.get(i);
                names[i] = table.columnName(c);
                types[i] = table.columnType(c);
                if (types[i] == ColumnType.STRING)
                {
                    stringBytes[i] = table.columnLength(c) - 8L * (rows + 1);
                }
            }
            names[columns - 1] = name;
            types[columns - 1] = v.kind == Expr.Kind.DOUBLE ? ColumnType.DOUBLE : ColumnType.LONG;
            final NativeTable out = allocate(names, types, rows, stringBytes);
            final TableView view = out.view();
            final long inBase = table.buffer().addressOffset();
            final long outBase = out.mutableBuffer().addressOffset();
            for (int i = 0; i < kept.size(); i++)
            {
                final int c = kept.get(i);
                NativeMemory.copy(inBase + table.columnOffset(c), outBase + view.columnOffset(i), table.columnLength(c));
            }
            final long target = outBase + view.columnOffset(columns - 1);
            if (v.scalar)
            {
                final long bits = v.bits; // raw double bits, a long, or 0/1
                for (int r = 0; r < rows; r++)
                {
                    UnsafeApi.putLong(target + 8L * r, bits);
                }
            }
            else if (v.kind == Expr.Kind.BOOLEAN)
            {
                VectorKernels.boolToLong(v.address, target, rows);
            }
            else
            {
                NativeMemory.copy(v.address, target, 8L * rows);
            }
            return out;
        }
    }

    /**
     * Keep only the named columns, in the order given.
     *
     * @param table   input.
     * @param columns names to keep.
     * @return a new table.
     */
    public static NativeTable select(final TableView table, final String... columns)
    {
        final int[] indexes = new int[columns.length];
        for (int i = 0; i < columns.length; i++)
        {
            indexes[i] = table.columnIndex(columns[i]);
            if (indexes[i] < 0)
            {
                throw new IllegalArgumentException("no column named '" + columns[i] + "'");
            }
        }
        return project(table, indexes);
    }

    /**
     * Remove the named columns.
     *
     * @param table   input.
     * @param columns names to drop; unknown names are an error.
     * @return a new table.
     */
    public static NativeTable drop(final TableView table, final String... columns)
    {
        for (final String name : columns)
        {
            if (table.columnIndex(name) < 0)
            {
                throw new IllegalArgumentException("no column named '" + name + "'");
            }
        }
        final List<String> dropped = Arrays.asList(columns);
        final int[] kept = new int[table.columnCount()];
        int n = 0;
        for (int c = 0; c < table.columnCount(); c++)
        {
            if (!dropped.contains(table.columnName(c)))
            {
                kept[n++] = c;
            }
        }
        return project(table, Arrays.copyOf(kept, n));
    }

    /**
     * The first {@code n} rows.
     *
     * @param table input.
     * @param n     rows wanted.
     * @return a new table of min(n, rows) rows.
     */
    public static NativeTable head(final TableView table, final int n)
    {
        return copyRows(table, 0, Math.max(0, Math.min(n, table.rowCount())));
    }

    /**
     * Sum of a numeric expression (a column: {@code Expr.col("x")}).
     *
     * @param table input.
     * @param expr  numeric expression.
     * @return the sum as a double (0 for no rows).
     */
    public static double sum(final TableView table, final Expr expr)
    {
        try (Expr.Evaluation ev = new Expr.Evaluation(table))
        {
            final Expr.Vector v = ev.asDouble(numeric(expr.eval(ev)));
            return v.scalar ? v.doubleValue() * table.rowCount() : VectorKernels.sumDouble(v.address, 0, table.rowCount());
        }
    }

    /**
     * Exact sum of a LONG column or expression.
     *
     * @param table input.
     * @param expr  LONG expression.
     * @return the sum (wrapping on overflow, as Java's long arithmetic does).
     */
    public static long sumLong(final TableView table, final Expr expr)
    {
        try (Expr.Evaluation ev = new Expr.Evaluation(table))
        {
            final Expr.Vector v = numeric(expr.eval(ev));
            if (v.kind != Expr.Kind.LONG)
            {
                throw new IllegalArgumentException("sumLong needs a LONG expression: " + expr);
            }
            return v.scalar ? v.bits * table.rowCount() : VectorKernels.sumLong(v.address, table.rowCount());
        }
    }

    /**
     * @param table input.
     * @param expr  numeric expression.
     * @return the minimum as a double; +infinity for no rows.
     */
    public static double min(final TableView table, final Expr expr)
    {
        return extreme(table, expr, true);
    }

    /**
     * @param table input.
     * @param expr  numeric expression.
     * @return the maximum as a double; -infinity for no rows.
     */
    public static double max(final TableView table, final Expr expr)
    {
        return extreme(table, expr, false);
    }

    /**
     * @param table     input.
     * @param predicate a boolean expression.
     * @return rows for which it is true.
     */
    public static long count(final TableView table, final Expr predicate)
    {
        try (Expr.Evaluation ev = new Expr.Evaluation(table))
        {
            final Expr.Vector mask = Expr.requireBoolean(predicate.eval(ev));
            return mask.scalar ? mask.bits * table.rowCount() : VectorKernels.countTrue(mask.address, table.rowCount());
        }
    }

    /**
     * Count, sum, min and max of a numeric expression in one evaluation: the partial of a distributed
     * aggregate, merged across partitions by the caller.
     *
     * @param table input.
     * @param expr  numeric expression.
     * @return {kind (0 LONG, 1 DOUBLE), rows, sum, min, max}: longs for LONG, raw double bits for
     *         DOUBLE; min and max are meaningless for no rows.
     */
    public static long[] aggregate(final TableView table, final Expr expr)
    {
        return aggregate(table, null, expr, true);
    }

    /** Rows per window of a windowed evaluation: temporaries of 32 KiB stay in cache and are reused. */
    static final int WINDOW = 4096;

    /**
     * Count, sum, and optionally min and max of a numeric expression over the rows where a predicate
     * holds, evaluated window by window over the table in place: no result table, no temporaries
     * bigger than a window, one pass. This is what a filter, withColumn and aggregate pipeline runs as.
     *
     * @param table     input.
     * @param predicate a boolean expression, or null for every row.
     * @param expr      numeric expression.
     * @param extremes  whether min and max are wanted (they cost a compare per row).
     * @return {kind (0 LONG, 1 DOUBLE), rows selected, sum, min, max}: longs for LONG, raw double bits
     *         for DOUBLE; min and max meaningless for no rows or without {@code extremes}.
     */
    public static long[] aggregate(final TableView table, final Expr predicate, final Expr expr, final boolean extremes)
    {
        final int rows = table.rowCount();
        try (Expr.Evaluation ve = new Expr.Evaluation(table);
            Expr.Evaluation pe = new Expr.Evaluation(table))
        {
            final double[] fold = new double[3];
            Expr.Kind kind = Expr.Kind.LONG;
            long count = 0;
            long lsum = 0;
            long lmin = Long.MAX_VALUE;
            long lmax = Long.MIN_VALUE;
            double dsum = 0;
            double dmin = Double.POSITIVE_INFINITY;
            double dmax = Double.NEGATIVE_INFINITY;
            int first = 0;
            do
            {
                final int n = Math.min(WINDOW, rows - first);
                long mask = 0;
                int selected = n;
                if (null != predicate)
                {
                    pe.window(first, n);
                    final Expr.Vector m = Expr.requireBoolean(predicate.eval(pe));
                    if (m.scalar)
                    {
                        selected = m.bits == 1 ? n : 0;
                    }
                    else
                    {
                        mask = m.address;
                        selected = VectorKernels.countTrue(mask, n);
                    }
                }
                ve.window(first, n);
                final Expr.Vector v = numeric(expr.eval(ve));
                kind = v.kind;
                first += n;
                if (selected == 0)
                {
                    continue;
                }
                count += selected;
                if (v.kind == Expr.Kind.LONG)
                {
                    if (v.scalar)
                    {
                        lsum += v.bits * selected;
                        lmin = Math.min(lmin, v.bits);
                        lmax = Math.max(lmax, v.bits);
                    }
                    else
                    {
                        lsum += VectorKernels.sumLong(v.address, mask, n);
                        if (extremes)
                        {
                            lmin = Math.min(lmin, VectorKernels.minLong(v.address, mask, n));
                            lmax = Math.max(lmax, VectorKernels.maxLong(v.address, mask, n));
                        }
                    }
                }
                else if (v.scalar)
                {
                    dsum += v.doubleValue() * selected;
                    dmin = Math.min(dmin, v.doubleValue());
                    dmax = Math.max(dmax, v.doubleValue());
                }
                else if (extremes)
                {
                    VectorKernels.foldDouble(v.address, mask, n, fold);
                    dsum += fold[0];
                    dmin = Math.min(dmin, fold[1]);
                    dmax = Math.max(dmax, fold[2]);
                }
                else
                {
                    dsum += VectorKernels.sumDouble(v.address, mask, n);
                }
            }
            while (first < rows);
            return kind == Expr.Kind.LONG ?
                new long[]{0, count, lsum, lmin, lmax} :
                new long[]{1, count, Double.doubleToRawLongBits(dsum), Double.doubleToRawLongBits(dmin),
                    Double.doubleToRawLongBits(dmax)};
        }
    }

    /**
     * Filter and add columns in one pass, without intermediate tables: the rows where
     * {@code predicate} holds, the input's columns (those named in {@code names} dropped) followed by
     * the new columns. The predicate and the new columns' expressions are evaluated window by window
     * over the input in place; the result is the one table written. What a filter / withColumn
     * pipeline runs as, with later expressions already substituted.
     *
     * @param table     input.
     * @param predicate a boolean expression, or null for every row.
     * @param names     new column names (replacing input columns of the same name).
     * @param exprs     their numeric expressions.
     * @return the new table.
     */
    public static NativeTable filterWithColumns(
        final TableView table, final Expr predicate, final String[] names, final Expr[] exprs)
    {
        final int rows = table.rowCount();
        long mask = 0;
        try (Expr.Evaluation pe = new Expr.Evaluation(table);
            Expr.Evaluation ve = new Expr.Evaluation(table))
        {
            int selected = rows;
            if (null != predicate)
            {
                mask = NativeMemory.allocate(Math.max(rows, 8));
                selected = 0;
                int first = 0;
                do
                {
                    final int n = Math.min(WINDOW, rows - first);
                    pe.window(first, n);
                    final Expr.Vector m = Expr.requireBoolean(predicate.eval(pe));
                    if (m.scalar)
                    {
                        UnsafeApi.setMemory(mask + first, n, (byte)m.bits);
                    }
                    else
                    {
                        NativeMemory.copy(m.address, mask + first, n);
                    }
                    first += n;
                }
                while (first < rows);
                selected = VectorKernels.countTrue(mask, rows);
            }
            final List<Integer> kept = new ArrayList<>();
            for (int c = 0; c < table.columnCount(); c++)
            {
                if (!Arrays.asList(names).contains(table.columnName(c)))
                {
                    kept.add(c);
                }
            }
            final int columns = kept.size() + names.length;
            final String[] outNames = new String[columns];
            final ColumnType[] types = new ColumnType[columns];
            final long[] stringBytes = new long[columns];
            for (int i = 0; i < kept.size(); i++)
            {
                final int c = kept.get(i);
                outNames[i] = table.columnName(c);
                types[i] = table.columnType(c);
                if (types[i] == ColumnType.STRING)
                {
                    for (int r = 0; r < rows; r++)
                    {
                        if (mask == 0 || UnsafeApi.getByte(mask + r) != 0)
                        {
                            stringBytes[i] += table.stringLength(c, r);
                        }
                    }
                }
            }
            for (int k = 0; k < names.length; k++)
            {
                ve.window(0, 0); // the kind, without evaluating a row
                final Expr.Vector probe = numeric(exprs[k].eval(ve));
                outNames[kept.size() + k] = names[k];
                types[kept.size() + k] = probe.kind == Expr.Kind.DOUBLE ? ColumnType.DOUBLE : ColumnType.LONG;
            }
            final NativeTable out = allocate(outNames, types, selected, stringBytes);
            final TableView view = out.view();
            final long inBase = table.buffer().addressOffset();
            final long outBase = out.mutableBuffer().addressOffset();
            for (int i = 0; i < kept.size(); i++)
            {
                final int c = kept.get(i);
                if (types[i] == ColumnType.STRING)
                {
                    if (mask == 0)
                    {
                        NativeMemory.copy(inBase + table.columnOffset(c), outBase + view.columnOffset(i),
                            table.columnLength(c));
                    }
                    else
                    {
                        copyStrings(table, c, mask, view, i, rows);
                    }
                }
                else if (mask == 0)
                {
                    NativeMemory.copy(inBase + table.columnOffset(c), outBase + view.columnOffset(i), 8L * rows);
                }
                else
                {
                    VectorKernels.compact8(inBase + table.columnOffset(c), mask, outBase + view.columnOffset(i), rows);
                }
            }
            for (int k = 0; k < names.length; k++)
            {
                final long target = outBase + view.columnOffset(kept.size() + k);
                int j = 0;
                int first = 0;
                while (first < rows)
                {
                    final int n = Math.min(WINDOW, rows - first);
                    ve.window(first, n);
                    final Expr.Vector v = numeric(exprs[k].eval(ve));
                    final long windowMask = mask == 0 ? 0 : mask + first;
                    if (v.scalar)
                    {
                        for (int r = 0; r < n; r++)
                        {
                            if (windowMask == 0 || UnsafeApi.getByte(windowMask + r) != 0)
                            {
                                UnsafeApi.putLong(target + 8L * j++, v.bits);
                            }
                        }
                    }
                    else if (windowMask == 0)
                    {
                        NativeMemory.copy(v.address, target + 8L * j, 8L * n);
                        j += n;
                    }
                    else
                    {
                        j += VectorKernels.compact8Count(v.address, windowMask, target + 8L * j, n);
                    }
                    first += n;
                }
            }
            return out;
        }
        finally
        {
            if (mask != 0)
            {
                NativeMemory.free(mask, Math.max(rows, 8));
            }
        }
    }

    private static double extreme(final TableView table, final Expr expr, final boolean min)
    {
        try (Expr.Evaluation ev = new Expr.Evaluation(table))
        {
            final Expr.Vector v = numeric(expr.eval(ev));
            final int rows = table.rowCount();
            if (rows == 0)
            {
                return min ? Double.POSITIVE_INFINITY : Double.NEGATIVE_INFINITY;
            }
            if (v.scalar)
            {
                return v.doubleValue();
            }
            if (v.kind == Expr.Kind.LONG)
            {
                return min ? VectorKernels.minLong(v.address, rows) : VectorKernels.maxLong(v.address, rows);
            }
            return min ? VectorKernels.minDouble(v.address, rows) : VectorKernels.maxDouble(v.address, rows);
        }
    }

    private static Expr.Vector numeric(final Expr.Vector v)
    {
        if (v.kind == Expr.Kind.BOOLEAN)
        {
            throw new IllegalArgumentException("a numeric expression is needed, got a comparison");
        }
        return v;
    }

    private static NativeTable project(final TableView table, final int[] indexes)
    {
        final int rows = table.rowCount();
        final String[] names = new String[indexes.length];
        final ColumnType[] types = new ColumnType[indexes.length];
        final long[] stringBytes = new long[indexes.length];
        for (int i = 0; i < indexes.length; i++)
        {
            names[i] = table.columnName(indexes[i]);
            types[i] = table.columnType(indexes[i]);
            if (types[i] == ColumnType.STRING)
            {
                stringBytes[i] = table.columnLength(indexes[i]) - 8L * (rows + 1);
            }
        }
        final NativeTable out = allocate(names, types, rows, stringBytes);
        final TableView view = out.view();
        for (int i = 0; i < indexes.length; i++)
        {
            NativeMemory.copy(table.buffer().addressOffset() + table.columnOffset(indexes[i]),
                out.mutableBuffer().addressOffset() + view.columnOffset(i), table.columnLength(indexes[i]));
        }
        return out;
    }

    private static NativeTable copyRows(final TableView table, final int from, final int count)
    {
        final int columns = table.columnCount();
        final String[] names = new String[columns];
        final ColumnType[] types = new ColumnType[columns];
        final long[] stringBytes = new long[columns];
        for (int c = 0; c < columns; c++)
        {
            names[c] = table.columnName(c);
            types[c] = table.columnType(c);
            if (types[c] == ColumnType.STRING && count > 0)
            {
                stringBytes[c] = (long)table.stringStart(c, from + count - 1) + table.stringLength(c, from + count - 1) -
                    table.stringStart(c, from);
            }
        }
        final NativeTable out = allocate(names, types, count, stringBytes);
        final TableView view = out.view();
        final long inBase = table.buffer().addressOffset();
        final long outBase = out.mutableBuffer().addressOffset();
        for (int c = 0; c < columns; c++)
        {
            if (types[c] == ColumnType.STRING)
            {
                final UnsafeBuffer buffer = out.mutableBuffer();
                final int offsets = view.columnOffset(c);
                final long first = count > 0 ? table.buffer().getLong(table.columnOffset(c) + 8 * from) : 0;
                for (int r = 0; r <= count; r++)
                {
                    buffer.putLong(offsets + 8 * r, table.buffer().getLong(table.columnOffset(c) + 8 * (from + r)) - first);
                }
                if (count > 0)
                {
                    NativeMemory.copy(inBase + table.stringStart(c, from), outBase + offsets + 8L * (count + 1),
                        stringBytes[c]);
                }
            }
            else
            {
                NativeMemory.copy(inBase + table.columnOffset(c) + 8L * from, outBase + view.columnOffset(c), 8L * count);
            }
        }
        return out;
    }

    private static void copyStrings(
        final TableView in, final int inColumn, final long mask, final TableView out, final int outColumn, final int rows)
    {
        final UnsafeBuffer buffer = (UnsafeBuffer)out.buffer();
        final int offsets = out.columnOffset(outColumn);
        final int selected = out.rowCount();
        int cursor = offsets + 8 * (selected + 1);
        long position = 0;
        int j = 0;
        for (int r = 0; r < rows; r++)
        {
            if (UnsafeApi.getByte(mask + r) != 0)
            {
                final int length = in.stringLength(inColumn, r);
                buffer.putLong(offsets + 8 * j, position);
                buffer.putBytes(cursor, in.buffer(), in.stringStart(inColumn, r), length);
                cursor += length;
                position += length;
                j++;
            }
        }
        buffer.putLong(offsets + 8 * j, position);
    }

    private static NativeTable allocate(
        final String[] names, final ColumnType[] types, final int rows, final long[] stringBytes)
    {
        return NativeTable.allocate(names, types, rows, stringBytes);
    }
}
