package io.offgrid.transport;

import org.agrona.DirectBuffer;

/**
 * Gives the receiver the destination of an incoming block, once per transfer, when the transfer starts;
 * every chunk is then copied straight into it. Called on the node's agent thread.
 */
public interface BlockAllocator
{
    /**
     * Native memory for a block of {@code length} bytes, or 0 to refuse the block (the sender is told).
     * Not called for empty blocks.
     *
     * @param peerId         node id of the sender.
     * @param transferId     the sender's id of the transfer.
     * @param length         size of the block in bytes (may exceed 2 GiB).
     * @param metadata       the sender's metadata (for example the key), valid during the call only.
     * @param metadataOffset where the metadata starts.
     * @param metadataLength its length.
     * @return the address of at least {@code length} writable bytes, or 0 to refuse.
     */
    long allocate(long peerId, long transferId, long length, DirectBuffer metadata, int metadataOffset, int metadataLength);

    /**
     * Takes back memory of a transfer that failed (cancelled, bad checksum, sender lost) or of a node that
     * closed mid-transfer. A completed block is handed to {@link BlockListener#onBlockReceived} instead and
     * is then the application's to free.
     *
     * @param address what {@link #allocate} returned.
     * @param length  the length that was asked for.
     */
    void free(long address, long length);
}
