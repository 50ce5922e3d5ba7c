package io.offgrid.scheduler;

/**
 * What the scheduler tells a client about a key it wants (see {@link CommandSink#keyStatus}).
 * These map onto a client future's states: MEMORY to FINISHED, ERRED to ERROR, CANCELLED, LOST, and PENDING
 * back to PENDING.
 */
public enum KeyStatus
{
    /** The result is in cluster memory. */
    MEMORY,
    /** The task (or one of its dependencies) failed; the message carries the error. */
    ERRED,
    /** The key was cancelled (by a client, or by restart). */
    CANCELLED,
    /** Scattered data whose last copy is gone; it has no lineage to recompute from. */
    LOST,
    /** A result that was in memory has lost its last copy and is being recomputed from lineage. */
    PENDING
}
