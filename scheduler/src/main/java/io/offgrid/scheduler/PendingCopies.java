package io.offgrid.scheduler;

import org.agrona.collections.Object2ObjectHashMap;

import java.util.ArrayList;
import java.util.function.Consumer;

/**
 * Copies the scheduler has asked for and not yet seen confirmed or failed, indexed by key: each key's copies form
 * a chain, newest first. A rebalance can start a copy per key it holds, so lookups must not scan them all.
 */
final class PendingCopies
{
    private final Object2ObjectHashMap<TaskRecord, Scheduler.PendingCopy> byTask = new Object2ObjectHashMap<>();
    private final ArrayList<TaskRecord> scratch = new ArrayList<>();
    private int size;

    int size()
    {
        return size;
    }

    boolean isEmpty()
    {
        return size == 0;
    }

    void add(final Scheduler.PendingCopy p)
    {
        p.next = byTask.get(p.task);
        byTask.put(p.task, p);
        size++;
    }

    /**
     * @return the newest pending copy of the key (follow {@code next} for older ones), or null.
     */
    Scheduler.PendingCopy first(final TaskRecord t)
    {
        return null == t || size == 0 ? null : byTask.get(t);
    }

    Scheduler.PendingCopy find(final TaskRecord t, final long toWorkerId)
    {
        for (Scheduler.PendingCopy p = first(t); null != p; p = p.next)
        {
            if (p.to.id == toWorkerId)
            {
                return p;
            }
        }
        return null;
    }

    void remove(final Scheduler.PendingCopy p)
    {
        Scheduler.PendingCopy prev = null;
        for (Scheduler.PendingCopy q = byTask.get(p.task); null != q; prev = q, q = q.next)
        {
            if (q == p)
            {
                if (null != prev)
                {
                    prev.next = q.next;
                }
                else if (null == q.next)
                {
                    byTask.remove(p.task);
                }
                else
                {
                    byTask.put(p.task, q.next);
                }
                q.next = null;
                size--;
                return;
            }
        }
    }

    void removeTask(final TaskRecord t)
    {
        Scheduler.PendingCopy p = size == 0 ? null : byTask.remove(t);
        while (null != p)
        {
            final Scheduler.PendingCopy next = p.next;
            p.next = null;
            size--;
            p = next;
        }
    }

    /**
     * Drop every copy from or to a worker that is gone.
     */
    void removeWorker(final WorkerState w)
    {
        if (size == 0)
        {
            return;
        }
        scratch.clear();
        scratch.addAll(byTask.keySet());
        for (final TaskRecord t : scratch)
        {
            for (Scheduler.PendingCopy p = byTask.get(t); null != p; )
            {
                final Scheduler.PendingCopy next = p.next;
                if (p.from == w || p.to == w)
                {
                    remove(p);
                }
                p = next;
            }
        }
        scratch.clear();
    }

    void clear()
    {
        byTask.clear();
        size = 0;
    }

    void forEach(final Consumer<Scheduler.PendingCopy> consumer)
    {
        for (final Scheduler.PendingCopy head : byTask.values())
        {
            for (Scheduler.PendingCopy p = head; null != p; p = p.next)
            {
                consumer.accept(p);
            }
        }
    }
}
