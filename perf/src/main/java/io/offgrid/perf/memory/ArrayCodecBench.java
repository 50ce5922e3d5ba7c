package io.offgrid.perf.memory;

import io.offgrid.memory.Codec;
import io.offgrid.memory.CodecRegistry;
import io.offgrid.memory.internal.NativeMemory;
import io.offgrid.memory.internal.ParallelCopy;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
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

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Encode and decode of a large {@code double[]} by the built-in codec: shared with {@link ParallelCopy}'s helper
 * threads (the default) against the caller alone ({@link ParallelCopy#callerOnly}), in the same JVM and run, so the
 * ratio is the helpers' gain. Destination memory is allocated and touched once, up front: the figures are the copies,
 * not first-touch page faults. {@code decode} allocates its array each time, as a gather does.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsPrepend = {"-Xms3g", "-Xmx3g", "-XX:+AlwaysPreTouch"})
public class ArrayCodecBench
{
    /** Array size in MiB. */
    @Param({"4", "64", "256"})
    public int mib;

    private double[] value;
    private Codec<Object> codec;
    private long address;
    private long bytes;
    private UnsafeBuffer buffer;

    /** The array, its codec and a touched native destination. */
    @Setup(Level.Trial)
    public void setUp()
    {
        value = new double[mib << 17];
        Arrays.fill(value, 1.5);
        codec = new CodecRegistry().codecFor(value);
        bytes = (long)mib << 20;
        address = NativeMemory.allocate(bytes);
        UnsafeApi.setMemory(address, bytes, (byte)0);
        buffer = new UnsafeBuffer(address, (int)bytes);
        codec.encode(value, buffer, 0);
    }

    /** Frees the destination. */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        NativeMemory.free(address, bytes);
    }

    /** @return the buffer, encoded with helpers. */
    @Benchmark
    public UnsafeBuffer encode()
    {
        codec.encode(value, buffer, 0);
        return buffer;
    }

    /** @return the buffer, encoded by this thread alone. */
    @Benchmark
    public UnsafeBuffer encodeCallerOnly()
    {
        ParallelCopy.callerOnly(() -> codec.encode(value, buffer, 0));
        return buffer;
    }

    /** @return a new array decoded with helpers. */
    @Benchmark
    public Object decode()
    {
        return codec.decode(buffer, 0, (int)bytes);
    }

    /** @return a new array decoded by this thread alone. */
    @Benchmark
    public Object decodeCallerOnly()
    {
        final Object[] out = new Object[1];
        ParallelCopy.callerOnly(() -> out[0] = codec.decode(buffer, 0, (int)bytes));
        return out[0];
    }
}
