package io.offgrid.memory.internal;

import org.agrona.UnsafeApi;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Copies shared with helper threads land every byte where a single copy would, whatever their length, direction or
 * number at once, and helpers take part in large ones.
 */
@Timeout(120)
class ParallelCopyTest
{
    private static final long LONG_BASE = UnsafeApi.arrayBaseOffset(long[].class);
    private static final long BYTE_BASE = UnsafeApi.arrayBaseOffset(byte[].class);

    @Test
    void arraysToNativeAndBackArriveIntactAtEveryLength()
    {
        final SplittableRandom random = new SplittableRandom(7);
        final long chunk = ParallelCopy.CHUNK;
        final long[] lengths = {0, 8, ParallelCopy.MIN_BYTES - 8, ParallelCopy.MIN_BYTES, ParallelCopy.MIN_BYTES + 8,
            ParallelCopy.MIN_BYTES + chunk - 8, 5 * chunk + 8 * 3, 33 * chunk, 64L << 20};
        for (final long bytes : lengths)
        {
            final long[] source = random.longs(bytes / 8).toArray();
            final long address = NativeMemory.allocate(Math.max(8, bytes));
            try
            {
                ParallelCopy.copy(source, LONG_BASE, null, address, bytes);
                for (int i = 0; i < source.length; i += Math.max(1, source.length / 4096))
                {
                    assertEquals(source[i], UnsafeApi.getLong(address + 8L * i), "native word " + i + " of " + bytes);
                }
                final long[] back = new long[source.length];
                ParallelCopy.copy(null, address, back, LONG_BASE, bytes);
                assertArrayEquals(source, back, "round trip of " + bytes + " bytes");
            }
            finally
            {
                NativeMemory.free(address, Math.max(8, bytes));
            }
        }
    }

    @Test
    void helpersTakePartInLargeCopies()
    {
        assertEquals(2, ParallelCopy.HELPERS, "memory/pom.xml sets two helpers for the tests, whatever the machine");
        final long bytes = 64L << 20;
        final byte[] source = new byte[(int)bytes];
        new SplittableRandom(9).nextBytes(source);
        final long address = NativeMemory.allocate(bytes);
        try
        {
            final long before = ParallelCopy.chunksByHelpers();
            for (int round = 0; round < 50 && ParallelCopy.chunksByHelpers() == before; round++)
            {
                ParallelCopy.copy(source, BYTE_BASE, null, address, bytes);
            }
            assertTrue(ParallelCopy.chunksByHelpers() > before, "a helper copied some of 50 copies of 64 chunks");
            final byte[] back = new byte[(int)bytes];
            ParallelCopy.copy(null, address, back, BYTE_BASE, bytes);
            assertArrayEquals(source, back);
        }
        finally
        {
            NativeMemory.free(address, bytes);
        }
    }

    @Test
    void manyCallersAtOnceEachGetTheirOwnBytes() throws Exception
    {
        final int callers = 4;
        final ExecutorService pool = Executors.newFixedThreadPool(callers);
        try
        {
            final List<Future<Boolean>> results = new ArrayList<>();
            for (int c = 0; c < callers; c++)
            {
                final int seed = c;
                results.add(pool.submit((Callable<Boolean>)() ->
                {
                    final SplittableRandom random = new SplittableRandom(seed);
                    for (int round = 0; round < 10; round++)
                    {
                        final int words = (int)((ParallelCopy.MIN_BYTES + random.nextLong(16L << 20)) / 8);
                        final long[] source = random.longs(words).toArray();
                        final long address = NativeMemory.allocate(8L * words);
                        try
                        {
                            ParallelCopy.copy(source, LONG_BASE, null, address, 8L * words);
                            final long[] back = new long[words];
                            ParallelCopy.copy(null, address, back, LONG_BASE, 8L * words);
                            assertArrayEquals(source, back, "caller " + seed + " round " + round);
                        }
                        finally
                        {
                            NativeMemory.free(address, 8L * words);
                        }
                    }
                    return true;
                }));
            }
            for (final Future<Boolean> f : results)
            {
                assertTrue(f.get());
            }
        }
        finally
        {
            pool.shutdownNow();
        }
    }

    @Test
    void copiesInsideCallerOnlyStayOnTheCaller()
    {
        final long bytes = 32L << 20;
        final long[] source = new SplittableRandom(11).longs(bytes / 8).toArray();
        final long address = NativeMemory.allocate(bytes);
        try
        {
            final long before = ParallelCopy.chunksByHelpers();
            ParallelCopy.callerOnly(() ->
            {
                for (int round = 0; round < 10; round++)
                {
                    ParallelCopy.copy(source, LONG_BASE, null, address, bytes);
                }
            });
            assertEquals(before, ParallelCopy.chunksByHelpers(), "no helper took part");
            final long[] back = new long[source.length];
            ParallelCopy.copy(null, address, back, LONG_BASE, bytes);
            assertArrayEquals(source, back);
        }
        finally
        {
            NativeMemory.free(address, bytes);
        }
    }

    @Test
    void anOverlappingCopyWithinOneArrayMovesAsOneCopyWould()
    {
        final int words = (int)(2 * ParallelCopy.MIN_BYTES / 8);
        final long[] data = new long[words];
        for (int i = 0; i < words; i++)
        {
            data[i] = i;
        }
        // Up by one word, overlapping almost entirely: a chunked forward copy by several threads would smear it.
        ParallelCopy.copy(data, LONG_BASE, data, LONG_BASE + 8, 8L * (words - 1));
        assertEquals(0, data[0]);
        for (int i = 1; i < words; i++)
        {
            assertEquals(i - 1, data[i], "word " + i);
        }
        // and down by one word
        ParallelCopy.copy(data, LONG_BASE + 8, data, LONG_BASE, 8L * (words - 1));
        for (int i = 0; i < words - 1; i++)
        {
            assertEquals(i, data[i], "word " + i + " after moving down");
        }
    }
}
