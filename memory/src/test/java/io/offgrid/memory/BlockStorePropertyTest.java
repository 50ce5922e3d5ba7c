package io.offgrid.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded random sequences of put / get / remove / read-while-removed under a small budget, checked
 * against a plain map after every step. {@code -Dmemory.property.seeds=N} runs more seeds; a
 * failure names its seed, and {@code -Dmemory.property.seed=S} replays one.
 */
@Timeout(300)
class BlockStorePropertyTest extends StoreFixture
{
    private static final int H = BlockStore.HEADER_LENGTH;

    private record Value(long seed, int length)
    {
        byte[] bytes()
        {
            return pattern(seed, length);
        }
    }

    private record Held(Block block, Value value)
    {
    }

    @Test
    void randomSequencesKeepTheStoreExact()
    {
        final String one = System.getProperty("memory.property.seed");
        if (one != null)
        {
            run(Long.parseLong(one));
            return;
        }
        final int seeds = Integer.getInteger("memory.property.seeds", 24);
        final long base = Long.getLong("memory.property.base", 20261127L);
        for (int i = 0; i < seeds; i++)
        {
            run(base + i);
        }
    }

    private void run(final long seed)
    {
        final Random random = new Random(seed);
        final long limit = (1 + random.nextInt(4)) << 20;
        final BlockStore store = new BlockStore(context(limit).backgroundSpill(random.nextBoolean()));
        final Map<String, Value> model = new HashMap<>();
        final List<Held> held = new ArrayList<>();
        int step = 0;
        try
        {
            for (; step < 300; step++)
            {
                final String key = "k" + random.nextInt(24);
                final int op = random.nextInt(100);
                if (op < 40)
                {
                    final int length = random.nextInt(10) == 0 ? random.nextInt(64) :
                        random.nextInt((int)Math.min(limit / 4, 512 << 10));
                    final Value value = new Value(random.nextLong(), length);
                    try
                    {
                        store.put(key, value.bytes());
                        model.put(key, value);
                    }
                    catch (final MemoryLimitExceededException ex)
                    {
                        assertEquals(key, ex.key());
                        assertTrue(heldBytes(held) + H + length > limit * 0.3, "refused with little in use");
                    }
                }
                else if (op < 70)
                {
                    final Value expected = model.get(key);
                    if (expected == null)
                    {
                        assertThrows(UnknownBlockException.class, () -> store.get(key));
                    }
                    else
                    {
                        try
                        {
                            assertArrayEquals(expected.bytes(), store.getValue(key), key);
                        }
                        catch (final MemoryLimitExceededException ex)
                        {
                            // Reading back a spilled block needs room; only held blocks can deny it.
                            assertTrue(!held.isEmpty(), "unspill refused with nothing held");
                        }
                    }
                }
                else if (op < 82)
                {
                    assertEquals(model.remove(key) != null, store.remove(key));
                    assertFalse(store.contains(key));
                }
                else if (op < 92)
                {
                    final Value expected = model.get(key);
                    if (expected != null && held.size() < 3)
                    {
                        try
                        {
                            held.add(new Held(store.get(key), expected));
                        }
                        catch (final MemoryLimitExceededException ex)
                        {
                            assertTrue(!held.isEmpty());
                        }
                    }
                }
                else if (!held.isEmpty())
                {
                    // Close a handle, possibly after its key was removed or replaced: the bytes it
                    // saw must still be the bytes that were put.
                    final Held h = held.remove(random.nextInt(held.size()));
                    final byte[] read = new byte[(int)h.block().payloadLength()];
                    h.block().payload().getBytes(0, read);
                    assertArrayEquals(h.value().bytes(), read);
                    h.block().close();
                }
                checkInvariants(store, model, limit);
            }
            for (final Held h : held)
            {
                h.block().close();
            }
            held.clear();
            checkInvariants(store, model, limit);
            for (final Map.Entry<String, Value> e : model.entrySet())
            {
                assertArrayEquals(e.getValue().bytes(), store.getValue(e.getKey()));
            }
        }
        catch (final AssertionError | RuntimeException ex)
        {
            throw new AssertionError("seed " + seed + " failed at step " + step + " (replay with " +
                "-Dmemory.property.seed=" + seed + "): " + ex, ex);
        }
        finally
        {
            for (final Held h : held)
            {
                h.block().close();
            }
            store.close();
        }
    }

    private static long heldBytes(final List<Held> held)
    {
        long sum = 0;
        for (final Held h : held)
        {
            sum += h.block().length();
        }
        return sum;
    }

    private static void checkInvariants(final BlockStore store, final Map<String, Value> model, final long limit)
    {
        final MemoryMetrics m = store.metrics();
        long expected = 0;
        for (final Value v : model.values())
        {
            expected += H + v.length();
        }
        assertEquals(expected, m.managedBytes() + m.spilledBytes(), "managed + spilled vs the model");
        assertEquals(model.size(), m.blockCount());
        assertEquals(0, m.reservedBytes(), "reservation leaked");
        assertTrue(m.managedBytes() + m.releasedBytes() + m.cachedBytes() <= limit, "over the limit: " + m);
        assertEquals(model.keySet(), new java.util.HashSet<>(store.keys()));
    }
}
