package io.offgrid.client;

/**
 * Options of {@link Client#submit} and {@link Client#map}. Mutable builder; defaults: a generated key, any
 * worker, priority 0, no retries, pure.
 */
public final class SubmitOptions
{
    String key;
    long[] workers;
    boolean allowOtherWorkers;
    int priority;
    int retries;
    boolean pure = true;

    /**
     * @return fresh default options.
     */
    public static SubmitOptions options()
    {
        return new SubmitOptions();
    }

    /**
     * @param key the task's key (for {@code map}, a prefix; each item's key is prefix-index).
     * @return this.
     */
    public SubmitOptions key(final String key)
    {
        this.key = key;
        return this;
    }

    /**
     * @param workerIds workers the task may run on.
     * @return this.
     */
    public SubmitOptions workers(final long... workerIds)
    {
        this.workers = workerIds.clone();
        return this;
    }

    /**
     * @param allow whether other workers may run it when the named ones cannot.
     * @return this.
     */
    public SubmitOptions allowOtherWorkers(final boolean allow)
    {
        this.allowOtherWorkers = allow;
        return this;
    }

    /**
     * @param priority higher runs first.
     * @return this.
     */
    public SubmitOptions priority(final int priority)
    {
        this.priority = priority;
        return this;
    }

    /**
     * @param retries how many times a throwing task is run again before its future fails (0..127).
     * @return this.
     */
    public SubmitOptions retries(final int retries)
    {
        if (retries < 0 || retries > 127)
        {
            throw new IllegalArgumentException("retries must be in 0..127: " + retries);
        }
        this.retries = retries;
        return this;
    }

    /**
     * Pure tasks (the default) are named by their function and arguments, so submitting the same call twice
     * gives the same key and runs once; impure tasks get a fresh key each time.
     *
     * @param pure whether the function is pure.
     * @return this.
     */
    public SubmitOptions pure(final boolean pure)
    {
        this.pure = pure;
        return this;
    }
}
