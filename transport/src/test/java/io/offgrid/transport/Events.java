package io.offgrid.transport;

import io.offgrid.transport.protocol.BlockStatus;
import org.agrona.DirectBuffer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Records everything a node tells its application, for assertions. Block content is verified against
 * {@link Pattern} with the seed the sender put in the metadata ("seed:N"), then freed.
 */
final class Events implements MessageHandler, PeerListener, BlockListener
{
    record Message(long peerId, int templateId, byte[] bytes)
    {
    }

    record Received(long peerId, long transferId, long length, boolean intact, String metadata)
    {
    }

    record Failed(long peerId, long transferId, BlockStatus status)
    {
    }

    final List<Message> messages = new ArrayList<>();
    final List<Long> joined = new ArrayList<>();
    final List<String> lost = new ArrayList<>();
    final List<Received> received = new ArrayList<>();
    final List<Failed> receiveFailed = new ArrayList<>();
    final List<Long> sent = new ArrayList<>();
    final List<Failed> sendFailed = new ArrayList<>();
    private final TrackingAllocator allocator;

    Events(final TrackingAllocator allocator)
    {
        this.allocator = allocator;
    }

    public synchronized void onMessage(final long peerId, final int templateId, final DirectBuffer buffer, final int offset, final int length)
    {
        final byte[] bytes = new byte[length];
        buffer.getBytes(offset, bytes);
        messages.add(new Message(peerId, templateId, bytes));
    }

    public synchronized void onPeerJoined(final long peerId, final String endpoint)
    {
        joined.add(peerId);
    }

    public synchronized void onPeerLost(final long peerId, final String reason, final int droppedMessages)
    {
        lost.add(peerId + ": " + reason);
    }

    public synchronized void onBlockReceived(
        final long peerId, final long transferId, final long address, final long length,
        final DirectBuffer metadata, final int metadataOffset, final int metadataLength)
    {
        final String meta = metadata.getStringWithoutLengthAscii(metadataOffset, metadataLength);
        boolean intact = true;
        if (meta.startsWith("seed:"))
        {
            intact = Pattern.matches(address, length, Long.parseLong(meta.substring(5)));
        }
        received.add(new Received(peerId, transferId, length, intact, meta));
        if (0 != address)
        {
            allocator.free(address, length);
        }
    }

    public synchronized void onBlockReceiveFailed(final long peerId, final long transferId, final BlockStatus status)
    {
        receiveFailed.add(new Failed(peerId, transferId, status));
    }

    public synchronized void onBlockSent(final long peerId, final long transferId)
    {
        sent.add(transferId);
    }

    public synchronized void onBlockSendFailed(final long peerId, final long transferId, final BlockStatus status)
    {
        sendFailed.add(new Failed(peerId, transferId, status));
    }

    static byte[] seedMetadata(final long seed)
    {
        return ("seed:" + seed).getBytes(StandardCharsets.US_ASCII);
    }
}
