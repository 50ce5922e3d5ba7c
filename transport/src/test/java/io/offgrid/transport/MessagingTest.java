package io.offgrid.transport;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.driver.ThreadingMode;
import io.offgrid.transport.protocol.HelloEncoder;
import io.offgrid.transport.protocol.MessageHeaderDecoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.WorkerHeartbeatDecoder;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class MessagingTest
{
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[4096]);

    @AfterEach
    void closeAll()
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        Nodes.assertNoDriverDirectories();
    }

    private TransportNode launch(final TransportNode.Context ctx)
    {
        final TransportNode node = TransportNode.launch(ctx);
        closeables.add(node);
        return node;
    }

    @Test
    void messagesFlowBothWaysAfterTheHandshakeInOrder()
    {
        final Events ea = new Events(new TrackingAllocator());
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()));
        assertTrue(a.endpoint().startsWith("127.0.0.1:"));
        assertTrue(a.aeronDirectoryName().contains(DriverDirectories.PREFIX + ProcessHandle.current().pid()));

        a.addPeer(2, b.endpoint());
        for (int i = 0; i < 100; i++)
        {
            assertTrue(a.send(2, buffer, 0, Nodes.heartbeat(buffer, i)), "queued before the handshake");
        }
        Nodes.await("100 messages at b", () -> eb.messages.size() == 100, 10_000, a, b);
        final WorkerHeartbeatDecoder decoder = new WorkerHeartbeatDecoder();
        for (int i = 0; i < 100; i++)
        {
            final Events.Message m = eb.messages.get(i);
            assertEquals(1, m.peerId());
            assertEquals(WorkerHeartbeatDecoder.TEMPLATE_ID, m.templateId());
            decoder.wrap(new UnsafeBuffer(m.bytes()), MessageHeaderDecoder.ENCODED_LENGTH, WorkerHeartbeatDecoder.BLOCK_LENGTH, 1);
            assertEquals(i, decoder.timestampNs(), "in order");
        }
        Nodes.await("both joined", () -> a.isJoined(2) && b.isJoined(1), 5_000, a, b);
        assertEquals(List.of(2L), ea.joined);
        assertEquals(List.of(1L), eb.joined);
        assertTrue(b.send(1, buffer, 0, Nodes.heartbeat(buffer, 7)));
        Nodes.await("reply at a", () -> ea.messages.size() == 1, 5_000, a, b);
        assertFalse(a.usesIpc(2), "separate drivers talk UDP");
        assertEquals(0, a.counters().malformedDropped() + b.counters().malformedDropped());
    }

    @Test
    void steadyStateMessagingAllocatesNothingPerMessage()
    {
        // A shared driver on its own thread: this thread then runs only the two nodes' own work.
        final TransportDriver driver = TransportDriver.launch(new TransportDriver.Context());
        closeables.add(driver);
        final long[] received = new long[1];
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator())
            .aeronDirectoryName(driver.aeronDirectoryName()));
        final TransportNode b = launch(Nodes.context(2, new Events(new TrackingAllocator()), new TrackingAllocator())
            .aeronDirectoryName(driver.aeronDirectoryName())
            .defaultHandler((peer, template, buf, off, len) -> received[0]++));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)java.lang.management.ManagementFactory.getThreadMXBean();
        final int length = Nodes.heartbeat(buffer, 1);
        long allocated = 0;
        for (int round = 0; round < 2; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            final long target = received[0] + 20_000;
            while (received[0] < target)
            {
                for (int i = 0; i < 10 && a.send(2, buffer, 0, length); i++)
                {
                }
                a.doWork();
                b.doWork();
            }
            allocated = threads.getCurrentThreadAllocatedBytes() - before;
        }
        System.out.println("steady state: " + allocated + " bytes allocated for 20,000 messages");
        // Both nodes run on this thread: sends, receives, validation, dispatch, heartbeats, Aeron clients.
        assertTrue(allocated < 20_000, "allocated " + allocated + " bytes for 20,000 messages");
    }

    @Test
    void handlersPerTemplateAndUnknownPeer()
    {
        final Events eb = new Events(new TrackingAllocator());
        final List<Integer> specific = new ArrayList<>();
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator()));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator())
            .handler(WorkerHeartbeatDecoder.TEMPLATE_ID, (peer, template, buf, off, len) -> specific.add(template)));
        assertFalse(a.send(99, buffer, 0, Nodes.heartbeat(buffer, 1)), "unknown peer");
        assertEquals(1, a.counters().sendsRejected());
        a.addPeer(2, b.endpoint());
        a.send(2, buffer, 0, Nodes.heartbeat(buffer, 1));
        Nodes.await("specific handler", () -> specific.size() == 1, 10_000, a, b);
        assertEquals(0, eb.messages.size(), "default handler not used");
        b.handler(WorkerHeartbeatDecoder.TEMPLATE_ID, null);
        a.send(2, buffer, 0, Nodes.heartbeat(buffer, 2));
        Nodes.await("default handler after removal", () -> eb.messages.size() == 1, 10_000, a, b);
        assertEquals(1, specific.size());
    }

    @Test
    void sameSecretJoinsWrongSecretIsRefusedAndItsMessagesNeverArrive()
    {
        final byte[] secret = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()).clusterSecret(secret));
        final TransportNode good = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator()).clusterSecret(secret));
        final Events evil = new Events(new TrackingAllocator());
        final TransportNode bad = launch(Nodes.context(3, evil, new TrackingAllocator())
            .clusterSecret("wrong".getBytes(StandardCharsets.UTF_8)));
        final TransportNode none = launch(Nodes.context(4, new Events(new TrackingAllocator()), new TrackingAllocator()));

        good.addPeer(2, b.endpoint());
        bad.addPeer(2, b.endpoint());
        none.addPeer(2, b.endpoint());
        good.send(2, buffer, 0, Nodes.heartbeat(buffer, 1));
        bad.send(2, buffer, 0, Nodes.heartbeat(buffer, 666));
        none.send(2, buffer, 0, Nodes.heartbeat(buffer, 667));
        Nodes.await("good joined, bad refused",
            () -> good.isJoined(2) && eb.messages.size() == 1 && evil.lost.size() == 1 && !none.isJoined(2) &&
            b.counters().handshakesRefused() + bad.counters().handshakesRefused() >= 2,
            10_000, b, good, bad, none);
        Nodes.run(300, b, good, bad, none);
        assertEquals(1, eb.messages.size(), "only the good node's message arrived");
        assertEquals(1, eb.messages.get(0).peerId());
        assertTrue(evil.lost.get(0).contains("refused"), evil.lost.toString());
        assertFalse(bad.isJoined(2));
        assertFalse(none.isJoined(2));
        assertFalse(b.isJoined(3));
    }

    @Test
    void aHelloClaimingAJoinedPeersIdEvictsNothingWithoutTheSecret()
    {
        final byte[] secret = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
        final Events ea = new Events(new TrackingAllocator());
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()).clusterSecret(secret));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()).clusterSecret(secret));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);

        // Anyone who can reach b's endpoint can send a Hello naming node 1; only the handshake may make it node 1.
        final TransportDriver rawDriver = TransportDriver.launch(new TransportDriver.Context());
        closeables.add(rawDriver);
        final Aeron raw = Aeron.connect(new Aeron.Context().aeronDirectoryName(rawDriver.aeronDirectoryName()));
        closeables.add(raw);
        final ExclusivePublication pub = raw.addExclusivePublication("aeron:udp?endpoint=" + b.endpoint(), 1001);
        Nodes.await("raw connected", pub::isConnected, 10_000, a, b);
        final UnsafeBuffer hello = new UnsafeBuffer(new byte[512]);
        final HelloEncoder encoder = new HelloEncoder().wrapAndApplyHeader(hello, 0, new MessageHeaderEncoder())
            .nodeId(1).ipcControlStreamId(0x2000_0000).ipcBulkStreamId(0x2000_0001)
            .putNonce(new byte[16], 0, 16).endpoint("127.0.0.1:9").bulkEndpoint("127.0.0.1:10").driverKey("impostor").processKey("impostor");
        final int helloLength = MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
        while (pub.offer(hello, 0, helloLength) < 0)
        {
            a.doWork();
            b.doWork();
        }
        Nodes.run(500, a, b);
        assertEquals(List.of(), eb.lost, "b kept node 1");
        assertTrue(b.isJoined(1) && a.isJoined(2));
        b.send(1, buffer, 0, Nodes.heartbeat(buffer, 3));
        Nodes.await("b still talks to the real node 1", () -> ea.messages.size() == 1, 5_000, a, b);
        Nodes.run(1800, a, b); // past the handshake timeout: the impostor's attempt is dropped, node 1 stays
        assertEquals(List.of(), eb.lost);
        assertTrue(b.isJoined(1));
    }

    @Test
    void aRestartedNodeWithTheSameIdReplacesItsOldSelfOnceItPassesTheHandshake()
    {
        final byte[] secret = "correct horse battery staple".getBytes(StandardCharsets.UTF_8);
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode old = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator()).clusterSecret(secret));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()).clusterSecret(secret)
            .peerTimeoutNs(TimeUnit.SECONDS.toNanos(10)));
        old.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> old.isJoined(2) && b.isJoined(1), 10_000, old, b);

        // The old incarnation stops (as if killed: no goodbye, still within b's peer timeout); a new one with its id joins.
        final Events ea = new Events(new TrackingAllocator());
        final TransportNode restarted = launch(Nodes.context(1, ea, new TrackingAllocator()).clusterSecret(secret));
        restarted.addPeer(2, b.endpoint());
        Nodes.await("restarted node joined", () -> restarted.isJoined(2) && b.isJoined(1) && eb.lost.size() == 1, 10_000, restarted, b);
        assertTrue(eb.lost.get(0).contains("reconnected"), eb.lost.toString());
        b.send(1, buffer, 0, Nodes.heartbeat(buffer, 4));
        restarted.send(2, buffer, 0, Nodes.heartbeat(buffer, 5));
        Nodes.await("both ways", () -> ea.messages.size() == 1 && eb.messages.size() == 1, 5_000, restarted, b);
    }

    @Test
    void silentPeerIsLostAfterTheTimeoutAndQueuedMessagesAreReported()
    {
        final Events ea = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()));
        final TransportNode b = launch(Nodes.context(2, new Events(new TrackingAllocator()), new TrackingAllocator()));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        final long start = System.nanoTime();
        Nodes.await("a loses b", () -> ea.lost.size() == 1, 10_000, a);
        final long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertTrue(tookMs >= 1000, "not before the timeout: " + tookMs);
        assertFalse(a.isJoined(2));
        assertTrue(ea.lost.get(0).startsWith("2: "), ea.lost.toString());
        assertFalse(a.send(2, buffer, 0, Nodes.heartbeat(buffer, 1)), "lost peer is unknown again");
    }

    @Test
    void unreachablePeerIsLostAndItsQueuedMessagesCounted()
    {
        final Events ea = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()));
        a.addPeer(2, "127.0.0.1:9");
        a.send(2, buffer, 0, Nodes.heartbeat(buffer, 1));
        a.send(2, buffer, 0, Nodes.heartbeat(buffer, 2));
        Nodes.await("lost", () -> ea.lost.size() == 1, 10_000, a);
        assertTrue(ea.lost.get(0).contains("2: "), ea.lost.toString());
    }

    @Test
    void removePeerSaysGoodbye()
    {
        final Events ea = new Events(new TrackingAllocator());
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        assertTrue(a.removePeer(2));
        assertFalse(a.removePeer(2));
        assertTrue(ea.lost.get(0).contains("removed"), ea.lost.toString());
        Nodes.await("b told", () -> eb.lost.size() == 1, 2_000, a, b);
        assertTrue(eb.lost.get(0).contains("left"), eb.lost.toString());
    }

    @Test
    void goodbyeIsAnImmediateLoss()
    {
        final Events ea = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()));
        final TransportNode b = TransportNode.launch(Nodes.context(2, new Events(new TrackingAllocator()), new TrackingAllocator()));
        try
        {
            a.addPeer(2, b.endpoint());
            Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        }
        finally
        {
            b.close();
        }
        Nodes.await("a told", () -> ea.lost.size() == 1, 1_000, a);
        assertTrue(ea.lost.get(0).contains("left"), ea.lost.toString());
    }

    @Test
    void backPressureQueuesInOrderAndAFullQueueIsRefusedNotDropped()
    {
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator())
            .controlTermLength(64 * 1024).maxQueuedBytesPerPeer(256 * 1024).sendTimeoutNs(TimeUnit.MILLISECONDS.toNanos(20)));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);

        final UnsafeBuffer big = new UnsafeBuffer(new byte[4096]);
        int accepted = 0;
        int refused = 0;
        for (int i = 0; i < 2000; i++)
        {
            final int length = Nodes.heartbeat(big, accepted);
            // b is not stepped: its window fills, a's publication pushes back, a's queue fills.
            if (a.send(2, big, 0, length))
            {
                accepted++;
            }
            else
            {
                refused++;
            }
        }
        assertTrue(a.counters().messagesQueued() > 0, "some waited in the queue");
        assertEquals(refused, a.counters().sendsRejected());
        final int expected = accepted;
        Nodes.await("every accepted message", () -> eb.messages.size() == expected, 20_000, a, b);
        final WorkerHeartbeatDecoder decoder = new WorkerHeartbeatDecoder();
        for (int i = 0; i < expected; i++)
        {
            decoder.wrap(new UnsafeBuffer(eb.messages.get(i).bytes()), 8, WorkerHeartbeatDecoder.BLOCK_LENGTH, 1);
            assertEquals(i, decoder.timestampNs());
        }
    }

    @Test
    void aSendWaitingOnAFullQueueWhenThePeerIsLostIsRefusedNotSwallowed()
    {
        final boolean[] lost = new boolean[1];
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator())
            .driverContext(new TransportDriver.Context().threadingMode(ThreadingMode.INVOKER)
                .imageLivenessTimeoutNs(TimeUnit.MILLISECONDS.toNanos(300)))
            .controlTermLength(64 * 1024).maxQueuedBytesPerPeer(64 * 1024).sendTimeoutNs(TimeUnit.SECONDS.toNanos(5))
            .peerListener(new PeerListener()
            {
                public void onPeerLost(final long peerId, final String reason, final int droppedMessages)
                {
                    lost[0] = true;
                }
            }));
        final TransportNode b = launch(Nodes.context(2, new Events(new TrackingAllocator()), new TrackingAllocator()));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);

        // b stops: a's publication pushes back, a's queue fills, and the send that finds it full waits while a's
        // driver drops b's silent image and the peer is lost. That send must not report the message accepted.
        final UnsafeBuffer big = new UnsafeBuffer(new byte[4096]);
        final int length = Nodes.heartbeat(big, 1);
        for (int i = 0; i < 10_000; i++)
        {
            final boolean accepted = a.send(2, big, 0, length);
            assertFalse(accepted && lost[0], "message " + i + " accepted by a peer lost during the send");
            if (!accepted)
            {
                break;
            }
        }
        assertTrue(lost[0], "peer lost while a send waited");
        assertEquals(1, a.counters().sendsRejected());
    }

    @Test
    void unauthenticatedAndOtherVersionMessagesAreDroppedUndecoded()
    {
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator()));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()));
        final TransportDriver rawDriver = TransportDriver.launch(new TransportDriver.Context());
        closeables.add(rawDriver);
        final Aeron raw = Aeron.connect(new Aeron.Context().aeronDirectoryName(rawDriver.aeronDirectoryName()));
        closeables.add(raw);
        final ExclusivePublication pub = raw.addExclusivePublication("aeron:udp?endpoint=" + b.endpoint(), 1001);
        Nodes.await("raw connected", pub::isConnected, 10_000, a, b);
        final int length = Nodes.heartbeat(buffer, 5);
        for (int i = 0; i < 10; i++)
        {
            while (pub.offer(buffer, 0, length) < 0)
            {
                a.doWork();
                b.doWork();
            }
        }
        final UnsafeBuffer large = new UnsafeBuffer(new byte[8192]);
        Nodes.heartbeat(large, 6);
        while (pub.offer(large, 0, large.capacity()) < 0)
        {
            a.doWork();
            b.doWork();
        }
        Nodes.await("dropped", () -> b.counters().unauthenticatedDropped() == 11, 5_000, a, b);
        assertEquals(0, eb.messages.size());

        // A Hello from a node speaking another protocol version is refused before anything else is read.
        final SchemaMessages schema = SchemaMessages.load();
        final UnsafeBuffer hello = new UnsafeBuffer(new byte[1024]);
        final int helloLength = schema.encode(io.offgrid.transport.protocol.HelloDecoder.TEMPLATE_ID, hello, 0, new java.util.Random(1));
        hello.putShort(6, (short)(MessageHeaderDecoder.SCHEMA_VERSION + 1), ByteOrder.LITTLE_ENDIAN);
        while (pub.offer(hello, 0, helloLength) < 0)
        {
            a.doWork();
            b.doWork();
        }
        Nodes.await("version refused", () -> b.counters().versionMismatches() == 1, 5_000, a, b);
        assertEquals(0, b.peerCount(), "no peer made from it");

        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        buffer.putShort(6, (short)(MessageHeaderDecoder.SCHEMA_VERSION + 1), ByteOrder.LITTLE_ENDIAN);
        a.send(2, buffer, 0, length);
        buffer.putShort(6, (short)MessageHeaderDecoder.SCHEMA_VERSION, ByteOrder.LITTLE_ENDIAN);
        a.send(2, buffer, 0, length - 3);
        a.send(2, buffer, 0, length);
        Nodes.await("good one", () -> eb.messages.size() == 1, 5_000, a, b);
        assertEquals(2, b.counters().versionMismatches());
        assertEquals(1, b.counters().malformedDropped());
        assertTrue(b.isJoined(1), "the node keeps the peer and keeps running");
    }

    @Test
    void badInputFromUnauthenticatedSessionsIsLoggedOncePerSessionWithinABound()
    {
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator()));
        a.badInput(null, 77, "test");
        a.badInput(null, 77, "test");
        assertEquals(1, a.loggedUnauthenticatedSessions());
        // Session ids are the sender's choice: remembering every one would grow without end.
        for (int session = 0; session < 3 * TransportNode.MAX_LOGGED_SESSIONS; session++)
        {
            a.badInput(null, session, "test");
        }
        assertEquals(TransportNode.MAX_LOGGED_SESSIONS, a.loggedUnauthenticatedSessions());
    }

    @Test
    void aBlockAtAddressZeroIsRefusedAtTheCall()
    {
        final TransportNode a = launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator()));
        a.addPeer(2, "127.0.0.1:9");
        final UnsafeBuffer meta = new UnsafeBuffer(new byte[0]);
        assertThrows(TransportException.class, () -> a.sendBlock(2, 0, 4096, meta, 0, 0));
        assertTrue(a.sendBlock(2, 0, 0, meta, 0, 0) > 0, "an empty block needs no memory");
    }

    @Test
    void nodesSharingADriverTalkOverIpc()
    {
        final TransportDriver driver = TransportDriver.launch(new TransportDriver.Context());
        closeables.add(driver);
        final Events ea = new Events(new TrackingAllocator());
        final Events eb = new Events(new TrackingAllocator());
        final TransportNode a = launch(Nodes.context(1, ea, new TrackingAllocator()).aeronDirectoryName(driver.aeronDirectoryName()));
        final TransportNode b = launch(Nodes.context(2, eb, new TrackingAllocator()).aeronDirectoryName(driver.aeronDirectoryName()));
        a.addPeer(2, b.endpoint());
        a.send(2, buffer, 0, Nodes.heartbeat(buffer, 1));
        Nodes.await("message over IPC", () -> eb.messages.size() == 1 && a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        assertTrue(a.usesIpc(2));
        assertTrue(b.usesIpc(1));
        b.send(1, buffer, 0, Nodes.heartbeat(buffer, 2));
        Nodes.await("reply over IPC", () -> ea.messages.size() == 1, 5_000, a, b);
    }
}
