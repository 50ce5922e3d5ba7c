package io.offgrid.transport;

import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * The bounded queue behind {@link TransportNode#execute}: many threads offer, the agent thread polls. When it is
 * full another thread waits for room (back pressure) up to a timeout, then is refused with a
 * {@link TransportException}; the agent thread is refused at once, since it would be waiting for itself.
 */
final class CommandQueue
{
    private final ManyToOneConcurrentArrayQueue<Runnable> queue;
    private final long timeoutNs;
    private final long nodeId;
    private final TransportCounters counters;
    /** The thread that last polled: the agent. Written by that thread only, so it reads its own writes. */
    private Thread consumer;
    /** For a node whose cycle several threads run (a group, SharedDuty): whether the caller runs it now, or null. */
    private final BooleanSupplier callerPolls;

    /**
     * @param callerPolls null for a node only its own thread runs (the last thread to poll is the agent); else
     *                    whether the calling thread runs the node's cycle now: other threads run it too
     *                    ({@link SharedDuty}), so the last poller says nothing about the next.
     */
    CommandQueue(final int capacity, final long timeoutNs, final long nodeId, final TransportCounters counters,
        final BooleanSupplier callerPolls)
    {
        this.queue = new ManyToOneConcurrentArrayQueue<>(capacity);
        this.timeoutNs = timeoutNs;
        this.nodeId = nodeId;
        this.counters = counters;
        this.callerPolls = callerPolls;
    }

    private boolean callerIsConsumer()
    {
        return null != callerPolls ? callerPolls.getAsBoolean() : Thread.currentThread() == consumer;
    }

    /** @return slots, the configured capacity rounded up to a power of two. */
    int capacity()
    {
        return queue.capacity();
    }

    void offer(final Runnable command)
    {
        if (null == command)
        {
            throw new NullPointerException("command");
        }
        if (queue.offer(command))
        {
            return;
        }
        if (!callerIsConsumer() && timeoutNs > 0)
        {
            final IdleStrategy idle = new BackoffIdleStrategy(
                10, 20, TimeUnit.MICROSECONDS.toNanos(10), TimeUnit.MILLISECONDS.toNanos(1));
            final long deadline = System.nanoTime() + timeoutNs;
            do
            {
                idle.idle();
                if (queue.offer(command))
                {
                    return;
                }
            }
            while (System.nanoTime() - deadline < 0);
        }
        counters.commandRejected();
        throw new TransportException("node " + nodeId + ": command queue full (" + queue.capacity() + " commands" +
            (callerIsConsumer() ? ", offered by the agent thread itself" :
            ", waited " + TimeUnit.NANOSECONDS.toMillis(timeoutNs) + " ms") + "): the node's agent is not keeping up or not running");
    }

    Runnable poll()
    {
        consumer = Thread.currentThread();
        return queue.poll();
    }
}
