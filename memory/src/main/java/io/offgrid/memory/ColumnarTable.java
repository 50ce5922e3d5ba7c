package io.offgrid.memory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * A table of named long, double and string columns of equal length, as a value on the Java heap. It is
 * what a caller hands to {@link BlockStore#put(String, Object)} and gets from
 * {@link BlockStore#getValue(String)}; tasks that should not copy to the heap read the stored block
 * through a {@link TableView} instead.
 */
public final class ColumnarTable
{
    private final List<String> names;
    private final List<Object> columns;
    private final int rows;

    private ColumnarTable(final List<String> names, final List<Object> columns, final int rows)
    {
        this.names = Collections.unmodifiableList(names);
        this.columns = Collections.unmodifiableList(columns);
        this.rows = rows;
    }

    /**
     * @return a builder for a new table.
     */
    public static Builder builder()
    {
        return new Builder();
    }

    /**
     * @return column names in order.
     */
    public List<String> names()
    {
        return names;
    }

    /**
     * @return the row count.
     */
    public int rowCount()
    {
        return rows;
    }

    /**
     * @param name column name.
     * @return the column's type.
     */
    public ColumnType type(final String name)
    {
        return typeOf(columns.get(indexOf(name)));
    }

    static ColumnType typeOf(final Object column)
    {
        return column instanceof long[] ? ColumnType.LONG :
            column instanceof double[] ? ColumnType.DOUBLE : ColumnType.STRING;
    }

    /**
     * @param name a STRING column.
     * @return its values (the array itself, not a copy).
     */
    public String[] strings(final String name)
    {
        return (String[])columns.get(indexOf(name));
    }

    /**
     * @param name a LONG column.
     * @return its values (the array itself, not a copy).
     */
    public long[] longs(final String name)
    {
        return (long[])columns.get(indexOf(name));
    }

    /**
     * @param name a DOUBLE column.
     * @return its values (the array itself, not a copy).
     */
    public double[] doubles(final String name)
    {
        return (double[])columns.get(indexOf(name));
    }

    Object column(final int index)
    {
        return columns.get(index);
    }

    private int indexOf(final String name)
    {
        final int index = names.indexOf(name);
        if (index < 0)
        {
            throw new IllegalArgumentException("no column named '" + name + "' in " + names);
        }
        return index;
    }

    @Override
    public boolean equals(final Object o)
    {
        if (!(o instanceof ColumnarTable))
        {
            return false;
        }
        final ColumnarTable other = (ColumnarTable)o;
        if (!names.equals(other.names) || rows != other.rows)
        {
            return false;
        }
        for (int i = 0; i < columns.size(); i++)
        {
            final Object a = columns.get(i);
            final Object b = other.columns.get(i);
            final boolean same;
            if (a instanceof long[])
            {
                same = b instanceof long[] && java.util.Arrays.equals((long[])a, (long[])b);
            }
            else if (a instanceof double[])
            {
                same = b instanceof double[] && java.util.Arrays.equals((double[])a, (double[])b);
            }
            else
            {
                same = b instanceof String[] && java.util.Arrays.equals((String[])a, (String[])b);
            }
            if (!same)
            {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode()
    {
        return Objects.hash(names, rows);
    }

    @Override
    public String toString()
    {
        return "ColumnarTable" + names + " x " + rows + " rows";
    }

    /**
     * Builds a {@link ColumnarTable}; every column must have the same length.
     */
    public static final class Builder
    {
        private final List<String> names = new ArrayList<>();
        private final List<Object> columns = new ArrayList<>();
        private int rows = -1;

        /**
         * @param name   unique column name.
         * @param values values (kept, not copied).
         * @return this builder.
         */
        public Builder addLong(final String name, final long[] values)
        {
            return add(name, values, values.length);
        }

        /**
         * @param name   unique column name.
         * @param values values (kept, not copied).
         * @return this builder.
         */
        public Builder addDouble(final String name, final double[] values)
        {
            return add(name, values, values.length);
        }

        /**
         * @param name   unique column name.
         * @param values values, none null (kept, not copied).
         * @return this builder.
         */
        public Builder addString(final String name, final String[] values)
        {
            for (int i = 0; i < values.length; i++)
            {
                if (values[i] == null)
                {
                    throw new IllegalArgumentException("column '" + name + "' has a null at row " + i);
                }
            }
            return add(name, values, values.length);
        }

        private Builder add(final String name, final Object values, final int length)
        {
            Objects.requireNonNull(name, "name");
            if (names.contains(name))
            {
                throw new IllegalArgumentException("duplicate column '" + name + "'");
            }
            if (rows >= 0 && length != rows)
            {
                throw new IllegalArgumentException(
                    "column '" + name + "' has " + length + " rows, the table has " + rows);
            }
            rows = length;
            names.add(name);
            columns.add(values);
            return this;
        }

        /**
         * @return the table.
         */
        public ColumnarTable build()
        {
            return new ColumnarTable(new ArrayList<>(names), new ArrayList<>(columns), Math.max(rows, 0));
        }
    }
}
