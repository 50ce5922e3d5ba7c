package io.offgrid.transport;

/**
 * Membership events, on the node's agent thread.
 */
public interface PeerListener
{
    /**
     * The handshake completed both ways: messages flow to and from the peer.
     *
     * @param peerId   node id of the peer.
     * @param endpoint the UDP endpoint (host:port) the peer listens on.
     */
    default void onPeerJoined(final long peerId, final String endpoint)
    {
    }

    /**
     * The peer is gone: unreachable past the timeout, silent past the timeout, its image went away, it
     * left, or it was refused. Messages still queued for it were dropped ({@code droppedMessages} says
     * how many) and its block transfers failed; a later {@link TransportNode#addPeer} starts over.
     *
     * @param peerId          node id of the peer.
     * @param reason          why, for people.
     * @param droppedMessages messages queued for the peer that were not sent.
     */
    default void onPeerLost(final long peerId, final String reason, final int droppedMessages)
    {
    }
}
