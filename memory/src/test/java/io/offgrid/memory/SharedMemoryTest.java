package io.offgrid.memory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class SharedMemoryTest extends StoreFixture
{
    private Path shmParent;

    @BeforeEach
    void shm()
    {
        shmParent = Paths.get("/dev/shm", "offgrid-test-" + UUID.randomUUID());
    }

    @AfterEach
    void shmGone()
    {
        closeStores();
        assertFalse(Files.exists(shmParent), "shared-memory directory left behind: " + shmParent);
    }

    @Test
    void blocksAboveTheThresholdLiveInSharedFilesAndAreImportedWithOneCopy() throws Exception
    {
        final BlockStore owner = open(context(64 << 20).name("owner").sharedMemoryDirectory(shmParent)
            .sharedMemoryThreshold(4096));
        final BlockStore reader = open(context(64 << 20).name("reader"));
        owner.put("small", pattern(1, 100));
        owner.put("large", pattern(2, 3 << 20));
        try (Block small = owner.get("small"); Block large = owner.get("large"))
        {
            assertNull(small.sharedLocation(), "below the threshold: private memory");
            final SharedBlockLocation at = large.sharedLocation();
            assertNotNull(at);
            assertTrue(at.file().startsWith(shmParent), at.toString());
            assertEquals(large.length(), Files.size(at.file()));
            large.checksum();
            reader.importShared("large", at);
        }
        assertArrayEquals(pattern(2, 3 << 20), reader.getValue("large"));
        assertArrayEquals(pattern(2, 3 << 20), owner.getValue("large"));
        assertEquals(owner.nbytes("large"), reader.nbytes("large"));

        owner.remove("large");
        try (var files = Files.list(owner.sharedMemoryDirectory()))
        {
            assertEquals(0, files.count(), "shared file of a removed block survived");
        }
    }

    @Test
    void largeArraysGoingIntoSharedFilesAreEncodedByTheCallerAlone()
    {
        final BlockStore owner = open(context(256 << 20).name("owner").sharedMemoryDirectory(shmParent)
            .sharedMemoryThreshold(4096));
        final BlockStore local = open(context(256 << 20).name("local"));
        final long[] value = new long[8 << 20]; // 64 MiB: shared with copy helpers when it goes to private memory
        java.util.Arrays.fill(value, 5L);
        final long before = io.offgrid.memory.internal.ParallelCopy.chunksByHelpers();
        for (int i = 0; i < 5; i++)
        {
            owner.put("shared-" + i, value); // a full /dev/shm would fault inside the copy: on this thread only
        }
        assertEquals(before, io.offgrid.memory.internal.ParallelCopy.chunksByHelpers(), "no helper wrote a file mapping");
        for (int i = 0; i < 20 && io.offgrid.memory.internal.ParallelCopy.chunksByHelpers() == before; i++)
        {
            local.put("private", value);
        }
        assertTrue(io.offgrid.memory.internal.ParallelCopy.chunksByHelpers() > before, "private memory is shared with helpers");
        assertArrayEquals(value, owner.getValue("shared-4"));
    }

    @Test
    void anotherProcessCopiesABlockOutOfThisOnesSharedMemory() throws Exception
    {
        final int length = 16 << 20;
        final List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        for (final String arg : ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (arg.startsWith("--add-") || arg.startsWith("-Dchronicle"))
            {
                command.add(arg);
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(SharedBlockChild.class.getName());
        command.add(shmParent.toString());
        command.add(spillParent.toString());
        command.add(Integer.toString(length));
        command.add("99");
        final Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try
        {
            final BufferedReader out = new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line;
            do
            {
                line = out.readLine();
            }
            while (line != null && !line.startsWith("LOCATION "));
            assertNotNull(line, "child printed no location");
            final String[] parts = line.split(" ");
            final SharedBlockLocation at = new SharedBlockLocation(
                Paths.get(parts[1]), Long.parseLong(parts[2]), Long.parseLong(parts[3]));

            final BlockStore store = open(context(64 << 20).name("parent"));
            store.importShared("copied", at);
            assertArrayEquals(pattern(99, length), store.getValue("copied"));

            child.getOutputStream().write('\n');
            child.getOutputStream().flush();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not exit");
            assertEquals(0, child.exitValue());
            assertFalse(Files.exists(at.file()), "child's shared block survived its close");
        }
        finally
        {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
