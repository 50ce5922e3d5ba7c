package io.offgrid.scheduler;

import java.util.Arrays;

/**
 * Binary heap of queued root tasks: highest priority first, then submission order. Each record keeps its
 * heap index so removal (cancel, release) is O(log n).
 */
final class TaskQueue
{
    private TaskRecord[] heap = new TaskRecord[64];
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
        return size == 0 ? null : heap[0];
    }

    TaskRecord get(final int i)
    {
        return heap[i];
    }

    void add(final TaskRecord t)
    {
        if (size == heap.length)
        {
            heap = Arrays.copyOf(heap, size * 2);
        }
        heap[size] = t;
        t.heapIndex = size;
        size++;
        up(t.heapIndex);
    }

    void remove(final TaskRecord t)
    {
        final int i = t.heapIndex;
        if (i < 0 || i >= size || heap[i] != t)
        {
            throw new IllegalStateException("task not queued: " + t.key);
        }
        final int last = --size;
        final TaskRecord moved = heap[last];
        heap[last] = null;
        t.heapIndex = -1;
        if (i != last)
        {
            heap[i] = moved;
            moved.heapIndex = i;
            down(i);
            up(moved.heapIndex);
        }
    }

    void clear()
    {
        for (int i = 0; i < size; i++)
        {
            heap[i].heapIndex = -1;
            heap[i] = null;
        }
        size = 0;
    }

    private static boolean before(final TaskRecord a, final TaskRecord b)
    {
        return a.priority != b.priority ? a.priority > b.priority : a.seq < b.seq;
    }

    private void up(int i)
    {
        final TaskRecord t = heap[i];
        while (i > 0)
        {
            final int parent = (i - 1) >>> 1;
            final TaskRecord p = heap[parent];
            if (!before(t, p))
            {
                break;
            }
            heap[i] = p;
            p.heapIndex = i;
            i = parent;
        }
        heap[i] = t;
        t.heapIndex = i;
    }

    private void down(int i)
    {
        final TaskRecord t = heap[i];
        final int half = size >>> 1;
        while (i < half)
        {
            int child = 2 * i + 1;
            final int right = child + 1;
            if (right < size && before(heap[right], heap[child]))
            {
                child = right;
            }
            if (!before(heap[child], t))
            {
                break;
            }
            heap[i] = heap[child];
            heap[i].heapIndex = i;
            i = child;
        }
        heap[i] = t;
        t.heapIndex = i;
    }
}
