package io.offgrid.memory;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;

import java.nio.charset.StandardCharsets;

/**
 * Flyweight over a columnar table block: named columns of longs, doubles and strings, all of one
 * length, each laid out contiguously and 8-byte aligned so a task reads a column in a tight loop
 * straight from native memory. Re-wrap it to read another table; it copies nothing.
 *
 * <p>Layout, little-endian, offsets relative to the table's start:
 * <pre>
 *   0  int  magic 'OGTB'
 *   4  int  column count (c)
 *   8  long row count (r)
 *  16  c x { int type code, int name length, long data offset }
 *      column names, UTF-8, back to back
 *      padding to 8, then each column's data at its data offset, 8-aligned:
 *        LONG, DOUBLE: r x 8 bytes
 *        STRING:       r + 1 longs (offsets into the bytes that follow, first 0), then UTF-8 bytes
 * </pre>
 * {@link #layout} writes the header of an empty table so results can be produced off-heap column
 * by column.
 */
public final class TableView
{
    static final int MAGIC = 0x4254474F; // "OGTB" read as little-endian bytes
    private static final int HEADER = 16;
    private static final int DESCRIPTOR = 16;

    private DirectBuffer buffer;
    private int offset;
    private int columnCount;
    private long rowCount;
    private String[] names = new String[0];
    private byte[] types = new byte[0];
    private int[] dataOffsets = new int[0];

    /**
     * Wrap a table encoded at {@code offset}, checking every length against {@code length}.
     *
     * @param buffer the buffer holding the table (a block's payload).
     * @param offset where the table starts.
     * @param length bytes the table may span.
     * @return this view.
     * @throws CodecException if the bytes are not a well-formed table.
     */
    public TableView wrap(final DirectBuffer buffer, final int offset, final int length)
    {
        if (length < HEADER || buffer.getInt(offset) != MAGIC)
        {
            throw new CodecException("not a columnar table block (bad magic or length " + length + ")");
        }
        final int columns = buffer.getInt(offset + 4);
        final long rows = buffer.getLong(offset + 8);
        if (columns < 0 || rows < 0 || rows > Integer.MAX_VALUE / 8 ||
            (long)HEADER + (long)columns * DESCRIPTOR > length)
        {
            throw new CodecException("malformed table header: columns=" + columns + " rows=" + rows);
        }
        final String[] columnNames = names.length >= columns ? names : new String[columns];
        final byte[] columnTypes = types.length >= columns ? types : new byte[columns];
        final int[] columnData = dataOffsets.length >= columns ? dataOffsets : new int[columns];
        long nameCursor = HEADER + (long)columns * DESCRIPTOR;
        for (int i = 0; i < columns; i++)
        {
            final int d = offset + HEADER + i * DESCRIPTOR;
            final ColumnType type = ColumnType.fromCode(buffer.getInt(d));
            final int nameLength = buffer.getInt(d + 4);
            final long dataOffset = buffer.getLong(d + 8);
            if (nameLength < 0 || nameCursor + nameLength > length)
            {
                throw new CodecException("malformed table: column " + i + " name runs past the block");
            }
            final long fixed = type == ColumnType.STRING ? (rows + 1) * 8 : rows * 8;
            if (dataOffset < 0 || (dataOffset & 7) != 0 || dataOffset + fixed > length)
            {
                throw new CodecException("malformed table: column " + i + " data runs past the block");
            }
            if (type == ColumnType.STRING)
            {
                final long bytes = buffer.getLong(offset + (int)(dataOffset + rows * 8));
                if (buffer.getLong(offset + (int)dataOffset) != 0 || bytes < 0 || dataOffset + fixed + bytes > length)
                {
                    throw new CodecException("malformed table: string column " + i + " runs past the block");
                }
            }
            columnNames[i] = buffer.getStringWithoutLengthUtf8(offset + (int)nameCursor, nameLength);
            columnTypes[i] = (byte)type.code();
            columnData[i] = offset + (int)dataOffset;
            nameCursor += nameLength;
        }
        this.names = columnNames;
        this.types = columnTypes;
        this.dataOffsets = columnData;
        this.buffer = buffer;
        this.offset = offset;
        this.columnCount = columns;
        this.rowCount = rows;
        return this;
    }

