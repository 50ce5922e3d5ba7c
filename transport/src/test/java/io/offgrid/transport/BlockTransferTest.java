package io.offgrid.transport;

import io.aeron.ExclusivePublication;
import io.offgrid.transport.protocol.BlockChunkEncoder;
import io.offgrid.transport.protocol.BlockEndEncoder;
import io.offgrid.transport.protocol.BlockStartEncoder;
import io.offgrid.transport.protocol.BlockStatus;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import org.agrona.CloseHelper;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class BlockTransferTest
{
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<long[]> sources = new ArrayList<>();
    private final TrackingAllocator allocA = new TrackingAllocator();
    private final TrackingAllocator allocB = new TrackingAllocator();
    private final Events ea = new Events(allocA);
    private final Events eb = new Events(allocB);
    private TransportNode a;
    private TransportNode b;

    @AfterEach
    void closeAll()
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        for (final long[] s : sources)
        {
            UnsafeApi.freeMemory(s[0]);
        }
        sources.clear();
        assertEquals(0, allocA.outstandingBytes(), "a's native memory back to baseline");
        assertEquals(0, allocB.outstandingBytes(), "b's native memory back to baseline");
        Nodes.assertNoDriverDirectories();
    }

    private void start(final boolean sharedDriver)
    {
        // The streamed path (chunks, CRC32C, cancel, interleaving): same-host nodes would otherwise read each other's
        // memory directly (DirectReadTest).
        TransportNode.Context ca = Nodes.context(1, ea, allocA).directReads(false);
        TransportNode.Context cb = Nodes.context(2, eb, allocB).directReads(false);
        if (sharedDriver)
        {
            final TransportDriver driver = TransportDriver.launch(new TransportDriver.Context());
            closeables.add(driver);
            ca = ca.aeronDirectoryName(driver.aeronDirectoryName());
            cb = cb.aeronDirectoryName(driver.aeronDirectoryName());
        }
        a = TransportNode.launch(ca);
        closeables.add(a);
        b = TransportNode.launch(cb);
        closeables.add(b);
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        assertEquals(sharedDriver, a.usesIpc(2));
    }

    /** Fills sources before the nodes start: filling big blocks takes longer than the peer timeout. */
    private void prepare(final long length, final long seed)
    {
        sources.add(new long[]{Pattern.allocateFilled(length, seed), length, seed});
    }

    private long send(final TransportNode from, final long to, final long length, final long seed)
    {
        long address = 0;
        for (final long[] s : sources)
        {
            if (s[1] == length && s[2] == seed)
            {
                address = s[0];
            }
        }
        if (0 == address)
        {
            address = Pattern.allocateFilled(length, seed);
            sources.add(new long[]{address, length, seed});
        }
        final byte[] meta = Events.seedMetadata(seed);
        return from.sendBlock(to, address, length, new UnsafeBuffer(meta), 0, meta.length);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void blocksOfEverySizeArriveIntact(final boolean sharedDriver)
    {
        start(sharedDriver);
        final long[] sizes = {0, 1, 1024 * 1024 + 7, 64L * 1024 * 1024};
        for (int i = 0; i < sizes.length; i++)
        {
            final long size = sizes[i];
            final long id = send(a, 2, size, 100 + i);
            final int n = i + 1;
            Nodes.await("block of " + size, () -> eb.received.size() == n && ea.sent.size() == n, 30_000, a, b);
            final Events.Received r = eb.received.get(i);
            assertEquals(id, r.transferId());
            assertEquals(size, r.length());
            assertTrue(r.intact(), "content of block " + size);
            assertEquals("seed:" + (100 + i), r.metadata());
        }
        assertEquals(sizes.length - 1, allocB.allocations(), "one allocation per non-empty block");
        final long back = send(b, 1, 3 * 1024 * 1024, 7);
        Nodes.await("block back", () -> ea.received.size() == 1 && eb.sent.contains(back), 30_000, a, b);
        assertTrue(ea.received.get(0).intact());
        assertTrue(ea.receiveFailed.isEmpty() && eb.receiveFailed.isEmpty() && ea.sendFailed.isEmpty());
    }

    @Test
    void transfersInterleaveAndControlMessagesPassBetweenChunks()
    {
        prepare(256L * 1024 * 1024, 1);
        start(false);
        final long big = send(a, 2, 256L * 1024 * 1024, 1);
        final long small = send(a, 2, 1024 * 1024, 2);
        final long medium = send(a, 2, 16L * 1024 * 1024, 3);
        final UnsafeBuffer msg = new UnsafeBuffer(new byte[256]);
        a.send(2, msg, 0, Nodes.heartbeat(msg, 1));
        Nodes.await("small block before the big one", () -> eb.received.size() >= 1, 30_000, a, b);
        assertEquals(small, eb.received.get(0).transferId(), "the 1 MiB block did not wait for the 256 MiB one");
        assertEquals(1, eb.messages.size(), "the control message did not wait for the bulk data");
        Nodes.await("all", () -> eb.received.size() == 3 && ea.sent.size() == 3, 60_000, a, b);
        assertEquals(big, eb.received.get(2).transferId());
        for (final Events.Received r : eb.received)
        {
            assertTrue(r.intact());
        }
        assertTrue(ea.sent.contains(medium));
    }

    @Test
    void aBlockWhoseChecksumDoesNotMatchIsRefusedAndFreed()
    {
        start(false);
        // Written straight onto a's bulk publication (this thread is a's agent thread): same bytes, one CRC wrong.
        final ExclusivePublication bulk = a.bulkPublication(2);
        final byte[] data = new byte[3000];
        new java.util.Random(7).nextBytes(data);
        final CRC32C crc = new CRC32C();
        crc.update(data);
        offerTransfer(bulk, 900_001, data, crc.getValue() ^ 0x10);
        offerTransfer(bulk, 900_002, data, crc.getValue());
        Nodes.await("verdicts", () -> eb.receiveFailed.size() == 1 && eb.received.size() == 1, 10_000, a, b);
        assertEquals(new Events.Failed(1, 900_001, BlockStatus.CHECKSUM_MISMATCH), eb.receiveFailed.get(0));
        assertEquals(900_002, eb.received.get(0).transferId());
        assertEquals(data.length, eb.received.get(0).length());
        assertEquals(2, allocB.allocations());
        assertEquals(0, allocB.outstandingBytes(), "the corrupt block was freed, the good one handed over and freed");
    }

    private void offerTransfer(final ExclusivePublication pub, final long id, final byte[] data, final long crc32c)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[8192]);
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final BlockStartEncoder start = new BlockStartEncoder().wrapAndApplyHeader(buffer, 0, header);
        start.transferId(id).length(data.length).putMetadata(new byte[0], 0, 0);
        offer(pub, buffer, MessageHeaderEncoder.ENCODED_LENGTH + start.encodedLength());
        final BlockChunkEncoder chunk = new BlockChunkEncoder().wrapAndApplyHeader(buffer, 0, header);
        chunk.transferId(id).blockOffset(0).putData(data, 0, data.length);
        offer(pub, buffer, MessageHeaderEncoder.ENCODED_LENGTH + chunk.encodedLength());
        final BlockEndEncoder end = new BlockEndEncoder().wrapAndApplyHeader(buffer, 0, header);
        end.transferId(id).crc32c(crc32c);
        offer(pub, buffer, MessageHeaderEncoder.ENCODED_LENGTH + end.encodedLength());
    }

    private void offer(final ExclusivePublication pub, final UnsafeBuffer buffer, final int length)
    {
        final long deadline = System.nanoTime() + 5_000_000_000L;
        while (pub.offer(buffer, 0, length) < 0)
        {
            assertTrue(System.nanoTime() < deadline, "offer timed out");
            a.doWork();
            b.doWork();
        }
    }

    @Test
    void senderCancelFreesThePartialBlock()
    {
        prepare(512L * 1024 * 1024, 5);
        start(false);
        final long id = send(a, 2, 512L * 1024 * 1024, 5);
        Nodes.await("started", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        assertTrue(a.cancelSend(2, id));
        assertEquals(1, ea.sendFailed.size());
        assertEquals(BlockStatus.CANCELLED, ea.sendFailed.get(0).status());
        Nodes.await("receiver freed", () -> eb.receiveFailed.size() == 1 && allocB.outstandingBytes() == 0, 10_000, a, b);
        assertEquals(BlockStatus.CANCELLED, eb.receiveFailed.get(0).status());
        final long next = send(a, 2, 1024, 6);
        Nodes.await("next block fine", () -> eb.received.size() == 1, 10_000, a, b);
        assertEquals(next, eb.received.get(0).transferId());
    }

    @Test
    void receiverCancelAndRefusalTellTheSender()
    {
        prepare(512L * 1024 * 1024, 5);
        start(false);
        final long id = send(a, 2, 512L * 1024 * 1024, 5);
        Nodes.await("started", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        assertTrue(b.cancelReceive(1, id));
        assertEquals(0, allocB.outstandingBytes());
        Nodes.await("sender told", () -> ea.sendFailed.size() == 1, 10_000, a, b);
        assertEquals(BlockStatus.CANCELLED, ea.sendFailed.get(0).status());

        allocB.refuse(true);
        final long refused = send(a, 2, 4096, 9);
        Nodes.await("refused", () -> ea.sendFailed.size() == 2, 10_000, a, b);
        assertEquals(refused, ea.sendFailed.get(1).transferId());
        assertEquals(BlockStatus.REFUSED, ea.sendFailed.get(1).status());
        assertEquals(0, eb.received.size());
    }

    @Test
    void closingTheSenderEndsItsTransferWithOneCallback()
    {
        prepare(512L * 1024 * 1024, 5);
        start(false);
        final long id = send(a, 2, 512L * 1024 * 1024, 5);
        Nodes.await("started", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        a.close();
        // The source memory's owner waits for exactly one of onBlockSent / onBlockSendFailed per transfer.
        assertEquals(List.of(id), ea.sendFailed.stream().map(Events.Failed::transferId).toList());
        assertTrue(ea.sendFailed.stream().allMatch((f) -> f.status() == BlockStatus.CANCELLED), ea.sendFailed.toString());
        assertTrue(ea.sent.isEmpty());
        Nodes.await("receiver freed the partial block", () -> eb.receiveFailed.size() == 1 && allocB.outstandingBytes() == 0, 10_000, b);
    }

    @Test
    void closingMidTransferFreesThePartialBlockAndTheSenderIsTold()
    {
        prepare(512L * 1024 * 1024, 5);
        start(false);
        send(a, 2, 512L * 1024 * 1024, 5);
        Nodes.await("started", () -> b.counters().bytesReceived() > 0, 10_000, a, b);
        b.close();
        assertEquals(0, allocB.outstandingBytes(), "close gives partial blocks back");
        Nodes.await("sender told", () -> ea.sendFailed.size() == 1, 10_000, a);
        assertEquals(BlockStatus.RECEIVER_LOST, ea.sendFailed.get(0).status());
    }
}
