package io.offgrid.scheduler;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Checks the scheduler's internal consistency from scratch: every derived count and index is recomputed and
 * compared. Throws AssertionError naming the first violation. Messages are built only on failure, so the check
 * is cheap enough to run after every simulation step.
 */
final class Invariants
{
    private Invariants()
    {
    }

    static void check(final Scheduler s)
    {
        final Map<TaskRecord, Integer> activeDependents = new HashMap<>();
        final Map<Long, Integer> wantsPerClient = new HashMap<>();
        final Set<WorkerState> live = new HashSet<>(s.workerList);
        if (live.size() != s.workers.size())
        {
            throw new AssertionError("worker list and map differ");
        }
        for (final TaskRecord t : s.tasks.values())
        {
            checkRecord(s, t, live, activeDependents, wantsPerClient);
            if (t.hasFlag(TaskRecord.FLAG_MARK))
            {
                throw new AssertionError("a walk's mark was left on " + t);
            }
        }
        for (final TaskRecord t : s.tasks.values())
        {
            final int expected = activeDependents.getOrDefault(t, 0);
            if (t.waiterCount != expected)
            {
                throw new AssertionError("waiter count " + t.waiterCount + " != active dependents " + expected +
                    " for " + t);
            }
        }
        for (final ClientState c : s.clients.values())
        {
            final int expected = wantsPerClient.getOrDefault(c.id, 0);
            if (c.wantCount != expected)
            {
                throw new AssertionError("client " + c.id + " want count " + c.wantCount + " but " + expected +
                    " records list it as a wanter");
            }
        }
        for (final WorkerState w : s.workerList)
        {
            checkWorker(s, w);
        }
        int queued = 0;
        for (final TaskRecord t : s.tasks.values())
        {
            queued += t.is(TaskState.QUEUED) ? 1 : 0;
        }
        if (s.queue.size() != queued)
        {
            throw new AssertionError("queue size " + s.queue.size() + " but " + queued + " queued records");
        }
        final int[] pending = {0};
        s.pendingCopies.forEach(p ->
        {
            pending[0]++;
            if (!live.contains(p.from) || !live.contains(p.to))
            {
                throw new AssertionError("pending copy with a dead worker: " + p.task);
            }
            if (s.tasks.get(p.task.key) != p.task || !p.task.is(TaskState.MEMORY))
            {
                throw new AssertionError("pending copy of a key not in memory: " + p.task);
            }
            if (p != s.pendingCopies.find(p.task, p.to.id))
            {
                throw new AssertionError("two pending copies of " + p.task + " to " + p.to);
            }
        });
        if (pending[0] != s.pendingCopies.size())
        {
            throw new AssertionError("pending copies " + s.pendingCopies.size() + " but " + pending[0] + " listed");
        }
    }

