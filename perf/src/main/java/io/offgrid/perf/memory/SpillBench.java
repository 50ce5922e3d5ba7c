package io.offgrid.perf.memory;

import io.offgrid.memory.Block;
import io.offgrid.memory.BlockStore;
import org.agrona.BufferUtil;
import org.agrona.IoUtil;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Spill and read back 1 GiB in 64 MiB blocks, next to a plain sequential FileChannel write and
 * read of the same bytes to the same file system in the same run. Each operation moves 1 GiB, so
 * GB/s = 1.074 / (seconds per op).
 *
 * <pre>perf/jmh SpillBench -f 1 -wi 2 -i 5</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(1)
public class SpillBench
{
    private static final int BLOCK = 64 << 20;
    private static final int BLOCKS = 16;

    /** Spill through memory mappings (true) or positional FileChannel I/O (false, the default). */
    @org.openjdk.jmh.annotations.Param({"false", "true"})
    public boolean mapped;

    private BlockStore store;
    private ByteBuffer plain;
    private Path plainDir;

    /**
     * A store holding 1 GiB in memory and a direct buffer of 64 MiB for the plain baseline.
     *
     * @throws IOException if the temporary directory cannot be made.
     */
    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        store = new BlockStore(new BlockStore.Context().name("spillbench").memoryLimit(4L << 30)
            .backgroundSpill(false).mappedSpill(mapped));
        final byte[] value = new byte[BLOCK - BlockStore.HEADER_LENGTH];
        ThreadLocalRandom.current().nextBytes(value);
        for (int i = 0; i < BLOCKS; i++)
        {
            store.put("b" + i, value);
        }
        plain = ByteBuffer.allocateDirect(BLOCK);
        plain.put(value).clear();
        plainDir = Files.createTempDirectory("offgrid-spillbench");
    }

    /**
     * Bring every block back into memory before a spill iteration.
     */
    @Setup(Level.Iteration)
    public void inMemory()
    {
        for (int i = 0; i < BLOCKS; i++)
        {
            store.get("b" + i).close();
        }
    }

    /**
     * Release everything.
     */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        store.close();
        BufferUtil.free(plain);
        IoUtil.delete(plainDir.toFile(), true);
    }

    /**
     * Spill 1 GiB, then read it back.
     *
     * @return blocks spilled.
     */
    @Benchmark
    public int storeSpillThenUnspill()
    {
        int spilled = 0;
        for (int i = 0; i < BLOCKS; i++)
        {
            spilled += store.spill("b" + i) ? 1 : 0;
        }
        for (int i = 0; i < BLOCKS; i++)
        {
            try (Block block = store.get("b" + i))
            {
                spilled += block.length() > 0 ? 0 : 1;
            }
        }
        return spilled;
    }

    /**
     * Write 1 GiB as sixteen new 64 MiB files with FileChannel.write, read them back, delete them.
     *
     * @return bytes read.
     * @throws IOException on I/O failure.
     */
    @Benchmark
    public long plainWriteThenRead() throws IOException
    {
        long read = 0;
        for (int i = 0; i < BLOCKS; i++)
        {
            try (FileChannel ch = FileChannel.open(plainDir.resolve(i + ".bin"),
                StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
            {
                plain.clear();
                while (plain.hasRemaining())
                {
                    ch.write(plain);
                }
            }
        }
        for (int i = 0; i < BLOCKS; i++)
        {
            final Path file = plainDir.resolve(i + ".bin");
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ))
            {
                plain.clear();
                while (plain.hasRemaining())
                {
                    final int n = ch.read(plain);
                    if (n < 0)
                    {
                        break;
                    }
                    read += n;
                }
            }
            Files.delete(file);
        }
        return read;
    }
}
