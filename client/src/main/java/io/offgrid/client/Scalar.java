package io.offgrid.client;

/**
 * A lazy single value computed from a collection (a {@link Series} aggregate, a {@link Frame#count()}):
 * {@link #compute()} runs it and blocks; {@code client.compute(scalar)} returns a {@link GridFuture} at once.
 * <pre>{@code
 * double total = frame.column("x").sum().compute().doubleValue();
 * GridFuture<?> f = client.compute(frame.column("x").sum()).get(0);
 * }</pre>
 *
 * @param <T> value type.
 */
public final class Scalar<T>
{
    private final Delayed<T> delayed;

    Scalar(final Delayed<T> delayed)
    {
        this.delayed = delayed;
    }

    /**
     * @return the lazy call graph behind the value.
     */
    public Delayed<T> delayed()
    {
        return delayed;
    }

    /**
     * @return the key the value has (or will have) in cluster memory.
     */
    public String key()
    {
        return delayed.key();
    }

    /**
     * Run on the default client and block; nothing stays in cluster memory.
     *
     * @return the value.
     */
    public T compute()
    {
        return delayed.compute();
    }

    /**
     * @param client the client to run on.
     * @return the value; nothing stays in cluster memory.
     */
    public T compute(final Client client)
    {
        return delayed.compute(client);
    }

    @Override
    public String toString()
    {
        return "Scalar{" + delayed.key() + "}";
    }
}
