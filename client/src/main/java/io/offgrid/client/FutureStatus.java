package io.offgrid.client;

/**
 * The state of a {@link GridFuture}, as the scheduler last reported it.
 */
public enum FutureStatus
{
    /** Not finished yet (or being recomputed after its holder died). */
    PENDING,
    /** The result is in cluster memory. */
    FINISHED,
    /** The task, or one it depends on, threw: {@link GridFuture#exception()} says why. */
    ERROR,
    /** Cancelled by a client or by restart. */
    CANCELLED,
    /** Scattered data whose last copy is gone; it has no lineage to recompute from. */
    LOST
}
