package io.offgrid.transport;

/**
 * What a node has seen, for tests, metrics and logs. Written by the node's agent thread only; readable from
 * any thread.
 */
public final class TransportCounters
{
    volatile long messagesSent;
    volatile long messagesReceived;
    volatile long messagesQueued;
    volatile long sendsRejected;
    volatile long malformedDropped;
    volatile long versionMismatches;
    volatile long unauthenticatedDropped;
    volatile long unhandledDropped;
    volatile long handlerErrors;
    volatile long handshakesRefused;
    volatile long peersJoined;
    volatile long peersLost;
    volatile long blocksSent;
    volatile long blocksReceived;
    volatile long blocksFailed;
    volatile long blocksReadDirect;
    volatile long directSlicesByHelpers;
    volatile long offersStreamed;
    volatile long bytesSent;
    volatile long bytesReceived;
    volatile long strayChunksDropped;
    volatile long unboundHandshakeDropped;
    volatile long commandsRejected;
    volatile long queueMemoryBytes;

    private static final java.util.concurrent.atomic.AtomicLongFieldUpdater<TransportCounters> COMMANDS_REJECTED =
        java.util.concurrent.atomic.AtomicLongFieldUpdater.newUpdater(TransportCounters.class, "commandsRejected");

    TransportCounters()
    {
    }

    /** Counted from the thread whose command was refused: any thread, hence atomic. */
    void commandRejected()
    {
        COMMANDS_REJECTED.incrementAndGet(this);
    }

    /** @return application messages handed to Aeron. */
    public long messagesSent()
    {
        return messagesSent;
    }

    /** @return application messages delivered to handlers. */
    public long messagesReceived()
    {
        return messagesReceived;
    }

    /** @return messages that waited in a peer's queue (handshake not done or back pressure). */
    public long messagesQueued()
    {
        return messagesQueued;
    }

    /** @return sends refused: unknown peer, or its queue full past the retry bound. */
    public long sendsRejected()
    {
        return sendsRejected;
    }

    /** @return messages dropped because they were truncated, malformed or of an unknown template. */
    public long malformedDropped()
    {
        return malformedDropped;
    }

    /** @return messages dropped because they carried another schema id or version. */
    public long versionMismatches()
    {
        return versionMismatches;
    }

    /** @return messages dropped, undecoded, because their sender had not completed the handshake. */
    public long unauthenticatedDropped()
    {
        return unauthenticatedDropped;
    }

    /** @return valid messages for which no handler was registered. */
    public long unhandledDropped()
    {
        return unhandledDropped;
    }

    /** @return exceptions thrown by handlers and listeners (caught, logged). */
    public long handlerErrors()
    {
        return handlerErrors;
    }

    /** @return handshakes this node refused (wrong secret, id clash). */
    public long handshakesRefused()
    {
        return handshakesRefused;
    }

    /** @return peers that completed the handshake both ways. */
    public long peersJoined()
    {
        return peersJoined;
    }

    /** @return peers lost (timeout, image gone, left, refused). */
    public long peersLost()
    {
        return peersLost;
    }

    /** @return outgoing blocks confirmed by their receiver. */
    public long blocksSent()
    {
        return blocksSent;
    }

    /** @return incoming blocks completed with a matching checksum. */
    public long blocksReceived()
    {
        return blocksReceived;
    }

    /** @return incoming blocks read straight from the sender's memory (same host), a subset of blocksReceived. */
    public long blocksReadDirect()
    {
        return blocksReadDirect;
    }

    /** @return chunk-sized slices of direct reads copied in full by the node's helper threads, not its own. */
    public long directSlicesByHelpers()
    {
        return directSlicesByHelpers;
    }

    /** @return outgoing blocks offered for a direct read that the receiver asked to have streamed instead. */
    public long offersStreamed()
    {
        return offersStreamed;
    }

    /** @return transfers that failed, either way. */
    public long blocksFailed()
    {
        return blocksFailed;
    }

    /** @return block payload bytes offered to Aeron. */
    public long bytesSent()
    {
        return bytesSent;
    }

    /** @return block payload bytes copied into destinations. */
    public long bytesReceived()
    {
        return bytesReceived;
    }

    /** @return bulk fragments that belonged to no live transfer (late after a cancel, or garbage). */
    public long strayChunksDropped()
    {
        return strayChunksDropped;
    }

    /** @return handshake answers dropped because they did not echo the nonce of the handshake in progress (stale or forged). */
    public long unboundHandshakeDropped()
    {
        return unboundHandshakeDropped;
    }

    /** @return {@link TransportNode#execute} calls refused because the command queue stayed full. */
    public long commandsRejected()
    {
        return commandsRejected;
    }

    /** @return native memory now held by peers' send queues, bytes; freed when a peer is lost or removed and at close. */
    public long queueMemoryBytes()
    {
        return queueMemoryBytes;
    }

    public String toString()
    {
        return "TransportCounters{sent=" + messagesSent + ", received=" + messagesReceived +
            ", queued=" + messagesQueued + ", rejected=" + sendsRejected + ", malformed=" + malformedDropped +
            ", versionMismatches=" + versionMismatches + ", unauthenticated=" + unauthenticatedDropped +
            ", unhandled=" + unhandledDropped + ", handlerErrors=" + handlerErrors +
            ", refused=" + handshakesRefused + ", joined=" + peersJoined + ", lost=" + peersLost +
            ", blocksSent=" + blocksSent + ", blocksReceived=" + blocksReceived + ", blocksFailed=" + blocksFailed +
            ", blocksReadDirect=" + blocksReadDirect + ", directSlicesByHelpers=" + directSlicesByHelpers + ", offersStreamed=" + offersStreamed +
            ", bytesSent=" + bytesSent + ", bytesReceived=" + bytesReceived + ", strayChunks=" + strayChunksDropped +
            ", unboundHandshake=" + unboundHandshakeDropped + ", commandsRejected=" + commandsRejected +
            ", queueMemoryBytes=" + queueMemoryBytes + '}';
    }
}
