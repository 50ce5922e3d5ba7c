package io.offgrid.scheduler;

/**
 * The states of a task record and the single table of allowed transitions between them.
 * <p>
 * Every state change in the {@link Scheduler} goes through {@link #canTransitionTo(TaskState)}; an edge not in
 * the table is a scheduler bug and fails loudly with an {@link IllegalStateException}.
 * <pre>
 * RELEASED   -&gt; WAITING, MEMORY (scattered / late data), ERRED (no lineage), FORGOTTEN
 * WAITING    -&gt; QUEUED, NO_WORKER, PROCESSING, RELEASED, ERRED
 * QUEUED     -&gt; PROCESSING, RELEASED
 * NO_WORKER  -&gt; PROCESSING, RELEASED
 * PROCESSING -&gt; MEMORY, ERRED, RELEASED
 * MEMORY     -&gt; RELEASED
 * ERRED      -&gt; RELEASED
 * FORGOTTEN  -&gt; (none: the record is gone)
 * </pre>
 * Moving a processing task from one worker to another (stealing) is not a state change.
 */
public enum TaskState
{
    /** Known (lineage kept) but neither computed nor needed. */
    RELEASED,
    /** Needed; waiting for dependencies to reach memory. */
    WAITING,
    /** A ready root task held on the scheduler until a worker has a free slot. */
    QUEUED,
    /** Ready, but no worker may run it now (none alive, all paused, or restrictions). */
    NO_WORKER,
    /** Sent to a worker to compute. */
    PROCESSING,
    /** The result lives on at least one worker. */
    MEMORY,
    /** Failed (or lost, for scattered data): the error is kept while wanted. */
    ERRED,
    /** The record is gone. */
    FORGOTTEN;

    private static final TaskState[] VALUES = values();
    private static final boolean[][] EDGES = new boolean[VALUES.length][VALUES.length];

    static
    {
        edges(RELEASED, WAITING, MEMORY, ERRED, FORGOTTEN);
        edges(WAITING, QUEUED, NO_WORKER, PROCESSING, RELEASED, ERRED);
        edges(QUEUED, PROCESSING, RELEASED);
        edges(NO_WORKER, PROCESSING, RELEASED);
        edges(PROCESSING, MEMORY, ERRED, RELEASED);
        edges(MEMORY, RELEASED);
        edges(ERRED, RELEASED);
    }

    private static void edges(final TaskState from, final TaskState... to)
    {
        for (final TaskState t : to)
        {
            EDGES[from.ordinal()][t.ordinal()] = true;
        }
    }

    /**
     * Whether the transition table allows moving from this state to {@code next}.
     *
     * @param next the target state.
     * @return true if the edge exists.
     */
    public boolean canTransitionTo(final TaskState next)
    {
        return EDGES[ordinal()][next.ordinal()];
    }

    /**
     * Whether a task in this state is still to run, so that it counts as a waiter on its dependencies.
     *
     * @return true for WAITING, QUEUED, NO_WORKER and PROCESSING.
     */
    public boolean isActive()
    {
        return this == WAITING || this == QUEUED || this == NO_WORKER || this == PROCESSING;
    }

    static TaskState of(final int ordinal)
    {
        return VALUES[ordinal];
    }
}
