package io.offgrid.perf.memory;

import io.offgrid.memory.Block;
import io.offgrid.memory.BlockStore;
import org.agrona.BufferUtil;
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

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * put + get + remove of a byte[] value through the {@link BlockStore}, next to the physical limit
 * measured in the same run: {@code ByteBuffer.allocateDirect} + copy in + copy out + free.
 * {@code sharedThreshold} = 0 puts every block in /dev/shm files instead of malloc'd memory, to
 * decide where blocks should live by default.
 *
 * <pre>perf/jmh BlockStoreBench -f 1 -wi 3 -i 5</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BlockStoreBench
{
    /** Value size in bytes: 64 B, 4 KiB, 1 MiB, 64 MiB. */
    @Param({"64", "4096", "1048576", "67108864"})
    public int size;

    /** Blocks at least this long live in shared memory; "off" keeps all in private memory. */
    @Param({"off"})
    public String sharedThreshold;

    private BlockStore store;
    private byte[] value;

    /**
     * Open a store large enough to never spill here.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        final BlockStore.Context ctx = new BlockStore.Context().memoryLimit(4L << 30).name("bench");
        if (!"off".equals(sharedThreshold))
        {
            ctx.sharedMemoryThreshold(Long.parseLong(sharedThreshold));
        }
        store = new BlockStore(ctx);
        value = new byte[size];
        ThreadLocalRandom.current().nextBytes(value);
    }

    /**
     * Close the store.
     */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        store.close();
    }

    /**
     * @return the bytes read back.
     */
    @Benchmark
    public byte[] storeRoundTrip()
    {
        store.put("k", value);
        final byte[] back = store.getValue("k");
        store.remove("k");
        return back;
    }

    /**
     * put (replacing the previous value) and get a handle: the 64 B target's operation.
     *
     * @return the block's length.
     */
    @Benchmark
    public long storePutGet()
    {
        store.put("k", value);
        try (Block block = store.get("k"))
        {
            return block.length();
        }
    }

    /**
     * The limit: allocate direct memory, copy in, copy out, free.
     *
     * @return the bytes read back.
     */
    @Benchmark
    public byte[] plainDirectRoundTrip()
    {
        final ByteBuffer buffer = ByteBuffer.allocateDirect(size);
        buffer.put(value);
        buffer.flip();
        final byte[] back = new byte[size];
        buffer.get(back);
        BufferUtil.free(buffer);
        return back;
    }
}
