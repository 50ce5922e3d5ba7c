package io.offgrid.client;

import java.lang.ref.Cleaner;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A reference to a result in cluster memory. While any future for a key is alive on a client, the client
 * wants the key and the cluster keeps it. Many future objects for one key count as one want; the want ends
 * when the last of them is {@link #release() released} or garbage-collected (a {@link Cleaner}, like
 * Python's {@code del}), and the scheduler then frees the data unless something else holds it.
 *
 * @param <T> the result type.
 */
public final class GridFuture<T> implements AutoCloseable
{
    private static final Cleaner CLEANER = Cleaner.create();

    private final Client client;
    private final WantedKey want;
    private final Release release;
    private final Cleaner.Cleanable cleanable;
    private volatile boolean released;

    GridFuture(final Client client, final WantedKey want)
    {
        this.client = client;
        this.want = want;
        this.release = new Release(client, want);
        this.cleanable = CLEANER.register(this, release);
    }

    /**
     * Ends this future's share of the want once, whoever comes first: {@link #release()}, a batch release or the
     * Cleaner. Must not refer to the future, or it would never become unreachable.
     */
    private static final class Release extends AtomicBoolean implements Runnable
    {
        private final Client client;
        private final WantedKey want;

        Release(final Client client, final WantedKey want)
        {
            this.client = client;
            this.want = want;
        }

        boolean claim()
        {
            return compareAndSet(false, true);
        }

        public void run()
        {
            if (claim())
            {
                client.release(want);
            }
        }
    }

    /**
     * For {@link Client#release(java.util.Collection)}: mark this future released and hand back its want for the
     * caller to release with others, or null if it was released already.
     */
    WantedKey releaseForBatch()
    {
        released = true;
        final boolean mine = release.claim();
        cleanable.clean(); // unregisters; the action finds the want claimed and does nothing
        return mine ? want : null;
    }

    /**
     * @return the key this future points to.
     */
    public String key()
    {
        return want.key;
    }

    /**
     * @return the last status the scheduler reported.
     */
    public FutureStatus status()
    {
        return client.status(want);
    }

    /**
     * @return whether the status is anything but PENDING.
     */
    public boolean isDone()
    {
        return status() != FutureStatus.PENDING;
    }

    /**
     * The failure: a {@link RemoteTaskException} for ERROR, a {@link CancellationException} for CANCELLED, a
     * {@link GridException} for LOST or a lost scheduler; null otherwise.
     *
     * @return the failure or null.
     */
    public Throwable exception()
    {
        return client.error(want);
    }

    /**
     * Wait for the result and bring it to this JVM (the client's default request timeout).
     *
     * @return the value.
     * @throws RemoteTaskException   if the task threw.
     * @throws CancellationException if it was cancelled.
     * @throws GridException         if it was lost, the scheduler is gone, or the timeout passed.
     */
    public T get()
    {
        return get(client.requestTimeoutNs(), TimeUnit.NANOSECONDS);
    }

    /**
     * Wait for the result and bring it to this JVM.
     *
     * @param timeout how long to wait.
     * @param unit    its unit.
     * @return the value.
     */
    public T get(final long timeout, final TimeUnit unit)
    {
        checkLive();
        return client.fetch(want, unit.toNanos(timeout));
    }

    /**
     * Wait until the future is done, without fetching its value.
     *
     * @param timeout how long to wait.
     * @param unit    its unit.
     * @return this.
     * @throws GridException if the timeout passed.
     */
    public GridFuture<T> await(final long timeout, final TimeUnit unit)
    {
        checkLive();
        client.awaitDone(want, unit.toNanos(timeout));
        return this;
    }

    /**
     * Cancel this key and everything that depends on it (only for this client if others want it).
     */
    public void cancel()
    {
        cancel(false);
    }

    /**
     * @param force cancel even if other clients want the key.
     */
    public void cancel(final boolean force)
    {
        checkLive();
        client.cancel(java.util.List.of(this), force);
    }

    /**
     * Drop this reference. When it was the client's last future for the key, the scheduler is told and frees
     * the data unless something else holds it. Idempotent.
     */
    public void release()
    {
        released = true;
        cleanable.clean();
    }

    /**
     * The same as {@link #release()}.
     */
    @Override
    public void close()
    {
        release();
    }

    /**
     * @return whether this reference was released.
     */
    public boolean isReleased()
    {
        return released;
    }

    /**
     * A CompletableFuture that completes with the value (fetched once the key is done) or the failure. This
     * future must stay referenced (not released) until it completes.
     *
     * @return a new CompletableFuture.
     */
    public CompletableFuture<T> toCompletableFuture()
    {
        checkLive();
        final CompletableFuture<T> result = new CompletableFuture<>();
        client.doneFuture(want).whenCompleteAsync((v, t) ->
        {
            try
            {
                result.complete(get());
            }
            catch (final Throwable ex)
            {
                result.completeExceptionally(ex);
            }
        });
        return result;
    }

    WantedKey want()
    {
        return want;
    }

    Client client()
    {
        return client;
    }

    private void checkLive()
    {
        if (released)
        {
            throw new IllegalStateException("future for '" + want.key + "' was released");
        }
    }

    @Override
    public String toString()
    {
        return "GridFuture{" + want.key + ", " + status() + "}";
    }
}
