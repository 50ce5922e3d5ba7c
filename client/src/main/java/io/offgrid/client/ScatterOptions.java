package io.offgrid.client;

/**
 * Options of {@link Client#scatter}: which workers may receive the data, whether every one of them gets a
 * copy, and whether keys are named by content. Default: any worker, one copy, content-hashed keys.
 */
public final class ScatterOptions
{
    long[] workers;
    boolean broadcast;
    boolean hash = true;

    /**
     * @return fresh default options.
     */
    public static ScatterOptions options()
    {
        return new ScatterOptions();
    }

    /**
     * @param workerIds the workers that may receive the data.
     * @return this.
     */
    public ScatterOptions workers(final long... workerIds)
    {
        this.workers = workerIds.clone();
        return this;
    }

    /**
     * @param broadcast every (allowed) worker gets a copy.
     * @return this.
     */
    public ScatterOptions broadcast(final boolean broadcast)
    {
        this.broadcast = broadcast;
        return this;
    }

    /**
     * @param hash name keys by a hash of their bytes (same data, same key); otherwise a fresh key each time.
     * @return this.
     */
    public ScatterOptions hash(final boolean hash)
    {
        this.hash = hash;
        return this;
    }
}
