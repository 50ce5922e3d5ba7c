package io.offgrid.perf.transport;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.FragmentHandler;
import io.offgrid.transport.BlockAllocator;
import io.offgrid.transport.BlockListener;
import io.offgrid.transport.TransportDriver;
import io.offgrid.transport.TransportNode;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
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

import java.util.concurrent.TimeUnit;

/**
 * Block throughput between two nodes (sender on the benchmark thread, receiver on its own agent thread), one
 * operation = one whole block delivered and acknowledged. Bytes per second = score x size.
 * <ul>
 * <li>{@code bare}: plain Aeron, no Offgrid code: the block offered in 1 MiB messages straight from native
 * memory, the receiver copying each fragment into its destination, then an 8-byte ack.</li>
 * <li>{@code offgrid}: {@link TransportNode#sendBlock}, with chunk headers, CRC32C both sides and the
 * receiver's verdict message.</li>
 * </ul>
 * {@code udp}: each node its own driver (INVOKER, stepped by the node's thread), UDP loopback, MTU 65504,
 * 4 MiB socket buffers and window. {@code ipc}: one shared driver (SHARED thread), Aeron IPC. Both stream (direct
 * reads off). {@code direct}: Offgrid nodes on their own drivers with direct reads on (the receiver copies the block
 * out of the sender's memory with process_vm_readv; both nodes are in this JVM, which reads itself the same way),
 * against bare Aeron IPC, the fastest same-host path plain Aeron has. Destinations
 * are allocated and touched once in setup, so page faults of fresh memory are not measured here.
 *
 * <pre>perf/jmh BlockThroughputBench -f 1 -wi 2 -i 3</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class BlockThroughputBench
{
    private static final int CHUNK = 1024 * 1024;
    private static final long TRANSFER_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(60);

    /** bare Aeron or the Offgrid transport. */
    @Param({"bare", "offgrid"})
    public String impl;

    /** udp (separate drivers), ipc (shared driver), or direct (same-host read; bare Aeron over IPC). */
    @Param({"udp", "ipc", "direct"})
    public String medium;

    /** Block size in bytes. */
    @Param({"1048576", "67108864"})
    public long size;

    /** Receiver thread idle strategy: busyspin, or default (the transport's: backoff spinning, parking up to 50 us). */
    @Param({"default"})
    public String idle;

    /** Offgrid chunk length (the bare sender always offers 1 MiB messages). */
    @Param({"1048576"})
    public int chunk;

    /** Offgrid receiver's direct-read helper threads: default (the processors less one, at most 3) or a count. */
    @Param({"default"})
    public String readHelpers;

    private long src;
    private long dst;
    private AgentRunner receiverRunner;
    private TransportDriver sharedDriver;
    private TransportNode sender;
    private TransportNode receiver;
    private boolean done;
    private BareAeron bareSender;
    private BareAeron bareReceiver;
    private ExclusivePublication dataPub;
    private Subscription ackSub;
    private final UnsafeBuffer chunkView = new UnsafeBuffer(0, 0);
    private final FragmentHandler onAck = (buffer, offset, length, header) -> done = true;

    private IdleStrategy idleStrategy()
    {
        return "busyspin".equals(idle) ? new BusySpinIdleStrategy() :
            new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(50));
    }

    /**
     * Allocates and touches both blocks, starts both ends.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        // As the block store allocates: regions of 2 MiB and up on huge pages, for every implementation alike.
        io.offgrid.memory.internal.LargePages.awaitReady(10, TimeUnit.SECONDS);
        src = io.offgrid.memory.internal.NativeMemory.allocate(size);
        UnsafeApi.setMemory(src, size, (byte)7);
        dst = io.offgrid.memory.internal.NativeMemory.allocate(size);
        UnsafeApi.setMemory(dst, size, (byte)0);
        if ("offgrid".equals(impl))
        {
            setUpOffgrid();
        }
        else
        {
            setUpBare();
        }
    }

    private void setUpOffgrid()
    {
        final boolean ipc = "ipc".equals(medium);
        if (ipc)
        {
            sharedDriver = TransportDriver.launch(new TransportDriver.Context());
        }
        final boolean direct = "direct".equals(medium);
        final TransportNode.Context rc = new TransportNode.Context()
            .nodeId(2)
            .directReads(direct)
            .directReadHelpers("default".equals(readHelpers) ? new TransportNode.Context().directReadHelpers() :
                Integer.parseInt(readHelpers))
            .idleStrategy(idleStrategy())
            .blockAllocator(new BlockAllocator()
            {
                public long allocate(final long p, final long t, final long length, final DirectBuffer m, final int o, final int l)
                {
                    return dst;
                }

                public void free(final long address, final long length)
                {
                }
            });
        final TransportNode.Context sc = new TransportNode.Context()
            .nodeId(1)
            .directReads(direct)
            .chunkLength(chunk)
            .useAgentRunner(false)
            .blockListener(new BlockListener()
            {
                public void onBlockSent(final long peerId, final long transferId)
                {
                    done = true;
                }
            });
        if (ipc)
        {
            rc.aeronDirectoryName(sharedDriver.aeronDirectoryName());
            sc.aeronDirectoryName(sharedDriver.aeronDirectoryName());
        }
        receiver = TransportNode.launch(rc);
        sender = TransportNode.launch(sc);
        sender.addPeer(2, receiver.endpoint());
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!sender.isJoined(2))
        {
            sender.doWork();
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException("receiver did not join");
            }
        }
    }

    private void setUpBare()
    {
        final boolean ipc = !"udp".equals(medium);
        final String dataChannel;
        final String ackChannel;
        final String dataSubChannel;
        if (ipc)
        {
            bareSender = new BareAeron(ThreadingMode.SHARED, null);
            bareReceiver = new BareAeron(null, bareSender.dir());
            dataChannel = "aeron:ipc?mtu=65504|term-length=16777216|sparse=true";
            dataSubChannel = "aeron:ipc";
            ackChannel = "aeron:ipc";
        }
        else
        {
            bareSender = new BareAeron(ThreadingMode.INVOKER, null);
            bareReceiver = new BareAeron(ThreadingMode.INVOKER, null);
            final int receiverPort = Children.freePort();
            final int senderPort = Children.freePort();
            dataChannel = "aeron:udp?endpoint=127.0.0.1:" + receiverPort + "|mtu=65504|term-length=16777216|sparse=true|so-sndbuf=4194304";
            dataSubChannel = "aeron:udp?endpoint=127.0.0.1:" + receiverPort + "|so-rcvbuf=4194304|rcv-wnd=4194304";
            ackChannel = "aeron:udp?endpoint=127.0.0.1:" + senderPort;
        }
        dataPub = bareSender.aeron.addExclusivePublication(dataChannel, 10);
        ackSub = bareSender.aeron.addSubscription(ackChannel, 11);
        final Subscription dataSub = bareReceiver.aeron.addSubscription(dataSubChannel, 10);
        final ExclusivePublication ackPub = bareReceiver.aeron.addExclusivePublication(ackChannel, 11);
        final UnsafeBuffer ack = new UnsafeBuffer(new byte[8]);
        final long[] received = new long[1];
        final FragmentHandler copy = (buffer, offset, length, header) ->
        {
            UnsafeApi.copyMemory(buffer.byteArray(), buffer.addressOffset() + offset, null, dst + received[0], length);
            received[0] += length;
        };
        final BareAeron rx = bareReceiver;
        receiverRunner = new AgentRunner(idleStrategy(), Throwable::printStackTrace, null, new Agent()
        {
            public int doWork()
            {
                int work = rx.invoke() + dataSub.poll(copy, 64);
                if (received[0] >= size)
                {
                    received[0] = 0;
                    while (ackPub.offer(ack, 0, 8) < 0)
                    {
                        rx.invoke();
                    }
                    work++;
                }
                return work;
            }

            public String roleName()
            {
                return "bare-receiver";
            }
        });
        AgentRunner.startOnThread(receiverRunner);
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!dataPub.isConnected() || !ackSub.isConnected())
        {
            bareSender.invoke();
            if (System.nanoTime() > deadline)
            {
                throw new IllegalStateException("bare receiver did not connect");
            }
        }
    }

    /**
     * Sends one block and waits for the receiver's confirmation.
     */
    @Benchmark
    public boolean transfer()
    {
        done = false;
        // A stalled end fails the call instead of hanging the benchmark (or the bench harness that uses it).
        final long deadline = System.nanoTime() + TRANSFER_TIMEOUT_NS;
        if (null != sender)
        {
            sender.sendBlock(2, src, size, chunkView, 0, 0);
            while (!done)
            {
                sender.doWork();
                checkDeadline(deadline);
            }
            return done;
        }
        for (long offset = 0; offset < size; offset += CHUNK)
        {
            final int n = (int)Math.min(CHUNK, size - offset);
            chunkView.wrap(src + offset, n);
            while (dataPub.offer(chunkView, 0, n) < 0)
            {
                bareSender.invoke();
                checkDeadline(deadline);
            }
        }
        while (!done)
        {
            bareSender.invoke();
            ackSub.poll(onAck, 1);
            checkDeadline(deadline);
        }
        return done;
    }

    private void checkDeadline(final long deadline)
    {
        if (System.nanoTime() - deadline > 0)
        {
            throw new IllegalStateException(impl + " " + medium + " transfer of " + size + " bytes took more than " +
                TimeUnit.NANOSECONDS.toSeconds(TRANSFER_TIMEOUT_NS) + " s");
        }
    }

    /**
     * Stops both ends and frees the blocks.
     */
    @TearDown(Level.Trial)
    public void tearDown()
    {
        CloseHelper.quietCloseAll(receiverRunner, sender, receiver, bareSender, bareReceiver, sharedDriver);
        io.offgrid.memory.internal.NativeMemory.free(src, size);
        io.offgrid.memory.internal.NativeMemory.free(dst, size);
    }
}
