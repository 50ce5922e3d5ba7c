package io.offgrid.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dask's known failure: a worker busy spilling skips its pause check and is killed. Here the disk
 * is stalled mid-spill, producers keep putting, and {@code paused()} must turn true at once.
 */
@Timeout(60)
class PauseWhileSpillingTest extends StoreFixture
{
    @Test
    void reportsPausedWhileEverySpillIsStuck() throws Exception
    {
        final int block = 8 << 20;
        final long limit = 100 << 20;
        final CountDownLatch disk = new CountDownLatch(1);
        final CountDownLatch spillStarted = new CountDownLatch(1);
        final BlockStore store = open(context(limit).spillHook(key ->
        {
            spillStarted.countDown();
            try
            {
                disk.await();
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
        }));
        for (int i = 0; i < 7; i++)
        {
            store.put("base" + i, pattern(i, block));
        }
        assertFalse(store.paused());

        final ExecutorService producers = Executors.newFixedThreadPool(4);
        try
        {
            final List<Future<?>> puts = new ArrayList<>();
            for (int p = 0; p < 4; p++)
            {
                final int id = p;
                puts.add(producers.submit(() -> store.put("new" + id, pattern(100 + id, block))));
            }
            assertTrue(spillStarted.await(10, TimeUnit.SECONDS), "no spill started");
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!store.paused() && System.nanoTime() < deadline)
            {
                Thread.sleep(1);
            }
            assertTrue(store.paused(), "store past its pause fraction does not report paused: " + store.metrics());
            // The metrics snapshot for the heartbeat answers while the spill is stuck.
            assertTrue(store.metrics().paused());

            disk.countDown();
            for (final Future<?> put : puts)
            {
                put.get(20, TimeUnit.SECONDS);
            }
        }
        finally
        {
            disk.countDown();
            producers.shutdownNow();
            producers.awaitTermination(10, TimeUnit.SECONDS);
        }
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (store.paused() && System.nanoTime() < deadline)
        {
            Thread.sleep(5);
        }
        assertFalse(store.paused(), "still paused after the spills completed: " + store.metrics());
        assertTrue(store.spilledBytes() > 0);
        for (int i = 0; i < 7; i++)
        {
            assertArrayEquals(pattern(i, block), store.getValue("base" + i));
        }
        for (int p = 0; p < 4; p++)
        {
            assertArrayEquals(pattern(100 + p, block), store.getValue("new" + p));
        }
    }
}
