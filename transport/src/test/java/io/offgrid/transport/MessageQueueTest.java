package io.offgrid.transport;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The native ring behind a peer's send queue against a plain deque, over seeded random operations. */
class MessageQueueTest
{
    @Test
    void randomAppendsAndConsumesMatchADequeAndMemoryIsFreedAtClose()
    {
        for (int run = 0; run < 200; run++)
        {
            final long seed = 0x5EED_0000L + run;
            try
            {
                check(seed);
            }
            catch (final AssertionError ex)
            {
                throw new AssertionError("seed " + seed + ": " + ex.getMessage(), ex);
            }
        }
    }

    private static void check(final long seed)
    {
        final Random random = new Random(seed);
        final TransportCounters counters = new TransportCounters();
        final int max = 1024 + random.nextInt(64 * 1024);
        final MessageQueue queue = new MessageQueue(64 + random.nextInt(4096), max, counters);
        final ArrayDeque<byte[]> expected = new ArrayDeque<>();
        final UnsafeBuffer src = new UnsafeBuffer(new byte[max + 64]);
        for (int step = 0; step < 2000; step++)
        {
            if (random.nextInt(3) > 0)
            {
                final int length = random.nextInt(random.nextBoolean() ? 64 : Math.max(1, max / 3));
                final byte[] bytes = new byte[length];
                random.nextBytes(bytes);
                final int offset = random.nextInt(64);
                src.putBytes(offset, bytes);
                if (queue.append(src, offset, length))
                {
                    expected.add(bytes);
                }
                else
                {
                    // refused only when it cannot fit even in a ring of the bound
                    long live = 0;
                    for (final byte[] b : expected)
                    {
                        live += (MessageQueue.HEADER_LENGTH + b.length + 7) & ~7;
                    }
                    assertTrue(live + ((MessageQueue.HEADER_LENGTH + length + 7) & ~7) > (max & ~7),
                        "refused with room: live " + live + " length " + length + " max " + max);
                }
            }
            else
            {
                final int limit = 1 + random.nextInt(5);
                final boolean[] decline = {random.nextInt(4) == 0};
                final int before = expected.size();
                final int taken = queue.consume((buffer, offset, length) ->
                {
                    if (decline[0])
                    {
                        return false;
                    }
                    final byte[] actual = new byte[length];
                    buffer.getBytes(offset, actual);
                    assertArrayEquals(expected.poll(), actual);
                    return true;
                }, limit);
                assertEquals(decline[0] ? 0 : Math.min(limit, before), taken);
            }
            assertEquals(expected.size(), queue.count());
            assertEquals(queue.capacity(), counters.queueMemoryBytes());
            assertTrue(queue.capacity() <= max);
        }
        final int[] drained = {0};
        queue.consume((buffer, offset, length) ->
        {
            final byte[] actual = new byte[length];
            buffer.getBytes(offset, actual);
            assertTrue(Arrays.equals(expected.poll(), actual));
            drained[0]++;
            return true;
        }, Integer.MAX_VALUE);
        assertTrue(expected.isEmpty());
        queue.close();
        assertEquals(0, counters.queueMemoryBytes());
        assertEquals(0, queue.count());
        assertFalse(queue.capacity() > 0);
    }
}
