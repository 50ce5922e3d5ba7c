package io.offgrid.perf.scheduler;

import io.offgrid.scheduler.CommandSink;
import io.offgrid.scheduler.ComputeTask;
import io.offgrid.scheduler.KeyStatus;
import io.offgrid.scheduler.Scheduler;

/**
 * A zero-allocation fake cluster for the scheduler benchmarks: compute commands and client notifications are
 * queued in preallocated rings; {@link #drain} plays workers that finish every task at once and a client that
 * releases each wanted key as soon as it is in memory.
 */
final class FakeCluster implements CommandSink
{
    static final long CLIENT = 1;

    private final long[] computeWorker;
    private final String[] computeKey;
    private final String[] releaseKey;
    private final int mask;
    private long computeHead;
    private long computeTail;
    private long releaseHead;
    private long releaseTail;
    long frees;
    long finished;

    FakeCluster(final int capacityPowerOfTwo)
    {
        final int capacity = Integer.highestOneBit(capacityPowerOfTwo - 1) << 1;
        mask = capacity - 1;
        computeWorker = new long[capacity];
        computeKey = new String[capacity];
        releaseKey = new String[capacity];
    }

    /**
     * Run the cluster until no work is left.
     *
     * @param s the scheduler.
     */
    void drain(final Scheduler s)
    {
        while (true)
        {
            if (computeHead < computeTail)
            {
                final int i = (int)(computeHead++ & mask);
                final String key = computeKey[i];
                computeKey[i] = null;
                finished++;
                s.taskFinished(computeWorker[i], key, 8, null, 0);
            }
            else if (releaseHead < releaseTail)
            {
                final int i = (int)(releaseHead++ & mask);
                final String key = releaseKey[i];
                releaseKey[i] = null;
                s.releaseKey(CLIENT, key);
            }
            else
            {
                return;
            }
        }
    }

    /**
     * Finish every computed task but keep every result wanted (client notifications are dropped).
     *
     * @param s the scheduler.
     */
    void finishWithoutRelease(final Scheduler s)
    {
        while (computeHead < computeTail)
        {
            final int i = (int)(computeHead++ & mask);
            final String key = computeKey[i];
            computeKey[i] = null;
            s.taskFinished(computeWorker[i], key, 8, null, 0);
        }
        while (releaseHead < releaseTail)
        {
            releaseKey[(int)(releaseHead++ & mask)] = null;
        }
    }

    public void computeTask(final long workerId, final ComputeTask task)
    {
        if (computeTail - computeHead > mask)
        {
            throw new IllegalStateException("compute ring full");
        }
        final int i = (int)(computeTail++ & mask);
        computeWorker[i] = workerId;
        computeKey[i] = task.key();
    }

    public void cancelCompute(final long workerId, final String key)
    {
    }

    public void freeKey(final long workerId, final String key)
    {
        frees++;
    }

    public void copyKey(final String key, final long fromWorkerId, final long toWorkerId)
    {
    }

    public void dropReplica(final long workerId, final String key)
    {
    }

    public void keyStatus(final long clientId, final String key, final KeyStatus status, final String message)
    {
        if (status == KeyStatus.MEMORY)
        {
            if (releaseTail - releaseHead > mask)
            {
                throw new IllegalStateException("release ring full");
            }
            releaseKey[(int)(releaseTail++ & mask)] = key;
        }
    }

    public void restartWorker(final long workerId)
    {
    }
}
