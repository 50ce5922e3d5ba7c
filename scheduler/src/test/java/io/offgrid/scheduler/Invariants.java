package io.offgrid.scheduler;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Checks the scheduler's internal consistency from scratch: every derived count and index is recomputed and
 * compared. Throws AssertionError naming the first violation.
 */
final class Invariants
{
    private Invariants()
    {
    }

    static void check(final Scheduler s)
    {
        final Map<TaskRecord, Integer> activeDependents = new HashMap<>();
        final Map<TaskRecord, Integer> wanters = new HashMap<>();
        for (final ClientState c : s.clients.values())
        {
            for (final TaskRecord t : c.wants)
            {
                if (!(s.tasks.get(t.key) == t))
{
throw new AssertionError("client " + c.id + " wants a forgotten record " + t);
}
                if (!(t.hasWanter(c.id)))
{
throw new AssertionError("client " + c.id + " wants " + t + " but is not among its wanters");
}
                wanters.merge(t, 1, Integer::sum);
            }
        }
        final Set<WorkerState> live = new HashSet<>(s.workerList);
        if (!(live.size() == s.workers.size()))
{
throw new AssertionError("worker list and map differ");
}
        for (final TaskRecord t : s.tasks.values())
        {
            if (!(s.tasks.get(t.key) == t))
{
throw new AssertionError("record map inconsistent for " + t);
}
            if (!(!t.is(TaskState.FORGOTTEN)))
{
throw new AssertionError("forgotten record still mapped: " + t);
}
            if (!(t.waiterCount >= 0))
{
throw new AssertionError("negative waiter count on " + t);
}
            if (!(t.wanterCount >= 0))
{
throw new AssertionError("negative wanter count on " + t);
}
            if (!(t.wanterCount == wanters.getOrDefault(t, 0)))
{
throw new AssertionError("wanter count " + t.wanterCount + " disagrees with clients' wants for " + t);
}
            for (final TaskRecord dep : t.dependencies)
            {
                if (!(s.tasks.get(dep.key) == dep))
{
throw new AssertionError("lineage broken: " + t + " depends on missing " + dep.key);
}
                boolean listed = false;
                for (int i = 0; i < dep.dependentCount; i++)
                {
                    listed |= dep.dependents[i] == t;
                }
                if (!(listed))
{
throw new AssertionError(t + " not listed as dependent of " + dep);
}
                if (t.state().isActive())
                {
                    activeDependents.merge(dep, 1, Integer::sum);
                }
            }
            for (int i = 0; i < t.dependentCount; i++)
            {
                if (!(s.tasks.get(t.dependents[i].key) == t.dependents[i]))
{
throw new AssertionError("forgotten dependent of " + t);
}
            }
            for (int i = 0; i < t.holderCount; i++)
            {
                final WorkerState w = t.holderAt(i);
                if (!(live.contains(w)))
{
throw new AssertionError(t + " held by dead " + w);
}
                if (!(w.held.contains(t)))
{
throw new AssertionError(w + " does not list " + t + " as held");
}
            }
            final TaskState st = t.state();
            switch (st)
            {
                case MEMORY:
                    if (!(t.holderCount >= 1))
{
throw new AssertionError("key in memory with no live holder: " + t);
}
                    if (!(t.needed()))
{
throw new AssertionError("key in memory that nothing holds: " + t);
}
                    break;
                case RELEASED:
                    if (!(t.holderCount == 0))
{
throw new AssertionError("released key with holders: " + t);
}
                    if (!(t.needed() || t.dependentCount > 0))
{
throw new AssertionError("released, unneeded record without dependents "
                        + "should be forgotten: " + t);
}
                    break;
                case ERRED:
                    if (!(t.holderCount == 0))
{
throw new AssertionError("erred key with holders: " + t);
}
                    if (!(null != t.error))
{
throw new AssertionError("erred key without error: " + t);
}
                    break;
                case WAITING:
                case QUEUED:
                case NO_WORKER:
                case PROCESSING:
                    if (!(t.holderCount == 0))
{
throw new AssertionError(st + " key with holders: " + t);
}
                    if (!(t.needed()))
{
throw new AssertionError(st + " task nobody needs: " + t);
}
                    int missing = 0;
                    for (final TaskRecord dep : t.dependencies)
                    {
                        if (!dep.is(TaskState.MEMORY))
                        {
                            missing++;
                            if (!(dep.state().isActive()))
{
throw new AssertionError("task " + t + " waits on " + dep + " which is not going to be computed");
}
                        }
                    }
                    if (st == TaskState.WAITING)
                    {
                        if (!(missing > 0 && missing == t.waitingOn))
{
throw new AssertionError("waitingOn " + t.waitingOn + " but " +
                            missing + " deps missing for " + t);
}
                    }
                    else
                    {
                        if (!(missing == 0))
{
throw new AssertionError(st + " task with deps not in memory: " + t);
}
                    }
                    break;
                default:
                    break;
            }
            if (!((st == TaskState.QUEUED) == t.queued))
{
throw new AssertionError("queue membership wrong for " + t);
}
            if (!((st == TaskState.NO_WORKER) == s.noWorker.contains(t)))
{
throw new AssertionError("no-worker membership wrong for " + t);
}
            if (st == TaskState.PROCESSING)
            {
                if (!(null != t.processingOn && live.contains(t.processingOn)))
{
throw new AssertionError("task processing on a dead or no worker: " + t + " on " + t.processingOn);
}
            }
            else
            {
                if (!(null == t.processingOn))
{
throw new AssertionError("not processing but linked to " + t.processingOn + ": " + t);
}
            }
        }
        for (final TaskRecord t : s.tasks.values())
        {
            if (!(t.waiterCount == activeDependents.getOrDefault(t, 0)))
{
throw new AssertionError("waiter count " + t.waiterCount + " != active dependents " + activeDependents.getOrDefault(t, 0) +
                " for " + t);
}
        }
        for (final WorkerState w : s.workerList)
        {
            long bytes = 0;
            for (final TaskRecord t : w.held)
            {
                if (!(t.hasHolder(w) && s.tasks.get(t.key) == t))
{
throw new AssertionError(w + " holds stale " + t);
}
                bytes += t.nbytes;
            }
            if (!(bytes == w.managedBytes))
{
throw new AssertionError(w + " managed bytes " + w.managedBytes + " != " + bytes);
}
            int count = 0;
            TaskRecord prev = null;
            for (TaskRecord t = w.procHead; null != t; t = t.procNext)
            {
                if (!(t.processingOn == w && t.is(TaskState.PROCESSING)))
{
throw new AssertionError(w + " lists " + t + " as processing");
}
                if (!(t.procPrev == prev))
{
throw new AssertionError("broken processing list on " + w);
}
                prev = t;
                count++;
            }
            if (!(prev == w.procTail))
{
throw new AssertionError("processing tail wrong on " + w);
}
            if (!(count == w.processingCount))
{
throw new AssertionError(w + " processing count " + w.processingCount + " != " + count);
}
        }
        if (!(s.queue.size() == countState(s, TaskState.QUEUED)))
{
throw new AssertionError("queue size wrong");
}
        for (final Scheduler.PendingCopy p : s.pendingCopies)
        {
            if (!(live.contains(p.from) && live.contains(p.to)))
{
throw new AssertionError("pending copy with dead worker");
}
            if (!(s.tasks.get(p.task.key) == p.task && p.task.is(TaskState.MEMORY)))
{
throw new AssertionError("pending copy of " + p.task);
}
        }
    }

    private static int countState(final Scheduler s, final TaskState st)
    {
        int n = 0;
        for (final TaskRecord t : s.tasks.values())
        {
            n += t.is(st) ? 1 : 0;
        }
        return n;
    }

    private static void require(final boolean ok, final String message)
    {
        if (!ok)
        {
            throw new AssertionError(message);
        }
    }
}
