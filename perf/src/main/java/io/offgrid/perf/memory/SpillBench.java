package io.offgrid.perf.memory;

import io.offgrid.memory.Block;
import io.offgrid.memory.BlockStore;
import io.offgrid.memory.internal.DirectViews;
import io.offgrid.memory.internal.NativeMemory;
import org.agrona.BufferUtil;
import org.agrona.IoUtil;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
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
 * Spill 1 GiB in 64 MiB blocks, and read it back, next to plain sequential FileChannel writes and
 * reads of the same bytes to the same file system in the same run. Each operation moves 1 GiB, so
 * GB/s = 1.074 / seconds per op. An unspill must read into fresh memory, so the plain read is shown
 * both into a fresh allocation per file (the like-for-like baseline) and into one buffer reused and
 * already faulted in (the I/O limit alone).
 *
 * <pre>perf/jmh SpillBench -f 1 -wi 2 -i 5</pre>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(1)
public class SpillBench
{
    static final int BLOCK = 64 << 20;
    static final int BLOCKS = 16;

    /** A store holding 16 blocks of 64 MiB. */
    @State(Scope.Benchmark)
    public static class Store
    {
        /** Spill through memory mappings (true) or positional FileChannel I/O (false, the default). */
        @Param({"false"})
        public boolean mapped;

        BlockStore store;

        /**
         * Fill the store.
         */
        @Setup(Level.Trial)
        public void setUp()
        {
            store = new BlockStore(new BlockStore.Context().name("spillbench").memoryLimit(4L << 30)
                .backgroundSpill(false).mappedSpill(mapped));
            final byte[] value = new byte[BLOCK - BlockStore.HEADER_LENGTH];
            ThreadLocalRandom.current().nextBytes(value);
            for (int i = 0; i < BLOCKS; i++)
            {
                store.put("b" + i, value);
            }
        }

        /**
         * Close the store.
         */
        @TearDown(Level.Trial)
        public void tearDown()
        {
            store.close();
        }
    }

    /** Every block in memory before the iteration. */
    @State(Scope.Benchmark)
    public static class InMemory
    {
        /**
         * @param s the store.
         */
        @Setup(Level.Iteration)
        public void prepare(final Store s)
        {
            for (int i = 0; i < BLOCKS; i++)
            {
                s.store.get("b" + i).close();
            }
        }
    }

    /** Every block on disk before the iteration. */
    @State(Scope.Benchmark)
    public static class OnDisk
    {
        /**
         * @param s the store.
         */
        @Setup(Level.Iteration)
        public void prepare(final Store s)
        {
            for (int i = 0; i < BLOCKS; i++)
            {
                s.store.spill("b" + i);
            }
        }
    }

    /** Plain files: a 64 MiB source buffer and sixteen files to read. */
    @State(Scope.Benchmark)
    public static class Plain
    {
        ByteBuffer source;
        ByteBuffer reused;
        Path dir;
        int round;

        /**
         * @throws IOException if the directory cannot be made.
         */
        @Setup(Level.Trial)
        public void setUp() throws IOException
        {
            source = ByteBuffer.allocateDirect(BLOCK);
            reused = ByteBuffer.allocateDirect(BLOCK);
            final byte[] bytes = new byte[BLOCK];
            ThreadLocalRandom.current().nextBytes(bytes);
            source.put(bytes).clear();
            dir = Files.createTempDirectory("offgrid-spillbench");
            for (int i = 0; i < BLOCKS; i++)
            {
                write(dir.resolve("r" + i), source);
            }
        }

        /**
         * Remove files written by the write benchmark.
         *
         * @throws IOException on failure.
         */
        @TearDown(Level.Iteration)
        public void cleanWrites() throws IOException
        {
            try (var files = Files.list(dir))
            {
                for (final Path f : (Iterable<Path>)files::iterator)
                {
                    if (f.getFileName().toString().startsWith("w"))
                    {
                        Files.delete(f);
                    }
                }
            }
        }

        /**
         * Free everything.
         */
        @TearDown(Level.Trial)
        public void tearDown()
        {
            BufferUtil.free(source);
            BufferUtil.free(reused);
            IoUtil.delete(dir.toFile(), true);
        }
    }

    /**
     * Sixteen 64 MiB blocks read from files into fresh memory before the iteration, as the blocks a
     * store spills were once read or received: the like-for-like source for a plain write.
     */
    @State(Scope.Benchmark)
    public static class FreshBlocks
    {
        final long[] addresses = new long[BLOCKS];

