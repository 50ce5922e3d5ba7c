package io.offgrid.memory;

import org.agrona.DirectBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several threads put, read, hold and remove overlapping keys while the store spills. Each value
 * carries its own seed, so a reader checks every byte it sees without a shared model.
 */
@Timeout(120)
class ConcurrentAccessTest extends StoreFixture
{
    @Test
    void hammeredFromManyThreadsEveryReadIsIntact() throws Exception
    {
        final long limit = 1 << 20;
        final BlockStore store = open(limit);
        final int threads = 4;
        final AtomicLong reads = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
        final ExecutorService pool = Executors.newFixedThreadPool(threads);
        try
        {
            final List<Future<?>> work = new ArrayList<>();
            for (int t = 0; t < threads; t++)
            {
                final long seed = 1000 + t;
                work.add(pool.submit(() ->
                {
                    final Random random = new Random(seed);
                    for (int i = 0; i < 4000; i++)
                    {
                        final String key = "k" + random.nextInt(64);
                        final int op = random.nextInt(10);
                        try
                        {
                            if (op < 4)
                            {
                                store.put(key, selfDescribing(random.nextLong(), 8 + random.nextInt(64 << 10)));
                            }
                            else if (op < 9)
                            {
                                try (Block block = store.get(key))
                                {
                                    verify(block.payload(), (int)block.payloadLength());
                                    reads.incrementAndGet();
                                }
                            }
                            else
                            {
                                store.remove(key);
                            }
                        }
                        catch (final UnknownBlockException ex)
                        {
                            // Removed by another thread: fine.
                        }
                        catch (final MemoryLimitExceededException ex)
                        {
                            refused.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (final Future<?> f : work)
            {
                f.get(100, TimeUnit.SECONDS);
            }
        }
        finally
        {
            pool.shutdownNow();
            pool.awaitTermination(10, TimeUnit.SECONDS);
        }
        assertTrue(reads.get() > 1000, "too few reads: " + reads.get());
        final MemoryMetrics m = store.metrics();
        long sum = 0;
        for (final String key : store.keys())
        {
            sum += store.nbytes(key);
            try (Block block = store.get(key))
            {
                verify(block.payload(), (int)block.payloadLength());
            }
        }
        assertEquals(sum, m.managedBytes() + m.spilledBytes());
        assertEquals(0, m.reservedBytes());
        assertEquals(0, m.releasedBytes());
        assertTrue(m.spillCount() > 0, "the test should make the store spill");
    }

    static byte[] selfDescribing(final long seed, final int length)
    {
        final byte[] bytes = pattern(seed, length);
        for (int i = 0; i < 8; i++)
        {
            bytes[i] = (byte)(seed >>> (8 * i));
        }
        return bytes;
    }

    static void verify(final DirectBuffer payload, final int length)
    {
        final long seed = payload.getLong(0);
        final byte[] expected = selfDescribing(seed, length);
        final byte[] actual = new byte[length];
        payload.getBytes(0, actual);
        assertTrue(java.util.Arrays.equals(expected, actual), "torn or corrupt block of seed " + seed);
    }
}
