package io.offgrid.scheduler;

import java.util.Arrays;

/**
 * Queued root tasks: highest priority first, then the order they became ready. One FIFO per distinct priority
 * (an intrusive list through the records' procPrev/procNext links, free while a task is queued), so add, take
 * and remove are O(1). A task older than the whole bucket (queued again after a death or rejection) goes to
 * the front. The handful of priorities in use are kept in a small array sorted high to low.
 */
final class TaskQueue
{
    private int[] priorities = new int[4];
    private TaskRecord[] heads = new TaskRecord[4];
    private TaskRecord[] tails = new TaskRecord[4];
    private int buckets;
    private int size;

    int size()
    {
        return size;
    }

    boolean isEmpty()
    {
        return size == 0;
    }

    TaskRecord peek()
    {
        return size == 0 ? null : heads[0];
    }

    void add(final TaskRecord t)
    {
        final int b = bucket(t.priority, true);
        final TaskRecord head = heads[b];
        if (null != head && t.seq < head.seq)
        {
            // Older than everything queued at this priority (a task queued again after a death or rejection):
            // it goes first.
            t.procPrev = null;
            t.procNext = head;
            head.procPrev = t;
            heads[b] = t;
        }
        else
        {
            final TaskRecord tail = tails[b];
            t.procPrev = tail;
            t.procNext = null;
            if (null == tail)
            {
                heads[b] = t;
            }
            else
            {
                tail.procNext = t;
            }
            tails[b] = t;
        }
        t.queued = true;
        size++;
    }

    void remove(final TaskRecord t)
    {
        if (!t.queued)
        {
            throw new IllegalStateException("task not queued: " + t.key);
        }
        final int b = bucket(t.priority, false);
        final TaskRecord prev = t.procPrev;
        final TaskRecord next = t.procNext;
        if (null == prev)
        {
            heads[b] = next;
        }
        else
        {
            prev.procNext = next;
        }
        if (null == next)
        {
            tails[b] = prev;
        }
        else
        {
            next.procPrev = prev;
        }
        t.procPrev = null;
        t.procNext = null;
        t.queued = false;
        size--;
        if (null == heads[b])
        {
            removeBucket(b);
        }
    }

    void clear()
    {
        for (int b = 0; b < buckets; b++)
        {
            for (TaskRecord t = heads[b]; null != t; )
            {
                final TaskRecord next = t.procNext;
                t.procPrev = null;
                t.procNext = null;
                t.queued = false;
                t = next;
            }
            heads[b] = null;
            tails[b] = null;
        }
        buckets = 0;
        size = 0;
    }

    private int bucket(final int priority, final boolean create)
    {
        int b = 0;
        while (b < buckets && priorities[b] > priority)
        {
            b++;
        }
        if (b < buckets && priorities[b] == priority)
        {
            return b;
        }
        if (!create)
        {
            throw new IllegalStateException("no queue bucket for priority " + priority);
        }
        if (buckets == priorities.length)
        {
            priorities = Arrays.copyOf(priorities, buckets * 2);
            heads = Arrays.copyOf(heads, buckets * 2);
            tails = Arrays.copyOf(tails, buckets * 2);
        }
        System.arraycopy(priorities, b, priorities, b + 1, buckets - b);
        System.arraycopy(heads, b, heads, b + 1, buckets - b);
        System.arraycopy(tails, b, tails, b + 1, buckets - b);
        priorities[b] = priority;
        heads[b] = null;
        tails[b] = null;
        buckets++;
        return b;
    }

    private void removeBucket(final int b)
    {
        System.arraycopy(priorities, b + 1, priorities, b, buckets - b - 1);
        System.arraycopy(heads, b + 1, heads, b, buckets - b - 1);
        System.arraycopy(tails, b + 1, tails, b, buckets - b - 1);
        buckets--;
        heads[buckets] = null;
        tails[buckets] = null;
    }
}
