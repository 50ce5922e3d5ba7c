package io.offgrid.grid;

import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Helpers shared by the grid tests. */
final class GridTests
{
    static final int MIB = 1 << 20;

    private GridTests()
    {
    }

    static long total(final LocalCluster cluster)
    {
        long sum = 0;
        for (final LocalCluster.WorkerHandle w : cluster.workers())
        {
            sum += w.managedBytes();
        }
        return sum;
    }

    static long bytesOn(final LocalCluster cluster, final long workerId)
    {
        return cluster.worker(workerId).managedBytes();
    }

    /** Waits for a condition; returns the milliseconds it took. */
    static double await(final BooleanSupplier condition, final long timeoutMs, final String what)
    {
        final long t0 = System.nanoTime();
        final long deadline = t0 + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() - deadline > 0)
            {
                fail("timed out after " + timeoutMs + " ms waiting for: " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
        return (System.nanoTime() - t0) / 1e6;
    }

    static void sleep(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(ex);
        }
    }

    /** A task body that sleeps (interruptibly) and returns its argument. */
    static long sleepy(final long ms)
    {
        try
        {
            Thread.sleep(ms);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        return ms;
    }

    static long[] megabyte(final long seed)
    {
        final long[] a = new long[MIB / 8];
        a[0] = seed;
        return a;
    }
}
