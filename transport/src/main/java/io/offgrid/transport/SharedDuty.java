package io.offgrid.transport;

import org.agrona.ErrorHandler;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/**
 * A node's duty cycle that threads waiting on the node may run in place of its own thread, one thread at a time.
 * <p>
 * Why: on this project's 2-core VM a hand-over to a parked thread costs 25-45 µs, and a submit → result round trip
 * with process workers made six of them (client → cluster thread → worker agent → executor → worker agent → cluster
 * thread → client): 170-300 µs. A thread that waits for an answer the duty cycle will bring (a client in
 * {@code get()}, an executor waiting for its next task) runs the cycle itself: it finds the answer without a
 * hand-over, while the node's own thread sleeps instead of competing for a core. Two of the six hand-overs remain,
 * one each way between processes, and those meet a thread that is already running.
 * <p>
 * The duty is a lock: whoever holds it runs the node's code, so the node keeps one thread at a time, with the
 * lock's ordering between them. The owner's {@link #ownerCycle()} skips a cycle while a helper holds it and, while
 * any thread helps, waits up to {@link #OWNER_WAIT_NS} instead of polling for it; the last helper to leave wakes
 * it. A helper stops when its condition holds, when no work came for its budget, or at {@link #close()}; it never
 * runs a cycle inside another (a cycle that waits on the node runs no nested one).
 */
public final class SharedDuty
{
    /** How long the owner waits while others help before it looks again; the last helper wakes it sooner. */
    static final long OWNER_WAIT_NS = TimeUnit.MILLISECONDS.toNanos(1);

    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicInteger helpers = new AtomicInteger();
    private final IntSupplier cycle;
    private final Runnable wakeOwner;
    private final ErrorHandler errors;
    private volatile boolean closed;
    private volatile long helpedCycles;

    /**
     * @param cycle     one duty cycle of the node; returns its work count.
     * @param wakeOwner wakes the node's own thread (any thread may call it).
     * @param errors    where a helper's failed cycle is reported (the owner's go to its runner, as before).
     */
    public SharedDuty(final IntSupplier cycle, final Runnable wakeOwner, final ErrorHandler errors)
    {
        this.cycle = cycle;
        this.wakeOwner = wakeOwner;
        this.errors = errors;
    }

    /**
     * The owner thread's duty cycle: run the node's cycle unless a helper holds the duty. While any thread helps,
     * wait for it first (up to {@link #OWNER_WAIT_NS}, woken when the last helper leaves).
     *
     * @return the cycle's work, 0 if it did not run.
     */
    public int ownerCycle()
    {
        if (helpers.get() > 0)
        {
            LockSupport.parkNanos(this, OWNER_WAIT_NS);
            if (helpers.get() > 0)
            {
                return 0;
            }
        }
        if (!lock.tryLock())
        {
            return 0;
        }
        try
        {
            return closed ? 0 : cycle.getAsInt();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Run the node's cycles on the calling thread until {@code done} holds, no cycle has found work for
     * {@code idleBudgetNs}, {@code maxNs} have passed, the calling thread is interrupted, or the duty is closed.
     * Cycles another thread runs meanwhile are not waited for: the caller polls {@code done} between attempts.
     * <p>
     * An interrupted thread runs no cycle: Agrona's {@code AgentInvoker} stops a driver or Aeron client for good
     * when it finds its thread interrupted after a step with no work. The steps of a cycle shield themselves from
     * a flag set before they start (TransportNode); an interrupt that lands during one step is the remaining risk.
     *
     * @param done         checked before every cycle.
     * @param idleBudgetNs how long to go on without work.
     * @param maxNs        how long to go on at most (a caller's timeout).
     * @return whether {@code done} held when this returned or when the last cycle here ended.
     */
    public boolean helpUntil(final BooleanSupplier done, final long idleBudgetNs, final long maxNs)
    {
        if (closed || idleBudgetNs <= 0 || maxNs <= 0 || lock.isHeldByCurrentThread())
        {
            return done.getAsBoolean();
        }
        boolean answered = false;
        helpers.incrementAndGet();
        try
        {
            final long startNs = System.nanoTime();
            long lastWorkNs = startNs;
            final Thread self = Thread.currentThread();
            while (!(answered = done.getAsBoolean()) && !closed && !self.isInterrupted())
            {
                int work = 0;
                if (lock.tryLock())
                {
                    try
                    {
                        if (closed)
                        {
                            break;
                        }
                        work = helpedCycle();
                    }
                    finally
                    {
                        lock.unlock();
                    }
                }
                if (work < 0)
                {
                    break;
                }
                final long now = System.nanoTime();
                if (work > 0)
                {
                    lastWorkNs = now;
                }
                else if (now - lastWorkNs >= idleBudgetNs)
                {
                    break;
                }
                else
                {
                    Thread.onSpinWait();
                }
                if (now - startNs >= maxNs)
                {
                    break;
                }
            }
        }
        finally
        {
            if (0 == helpers.decrementAndGet())
            {
                wakeOwner.run();
            }
        }
        return answered || done.getAsBoolean(); // once true, true: the owner may run a cycle as soon as we leave
    }

    /** @return the cycle's work; 0 if it failed (reported); -1 after an Error (reported): stop helping. */
    private int helpedCycle()
    {
        helpedCycles++;
        try
        {
            return cycle.getAsInt();
        }
        catch (final RuntimeException ex)
        {
            // The owner's runner would report it and go on; so does a helper, whose caller waits for something else.
            errors.onError(ex);
            return 0;
        }
        catch (final Error ex)
        {
            errors.onError(ex); // reported where the owner's would be, not thrown into a caller's get()
            return -1;
        }
    }

    /**
     * @return whether some thread is running the cycles for the owner now. Work handed to the node then needs no
     * wake-up of the owner: a helper sees it in its next cycle, and the last helper to leave wakes the owner.
     */
    public boolean helping()
    {
        return helpers.get() > 0;
    }

    /** @return whether the calling thread is running a cycle now (the owner or a helper). */
    public boolean heldByCurrentThread()
    {
        return lock.isHeldByCurrentThread();
    }

    /** @return cycles run by threads other than the owner, since start; read under no lock (a monitoring figure). */
    public long helpedCycles()
    {
        return helpedCycles;
    }

    /** No cycle starts after this returns; one running finishes first. Any thread. */
    public void close()
    {
        lock.lock();
        try
        {
            closed = true;
        }
        finally
        {
            lock.unlock();
        }
    }
}
