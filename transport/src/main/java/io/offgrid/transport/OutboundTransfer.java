package io.offgrid.transport;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * A block being sent: source memory, progress and running checksum.
 */
final class OutboundTransfer
{
    static final int START = 0;
    static final int CHUNKS = 1;
    static final int END = 2;
    static final int AWAITING_RESULT = 3;
    static final int ABORT = 4;

    final long id;
    final long address;
    final long length;
    final UnsafeBuffer metadata;
    final NativeCrc32c crc = new NativeCrc32c();
    int state = START;
    long sent;
    /** Offered for a direct read and waiting for the receiver to take it. */
    boolean offered;
    /** While offered: its guard slot (OfferGuards) and token; -1 when none is held. */
    int guardSlot = -1;
    long token;
    /** The receiver asked for this one streamed: do not offer it again. */
    boolean streamOnly;

    OutboundTransfer(final long id, final long address, final long length, final UnsafeBuffer metadata)
    {
        this.id = id;
        this.address = address;
        this.length = length;
        this.metadata = metadata;
    }
}