        /**
         * @param p plain state (its files).
         * @throws IOException on failure.
         */
        @Setup(Level.Iteration)
        public void prepare(final Plain p) throws IOException
        {
            final ByteBuffer view = DirectViews.newView();
            for (int i = 0; i < BLOCKS; i++)
            {
                addresses[i] = NativeMemory.allocate(BLOCK);
                read(p.dir.resolve("r" + i), DirectViews.point(view, addresses[i], BLOCK));
            }
        }

        /**
         * Free the blocks.
         */
        @TearDown(Level.Iteration)
        public void free()
        {
            for (int i = 0; i < BLOCKS; i++)
            {
                NativeMemory.free(addresses[i], BLOCK);
            }
        }
    }

    static void write(final Path file, final ByteBuffer bytes) throws IOException
    {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
        {
            bytes.clear();
            while (bytes.hasRemaining())
            {
                ch.write(bytes);
            }
        }
    }

    static long read(final Path file, final ByteBuffer into) throws IOException
    {
        long read = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ))
        {
            into.clear();
            int n;
            while (into.hasRemaining() && (n = ch.read(into)) >= 0)
            {
                read += n;
            }
        }
        return read;
    }

    /**
     * Spill 1 GiB.
     *
     * @param s store.
     * @param m blocks in memory.
     * @return blocks spilled.
     */
    @Benchmark
    public int storeSpill(final Store s, final InMemory m)
    {
        int spilled = 0;
        for (int i = 0; i < BLOCKS; i++)
        {
            spilled += s.store.spill("b" + i) ? 1 : 0;
        }
        return spilled;
    }

    /**
     * Read 1 GiB back from disk.
     *
     * @param s store.
     * @param d blocks on disk.
     * @return bytes read back.
     */
    @Benchmark
    public long storeUnspill(final Store s, final OnDisk d)
    {
        long bytes = 0;
        for (int i = 0; i < BLOCKS; i++)
        {
            try (Block block = s.store.get("b" + i))
            {
                bytes += block.length();
            }
        }
        return bytes;
    }

    /**
     * Write 1 GiB as sixteen new files.
     *
     * @param p plain state.
     * @return files written.
     * @throws IOException on failure.
     */
    @Benchmark
    public int plainWrite(final Plain p) throws IOException
    {
        p.round++;
        for (int i = 0; i < BLOCKS; i++)
        {
            write(p.dir.resolve("w" + p.round + "-" + i), p.source);
        }
        return BLOCKS;
    }

    /**
     * Write 1 GiB from blocks that were themselves freshly read (see {@link FreshBlocks}).
     *
     * @param p plain state.
     * @param f the blocks.
     * @return files written.
     * @throws IOException on failure.
     */
    @Benchmark
    public int plainWriteFreshMemory(final Plain p, final FreshBlocks f) throws IOException
    {
        p.round++;
        final ByteBuffer view = DirectViews.newView();
        for (int i = 0; i < BLOCKS; i++)
        {
            write(p.dir.resolve("w" + p.round + "-" + i), DirectViews.point(view, f.addresses[i], BLOCK));
        }
        return BLOCKS;
    }

    /**
     * Read 1 GiB into a fresh native allocation per file, as an unspill must.
     *
     * @param p plain state.
     * @return bytes read.
     * @throws IOException on failure.
     */
    @Benchmark
    public long plainReadFresh(final Plain p) throws IOException
    {
        long bytes = 0;
        final ByteBuffer view = DirectViews.newView();
        for (int i = 0; i < BLOCKS; i++)
        {
            final long address = NativeMemory.allocate(BLOCK);
            try
            {
                bytes += read(p.dir.resolve("r" + i), DirectViews.point(view, address, BLOCK));
            }
            finally
            {
                NativeMemory.free(address, BLOCK);
            }
        }
        return bytes;
    }

    /**
     * Read 1 GiB into one buffer reused (pages already faulted in): the file system alone.
     *
     * @param p plain state.
     * @return bytes read.
     * @throws IOException on failure.
     */
    @Benchmark
    public long plainReadReused(final Plain p) throws IOException
    {
        long bytes = 0;
        for (int i = 0; i < BLOCKS; i++)
        {
            bytes += read(p.dir.resolve("r" + i), p.reused);
        }
        return bytes;
    }
}