    /**
     * @return the number of columns.
     */
    public int columnCount()
    {
        return columnCount;
    }

    /**
     * @return the number of rows, equal for every column.
     */
    public int rowCount()
    {
        return (int)rowCount;
    }

    /**
     * @param column column index.
     * @return its name.
     */
    public String columnName(final int column)
    {
        checkColumn(column);
        return names[column];
    }

    /**
     * @param column column index.
     * @return its type.
     */
    public ColumnType columnType(final int column)
    {
        checkColumn(column);
        return ColumnType.fromCode(types[column]);
    }

    /**
     * @param name a column name.
     * @return its index, or -1 if the table has no such column.
     */
    public int columnIndex(final String name)
    {
        for (int i = 0; i < columnCount; i++)
        {
            if (names[i].equals(name))
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * Offset of a column's data in {@link #buffer()}: for LONG and DOUBLE value {@code r} is at
     * {@code columnOffset(c) + 8 * r}; for STRING this is where the offsets start. This is the entry
     * point for tight loops over a column.
     *
     * @param column column index.
     * @return the buffer offset.
     */
    public int columnOffset(final int column)
    {
        checkColumn(column);
        return dataOffsets[column];
    }

    /**
     * Bytes a column's data takes (for STRING, offsets and UTF-8 bytes together).
     *
     * @param column column index.
     * @return bytes.
     */
    public long columnLength(final int column)
    {
        checkColumn(column);
        if (types[column] == ColumnType.STRING.code())
        {
            return (rowCount + 1) * 8 + buffer.getLong(dataOffsets[column] + (int)rowCount * 8);
        }
        return rowCount * 8;
    }

    /**
     * @param column a LONG column.
     * @param row    row index.
     * @return the value.
     */
    public long getLong(final int column, final int row)
    {
        return buffer.getLong(columnOffset(column) + 8 * row);
    }

    /**
     * @param column a DOUBLE column.
     * @param row    row index.
     * @return the value.
     */
    public double getDouble(final int column, final int row)
    {
        return buffer.getDouble(columnOffset(column) + 8 * row);
    }

    /**
     * Decode one string onto the heap (for display; loops should compare bytes in place through
     * {@link #stringStart(int, int)} and {@link #stringLength(int, int)}).
     *
     * @param column a STRING column.
     * @param row    row index.
     * @return the value.
     */
    public String getString(final int column, final int row)
    {
        return buffer.getStringWithoutLengthUtf8(stringStart(column, row), stringLength(column, row));
    }

    /**
     * @param column a STRING column.
     * @param row    row index.
     * @return buffer offset of the row's UTF-8 bytes.
     */
    public int stringStart(final int column, final int row)
    {
        final int data = columnOffset(column);
        return data + (int)((rowCount + 1) * 8 + buffer.getLong(data + 8 * row));
    }

    /**
     * @param column a STRING column.
     * @param row    row index.
     * @return length in bytes of the row's UTF-8 bytes.
     */
    public int stringLength(final int column, final int row)
    {
        final int data = columnOffset(column);
        return (int)(buffer.getLong(data + 8 * (row + 1)) - buffer.getLong(data + 8 * row));
    }

    /**
     * @return the wrapped buffer.
     */
    public DirectBuffer buffer()
    {
        return buffer;
    }

    /**
     * @return offset of the table in {@link #buffer()}.
     */
    public int offset()
    {
        return offset;
    }

    private void checkColumn(final int column)
    {
        if (column < 0 || column >= columnCount)
        {
            throw new IndexOutOfBoundsException("column " + column + " of " + columnCount);
        }
    }

    /**
     * Encoded length of a table with numeric columns only.
     *
     * @param names column names.
     * @param rows  row count.
     * @return bytes.
     */
    public static long encodedLength(final String[] names, final long rows)
    {
        final ColumnType[] types = new ColumnType[names.length];
        java.util.Arrays.fill(types, ColumnType.LONG);
        return encodedLength(names, types, rows, null);
    }

    /**
     * Encoded length of a table.
     *
     * @param names       column names.
     * @param types       column types.
     * @param rows        row count.
     * @param stringBytes for each STRING column, its total UTF-8 bytes (other entries ignored); may
     *                    be null when there are no STRING columns.
     * @return bytes.
     */
    public static long encodedLength(
        final String[] names, final ColumnType[] types, final long rows, final long[] stringBytes)
    {
        long length = HEADER + (long)names.length * DESCRIPTOR;
        for (final String name : names)
        {
            length += name.getBytes(StandardCharsets.UTF_8).length;
        }
        length = align8(length);
        for (int i = 0; i < names.length; i++)
        {
            length += align8(dataLength(types[i], rows, stringBytes == null ? 0 : stringBytes[i]));
        }
        return length;
    }

    private static long dataLength(final ColumnType type, final long rows, final long stringBytes)
    {
        return type == ColumnType.STRING ? (rows + 1) * 8 + stringBytes : rows * 8;
    }

    /**
     * Write the header of a table at {@code offset}; the column data areas are left for the caller
     * to fill (find them with a {@link TableView} wrapped over the result). For STRING columns the
     * caller writes the rows + 1 offsets (first 0, last = the column's string bytes) and the bytes.
     *
     * @param names       column names, unique.
     * @param types       column types, one per name.
     * @param rows        row count.
     * @param stringBytes for each STRING column its UTF-8 byte total, or null if none.
     * @param buffer      destination, at least {@link #encodedLength} bytes.
     * @param offset      where the table starts.
     * @return bytes of the whole table.
     */
    public static int layout(
        final String[] names, final ColumnType[] types, final long rows, final long[] stringBytes,
        final MutableDirectBuffer buffer, final int offset)
    {
        if (names.length != types.length)
        {
            throw new IllegalArgumentException("names and types differ in length");
        }
        final long total = encodedLength(names, types, rows, stringBytes);
        if (total > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("table of " + total + " bytes exceeds 2 GiB: split it into partitions");
        }
        buffer.putInt(offset, MAGIC);
        buffer.putInt(offset + 4, names.length);
        buffer.putLong(offset + 8, rows);
        int nameCursor = HEADER + names.length * DESCRIPTOR;
        for (int i = 0; i < names.length; i++)
        {
            final byte[] name = names[i].getBytes(StandardCharsets.UTF_8);
            buffer.putBytes(offset + nameCursor, name);
            buffer.putInt(offset + HEADER + i * DESCRIPTOR, types[i].code());
            buffer.putInt(offset + HEADER + i * DESCRIPTOR + 4, name.length);
            nameCursor += name.length;
        }
        long data = align8(nameCursor);
        for (int i = 0; i < names.length; i++)
        {
            buffer.putLong(offset + HEADER + i * DESCRIPTOR + 8, data);
            if (types[i] == ColumnType.STRING)
            {
                buffer.putLong(offset + (int)data, 0);
                buffer.putLong(offset + (int)(data + rows * 8), stringBytes[i]);
            }
            data += align8(dataLength(types[i], rows, stringBytes == null ? 0 : stringBytes[i]));
        }
        return (int)total;
    }

    /**
     * Header of a numeric-only table; see {@link #layout(String[], ColumnType[], long, long[],
     * MutableDirectBuffer, int)}.
     *
     * @param names  column names.
     * @param types  LONG or DOUBLE per column.
     * @param rows   row count.
     * @param buffer destination.
     * @param offset where the table starts.
     * @return bytes of the whole table.
     */
    public static int layout(
        final String[] names, final ColumnType[] types, final long rows, final MutableDirectBuffer buffer,
        final int offset)
    {
        return layout(names, types, rows, null, buffer, offset);
    }

    static long align8(final long value)
    {
        return (value + 7) & ~7L;
    }
}
