package io.offgrid.transport;

import io.aeron.ExclusivePublication;
import io.offgrid.transport.protocol.BlockEndEncoder;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

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
        start(bReads, new TransportNode.Context().directReadHelpers());
    }

    private void start(final boolean bReads, final int bHelpers)
    {
        a = TransportNode.launch(Nodes.context(1, ea, allocA));
        closeables.add(a);
        b = TransportNode.launch(Nodes.context(2, eb, allocB).directReads(bReads).directReadHelpers(bHelpers));
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
        Nodes.await("both confirmed", () -> ea.sent.containsAll(List.of(x, y)), 10_000, a, b);
        assertTrue(eb.received.stream().allMatch(Events.Received::intact) && ea.received.get(0).intact());
        assertEquals(z, ea.received.get(0).transferId());
        assertTrue(ea.receiveFailed.isEmpty() && eb.receiveFailed.isEmpty() && ea.sendFailed.isEmpty() && eb.sendFailed.isEmpty());
    }

    @ParameterizedTest(name = "{0} helper threads")
    @ValueSource(ints = {0, 1, 3})
    void helperThreadsShareTheChunksOfReadsAndEveryBlockArrivesIntact(final int helpers)
    {
        start(true, helpers);
        final long x = send(a, 2, 128 * MIB, 70);
        final long y = send(a, 2, 3 * MIB + 13, 71);
        final long z = send(a, 2, 64 * KIB, 72);
        final long w = send(b, 1, 5 * MIB, 73);
        Nodes.await("blocks", () -> eb.received.size() == 3 && ea.received.size() == 1, 30_000, a, b);
        Nodes.await("confirmed", () -> ea.sent.containsAll(List.of(x, y, z)) && eb.sent.contains(w), 10_000, a, b);
        assertTrue(eb.received.stream().allMatch(Events.Received::intact) && ea.received.get(0).intact());
        assertEquals(3, b.counters().blocksReadDirect());
        assertEquals(128 * MIB + 3 * MIB + 13 + 64 * KIB, b.counters().bytesReceived());
        final long byHelpers = b.counters().directSlicesByHelpers();
        if (0 == helpers)
        {
            assertEquals(0, byHelpers);
        }
        else
        {
            assertTrue(byHelpers > 0 && byHelpers < 128 + 4, "some of the 133 chunks copied by helpers: " + byHelpers);
        }
        assertTrue(ea.receiveFailed.isEmpty() && eb.receiveFailed.isEmpty() && ea.sendFailed.isEmpty() && eb.sendFailed.isEmpty());
    }

    @Test
    void aReadCancelledWhileHelpersCopyIsFreedOnlyOnceTheyHaveStopped()
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 85);
        sources.add(source);
        final List<String> violations = startWithCheckedFrees();
        int cancelled = 0;
        for (int attempt = 0; attempt < 10 && cancelled < 3; attempt++)
        {
            final byte[] meta = Events.seedMetadata(85);
            final long helped = b.counters().directSlicesByHelpers();
            final long base = b.counters().bytesReceived();
            final int done = eb.received.size();
            final long id = a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
            Nodes.await("helpers under way", () -> eb.received.size() > done ||
                b.counters().directSlicesByHelpers() > helped, 10_000, a, b);
            if (eb.received.size() > done || b.counters().bytesReceived() - base > length / 2)
            {
                Nodes.await("block", () -> eb.received.size() > done, 10_000, a, b);
                continue; // too far along to catch mid-read: try again
            }
            assertTrue(b.cancelReceive(1, id)); // this thread is b's agent: helpers may be mid-chunk now
            cancelled++;
            final int failed = cancelled;
            Nodes.await("cancel told", () -> eb.receiveFailed.size() == failed && ea.sendFailed.size() == failed, 10_000, a, b);
            assertEquals(new Events.Failed(1, id, BlockStatus.CANCELLED), eb.receiveFailed.get(failed - 1));
            assertEquals(0, allocB.outstandingBytes(), "the partial block was freed (delivered ones are freed on arrival)");
        }
        assertTrue(cancelled > 0, "no read caught mid-way in 10 attempts");
        assertEquals(List.of(), violations);
    }

    @Test
    void chunksForATransferOfferedForADirectReadAreRefusedAndNothingIsWrittenAfterTheFree()
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 87);
        sources.add(source);
        final long guard = Pattern.allocateFilled(8, 0);
        sources.add(guard);
        UnsafeApi.putLong(guard, 88L);
        final List<String> violations = startWithCheckedFrees();
        // A peer that offers a block and then streams an end for it, as if it had sent it chunk by chunk.
        final ExclusivePublication bulk = a.bulkPublication(2);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);
        final UnsafeBuffer end = new UnsafeBuffer(new byte[64]);
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final BlockOfferEncoder offer = new BlockOfferEncoder();
        int refused = 0;
        for (int attempt = 0; attempt < 10 && 0 == refused; attempt++)
        {
            final long id = 9_100 + attempt;
            final long base = b.counters().bytesReceived();
            final int delivered = eb.received.size();
            offer.wrapAndApplyHeader(buffer, 0, header).transferId(id).length(length).address(source)
                .guardAddress(guard).token(88L).putMetadata(new byte[]{1}, 0, 1);
            final int offerLength = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
            Nodes.await("offer sent", () -> bulk.offer(buffer, 0, offerLength) > 0, 10_000, a, b);
            Nodes.await("read under way", () -> b.counters().bytesReceived() > base || eb.received.size() > delivered ||
                !eb.receiveFailed.isEmpty(), 10_000, a, b);
            final int endLength = MessageHeaderEncoder.ENCODED_LENGTH +
                new BlockEndEncoder().wrapAndApplyHeader(end, 0, header).transferId(id).crc32c(0).encodedLength();
            Nodes.await("end sent", () -> bulk.offer(end, 0, endLength) > 0, 10_000, a, b);
            Nodes.await("answered", () -> !eb.receiveFailed.isEmpty() || eb.received.size() > delivered, 30_000, a, b);
            if (eb.received.size() > delivered)
            {
                continue; // the read finished before the end arrived (it was then a stray): try again
            }
            assertEquals(new Events.Failed(1, id, BlockStatus.MALFORMED), eb.receiveFailed.get(0));
            refused++;
        }
        assertEquals(1, refused, "an end caught mid-read in 10 attempts");
        assertEquals(0, allocB.outstandingBytes(), "freed (the delivered ones on arrival)");
        assertEquals(List.of(), violations);
        assertTrue(b.counters().malformedDropped() >= 1);
    }

    /**
     * Starts a, and b with three read helpers and an allocator that records every free landing while a helper still
     * copies into the block; joins them.
     *
     * @return the recorded violations (empty when all is well).
     */
    private List<String> startWithCheckedFrees()
    {
        final List<String> violations = new ArrayList<>();
        final BlockAllocator checking = new BlockAllocator()
        {
            public long allocate(final long peerId, final long transferId, final long n,
                final org.agrona.DirectBuffer metadata, final int offset, final int metadataLength)
            {
                return allocB.allocate(peerId, transferId, n, metadata, offset, metadataLength);
            }

            public void free(final long address, final long n)
            {
                if (b.directCopyRunningInto(address, n)) // frees run on b's thread, after b is assigned
                {
                    violations.add("freed while a helper copies into it");
                }
                allocB.free(address, n);
            }
        };
        a = TransportNode.launch(Nodes.context(1, ea, allocA));
        closeables.add(a);
        b = TransportNode.launch(Nodes.context(2, eb, allocB).blockAllocator(checking).directReadHelpers(3));
        closeables.add(b);
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        return violations;
    }

    @Test
    void aReaderClosedMidReadStopsItsHelpersAndFreesTheBlock()
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 86);
        sources.add(source);
        final List<String> violations = startWithCheckedFrees();
        final byte[] meta = Events.seedMetadata(86);
        a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("helpers under way", () -> b.counters().directSlicesByHelpers() > 0, 10_000, a, b);
        b.close();
        assertEquals(0, allocB.outstandingBytes(), "the partial block was freed at close");
        assertEquals(List.of(), violations, "freed only after the helpers stopped");
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch((t) -> t.getName().startsWith("offgrid-direct-read-2-")),
            "helper threads stopped");
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
    void aSenderClosedMidReadLeavesTheReaderNothingToDeliver() throws Exception
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 90);
        sources.add(source);
        start(true);
        final byte[] meta = Events.seedMetadata(90);
        final long id = a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("read under way", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        // b reads on its own thread from here on, as a node in another process would, while a closes
        final java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        final Thread reader = new Thread(() ->
        {
            while (!stop.get())
            {
                b.doWork();
            }
        });
        reader.start();
        a.close();
        assertEquals(List.of(new Events.Failed(2, id, BlockStatus.CANCELLED)), ea.sendFailed, "withdrawn at close");
        // The owner may reuse the memory now: the reader must not deliver what it copies from here on.
        Pattern.fill(source, length, 91);
        final long deadline = System.nanoTime() + 30_000_000_000L;
        while (eb.receiveFailed.isEmpty() && eb.received.isEmpty() && System.nanoTime() < deadline)
        {
            Thread.sleep(1);
        }
        stop.set(true);
        reader.join();
        assertTrue(eb.received.isEmpty(), "nothing delivered");
        assertEquals(1, eb.receiveFailed.size());
        // the abort or the cleared guard (CANCELLED), or a's goodbye when it came first (SENDER_LOST)
        assertTrue(Set.of(BlockStatus.CANCELLED, BlockStatus.SENDER_LOST).contains(eb.receiveFailed.get(0).status()),
            eb.receiveFailed.toString());
        assertEquals(0, allocB.outstandingBytes(), "the partial block was freed");
    }

    @Test
    void aSenderThatLosesTheReaderMidReadLeavesItNothingToDeliver()
    {
        final long length = 256 * MIB;
        final long source = Pattern.allocateFilled(length, 95);
        sources.add(source);
        a = TransportNode.launch(Nodes.context(1, ea, allocA).peerTimeoutNs(30_000_000_000L));
        closeables.add(a);
        // One helper: with more, one cycle can collect more chunks than the first guard check lets go unchecked.
        b = TransportNode.launch(Nodes.context(2, eb, allocB).peerTimeoutNs(30_000_000_000L).directReadHelpers(1));
        closeables.add(b);
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        final byte[] meta = Events.seedMetadata(95);
        final long id = a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("read under way", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        assertTrue(b.counters().bytesReceived() < length);
        assertTrue(a.removePeer(2)); // a forgets b (as on a timeout) while b still reads
        assertEquals(List.of(new Events.Failed(2, id, BlockStatus.RECEIVER_LOST)), ea.sendFailed);
        Pattern.fill(source, length, 96); // the owner reuses the memory at once
        Nodes.await("reader done", () -> !eb.receiveFailed.isEmpty() || !eb.received.isEmpty(), 30_000, b);
        assertTrue(eb.received.isEmpty(), "nothing delivered");
        assertEquals(BlockStatus.CANCELLED, eb.receiveFailed.get(0).status(), "the guard was cleared");
        assertTrue(b.counters().bytesReceived() <= 80 * MIB,
            "stopped at the next guard check, not at the end: " + b.counters().bytesReceived());
        assertEquals(0, allocB.outstandingBytes());
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
        // A guard word that holds its token (a is this process), and a block address in the first page: never mapped.
        final long guard = Pattern.allocateFilled(8, 0);
        sources.add(guard);
        UnsafeApi.putLong(guard, 77L);
        offer.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).transferId(9_000).length(4 * MIB).address(4096)
            .guardAddress(guard).token(77L).putMetadata(new byte[]{1}, 0, 1);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
        Nodes.await("offer sent", () -> bulk.offer(buffer, 0, length) > 0, 10_000, a, b);
        Nodes.await("receiver gave up", () -> eb.receiveFailed.size() == 1, 10_000, a, b);
        assertEquals(new Events.Failed(1, 9_000, BlockStatus.MALFORMED), eb.receiveFailed.get(0));
        assertEquals(1, allocB.allocations());
        assertEquals(0, allocB.outstandingBytes(), "the destination was freed");
        assertEquals(1, b.counters().malformedDropped());

        // a guard that cannot be read: refused before anything is allocated
        offer.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).transferId(9_001).length(MIB).address(guard)
            .guardAddress(4096).token(77L).putMetadata(new byte[0], 0, 0);
        final int unreadable = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
        Nodes.await("offer sent", () -> bulk.offer(buffer, 0, unreadable) > 0, 10_000, a, b);
        Nodes.await("refused", () -> eb.receiveFailed.size() == 2, 10_000, a, b);
        assertEquals(new Events.Failed(1, 9_001, BlockStatus.MALFORMED), eb.receiveFailed.get(1));
        assertEquals(2, b.counters().malformedDropped());

        // a guard that no longer holds the token (withdrawn): refused, nothing allocated
        offer.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).transferId(9_002).length(MIB).address(guard)
            .guardAddress(guard).token(78L).putMetadata(new byte[0], 0, 0);
        final int stale = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
        Nodes.await("offer sent", () -> bulk.offer(buffer, 0, stale) > 0, 10_000, a, b);
        Nodes.await("refused", () -> eb.receiveFailed.size() == 3, 10_000, a, b);
        assertEquals(new Events.Failed(1, 9_002, BlockStatus.CANCELLED), eb.receiveFailed.get(2));

        // an offer of address 0 is malformed before anything is read or allocated
        offer.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).transferId(9_003).length(MIB).address(0)
            .guardAddress(guard).token(77L).putMetadata(new byte[0], 0, 0);
        final int zero = MessageHeaderEncoder.ENCODED_LENGTH + offer.encodedLength();
        Nodes.await("offer sent", () -> bulk.offer(buffer, 0, zero) > 0, 10_000, a, b);
        Nodes.await("dropped", () -> b.counters().malformedDropped() == 3, 10_000, a, b);
        assertEquals(1, allocB.allocations(), "only the first offer got a destination");

        send(a, 2, 16 * MIB, 70);
        Nodes.await("a good block after them", () -> eb.received.size() == 1, 30_000, a, b);
        assertTrue(eb.received.get(0).intact());
        assertTrue(a.isJoined(2) && b.isJoined(1));
    }
}
