package io.offgrid.transport;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.logbuffer.FragmentHandler;
import io.offgrid.transport.protocol.ChallengeEncoder;
import io.offgrid.transport.protocol.HelloDecoder;
import io.offgrid.transport.protocol.HelloEncoder;
import io.offgrid.transport.protocol.MessageHeaderDecoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.RefusedDecoder;
import io.offgrid.transport.protocol.RefusedEncoder;
import io.offgrid.transport.protocol.WelcomeEncoder;
import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The handshake against crafted messages from a raw Aeron client (no transport code on that side): answers bound
 * to the handshake's nonce, and nodes of another schema version told why they are refused.
 */
@Timeout(60)
class HandshakeTest
{
    private static final int OTHER_VERSION = 99;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[1024]);
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();

    @AfterEach
    void closeAll()
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        Nodes.assertNoDriverDirectories();
    }

    /** A fake peer: its own driver, a subscription on its own endpoint, a publication to the node under test. */
    private final class RawPeer
    {
        final String endpoint = "127.0.0.1:" + freePort();
        final Aeron aeron;
        final Subscription sub;
        final List<byte[]> received = new ArrayList<>();
        final FragmentHandler collect = (buf, offset, length, hdr) ->
        {
            final byte[] bytes = new byte[length];
            buf.getBytes(offset, bytes);
            received.add(bytes);
        };

        RawPeer()
        {
            final TransportDriver driver = TransportDriver.launch(new TransportDriver.Context());
            closeables.add(driver);
            aeron = Aeron.connect(new Aeron.Context().aeronDirectoryName(driver.aeronDirectoryName()));
            closeables.add(aeron);
            sub = aeron.addSubscription("aeron:udp?endpoint=" + endpoint, 1001);
        }

        ExclusivePublication publicationTo(final String nodeEndpoint, final TransportNode node)
        {
            final ExclusivePublication pub = aeron.addExclusivePublication("aeron:udp?endpoint=" + nodeEndpoint, 1001);
            Nodes.await("raw publication connected", pub::isConnected, 10_000, node);
            return pub;
        }

        void send(final ExclusivePublication pub, final int length, final TransportNode node)
        {
            while (pub.offer(buffer, 0, length) < 0)
            {
                node.doWork();
            }
        }

        /** @return the first message of this template, stepping the node until it arrives. */
        UnsafeBuffer await(final int templateId, final TransportNode node)
        {
            final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline)
            {
                node.doWork();
                sub.poll(collect, 10);
                for (final byte[] bytes : received)
                {
                    final UnsafeBuffer message = new UnsafeBuffer(bytes);
                    if (bytes.length >= 8 && new MessageHeaderDecoder().wrap(message, 0).templateId() == templateId)
                    {
                        return message;
                    }
                }
            }
            throw new AssertionError("no message of template " + templateId + " arrived");
        }
    }

    private static int freePort()
    {
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0)))
        {
            return socket.getLocalPort();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static byte[] helloNonce(final UnsafeBuffer hello)
    {
        final byte[] nonce = new byte[Handshake.NONCE_LENGTH];
        new HelloDecoder().wrap(hello, MessageHeaderDecoder.ENCODED_LENGTH, HelloDecoder.BLOCK_LENGTH, HelloDecoder.SCHEMA_VERSION)
            .getNonce(nonce, 0, nonce.length);
        return nonce;
    }

    private int refused(final long nodeId, final byte[] nonce, final String reason)
    {
        return MessageHeaderEncoder.ENCODED_LENGTH + new RefusedEncoder().wrapAndApplyHeader(buffer, 0, header)
            .nodeId(nodeId).putInitiatorNonce(nonce, 0, nonce.length).reason(reason).encodedLength();
    }

    @Test
    void forgedAnswersThatDoNotEchoTheHandshakeNonceCanNeitherAbortNorHijackIt()
    {
        final Events ea = new Events(new TrackingAllocator());
        final TransportNode a = TransportNode.launch(Nodes.context(1, ea, new TrackingAllocator())
            .handshakeTimeoutNs(TimeUnit.SECONDS.toNanos(30)));
        closeables.add(a);
        final RawPeer peer2 = new RawPeer();
        a.addPeer(2, peer2.endpoint);
        final byte[] nonce = helloNonce(peer2.await(HelloDecoder.TEMPLATE_ID, a));

        // A forger who did not see the Hello: Refused, Challenge and Welcome naming node 2, with a guessed nonce.
        final ExclusivePublication forger = peer2.publicationTo(a.endpoint(), a);
        final byte[] guess = new byte[Handshake.NONCE_LENGTH];
        peer2.send(forger, refused(2, guess, "refused by node 2: forged"), a);
        peer2.send(forger, MessageHeaderEncoder.ENCODED_LENGTH + new ChallengeEncoder().wrapAndApplyHeader(buffer, 0, header)
            .nodeId(2).initiatorNodeId(1).ipcControlStreamId(0x2000_0000).ipcBulkStreamId(0x2000_0001)
            .putNonce(guess, 0, guess.length).putMac(new byte[Handshake.MAC_LENGTH], 0, Handshake.MAC_LENGTH)
            .putInitiatorNonce(guess, 0, guess.length).bulkEndpoint("127.0.0.1:9").driverKey("forged").processKey("forged").encodedLength(), a);
        peer2.send(forger, MessageHeaderEncoder.ENCODED_LENGTH + new WelcomeEncoder().wrapAndApplyHeader(buffer, 0, header)
            .nodeId(2).putInitiatorNonce(guess, 0, guess.length).encodedLength(), a);
        Nodes.await("forgeries dropped", () -> a.counters().unboundHandshakeDropped() >= 2, 5_000, a);
        Nodes.run(200, a);
        assertEquals(List.of(), ea.lost, "a forged Refused did not end the handshake");
        assertEquals(1, a.peerCount());
        assertEquals(0, a.counters().handshakesRefused());

        // The real peer's Refused echoes the nonce of the Hello it answers: that one ends the handshake at once.
        peer2.send(forger, refused(2, nonce, "refused by node 2: for real"), a);
        Nodes.await("refusal", () -> ea.lost.size() == 1, 5_000, a);
        assertEquals("2: refused by node 2: for real", ea.lost.get(0));
    }

    @Test
    void aHelloInAnotherSchemaVersionIsAnsweredWithARefusalNamingBothVersions()
    {
        final TransportNode b = TransportNode.launch(Nodes.context(2, new Events(new TrackingAllocator()), new TrackingAllocator()));
        closeables.add(b);
        final RawPeer future = new RawPeer();
        final ExclusivePublication pub = future.publicationTo(b.endpoint(), b);

        // A Hello from a node of version 99: only the layout frozen across versions (nodeId, nonce, endpoint) is read.
        final byte[] nonce = new byte[Handshake.NONCE_LENGTH];
        Arrays.fill(nonce, (byte)0x5A);
        final int length = MessageHeaderEncoder.ENCODED_LENGTH + new HelloEncoder().wrapAndApplyHeader(buffer, 0, header)
            .nodeId(7).ipcControlStreamId(0).ipcBulkStreamId(0).putNonce(nonce, 0, nonce.length)
            .endpoint(future.endpoint).bulkEndpoint(future.endpoint).driverKey("elsewhere").encodedLength();
        buffer.putShort(6, (short)OTHER_VERSION, ByteOrder.LITTLE_ENDIAN);
        future.send(pub, length, b);

        final UnsafeBuffer answer = future.await(RefusedDecoder.TEMPLATE_ID, b);
        final MessageHeaderDecoder answerHeader = new MessageHeaderDecoder().wrap(answer, 0);
        assertEquals(MessageHeaderDecoder.SCHEMA_ID, answerHeader.schemaId());
        assertEquals(MessageHeaderDecoder.SCHEMA_VERSION, answerHeader.version(), "answered in its own version");
        final RefusedDecoder refused = new RefusedDecoder().wrap(
            answer, MessageHeaderDecoder.ENCODED_LENGTH, answerHeader.blockLength(), answerHeader.version());
        assertEquals(2, refused.nodeId());
        final byte[] echoed = new byte[Handshake.NONCE_LENGTH];
        refused.getInitiatorNonce(echoed, 0, echoed.length);
        assertArrayEquals(nonce, echoed, "bound to the Hello it answers");
        final String reason = refused.reason();
        assertTrue(reason.contains("peer speaks schema 4207 v" + OTHER_VERSION + ", this node v" + MessageHeaderDecoder.SCHEMA_VERSION),
            reason);
        assertEquals(1, b.counters().versionMismatches());
        assertEquals(1, b.counters().handshakesRefused());
        assertEquals(0, b.peerCount(), "nothing kept of it");
    }

    @Test
    void aRefusalInAnotherSchemaVersionEndsTheHandshakeWithAClearErrorNotATimeout()
    {
        final Events ea = new Events(new TrackingAllocator());
        final TransportNode a = TransportNode.launch(Nodes.context(1, ea, new TrackingAllocator())
            .handshakeTimeoutNs(TimeUnit.SECONDS.toNanos(30)));
        closeables.add(a);
        final RawPeer old = new RawPeer();
        a.addPeer(2, old.endpoint);
        final byte[] nonce = helloNonce(old.await(HelloDecoder.TEMPLATE_ID, a));

        // What a node of version 99 answers to our Hello: a Refused in its own version, by the frozen layout.
        final ExclusivePublication pub = old.publicationTo(a.endpoint(), a);
        final int length = refused(2, nonce, "node 2 refused node 1: peer speaks schema 4207 v" + MessageHeaderDecoder.SCHEMA_VERSION +
            ", this node v" + OTHER_VERSION);
        buffer.putShort(6, (short)OTHER_VERSION, ByteOrder.LITTLE_ENDIAN);
        old.send(pub, length, a);

        Nodes.await("refusal", () -> ea.lost.size() == 1, 5_000, a);
        assertEquals("2: refused: peer speaks schema 4207 v" + OTHER_VERSION + ", this node v" + MessageHeaderDecoder.SCHEMA_VERSION,
            ea.lost.get(0));
        assertEquals(1, a.counters().versionMismatches());
        assertEquals(1, a.counters().handshakesRefused());
    }
}
