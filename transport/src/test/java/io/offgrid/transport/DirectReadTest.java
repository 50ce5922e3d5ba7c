package io.offgrid.transport;

import io.aeron.ExclusivePublication;
import io.offgrid.transport.protocol.BlockOfferEncoder;
import io.offgrid.transport.protocol.BlockStatus;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import org.agrona.CloseHelper;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Same-host blocks read from the sender's memory (BlockOffer + process_vm_readv), between two nodes of this JVM:
 * the kernel call is the same for this process as for another (MultiProcessTest covers other processes).
 */
@Timeout(120)
class DirectReadTest
{
    private static final long KIB = 1024;
    private static final long MIB = 1024 * KIB;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<Long> sources = new ArrayList<>();
    private final TrackingAllocator allocA = new TrackingAllocator();
    private final TrackingAllocator allocB = new TrackingAllocator();
    private final Events ea = new Events(allocA);
    private final Events eb = new Events(allocB);
    private TransportNode a;
    private TransportNode b;

    @BeforeAll
    static void binding() throws InterruptedException
    {
        assertTrue(ProcessMemory.awaitReady(30_000), "process_vm_readv binding loads on Linux");
    }

    @AfterEach
    void closeAll()
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        for (final long address : sources)
        {
            UnsafeApi.freeMemory(address);
        }
        assertEquals(0, allocA.outstandingBytes(), "a's native memory back to baseline");
        assertEquals(0, allocB.outstandingBytes(), "b's native memory back to baseline");
        Nodes.assertNoDriverDirectories();
    }

    private void start(final boolean bReads)
    {
        a = TransportNode.launch(Nodes.context(1, ea, allocA));
        closeables.add(a);
        b = TransportNode.launch(Nodes.context(2, eb, allocB).directReads(bReads));
        closeables.add(b);
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
    }

    private long send(final TransportNode from, final long to, final long length, final long seed)
    {
        final long address = Pattern.allocateFilled(length, seed);
        sources.add(address);
        final byte[] meta = Events.seedMetadata(seed);
        return from.sendBlock(to, address, length, new UnsafeBuffer(meta), 0, meta.length);
    }

    @Test
    void blocksFromTheThresholdUpAreReadFromTheSendersMemory()
    {
        start(true);
        final long[] sizes = {64 * KIB - 1, 64 * KIB, MIB + 7, 64 * MIB};
        for (int i = 0; i < sizes.length; i++)
        {
            final long id = send(a, 2, sizes[i], 40 + i);
            final int n = i + 1;
            Nodes.await("block of " + sizes[i], () -> eb.received.size() == n && ea.sent.size() == n, 30_000, a, b);
            assertEquals(id, eb.received.get(i).transferId());
            assertEquals(sizes[i], eb.received.get(i).length());
            assertTrue(eb.received.get(i).intact(), "content of block " + sizes[i]);
            assertEquals("seed:" + (40 + i), eb.received.get(i).metadata());
        }
        assertEquals(3, b.counters().blocksReadDirect(), "every block but the one under 64 KiB");
        assertEquals(0, a.counters().offersStreamed());
        assertEquals(64 * KIB - 1 + 64 * KIB + MIB + 7 + 64 * MIB, b.counters().bytesReceived());

        // several at once, both ways, share the reader's turns
        final long x = send(a, 2, 32 * MIB, 50);
        final long y = send(a, 2, 3 * MIB, 51);
        final long z = send(b, 1, 8 * MIB, 52);
        Nodes.await("three more", () -> eb.received.size() == 6 && ea.received.size() == 1, 30_000, a, b);
        assertTrue(ea.sent.containsAll(List.of(x, y)) || ea.sent.size() >= 5);
        assertTrue(eb.received.stream().allMatch(Events.Received::intact) && ea.received.get(0).intact());
        assertEquals(z, ea.received.get(0).transferId());
        assertTrue(ea.receiveFailed.isEmpty() && eb.receiveFailed.isEmpty() && ea.sendFailed.isEmpty() && eb.sendFailed.isEmpty());
    }

    @Test
    void controlMessagesPassBetweenTheChunksOfADirectRead()
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 80); // filled before the nodes start: first touch is slow
        sources.add(source);
        start(true);
        final byte[] meta = Events.seedMetadata(80);
        a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("read under way", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        final UnsafeBuffer msg = new UnsafeBuffer(new byte[256]);
        assertTrue(a.send(2, msg, 0, Nodes.heartbeat(msg, 1)));
        final long[] bytesWhenHandled = {-1};
        Nodes.await("control message", () ->
        {
            if (!eb.messages.isEmpty() && bytesWhenHandled[0] < 0)
            {
                bytesWhenHandled[0] = b.counters().bytesReceived();
            }
            return bytesWhenHandled[0] >= 0;
        }, 10_000, a, b);
        assertTrue(bytesWhenHandled[0] < length, "handled during the read, at " + bytesWhenHandled[0] + " bytes");
        Nodes.await("block", () -> eb.received.size() == 1, 30_000, a, b);
        assertTrue(eb.received.get(0).intact());
        assertEquals(1, b.counters().blocksReadDirect());
    }

    @Test
    void closingWhileAReaderCopiesTheBlockWaitsForItToStop() throws Exception
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 90);
        sources.add(source);
        start(true);
        final byte[] meta = Events.seedMetadata(90);
        final long id = a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("read under way", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        // b reads on its own thread from here on, as a node in another process would
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread reader = new Thread(() ->
        {
            while (!stop.get())
            {
                b.doWork();
            }
        });
        reader.start();
        final long t0 = System.nanoTime();
        a.close();
        final long closeMs = (System.nanoTime() - t0) / 1_000_000;
        stop.set(true);
        reader.join();
        assertEquals(List.of(new Events.Failed(2, id, BlockStatus.CANCELLED)), ea.sendFailed, "withdrawn");
        assertTrue(closeMs < 900, "close waited for the reader's answer, not the 1 s bound: " + closeMs + " ms");
        assertEquals(1, eb.receiveFailed.size());
        assertEquals(BlockStatus.CANCELLED, eb.receiveFailed.get(0).status());
        assertTrue(eb.received.isEmpty(), "nothing delivered");
        assertEquals(0, allocB.outstandingBytes(), "the partial block was freed");
    }

    @Test
    void aReceiverThatDoesNotReadGetsEveryBlockStreamed()
    {
        start(false);
        for (int i = 0; i < 3; i++)
        {
            send(a, 2, 2 * MIB, 60 + i);
            final int n = i + 1;
            Nodes.await("block " + i, () -> eb.received.size() == n && ea.sent.size() == n, 30_000, a, b);
            assertTrue(eb.received.get(i).intact());
        }
        assertEquals(1, a.counters().offersStreamed(), "offered once, then streamed without asking");
        assertEquals(0, b.counters().blocksReadDirect());
        assertTrue(eb.receiveFailed.isEmpty() && ea.sendFailed.isEmpty());
    }

    @Test
    void anOfferOfMemoryThatCannotBeReadFailsCleanlyAndTheNodesGoOn()
    {
        start(true);
        final ExclusivePublication bulk = a.bulkPublication(2);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);
        final BlockOfferEncoder offer = new BlockOfferEncoder();
        // an address in the first page: never mapped
        offer.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).transferId(9_000).length(4 * MIB).address(4096)
            .putMetadata(new byte[]{1}, 0, 1);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
        Nodes.await("offer sent", () -> bulk.offer(buffer, 0, length) > 0, 10_000, a, b);
        Nodes.await("receiver gave up", () -> eb.receiveFailed.size() == 1, 10_000, a, b);
        assertEquals(BlockStatus.MALFORMED, eb.receiveFailed.get(0).status());
        assertEquals(0, allocB.outstandingBytes(), "the destination was freed");
        assertTrue(b.counters().malformedDropped() >= 1);

        // an offer of address 0 is refused before anything is allocated
        offer.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).transferId(9_001).length(MIB).address(0)
            .putMetadata(new byte[0], 0, 0);
        final int zero = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
        final long allocations = allocB.allocations();
        Nodes.await("offer sent", () -> bulk.offer(buffer, 0, zero) > 0, 10_000, a, b);
        Nodes.run(100, a, b);
        assertEquals(allocations, allocB.allocations());

        send(a, 2, 16 * MIB, 70);
        Nodes.await("a good block after them", () -> eb.received.size() == 1, 30_000, a, b);
        assertTrue(eb.received.get(0).intact());
        assertTrue(a.isJoined(2) && b.isJoined(1));
    }
}
