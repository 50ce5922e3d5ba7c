package io.offgrid.transport;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.offgrid.transport.protocol.BlockChunkEncoder;
import io.offgrid.transport.protocol.BlockEndEncoder;
import io.offgrid.transport.protocol.BlockStartEncoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Throws random and mutated bytes at a node's control and bulk subscriptions, from an authenticated peer and
 * from an unauthenticated publication, for a bounded time. The node must not throw, must count what it
 * dropped, must give back every partial block, and must still serve a fresh peer afterwards.
 */
@Timeout(120)
class FuzzTest
{
    private static final long FUZZ_MS = 4_000;
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final TrackingAllocator allocB = new TrackingAllocator();

    @AfterEach
    void closeAll()
    {
        for (int i = closeables.size() - 1; i >= 0; i--)
        {
            CloseHelper.quietClose(closeables.get(i));
        }
        assertEquals(0, allocB.outstandingBytes(), "every partial block freed");
        Nodes.assertNoDriverDirectories();
    }

    private <T extends AutoCloseable> T keep(final T closeable)
    {
        closeables.add(closeable);
        return closeable;
    }

    @Test
    void randomAndMutatedInputNeverBreaksANode()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final SchemaMessages schema = SchemaMessages.load();
        final List<Integer> templates = new ArrayList<>(schema.applicationTemplateIds());
        templates.add(6);
        templates.add(14);

