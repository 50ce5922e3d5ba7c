package io.offgrid.memory;

import io.offgrid.memory.internal.LargePages;
import io.offgrid.memory.internal.NativeMemory;
import org.agrona.UnsafeApi;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Regions of 2 MiB and more: aligned, advised as huge pages, freed exactly, wrong frees refused. */
class LargePagesTest
{
    private static final long MIB = 1024 * 1024;

    @Test
    void largeRegionsAreAlignedWhollyUsableAndFreedToTheBaseline()
    {
        final NativeMemoryTracking.Snapshot before = NativeMemoryTracking.other();
        for (final long length : new long[]{LargePages.SIZE, LargePages.SIZE + 1, 3 * LargePages.SIZE + 12_345, 64 * MIB})
        {
            final long address = NativeMemory.allocate(length);
            try
            {
                assertEquals(0, address % LargePages.SIZE, "aligned to a huge page, length " + length);
                UnsafeApi.setMemory(address, length, (byte)0x5a);
                assertEquals(0x5a, UnsafeApi.getByte(address));
                assertEquals(0x5a, UnsafeApi.getByte(address + length - 1));
            }
            finally
            {
                NativeMemory.free(address, length);
            }
        }
        final NativeMemoryTracking.Snapshot after = NativeMemoryTracking.other();
        assertEquals(before.count(), after.count(), "every allocation freed");
        assertEquals(before.bytes(), after.bytes(), 4096, "native memory back to its baseline");
    }

    @Test
    void aFreeWithTheWrongKindOfLengthIsRefusedNotACrash()
    {
        final long large = NativeMemory.allocate(4 * MIB);
        assertTrue(assertThrows(IllegalStateException.class, () -> NativeMemory.free(large, 100))
            .getMessage().contains("is a large region"));
        NativeMemory.free(large, 4 * MIB);

        NativeMemory.free(0, 0); // allocate(0)'s null, freed like free(NULL)
        NativeMemory.free(0, 4 * MIB);
        final long small = NativeMemory.allocate(64);
        assertTrue(assertThrows(IllegalStateException.class, () -> NativeMemory.free(small, 4 * MIB))
            .getMessage().contains("not a large region"));
        NativeMemory.free(small, 64);
    }

    /**
     * The advice itself ("hg" in the mapping's VmFlags). Whether the pages then come huge depends on the region:
     * memory the C heap hands out again is already backed by small pages and faults no more (which is the point).
     */
    @Test
    void largeRegionsAreAdvisedAsHugePages() throws Exception
    {
        assumeTrue(LargePages.awaitReady(30, TimeUnit.SECONDS),
            "no madvise binding or transparent huge pages set to never on this machine");
        final long advisedBefore = LargePages.advisedCount();
        final long length = 16 * MIB;
        final long address = NativeMemory.allocate(length);
        try
        {
            assertEquals(advisedBefore + 1, LargePages.advisedCount());
            UnsafeApi.setMemory(address, length, (byte)1);
            final String flags = mappingField(address, "VmFlags:");
            assertTrue((" " + flags + " ").contains(" hg "), "advised as huge pages: VmFlags " + flags);
        }
        finally
        {
            NativeMemory.free(address, length);
        }
    }

    /** A field of the mapping that holds {@code address}, from /proc/self/smaps. */
    private static String mappingField(final long address, final String field) throws Exception
    {
        final List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        boolean inside = false;
        for (final String line : lines)
        {
            final int dash = line.indexOf('-');
            final int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+"))
            {
                final long start = Long.parseUnsignedLong(line.substring(0, dash), 16);
                final long end = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = start <= address && address < end;
            }
            else if (inside && line.startsWith(field))
            {
                return line.substring(field.length()).trim();
            }
        }
        throw new AssertionError("no mapping holds " + Long.toHexString(address));
    }
}
