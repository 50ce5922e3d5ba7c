package io.offgrid.memory;

/**
 * A block does not fit in the store's memory limit even after spilling everything spillable. The
 * store is unchanged by the failed call.
 */
public final class MemoryLimitExceededException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final String key;
    private final long size;
    private final long limit;

    /**
     * @param key   the key being stored.
     * @param size  bytes it needs.
     * @param limit the store's limit.
     * @param inUse bytes held by blocks that cannot be spilled now (in use or being written).
     */
    public MemoryLimitExceededException(final String key, final long size, final long limit, final long inUse)
    {
        super("block '" + key + "' of " + size + " bytes does not fit the memory limit of " + limit +
            " bytes (" + inUse + " bytes in memory cannot be spilled now)");
        this.key = key;
        this.size = size;
        this.limit = limit;
    }

    /**
     * @return the key being stored.
     */
    public String key()
    {
        return key;
    }

    /**
     * @return bytes the block needed.
     */
    public long size()
    {
        return size;
    }

    /**
     * @return the store's memory limit.
     */
    public long limit()
    {
        return limit;
    }
}
