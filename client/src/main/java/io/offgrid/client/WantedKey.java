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
    Throwable error;
    CompletableFuture<Void> done = new CompletableFuture<>();
    /** Local block holding the result the scheduler sent inline, or null: read without a fetch. */
    String inline;

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
            return;
        }
        status = newStatus;
        error = newError;
        done.complete(null);
    }
}