        final BlockAllocator capped = new BlockAllocator()
        {
            public long allocate(final long p, final long t, final long length, final DirectBuffer m, final int o, final int l)
            {
                return length > 4 * 1024 * 1024 ? 0 : allocB.allocate(p, t, length, m, o, l);
            }

            public void free(final long address, final long length)
            {
                allocB.free(address, length);
            }
        };
        final Events eb = new Events(allocB);
        final TransportNode b = keep(TransportNode.launch(Nodes.context(2, eb, allocB).blockAllocator(capped).maxPeers(32)));
        final TransportNode a = keep(TransportNode.launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator())
            .peerTimeoutNs(TimeUnit.SECONDS.toNanos(30))));
        a.addPeer(2, b.endpoint());
        Nodes.await("joined", () -> a.isJoined(2) && b.isJoined(1), 10_000, a, b);

        final TransportDriver rawDriver = keep(TransportDriver.launch(new TransportDriver.Context()));
        final Aeron raw = keep(Aeron.connect(new Aeron.Context().aeronDirectoryName(rawDriver.aeronDirectoryName())));
        final ExclusivePublication rawControl = raw.addExclusivePublication("aeron:udp?endpoint=" + b.endpoint(), 1001);
        final ExclusivePublication rawBulk = raw.addExclusivePublication("aeron:udp?endpoint=" + b.bulkEndpoint(), 1002);

        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[70 * 1024]);
        final long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(FUZZ_MS);
        long sent = 0;
        long transferId = 1_000_000;
        try
        {
            while (System.nanoTime() < end)
            {
                final int mode = random.nextInt(6);
                int length;
                switch (mode)
                {
                    case 0: // valid message of a random template
                        length = schema.encode(templates.get(random.nextInt(templates.size())), buffer, 0, random);
                        break;
                    case 1: // mutated valid message
                    case 2:
                        length = mutate(buffer, schema.encode(templates.get(random.nextInt(templates.size())), buffer, 0, random), random);
                        break;
                    default: // random bytes, sometimes behind a valid-looking header
                        length = 8 + random.nextInt(512);
                        for (int i = 0; i < length; i++)
                        {
                            buffer.putByte(i, (byte)random.nextInt());
                        }
                        if (random.nextBoolean())
                        {
                            schema.encode(templates.get(random.nextInt(templates.size())), buffer, 0, random);
                        }
                }
                final int target = random.nextInt(4);
                if (0 == target && length >= 8)
                {
                    a.send(2, buffer, 0, length);
                }
                else if (1 == target)
                {
                    // A fuzzed goodbye can make b drop a for a while: a then has no bulk publication to it.
                    final ExclusivePublication bulk = a.bulkPublication(2);
                    if (null != bulk)
                    {
                        transferId = bulkSequence(bulk, buffer, random, transferId);
                    }
                }
                else if (2 == target)
                {
                    if (random.nextInt(10) == 0)
                    {
                        length = schema.encode(1 + random.nextInt(7), buffer, 0, random);
                        length = random.nextBoolean() ? mutate(buffer, length, random) : length;
                    }
                    rawControl.offer(buffer, 0, Math.max(1, length));
                }
                else
                {
                    rawBulk.offer(buffer, 0, Math.max(1, length));
                }
                sent++;
                a.doWork();
                b.doWork();
            }
            Nodes.run(500, a, b);
        }
        catch (final RuntimeException | AssertionError ex)
        {
            throw new AssertionError("fuzz failed, seed " + seed, ex);
        }

        final TransportCounters counters = b.counters();
        System.out.println("fuzz seed " + seed + ", inputs " + sent + ", target " + counters);
        assertTrue(sent > 1000, "fuzzed " + sent + " times, seed " + seed);
        assertTrue(counters.malformedDropped() > 0 && counters.unauthenticatedDropped() > 0, counters + " seed " + seed);

        // Still serving: a fresh peer joins, talks, and moves a block.
        final Events ec = new Events(new TrackingAllocator());
        final TransportNode c = keep(TransportNode.launch(Nodes.context(3, ec, new TrackingAllocator())));
        c.addPeer(2, b.endpoint());
        c.send(2, buffer, 0, Nodes.heartbeat(buffer, 42));
        final long address = Pattern.allocateFilled(1 << 20, 3);
        closeables.add(() -> org.agrona.UnsafeApi.freeMemory(address));
        final byte[] meta = Events.seedMetadata(3);
        Nodes.await("fresh peer joined", () -> c.isJoined(2), 10_000, a, b, c);
        c.sendBlock(2, address, 1 << 20, new UnsafeBuffer(meta), 0, meta.length);
        Nodes.await("fresh peer served", () -> eb.received.stream().anyMatch((r) -> r.metadata().equals("seed:3") && r.intact()) &&
            eb.messages.stream().anyMatch((m) -> m.peerId() == 3), 10_000, a, b, c);
    }

    private static int mutate(final UnsafeBuffer buffer, final int length, final Random random)
    {
        switch (random.nextInt(3))
        {
            case 0:
                for (int i = 0, n = 1 + random.nextInt(4); i < n; i++)
                {
                    buffer.putByte(random.nextInt(length), (byte)random.nextInt());
                }
                return length;
            case 1:
                return Math.max(8, random.nextInt(length + 1));
            default:
                final int extra = 1 + random.nextInt(64);
                for (int i = 0; i < extra; i++)
                {
                    buffer.putByte(length + i, (byte)random.nextInt());
                }
                return length + extra;
        }
    }

    /** A block transfer on the bulk stream with a random flaw (or none). */
    private static long bulkSequence(final ExclusivePublication pub, final UnsafeBuffer buffer, final Random random, final long transferId)
    {
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final long id = random.nextInt(5) == 0 ? random.nextInt(4) : transferId + 1;
        final long length = random.nextInt(3) == 0 ? random.nextLong() : random.nextInt(200_000);
        final BlockStartEncoder start = new BlockStartEncoder().wrapAndApplyHeader(buffer, 0, header);
        start.transferId(id).length(length).putMetadata(buffer, 0, random.nextInt(16));
        pub.offer(buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + start.encodedLength());
        long offset = 0;
        for (int c = 0, n = random.nextInt(4); c < n; c++)
        {
            final int data = random.nextInt(70_000);
            final BlockChunkEncoder chunk = new BlockChunkEncoder().wrapAndApplyHeader(buffer, 0, header);
            chunk.transferId(id).blockOffset(random.nextInt(8) == 0 ? random.nextInt(1000) : offset);
            final int dataLength = random.nextInt(8) == 0 ? random.nextInt() : Math.min(data, 65_000);
            buffer.putInt(MessageHeaderEncoder.ENCODED_LENGTH + BlockChunkEncoder.BLOCK_LENGTH, dataLength, java.nio.ByteOrder.LITTLE_ENDIAN);
            final int total = MessageHeaderEncoder.ENCODED_LENGTH + BlockChunkEncoder.BLOCK_LENGTH + 4 + Math.min(data, 65_000);
            pub.offer(buffer, 0, total);
            offset += Math.min(data, 65_000);
        }
        if (random.nextBoolean())
        {
            final BlockEndEncoder endEncoder = new BlockEndEncoder().wrapAndApplyHeader(buffer, 0, header);
            endEncoder.transferId(id).crc32c(random.nextInt() & 0xFFFF_FFFFL);
            pub.offer(buffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + endEncoder.encodedLength());
        }
        return transferId + 1;
    }
}
