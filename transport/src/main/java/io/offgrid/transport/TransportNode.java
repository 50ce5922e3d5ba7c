package io.offgrid.transport;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import io.aeron.FragmentAssembler;
import io.aeron.Image;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import io.offgrid.transport.protocol.*;
import org.agrona.BufferUtil;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * One node's transport: an Aeron client (with an embedded media driver by default) listening on a UDP
 * endpoint for control and a second one for bulk data, run as a single Agrona {@link Agent}. Everything here, handlers and listeners included, runs on
 * the agent's thread; the API methods ({@link #send}, {@link #addPeer}, {@link #sendBlock}...) must be called
 * on it too, or handed over with {@link #execute(Runnable)}.
 * <p>
 * Per node: a control stream (SBE messages, including the handshake, heartbeats and block verdicts) and a
 * bulk stream (block chunks) on its own endpoint ({@link #bulkEndpoint()}, told to peers in the handshake, so
 * bulk datagrams never queue ahead of control ones), plus the same two on Aeron IPC for peers that share
 * the media driver. A peer is addressed by node id: {@link #addPeer} names its endpoint; a peer that
 * connects to us is learnt from its handshake.
 * <pre>{@code
 * TransportNode node = TransportNode.launch(new TransportNode.Context()
 *     .nodeId(1).listenEndpoint("127.0.0.1:40100")
 *     .handler(TaskFinishedDecoder.TEMPLATE_ID, (peer, template, buffer, offset, length) -> ...)
 *     .blockAllocator(allocator).blockListener(listener).peerListener(peers));
 * node.execute(() -> { node.addPeer(0, "127.0.0.1:40000"); node.send(0, buffer, 0, length); });
 * }</pre>
 */
public final class TransportNode implements Agent, AutoCloseable
{
    /** Largest metadata a block transfer may carry. */
    public static final int MAX_BLOCK_METADATA_LENGTH = 1024;

    private static final System.Logger LOG = System.getLogger("io.offgrid.transport");
    private static final int CHUNK_HEADER_LENGTH =
        MessageHeaderEncoder.ENCODED_LENGTH + BlockChunkEncoder.BLOCK_LENGTH + BlockChunkEncoder.dataHeaderLength();
    private static final int FRAGMENT_LIMIT = 64;
    private static final int CHUNKS_PER_PEER_PER_CYCLE = 8;
    /** Chunks read from senders' memory per node cycle, control polled between them: 16 MiB at the default chunk. */
    private static final int DIRECT_CHUNKS_PER_CYCLE = 16;
    /** Offers standing at once per node; more are streamed. */
    private static final int GUARD_SLOTS = 4096;
    /** A long read checks its guard every this many chunks (64 MiB at the default chunk), to stop early if withdrawn. */
    private static final int GUARD_CHECK_CHUNKS = 64;
    /** destination()'s answer when the allocator refused a block (no address is negative in user space). */
    private static final long REFUSED_DESTINATION = -1;
    /** Up to this many driver duty cycles per node cycle while the driver has work: 2 MiB of 64 KiB datagrams. */
    static final int DRIVER_STEPS_PER_CYCLE = 32;
    /** A driver step whose work count reaches this moved a datagram's worth of bytes (bookkeeping counts units). */
    private static final int DRIVER_DATA_WORK = 1024;
    static final int MAX_LOGGED_SESSIONS = 1024;

    private final Context ctx;
    private final TransportCounters counters = new TransportCounters();
    private final TransportDriver embeddedDriver;
    private final Aeron aeron;
    private final AgentInvoker driverInvoker;
    private final AgentInvoker conductorInvoker;
    private final Subscription controlSub;
    private final Subscription bulkSub;
    private final Subscription ipcControlSub;
    private final Subscription ipcBulkSub;
    private final String endpoint;
    private final String bulkEndpoint;
    private final int bulkFragmentLimit;
    private final String driverKey;
    private final Handshake handshake;
    private final MessageValidator validator = new MessageValidator();
    private final NanoClock clock;
    private final AgentRunner runner;
    private final CommandQueue commands;
    private final ForeignVersionRefusals foreignRefusals;

    private final Long2ObjectHashMap<Peer> peers = new Long2ObjectHashMap<>();
    private final Int2ObjectHashMap<Peer> sessionToPeer = new Int2ObjectHashMap<>();
    /** Hellos claiming the id of a peer joined on another session: one replaces the peer once it passes the handshake. */
    private final Long2ObjectHashMap<Peer> contenders = new Long2ObjectHashMap<>();
    private final Int2ObjectHashMap<MessageHandler> handlers;
    private final ArrayList<Peer> peerList = new ArrayList<>();
    private final ArrayList<Peer> lostScratch = new ArrayList<>();
    /** Incoming blocks being read from their senders' memory, in turn, one chunk at a time. */
    private final ArrayList<InboundTransfer> directReads = new ArrayList<>();
    private final String processKey = ProcessMemory.processKey();
    private final ProcessMemory processMemory;
    /** Slices of direct reads, copied by this thread and helpers; null when this node does not read. */
    private final DirectReaders directReaders;
    private final DirectReaders.SliceResult sliceCopied = this::onSliceCopied;
    private final DirectReaders.SliceResult sliceDroppedAtClose = this::onSliceDroppedAtClose;
    private final UnsafeBuffer guardProbe = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
    private OfferGuards guards;
    private int guardErrno;
    private long guardValue;
    private int directReadCursor;

    private final UnsafeBuffer encodeBuffer = new UnsafeBuffer(BufferUtil.allocateDirectAligned(4096, 64));
    private final UnsafeBuffer chunkHeader = new UnsafeBuffer(BufferUtil.allocateDirectAligned(64, 64));
    private final UnsafeBuffer chunkView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer messageView = new UnsafeBuffer(0, 0);
    private final UnsafeBuffer metadataView = new UnsafeBuffer(0, 0);
    private final byte[] macScratch = new byte[Handshake.MAC_LENGTH];
    private final byte[] nonceScratch = new byte[Handshake.NONCE_LENGTH];

    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();
    private final HelloEncoder helloEncoder = new HelloEncoder();
    private final HelloDecoder helloDecoder = new HelloDecoder();
    private final ChallengeEncoder challengeEncoder = new ChallengeEncoder();
    private final ChallengeDecoder challengeDecoder = new ChallengeDecoder();
    private final HandshakeResponseEncoder responseEncoder = new HandshakeResponseEncoder();
    private final HandshakeResponseDecoder responseDecoder = new HandshakeResponseDecoder();
    private final WelcomeEncoder welcomeEncoder = new WelcomeEncoder();
    private final WelcomeDecoder welcomeDecoder = new WelcomeDecoder();
    private final RefusedEncoder refusedEncoder = new RefusedEncoder();
    private final RefusedDecoder refusedDecoder = new RefusedDecoder();
    private final PingEncoder pingEncoder = new PingEncoder();
    private final GoodbyeEncoder goodbyeEncoder = new GoodbyeEncoder();
    private final GoodbyeDecoder goodbyeDecoder = new GoodbyeDecoder();
    private final BlockStartEncoder blockStartEncoder = new BlockStartEncoder();
    private final BlockStartDecoder blockStartDecoder = new BlockStartDecoder();
    private final BlockChunkEncoder blockChunkEncoder = new BlockChunkEncoder();
    private final BlockEndEncoder blockEndEncoder = new BlockEndEncoder();
    private final BlockEndDecoder blockEndDecoder = new BlockEndDecoder();
    private final BlockAbortEncoder blockAbortEncoder = new BlockAbortEncoder();
    private final BlockAbortDecoder blockAbortDecoder = new BlockAbortDecoder();
    private final BlockOfferEncoder blockOfferEncoder = new BlockOfferEncoder();
    private final BlockOfferDecoder blockOfferDecoder = new BlockOfferDecoder();
    private final BlockResultEncoder blockResultEncoder = new BlockResultEncoder();
    private final BlockResultDecoder blockResultDecoder = new BlockResultDecoder();

    private final FragmentAssembler controlAssembler = new FragmentAssembler(this::onControlFragment);
    private final FragmentAssembler ipcControlAssembler = new FragmentAssembler(this::onControlFragment);

    private final java.util.function.Consumer<Peer> collectPeer = peerList::add;
    private final io.aeron.logbuffer.FragmentHandler bulkHandler = this::onBulkFragment;
    private final io.aeron.logbuffer.FragmentHandler controlFilter =
        (buffer, offset, length, header) -> filterControl(controlAssembler, buffer, offset, length, header);
    private final io.aeron.logbuffer.FragmentHandler ipcControlFilter =
        (buffer, offset, length, header) -> filterControl(ipcControlAssembler, buffer, offset, length, header);
    private final MessageQueue.MessageConsumer drainConsumer = this::drainOne;
    private Peer drainingPeer;
    private long nowNs;
    private long nextTransferId = 1;
    private boolean closed;

    private TransportNode(final Context ctx)
    {
        this.ctx = ctx;
        this.clock = ctx.nanoClock;
        this.handlers = ctx.handlers;
        this.handshake = new Handshake(ctx.clusterSecret);
        this.nowNs = clock.nanoTime();
        final AgentGroup group = ctx.agentGroup;
        this.commands = new CommandQueue(ctx.commandQueueCapacity, ctx.commandTimeoutNs, ctx.nodeId, counters,
            null != ctx.runsCycle ? ctx.runsCycle : null == group ? null : group::onGroupThread);
        // Poll about one chunk of bulk fragments per duty cycle, so control is polled between every chunk's worth.
        this.bulkFragmentLimit = Math.max(1, ctx.chunkLength / (ctx.bulkMtu - 32));
        this.processMemory = ctx.directReads ? ProcessMemory.reader() : null;
        this.directReaders = ctx.directReads ? new DirectReaders("offgrid-direct-read-" + ctx.nodeId, ctx.directReadHelpers) : null;

        TransportDriver driver = null;
        Aeron client = null;
        try
        {
            String dir = ctx.aeronDirectoryName;
            if (null == dir)
            {
                driver = TransportDriver.launch(ctx.driverContext);
                dir = driver.aeronDirectoryName();
            }
            final AgentInvoker invoker = null != driver && driver.threadingMode() == ThreadingMode.INVOKER ? driver.invoker() : null;
            // In a group the group steps the driver; a call awaiting the driver (on the group's thread) steps it too.
            final AgentInvoker awaitInvoker = null != invoker ? invoker : null != ctx.agentGroup ? ctx.agentGroup.driverInvoker() : null;
            client = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(dir)
                .useConductorAgentInvoker(true)
                .driverAgentInvoker(awaitInvoker)
                .errorHandler(TransportNode::logError)
                .clientName("offgrid-node-" + ctx.nodeId));
            this.embeddedDriver = driver;
            this.aeron = client;
            this.driverInvoker = invoker;
            this.conductorInvoker = client.conductorAgentInvoker();
            this.driverKey = driverKey(dir);

            final String socketParams = "|so-rcvbuf=" + ctx.socketBufferLength + "|rcv-wnd=" + ctx.receiverWindowLength;
            // Control and bulk listen on separate sockets: on one socket a control datagram queued behind every bulk
            // datagram already in the socket buffer (1-2 chunks measured). Port 0 is resolved so the handshake can
            // advertise both endpoints.
            final String listen = resolvePort(ctx.listenEndpoint);
            final String bulkListen = !ctx.separateBulkSocket ? listen : resolvePort(null != ctx.bulkListenEndpoint ?
                ctx.bulkListenEndpoint : listen.substring(0, listen.lastIndexOf(':')) + ":0");
            controlSub = client.addSubscription(
                "aeron:udp?endpoint=" + listen + socketParams, ctx.controlStreamId, this::onImageAvailable, this::onImageUnavailable);
            bulkSub = client.addSubscription(
                "aeron:udp?endpoint=" + bulkListen + socketParams, ctx.bulkStreamId, this::onImageAvailable, this::onImageUnavailable);
            this.endpoint = listen;
            this.bulkEndpoint = bulkListen;
            this.foreignRefusals = new ForeignVersionRefusals(client, ctx.controlStreamId, ctx.handshakeTimeoutNs);
            ipcControlSub = client.addSubscription("aeron:ipc", ctx.ipcControlStreamId, this::onImageAvailable, this::onImageUnavailable);
            ipcBulkSub = client.addSubscription("aeron:ipc", ctx.ipcBulkStreamId, this::onImageAvailable, this::onImageUnavailable);
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(client);
            CloseHelper.quietClose(driver);
            throw ex instanceof TransportException ? ex : new TransportException("transport node failed to start", ex);
        }

        if (ctx.useAgentRunner)
        {
            runner = new AgentRunner(ctx.idleStrategy, TransportNode::logError, null, this);
            AgentRunner.startOnThread(runner);
        }
        else
        {
            runner = null;
        }
    }

    /**
     * Starts a node: its driver (unless it joins one), its subscriptions and, by default, its agent thread.
     *
     * @param ctx configuration; concluded here.
     * @return the running node.
     */
    public static TransportNode launch(final Context ctx)
    {
        ctx.conclude();
        final AgentGroup group = ctx.agentGroup;
        return null == group ? new TransportNode(ctx) : group.call(() -> new TransportNode(ctx));
    }

    /** @return this node's id. */
    public long nodeId()
    {
        return ctx.nodeId;
    }

    /** @return the UDP endpoint (host:port) this node listens on, with the port resolved. */
    public String endpoint()
    {
        return endpoint;
    }

    /** @return the UDP endpoint (host:port) this node receives block chunks on, advertised in the handshake. */
    public String bulkEndpoint()
    {
        return bulkEndpoint;
    }

    /** @return the media driver directory this node uses. */
    public String aeronDirectoryName()
    {
        return aeron.context().aeronDirectoryName();
    }

    /** @return what the node has counted. */
    public TransportCounters counters()
    {
        return counters;
    }

    /** @return the largest control message {@link #send} accepts, bytes. */
    public int maxMessageLength()
    {
        return Math.min(ctx.controlTermLength / 8, 16 * 1024 * 1024);
    }

    /** @return the agent's name. */
    public String roleName()
    {
        return "offgrid-transport-" + ctx.nodeId;
    }

    /**
     * Runs {@code command} on the agent thread at its next duty cycle. Any thread may call this. The queue is
     * bounded ({@link Context#commandQueueCapacity}): when it is full another thread waits for room, up to
     * {@link Context#commandTimeoutNs}, and the agent thread itself is refused at once (it would wait for itself).
     *
     * @param command what to run.
     * @throws TransportException if the queue stayed full; the command was not queued.
     */
    public void execute(final Runnable command)
    {
        commands.offer(command);
        final Runnable waker = ctx.commandWaker;
        if (null != waker)
        {
            waker.run();
        }
    }

    /**
     * Names a peer's endpoint and starts connecting to it. Agent thread only.
     *
     * @param peerId   the peer's node id.
     * @param endpoint host:port it listens on.
     */
    public void addPeer(final long peerId, final String endpoint)
    {
        if (peerId == ctx.nodeId)
        {
            throw new TransportException("a node cannot be its own peer: " + peerId);
        }
        nowNs = clock.nanoTime();
        Peer peer = peers.get(peerId);
        if (null == peer)
        {
            peer = newPeer(peerId);
        }
        if (null == peer.controlPub)
        {
            peer.endpoint = endpoint;
            openUdp(peer);
        }
        if (Peer.OUT_DEFERRED == peer.outState)
        {
            peer.outState = Peer.OUT_CONNECTING; // learnt from its Hello; asked for by name now: start our side too
        }
    }

    /**
     * Says goodbye to a peer and forgets it: its queued messages are dropped and its transfers fail, reported
     * through {@link PeerListener#onPeerLost} like any loss. Agent thread only.
     *
     * @param peerId the peer's node id.
     * @return false if the peer was not known.
     */
    public boolean removePeer(final long peerId)
    {
        final Peer peer = peers.get(peerId);
        if (null == peer)
        {
            return false;
        }
        if (peer.outboundOpen() && null != peer.controlPub)
        {
            goodbyeEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).nodeId(ctx.nodeId);
            peer.controlPub.offer(encodeBuffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + goodbyeEncoder.encodedLength());
        }
        lose(peer, "removed by this node");
        return true;
    }

    /**
     * Sets (or with null removes) the handler of an application template after launch. Agent thread only.
     *
     * @param templateId an application template id (100 and up).
     * @param handler    receives it.
     */
    public void handler(final int templateId, final MessageHandler handler)
    {
        if (templateId < 100)
        {
            throw new TransportException("templates below 100 belong to the transport: " + templateId);
        }
        if (null == handler)
        {
            handlers.remove(templateId);
        }
        else
        {
            handlers.put(templateId, handler);
        }
    }

    /**
     * Agent thread only.
     *
     * @param peerId a node id.
     * @return whether the handshake with it completed both ways and it is not lost.
     */
    public boolean isJoined(final long peerId)
    {
        final Peer peer = peers.get(peerId);
        return null != peer && peer.joined;
    }

    /**
     * Sends one SBE message (header first) to a peer. If the handshake is not done yet, or Aeron pushes back,
     * the message waits in the peer's queue (in order) and goes out in a later duty cycle; if that queue is
     * full the call retries, stepping the idle strategy, up to {@link Context#sendTimeoutNs}. Agent thread only.
     *
     * @param peerId node id of the receiver.
     * @param buffer holds the message.
     * @param offset where it starts.
     * @param length its length, at most {@link #maxMessageLength()}.
     * @return true if sent or queued; false if the peer is unknown or its queue stayed full (counted as rejected).
     */
    public boolean send(final long peerId, final DirectBuffer buffer, final int offset, final int length)
    {
        if (length > maxMessageLength() || length < MessageHeaderEncoder.ENCODED_LENGTH)
        {
            throw new TransportException("message length " + length + " outside [8, " + maxMessageLength() + "]");
        }
        final Peer peer = peers.get(peerId);
        if (null == peer)
        {
            counters.sendsRejected++;
            return false;
        }
        return sendTo(peer, buffer, offset, length);
    }

    /**
     * Streams a block of native memory to a peer in chunks, on the bulk stream; to a peer on this host, a block of at
     * least {@link Context#directReadThreshold(long)} is offered instead, and the peer copies it out of this
     * process's memory (see the module README). The memory must stay valid and unchanged until
     * {@link BlockListener#onBlockSent} or {@link BlockListener#onBlockSendFailed} for the returned id: exactly one
     * of them ends every transfer, and after it no reader uses the memory. Agent thread only.
     *
     * @param peerId         receiver.
     * @param address        start of the block (ignored when length is 0).
     * @param length         length in bytes, any size.
     * @param metadata       opaque bytes for the receiver's allocator and listener (for example the key).
     * @param metadataOffset where they start.
     * @param metadataLength at most {@link #MAX_BLOCK_METADATA_LENGTH}.
     * @return the transfer id, or -1 if the peer is unknown.
     */
    public long sendBlock(
        final long peerId,
        final long address,
        final long length,
        final DirectBuffer metadata,
        final int metadataOffset,
        final int metadataLength)
    {
        if (length < 0 || metadataLength < 0 || metadataLength > MAX_BLOCK_METADATA_LENGTH)
        {
            throw new TransportException("bad block length " + length + " or metadata length " + metadataLength);
        }
        if (0 == address && length > 0)
        {
            // caught here: later the chunks would be read from address 0 and crash the JVM
            throw new TransportException("block of " + length + " bytes at address 0");
        }
        final Peer peer = peers.get(peerId);
        if (null == peer)
        {
            return -1;
        }
        final UnsafeBuffer meta = new UnsafeBuffer(new byte[metadataLength]);
        if (metadataLength > 0)
        {
            meta.putBytes(0, metadata, metadataOffset, metadataLength);
        }
        final OutboundTransfer transfer = new OutboundTransfer(nextTransferId++, address, length, meta);
        peer.outbound.add(transfer);
        return transfer.id;
    }

    /**
     * Stops sending a block; the receiver frees what it had. Ends with {@link BlockListener#onBlockSendFailed}
     * (CANCELLED). Agent thread only.
     *
     * @return false if no such transfer is in flight.
     */
    public boolean cancelSend(final long peerId, final long transferId)
    {
        final Peer peer = peers.get(peerId);
        if (null != peer)
        {
            for (final OutboundTransfer t : peer.outbound)
            {
                if (t.id == transferId && t.state != OutboundTransfer.ABORT)
                {
                    if (t.state == OutboundTransfer.AWAITING_RESULT)
                    {
                        return false;
                    }
                    t.state = OutboundTransfer.ABORT;
                    sendFailed(peer, t, BlockStatus.CANCELLED);
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Stops receiving a block: frees its partial memory, tells the sender, and ends with
     * {@link BlockListener#onBlockReceiveFailed} (CANCELLED). Agent thread only. A direct read whose chunks helper
     * threads are copying ends when the last of those is back, within a chunk's copy, on this thread's next cycles.
     *
     * @return false if no such transfer is in flight.
     */
    public boolean cancelReceive(final long peerId, final long transferId)
    {
        final Peer peer = peers.get(peerId);
        if (null == peer)
        {
            return false;
        }
        final InboundTransfer t = peer.inbound.get(transferId);
        if (null == t)
        {
            return false;
        }
        failInbound(peer, t, BlockStatus.CANCELLED, true);
        return true;
    }

    /** @return whether a direct read is copying into {@code [address, address + length)} at this moment (tests). */
    boolean directCopyRunningInto(final long address, final long length)
    {
        return null != directReaders && directReaders.copyingInto(address, length);
    }

    /** {@inheritDoc} */
    public int doWork()
    {
        if (closed)
        {
            return 0;
        }
        nowNs = clock.nanoTime();
        int work = invokeAeron();
        work += pollControl();
        // Bulk in slices of about one chunk with control polled between them: a control message never waits behind
        // more than a chunk, and the rest of the duty cycle is still shared by up to FRAGMENT_LIMIT fragments.
        for (int polled = 0; polled < FRAGMENT_LIMIT; )
        {
            final int bulk = bulkSub.poll(bulkHandler, bulkFragmentLimit) + ipcBulkSub.poll(bulkHandler, bulkFragmentLimit);
            if (0 == bulk)
            {
                break;
            }
            polled += bulk;
            work += bulk + pollControl();
        }

        if (!directReads.isEmpty() || (null != directReaders && directReaders.inFlight() > 0))
        {
            work += progressDirectReads();
        }

        Runnable command;
        while (null != (command = commands.poll()))
        {
            try
            {
                command.run();
            }
            catch (final RuntimeException ex)
            {
                counters.handlerErrors++;
                logError(ex);
            }
            work++;
        }

        peerList.clear();
        peers.values().forEach(collectPeer);
        for (int i = 0, n = peerList.size(); i < n; i++)
        {
            final Peer peer = peerList.get(i);
            if (peers.get(peer.id) == peer)
            {
                work += progress(peer);
            }
        }
        if (!contenders.isEmpty())
        {
            work += progressContenders();
        }
        work += foreignRefusals.doWork(nowNs);
        return work;
    }

    private int pollControl()
    {
        return controlSub.poll(controlFilter, FRAGMENT_LIMIT) + ipcControlSub.poll(ipcControlFilter, FRAGMENT_LIMIT);
    }

    /**
     * Leaves the cluster: tells open peers goodbye, frees partial incoming blocks through the allocator, ends
     * unfinished outgoing transfers with {@link BlockListener#onBlockSendFailed} (CANCELLED), closes the Aeron
     * client and the embedded driver, whose directory is deleted.
     */
    public void close()
    {
        if (null != runner)
        {
            CloseHelper.quietClose(runner);
        }
        else
        {
            onClose();
        }
    }

    /** {@inheritDoc} */
    public void onClose()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        if (null != directReaders)
        {
            // No helper writes into a destination after this; transfers failed while slices were out finish now.
            directReaders.close();
            directReaders.drain(sliceDroppedAtClose);
            directReads.clear();
        }
        peers.values().forEach(
            (peer) ->
            {
                abortOffers(peer); // readers stop early; the guards, cleared below, make stopping late safe too
                if (peer.outboundOpen() && null != peer.controlPub)
                {
                    goodbyeEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).nodeId(ctx.nodeId);
                    peer.controlPub.offer(encodeBuffer, 0, MessageHeaderEncoder.ENCODED_LENGTH + goodbyeEncoder.encodedLength());
                }
                peer.inbound.values().forEach((t) -> freeDestination(t));
                peer.inbound.clear();
                // Every outgoing transfer ends with exactly one callback: its source owner may release it now.
                for (final OutboundTransfer t : peer.outbound)
                {
                    if (t.state != OutboundTransfer.ABORT)
                    {
                        sendFailed(peer, t, BlockStatus.CANCELLED);
                    }
                }
                peer.outbound.clear();
            });
        if (null != driverInvoker)
        {
            // An invoked driver only sends when stepped: give the goodbyes a moment to leave.
            final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
            while (System.nanoTime() < deadline)
            {
                invokeAeron();
            }
        }
        peers.values().forEach(Peer::release);
        peers.clear();
        contenders.values().forEach(Peer::release);
        contenders.clear();
        CloseHelper.quietClose(foreignRefusals);
        CloseHelper.quietClose(aeron);
        CloseHelper.quietClose(embeddedDriver);
        CloseHelper.quietClose(guards);
    }

    // ------------------------------------------------------------------------------------------------ sending

    private boolean sendTo(final Peer peer, final DirectBuffer buffer, final int offset, final int length)
    {
        if (peer.outboundOpen() && 0 == peer.pendingCount)
        {
            final long result = peer.controlPub.offer(buffer, offset, length);
            if (result > 0)
            {
                counters.messagesSent++;
                return true;
            }
        }
        if (enqueue(peer, buffer, offset, length))
        {
            return true;
        }
        final IdleStrategy idle = ctx.sendIdleStrategy;
        final long deadline = System.nanoTime() + ctx.sendTimeoutNs;
        idle.reset();
        while (System.nanoTime() < deadline && peers.get(peer.id) == peer)
        {
            invokeAeron();
            if (peers.get(peer.id) != peer)
            {
                break; // lost while we waited (image gone): its queue is gone too, so refuse rather than re-create it
            }
            drainPending(peer);
            if (enqueue(peer, buffer, offset, length))
            {
                return true;
            }
            idle.idle();
        }
        counters.sendsRejected++;
        LOG.log(System.Logger.Level.WARNING, "send to " + peer + " rejected: " + (peers.get(peer.id) != peer ?
            "peer lost while the message waited" : "queue full for " + TimeUnit.NANOSECONDS.toMillis(ctx.sendTimeoutNs) + " ms"));
        return false;
    }

    private boolean enqueue(final Peer peer, final DirectBuffer buffer, final int offset, final int length)
    {
        if (null == peer.pending)
        {
            peer.pending = new MessageQueue(4096, ctx.maxQueuedBytesPerPeer, counters);
        }
        if (peer.pending.append(buffer, offset, length))
        {
            peer.pendingCount++;
            counters.messagesQueued++;
            return true;
        }
        return false;
    }

    private int drainPending(final Peer peer)
    {
        if (0 == peer.pendingCount || !peer.outboundOpen())
        {
            return 0;
        }
        final int before = peer.pendingCount;
        drainingPeer = peer;
        peer.pending.consume(drainConsumer, Integer.MAX_VALUE);
        drainingPeer = null;
        return before - peer.pendingCount;
    }

    private boolean drainOne(final DirectBuffer buffer, final int offset, final int length)
    {
        final Peer peer = drainingPeer;
        if (peer.controlPub.offer(buffer, offset, length) > 0)
        {
            peer.pendingCount--;
            counters.messagesSent++;
            return true;
        }
        return false;
    }

    private int encoded(final int bodyLength)
    {
        return MessageHeaderEncoder.ENCODED_LENGTH + bodyLength;
    }

    private void sendInternal(final Peer peer, final int length)
    {
        sendTo(peer, encodeBuffer, 0, length);
    }

    private boolean offerHandshake(final Peer peer, final int length)
    {
        return null != peer.controlPub && peer.controlPub.isConnected() && peer.controlPub.offer(encodeBuffer, 0, length) > 0;
    }

    // ------------------------------------------------------------------------------------------------ peers

    private Peer newPeer(final long peerId)
    {
        final Peer peer = new Peer(peerId, nowNs);
        peers.put(peerId, peer);
        return peer;
    }

    /** Control publication now; the bulk one once the peer's bulk endpoint is known (its Hello or Challenge). */
    private void openUdp(final Peer peer)
    {
        peer.controlPub = aeron.addExclusivePublication(
            "aeron:udp?endpoint=" + peer.endpoint + "|so-sndbuf=" + ctx.socketBufferLength + "|sparse=true|term-length=" +
            ctx.controlTermLength, ctx.controlStreamId);
        peer.outIpc = false;
        peer.lastConnectedNs = nowNs;
        openUdpBulk(peer);
    }

    private void openUdpBulk(final Peer peer)
    {
        if (null == peer.bulkPub && null != peer.bulkEndpoint && null != peer.controlPub && !peer.outIpc)
        {
            // Same session id as control: the receiver maps bulk fragments to the peer authenticated on control.
            peer.bulkPub = aeron.addExclusivePublication(
                "aeron:udp?endpoint=" + peer.bulkEndpoint + "|so-sndbuf=" + ctx.socketBufferLength + "|sparse=true|term-length=" +
                ctx.bulkTermLength + "|mtu=" + ctx.bulkMtu + "|session-id=" + peer.controlPub.sessionId(), ctx.bulkStreamId);
        }
    }

    private void openIpc(final Peer peer)
    {
        peer.controlPub = aeron.addExclusivePublication(
            "aeron:ipc?sparse=true|term-length=" + ctx.controlTermLength, peer.ipcControlStreamId);
        peer.bulkPub = aeron.addExclusivePublication(
            "aeron:ipc?sparse=true|term-length=" + ctx.bulkTermLength + "|mtu=" + ctx.bulkMtu +
            "|session-id=" + peer.controlPub.sessionId(), peer.ipcBulkStreamId);
        peer.outIpc = true;
        peer.lastConnectedNs = nowNs;
    }

    private boolean sharesDriver(final Peer peer)
    {
        return ctx.preferIpc && driverKey.equals(peer.driverKey) && 0 != peer.ipcControlStreamId;
    }

    private int progress(final Peer peer)
    {
        int work = 0;
        final ExclusivePublication pub = peer.controlPub;
        if (null != pub)
        {
            if (pub.isConnected())
            {
                peer.lastConnectedNs = nowNs;
                work += progressHandshake(peer);
            }
            else if (nowNs - peer.lastConnectedNs > ctx.peerTimeoutNs)
            {
                lose(peer, "unreachable for " + TimeUnit.NANOSECONDS.toMillis(ctx.peerTimeoutNs) + " ms");
                return work + 1;
            }
        }

        if (!peer.joined && nowNs - peer.createdNs > ctx.handshakeTimeoutNs)
        {
            lose(peer, null != peer.refusal ? peer.refusal :
                "handshake did not complete in " + TimeUnit.NANOSECONDS.toMillis(ctx.handshakeTimeoutNs) +
                " ms (unreachable, or another node id, secret or protocol version there?)");
            return work + 1;
        }
        if (peer.joined && nowNs - peer.lastHeardNs > ctx.peerTimeoutNs)
        {
            lose(peer, "silent for " + TimeUnit.NANOSECONDS.toMillis(nowNs - peer.lastHeardNs) + " ms");
            return work + 1;
        }

        if (peer.outboundOpen())
        {
            work += drainPending(peer);
            if (nowNs >= peer.nextPingNs)
            {
                peer.nextPingNs = nowNs + ctx.heartbeatIntervalNs;
                pingEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).nodeId(ctx.nodeId).timestampNs(nowNs);
                sendInternal(peer, encoded(pingEncoder.encodedLength()));
            }
            if (!peer.outbound.isEmpty() && null != peer.bulkPub)
            {
                work += progressTransfers(peer);
            }
        }
        return work;
    }

    private int progressContenders()
    {
        int work = 0;
        peerList.clear();
        contenders.values().forEach(collectPeer);
        for (int i = 0, n = peerList.size(); i < n; i++)
        {
            final Peer contender = peerList.get(i);
            if (nowNs - contender.createdNs > ctx.handshakeTimeoutNs)
            {
                contenders.remove(contender.id);
                contender.release();
                LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": a node claiming to be " + contender +
                    " did not complete the handshake; the joined node of that id stays");
                work++;
            }
            else if (null != contender.controlPub && contender.controlPub.isConnected())
            {
                work += progressHandshake(contender);
            }
        }
        return work;
    }

    private int progressHandshake(final Peer peer)
    {
        int work = 0;
        if (peer.challengePending)
        {
            challengeEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder)
                .nodeId(ctx.nodeId)
                .initiatorNodeId(peer.id)
                .ipcControlStreamId(ctx.ipcControlStreamId)
                .ipcBulkStreamId(ctx.ipcBulkStreamId)
                .putNonce(peer.responderNonce, 0, Handshake.NONCE_LENGTH)
                .putMac(peer.challengeMac, 0, Handshake.MAC_LENGTH)
                .putInitiatorNonce(peer.peerNonce, 0, Handshake.NONCE_LENGTH)
                .bulkEndpoint(bulkEndpoint)
                .driverKey(driverKey)
                .processKey(processKey);
            if (offerHandshake(peer, encoded(challengeEncoder.encodedLength())))
            {
                peer.challengePending = false;
                peer.awaitingResponse = true;
                work++;
            }
        }
        if (peer.welcomePending)
        {
            welcomeEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder)
                .nodeId(ctx.nodeId).putInitiatorNonce(peer.peerNonce, 0, Handshake.NONCE_LENGTH);
            if (offerHandshake(peer, encoded(welcomeEncoder.encodedLength())))
            {
                peer.welcomePending = false;
                work++;
            }
        }
        if (Peer.OUT_CONNECTING == peer.outState)
        {
            handshake.nextNonce(peer.initiatorNonce);
            helloEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder)
                .nodeId(ctx.nodeId)
                .ipcControlStreamId(ctx.ipcControlStreamId)
                .ipcBulkStreamId(ctx.ipcBulkStreamId)
                .putNonce(peer.initiatorNonce, 0, Handshake.NONCE_LENGTH)
                .endpoint(endpoint)
                .bulkEndpoint(bulkEndpoint)
                .driverKey(driverKey)
                .processKey(processKey);
            if (offerHandshake(peer, encoded(helloEncoder.encodedLength())))
            {
                peer.outState = Peer.OUT_HELLO_SENT;
                work++;
            }
        }
        else if (Peer.OUT_RESPONSE_PENDING == peer.outState)
        {
            responseEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).nodeId(ctx.nodeId)
                .putMac(peer.responseMac, 0, Handshake.MAC_LENGTH).putResponderNonce(peer.responderNonceSeen, 0, Handshake.NONCE_LENGTH);
            if (offerHandshake(peer, encoded(responseEncoder.encodedLength())))
            {
                peer.outState = Peer.OUT_RESPONSE_SENT;
                work++;
            }
        }
        return work;
    }

    private void checkJoined(final Peer peer)
    {
        if (!peer.joined && peer.outboundOpen() && peer.inboundAuthenticated())
        {
            peer.joined = true;
            peer.lastHeardNs = nowNs;
            counters.peersJoined++;
            LOG.log(System.Logger.Level.DEBUG, () -> "node " + ctx.nodeId + ": " + peer + " joined" + (peer.outIpc ? " over IPC" : ""));
            try
            {
                ctx.peerListener.onPeerJoined(peer.id, peer.endpoint);
            }
            catch (final RuntimeException ex)
            {
                counters.handlerErrors++;
                logError(ex);
            }
        }
    }

    private void lose(final Peer peer, final String reason)
    {
        if (peers.get(peer.id) != peer)
        {
            return;
        }
        peers.remove(peer.id);
        if (peer.inboundAuthenticated() && sessionToPeer.get(peer.inSession) == peer)
        {
            sessionToPeer.remove(peer.inSession);
        }
        final int dropped = peer.pendingCount;
        abortOffers(peer); // its readers may stop early; the guards, cleared below, make a late stop safe
        peer.release();
        counters.peersLost++;
        LOG.log(System.Logger.Level.INFO, "node " + ctx.nodeId + ": lost " + peer + ": " + reason +
            (dropped > 0 ? " (" + dropped + " queued messages dropped)" : ""));

        for (final InboundTransfer t : peer.inbound.values().toArray(new InboundTransfer[0]))
        {
            failInbound(peer, t, BlockStatus.SENDER_LOST, false);
        }
        for (final OutboundTransfer t : peer.outbound.toArray(new OutboundTransfer[0]))
        {
            if (t.state != OutboundTransfer.ABORT)
            {
                sendFailed(peer, t, BlockStatus.RECEIVER_LOST);
            }
        }
        peer.outbound.clear();
        try
        {
            ctx.peerListener.onPeerLost(peer.id, reason, dropped);
        }
        catch (final RuntimeException ex)
        {
            counters.handlerErrors++;
            logError(ex);
        }
    }

    private void onImageAvailable(final Image image)
    {
    }

    /**
     * Handshake messages are small and never fragmented, so a session that has not completed the handshake gets
     * no reassembly buffer: its fragmented messages are dropped here, before any copy.
     */
    private void filterControl(
        final FragmentAssembler assembler, final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final byte flags = header.flags();
        if ((flags & FrameDescriptor.UNFRAGMENTED) != FrameDescriptor.UNFRAGMENTED && null == sessionToPeer.get(header.sessionId()))
        {
            if ((flags & FrameDescriptor.BEGIN_FRAG_FLAG) != 0)
            {
                counters.unauthenticatedDropped++;
            }
            return;
        }
        assembler.onFragment(buffer, offset, length, header);
    }

    private void onImageUnavailable(final Image image)
    {
        controlAssembler.freeSessionBuffer(image.sessionId());
        ipcControlAssembler.freeSessionBuffer(image.sessionId());
        final Peer peer = sessionToPeer.get(image.sessionId());
        if (null != peer && !closed)
        {
            lose(peer, "its connection closed");
        }
    }

    // ------------------------------------------------------------------------------------------------ control

    private void onControlFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final int session = header.sessionId();
        final Peer peer = sessionToPeer.get(session);
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            badInput(peer, session, "truncated message");
            counters.malformedDropped++;
            return;
        }
        final int templateId = buffer.getShort(offset + 2, java.nio.ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final boolean handshakeMessage = templateId >= HelloDecoder.TEMPLATE_ID && templateId <= RefusedDecoder.TEMPLATE_ID;
        if (null == peer && !handshakeMessage)
        {
            counters.unauthenticatedDropped++;
            return;
        }
        final int result = validator.validate(buffer, offset, length);
        if (MessageValidator.OK != result)
        {
            if (MessageValidator.WRONG_VERSION == result || MessageValidator.WRONG_SCHEMA == result)
            {
                counters.versionMismatches++;
                headerDecoder.wrap(buffer, offset);
                final String mismatch = "peer speaks schema " + headerDecoder.schemaId() + " v" + headerDecoder.version() +
                    ", this node v" + MessageHeaderDecoder.SCHEMA_VERSION;
                if (MessageValidator.WRONG_VERSION == result && HelloDecoder.TEMPLATE_ID == templateId)
                {
                    refuseOtherVersionHello(session, buffer, offset, length, mismatch);
                }
                else if (MessageValidator.WRONG_VERSION == result && RefusedDecoder.TEMPLATE_ID == templateId)
                {
                    onOtherVersionRefused(session, buffer, offset, length, mismatch);
                }
                else
                {
                    badInput(peer, session, "dropped a message: " + mismatch);
                }
            }
            else
            {
                counters.malformedDropped++;
                badInput(peer, session, "dropped a message: " + MessageValidator.describe(result) + " (template " + templateId + ")");
            }
            return;
        }
        if (null != peer)
        {
            peer.lastHeardNs = nowNs;
        }
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int blockLength = buffer.getShort(offset, java.nio.ByteOrder.LITTLE_ENDIAN) & 0xFFFF;
        final int version = MessageHeaderDecoder.SCHEMA_VERSION;
        try
        {
            onControlMessage(peer, session, templateId, buffer, offset, length, body, blockLength, version);
        }
        catch (final RuntimeException ex)
        {
            counters.malformedDropped++;
            badInput(peer, session, "message (template " + templateId + ") could not be handled: " + ex);
        }
    }

    private void onControlMessage(
        final Peer peer,
        final int session,
        final int templateId,
        final DirectBuffer buffer,
        final int offset,
        final int length,
        final int body,
        final int blockLength,
        final int version)
    {
        switch (templateId)
        {
            case HelloDecoder.TEMPLATE_ID:
                onHello(session, helloDecoder.wrap(buffer, body, blockLength, version));
                break;
            case ChallengeDecoder.TEMPLATE_ID:
                onChallenge(challengeDecoder.wrap(buffer, body, blockLength, version));
                break;
            case HandshakeResponseDecoder.TEMPLATE_ID:
                onResponse(session, responseDecoder.wrap(buffer, body, blockLength, version));
                break;
            case WelcomeDecoder.TEMPLATE_ID:
                onWelcome(welcomeDecoder.wrap(buffer, body, blockLength, version));
                break;
            case RefusedDecoder.TEMPLATE_ID:
                onRefused(refusedDecoder.wrap(buffer, body, blockLength, version));
                break;
            case PingDecoder.TEMPLATE_ID:
                break;
            case GoodbyeDecoder.TEMPLATE_ID:
                lose(peer, "it left");
                break;
            case BlockResultDecoder.TEMPLATE_ID:
                onBlockResult(peer, blockResultDecoder.wrap(buffer, body, blockLength, version));
                break;
            case BlockStartDecoder.TEMPLATE_ID:
            case BlockChunkDecoder.TEMPLATE_ID:
            case BlockEndDecoder.TEMPLATE_ID:
            case BlockAbortDecoder.TEMPLATE_ID:
                counters.malformedDropped++;
                badInput(peer, session, "bulk message on the control stream");
                break;
            default:
                dispatch(peer, templateId, buffer, offset, length);
        }
    }

    private void dispatch(final Peer peer, final int templateId, final DirectBuffer buffer, final int offset, final int length)
    {
        final MessageHandler handler = handlers.get(templateId);
        final MessageHandler target = null != handler ? handler : ctx.defaultHandler;
        if (null == target)
        {
            counters.unhandledDropped++;
            return;
        }
        messageView.wrap(buffer, offset, length);
        counters.messagesReceived++;
        try
        {
            target.onMessage(peer.id, templateId, messageView, 0, length);
        }
        catch (final RuntimeException ex)
        {
            counters.handlerErrors++;
            logError(ex);
        }
    }

    void badInput(final Peer peer, final int session, final String what)
    {
        if (null != peer)
        {
            if (!peer.loggedBadInput)
            {
                peer.loggedBadInput = true;
                LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": from " + peer + ": " + what + " (logged once per peer)");
            }
        }
        else if (loggedSessions.size() < MAX_LOGGED_SESSIONS && loggedSessions.add(session))
        {
            LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": from unauthenticated session " + session + ": " + what);
        }
    }

    /** Unauthenticated sessions already logged; bounded, since anyone can open sessions. Beyond it they are only counted. */
    private final org.agrona.collections.IntHashSet loggedSessions = new org.agrona.collections.IntHashSet();

    /** @return how many unauthenticated sessions had bad input logged (tests). */
    int loggedUnauthenticatedSessions()
    {
        return loggedSessions.size();
    }

    private void onHello(final int session, final HelloDecoder hello)
    {
        final long peerId = hello.nodeId();
        final int ipcControl = hello.ipcControlStreamId();
        final int ipcBulk = hello.ipcBulkStreamId();
        hello.getNonce(nonceScratch, 0, Handshake.NONCE_LENGTH);
        final String peerEndpoint = hello.endpoint();
        final String peerBulkEndpoint = hello.bulkEndpoint();
        final String peerDriverKey = hello.driverKey();
        final String peerProcessKey = hello.processKey();
        if (peerId == ctx.nodeId || peerId < 0)
        {
            counters.handshakesRefused++;
            badInput(null, session, "refused a Hello claiming node id " + peerId);
            return;
        }
        if (!isEndpoint(peerEndpoint) || !isEndpoint(peerBulkEndpoint))
        {
            counters.malformedDropped++;
            badInput(null, session, "Hello with a bad endpoint");
            return;
        }
        Peer peer = peers.get(peerId);
        final boolean contender = null != peer && peer.inboundAuthenticated() && peer.inSession != session;
        if (contender)
        {
            // A restart of that node, or an impostor: it replaces the joined peer only once it passes the handshake
            // (onResponse), so a Hello alone evicts nobody.
            peer = contenders.get(peerId);
            if (null == peer)
            {
                if (contenders.size() >= ctx.maxPeers)
                {
                    counters.handshakesRefused++;
                    badInput(null, session, "refused a Hello: already " + contenders.size() + " contenders");
                    return;
                }
                peer = new Peer(peerId, nowNs);
                peer.outState = Peer.OUT_DEFERRED;
                contenders.put(peerId, peer);
            }
        }
        else
        {
            if (null == peer && peers.size() >= ctx.maxPeers)
            {
                counters.handshakesRefused++;
                badInput(null, session, "refused a Hello: already " + peers.size() + " peers");
                return;
            }
            if (null == peer)
            {
                // Our own handshake towards it waits until it passed ours (onResponse): otherwise two nodes that
                // refuse each other (wrong secret) would re-create each other from each other's Hellos forever.
                peer = newPeer(peerId);
                peer.outState = Peer.OUT_DEFERRED;
            }
        }
        peer.endpoint = peerEndpoint;
        peer.bulkEndpoint = peerBulkEndpoint;
        peer.driverKey = peerDriverKey;
        peer.pid = ProcessMemory.sameHostPid(peerProcessKey);
        peer.ipcControlStreamId = ipcControl;
        peer.ipcBulkStreamId = ipcBulk;
        System.arraycopy(nonceScratch, 0, peer.peerNonce, 0, Handshake.NONCE_LENGTH);
        handshake.nextNonce(peer.responderNonce);
        handshake.challengeMac(peer.peerNonce, peer.responderNonce, peerId, ctx.nodeId, peer.challengeMac);
        peer.challengePending = true;
        if (null == peer.controlPub)
        {
            try
            {
                if (sharesDriver(peer))
                {
                    openIpc(peer);
                }
                else
                {
                    openUdp(peer);
                }
            }
            catch (final RuntimeException ex)
            {
                if (contender)
                {
                    contenders.remove(peer.id);
                }
                else
                {
                    peers.remove(peer.id);
                }
                peer.release();
                throw ex;
            }
        }
        else
        {
            openUdpBulk(peer);
        }
    }

    private void onChallenge(final ChallengeDecoder challenge)
    {
        final long peerId = challenge.nodeId();
        final Peer peer = peers.get(peerId);
        if (null == peer || challenge.initiatorNodeId() != ctx.nodeId || Peer.OUT_HELLO_SENT != peer.outState)
        {
            return;
        }
        challenge.getInitiatorNonce(nonceScratch, 0, Handshake.NONCE_LENGTH);
        if (!java.util.Arrays.equals(nonceScratch, peer.initiatorNonce))
        {
            unboundHandshakeMessage(peer, "Challenge");
            return;
        }
        final String peerBulkEndpoint = challenge.bulkEndpoint();
        if (!isEndpoint(peerBulkEndpoint))
        {
            counters.malformedDropped++;
            badInput(peer, Peer.NO_SESSION, "Challenge with a bad bulk endpoint");
            return;
        }
        peer.ipcControlStreamId = challenge.ipcControlStreamId();
        peer.ipcBulkStreamId = challenge.ipcBulkStreamId();
        challenge.getNonce(peer.responderNonceSeen, 0, Handshake.NONCE_LENGTH);
        challenge.getMac(macScratch, 0, Handshake.MAC_LENGTH);
        peer.bulkEndpoint = peerBulkEndpoint;
        peer.driverKey = challenge.driverKey();
        peer.pid = ProcessMemory.sameHostPid(challenge.processKey());
        final byte[] expected = new byte[Handshake.MAC_LENGTH];
        handshake.challengeMac(peer.initiatorNonce, peer.responderNonceSeen, ctx.nodeId, peerId, expected);
        if (!handshake.matches(expected, macScratch))
        {
            counters.handshakesRefused++;
            LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": refused " + peer +
                ": it failed the cluster secret challenge");
            lose(peer, "refused: it failed the cluster secret challenge");
            return;
        }
        handshake.responseMac(peer.initiatorNonce, peer.responderNonceSeen, ctx.nodeId, peerId, peer.responseMac);
        if (!peer.outIpc && sharesDriver(peer))
        {
            peer.closePublications();
            openIpc(peer);
        }
        else
        {
            openUdpBulk(peer);
        }
        peer.outState = Peer.OUT_RESPONSE_PENDING;
    }

    private void onResponse(final int session, final HandshakeResponseDecoder response)
    {
        final long peerId = response.nodeId();
        Peer peer = peers.get(peerId);
        final boolean contender = null == peer || !peer.awaitingResponse;
        if (contender)
        {
            peer = contenders.get(peerId);
            if (null == peer || !peer.awaitingResponse)
            {
                return;
            }
        }
        response.getResponderNonce(nonceScratch, 0, Handshake.NONCE_LENGTH);
        if (!java.util.Arrays.equals(nonceScratch, peer.responderNonce))
        {
            unboundHandshakeMessage(peer, "HandshakeResponse");
            return;
        }
        response.getMac(macScratch, 0, Handshake.MAC_LENGTH);
        final byte[] expected = new byte[Handshake.MAC_LENGTH];
        handshake.responseMac(peer.peerNonce, peer.responderNonce, peerId, ctx.nodeId, expected);
        peer.awaitingResponse = false;
        final Peer owner = sessionToPeer.get(session);
        if (!handshake.matches(expected, macScratch) || (null != owner && owner != peer))
        {
            counters.handshakesRefused++;
            final String reason = null != owner && owner != peer ?
                "its session clashes with " + owner : "it failed the cluster secret challenge";
            LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": refused " + peer + ": " + reason);
            refusedEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).nodeId(ctx.nodeId)
                .putInitiatorNonce(peer.peerNonce, 0, Handshake.NONCE_LENGTH).reason("refused by node " + ctx.nodeId + ": " + reason);
            offerHandshake(peer, encoded(refusedEncoder.encodedLength()));
            peer.refusal = "refused: " + reason;
            if (contender)
            {
                contenders.remove(peerId);
            }
            else
            {
                peers.remove(peer.id);
            }
            peer.release();
            return;
        }
        if (contender)
        {
            contenders.remove(peerId);
            final Peer old = peers.get(peerId);
            if (null != old)
            {
                lose(old, "it reconnected");
            }
            final Peer readded = peers.get(peerId);
            if (null != readded)
            {
                // a listener called addPeer from onPeerLost: the contender, which proved itself, takes its place
                readded.release();
            }
            peers.put(peerId, peer);
            peer.outState = Peer.OUT_CONNECTING;
            peer.lastConnectedNs = nowNs;
        }
        else if (Peer.OUT_DEFERRED == peer.outState)
        {
            peer.outState = Peer.OUT_CONNECTING;
        }
        peer.inSession = session;
        sessionToPeer.put(session, peer);
        peer.lastHeardNs = nowNs;
        peer.welcomePending = true;
        checkJoined(peer);
    }

    private void onWelcome(final WelcomeDecoder welcome)
    {
        final Peer peer = peers.get(welcome.nodeId());
        if (null != peer && Peer.OUT_RESPONSE_SENT == peer.outState)
        {
            welcome.getInitiatorNonce(nonceScratch, 0, Handshake.NONCE_LENGTH);
            if (!java.util.Arrays.equals(nonceScratch, peer.initiatorNonce))
            {
                unboundHandshakeMessage(peer, "Welcome");
                return;
            }
            peer.outState = Peer.OUT_OPEN;
            peer.nextPingNs = nowNs;
            drainPending(peer);
            checkJoined(peer);
        }
    }

    private void onRefused(final RefusedDecoder refused)
    {
        final Peer peer = peers.get(refused.nodeId());
        refused.getInitiatorNonce(nonceScratch, 0, Handshake.NONCE_LENGTH);
        final String reason = refused.reason();
        if (null != peer && !peer.outboundOpen() && Peer.OUT_CONNECTING != peer.outState)
        {
            if (!java.util.Arrays.equals(nonceScratch, peer.initiatorNonce))
            {
                unboundHandshakeMessage(peer, "Refused");
                return;
            }
            LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": " + reason);
            lose(peer, reason);
        }
    }

    /**
     * An answer that does not echo the nonce of this peer's current handshake: stale (an earlier attempt) or
     * forged by someone who saw neither Hello nor Challenge. Dropped, so it can neither abort nor hijack the handshake.
     */
    private void unboundHandshakeMessage(final Peer peer, final String what)
    {
        counters.unboundHandshakeDropped++;
        badInput(null, -1, "dropped a " + what + " naming " + peer + " that does not echo its handshake's nonce");
    }

    /**
     * A Hello of another version of this schema: read by the layout frozen across versions (nodeId at 0, nonce at 16,
     * endpoint first var data) and answered with a Refused, so that node reports why instead of timing out.
     */
    private void refuseOtherVersionHello(
        final int session, final DirectBuffer buffer, final int offset, final int length, final String mismatch)
    {
        final int blockLength = headerDecoder.blockLength();
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int end = offset + length;
        final long varAt = (long)body + blockLength;
        if (blockLength < 16 + Handshake.NONCE_LENGTH || varAt + 4 > end)
        {
            badInput(null, session, "refused a Hello: " + mismatch + " (no endpoint to answer to)");
            return;
        }
        final long peerId = buffer.getLong(body, java.nio.ByteOrder.LITTLE_ENDIAN);
        final long endpointLength = buffer.getInt((int)varAt, java.nio.ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        final String peerEndpoint = endpointLength <= 255 && varAt + 4 + endpointLength <= end ?
            buffer.getStringWithoutLengthAscii((int)varAt + 4, (int)endpointLength) : null;
        counters.handshakesRefused++;
        final String reason = "refused node " + peerId + (null != peerEndpoint ? " at " + peerEndpoint : "") + ": " + mismatch;
        badInput(null, session, reason);
        if (isEndpoint(peerEndpoint))
        {
            buffer.getBytes(body + 16, nonceScratch);
            refusedEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).nodeId(ctx.nodeId)
                .putInitiatorNonce(nonceScratch, 0, Handshake.NONCE_LENGTH).reason("node " + ctx.nodeId + " " + reason);
            foreignRefusals.refuse(peerEndpoint, encodeBuffer, encoded(refusedEncoder.encodedLength()), nowNs);
        }
    }

    /** A Refused in another version: a node of that version refused our Hello. Read by the frozen layout. */
    private void onOtherVersionRefused(
        final int session, final DirectBuffer buffer, final int offset, final int length, final String mismatch)
    {
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        if (headerDecoder.blockLength() < 8 + Handshake.NONCE_LENGTH || length < MessageHeaderDecoder.ENCODED_LENGTH + 8 + Handshake.NONCE_LENGTH)
        {
            badInput(null, session, "dropped a Refused: " + mismatch);
            return;
        }
        final Peer peer = peers.get(buffer.getLong(body, java.nio.ByteOrder.LITTLE_ENDIAN));
        if (null == peer || Peer.OUT_HELLO_SENT != peer.outState)
        {
            badInput(null, session, "dropped a Refused for no handshake in progress: " + mismatch);
            return;
        }
        buffer.getBytes(body + 8, nonceScratch);
        if (!java.util.Arrays.equals(nonceScratch, peer.initiatorNonce))
        {
            unboundHandshakeMessage(peer, "Refused (" + mismatch + ")");
            return;
        }
        counters.handshakesRefused++;
        final String reason = "refused: " + mismatch;
        LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": " + peer + " " + reason);
        lose(peer, reason);
    }

    // ------------------------------------------------------------------------------------------------ blocks out

    private int progressTransfers(final Peer peer)
    {
        final ArrayList<OutboundTransfer> transfers = peer.outbound;
        final ExclusivePublication pub = peer.bulkPub;
        int work = 0;
        int idleTurns = 0;
        while (!transfers.isEmpty() && work < CHUNKS_PER_PEER_PER_CYCLE && idleTurns < transfers.size())
        {
            if (peer.outboundCursor >= transfers.size())
            {
                peer.outboundCursor = 0;
            }
            final OutboundTransfer t = transfers.get(peer.outboundCursor);
            final long result = step(peer, pub, t);
            if (result == Publication.BACK_PRESSURED || result == Publication.ADMIN_ACTION || result == Publication.NOT_CONNECTED)
            {
                break;
            }
            if (t.state == OutboundTransfer.ABORT && result > 0)
            {
                transfers.remove(peer.outboundCursor);
                work++;
                continue;
            }
            if (result > 0)
            {
                work++;
                idleTurns = 0;
            }
            else
            {
                idleTurns++;
            }
            peer.outboundCursor++;
        }
        return work;
    }

    /** One step of a transfer: @return the offer's position, 0 if nothing to send, or Aeron's error code. */
    private long step(final Peer peer, final ExclusivePublication pub, final OutboundTransfer t)
    {
        switch (t.state)
        {
            case OutboundTransfer.START:
            {
                // A JVM with reads off (or no binding) does not offer either: its peers stream to it and it to them.
                if (t.length >= ctx.directReadThreshold && !t.streamOnly && null != processMemory && peer.pid > 0 &&
                    !peer.noDirectReads && !ProcessMemory.unavailable() && armGuard(t))
                {
                    blockOfferEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder)
                        .transferId(t.id).length(t.length).address(t.address)
                        .guardAddress(guards.address(t.guardSlot)).token(t.token)
                        .putMetadata(t.metadata, 0, t.metadata.capacity());
                    final long result = pub.offer(encodeBuffer, 0, encoded(blockOfferEncoder.encodedLength()));
                    if (result > 0)
                    {
                        t.offered = true;
                        t.state = OutboundTransfer.AWAITING_RESULT;
                    }
                    return result;
                }
                endOffer(t); // armed for an offer that was back-pressured, and now streamed instead
                blockStartEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder)
                    .transferId(t.id).length(t.length).putMetadata(t.metadata, 0, t.metadata.capacity());
                final long result = pub.offer(encodeBuffer, 0, encoded(blockStartEncoder.encodedLength()));
                if (result > 0)
                {
                    t.state = t.length > 0 ? OutboundTransfer.CHUNKS : OutboundTransfer.END;
                }
                return result;
            }
            case OutboundTransfer.CHUNKS:
            {
                final int n = (int)Math.min(ctx.chunkLength, t.length - t.sent);
                blockChunkEncoder.wrapAndApplyHeader(chunkHeader, 0, headerEncoder).transferId(t.id).blockOffset(t.sent);
                chunkHeader.putInt(CHUNK_HEADER_LENGTH - 4, n, java.nio.ByteOrder.LITTLE_ENDIAN);
                chunkView.wrap(t.address + t.sent, n);
                final long result = pub.offer(chunkHeader, 0, CHUNK_HEADER_LENGTH, chunkView, 0, n);
                if (result > 0)
                {
                    t.crc.update(t.address + t.sent, n);
                    t.sent += n;
                    counters.bytesSent += n;
                    if (t.sent == t.length)
                    {
                        t.state = OutboundTransfer.END;
                    }
                }
                return result;
            }
            case OutboundTransfer.END:
            {
                blockEndEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).transferId(t.id).crc32c(t.crc.value() & 0xFFFF_FFFFL);
                final long result = pub.offer(encodeBuffer, 0, encoded(blockEndEncoder.encodedLength()));
                if (result > 0)
                {
                    t.state = OutboundTransfer.AWAITING_RESULT;
                }
                return result;
            }
            case OutboundTransfer.ABORT:
            {
                blockAbortEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).transferId(t.id).status(BlockStatus.CANCELLED);
                return pub.offer(encodeBuffer, 0, encoded(blockAbortEncoder.encodedLength()));
            }
            default:
                return 0;
        }
    }

    /** A guard for an offer: kept across retries of the same offer. @return false if none is free (stream it). */
    private boolean armGuard(final OutboundTransfer t)
    {
        if (t.guardSlot >= 0)
        {
            return true;
        }
        if (null == guards)
        {
            guards = new OfferGuards(GUARD_SLOTS);
        }
        final int slot = guards.acquire();
        if (slot < 0)
        {
            return false;
        }
        t.guardSlot = slot;
        t.token = guards.arm(slot);
        return true;
    }

    private void onBlockResult(final Peer peer, final BlockResultDecoder result)
    {
        final long transferId = result.transferId();
        final BlockStatus status = result.status();
        final ArrayList<OutboundTransfer> transfers = peer.outbound;
        for (int i = 0; i < transfers.size(); i++)
        {
            final OutboundTransfer t = transfers.get(i);
            if (t.id == transferId)
            {
                if (t.state == OutboundTransfer.ABORT)
                {
                    return;
                }
                if (t.offered && t.state == OutboundTransfer.AWAITING_RESULT &&
                    (BlockStatus.STREAM == status || BlockStatus.NO_DIRECT_READ == status))
                {
                    // The receiver did not read it: stream it, from the start, under the same id.
                    counters.offersStreamed++;
                    endOffer(t);
                    peer.noDirectReads |= BlockStatus.NO_DIRECT_READ == status;
                    t.offered = false;
                    t.streamOnly = true;
                    t.state = OutboundTransfer.START;
                    return;
                }
                transfers.remove(i);
                if (BlockStatus.OK == status && t.state == OutboundTransfer.AWAITING_RESULT)
                {
                    counters.blocksSent++;
                    if (t.offered)
                    {
                        counters.bytesSent += t.length; // the receiver read them all
                    }
                    endOffer(t); // also a slot kept by an offer that was retried as a stream
                    try
                    {
                        ctx.blockListener.onBlockSent(peer.id, transferId);
                    }
                    catch (final RuntimeException ex)
                    {
                        counters.handlerErrors++;
                        logError(ex);
                    }
                }
                else
                {
                    sendFailed(peer, t, BlockStatus.OK == status || BlockStatus.NULL_VAL == status ? BlockStatus.MALFORMED : status);
                }
                return;
            }
        }
    }

    /** Readers of this peer's offered blocks may stop now: best effort, one try (close and loss do not wait). */
    private void abortOffers(final Peer peer)
    {
        if (null == peer.bulkPub)
        {
            return;
        }
        for (final OutboundTransfer t : peer.outbound)
        {
            if (t.offered && t.state == OutboundTransfer.AWAITING_RESULT)
            {
                blockAbortEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).transferId(t.id).status(BlockStatus.CANCELLED);
                peer.bulkPub.offer(encodeBuffer, 0, encoded(blockAbortEncoder.encodedLength()));
            }
        }
    }

    /** The transfer is ending on this side: no reader may accept the block from now on (its guard is cleared). */
    private void endOffer(final OutboundTransfer t)
    {
        if (t.guardSlot >= 0)
        {
            guards.revoke(t.guardSlot);
            t.guardSlot = -1;
        }
    }

    private void sendFailed(final Peer peer, final OutboundTransfer t, final BlockStatus status)
    {
        endOffer(t); // before the owner hears of it: the owner may free the memory at once
        counters.blocksFailed++;
        try
        {
            ctx.blockListener.onBlockSendFailed(peer.id, t.id, status);
        }
        catch (final RuntimeException ex)
        {
            counters.handlerErrors++;
            logError(ex);
        }
    }

    // ------------------------------------------------------------------------------------------------ blocks in

    private void onBulkFragment(final DirectBuffer buffer, final int offset, final int length, final Header header)
    {
        final Peer peer = sessionToPeer.get(header.sessionId());
        if (null == peer)
        {
            counters.unauthenticatedDropped++;
            return;
        }
        peer.lastHeardNs = nowNs;
        final byte flags = header.flags();
        if ((flags & FrameDescriptor.BEGIN_FRAG_FLAG) == 0)
        {
            onChunkContinuation(peer, buffer, offset, length, (flags & FrameDescriptor.END_FRAG_FLAG) != 0);
            return;
        }
        peer.chunkTransfer = null;
        peer.skippingChunk = false;
        final boolean whole = (flags & FrameDescriptor.END_FRAG_FLAG) != 0;
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            bulkMalformed(peer, "truncated bulk message", whole);
            return;
        }
        headerDecoder.wrap(buffer, offset);
        if (headerDecoder.schemaId() != MessageHeaderDecoder.SCHEMA_ID || headerDecoder.version() != MessageHeaderDecoder.SCHEMA_VERSION)
        {
            counters.versionMismatches++;
            badInput(peer, header.sessionId(), "bulk message of schema " + headerDecoder.schemaId() + " version " + headerDecoder.version());
            peer.skippingChunk = !whole;
            return;
        }
        final int templateId = headerDecoder.templateId();
        if (BlockChunkDecoder.TEMPLATE_ID == templateId)
        {
            onChunkBegin(peer, buffer, offset, length, whole);
            return;
        }
        if (!whole)
        {
            bulkMalformed(peer, "fragmented bulk control message", false);
            return;
        }
        final int result = validator.validate(buffer, offset, length);
        if (MessageValidator.OK != result)
        {
            bulkMalformed(peer, MessageValidator.describe(result) + " (template " + templateId + ")", true);
            return;
        }
        final int body = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final int blockLength = headerDecoder.blockLength();
        try
        {
            onBulkMessage(peer, templateId, buffer, body, blockLength);
        }
        catch (final RuntimeException ex)
        {
            bulkMalformed(peer, "template " + templateId + " could not be handled: " + ex, true);
        }
    }

    private void onBulkMessage(final Peer peer, final int templateId, final DirectBuffer buffer, final int body, final int blockLength)
    {
        final int version = MessageHeaderDecoder.SCHEMA_VERSION;
        switch (templateId)
        {
            case BlockStartDecoder.TEMPLATE_ID:
                onBlockStart(peer, blockStartDecoder.wrap(buffer, body, blockLength, version));
                break;
            case BlockOfferDecoder.TEMPLATE_ID:
                onBlockOffer(peer, blockOfferDecoder.wrap(buffer, body, blockLength, version));
                break;
            case BlockEndDecoder.TEMPLATE_ID:
                onBlockEnd(peer, blockEndDecoder.wrap(buffer, body, blockLength, version));
                break;
            case BlockAbortDecoder.TEMPLATE_ID:
            {
                final BlockAbortDecoder abort = blockAbortDecoder.wrap(buffer, body, blockLength, version);
                final InboundTransfer t = peer.inbound.get(abort.transferId());
                if (null != t)
                {
                    final BlockStatus status = abort.status();
                    // A sender withdrawing an offer waits for the answer before it frees the memory being read.
                    failInbound(peer, t, null == status || BlockStatus.NULL_VAL == status ? BlockStatus.CANCELLED : status,
                        null != t.sender);
                }
                break;
            }
            default:
                bulkMalformed(peer, "template " + templateId + " on the bulk stream", true);
        }
    }

    private void bulkMalformed(final Peer peer, final String what, final boolean whole)
    {
        counters.malformedDropped++;
        badInput(peer, peer.inSession, "dropped bulk input: " + what);
        peer.skippingChunk = !whole;
    }

    private void onBlockStart(final Peer peer, final BlockStartDecoder start)
    {
        final long transferId = start.transferId();
        final long length = start.length();
        final int metadataLength = start.metadataLength();
        final UnsafeBuffer metadata = new UnsafeBuffer(new byte[metadataLength]);
        start.getMetadata(metadata, 0, metadataLength);
        if (length < 0 || metadataLength > MAX_BLOCK_METADATA_LENGTH || peer.inbound.containsKey(transferId))
        {
            counters.malformedDropped++;
            badInput(peer, peer.inSession, "bad BlockStart for transfer " + transferId);
            sendBlockResult(peer, transferId, BlockStatus.MALFORMED);
            return;
        }
        final long address = destination(peer, transferId, length, metadata);
        if (REFUSED_DESTINATION == address)
        {
            return;
        }
        peer.inbound.put(transferId, new InboundTransfer(transferId, address, length, metadata));
    }

    /**
     * The application's memory for an incoming block (0 for an empty one), or {@link #REFUSED_DESTINATION} when the
     * allocator refused it or threw: the sender and the listener are then told REFUSED.
     */
    private long destination(final Peer peer, final long transferId, final long length, final UnsafeBuffer metadata)
    {
        if (0 == length)
        {
            return 0;
        }
        long address;
        try
        {
            address = ctx.blockAllocator.allocate(peer.id, transferId, length, metadata, 0, metadata.capacity());
        }
        catch (final RuntimeException ex)
        {
            counters.handlerErrors++;
            logError(ex);
            address = 0;
        }
        if (0 == address)
        {
            counters.blocksFailed++;
            sendBlockResult(peer, transferId, BlockStatus.REFUSED);
            notifyReceiveFailed(peer, transferId, BlockStatus.REFUSED);
            return REFUSED_DESTINATION;
        }
        return address;
    }

    private void onBlockOffer(final Peer peer, final BlockOfferDecoder offer)
    {
        final long transferId = offer.transferId();
        final long length = offer.length();
        final long remoteAddress = offer.address();
        final long guardAddress = offer.guardAddress();
        final long token = offer.token();
        final int metadataLength = offer.metadataLength();
        if (length < 0 || metadataLength > MAX_BLOCK_METADATA_LENGTH || peer.inbound.containsKey(transferId) ||
            (length > 0 && 0 == remoteAddress) || 0 == guardAddress || 0 == token)
        {
            counters.malformedDropped++;
            badInput(peer, peer.inSession, "bad BlockOffer for transfer " + transferId);
            sendBlockResult(peer, transferId, BlockStatus.MALFORMED);
            return;
        }
        if (null == processMemory || peer.pid <= 0 || ProcessMemory.unavailable())
        {
            sendBlockResult(peer, transferId, BlockStatus.NO_DIRECT_READ);
            return;
        }
        if (!ProcessMemory.ready())
        {
            sendBlockResult(peer, transferId, BlockStatus.STREAM); // the binding is still loading
            return;
        }
        // Read the guard before allocating anything: it tells whether this node may read the sender at all (a
        // refusal then costs the application nothing) and whether the offer still stands.
        final boolean readable = readGuard(peer, guardAddress);
        if (!readable || guardValue != token)
        {
            final int errno = readable ? 0 : guardErrno;
            if (ProcessMemory.EPERM == errno || ProcessMemory.ENOSYS == errno)
            {
                LOG.log(System.Logger.Level.INFO, "node " + ctx.nodeId + ": cannot read the memory of " + peer +
                    " (errno " + errno + "); its blocks will be streamed");
                sendBlockResult(peer, transferId, BlockStatus.NO_DIRECT_READ);
                return;
            }
            counters.blocksFailed++;
            final BlockStatus status = ProcessMemory.ESRCH == errno ? BlockStatus.SENDER_LOST :
                !readable ? BlockStatus.MALFORMED : BlockStatus.CANCELLED;
            if (BlockStatus.MALFORMED == status)
            {
                counters.malformedDropped++;
                badInput(peer, peer.inSession, "BlockOffer " + transferId + " with a guard that cannot be read (errno " + errno + ")");
            }
            sendBlockResult(peer, transferId, status);
            notifyReceiveFailed(peer, transferId, status);
            return;
        }
        final UnsafeBuffer metadata = new UnsafeBuffer(new byte[metadataLength]);
        offer.getMetadata(metadata, 0, metadataLength);
        final long address = destination(peer, transferId, length, metadata);
        if (REFUSED_DESTINATION == address)
        {
            return;
        }
        final InboundTransfer t = new InboundTransfer(transferId, address, length, metadata);
        t.remoteAddress = remoteAddress;
        t.guardAddress = guardAddress;
        t.token = token;
        t.sender = peer;
        peer.inbound.put(transferId, t);
        if (0 == length)
        {
            completeInbound(peer, t);
        }
        else
        {
            directReads.add(t);
        }
    }

    /**
     * Reads offered blocks out of their senders' memory: posts chunk-sized slices of them, in turn, for the helpers
     * and copies some itself, control polled between its own; collects the copied slices and finishes the blocks.
     */
    private int progressDirectReads()
    {
        int work = directReaders.collect(sliceCopied);
        postSlices();
        for (int chunks = 0; chunks < DIRECT_CHUNKS_PER_CYCLE; chunks++)
        {
            if (!directReaders.copyOne(processMemory))
            {
                break;
            }
            work += 1 + directReaders.collect(sliceCopied);
            postSlices();
            work += pollControl();
        }
        // Slices still with the helpers: stay busy, so they are collected (and more posted) as they land.
        return directReaders.inFlight() > 0 ? work + 1 : work;
    }

    private void postSlices()
    {
        boolean posted = false;
        while (!directReads.isEmpty() && directReaders.hasFreeSlot())
        {
            if (directReadCursor >= directReads.size())
            {
                directReadCursor = 0;
            }
            final InboundTransfer t = directReads.get(directReadCursor);
            final Peer peer = t.sender;
            if (peers.get(peer.id) != peer || peer.inbound.get(t.id) != t || t.posted == t.length)
            {
                directReads.remove(directReadCursor); // failed or cancelled meanwhile, or every slice is out
                continue;
            }
            final long n = Math.min(ctx.chunkLength, t.length - t.posted);
            directReaders.post(t, t.posted, n);
            t.posted += n;
            directReadCursor++;
            posted = true;
        }
        if (posted)
        {
            directReaders.wakeHelpers();
        }
    }

    private void onSliceCopied(final InboundTransfer t, final long n, final long read, final boolean byHelper)
    {
        final Peer peer = t.sender;
        if (byHelper && read > 0)
        {
            counters.directSlicesByHelpers++;
        }
        if (null != t.failedStatus)
        {
            if (0 == t.slicesOut)
            {
                finishFailedInbound(peer, t);
            }
            return;
        }
        if (read != n)
        {
            // Short only when part of the range is not mapped: the rest would fail the same way.
            directReadFailed(peer, t, read >= 0 ? -ProcessMemory.EFAULT : read);
            return;
        }
        t.received += n;
        counters.bytesReceived += n;
        if (t.received == t.length)
        {
            if (readGuard(peer, t.guardAddress) && guardValue == t.token)
            {
                // The offer still stood after the last slice: every slice was copied before its owner could have
                // freed the memory.
                counters.blocksReadDirect++;
                completeInbound(peer, t);
            }
            else
            {
                failInbound(peer, t, BlockStatus.CANCELLED, true); // withdrawn meanwhile: the copy may be torn
            }
        }
        else if (++t.chunksSinceGuardCheck >= GUARD_CHECK_CHUNKS)
        {
            t.chunksSinceGuardCheck = 0;
            if (!(readGuard(peer, t.guardAddress) && guardValue == t.token))
            {
                // Withdrawn (its sender lost this node, or closed): stop now rather than copy the rest for nothing.
                failInbound(peer, t, BlockStatus.CANCELLED, true);
            }
        }
    }

    private void onSliceDroppedAtClose(final InboundTransfer t, final long n, final long read, final boolean byHelper)
    {
        if (null != t.failedStatus && 0 == t.slicesOut)
        {
            finishFailedInbound(t.sender, t);
        }
    }

    /** Read the guard word at {@code address} in the peer's memory into guardValue. @return false (guardErrno set) if it cannot be read. */
    private boolean readGuard(final Peer peer, final long address)
    {
        final long n = processMemory.read(peer.pid, address, guardProbe.addressOffset(), 8);
        if (8 != n)
        {
            guardErrno = n < 0 ? (int)-n : ProcessMemory.EFAULT;
            return false;
        }
        guardValue = guardProbe.getLongVolatile(0);
        return true;
    }

    private void directReadFailed(final Peer peer, final InboundTransfer t, final long read)
    {
        final int errno = (int)-read;
        if (ProcessMemory.ESRCH == errno)
        {
            failInbound(peer, t, BlockStatus.SENDER_LOST, true);
            return;
        }
        counters.malformedDropped++;
        badInput(peer, peer.inSession, "block " + t.id + " offered at an address that cannot be read (errno " + errno + ")");
        failInbound(peer, t, BlockStatus.MALFORMED, true);
    }

    private void onChunkBegin(final Peer peer, final DirectBuffer buffer, final int offset, final int length, final boolean whole)
    {
        if (length < CHUNK_HEADER_LENGTH || headerDecoder.blockLength() != BlockChunkDecoder.BLOCK_LENGTH)
        {
            bulkMalformed(peer, "bad chunk header", whole);
            return;
        }
        final int fixed = offset + MessageHeaderDecoder.ENCODED_LENGTH;
        final long transferId = buffer.getLong(fixed, java.nio.ByteOrder.LITTLE_ENDIAN);
        final long blockOffset = buffer.getLong(fixed + 8, java.nio.ByteOrder.LITTLE_ENDIAN);
        final long dataLength = buffer.getInt(offset + CHUNK_HEADER_LENGTH - 4, java.nio.ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        final InboundTransfer t = peer.inbound.get(transferId);
        if (null == t)
        {
            counters.strayChunksDropped++;
            peer.skippingChunk = !whole;
            return;
        }
        if (null != t.sender)
        {
            // Offered for a direct read, which alone writes its memory: a chunk for it is bad input.
            directTransferStreamed(peer, t);
            peer.skippingChunk = !whole;
            return;
        }
        final int fragmentData = length - CHUNK_HEADER_LENGTH;
        if (blockOffset != t.received || dataLength > t.length - t.received || fragmentData > dataLength ||
            (whole && fragmentData != dataLength))
        {
            counters.malformedDropped++;
            badInput(peer, peer.inSession, "chunk out of order or of the wrong length for transfer " + transferId);
            failInbound(peer, t, BlockStatus.MALFORMED, true);
            peer.skippingChunk = !whole;
            return;
        }
        copyIn(t, buffer, offset + CHUNK_HEADER_LENGTH, fragmentData);
        if (!whole)
        {
            peer.chunkTransfer = t;
            peer.chunkRemaining = dataLength - fragmentData;
        }
    }

    private void onChunkContinuation(final Peer peer, final DirectBuffer buffer, final int offset, final int length, final boolean last)
    {
        final InboundTransfer t = peer.chunkTransfer;
        if (null == t || peer.skippingChunk)
        {
            if (!peer.skippingChunk)
            {
                counters.strayChunksDropped++;
            }
            if (last)
            {
                peer.skippingChunk = false;
            }
            return;
        }
        if (length > peer.chunkRemaining || (last && length != peer.chunkRemaining) || peer.inbound.get(t.id) != t)
        {
            peer.chunkTransfer = null;
            peer.skippingChunk = !last;
            if (peer.inbound.get(t.id) == t)
            {
                counters.malformedDropped++;
                failInbound(peer, t, BlockStatus.MALFORMED, true);
            }
            return;
        }
        copyIn(t, buffer, offset, length);
        peer.chunkRemaining -= length;
        if (last)
        {
            peer.chunkTransfer = null;
        }
    }

    private void copyIn(final InboundTransfer t, final DirectBuffer buffer, final int offset, final int length)
    {
        if (length <= 0)
        {
            return;
        }
        final long destination = t.address + t.received;
        UnsafeApi.copyMemory(buffer.byteArray(), buffer.addressOffset() + offset, null, destination, length);
        t.crc.update(destination, length);
        t.received += length;
        counters.bytesReceived += length;
    }

    private void onBlockEnd(final Peer peer, final BlockEndDecoder end)
    {
        final InboundTransfer t = peer.inbound.get(end.transferId());
        if (null == t)
        {
            counters.strayChunksDropped++;
            return;
        }
        if (null != t.sender)
        {
            directTransferStreamed(peer, t);
            return;
        }
        if (t.received != t.length)
        {
            counters.malformedDropped++;
            failInbound(peer, t, BlockStatus.MALFORMED, true);
            return;
        }
        if ((end.crc32c() & 0xFFFF_FFFFL) != (t.crc.value() & 0xFFFF_FFFFL))
        {
            LOG.log(System.Logger.Level.WARNING, "node " + ctx.nodeId + ": block " + t.id + " from " + peer + " failed its CRC32C check");
            failInbound(peer, t, BlockStatus.CHECKSUM_MISMATCH, true);
            return;
        }
        completeInbound(peer, t);
    }

    private void directTransferStreamed(final Peer peer, final InboundTransfer t)
    {
        counters.malformedDropped++;
        badInput(peer, peer.inSession, "chunk or end on the bulk stream for transfer " + t.id + ", offered for a direct read");
        failInbound(peer, t, BlockStatus.MALFORMED, true);
    }

    private void completeInbound(final Peer peer, final InboundTransfer t)
    {
        peer.inbound.remove(t.id);
        counters.blocksReceived++;
        sendBlockResult(peer, t.id, BlockStatus.OK);
        try
        {
            ctx.blockListener.onBlockReceived(peer.id, t.id, t.address, t.length, t.metadata, 0, t.metadata.capacity());
        }
        catch (final RuntimeException ex)
        {
            counters.handlerErrors++;
            logError(ex);
        }
    }

    private void failInbound(final Peer peer, final InboundTransfer t, final BlockStatus status, final boolean tellSender)
    {
        peer.inbound.remove(t.id);
        if (peer.chunkTransfer == t)
        {
            peer.chunkTransfer = null;
            peer.skippingChunk = true;
        }
        counters.blocksFailed++;
        if (t.slicesOut > 0)
        {
            // A helper may still be copying into the destination, out of the sender's memory: slices not yet
            // claimed are withdrawn, and the sender, the memory and the listener are seen to when the rest are back.
            t.failedStatus = status;
            t.tellSenderWhenFinished = tellSender;
            directReaders.withdraw(t);
            return;
        }
        if (tellSender)
        {
            sendBlockResult(peer, t.id, status);
        }
        freeDestination(t);
        notifyReceiveFailed(peer, t.id, status);
    }

    private void finishFailedInbound(final Peer peer, final InboundTransfer t)
    {
        if (t.tellSenderWhenFinished)
        {
            sendBlockResult(peer, t.id, t.failedStatus);
        }
        freeDestination(t);
        notifyReceiveFailed(peer, t.id, t.failedStatus);
    }

    private void notifyReceiveFailed(final Peer peer, final long transferId, final BlockStatus status)
    {
        try
        {
            ctx.blockListener.onBlockReceiveFailed(peer.id, transferId, status);
        }
        catch (final RuntimeException ex)
        {
            counters.handlerErrors++;
            logError(ex);
        }
    }

    private void freeDestination(final InboundTransfer t)
    {
        if (0 != t.address)
        {
            try
            {
                ctx.blockAllocator.free(t.address, t.length);
            }
            catch (final RuntimeException ex)
            {
                logError(ex);
            }
        }
    }

    private void sendBlockResult(final Peer peer, final long transferId, final BlockStatus status)
    {
        if (peers.get(peer.id) != peer)
        {
            return;
        }
        blockResultEncoder.wrapAndApplyHeader(encodeBuffer, 0, headerEncoder).transferId(transferId).status(status);
        sendInternal(peer, encoded(blockResultEncoder.encodedLength()));
    }

    // ------------------------------------------------------------------------------------------------ misc

    /** @return whether messages to the peer go over Aeron IPC (tests). */
    boolean usesIpc(final long peerId)
    {
        final Peer peer = peers.get(peerId);
        return null != peer && peer.outIpc;
    }

    /** @return the bulk publication to a peer (fuzz tests). */
    ExclusivePublication bulkPublication(final long peerId)
    {
        final Peer peer = peers.get(peerId);
        return null == peer ? null : peer.bulkPub;
    }

    /** @return how many peers are known, joined or not. Agent thread only. */
    public int peerCount()
    {
        return peers.size();
    }

    private int invokeAeron()
    {
        int work = 0;
        if (null != driverInvoker)
        {
            work += invokeDriver(driverInvoker);
        }
        work += invokeShielded(conductorInvoker);
        return work;
    }

    /**
     * {@code invoker.invoke()} with the calling thread's interrupt flag held off during the step and put back after.
     * Why: Agrona's {@code AgentInvoker} stops for good when it finds its thread interrupted after a step with no
     * work, and threads other than the node's own run these steps (a client waiting in {@code get()},
     * {@link SharedDuty}): an interrupt meant for that caller must not stop the node's driver or Aeron client.
     */
    static int invokeShielded(final AgentInvoker invoker)
    {
        final boolean interrupted = Thread.interrupted();
        try
        {
            return invoker.invoke();
        }
        finally
        {
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Step an embedded driver once, and again while it moves data, at most {@link #DRIVER_STEPS_PER_CYCLE} times.
     * Why: one driver duty cycle sends one datagram per publication and reads one per socket, so stepping it once
     * per node cycle tied a UDP stream to 64 KiB per node cycle.
     * The sender and receiver count bytes as their work; bookkeeping alone (a few units) does not repeat the
     * step, so a cycle with no data costs what it did.
     *
     * @param driver the driver's invoker.
     * @return work done.
     */
    static int invokeDriver(final AgentInvoker driver)
    {
        int work = 0;
        for (int i = 0; i < DRIVER_STEPS_PER_CYCLE; i++)
        {
            final int w = invokeShielded(driver);
            work += w;
            if (w < DRIVER_DATA_WORK)
            {
                break;
            }
        }
        return work;
    }

    /** host:port with a plausible host name or IPv4 literal and a port in 1..65535; anything else is refused. */
    static boolean isEndpoint(final String endpoint)
    {
        final int colon = null == endpoint ? -1 : endpoint.lastIndexOf(':');
        if (colon <= 0 || endpoint.length() > 255 || colon == endpoint.length() - 1 || endpoint.length() - colon > 6)
        {
            return false;
        }
        for (int i = 0; i < colon; i++)
        {
            final char c = endpoint.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            {
                return false;
            }
        }
        int port = 0;
        for (int i = colon + 1; i < endpoint.length(); i++)
        {
            final char c = endpoint.charAt(i);
            if (c < '0' || c > '9')
            {
                return false;
            }
            port = port * 10 + (c - '0');
        }
        return port > 0 && port <= 65535;
    }

    private static String resolvePort(final String endpoint)
    {
        final int colon = endpoint.lastIndexOf(':');
        final String host = endpoint.substring(0, colon);
        if (!"0".equals(endpoint.substring(colon + 1)))
        {
            return endpoint;
        }
        try (java.net.DatagramSocket socket = new java.net.DatagramSocket(new java.net.InetSocketAddress(host, 0)))
        {
            return host + ":" + socket.getLocalPort();
        }
        catch (final IOException ex)
        {
            throw new TransportException("cannot bind " + endpoint, ex);
        }
    }

    static void logError(final Throwable ex)
    {
        LOG.log(System.Logger.Level.ERROR, "transport error", ex);
    }

    private static String driverKey(final String aeronDir)
    {
        String boot;
        try
        {
            boot = new String(Files.readAllBytes(Paths.get("/proc/sys/kernel/random/boot_id")), StandardCharsets.US_ASCII).trim();
        }
        catch (final IOException | RuntimeException ex)
        {
            boot = "no-boot-id";
        }
        String dir;
        try
        {
            dir = new File(aeronDir).getCanonicalPath();
        }
        catch (final IOException ex)
        {
            dir = new File(aeronDir).getAbsolutePath();
        }
        return boot + ":" + dir;
    }

    /**
     * A node's configuration. Every setter returns this; {@link #conclude()} validates and fills defaults.
     */
    public static final class Context
    {
        private long nodeId = -1;
        private String listenEndpoint = "127.0.0.1:0";
        private String bulkListenEndpoint;
        private boolean separateBulkSocket = true;
        private int commandQueueCapacity = 16 * 1024;
        private long commandTimeoutNs = TimeUnit.SECONDS.toNanos(1);
        private String aeronDirectoryName;
        private TransportDriver.Context driverContext;
        private boolean useAgentRunner = true;
        private IdleStrategy idleStrategy;
        private IdleStrategy sendIdleStrategy;
        private Runnable commandWaker;
        private AgentGroup agentGroup;
        private BooleanSupplier runsCycle;
        private byte[] clusterSecret;
        private long heartbeatIntervalNs = TimeUnit.MILLISECONDS.toNanos(500);
        private long peerTimeoutNs = TimeUnit.SECONDS.toNanos(5);
        private long handshakeTimeoutNs;
        private long sendTimeoutNs = TimeUnit.SECONDS.toNanos(1);
        private int controlStreamId = 1001;
        private int bulkStreamId = 1002;
        private int ipcControlStreamId;
        private int ipcBulkStreamId;
        private boolean preferIpc = true;
        private int controlTermLength = 4 * 1024 * 1024;
        private int bulkTermLength = 16 * 1024 * 1024;
        private int bulkMtu = 65504;
        private int chunkLength = 1024 * 1024;
        private boolean directReads = true;
        private long directReadThreshold = 64 * 1024;
        private int directReadHelpers = Integer.getInteger("offgrid.transport.directReadHelpers",
            Math.min(3, Math.max(0, Runtime.getRuntime().availableProcessors() - 1)));
        private int socketBufferLength = 4 * 1024 * 1024;
        private int receiverWindowLength = 4 * 1024 * 1024;
        private int maxQueuedBytesPerPeer = 64 * 1024 * 1024;
        private int maxPeers = 4096;
        private final Int2ObjectHashMap<MessageHandler> handlers = new Int2ObjectHashMap<>();
        private MessageHandler defaultHandler;
        private PeerListener peerListener;
        private BlockListener blockListener;
        private BlockAllocator blockAllocator;
        private NanoClock nanoClock;

        /**
         * Same-host blocks by direct read: a sender offers a block of at least {@link #directReadThreshold(long)} to a
         * peer in another (or the same) process on this host, and the receiver copies it out of the sender's memory
         * with one {@code process_vm_readv} instead of having it streamed. A receiver that cannot read (turned off
         * here, or refused by the OS) asks for the block streamed, and the sender streams every later one.
         * Default on.
         *
         * @param directReads whether to offer blocks and read offered ones.
         * @return this.
         */
        public Context directReads(final boolean directReads)
        {
            this.directReads = directReads;
            return this;
        }

        /** @param bytes smallest block offered for a direct read; smaller ones are streamed. Default 64 KiB. @return this. */
        public Context directReadThreshold(final long bytes)
        {
            this.directReadThreshold = bytes;
            return this;
        }

        /**
         * Threads beside the node's own that copy slices of direct reads, started at the first read. On this
         * project's VM one thread's {@code process_vm_readv} moves 7-17 GB/s and two move 12-18 GB/s, and the other
         * cores are mostly idle while a node reads a large block.
         * Default: the processors less one, at most 3 ({@code -Doffgrid.transport.directReadHelpers=N} sets it for
         * the JVM); 0 copies on the node's thread only.
         *
         * @param helpers helper threads, 0 or more.
         * @return this.
         */
        public Context directReadHelpers(final int helpers)
        {
            this.directReadHelpers = helpers;
            return this;
        }

        /** @return threads beside the node's own that copy slices of direct reads. */
        public int directReadHelpers()
        {
            return directReadHelpers;
        }

        /** @param nodeId this node's id, unique in the cluster, not negative. @return this. */
        public Context nodeId(final long nodeId)
        {
            this.nodeId = nodeId;
            return this;
        }

        /** @param endpoint host:port to listen on (UDP); port 0 picks a free one. Default 127.0.0.1:0. @return this. */
        public Context listenEndpoint(final String endpoint)
        {
            this.listenEndpoint = endpoint;
            return this;
        }

        /**
         * @param endpoint host:port to receive block chunks on (UDP), a socket of its own so that bulk data never
         *                 queues ahead of control messages; advertised in the handshake. Default the listen host, port 0.
         * @return this.
         */
        public Context bulkListenEndpoint(final String endpoint)
        {
            this.bulkListenEndpoint = endpoint;
            return this;
        }

        /**
         * @param separate true (default): bulk data on a socket of its own, so a control message never waits behind more
         *                 than one chunk. false: bulk on the control socket (one socket less to poll each duty cycle, so a
         *                 lower round-trip time, but a control message can wait behind a few chunks of a transfer).
         * @return this.
         */
        public Context separateBulkSocket(final boolean separate)
        {
            this.separateBulkSocket = separate;
            return this;
        }

        /**
         * @param capacity bound of the {@link TransportNode#execute} queue, rounded up to a power of two; default 16384.
         * @return this.
         */
        public Context commandQueueCapacity(final int capacity)
        {
            this.commandQueueCapacity = capacity;
            return this;
        }

        /**
         * @param timeoutNs how long {@link TransportNode#execute} waits for room in a full queue before it throws;
         *                  default 1 s. 0 throws at once.
         * @return this.
         */
        public Context commandTimeoutNs(final long timeoutNs)
        {
            this.commandTimeoutNs = timeoutNs;
            return this;
        }

        /** @param dir join the media driver running in this directory instead of embedding one. @return this. */
        public Context aeronDirectoryName(final String dir)
        {
            this.aeronDirectoryName = dir;
            return this;
        }

        /** @param driverContext configuration of the embedded driver; default INVOKER mode, stepped by this node. @return this. */
        public Context driverContext(final TransportDriver.Context driverContext)
        {
            this.driverContext = driverContext;
            return this;
        }

        /** @param useAgentRunner true (default) runs the agent on its own thread; false leaves {@link #doWork()} to the caller. @return this. */
        public Context useAgentRunner(final boolean useAgentRunner)
        {
            this.useAgentRunner = useAgentRunner;
            return this;
        }

        /** @param idleStrategy idle strategy of the agent thread. @return this. */
        public Context idleStrategy(final IdleStrategy idleStrategy)
        {
            this.idleStrategy = idleStrategy;
            return this;
        }

        /**
         * Run on a shared {@link AgentGroup} thread: the node starts on that thread, its Aeron client steps the
         * group's driver while it awaits it, {@link #execute} wakes the group, and no thread of its own is started
         * (the owner adds the node, or an agent that steps it, to the group, and closes it through
         * {@link AgentGroup#call}).
         *
         * @param group the group, or null (default).
         * @return this.
         */
        public Context agentGroup(final AgentGroup group)
        {
            this.agentGroup = group;
            return this;
        }

        /**
         * For a node whose duty cycle several threads may run ({@link SharedDuty}): whether the calling thread runs
         * it now. {@link #execute} on a full queue refuses such a thread at once (it would wait for itself) and lets
         * any other thread wait for room. Default: for a node in a group, {@link AgentGroup#onGroupThread()};
         * otherwise the last thread that polled the queue counts as the node's.
         *
         * @param check the test, or null for the default.
         * @return this.
         */
        public Context runsCycle(final BooleanSupplier check)
        {
            this.runsCycle = check;
            return this;
        }

        /**
         * @param waker run after {@link #execute} queued a command, to wake whatever thread runs the agent (e.g.
         *              {@link AgentGroup#wake()}); by default the node's own {@link WakeableIdleStrategy}, if it has one.
         * @return this.
         */
        public Context commandWaker(final Runnable waker)
        {
            this.commandWaker = waker;
            return this;
        }

        /** @param idleStrategy used between retries when a peer's queue is full. @return this. */
        public Context sendIdleStrategy(final IdleStrategy idleStrategy)
        {
            this.sendIdleStrategy = idleStrategy;
            return this;
        }

        /** @param secret cluster secret; when set every handshake is an HMAC-SHA256 challenge-response. @return this. */
        public Context clusterSecret(final byte[] secret)
        {
            this.clusterSecret = null == secret ? null : secret.clone();
            return this;
        }

        /** @param intervalNs transport heartbeat period, default 500 ms. @return this. */
        public Context heartbeatIntervalNs(final long intervalNs)
        {
            this.heartbeatIntervalNs = intervalNs;
            return this;
        }

        /** @param timeoutNs a joined peer silent this long is lost; default 5 s. @return this. */
        public Context peerTimeoutNs(final long timeoutNs)
        {
            this.peerTimeoutNs = timeoutNs;
            return this;
        }

        /** @param timeoutNs a handshake not done in this time loses the peer; default the peer timeout. @return this. */
        public Context handshakeTimeoutNs(final long timeoutNs)
        {
            this.handshakeTimeoutNs = timeoutNs;
            return this;
        }

        /** @param timeoutNs how long {@link #send} retries when a peer's queue is full; default 1 s. @return this. */
        public Context sendTimeoutNs(final long timeoutNs)
        {
            this.sendTimeoutNs = timeoutNs;
            return this;
        }

        /** @param controlStreamId UDP control stream id; default 1001. @return this. */
        public Context controlStreamId(final int controlStreamId)
        {
            this.controlStreamId = controlStreamId;
            return this;
        }

        /** @param bulkStreamId UDP bulk stream id; default 1002. @return this. */
        public Context bulkStreamId(final int bulkStreamId)
        {
            this.bulkStreamId = bulkStreamId;
            return this;
        }

        /** @param streamId IPC control stream id, unique per node on a driver; bulk is this + 1; default random. @return this. */
        public Context ipcStreamId(final int streamId)
        {
            this.ipcControlStreamId = streamId;
            this.ipcBulkStreamId = streamId + 1;
            return this;
        }

        /** @param preferIpc use Aeron IPC with peers on the same media driver (default true). @return this. */
        public Context preferIpc(final boolean preferIpc)
        {
            this.preferIpc = preferIpc;
            return this;
        }

        /** @param length control publication term length (power of 2); max message is an eighth. Default 4 MiB. @return this. */
        public Context controlTermLength(final int length)
        {
            this.controlTermLength = length;
            return this;
        }

        /** @param length bulk publication term length (power of 2). Default 16 MiB. @return this. */
        public Context bulkTermLength(final int length)
        {
            this.bulkTermLength = length;
            return this;
        }

        /** @param mtu bulk MTU; default 65504 (largest UDP datagram Aeron sends). @return this. */
        public Context bulkMtu(final int mtu)
        {
            this.bulkMtu = mtu;
            return this;
        }

        /** @param length block chunk size; at most an eighth of the bulk term less 64 bytes. Default 1 MiB. @return this. */
        public Context chunkLength(final int length)
        {
            this.chunkLength = length;
            return this;
        }

        /** @param length SO_SNDBUF/SO_RCVBUF on this node's channels; default 4 MiB. @return this. */
        public Context socketBufferLength(final int length)
        {
            this.socketBufferLength = length;
            return this;
        }

        /** @param length UDP receiver window; default 4 MiB. @return this. */
        public Context receiverWindowLength(final int length)
        {
            this.receiverWindowLength = length;
            return this;
        }

        /** @param bytes bound of a peer's message queue (handshake pending or back pressure); default 64 MiB. @return this. */
        public Context maxQueuedBytesPerPeer(final int bytes)
        {
            this.maxQueuedBytesPerPeer = bytes;
            return this;
        }

        /** @param maxPeers bound on known peers, joined or handshaking; Hellos beyond it are refused. Default 4096. @return this. */
        public Context maxPeers(final int maxPeers)
        {
            this.maxPeers = maxPeers;
            return this;
        }

        /** @param templateId an application template id (100 and up). @param handler receives it. @return this. */
        public Context handler(final int templateId, final MessageHandler handler)
        {
            if (templateId < 100)
            {
                throw new TransportException("templates below 100 belong to the transport: " + templateId);
            }
            handlers.put(templateId, handler);
            return this;
        }

        /** @param handler receives application messages that have no handler of their own. @return this. */
        public Context defaultHandler(final MessageHandler handler)
        {
            this.defaultHandler = handler;
            return this;
        }

        /** @param listener membership events. @return this. */
        public Context peerListener(final PeerListener listener)
        {
            this.peerListener = listener;
            return this;
        }

        /** @param listener block transfer outcomes. @return this. */
        public Context blockListener(final BlockListener listener)
        {
            this.blockListener = listener;
            return this;
        }

        /** @param allocator destinations for incoming blocks; without one every incoming block is refused. @return this. */
        public Context blockAllocator(final BlockAllocator allocator)
        {
            this.blockAllocator = allocator;
            return this;
        }

        /** @param clock time source for timers (tests). @return this. */
        public Context nanoClock(final NanoClock clock)
        {
            this.nanoClock = clock;
            return this;
        }

        /**
         * Validates and fills defaults.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (nodeId < 0)
            {
                throw new TransportException("nodeId must be set and not negative");
            }
            if (directReadHelpers < 0)
            {
                throw new TransportException("directReadHelpers must not be negative: " + directReadHelpers);
            }
            if (directReadThreshold < 1)
            {
                throw new TransportException("directReadThreshold must be at least 1 byte, was " + directReadThreshold);
            }
            if (null == listenEndpoint || listenEndpoint.lastIndexOf(':') <= 0)
            {
                throw new TransportException("listenEndpoint must be host:port, was " + listenEndpoint);
            }
            if (null != bulkListenEndpoint && (bulkListenEndpoint.lastIndexOf(':') <= 0 || bulkListenEndpoint.equals(listenEndpoint)))
            {
                throw new TransportException("bulkListenEndpoint must be host:port, not the listen endpoint, was " + bulkListenEndpoint);
            }
            if (commandQueueCapacity < 2 || commandQueueCapacity > (1 << 30) || commandTimeoutNs < 0)
            {
                throw new TransportException("commandQueueCapacity must be in [2, 2^30] and commandTimeoutNs >= 0");
            }
            if (null == driverContext)
            {
                driverContext = new TransportDriver.Context().threadingMode(ThreadingMode.INVOKER);
            }
            if (null == idleStrategy)
            {
                // Chosen by measurement on 2 cores (transport/README.md): spin and yield briefly, then park up to 50 µs.
                // An API thread's execute() wakes the parked agent (WakeableIdleStrategy) instead of waiting out the park.
                idleStrategy = WakeableIdleStrategy.forNode();
            }
            if (null != agentGroup)
            {
                useAgentRunner = false;
                if (null == commandWaker)
                {
                    commandWaker = agentGroup::wake;
                }
            }
            if (null == commandWaker && useAgentRunner && idleStrategy instanceof WakeableIdleStrategy)
            {
                commandWaker = ((WakeableIdleStrategy)idleStrategy)::wake;
            }
            if (null == sendIdleStrategy)
            {
                sendIdleStrategy = new BackoffIdleStrategy(10, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(100));
            }
            if (0 == handshakeTimeoutNs)
            {
                handshakeTimeoutNs = peerTimeoutNs;
            }
            if (heartbeatIntervalNs <= 0 || peerTimeoutNs <= heartbeatIntervalNs || handshakeTimeoutNs <= 0 || sendTimeoutNs < 0)
            {
                throw new TransportException("need 0 < heartbeatInterval < peerTimeout, handshakeTimeout > 0, sendTimeout >= 0");
            }
            if (0 == ipcControlStreamId)
            {
                ipcControlStreamId = 0x1000_0000 + (ThreadLocalRandom.current().nextInt(0x3000_0000) & ~1);
                ipcBulkStreamId = ipcControlStreamId + 1;
            }
            if (controlStreamId == bulkStreamId)
            {
                throw new TransportException("control and bulk stream ids must differ");
            }
            checkTermLength("controlTermLength", controlTermLength);
            checkTermLength("bulkTermLength", bulkTermLength);
            if (bulkMtu < 4096 || bulkMtu > 65504 || (bulkMtu & 31) != 0)
            {
                throw new TransportException("bulkMtu must be a multiple of 32 in [4096, 65504]: " + bulkMtu);
            }
            final int maxChunk = Math.min(bulkTermLength / 8, 16 * 1024 * 1024) - 64;
            if (chunkLength < 1024 || chunkLength > maxChunk)
            {
                throw new TransportException("chunkLength must be in [1024, " + maxChunk + "]: " + chunkLength);
            }
            if (socketBufferLength <= 0 || receiverWindowLength <= 0 || maxQueuedBytesPerPeer < 65536)
            {
                throw new TransportException("socket buffer and window must be positive, queue at least 64 KiB");
            }
            if (null == peerListener)
            {
                peerListener = new PeerListener()
                {
                };
            }
            if (null == blockListener)
            {
                blockListener = new BlockListener()
                {
                };
            }
            if (null == blockAllocator)
            {
                blockAllocator = new BlockAllocator()
                {
                    public long allocate(final long p, final long t, final long l, final DirectBuffer m, final int o, final int n)
                    {
                        return 0;
                    }

                    public void free(final long address, final long length)
                    {
                    }
                };
            }
            if (null == nanoClock)
            {
                nanoClock = new SystemNanoClock();
            }
            return this;
        }

        private static void checkTermLength(final String name, final int length)
        {
            if (length < 64 * 1024 || length > 1024 * 1024 * 1024 || Integer.bitCount(length) != 1)
            {
                throw new TransportException(name + " must be a power of 2 in [64 KiB, 1 GiB]: " + length);
            }
        }
    }
}
