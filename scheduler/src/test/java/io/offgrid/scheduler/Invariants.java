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
                require(s.tasks.get(t.key) == t, "client " + c.id + " wants a forgotten record " + t);
                require(t.hasWanter(c.id), "client " + c.id + " wants " + t + " but is not among its wanters");
                wanters.merge(t, 1, Integer::sum);
            }
        }
        final Set<WorkerState> live = new HashSet<>(s.workerList);
        require(live.size() == s.workers.size(), "worker list and map differ");
        for (final TaskRecord t : s.tasks.values())
        {
            require(s.tasks.get(t.key) == t, "record map inconsistent for " + t);
            require(!t.is(TaskState.FORGOTTEN), "forgotten record still mapped: " + t);
            require(t.waiterCount >= 0, "negative waiter count on " + t);
            require(t.wanterCount >= 0, "negative wanter count on " + t);
            require(t.wanterCount == wanters.getOrDefault(t, 0),
                "wanter count " + t.wanterCount + " disagrees with clients' wants for " + t);
            for (final TaskRecord dep : t.dependencies)
            {
                require(s.tasks.get(dep.key) == dep, "lineage broken: " + t + " depends on missing " + dep.key);
                boolean listed = false;
                for (int i = 0; i < dep.dependentCount; i++)
                {
                    listed |= dep.dependents[i] == t;
                }
                require(listed, t + " not listed as dependent of " + dep);
                if (t.state().isActive())
                {
                    activeDependents.merge(dep, 1, Integer::sum);
                }
            }
            for (int i = 0; i < t.dependentCount; i++)
            {
                require(s.tasks.get(t.dependents[i].key) == t.dependents[i], "forgotten dependent of " + t);
            }
            for (int i = 0; i < t.holderCount; i++)
            {
                final WorkerState w = t.holderAt(i);
                require(live.contains(w), t + " held by dead " + w);
                require(w.held.contains(t), w + " does not list " + t + " as held");
            }
            final TaskState st = t.state();
            switch (st)
            {
                case MEMORY:
                    require(t.holderCount >= 1, "key in memory with no live holder: " + t);
                    require(t.needed(), "key in memory that nothing holds: " + t);
                    break;
                case RELEASED:
                    require(t.holderCount == 0, "released key with holders: " + t);
                    require(t.needed() || t.dependentCount > 0, "released, unneeded record without dependents "
                        + "should be forgotten: " + t);
                    break;
                case ERRED:
                    require(t.holderCount == 0, "erred key with holders: " + t);
                    require(null != t.error, "erred key without error: " + t);
                    break;
                case WAITING:
                case QUEUED:
                case NO_WORKER:
                case PROCESSING:
                    require(t.holderCount == 0, st + " key with holders: " + t);
                    require(t.needed(), st + " task nobody needs: " + t);
                    int missing = 0;
                    for (final TaskRecord dep : t.dependencies)
                    {
                        if (!dep.is(TaskState.MEMORY))
                        {
                            missing++;
                            require(dep.state().isActive(),
                                "task " + t + " waits on " + dep + " which is not going to be computed");
                        }
                    }
                    if (st == TaskState.WAITING)
                    {
                        require(missing > 0 && missing == t.waitingOn, "waitingOn " + t.waitingOn + " but " +
                            missing + " deps missing for " + t);
                    }
                    else
                    {
                        require(missing == 0, st + " task with deps not in memory: " + t);
                    }
                    break;
                default:
                    break;
            }
            require((st == TaskState.QUEUED) == (t.heapIndex >= 0), "queue membership wrong for " + t);
            require((st == TaskState.NO_WORKER) == s.noWorker.contains(t), "no-worker membership wrong for " + t);
            if (st == TaskState.PROCESSING)
            {
                require(null != t.processingOn && live.contains(t.processingOn),
                    "task processing on a dead or no worker: " + t + " on " + t.processingOn);
            }
            else
            {
                require(null == t.processingOn, "not processing but linked to " + t.processingOn + ": " + t);
            }
        }
        for (final TaskRecord t : s.tasks.values())
        {
            require(t.waiterCount == activeDependents.getOrDefault(t, 0),
                "waiter count " + t.waiterCount + " != active dependents " + activeDependents.getOrDefault(t, 0) +
                " for " + t);
        }
        for (final WorkerState w : s.workerList)
        {
            long bytes = 0;
            for (final TaskRecord t : w.held)
            {
                require(t.hasHolder(w) && s.tasks.get(t.key) == t, w + " holds stale " + t);
                bytes += t.nbytes;
            }
            require(bytes == w.managedBytes, w + " managed bytes " + w.managedBytes + " != " + bytes);
            int count = 0;
            TaskRecord prev = null;
            for (TaskRecord t = w.procHead; null != t; t = t.procNext)
            {
                require(t.processingOn == w && t.is(TaskState.PROCESSING), w + " lists " + t + " as processing");
                require(t.procPrev == prev, "broken processing list on " + w);
                prev = t;
                count++;
            }
            require(prev == w.procTail, "processing tail wrong on " + w);
            require(count == w.processingCount, w + " processing count " + w.processingCount + " != " + count);
        }
        require(s.queue.size() == countState(s, TaskState.QUEUED), "queue size wrong");
        for (final Scheduler.PendingCopy p : s.pendingCopies)
        {
            require(live.contains(p.from) && live.contains(p.to), "pending copy with dead worker");
            require(s.tasks.get(p.task.key) == p.task && p.task.is(TaskState.MEMORY), "pending copy of " + p.task);
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
