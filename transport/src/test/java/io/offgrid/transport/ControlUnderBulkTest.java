package io.offgrid.transport;

import io.offgrid.transport.protocol.WorkerHeartbeatDecoder;
import org.agrona.CloseHelper;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * "A large transfer never delays a control message by more than one chunk": while a block streams from a to b,
 * a sends control messages one at a time, and b counts how many bulk bytes it copied between the send and the
 * control message's handler. Both nodes run on this thread, so the count is exact (not a wall-time figure).
 * Block size: {@code -Doffgrid.test.bulkBytes} (default 256 MiB; the README figure used 1 GiB).
 */
@Timeout(120)
class ControlUnderBulkTest
{
    private static final long BLOCK_LENGTH = Long.getLong("offgrid.test.bulkBytes", 256L * 1024 * 1024);
    private static final int CHUNK_LENGTH = 1024 * 1024;

    private final List<AutoCloseable> closeables = new ArrayList<>();
    private long source;

    @AfterEach
    void closeAll()
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        if (0 != source)
        {
            UnsafeApi.freeMemory(source);
        }
        Nodes.assertNoDriverDirectories();
    }

    @Test
    void withBulkOnTheControlSocketBlocksStillMove()
    {
        // The lower-latency option: one socket (no bound on what a control message waits behind, so not asserted).
        final TrackingAllocator allocB = new TrackingAllocator();
        final Events ea = new Events(new TrackingAllocator());
        final Events eb = new Events(allocB);
        final TransportNode a = TransportNode.launch(Nodes.context(1, ea, new TrackingAllocator()).separateBulkSocket(false));
        closeables.add(a);
        final TransportNode b = TransportNode.launch(Nodes.context(2, eb, allocB).separateBulkSocket(false));
        closeables.add(b);
        assertEquals(b.endpoint(), b.bulkEndpoint());
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        final long length = 8L * CHUNK_LENGTH + 12345;
        source = Pattern.allocateFilled(length, 77);
        final byte[] meta = Events.seedMetadata(77);
        a.sendBlock(2, source, length, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("block", () -> eb.received.size() == 1 && ea.sent.size() == 1, 20_000, a, b);
        assertTrue(eb.received.get(0).intact());
        assertEquals(0, allocB.outstandingBytes());
    }

    @ParameterizedTest(name = "shared driver (IPC): {0}")
    @ValueSource(booleans = {false, true})
    void aControlMessageWaitsBehindAtMostOneChunkOfBulkData(final boolean sharedDriver)
    {
        // Touched before the nodes start: first touch of a large block takes longer than the peer timeout.
        source = UnsafeApi.allocateMemory(BLOCK_LENGTH);
        UnsafeApi.setMemory(source, BLOCK_LENGTH, (byte)7);
        final TrackingAllocator allocB = new TrackingAllocator();
        final Events ea = new Events(new TrackingAllocator());
        final Events eb = new Events(allocB);
        final long[] probe = new long[3]; // [0] b's bulk bytes at the send, [1] send time, [2] probes in flight
        final long[] bytesAhead = new long[100_000];
        final long[] micros = new long[100_000];
        final int[] count = new int[1];
        final TransportNode[] nodes = new TransportNode[2];
        // Streamed chunks (DirectReadTest checks control between the chunks of a direct read).
        TransportNode.Context ca = Nodes.context(1, ea, new TrackingAllocator()).chunkLength(CHUNK_LENGTH).directReads(false);
        TransportNode.Context cb = Nodes.context(2, eb, allocB).chunkLength(CHUNK_LENGTH).directReads(false)
            .handler(WorkerHeartbeatDecoder.TEMPLATE_ID, (peer, template, buffer, offset, length) ->
            {
                if (count[0] < bytesAhead.length)
                {
                    bytesAhead[count[0]] = nodes[1].counters().bytesReceived() - probe[0];
                    micros[count[0]++] = (System.nanoTime() - probe[1]) / 1000;
                }
                probe[2] = 0;
            });
        if (sharedDriver)
        {
            final TransportDriver driver = TransportDriver.launch(new TransportDriver.Context());
            closeables.add(driver);
            ca = ca.aeronDirectoryName(driver.aeronDirectoryName());
            cb = cb.aeronDirectoryName(driver.aeronDirectoryName());
        }
        final TransportNode a = TransportNode.launch(ca);
        closeables.add(a);
        final TransportNode b = TransportNode.launch(cb);
        closeables.add(b);
        nodes[1] = b;
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);
        assertEquals(sharedDriver, a.usesIpc(2));

        final byte[] meta = "control-under-bulk".getBytes(StandardCharsets.US_ASCII);
        a.sendBlock(2, source, BLOCK_LENGTH, new UnsafeBuffer(meta), 0, meta.length);
        final UnsafeBuffer message = new UnsafeBuffer(new byte[64]);
        final int messageLength = Nodes.heartbeat(message, 1);
        final long deadline = System.nanoTime() + 100_000_000_000L;
        while (eb.received.isEmpty() && eb.receiveFailed.isEmpty() && ea.sendFailed.isEmpty() && System.nanoTime() < deadline)
        {
            a.doWork();
            b.doWork();
            final long copied = b.counters().bytesReceived();
            if (0 == probe[2] && copied > 0 && copied < BLOCK_LENGTH - 8L * CHUNK_LENGTH)
            {
                probe[0] = copied;
                probe[1] = System.nanoTime();
                probe[2] = 1;
                assertTrue(a.send(2, message, 0, messageLength));
            }
        }
        assertEquals(1, eb.received.size(), "block arrived: " + eb.receiveFailed + ", " + ea.sendFailed + ", " + ea.lost);
        Nodes.await("block sent", () -> ea.sent.size() == 1, 10_000, a, b);
        assertEquals(0, allocB.outstandingBytes());

        final int n = count[0];
        assertTrue(n >= 20, "control messages sent during the transfer: " + n);
        final long[] bytes = Arrays.copyOf(bytesAhead, n);
        final long[] us = Arrays.copyOf(micros, n);
        Arrays.sort(bytes);
        Arrays.sort(us);
        System.out.printf("control under bulk (%s, %d MiB block, %d KiB chunks): %d control messages; bulk bytes copied " +
            "while one was in flight p50 %d, p99 %d, max %d; latency p50 %d us, p99 %d us, max %d us%n",
            sharedDriver ? "IPC" : "UDP", BLOCK_LENGTH >> 20, CHUNK_LENGTH >> 10, n,
            bytes[n / 2], bytes[(int)(n * 0.99)], bytes[n - 1], us[n / 2], us[(int)(n * 0.99)], us[n - 1]);
        assertTrue(bytes[n - 1] <= CHUNK_LENGTH,
            "a control message waited behind " + bytes[n - 1] + " bulk bytes, more than one chunk (" + CHUNK_LENGTH + ")");
    }
}
