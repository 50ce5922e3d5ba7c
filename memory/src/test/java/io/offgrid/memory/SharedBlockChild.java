package io.offgrid.memory;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;

/**
 * A second process for {@link SharedMemoryTest}: stores a block in shared memory, prints where it
 * lives, and keeps it there until told to stop on standard input.
 */
public final class SharedBlockChild
{
    private SharedBlockChild()
    {
    }

    /**
     * @param args shared-memory parent directory, spill parent directory, block length, seed.
     * @throws Exception on any failure (the parent sees the exit code).
     */
    public static void main(final String[] args) throws Exception
    {
        final BlockStore.Context ctx = new BlockStore.Context()
            .name("child")
            .memoryLimit(1L << 30)
            .sharedMemoryDirectory(Paths.get(args[0]))
            .spillDirectory(Paths.get(args[1]))
            .sharedMemoryThreshold(0);
        try (BlockStore store = new BlockStore(ctx))
        {
            store.put("shared", StoreFixture.pattern(Long.parseLong(args[3]), Integer.parseInt(args[2])));
            try (Block block = store.get("shared"))
            {
                block.checksum();
                final SharedBlockLocation at = block.sharedLocation();
                System.out.println("LOCATION " + at.file() + " " + at.offset() + " " + at.length());
                System.out.flush();
            }
            final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            in.readLine();
        }
    }
}
