package io.offgrid.client;

import io.offgrid.client.internal.GridProtocol;
import io.offgrid.transport.AgentGroup;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * How a {@link Client} connects. Defaults: listen on 127.0.0.1 with any free port, its own embedded media
 * driver, no cluster secret, 5 s peer timeout, 30 s request timeout, 4 GiB budget for blocks in transit.
 */
public final class ClientConfig
{
    private String schedulerAddress;
    private String listenEndpoint = "127.0.0.1:0";
    private String aeronDirectoryName;
    private AgentGroup agentGroup;
    private long helpWhileWaitingNs = TimeUnit.MICROSECONDS.toNanos(
        Long.getLong("offgrid.client.helpUs", 300));
    private byte[] clusterSecret;
    private long nodeId = -1;
    private long peerTimeoutNs = TimeUnit.SECONDS.toNanos(5);
    private long requestTimeoutNs = TimeUnit.SECONDS.toNanos(30);
    private long memoryLimit = 4L << 30;
    private String serializationAllowList = GridProtocol.DEFAULT_ALLOW_LIST;

    /**
     * @param address the scheduler's host:port.
     * @return this.
     */
    public ClientConfig schedulerAddress(final String address)
    {
        this.schedulerAddress = address;
        return this;
    }

    /**
     * @return the scheduler's host:port.
     */
    public String schedulerAddress()
    {
        return schedulerAddress;
    }

    /**
     * @param endpoint host:port this client listens on (port 0: any free one).
     * @return this.
     */
    public ClientConfig listenEndpoint(final String endpoint)
    {
        this.listenEndpoint = endpoint;
        return this;
    }

    /**
     * @return host:port this client listens on.
     */
    public String listenEndpoint()
    {
        return listenEndpoint;
    }

    /**
     * @param dir directory of a media driver shared with other nodes of this host (IPC); null: embedded.
     * @return this.
     */
    public ClientConfig aeronDirectoryName(final String dir)
    {
        this.aeronDirectoryName = dir;
        return this;
    }

    /**
     * @return the shared driver's directory, or null.
     */
    public String aeronDirectoryName()
    {
        return aeronDirectoryName;
    }

    /**
     * @param group run the client's transport agent on a shared {@link AgentGroup} thread (as a LocalCluster does
     *              for its own clients); null (default) for a thread of its own.
     * @return this.
     */
    public ClientConfig agentGroup(final AgentGroup group)
    {
        this.agentGroup = group;
        return this;
    }

    /**
     * @return the shared agent thread, or null.
     */
    public AgentGroup agentGroup()
    {
        return agentGroup;
    }

    /**
     * @param ns how long a thread waiting for an answer (a future's {@code get()}, {@code gather}) runs the
     *           {@link #agentGroup(AgentGroup) group}'s duty cycles itself before it sleeps, once no cycle has found
     *           work for that long; 0: it sleeps at once and the group's thread brings the answer. Only for a
     *           client in a group. Default 300 µs, or {@code -Doffgrid.client.helpUs}. Why: the answer then needs
     *           no hand-over from the group's thread, which on 2 cores costs 25-45 µs (README.md, "Latency").
     * @return this.
     */
    public ClientConfig helpWhileWaitingNs(final long ns)
    {
        this.helpWhileWaitingNs = ns;
        return this;
    }

    /**
     * @return how long a waiting thread runs the group's duty cycles, ns.
     */
    public long helpWhileWaitingNs()
    {
        return helpWhileWaitingNs;
    }

    /**
     * @param secret the cluster secret (HMAC-SHA256 handshake), or null for none.
     * @return this.
     */
    public ClientConfig clusterSecret(final byte[] secret)
    {
        this.clusterSecret = null == secret ? null : secret.clone();
        return this;
    }

    /**
     * @return the cluster secret or null.
     */
    public byte[] clusterSecret()
    {
        return clusterSecret;
    }

    /**
     * @param id this client's node id (unique in the cluster, never reused); default: random.
     * @return this.
     */
    public ClientConfig nodeId(final long id)
    {
        this.nodeId = id;
        return this;
    }

    /**
     * @return this client's node id, or -1 for a random one.
     */
    public long nodeId()
    {
        return nodeId;
    }

    /**
     * @param ns how long a silent peer (the scheduler, a worker) is given before it counts as gone.
     * @return this.
     */
    public ClientConfig peerTimeoutNs(final long ns)
    {
        this.peerTimeoutNs = ns;
        return this;
    }

    /**
     * @return the peer timeout in ns.
     */
    public long peerTimeoutNs()
    {
        return peerTimeoutNs;
    }

    /**
     * @param ns how long a request (connect, gather, scatter, restart...) may take before it fails.
     * @return this.
     */
    public ClientConfig requestTimeoutNs(final long ns)
    {
        this.requestTimeoutNs = ns;
        return this;
    }

    /**
     * @return the request timeout in ns.
     */
    public long requestTimeoutNs()
    {
        return requestTimeoutNs;
    }

    /**
     * @param bytes budget of the client's block store (values being gathered or scattered).
     * @return this.
     */
    public ClientConfig memoryLimit(final long bytes)
    {
        this.memoryLimit = bytes;
        return this;
    }

    /**
     * @return the client's block store budget.
     */
    public long memoryLimit()
    {
        return memoryLimit;
    }

    /**
     * @param allowList ObjectInputFilter pattern of classes that may be decoded with Java serialization
     *                  (gathered values); must match the workers'.
     * @return this.
     */
    public ClientConfig serializationAllowList(final String allowList)
    {
        this.serializationAllowList = allowList;
        return this;
    }

    /**
     * @return the Java serialization allow-list.
     */
    public String serializationAllowList()
    {
        return serializationAllowList;
    }

    /**
     * Check and fill in defaults.
     *
     * @return this.
     */
    public ClientConfig conclude()
    {
        if (null == schedulerAddress || schedulerAddress.lastIndexOf(':') <= 0)
        {
            throw new IllegalArgumentException("schedulerAddress must be host:port, was " + schedulerAddress);
        }
        if (nodeId < 0)
        {
            nodeId = ThreadLocalRandom.current().nextLong(1L << 40, Long.MAX_VALUE);
        }
        if (nodeId == GridProtocol.SCHEDULER_NODE_ID)
        {
            throw new IllegalArgumentException("node id " + nodeId + " is the scheduler's");
        }
        if (requestTimeoutNs <= 0 || peerTimeoutNs <= 0 || memoryLimit <= 0)
        {
            throw new IllegalArgumentException("timeouts and memory limit must be positive");
        }
        if (helpWhileWaitingNs < 0)
        {
            throw new IllegalArgumentException("helpWhileWaitingNs must be >= 0, was " + helpWhileWaitingNs);
        }
        return this;
    }
}
