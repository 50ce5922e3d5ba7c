package io.offgrid.client;

import io.offgrid.client.internal.TaskFunctions;

import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A lazy call graph: a function call whose arguments may be other Delayed values, futures or plain values.
 * Nothing runs until {@link #compute()} (blocking: brings the result back, persists nothing) or
 * {@link #persist()} (returns at once a Delayed backed by a future: the result stays in cluster memory until
 * released).
 * <pre>{@code
 * Delayed<Integer> a = Delayed.call((Integer x) -> x + 1, 1);
 * Delayed<Integer> b = Delayed.call((Integer x, Integer y) -> x * y, a, 10);
 * int twenty = b.compute();
 * }</pre>
 *
 * @param <T> value type.
 */
public final class Delayed<T>
{
    private static final TaskFunctions.VarFunction IDENTITY = args -> args[0];

    private final String key;
    private final Object function;
    private final Object[] args;
    private final GridFuture<T> future;

    private Delayed(final String key, final Object function, final Object[] args, final GridFuture<T> future)
    {
        this.key = key;
        this.function = function;
        this.args = args;
        this.future = future;
    }

    private static String newKey(final String label)
    {
        return label + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
    }

    /**
     * @param fn  a function of no arguments.
     * @param <R> result type.
     * @return the lazy call.
     */
    public static <R> Delayed<R> call(final SerializableCallable<R> fn)
    {
        return new Delayed<>(newKey("call"), fn, new Object[0], null);
    }

    /**
     * @param fn  a function.
     * @param a   its argument: a value, a Delayed or a GridFuture.
     * @param <A> argument type.
     * @param <R> result type.
     * @return the lazy call.
     */
    public static <A, R> Delayed<R> call(final SerializableFunction<A, R> fn, final Object a)
    {
        return new Delayed<>(newKey("call"), fn, new Object[]{a}, null);
    }

    /**
     * @param fn  a function.
     * @param a   first argument.
     * @param b   second argument.
     * @param <A> first type.
     * @param <B> second type.
     * @param <R> result type.
     * @return the lazy call.
     */
    public static <A, B, R> Delayed<R> call(final SerializableBiFunction<A, B, R> fn, final Object a, final Object b)
    {
        return new Delayed<>(newKey("call"), fn, new Object[]{a, b}, null);
    }

    static <R> Delayed<R> callVar(final String label, final TaskFunctions.VarFunction fn, final Object[] args)
    {
        return new Delayed<>(newKey(label), fn, args, null);
    }

    /**
     * @param value a plain value, shipped with the graph.
     * @param <T>   its type.
     * @return a lazy value.
     */
    public static <T> Delayed<T> value(final T value)
    {
        return new Delayed<>(newKey("value"), IDENTITY, new Object[]{value}, null);
    }

    /**
     * @param future a future.
     * @param <T>    its type.
     * @return a Delayed backed by it (a shallow graph).
     */
    public static <T> Delayed<T> of(final GridFuture<T> future)
    {
        return new Delayed<>(future.key(), null, new Object[0], future);
    }

    /**
     * @param fn  applied to this value.
     * @param <R> result type.
     * @return the lazy call {@code fn(this)}.
     */
    public <R> Delayed<R> then(final SerializableFunction<T, R> fn)
    {
        return call(fn, this);
    }

    /**
     * @return the key the result has (or will have) in cluster memory.
     */
    public String key()
    {
        return key;
    }

    /**
     * @return the future behind a persisted Delayed, or null.
     */
    public GridFuture<T> future()
    {
        return future;
    }

    Object function()
    {
        return function;
    }

    Object[] args()
    {
        return args;
    }

    /**
     * Run the graph on the default client, bring the result back, and keep nothing in cluster memory.
     *
     * @return the value.
     */
    public T compute()
    {
        return compute(Client.current());
    }

    /**
     * @param client the client to run on.
     * @return the value; nothing stays in cluster memory.
     */
    @SuppressWarnings("unchecked")
    public T compute(final Client client)
    {
        final GridFuture<T> f = (GridFuture<T>)client.submitDelayed(List.of(this)).get(0);
        try
        {
            return f.get();
        }
        finally
        {
            f.release();
        }
    }

    /**
     * Submit on the default client; returns at once.
     *
     * @return a Delayed backed by a future.
     */
    public Delayed<T> persist()
    {
        return Client.current().persist(this);
    }

    /**
     * Drop this collection's future (a no-op for a Delayed that was never persisted).
     */
    public void release()
    {
        if (null != future)
        {
            future.release();
        }
    }

    @Override
    public String toString()
    {
        return "Delayed{" + key + (null == future ? "" : ", " + future.status()) + "}";
    }
}
