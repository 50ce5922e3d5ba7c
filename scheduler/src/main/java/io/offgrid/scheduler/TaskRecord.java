package io.offgrid.scheduler;

import java.util.Arrays;

/**
 * One task's record. Kept small (about 130 bytes with compressed oops): one holder and one wanter are inline,
 * more spill into arrays; waiters are a count of active dependents maintained by the transition hooks.
 */
final class TaskRecord
{
    static final TaskRecord[] NO_TASKS = new TaskRecord[0];
    static final long NO_CLIENT = Long.MIN_VALUE;

    static final byte FLAG_ALLOW_OTHER = 1;
    static final byte FLAG_LOST = 2;
    static final byte FLAG_MARK = 4;
    /** Processing on a worker ahead of an input still computing there ({@code waitingOn} counts those inputs). */
    static final byte FLAG_AHEAD = 8;

    final String key;
    final long seq;
    byte[] function;
    TaskRecord[] dependencies = NO_TASKS;
    TaskRecord[] dependents = NO_TASKS;
    int dependentCount;

    long wanter0 = NO_CLIENT;
    long[] moreWanters;
    int wanterCount;

    WorkerState holder0;
    WorkerState[] moreHolders;
    int holderCount;

    WorkerState processingOn;
    TaskRecord procPrev;
    TaskRecord procNext;

    long[] allowedWorkers;
    String type;
    String error;
    long nbytes;
    int priority;
    /** What it runs (the grid's function id), for the duration estimate of its kind. */
    long kind;
    boolean queued;
    int waitingOn;
    int waiterCount;
    byte state = (byte)TaskState.RELEASED.ordinal();
    byte flags;
    byte retries;
    byte suspicious;
    byte replication = 1;

    TaskRecord(final String key, final long seq)
    {
        this.key = key;
        this.seq = seq;
    }

    TaskState state()
    {
        return TaskState.of(state);
    }

    boolean is(final TaskState s)
    {
        return state == s.ordinal();
    }

    boolean needed()
    {
        return wanterCount > 0 || waiterCount > 0;
    }

    boolean hasFlag(final byte flag)
    {
        return (flags & flag) != 0;
    }

    void setFlag(final byte flag, final boolean on)
    {
        flags = (byte)(on ? flags | flag : flags & ~flag);
    }

    // ---- wanters: index 0 inline, the rest in moreWanters

    long wanterAt(final int i)
    {
        return i == 0 ? wanter0 : moreWanters[i - 1];
    }

    boolean hasWanter(final long clientId)
    {
        for (int i = 0; i < wanterCount; i++)
        {
            if (wanterAt(i) == clientId)
            {
                return true;
            }
        }
        return false;
    }

    void addWanter(final long clientId)
    {
        if (wanterCount == 0)
        {
            wanter0 = clientId;
        }
        else
        {
            if (null == moreWanters)
            {
                moreWanters = new long[2];
            }
            else if (wanterCount - 1 == moreWanters.length)
            {
                moreWanters = Arrays.copyOf(moreWanters, moreWanters.length * 2);
            }
            moreWanters[wanterCount - 1] = clientId;
        }
        wanterCount++;
    }

    boolean removeWanter(final long clientId)
    {
        for (int i = 0; i < wanterCount; i++)
        {
            if (wanterAt(i) == clientId)
            {
                final int last = wanterCount - 1;
                final long moved = wanterAt(last);
                if (i == 0)
                {
                    wanter0 = moved;
                }
                else
                {
                    moreWanters[i - 1] = moved;
                }
                if (last == 0)
                {
                    wanter0 = NO_CLIENT;
                }
                wanterCount--;
                if (wanterCount <= 1)
                {
                    moreWanters = null;
                }
                return true;
            }
        }
        return false;
    }

    // ---- holders: index 0 inline, the rest in moreHolders

    WorkerState holderAt(final int i)
    {
        return i == 0 ? holder0 : moreHolders[i - 1];
    }

    boolean hasHolder(final WorkerState w)
    {
        for (int i = 0; i < holderCount; i++)
        {
            if (holderAt(i) == w)
            {
                return true;
            }
        }
        return false;
    }

    void addHolder(final WorkerState w)
    {
        if (holderCount == 0)
        {
            holder0 = w;
        }
        else
        {
            if (null == moreHolders)
            {
                moreHolders = new WorkerState[2];
            }
            else if (holderCount - 1 == moreHolders.length)
            {
                moreHolders = Arrays.copyOf(moreHolders, moreHolders.length * 2);
            }
            moreHolders[holderCount - 1] = w;
        }
        holderCount++;
    }

    boolean removeHolder(final WorkerState w)
    {
        for (int i = 0; i < holderCount; i++)
        {
            if (holderAt(i) == w)
            {
                final int last = holderCount - 1;
                final WorkerState moved = holderAt(last);
                if (i == 0)
                {
                    holder0 = moved;
                }
                else
                {
                    moreHolders[i - 1] = moved;
                }
                if (last == 0)
                {
                    holder0 = null;
                }
                else
                {
                    if (last >= 1)
                    {
                        moreHolders[last - 1] = null;
                    }
                }
                holderCount--;
                if (holderCount <= 1)
                {
                    moreHolders = null;
                }
                return true;
            }
        }
        return false;
    }

    // ---- dependents

    void addDependent(final TaskRecord t)
    {
        if (dependentCount == dependents.length)
        {
            dependents = Arrays.copyOf(dependents, Math.max(2, dependentCount * 2));
        }
        dependents[dependentCount++] = t;
    }

    void removeDependent(final TaskRecord t)
    {
        for (int i = 0; i < dependentCount; i++)
        {
            if (dependents[i] == t)
            {
                dependents[i] = dependents[--dependentCount];
                dependents[dependentCount] = null;
                if (dependentCount == 0)
                {
                    dependents = NO_TASKS;
                }
                return;
            }
        }
    }

    /**
     * Deterministic hash (from the creation sequence) so hash-set iteration order, and so every decision, is
     * reproducible for a given event sequence.
     */
    public int hashCode()
    {
        return (int)(seq ^ (seq >>> 32)) * 0x9E3779B9;
    }

    public boolean equals(final Object o)
    {
        return this == o;
    }

    public String toString()
    {
        return key + "[" + state() + "]";
    }
}
