package io.offgrid.transport;

import io.offgrid.transport.protocol.BlockStatus;
import org.agrona.CloseHelper;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Nodes in separate JVMs on 127.0.0.1: this JVM runs node 1 (stepped by the test thread), children run
 * {@link PeerProcess}. Children are always killed afterwards and no driver directory may stay behind.
 */
@Timeout(180)
class MultiProcessTest
{
    private static final long MIB = 1024 * 1024;
    private final List<ChildProcess> children = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<Long> sources = new ArrayList<>();
    private final TrackingAllocator allocator = new TrackingAllocator();
    private final Events events = new Events(allocator);
    private final SchemaMessages schema = SchemaMessages.load();

    @BeforeAll
    static void binding() throws InterruptedException
    {
        // Offers are streamed while the binding loads: the tests that count direct reads need it loaded.
        assertTrue(ProcessMemory.awaitReady(30_000), "process_vm_readv binding loads on Linux");
    }

    @AfterEach
    void cleanUp() throws InterruptedException
    {
        for (final ChildProcess child : children)
        {
            child.close();
        }
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        for (final long address : sources)
        {
            UnsafeApi.freeMemory(address);
        }
        assertEquals(0, allocator.outstandingBytes(), "native memory back to baseline");
        Nodes.assertNoDriverDirectories();
        for (final ChildProcess child : children)
        {
            assertEquals(List.of(), Nodes.driverDirectories(child.pid()), "child's driver directory");
        }
    }

    private ChildProcess child(final String... args) throws Exception
    {
        final ChildProcess child = new ChildProcess(args);
        children.add(child);
        return child;
    }

    private TransportNode node(final TransportNode.Context ctx)
    {
        final TransportNode node = TransportNode.launch(ctx);
        closeables.add(node);
        return node;
    }

    private long source(final long length, final long seed)
    {
        final long address = Pattern.allocateFilled(length, seed);
        sources.add(address);
        return address;
    }

    private long sendBlock(final TransportNode node, final long to, final long address, final long length, final long seed)
    {
        final byte[] meta = Events.seedMetadata(seed);
        return node.sendBlock(to, address, length, new UnsafeBuffer(meta), 0, meta.length);
    }