    private static void checkRecord(
        final Scheduler s,
        final TaskRecord t,
        final Set<WorkerState> live,
        final Map<TaskRecord, Integer> activeDependents,
        final Map<Long, Integer> wantsPerClient)
    {
        if (s.tasks.get(t.key) != t || t.is(TaskState.FORGOTTEN))
        {
            throw new AssertionError("record map inconsistent for " + t);
        }
        if (t.waiterCount < 0 || t.wanterCount < 0)
        {
            throw new AssertionError("negative reference count on " + t);
        }
        for (int i = 0; i < t.wanterCount; i++)
        {
            final long w = t.wanterAt(i);
            if (!s.clients.containsKey(w))
            {
                throw new AssertionError(t + " is wanted by client " + w + " which is gone");
            }
            for (int j = i + 1; j < t.wanterCount; j++)
            {
                if (t.wanterAt(j) == w)
                {
                    throw new AssertionError(t + " lists wanter " + w + " twice");
                }
            }
            wantsPerClient.merge(w, 1, Integer::sum);
        }
        final TaskState st = t.state();
        for (final TaskRecord dep : t.dependencies)
        {
            if (s.tasks.get(dep.key) != dep)
            {
                throw new AssertionError("lineage broken: " + t + " depends on missing " + dep.key);
            }
            boolean listed = false;
            for (int i = 0; i < dep.dependentCount; i++)
            {
                listed |= dep.dependents[i] == t;
            }
            if (!listed)
            {
                throw new AssertionError(t + " not listed as a dependent of " + dep);
            }
            if (st.isActive())
            {
                activeDependents.merge(dep, 1, Integer::sum);
            }
        }
        for (int i = 0; i < t.dependentCount; i++)
        {
            if (s.tasks.get(t.dependents[i].key) != t.dependents[i])
            {
                throw new AssertionError("forgotten dependent of " + t);
            }
        }
        for (int i = 0; i < t.holderCount; i++)
        {
            final WorkerState w = t.holderAt(i);
            if (!live.contains(w) || !w.held.contains(t))
            {
                throw new AssertionError(t + " held by " + w + " which is dead or does not list it");
            }
        }
        switch (st)
        {
            case MEMORY:
                if (t.holderCount < 1)
                {
                    throw new AssertionError("key in memory with no live holder: " + t);
                }
                if (!t.needed())
                {
                    throw new AssertionError("key in memory that nothing holds: " + t);
                }
                break;
            case RELEASED:
                if (t.holderCount != 0)
                {
                    throw new AssertionError("released key with holders: " + t);
                }
                if (!t.needed() && t.dependentCount == 0)
                {
                    throw new AssertionError("released, unneeded record without dependents not forgotten: " + t);
                }
                break;
            case ERRED:
                if (t.holderCount != 0 || null == t.error)
                {
                    throw new AssertionError("erred key with holders or without error: " + t);
                }
                break;
            case WAITING:
            case QUEUED:
            case NO_WORKER:
            case PROCESSING:
                checkActive(t, st);
                break;
            default:
                break;
        }
        if ((st == TaskState.QUEUED) != t.queued)
        {
            throw new AssertionError("queue membership wrong for " + t);
        }
        if ((st == TaskState.NO_WORKER) != s.noWorker.contains(t))
        {
            throw new AssertionError("no-worker membership wrong for " + t);
        }
        if (st == TaskState.PROCESSING)
        {
            if (null == t.processingOn || !live.contains(t.processingOn))
            {
                throw new AssertionError("task processing on a dead or no worker: " + t + " on " + t.processingOn);
            }
        }
        else if (null != t.processingOn)
        {
            throw new AssertionError("not processing but linked to " + t.processingOn + ": " + t);
        }
    }

    private static void checkActive(final TaskRecord t, final TaskState st)
    {
        if (t.holderCount != 0)
        {
            throw new AssertionError(st + " key with holders: " + t);
        }
        if (!t.needed())
        {
            throw new AssertionError(st + " task nobody needs: " + t);
        }
        int missing = 0;
        final boolean ahead = t.hasFlag(TaskRecord.FLAG_AHEAD);
        if (ahead && st != TaskState.PROCESSING)
        {
            throw new AssertionError(st + " task still marked as sent ahead: " + t);
        }
        for (final TaskRecord dep : t.dependencies)
        {
            if (!dep.is(TaskState.MEMORY))
            {
                missing++;
                if (!dep.state().isActive())
                {
                    throw new AssertionError("task " + t + " waits on " + dep + " which is not going to be computed");
                }
                if (ahead && (!dep.is(TaskState.PROCESSING) || dep.processingOn != t.processingOn))
                {
                    throw new AssertionError("task " + t + " sent ahead to " + t.processingOn + " but its input " +
                        dep + " is not computing there");
                }
            }
        }
        if (ahead)
        {
            if (missing == 0 || missing != t.waitingOn)
            {
                throw new AssertionError("task sent ahead " + t + ": waitingOn " + t.waitingOn + ", missing " + missing);
            }
        }
        else if (st == TaskState.WAITING ? missing == 0 || missing != t.waitingOn : missing != 0)
        {
            throw new AssertionError(st + " task " + t + ": waitingOn " + t.waitingOn + ", deps missing " + missing);
        }
    }

    private static void checkWorker(final Scheduler s, final WorkerState w)
    {
        long bytes = 0;
        for (final TaskRecord t : w.held)
        {
            if (!t.hasHolder(w) || s.tasks.get(t.key) != t)
            {
                throw new AssertionError(w + " holds stale " + t);
            }
            bytes += t.nbytes;
        }
        if (bytes != w.managedBytes)
        {
            throw new AssertionError(w + " managed bytes " + w.managedBytes + " != " + bytes);
        }
        int count = 0;
        TaskRecord prev = null;
        for (TaskRecord t = w.procHead; null != t; t = t.procNext)
        {
            if (t.processingOn != w || !t.is(TaskState.PROCESSING) || t.procPrev != prev)
            {
                throw new AssertionError(w + " processing list broken at " + t);
            }
            prev = t;
            count++;
        }
        if (prev != w.procTail || count != w.processingCount)
        {
            throw new AssertionError(w + " processing count " + w.processingCount + " != " + count);
        }
    }
}
