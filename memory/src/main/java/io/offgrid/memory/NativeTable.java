package io.offgrid.memory;

import io.offgrid.memory.internal.NativeMemory;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A columnar table (the {@link TableView} layout) in native memory this object owns: what the
 * {@link TableOps} kernels produce. Storing it in a {@link BlockStore} copies it once into the block;
 * {@link #close()} frees it. Not thread-safe.
 */
public final class NativeTable implements AutoCloseable
{
    private long address;
    private final int length;
    private final UnsafeBuffer buffer;
    private final TableView view = new TableView();

    NativeTable(final int length)
    {
        this.address = NativeMemory.allocate(Math.max(length, 8));
        this.length = length;
        this.buffer = new UnsafeBuffer(address, length);
    }

    /**
     * Copy a table out of any buffer (a block's payload, say) into memory owned by the result.
     *
     * @param source the buffer.
     * @param offset where the table starts.
     * @param length its length.
     * @return the copy.
     * @throws CodecException if the bytes are not a well-formed table.
     */
    public static NativeTable copyOf(final DirectBuffer source, final int offset, final int length)
    {
        new TableView().wrap(source, offset, length);
        final NativeTable table = new NativeTable(length);
        source.getBytes(offset, table.buffer, 0, length);
        table.view.wrap(table.buffer, 0, length);
        return table;
    }

    /**
     * An empty table of {@code rows} rows laid out for the given columns, to be filled column by
     * column in place (a generator or a parser writing straight into native memory).
     *
     * @param names       column names.
     * @param types       column types.
     * @param rows        row count.
     * @param stringBytes UTF-8 bytes of each STRING column (ignored for LONG and DOUBLE), or null.
     * @return the table; close it when done.
     * @throws IllegalArgumentException if it would exceed 2 GiB.
     */
    public static NativeTable allocate(
        final String[] names, final ColumnType[] types, final int rows, final long[] stringBytes)
    {
        final long[] strings = null == stringBytes ? new long[names.length] : stringBytes;
        final long length = TableView.encodedLength(names, types, rows, strings);
        if (length > Integer.MAX_VALUE - BlockStore.HEADER_LENGTH)
        {
            throw new IllegalArgumentException("table of " + length + " bytes exceeds 2 GiB");
        }
        final NativeTable out = new NativeTable((int)length);
        TableView.layout(names, types, rows, strings, out.mutableBuffer(), 0);
        out.sealed();
        return out;
    }

    /**
     * @param column column index.
     * @return the native address of the column's data (LONG/DOUBLE: rows x 8 bytes).
     */
    public long columnAddress(final int column)
    {
        checkOpen();
        return address + view.columnOffset(column);
    }

    void sealed()
    {
        view.wrap(buffer, 0, length);
    }

    UnsafeBuffer mutableBuffer()
    {
        return buffer;
    }

    /**
     * @return a view of the table.
     * @throws IllegalStateException once closed.
     */
    public TableView view()
    {
        checkOpen();
        return view;
    }

    /**
     * @return encoded length in bytes.
     */
    public int length()
    {
        return length;
    }

    /**
     * @return the table's bytes as a buffer.
     */
    public DirectBuffer buffer()
    {
        checkOpen();
        return buffer;
    }

    /**
     * Copy onto the heap.
     *
     * @return the table as a heap value.
     */
    public ColumnarTable toColumnarTable()
    {
        checkOpen();
        return new BuiltinCodecs.TableCodec().decode(buffer, 0, length);
    }

    private void checkOpen()
    {
        if (address == 0)
        {
            throw new IllegalStateException("native table is closed");
        }
    }

    /**
     * Free the memory; idempotent.
     */
    @Override
    public void close()
    {
        if (address != 0)
        {
            NativeMemory.free(address, Math.max(length, 8));
            address = 0;
        }
    }
}