    /** Sends one random valid message of every application template and checks each comes back byte for byte. */
    private void everyMessageTypeEchoes(final TransportNode node, final long peer, final long seed)
    {
        final Random random = new Random(seed);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64 * 1024]);
        final Map<Integer, byte[]> sent = new HashMap<>();
        final int before = events.messages.size();
        for (final int template : schema.applicationTemplateIds())
        {
            final int length = schema.encode(template, buffer, 0, random);
            sent.put(template, Arrays.copyOf(buffer.byteArray(), length));
            assertTrue(node.send(peer, buffer, 0, length));
        }
        final int expected = before + sent.size();
        Nodes.await("echoes of every message type", () -> events.messages.size() == expected, 20_000, node);
        for (int i = before; i < expected; i++)
        {
            final Events.Message m = events.messages.get(i);
            assertEquals(peer, m.peerId());
            assertTrue(Arrays.equals(sent.get(m.templateId()), m.bytes()), "echo of " + schema.name(m.templateId()) + ", seed " + seed);
        }
    }

    @Test
    void twoProcessesExchangeEveryMessageTypeAndBlocksUpToTwoAndAHalfGibibytes() throws Exception
    {
        final long big = 2560 * MIB;
        // Filling and checking 2.5 GiB keeps these JVMs busy for seconds: the check runs in the receive callback, on
        // the stepping thread, and reads memory that process_vm_readv wrote into fresh 4 KiB pages at 0.5 GB/s on this
        // VM (5-6 s, past the 5 s default timeout), against 20 GB/s for pages written before or huge pages.
        final TransportNode p = node(Nodes.context(1, events, allocator).peerTimeoutNs(30_000_000_000L));
        final ChildProcess c = child("id=2", "echo=true", "peerTimeoutMs=30000");
        p.addPeer(2, c.endpoint);
        c.expect("JOINED 1", 10_000, p);
        everyMessageTypeEchoes(p, 2, System.nanoTime());

        final long[] sizes = {0, 1, MIB, 64 * MIB};
        for (int i = 0; i < sizes.length; i++)
        {
            sendBlock(p, 2, source(sizes[i], i), sizes[i], i);
            assertTrue(c.expect("BLOCK-RECEIVED 1 ", 30_000, p).endsWith(" " + sizes[i] + " OK"));
            final int sent = i + 1;
            Nodes.await("confirmed", () -> events.sent.size() == sent, 10_000, p);
            c.send("block 1 " + sizes[i] + " " + (10 + i));
            final int received = i + 1;
            Nodes.await("block from child", () -> events.received.size() == received, 30_000, p);
            assertEquals(sizes[i], events.received.get(i).length());
            assertTrue(events.received.get(i).intact());
        }

        // interleaved: three at once
        final long a = sendBlock(p, 2, source(32 * MIB, 21), 32 * MIB, 21);
        final long b = sendBlock(p, 2, source(MIB, 22), MIB, 22);
        final long d = sendBlock(p, 2, source(8 * MIB, 23), 8 * MIB, 23);
        for (int i = 0; i < 3; i++)
        {
            assertTrue(c.expect("BLOCK-RECEIVED 1 ", 30_000, p).endsWith(" OK"));
        }
        Nodes.await("all three confirmed", () -> events.sent.containsAll(List.of(a, b, d)), 10_000, p);

        // past the 2 GiB ByteBuffer limit, from the child (its fill happens off its agent thread)
        c.send("block 1 " + big + " 99");
        final long t0 = System.nanoTime();
        final long base = p.counters().bytesReceived();
        Nodes.await("2.5 GiB block starts", () -> p.counters().bytesReceived() > base, 120_000, p);
        final long t1 = System.nanoTime();
        Nodes.await("2.5 GiB block copied", () -> p.counters().bytesReceived() == base + big, 120_000, p);
        final long t2 = System.nanoTime();
        Nodes.await("2.5 GiB block", () -> events.received.size() == sizes.length + 1, 120_000, p);
        System.out.println("fill " + (t1 - t0) / 1_000_000 + " ms, transfer " + (t2 - t1) / 1_000_000 + " ms, check " +
            (System.nanoTime() - t2) / 1_000_000 + " ms");
        assertEquals(big, events.received.get(sizes.length).length());
        assertTrue(events.received.get(sizes.length).intact(), "2.5 GiB block intact");
        c.expect("BLOCK-SENT 1 ", 10_000, p);
        assertTrue(events.receiveFailed.isEmpty() && events.sendFailed.isEmpty());
        assertEquals(3, p.counters().blocksReadDirect(), "the child's 1 MiB, 64 MiB and 2.5 GiB blocks, read from its memory");
        assertEquals(0, allocator.outstandingBytes());
    }

    @Test
    void aProcessWithDirectReadsOffStreamsBothWays() throws Exception
    {
        final TransportNode p = node(Nodes.context(1, events, allocator).peerTimeoutNs(5_000_000_000L));
        final ChildProcess c = child("id=2", "peerTimeoutMs=5000", "jvmDirectReads=false");
        p.addPeer(2, c.endpoint);
        c.expect("JOINED 1", 10_000, p);
        for (int i = 0; i < 2; i++)
        {
            sendBlock(p, 2, source(4 * MIB, 30 + i), 4 * MIB, 30 + i);
            assertTrue(c.expect("BLOCK-RECEIVED 1 ", 30_000, p).endsWith(" OK"));
        }
        assertEquals(1, p.counters().offersStreamed(), "the child answered NO_DIRECT_READ once; the next was streamed at once");
        c.send("block 1 " + (4 * MIB) + " 33");
        Nodes.await("block from the child", () -> events.received.size() == 1, 30_000, p);
        assertTrue(events.received.get(0).intact());
        assertEquals(0, p.counters().blocksReadDirect(), "the child does not offer");
    }

    @Test
    void aSenderClosingMidReadLeavesTheReaderNothingToDeliver() throws Exception
    {
        final TransportNode p = node(Nodes.context(1, events, allocator).peerTimeoutNs(5_000_000_000L));
        final ChildProcess c = child("id=2", "peerTimeoutMs=5000");
        p.addPeer(2, c.endpoint);
        c.expect("JOINED 1", 10_000, p);
        c.send("block 1 " + (256 * MIB) + " 12");
        final String started = c.expect("BLOCK-STARTED 1 ", 30_000, p);
        final String id = started.substring(started.lastIndexOf(' ') + 1);
        Nodes.await("read under way", () -> p.counters().bytesReceived() > 0, 30_000, p);
        // The child closes its node, frees the block (BLOCK-SEND-FAILED) and exits, while this node is not reading.
        c.send("exit");
        final long deadline = System.nanoTime() + 10_000_000_000L;
        while (!c.transcript().contains("BYE") && System.nanoTime() < deadline)
        {
            Thread.sleep(5);
        }
        assertTrue(c.transcript().contains("BLOCK-SEND-FAILED 1 " + id + " CANCELLED"), c.transcript().toString());
        // Whatever stops the read here (the abort, the cleared guard, freed memory, the process gone), nothing may be
        // delivered, and the partial block is freed.
        Nodes.await("reader gave up", () -> events.receiveFailed.size() == 1, 30_000, p);
        assertTrue(events.received.isEmpty(), "nothing delivered");
        assertEquals(0, allocator.outstandingBytes(), "the partial block was freed");
    }

    @Test
    void threeProcessesTalkToEachOther() throws Exception
    {
        final TransportNode p = node(Nodes.context(1, events, allocator).peerTimeoutNs(5_000_000_000L));
        final ChildProcess c2 = child("id=2", "peerTimeoutMs=5000");
        final ChildProcess c3 = child("id=3", "echo=true", "peerTimeoutMs=5000");
        p.addPeer(2, c2.endpoint);
        p.addPeer(3, c3.endpoint);
        c2.send("peer 3 " + c3.endpoint);
        c2.expect("JOINED 3", 10_000, p);
        c2.send("sendall 3 7");
        c2.expect("ECHO-ALL-OK", 20_000, p);
        c2.send("block 3 " + (16 * MIB) + " 5");
        assertTrue(c3.expect("BLOCK-RECEIVED 2 ", 30_000, p).endsWith(" OK"));
        c2.expect("BLOCK-SENT 3 ", 10_000, p);

        Nodes.await("p joined both", () -> p.isJoined(2) && p.isJoined(3), 10_000, p);
        everyMessageTypeEchoes(p, 3, 11);
        sendBlock(p, 2, source(4 * MIB, 6), 4 * MIB, 6);
        assertTrue(c2.expect("BLOCK-RECEIVED 1 ", 30_000, p).endsWith(" OK"));
    }

    @ParameterizedTest(name = "direct reads {0}")
    @ValueSource(booleans = {true, false})
    void senderKilledMidTransferFreesThePartialBlockAndItsDirectoryIsCleanedAtNextStart(final boolean directReads) throws Exception
    {
        final TransportNode p = node(Nodes.context(1, events, allocator));
        // Direct: this node is reading the block out of the child's memory when it dies (the read fails with ESRCH).
        // Streamed: the chunks stop, and the peer timeout ends the transfer.
        final ChildProcess c = child("id=2", "peerTimeoutMs=1500", "directReads=" + directReads);
        p.addPeer(2, c.endpoint);
        c.expect("JOINED 1", 10_000, p);
        c.send("block 1 " + (256 * MIB) + " 3");
        Nodes.await("transfer under way", () -> p.counters().bytesReceived() > 16 * MIB, 60_000, p);
        assertTrue(allocator.outstandingBytes() > 0);
        final List<String> leftBehind = Nodes.driverDirectories(c.pid());
        c.kill();
        Nodes.await("receiver gave up", () -> events.receiveFailed.size() == 1, 10_000, p);
        assertEquals(BlockStatus.SENDER_LOST, events.receiveFailed.get(0).status());
        assertEquals(0, allocator.outstandingBytes(), "partial block freed");
        // A direct read fails at once (ESRCH), before the 1.5 s peer timeout; a streamed transfer ends with the peer.
        assertEquals(directReads ? 0 : 1, events.lost.size(), "peer lost when the transfer failed");
        Nodes.await("sender lost", () -> events.lost.size() == 1, 10_000, p);
        assertTrue(events.lost.get(0).startsWith("2: "));

        assertEquals(1, leftBehind.size(), "SIGKILL leaves the child's driver directory");
        assertEquals(leftBehind, Nodes.driverDirectories(c.pid()));
        final TransportNode next = node(Nodes.context(3, new Events(allocator), allocator));
        assertEquals(List.of(), Nodes.driverDirectories(c.pid()), "cleaned when the next driver started");
        next.close();
    }

    @Test
    void receiverKilledMidTransferTellsTheSender() throws Exception
    {
        final long address = source(256 * MIB, 4);
        // Streamed, so that the transfer is seen under way (an offered block is read in one go by the receiver).
        final TransportNode p = node(Nodes.context(1, events, allocator).directReads(false));
        final ChildProcess c = child("id=2");
        p.addPeer(2, c.endpoint);
        c.expect("JOINED 1", 10_000, p);
        final long id = sendBlock(p, 2, address, 256 * MIB, 4);
        Nodes.await("transfer under way", () -> p.counters().bytesSent() > 16 * MIB, 60_000, p);
        c.kill();
        Nodes.await("sender told", () -> events.sendFailed.size() == 1, 10_000, p);
        assertEquals(id, events.sendFailed.get(0).transferId());
        assertEquals(BlockStatus.RECEIVER_LOST, events.sendFailed.get(0).status());
        DriverDirectories.deleteStale(DriverDirectories.defaultParent());
    }

    @Test
    void wrongSecretIsRefusedEitherWay() throws Exception
    {
        final byte[] secret = "the right one".getBytes(StandardCharsets.UTF_8);
        final TransportNode p = node(Nodes.context(1, events, allocator).clusterSecret(secret));
        final ChildProcess c = child("id=2", "secret=the-wrong-one", "peerTimeoutMs=1000");
        c.send("peer 1 " + p.endpoint());
        c.send("sendall 1 3");
        assertTrue(c.expect("LOST 1 ", 10_000, p).contains("refused"));
        p.addPeer(2, c.endpoint);
        Nodes.await("p refuses c", () -> events.lost.size() == 1, 10_000, p);
        assertTrue(events.lost.get(0).contains("refused"), events.lost.toString());
        assertTrue(p.counters().handshakesRefused() >= 1);
        assertEquals(0, events.messages.size(), "nothing from the refused node reached a handler");
        assertFalse(p.isJoined(2));
        final ChildProcess good = child("id=3", "secret=the right one".replace(' ', '\u0020'));
        assertTrue(good.endpoint.startsWith("127.0.0.1:"));
    }

    @Test
    void processesSharingADriverMoveBlocksOverIpc() throws Exception
    {
        final TransportDriver driver = TransportDriver.launch(new TransportDriver.Context());
        closeables.add(driver);
        // Production peer timeout: nothing here waits for one, and 1.5 s lost the child once at load 7.7 on 2 cores.
        final TransportNode p = node(Nodes.context(1, events, allocator).aeronDirectoryName(driver.aeronDirectoryName())
            .peerTimeoutNs(5_000_000_000L));
        final ChildProcess c = child("id=2", "echo=true", "aeronDir=" + driver.aeronDirectoryName(), "peerTimeoutMs=5000");
        p.addPeer(2, c.endpoint);
        c.expect("JOINED 1", 10_000, p);
        assertTrue(p.usesIpc(2));
        everyMessageTypeEchoes(p, 2, 5);
        sendBlock(p, 2, source(64 * MIB, 8), 64 * MIB, 8);
        assertTrue(c.expect("BLOCK-RECEIVED 1 ", 30_000, p).endsWith(" OK"));
        c.send("block 1 " + (64 * MIB) + " 9");
        Nodes.await("block over IPC", () -> events.received.size() == 1, 30_000, p);
        assertTrue(events.received.get(0).intact());
        c.close();
        c.expect("BYE", 5_000, p);
    }
}
