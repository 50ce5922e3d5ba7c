package io.offgrid.client.internal;

import io.offgrid.transport.TransportNode;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongHashSet;

/**
 * Endpoints of the cluster's nodes as the scheduler announces them, and which of them this node has
 * already handed to its transport: a peer is added on first use, so a client or worker connects
 * only to the nodes it exchanges data with. Used on the node's agent thread only.
 */
public final class PeerDirectory
{
    private final Long2ObjectHashMap<String> endpoints = new Long2ObjectHashMap<>();
    private final LongHashSet added = new LongHashSet();

    /**
     * @param nodeId   a node of the cluster.
     * @param endpoint where it listens.
     */
    public void put(final long nodeId, final String endpoint)
    {
        endpoints.put(nodeId, endpoint);
    }

    /**
     * The transport lost the peer: it is added again on next use.
     *
     * @param nodeId the lost node.
     */
    public void lost(final long nodeId)
    {
        added.remove(nodeId);
    }

    /**
     * The node is gone for good: forget its endpoint too.
     *
     * @param nodeId the node.
     */
    public void forget(final long nodeId)
    {
        added.remove(nodeId);
        endpoints.remove(nodeId);
    }

    /**
     * Make sure the transport knows {@code peerId}, adding it when its endpoint is known.
     *
     * @param node   this node's transport.
     * @param peerId the peer.
     * @return false if its endpoint is not known (yet).
     */
    public boolean ensure(final TransportNode node, final long peerId)
    {
        if (peerId == GridProtocol.SCHEDULER_NODE_ID || added.contains(peerId) || node.isJoined(peerId))
        {
            return true;
        }
        final String endpoint = endpoints.get(peerId);
        if (null == endpoint)
        {
            return false;
        }
        node.addPeer(peerId, endpoint);
        added.add(peerId);
        return true;
    }
}
