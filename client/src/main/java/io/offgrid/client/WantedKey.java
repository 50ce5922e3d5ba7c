package io.offgrid.client;

import java.util.concurrent.CompletableFuture;

/**
 * One client's want of one key: every {@link GridFuture} for the key on this client shares it and counts in
 * {@link #count}. Guarded by the client's want table lock.
 */
final class WantedKey
{
    final String key;
    int count;
    FutureStatus status = FutureStatus.PENDING;
    private Throwable error;
    /** CANCELLED or LOST: the scheduler's reason. The exception is made when someone asks for it. */
    private String reason;
    CompletableFuture<Void> done = new CompletableFuture<>();
    /** Local block holding the result the scheduler sent inline, or null: read without a fetch. */
    String inline;
    /** Messages that made the scheduler count this client as a wanter (a submit, a scatter): 1 for most keys. */
    int wantsSent;

    WantedKey(final String key)
    {
        this.key = key;
    }

    void update(final FutureStatus newStatus, final Throwable newError)
    {
        if (newStatus == FutureStatus.PENDING)
        {
            if (status != FutureStatus.PENDING)
            {
                done = new CompletableFuture<>();
            }
            status = FutureStatus.PENDING;
            error = null;
            reason = null;
            return;
        }
        status = newStatus;
        error = newError;
        reason = null;
        done.complete(null);
    }

    /**
     * A cancelled or lost key: its exception is made on demand, so cancelling 20,000 futures fills no 20,000 stack
     * traces on the client's agent thread.
     */
    void updateWithReason(final FutureStatus newStatus, final String newReason)
    {
        update(newStatus, null);
        reason = newReason;
    }

    /**
     * Whether the scheduler has dropped this client's want, so a release has nothing to undo there and is not sent (a
     * 20,000-future cancel then costs no 20,000 releases). Only the scheduler cancels a key (told, or marked by the
     * client after the round trip of its own cancel), and it drops the want of every client it cancels it for. With
     * one want ever sent, and sent before, nothing can have restored it; with more, one may be on its way. Any later
     * status proves the want is back (the scheduler reports only to wanters), and ends CANCELLED.
     *
     * @return true when the release need not be sent.
     */
    boolean schedulerDropped()
    {
        return status == FutureStatus.CANCELLED && wantsSent == 1;
    }

    /** @return the failure, if the key failed (made now for a cancelled or lost key). */
    Throwable error()
    {
        if (null == error && null != reason)
        {
            error = status == FutureStatus.CANCELLED ?
                new java.util.concurrent.CancellationException(reason) : new GridException(reason);
        }
        return error;
    }
}
