package io.offgrid.transport;

import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A backoff idle strategy (spin, then yield, then park for a doubling time up to a maximum) that another thread
 * can cut short with {@link #wake()}.
 * <p>
 * Why: on a 2-core machine a node cannot spin, so it parks when idle; a plain park makes every hand-over from
 * another thread (an API call, a finished task) wait out the park plus the kernel's timer slack, ~60-100 µs
 * here. Waking the parked thread with {@link LockSupport#unpark(Thread)} hands over in a few microseconds, and
 * the node can afford to park longer when nothing arrives. Work that arrives on a socket cannot wake it, so
 * {@code maxParkNs} still bounds the latency of network input.
 * <p>
 * One thread idles on an instance (the first to call {@link #idle}); any thread may {@link #wake()} it. A wake
 * while the owner is busy leaves a permit, so its next park returns at once and the race between "found no
 * work" and "park" cannot lose a hand-over.
 */
public final class WakeableIdleStrategy implements IdleStrategy
{
    private static final int NOT_IDLE = 0;
    private static final int SPINNING = 1;
    private static final int YIELDING = 2;
    private static final int PARKING = 3;

    private final long maxSpins;
    private final long maxYields;
    private final long minParkNs;
    private final long maxParkNs;
    private volatile Thread owner;
    private int state = NOT_IDLE;
    private long spins;
    private long yields;
    private long parkNs;

    /**
     * @param maxSpins  busy spins before yielding.
     * @param maxYields yields before parking.
     * @param minParkNs first park, ns.
     * @param maxParkNs longest park, ns.
     */
    public WakeableIdleStrategy(final long maxSpins, final long maxYields, final long minParkNs, final long maxParkNs)
    {
        if (maxSpins < 0 || maxYields < 0 || minParkNs < 1 || maxParkNs < minParkNs)
        {
            throw new IllegalArgumentException("need spins, yields >= 0 and 1 <= minParkNs <= maxParkNs");
        }
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
        this.minParkNs = minParkNs;
        this.maxParkNs = maxParkNs;
    }

    /**
     * The default for a node on its own thread: 100 spins, 10 yields, then parks from 1 µs up to 50 µs (network
     * input waits at most one park; in-process hand-overs wake the node).
     *
     * @return a new strategy.
     */
    public static WakeableIdleStrategy forNode()
    {
        return new WakeableIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(50));
    }

    /**
     * Wake the idling thread, or make its next park return at once. Any thread; cheap when the owner is busy.
     */
    public void wake()
    {
        final Thread t = owner;
        if (null != t)
        {
            LockSupport.unpark(t);
        }
    }

    /** {@inheritDoc} */
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
        }
        else
        {
            idle();
        }
    }

    /** {@inheritDoc} */
    public void idle()
    {
        switch (state)
        {
            case NOT_IDLE:
                if (null == owner)
                {
                    owner = Thread.currentThread();
                }
                state = SPINNING;
                spins = 1;
                break;
            case SPINNING:
                Thread.onSpinWait();
                if (++spins > maxSpins)
                {
                    state = YIELDING;
                    yields = 0;
                }
                break;
            case YIELDING:
                if (++yields > maxYields)
                {
                    state = PARKING;
                    parkNs = minParkNs;
                }
                else
                {
                    Thread.yield();
                }
                break;
            default:
                LockSupport.parkNanos(parkNs);
                parkNs = Math.min(parkNs << 1, maxParkNs);
                break;
        }
    }

    /** {@inheritDoc} */
    public void reset()
    {
        state = NOT_IDLE;
    }

    /** {@inheritDoc} */
    public String alias()
    {
        return "wakeable-backoff";
    }

    @Override
    public String toString()
    {
        return "WakeableIdleStrategy{spins=" + maxSpins + ", yields=" + maxYields + ", minParkNs=" + minParkNs +
            ", maxParkNs=" + maxParkNs + '}';
    }
}
