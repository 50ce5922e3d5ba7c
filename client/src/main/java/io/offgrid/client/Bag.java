package io.offgrid.client;

import io.offgrid.client.internal.TaskFunctions;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A partitioned sequence, lazily transformed partition by partition on the workers (like Dask's bag).
 * {@link #compute()} brings the items back and persists nothing; {@link #persist()} returns at once a bag whose
 * partitions are futures; {@link #release()} drops those futures.
 * <pre>{@code
 * Bag<Long> squares = Bag.range(1_000, 8).map(x -> x * x);
 * long count = squares.filter(x -> x % 2 == 0).count().compute();
 * }</pre>
 *
 * @param <T> item type.
 */
public final class Bag<T>
{
    private final List<Delayed<List<T>>> partitions;

    Bag(final List<Delayed<List<T>>> partitions)
    {
        this.partitions = Collections.unmodifiableList(new ArrayList<>(partitions));
    }

    /**
     * @param items       the items (copied; shipped with the graph).
     * @param npartitions how many partitions.
     * @param <T>         item type.
     * @return the bag.
     */
    public static <T> Bag<T> of(final List<T> items, final int npartitions)
    {
        checkPartitions(npartitions);
        final ArrayList<Delayed<List<T>>> parts = new ArrayList<>(npartitions);
        final int n = items.size();
        for (int p = 0; p < npartitions; p++)
        {
            final int from = (int)((long)n * p / npartitions);
            final int to = (int)((long)n * (p + 1) / npartitions);
            parts.add(Delayed.value((List<T>)new ArrayList<>(items.subList(from, to))));
        }
        return new Bag<>(parts);
    }

    /**
     * @param n           the numbers 0 until n, generated on the workers.
     * @param npartitions how many partitions.
     * @return the bag.
     */
    public static Bag<Long> range(final long n, final int npartitions)
    {
        checkPartitions(npartitions);
        final ArrayList<Delayed<List<Long>>> parts = new ArrayList<>(npartitions);
        for (int p = 0; p < npartitions; p++)
        {
            final long from = n * p / npartitions;
            final long to = n * (p + 1) / npartitions;
            parts.add(Delayed.call((Long a, Long b) ->
            {
                final ArrayList<Long> list = new ArrayList<>((int)(b - a));
                for (long i = a; i < b; i++)
                {
                    list.add(i);
                }
                return (List<Long>)list;
            }, from, to));
        }
        return new Bag<>(parts);
    }

    private static void checkPartitions(final int npartitions)
    {
        if (npartitions < 1)
        {
            throw new IllegalArgumentException("npartitions must be at least 1: " + npartitions);
        }
    }

    /**
     * @return the partitions: lazy, or futures once persisted.
     */
    public List<Delayed<List<T>>> partitions()
    {
        return partitions;
    }

    /**
     * @return number of partitions.
     */
    public int npartitions()
    {
        return partitions.size();
    }

    private <R> Bag<R> perPartition(final SerializableFunction<List<T>, List<R>> fn)
    {
        final ArrayList<Delayed<List<R>>> parts = new ArrayList<>(partitions.size());
        for (final Delayed<List<T>> p : partitions)
        {
            parts.add(Delayed.call(fn, p));
        }
        return new Bag<>(parts);
    }

    /**
     * @param fn  applied to every item.
     * @param <R> result type.
     * @return the lazy mapped bag.
     */
    public <R> Bag<R> map(final SerializableFunction<T, R> fn)
    {
        return perPartition(p ->
        {
            final ArrayList<R> out = new ArrayList<>(p.size());
            for (final T x : p)
            {
                out.add(fn.apply(x));
            }
            return out;
        });
    }

    /**
     * @param predicate which items to keep.
     * @return the lazy filtered bag.
     */
    public Bag<T> filter(final SerializablePredicate<T> predicate)
    {
        return perPartition(p ->
        {
            final ArrayList<T> out = new ArrayList<>();
            for (final T x : p)
            {
                if (predicate.test(x))
                {
                    out.add(x);
                }
            }
            return out;
        });
    }

    /**
     * @param fn  gives each item's replacement items.
     * @param <R> result type.
     * @return the lazy flattened bag.
     */
    public <R> Bag<R> flatMap(final SerializableFunction<T, ? extends Iterable<R>> fn)
    {
        return perPartition(p ->
        {
            final ArrayList<R> out = new ArrayList<>();
            for (final T x : p)
            {
                for (final R r : fn.apply(x))
                {
                    out.add(r);
                }
            }
            return out;
        });
    }

    /**
     * Reduce every partition on its worker, then the partial results in one task.
     *
     * @param fn an associative function.
     * @return the lazy result (null for an empty bag).
     */
    @SuppressWarnings("unchecked")
    public Delayed<T> reduce(final SerializableBiFunction<T, T, T> fn)
    {
        final Object[] partials = new Object[partitions.size()];
        for (int i = 0; i < partials.length; i++)
        {
            partials[i] = Delayed.call((List<T> p) ->
            {
                T acc = null;
                boolean first = true;
                for (final T x : p)
                {
                    acc = first ? x : fn.apply(acc, x);
                    first = false;
                }
                return (Object)(first ? new Empty() : acc);
            }, partitions.get(i));
        }
        return Delayed.callVar("reduce", args ->
        {
            T acc = null;
            boolean first = true;
            for (final Object a : args)
            {
                if (!(a instanceof Empty))
                {
                    acc = first ? (T)a : fn.apply(acc, (T)a);
                    first = false;
                }
            }
            return acc;
        }, partials);
    }

    /** Marks an empty partition's partial reduction. */
    static final class Empty implements java.io.Serializable
    {
        private static final long serialVersionUID = 1L;
    }

    /**
     * @return the lazy number of items.
     */
    public Delayed<Long> count()
    {
        final Object[] counts = new Object[partitions.size()];
        for (int i = 0; i < counts.length; i++)
        {
            counts[i] = Delayed.call((List<T> p) -> (long)p.size(), partitions.get(i));
        }
        return Delayed.callVar("count", args ->
        {
            long total = 0;
            for (final Object a : args)
            {
                total += (Long)a;
            }
            return total;
        }, counts);
    }

    /**
     * Sum of numeric items: a Long when every item is a Long or Integer, otherwise a Double.
     *
     * @return the lazy sum.
     */
    public Delayed<Number> sum()
    {
        final Object[] sums = new Object[partitions.size()];
        for (int i = 0; i < sums.length; i++)
        {
            sums[i] = Delayed.call((List<T> p) ->
            {
                long l = 0;
                double d = 0;
                boolean integral = true;
                for (final T x : p)
                {
                    final Number n = (Number)x;
                    if (n instanceof Long || n instanceof Integer)
                    {
                        l += n.longValue();
                    }
                    else
                    {
                        integral = false;
                        d += n.doubleValue();
                    }
                }
                return integral ? (Number)l : (Number)(d + l);
            }, partitions.get(i));
        }
        return Delayed.callVar("sum", args ->
        {
            long l = 0;
            double d = 0;
            boolean integral = true;
            for (final Object a : args)
            {
                if (a instanceof Long)
                {
                    l += (Long)a;
                }
                else
                {
                    integral = false;
                    d += ((Number)a).doubleValue();
                }
            }
            return integral ? (Number)l : (Number)(d + l);
        }, sums);
    }

    /**
     * @return the lazy list of all items, in order.
     */
    @SuppressWarnings("unchecked")
    public Delayed<List<T>> toList()
    {
        return Delayed.callVar("list", args ->
        {
            final ArrayList<T> all = new ArrayList<>();
            for (final Object a : args)
            {
                all.addAll((List<T>)a);
            }
            return all;
        }, partitions.toArray());
    }

    /**
     * The first {@code n} items, computed now on the default client (only the partitions needed are fetched;
     * nothing is persisted).
     *
     * @param n how many.
     * @return up to n items.
     */
    public List<T> take(final int n)
    {
        final ArrayList<T> out = new ArrayList<>(n);
        for (final Delayed<List<T>> p : partitions)
        {
            if (out.size() >= n)
            {
                break;
            }
            final List<T> items = null == p.future() ? p.compute() : p.future().get();
            for (final T x : items)
            {
                if (out.size() >= n)
                {
                    break;
                }
                out.add(x);
            }
        }
        return out;
    }

    /**
     * Compute on the default client and bring every item back; nothing stays in cluster memory.
     *
     * @return the items in order.
     */
    public List<T> compute()
    {
        return toList().compute();
    }

    /**
     * Submit on the default client; returns at once with a bag whose partitions are futures.
     *
     * @return the persisted bag.
     */
    public Bag<T> persist()
    {
        return Client.current().persist(this);
    }

    /**
     * Drop this bag's futures; data shared with another live collection or future stays.
     */
    public void release()
    {
        final ArrayList<GridFuture<?>> futures = new ArrayList<>(partitions.size());
        for (final Delayed<List<T>> p : partitions)
        {
            if (null != p.future())
            {
                futures.add(p.future());
            }
        }
        if (!futures.isEmpty())
        {
            futures.get(0).client().release(futures); // one hand-over for all of them
        }
    }
}
