package io.offgrid.memory;

/**
 * Memory set aside for a block that arrives as raw bytes (from a peer or another process): fill
 * {@link #length()} bytes at {@link #address()} with a whole block, header included, then
 * {@link #commit()}. Closing without committing gives the memory back. Used by one thread.
 */
public final class BlockReservation implements AutoCloseable
{
    private final BlockStore store;
    private final StoredBlock block;
    private boolean done;

    BlockReservation(final BlockStore store, final StoredBlock block)
    {
        this.store = store;
        this.block = block;
    }

    /**
     * @return the key the block will be stored under.
     */
    public String key()
    {
        return block.key;
    }

    /**
     * @return where to write the block.
     */
    public long address()
    {
        return block.address;
    }

    /**
     * @return bytes to write: the whole block, header included.
     */
    public long length()
    {
        return block.length;
    }

    /**
     * Check the block's CRC32C (when its header carries one) and store it under its key,
     * replacing any block stored there.
     *
     * @throws CorruptBlockException if the bytes do not match their checksum; nothing is stored.
     */
    public void commit()
    {
        if (done)
        {
            throw new IllegalStateException("reservation for '" + block.key + "' already finished");
        }
        done = true;
        store.commitReceived(block, "a received block");
    }

    /**
     * Give the memory back unless committed.
     */
    @Override
    public void close()
    {
        if (!done)
        {
            done = true;
            store.abandon(block);
        }
    }
}
