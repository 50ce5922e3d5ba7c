package io.offgrid.transport;

import io.offgrid.transport.protocol.BlockStatus;
import org.agrona.DirectBuffer;

/**
 * Outcome of block transfers, on the node's agent thread.
 */
public interface BlockListener
{
    /**
     * A whole block arrived: streamed, with its CRC32C matched; or read from the sender's memory on this host, with its
     * offer still standing after the last chunk. The memory now belongs to the application.
     *
     * @param peerId         node id of the sender.
     * @param transferId     the sender's id of the transfer.
     * @param address        where the block is (what the allocator gave; 0 for an empty block).
     * @param length         its length.
     * @param metadata       the sender's metadata, valid during the call only.
     * @param metadataOffset where the metadata starts.
     * @param metadataLength its length.
     */
    default void onBlockReceived(
        final long peerId,
        final long transferId,
        final long address,
        final long length,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength)
    {
    }

    /**
     * An incoming transfer failed; its partial block was already given back to the allocator.
     *
     * @param peerId     node id of the sender.
     * @param transferId the sender's id of the transfer.
     * @param status     why: CANCELLED, CHECKSUM_MISMATCH, REFUSED, MALFORMED, SENDER_LOST.
     */
    default void onBlockReceiveFailed(final long peerId, final long transferId, final BlockStatus status)
    {
    }

    /**
     * The receiver confirmed the block intact: the source memory may be released.
     *
     * @param peerId     node id of the receiver.
     * @param transferId id returned by {@link TransportNode#sendBlock}.
     */
    default void onBlockSent(final long peerId, final long transferId)
    {
    }

    /**
     * An outgoing transfer failed; the source memory is no longer read and may be released.
     *
     * @param peerId     node id of the receiver.
     * @param transferId id returned by {@link TransportNode#sendBlock}.
     * @param status     why: CANCELLED (by either side, or this node closed), REFUSED, CHECKSUM_MISMATCH, MALFORMED,
     *                   RECEIVER_LOST.
     */
    default void onBlockSendFailed(final long peerId, final long transferId, final BlockStatus status)
    {
    }
}
