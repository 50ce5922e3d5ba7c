package io.offgrid.transport;

import io.aeron.ExclusivePublication;
import org.agrona.CloseHelper;
import org.agrona.collections.Long2ObjectHashMap;

import java.util.ArrayList;

/**
 * Everything a node knows about one peer: the outbound half (our publications to it and our handshake as
 * initiator), the inbound half (its authenticated session on our subscriptions and our handshake as
 * responder) and the block transfers in both directions. Touched by the node's agent thread only.
 */
final class Peer
{
    static final int NO_SESSION = 0;

    static final int OUT_CONNECTING = 0;
    static final int OUT_HELLO_SENT = 1;
    static final int OUT_RESPONSE_PENDING = 2;
    static final int OUT_RESPONSE_SENT = 3;
    static final int OUT_OPEN = 4;
    /**
     * Learnt from a Hello (or a contender for the id of a joined peer): answers the handshake, starts its own only
     * once the other side passed ours.
     */
    static final int OUT_DEFERRED = 5;

    final long id;
    final long createdNs;
    String endpoint;
    String bulkEndpoint;
    String driverKey;
    /** Its pid when it runs on this host in this pid namespace (its memory may be read directly), else -1. */
    long pid = -1;
    /** It cannot read this node's memory (it answered NO_DIRECT_READ): stream every block to it. */
    boolean noDirectReads;
    int ipcControlStreamId;
    int ipcBulkStreamId;

    // outbound
    int outState = OUT_CONNECTING;
    ExclusivePublication controlPub;
    ExclusivePublication bulkPub;
    boolean outIpc;
    final byte[] initiatorNonce = new byte[Handshake.NONCE_LENGTH];
    final byte[] responderNonceSeen = new byte[Handshake.NONCE_LENGTH];
    final byte[] responseMac = new byte[Handshake.MAC_LENGTH];
    long lastConnectedNs;
    long nextPingNs;
    MessageQueue pending;
    int pendingCount;

    // responder duties towards this peer's handshake
    boolean challengePending;
    boolean awaitingResponse;
    final byte[] peerNonce = new byte[Handshake.NONCE_LENGTH];
    final byte[] responderNonce = new byte[Handshake.NONCE_LENGTH];
    final byte[] challengeMac = new byte[Handshake.MAC_LENGTH];
    boolean welcomePending;
    String refusal;

    // inbound
    int inSession = NO_SESSION;
    long lastHeardNs;
    boolean joined;
    boolean loggedBadInput;

    // block transfers
    final Long2ObjectHashMap<InboundTransfer> inbound = new Long2ObjectHashMap<>();
    final ArrayList<OutboundTransfer> outbound = new ArrayList<>();
    int outboundCursor;
    InboundTransfer chunkTransfer;
    long chunkRemaining;
    boolean skippingChunk;

    Peer(final long id, final long nowNs)
    {
        this.id = id;
        this.createdNs = nowNs;
        this.lastHeardNs = nowNs;
        this.lastConnectedNs = nowNs;
    }

    boolean outboundOpen()
    {
        return OUT_OPEN == outState;
    }

    boolean inboundAuthenticated()
    {
        return NO_SESSION != inSession;
    }

    void closePublications()
    {
        CloseHelper.quietCloseAll(controlPub, bulkPub);
        controlPub = null;
        bulkPub = null;
    }

    /** Closes the publications and frees the send queue's native memory: the peer is being forgotten. */
    void release()
    {
        closePublications();
        if (null != pending)
        {
            pending.close();
            pending = null;
        }
        pendingCount = 0;
    }

    public String toString()
    {
        return "node " + id + (null != endpoint ? " (" + endpoint + ")" : "");
    }
}
