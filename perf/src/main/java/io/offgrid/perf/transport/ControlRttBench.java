package io.offgrid.perf.transport;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.FragmentHandler;
import io.offgrid.transport.TransportNode;
import io.offgrid.transport.protocol.FetchKeyEncoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import org.HdrHistogram.Histogram;
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
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.runner.IterationType;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;

/**
 * Control message round trip between two processes over UDP loopback: a 32-byte message to an echo process
 * and back. {@code bare} is plain Aeron (no Offgrid code: one publication and subscription each way,
 * single-threaded driver stepped by the application); {@code offgrid} is two {@link TransportNode}s
 * sending an SBE FetchKey message of 32 bytes by node id. {@code idle} is the echo side's idle strategy:
 * busyspin, yield, backoff (Aeron's default parameters) or default (the transport's chosen default). This side
 * busy-spins. {@code driver} compares the embedded driver's threading modes for offgrid. JMH's sample percentiles are printed with HdrHistogram's p50/p99/p99.9 at the end.
 *
 * <pre>perf/jmh ControlRttBench -f 1 -wi 2 -i 3</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class ControlRttBench
{
    /** bare Aeron or the Offgrid transport. */
    @Param({"bare", "offgrid"})
    public String impl;

    /** Idle strategy of the echo process. */
    @Param({"busyspin", "default", "backoff", "yield"})
    public String idle;

    /** Offgrid nodes' embedded driver: INVOKER (stepped by the node's thread, the default) or SHARED (own thread). */
    @Param({"INVOKER"})
    public String driver;

    /** Offgrid nodes' bulk socket: separate (the default; control never waits behind more than a chunk) or shared with control. */
    @Param({"separate"})
    public String bulkSocket = "separate";

    private Process child;
    private BareAeron bare;
    private Subscription sub;
    private ExclusivePublication pub;
    private TransportNode node;
    private final UnsafeBuffer message = new UnsafeBuffer(ByteBuffer.allocateDirect(64));
    private int messageLength;
    private long received;
    private final FragmentHandler onEcho = (buffer, offset, length, header) -> received++;
    private final Histogram histogram = new Histogram(TimeUnit.SECONDS.toNanos(1), 3);
    private boolean recording;

    /**
     * Starts the echo process and connects to it.
     */
    @Setup(Level.Trial)
    public void setUp() throws Exception
    {
        final int myPort = Children.freePort();
        final int childPort = Children.freePort();
        child = Children.start(EchoProcess.class, impl, idle, Integer.toString(childPort), Integer.toString(myPort), driver, bulkSocket);
        if ("bare".equals(impl))
        {
            bare = new BareAeron(ThreadingMode.INVOKER, null);
            sub = bare.aeron.addSubscription("aeron:udp?endpoint=127.0.0.1:" + myPort, 1);
            pub = bare.aeron.addExclusivePublication("aeron:udp?endpoint=127.0.0.1:" + childPort, 1);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!pub.isConnected() || !sub.isConnected())
            {
                bare.invoke();
                if (System.nanoTime() > deadline)
                {
                    throw new IllegalStateException("bare echo did not connect");
                }
            }
            messageLength = 32;
        }
        else
        {
            node = TransportNode.launch(new TransportNode.Context()
                .nodeId(1)
                .listenEndpoint("127.0.0.1:" + myPort)
                .separateBulkSocket(!"shared".equals(bulkSocket))
                .driverContext(new io.offgrid.transport.TransportDriver.Context().threadingMode(ThreadingMode.valueOf(driver)))
                .useAgentRunner(false)
                .defaultHandler((peer, template, buffer, offset, length) -> received++));
            node.addPeer(2, "127.0.0.1:" + childPort);
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!node.isJoined(2))
            {
                node.doWork();
                if (System.nanoTime() > deadline)
                {
                    throw new IllegalStateException("offgrid echo did not join");
                }
            }
            final FetchKeyEncoder encoder = new FetchKeyEncoder();
            encoder.wrapAndApplyHeader(message, 0, new MessageHeaderEncoder()).requestId(1).key("key-00000001");
            messageLength = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        }
    }

    /**
     * Records into the histogram only during measurement iterations.
     */
    @Setup(Level.Iteration)
    public void iteration(final IterationParams params)
    {
        recording = params.getType() == IterationType.MEASUREMENT;
    }

    /**
     * One round trip.
     */
    @Benchmark
    public long roundTrip()
    {
        final long start = System.nanoTime();
        final long expected = received + 1;
        if (null != node)
        {
            node.send(2, message, 0, messageLength);
            while (received < expected)
            {
                node.doWork();
            }
        }
        else
        {
            while (pub.offer(message, 0, messageLength) < 0)
            {
                bare.invoke();
            }
            while (received < expected)
            {
                bare.invoke();
                sub.poll(onEcho, 1);
            }
        }
        final long rtt = System.nanoTime() - start;
        if (recording)
        {
            histogram.recordValue(Math.min(rtt, histogram.getHighestTrackableValue()));
        }
        return rtt;
    }

    /**
     * Prints the HdrHistogram figures and stops the echo process.
     */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        if (histogram.getTotalCount() > 0)
        {
            System.out.printf("%nRTT %s idle=%s (HdrHistogram, %d samples): p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us%n",
            impl, idle, histogram.getTotalCount(),
            histogram.getValueAtPercentile(50) / 1000.0, histogram.getValueAtPercentile(99) / 1000.0,
                histogram.getValueAtPercentile(99.9) / 1000.0, histogram.getMaxValue() / 1000.0);
        }
        if (null != node)
        {
            node.close();
        }
        if (null != bare)
        {
            bare.close();
        }
        Children.stop(child);
    }
}
