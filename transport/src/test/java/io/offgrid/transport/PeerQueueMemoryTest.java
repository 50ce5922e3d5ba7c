package io.offgrid.transport;

import org.agrona.CloseHelper;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-peer send queues hold native memory; it must come back when the peer goes (removed, lost, node closed), not
 * whenever a garbage collector runs. Checked with the transport's counter and, independently, the JVM's native
 * memory tracking.
 */
@Timeout(60)
class PeerQueueMemoryTest
{
    private static final int PEERS_PER_ROUND = 40;
    private static final int MESSAGES_PER_PEER = 16;
    private static final int MESSAGE_LENGTH = 8192;
    /** Aeron's and the JDK's own small allocations while the test runs; far below what one round queues (~10 MiB). */
    private static final long NMT_SLACK = 2L * 1024 * 1024;

    private TransportNode node;
    private final UnsafeBuffer message = new UnsafeBuffer(new byte[MESSAGE_LENGTH]);

    @AfterEach
    void close()
    {
        CloseHelper.quietClose(node);
        Nodes.assertNoDriverDirectories();
    }

    private TransportNode.Context context(final Events events)
    {
        return Nodes.context(1, events, new TrackingAllocator())
            .controlTermLength(64 * 1024)
            .handshakeTimeoutNs(TimeUnit.SECONDS.toNanos(30));
    }

    private void queueFor(final long peerId)
    {
        node.addPeer(peerId, "127.0.0.1:9"); // nobody there: messages wait in the queue for a handshake
        for (int i = 0; i < MESSAGES_PER_PEER; i++)
        {
            assertTrue(node.send(peerId, message, 0, MESSAGE_LENGTH));
        }
    }

    @Test
    void queuesOfPeersThatComeAndGoAreFreedWhenTheyGoAndAtClose()
    {
        Nodes.heartbeat(message, 1);
        final Events events = new Events(new TrackingAllocator());
        node = TransportNode.launch(context(events));
        node.doWork();
        final long baseline = NativeMemoryTracking.otherBytes();
        long peerId = 100;
        for (int round = 0; round < 4; round++)
        {
            final long first = peerId;
            for (int i = 0; i < PEERS_PER_ROUND; i++)
            {
                queueFor(peerId++);
            }
            final long queued = (long)PEERS_PER_ROUND * MESSAGES_PER_PEER * MESSAGE_LENGTH;
            assertTrue(node.counters().queueMemoryBytes() >= queued, "counter " + node.counters().queueMemoryBytes());
            final long grown = NativeMemoryTracking.otherBytes() - baseline;
            assertTrue(grown >= queued, "NMT saw " + grown + " bytes more, queued " + queued);
            for (long id = first; id < peerId; id++)
            {
                assertTrue(node.removePeer(id));
            }
            assertEquals(0, node.counters().queueMemoryBytes());
            final long left = NativeMemoryTracking.otherBytes() - baseline;
            assertTrue(left < NMT_SLACK, "round " + round + ": " + left + " bytes still allocated after the peers were removed");
        }
        assertEquals(4 * PEERS_PER_ROUND, events.lost.size());

        // Lost, not removed: a handshake that times out.
        node.close();
        node = TransportNode.launch(context(events).handshakeTimeoutNs(TimeUnit.MILLISECONDS.toNanos(200)));
        queueFor(2);
        assertTrue(node.counters().queueMemoryBytes() > 0);
        Nodes.await("lost", () -> events.lost.size() == 4 * PEERS_PER_ROUND + 1, 10_000, node);
        assertEquals(0, node.counters().queueMemoryBytes());

        // Still known at close.
        node.close();
        node = TransportNode.launch(context(events));
        for (int i = 0; i < PEERS_PER_ROUND; i++)
        {
            queueFor(1000 + i);
        }
        final TransportCounters counters = node.counters();
        assertTrue(counters.queueMemoryBytes() > 0);
        node.close();
        assertEquals(0, counters.queueMemoryBytes());
        final long left = NativeMemoryTracking.otherBytes() - baseline;
        assertTrue(left < NMT_SLACK, left + " bytes still allocated after close");
    }
}
