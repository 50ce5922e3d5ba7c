package io.offgrid.transport;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A block being received into memory the allocator gave at the start.
 */
final class InboundTransfer
{
    final long id;
    final long address;
    final long length;
    final UnsafeBuffer metadata;
    final NativeCrc32c crc = new NativeCrc32c();
    long received;
    /** Direct read (same host): the block's address in the sender's process, and the sender. */
    long remoteAddress;
    /** Direct read: the sender's guard word and the token it must still hold after the last chunk. */
    long guardAddress;
    long token;
    int chunksSinceGuardCheck;
    Peer sender;
    /** Direct read: bytes handed out as slices so far, and slices out (posted or being copied, not yet collected). */
    long posted;
    int slicesOut;
    /**
     * Direct read failed while slices were out: when the last is back its sender is answered (if
     * {@link #tellSenderWhenFinished}), its memory freed and the listener told.
     */
    io.offgrid.transport.protocol.BlockStatus failedStatus;
    boolean tellSenderWhenFinished;

    InboundTransfer(final long id, final long address, final long length, final UnsafeBuffer metadata)
    {
        this.id = id;
        this.address = address;
        this.length = length;
        this.metadata = metadata;
    }
}
