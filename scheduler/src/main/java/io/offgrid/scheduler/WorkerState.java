package io.offgrid.scheduler;

import org.agrona.collections.ObjectHashSet;

/**
 * The scheduler's view of one worker: what it holds, what it was sent to compute (an intrusive list in
 * assignment order, so stealing takes the most recently sent tasks) and its reported metrics.
 */
final class WorkerState
{
    final long id;
    final int threads;
    final long memoryLimit;
    final ObjectHashSet<TaskRecord> held = new ObjectHashSet<>();
    long managedBytes;
    long reportedManaged;
    long spilled;
    int executing;
    boolean paused;
    long lastSeenNs;
    TaskRecord procHead;
    TaskRecord procTail;
    int processingCount;

    WorkerState(final long id, final int threads, final long memoryLimit)
    {
        this.id = id;
        this.threads = threads;
        this.memoryLimit = memoryLimit;
    }

    void link(final TaskRecord t)
    {
        t.processingOn = this;
        t.procNext = null;
        t.procPrev = procTail;
        if (null == procTail)
        {
            procHead = t;
        }
        else
        {
            procTail.procNext = t;
        }
        procTail = t;
        processingCount++;
    }

    void unlink(final TaskRecord t)
    {
        final TaskRecord prev = t.procPrev;
        final TaskRecord next = t.procNext;
        if (null == prev)
        {
            procHead = next;
        }
        else
        {
            prev.procNext = next;
        }
        if (null == next)
        {
            procTail = prev;
        }
        else
        {
            next.procPrev = prev;
        }
        t.procPrev = null;
        t.procNext = null;
        t.processingOn = null;
        processingCount--;
    }

    public String toString()
    {
        return "worker-" + id;
    }
}
