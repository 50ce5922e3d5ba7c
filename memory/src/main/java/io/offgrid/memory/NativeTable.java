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
            NativeMemory.free(address);
            address = 0;
        }
    }
}
