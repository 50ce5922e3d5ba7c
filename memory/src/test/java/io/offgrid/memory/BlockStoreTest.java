package io.offgrid.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class BlockStoreTest extends StoreFixture
{
    private static final int H = BlockStore.HEADER_LENGTH;

    @Test
    void putGetRemoveContainsKeysNbytes()
    {
        final BlockStore store = open(1 << 20);
        store.put("a", pattern(1, 100));
        store.put("b", 42L);
        assertTrue(store.contains("a"));
        assertEquals(Set.of("a", "b"), Set.copyOf(store.keys()));
        assertEquals(H + 100, store.nbytes("a"));
        assertEquals(H + 8, store.nbytes("b"));
        assertEquals(2L * H + 108, store.managedBytes());
        assertEquals(0, store.spilledBytes());
        assertArrayEquals(pattern(1, 100), store.getValue("a"));
        assertEquals(42L, (Long)store.getValue("b"));

        assertTrue(store.remove("a"));
        assertFalse(store.remove("a"));
        assertFalse(store.contains("a"));
        assertEquals(H + 8, store.managedBytes());
        final UnknownBlockException unknown = assertThrows(UnknownBlockException.class, () -> store.get("a"));
        assertTrue(unknown.getMessage().contains("'a'"), unknown.getMessage());
        assertThrows(UnknownBlockException.class, () -> store.nbytes("a"));
    }

    @Test
    void backgroundReleaseReturnsAtOnceKeepsTheBudgetExactAndGivesEverythingBack()
    {
        final long limit = 64L << 20;
        // Fractions at 1: nothing spills, so a round that finds the last round's memory still on its way back
        // to the OS must wait for it (or the put would fail).
        final BlockStore store = open(context(limit).regionCacheBytes(0).backgroundRelease(true)
            .targetFraction(1.0).spillFraction(1.0).pauseFraction(1.0));
        final long[] eightMiB = new long[1 << 20];
        for (int round = 0; round < 20; round++)
        {
            for (int i = 0; i < 6; i++)
            {
                store.put("k" + i, eightMiB); // 48 MiB of 64: each round needs some of what the last one removed
            }
            assertTrue(store.managedBytes() >= 48L << 20);
            for (int i = 0; i < 6; i++)
            {
                assertTrue(store.remove("k" + i));
            }
            assertEquals(0, store.managedBytes(), "managed bytes drop when remove returns");
            // In flight: this round's 48 MiB and whatever of the last round's the puts did not have to wait for. A put
            // waits only until its own bytes fit, so the budget, not the release thread's speed, is the bound.
            assertTrue(store.releasingBytes() <= limit, "what is on its way back stays within the budget: " + store.releasingBytes());
        }
        // Small blocks are freed on the spot; nothing is lost if the store closes with releases in flight.
        store.put("small", 42L);
        store.remove("small");
        store.put("last", eightMiB);
        store.remove("last");
        closeStores(); // the fixture then checks native memory is back to its baseline
        assertEquals(0, store.releasingBytes());
    }

    @Test
    void putReplacesAndFreesThePreviousBlock()
    {
        final BlockStore store = open(1 << 20);
        final NativeMemoryTracking.Snapshot before = NativeMemoryTracking.other();
        store.put("k", pattern(1, 1000));
        store.put("k", pattern(2, 500));
        assertArrayEquals(pattern(2, 500), store.getValue("k"));
        assertEquals(H + 500, store.managedBytes());
        final NativeMemoryTracking.Snapshot after = NativeMemoryTracking.other();
        assertEquals(1, after.count() - before.count(), "one live allocation for one block");
    }

    @Test
    void removeWhileReadFreesWhenTheLastReaderLetsGo()
    {
        final BlockStore store = open(context(64 << 20).regionCacheBytes(0));
        final int size = 8 << 20;
        store.put("big", pattern(7, size));
        final NativeMemoryTracking.Snapshot stored = NativeMemoryTracking.other();

        final Block first = store.get("big");
        final Block second = store.get("big");
        assertTrue(store.remove("big"));
        assertFalse(store.contains("big"));
        assertEquals(0, store.managedBytes());
        assertEquals(H + size, store.metrics().releasedBytes());
        // Still allocated and readable by both readers.
        assertEquals(stored.bytes(), NativeMemoryTracking.other().bytes(), 4096);
        final byte[] read = new byte[size];
        first.payload().getBytes(0, read);
        assertArrayEquals(pattern(7, size), read);

        first.close();
        assertEquals(stored.bytes(), NativeMemoryTracking.other().bytes(), 4096, "freed before the last reader");
        second.payload().getBytes(0, read);
        assertArrayEquals(pattern(7, size), read);
        second.close();

        assertEquals(0, store.metrics().releasedBytes());
        assertTrue(stored.bytes() - NativeMemoryTracking.other().bytes() >= size, "not freed after the last reader");
        assertThrows(IllegalStateException.class, second::close);
    }

    @Test
    void freedLargeRegionsAreReusedByBlocksOfTheSameLengthAndCountAgainstTheLimit()
    {
        final long limit = 16 << 20;
        final BlockStore store = open(context(limit).regionCacheBytes(8 << 20).backgroundSpill(false)
            .targetFraction(1.0).spillFraction(1.0).pauseFraction(1.0));
        final int size = (4 << 20) - H;
        store.put("a", pattern(1, size));
        store.remove("a");
        assertEquals(4 << 20, store.metrics().cachedBytes());
        final NativeMemoryTracking.Snapshot before = NativeMemoryTracking.other();
        store.put("b", pattern(2, size));
        assertEquals(0, store.metrics().cachedBytes());
        assertEquals(before.count(), NativeMemoryTracking.other().count(), "a fresh allocation instead of reuse");
        assertArrayEquals(pattern(2, size), store.getValue("b"));

        // Cached regions are given back before anything is spilled.
        store.put("c", pattern(3, size));
        store.remove("c");
        assertEquals(4 << 20, store.metrics().cachedBytes());
        store.put("d", new byte[(12 << 20) - H]);
        assertEquals(0, store.metrics().cachedBytes());
        assertEquals(0, store.spilledBytes());
        assertTrue(store.managedBytes() + store.metrics().cachedBytes() <= limit);
    }

    @Test
    void managedBytesMatchNativeAllocationWithinOnePercent()
    {
        final BlockStore store = open(1L << 30);
        final Random random = new Random(11);
        final NativeMemoryTracking.Snapshot before = NativeMemoryTracking.other();
        long expected = 0;
        final int blocks = 300;
        for (int i = 0; i < blocks; i++)
        {
            final int size = 1 + random.nextInt(256 << 10);
            store.put("k" + i, new byte[size]);
            expected += H + size;
        }
        final NativeMemoryTracking.Snapshot after = NativeMemoryTracking.other();
        assertEquals(expected, store.managedBytes());
        long sum = 0;
        for (final String key : store.keys())
        {
            sum += store.nbytes(key);
        }
        assertEquals(expected, sum);
        final long allocated = after.bytes() - before.bytes();
        assertEquals(blocks, after.count() - before.count(), "one native allocation per block");
        assertTrue(allocated >= expected, "allocated " + allocated + " < managed " + expected);
        assertTrue(allocated <= expected * 1.01 + 64L * blocks, "allocated " + allocated + " vs managed " + expected);

        store.clear();
        assertEquals(0, store.managedBytes());
        assertTrue(NativeMemoryTracking.other().bytes() - before.bytes() < 64 * 1024, "clear freed the blocks");
    }

    @Test
    void spillsLeastRecentlyUsedAboveTargetAndReadsBackTransparently() throws Exception
    {
        final long limit = 10 << 20;
        final BlockStore store = open(context(limit).backgroundSpill(false));
        final int size = 1 << 20;
        for (int i = 0; i < 9; i++)
        {
            store.put("k" + i, pattern(i, size));
            // Touch k0 so it stays recently used.
            store.getValue("k0");
            assertTrue(store.managedBytes() <= limit, "managed " + store.managedBytes());
        }
        // Producers spill down to the spill fraction themselves (no background thread here).
        assertTrue(store.managedBytes() <= limit * 0.70, "managed " + store.managedBytes());
        assertTrue(store.spilledBytes() > 0);
        assertFalse(store.isSpilled("k0"), "recently used k0 was spilled");
        assertTrue(store.isSpilled("k1"), "least recently used k1 stayed in memory");
        try (Stream<Path> files = Files.list(store.spillDirectory()))
        {
            assertEquals(store.metrics().spilledCount(), files.count());
        }
        for (int i = 0; i < 9; i++)
        {
            assertArrayEquals(pattern(i, size), store.getValue("k" + i), "k" + i);
        }
        final MemoryMetrics m = store.metrics();
        assertTrue(m.unspillCount() > 0);
        assertEquals(9, m.blockCount());
        assertEquals(9L * (H + size), m.managedBytes() + m.spilledBytes());
    }

    @Test
    void memoryMappedSpillFilesWorkTheSame()
    {
        final BlockStore store = open(context(4 << 20).mappedSpill(true).backgroundSpill(false));
        for (int i = 0; i < 6; i++)
        {
            store.put("k" + i, pattern(i, 1 << 20));
        }
        assertTrue(store.spilledBytes() > 0);
        for (int i = 0; i < 6; i++)
        {
            assertArrayEquals(pattern(i, 1 << 20), store.getValue("k" + i));
        }
        assertTrue(store.metrics().unspillCount() > 0);
    }

    @Test
    void backgroundThreadSpillsDownToTarget() throws Exception
    {
        final long limit = 20 << 20;
        final BlockStore store = open(limit);
        final int size = 1 << 20;
        for (int i = 0; i < 13; i++)
        {
            store.put("k" + i, pattern(i, size));
        }
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (store.managedBytes() > limit * 0.60 && System.nanoTime() < deadline)
        {
            Thread.sleep(5);
        }
        assertTrue(store.managedBytes() <= limit * 0.60, "managed " + store.managedBytes());
        for (int i = 0; i < 13; i++)
        {
            assertArrayEquals(pattern(i, size), store.getValue("k" + i));
        }
    }

    @Test
    void explicitSpillWritesOutAnUnusedBlockOnly()
    {
        final BlockStore store = open(8 << 20);
        store.put("a", pattern(1, 4096));
        try (Block held = store.get("a"))
        {
            assertFalse(store.spill("a"), "a block in use was spilled");
        }
        assertTrue(store.spill("a"));
        assertFalse(store.spill("a"), "already on disk");
        assertEquals(0, store.managedBytes());
        assertEquals(H + 4096, store.spilledBytes());
        assertArrayEquals(pattern(1, 4096), store.getValue("a"));
        assertEquals(H + 4096, store.managedBytes());
        assertThrows(UnknownBlockException.class, () -> store.spill("missing"));
    }

    @Test
    void removeDeletesSpillFilesAndCloseDeletesTheDirectory() throws Exception
    {
        final BlockStore store = open(context(4 << 20).backgroundSpill(false));
        for (int i = 0; i < 8; i++)
        {
            store.put("k" + i, pattern(i, 1 << 20));
        }
        assertTrue(store.spilledBytes() > 0);
        final Path dir = store.spillDirectory();
        for (int i = 0; i < 8; i++)
        {
            store.remove("k" + i);
        }
        assertEquals(0, store.spilledBytes());
        try (Stream<Path> files = Files.list(dir))
        {
            assertEquals(0, files.count());
        }
        store.close();
        assertFalse(Files.exists(dir));
    }

    @Test
    void putThatCannotFitFailsClearlyAndLeavesTheStoreConsistent()
    {
        final long limit = 4 << 20;
        final BlockStore store = open(context(limit).backgroundSpill(false));
        final List<Block> held = new ArrayList<>();
        for (int i = 0; i < 3; i++)
        {
            store.put("k" + i, pattern(i, 1 << 20));
            held.add(store.get("k" + i)); // in use: cannot be spilled
        }
        final long managed = store.managedBytes();
        final MemoryLimitExceededException ex = assertThrows(
            MemoryLimitExceededException.class, () -> store.put("huge", new byte[2 << 20]));
        assertEquals("huge", ex.key());
        assertEquals(H + (2 << 20), ex.size());
        assertEquals(limit, ex.limit());
        assertTrue(ex.getMessage().contains("'huge'") && ex.getMessage().contains(Long.toString(limit)), ex.getMessage());
        assertFalse(store.contains("huge"));
        assertEquals(managed, store.managedBytes());
        assertEquals(0, store.metrics().reservedBytes());

        final MemoryLimitExceededException tooBig = assertThrows(
            MemoryLimitExceededException.class, () -> store.put("larger-than-limit", new byte[(int)limit]));
        assertEquals("larger-than-limit", tooBig.key());

        held.forEach(Block::close);
        store.put("huge", new byte[2 << 20]); // fits now that the others may spill
        assertTrue(store.spilledBytes() > 0);
        for (int i = 0; i < 3; i++)
        {
            assertArrayEquals(pattern(i, 1 << 20), store.getValue("k" + i));
        }
    }

    @Test
    void aSpillFileDamagedOnDiskIsReportedNotReturned() throws Exception
    {
        final BlockStore store = open(context(2 << 20).backgroundSpill(false));
        store.put("victim", pattern(3, 1 << 20));
        store.put("pusher", pattern(4, 1 << 20));
        assertTrue(store.isSpilled("victim"));
        try (Stream<Path> files = Files.list(store.spillDirectory()))
        {
            final Path file = files.findFirst().orElseThrow();
            try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"))
            {
                raf.seek(H + 1000);
                final int b = raf.read();
                raf.seek(H + 1000);
                raf.write(b ^ 0xFF);
            }
        }
        final CorruptBlockException ex = assertThrows(CorruptBlockException.class, () -> store.get("victim"));
        assertTrue(ex.getMessage().contains("'victim'"), ex.getMessage());
        assertTrue(store.isSpilled("victim"));
        assertEquals(0, store.metrics().reservedBytes());
        assertArrayEquals(pattern(4, 1 << 20), store.getValue("pusher"));
    }

    @Test
    void reservationCommitsReceivedBytesAndRefusesCorruptOnes()
    {
        final BlockStore source = open(8 << 20);
        final BlockStore target = open(8 << 20);
        source.put("x", pattern(9, 5000));
        try (Block block = source.get("x"))
        {
            block.checksum();
            try (BlockReservation r = target.reserve("x", block.length()))
            {
                io.offgrid.memory.internal.NativeMemory.copy(block.address(), r.address(), block.length());
                r.commit();
            }
            assertArrayEquals(pattern(9, 5000), target.getValue("x"));

            try (BlockReservation r = target.reserve("y", block.length()))
            {
                io.offgrid.memory.internal.NativeMemory.copy(block.address(), r.address(), block.length());
                org.agrona.UnsafeApi.putByte(r.address() + H + 17, (byte)~org.agrona.UnsafeApi.getByte(r.address() + H + 17));
                assertThrows(CorruptBlockException.class, r::commit);
            }
            assertFalse(target.contains("y"));
            assertEquals(0, target.metrics().reservedBytes());

            try (BlockReservation r = target.reserve("abandoned", 1 << 20))
            {
                assertEquals(1 << 20, r.length());
            }
            assertFalse(target.contains("abandoned"));
            assertEquals(0, target.metrics().reservedBytes());
        }
    }

    @Test
    void nullAndBuiltInValuesRoundTrip()
    {
        final BlockStore store = open(1 << 20);
        store.put("null", null);
        assertNull(store.getValue("null"));
        assertEquals(H, store.nbytes("null"));
    }

    @Test
    void leftoversOfACrashedStoreAreRemovedAtStart() throws Exception
    {
        Files.createDirectories(spillParent);
        final Process dead = new ProcessBuilder("true").start();
        dead.waitFor();
        final Path leftover = spillParent.resolve("crashed." + dead.pid());
        Files.createDirectories(leftover);
        Files.write(leftover.resolve("1.spill"), new byte[100]);
        final Path alive = spillParent.resolve("alive." + ProcessHandle.current().pid());
        Files.createDirectories(alive);

        final BlockStore store = open(1 << 20);
        assertFalse(Files.exists(leftover), "a dead store's spill directory survived");
        assertTrue(Files.exists(alive), "a live process's directory was removed");
        Files.delete(alive);
        assertTrue(Files.exists(store.spillDirectory()));
    }

    @Test
    void contextRejectsBadSettings()
    {
        assertThrows(IllegalArgumentException.class, () -> new BlockStore.Context().memoryLimit(0).conclude());
        assertThrows(IllegalArgumentException.class,
            () -> new BlockStore.Context().targetFraction(0.9).spillFraction(0.7).conclude());
        assertThrows(IllegalArgumentException.class, () -> new BlockStore.Context().name("../x").conclude());
    }

    @Test
    void closedStoreRefusesWork()
    {
        final BlockStore store = open(1 << 20);
        store.put("a", 1);
        store.close();
        assertThrows(IllegalStateException.class, () -> store.put("b", 2));
        assertThrows(IllegalStateException.class, () -> store.get("a"));
    }
}
