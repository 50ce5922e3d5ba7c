package io.offgrid.perf.harness;

import io.offgrid.client.SerializableBiFunction;
import io.offgrid.client.SerializableFunction;

import java.util.Arrays;

/**
 * The task functions of the scenarios, the same work as dask_bench.py's: static, capture nothing, so a worker
 * JVM deserialises them from this class on its class path.
 */
final class Tasks
{
    static final SerializableFunction<Long, Long> INC = x -> x + 1;
    static final SerializableBiFunction<Long, Long, Long> ADD = (a, b) -> a + b;
    static final SerializableFunction<double[], Long> NBYTES_OF = a -> (long)a.length * Double.BYTES;
    static final SerializableFunction<Long, Long> SLOW_INC = x ->
    {
        try
        {
            Thread.sleep(1);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        return x + 1;
    };
    /** A chunk of {@code n} doubles (the persisted array of scenario e); filled so every page is touched. */
    static final SerializableFunction<Long, double[]> CHUNK = n ->
    {
        final double[] a = new double[(int)(long)n];
        Arrays.fill(a, 0.5);
        return a;
    };

    private Tasks()
    {
    }
}
