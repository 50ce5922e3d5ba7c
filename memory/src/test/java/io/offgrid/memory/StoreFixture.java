package io.offgrid.memory;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Base of the store tests: a private spill directory, every store closed after the test, and
 * checks that no native memory, file or spill thread is left behind.
 */
abstract class StoreFixture
{
    @TempDir
    Path tempDir;
    Path spillParent;

    private final List<BlockStore> stores = new ArrayList<>();
    private NativeMemoryTracking.Snapshot baseline;

    @BeforeEach
    void recordBaseline()
    {
        spillParent = tempDir.resolve("spill");
        baseline = NativeMemoryTracking.other();
    }

    BlockStore.Context context(final long limit)
    {
        return new BlockStore.Context().memoryLimit(limit).spillDirectory(spillParent);
    }

    BlockStore open(final BlockStore.Context ctx)
    {
        final BlockStore store = new BlockStore(ctx);
        stores.add(store);
        return store;
    }

    BlockStore open(final long limit)
    {
        return open(context(limit));
    }

    /** Close every store the test opened (idempotent). */
    void closeStores()
    {
        for (final BlockStore store : stores)
        {
            store.close();
        }
    }

    @AfterEach
    void nothingLeftBehind() throws IOException, InterruptedException
    {
        closeStores();
        if (Files.exists(spillParent))
        {
            try (Stream<Path> left = Files.list(spillParent))
            {
                assertEquals(List.of(), left.toList(), "spill directories left behind");
            }
        }
        for (int i = 0; i < 100 && spillThreadsAlive(); i++)
        {
            Thread.sleep(10);
        }
        assertTrue(!spillThreadsAlive(), "spill threads left running");
        final NativeMemoryTracking.Snapshot after = NativeMemoryTracking.other();
        // Allow the JVM's own incidental allocations (a few KiB), nothing block-sized.
        if (after.bytes() - baseline.bytes() > 64 * 1024)
        {
            fail("native memory not returned: " + baseline + " -> " + after);
        }
    }

    private static boolean spillThreadsAlive()
    {
        return Thread.getAllStackTraces().keySet().stream()
            .anyMatch(t -> t.getName().startsWith("offgrid-spill-") && t.isAlive());
    }

    static byte[] pattern(final long seed, final int length)
    {
        final byte[] bytes = new byte[length];
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < length; i++)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            bytes[i] = (byte)x;
        }
        return bytes;
    }
}
