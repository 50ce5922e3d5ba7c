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

    InboundTransfer(final long id, final long address, final long length, final UnsafeBuffer metadata)
    {
        this.id = id;
        this.address = address;
        this.length = length;
        this.metadata = metadata;
    }
}
