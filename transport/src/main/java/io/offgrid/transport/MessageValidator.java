package io.offgrid.transport;

import io.offgrid.transport.protocol.*;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Checks a whole message before anyone decodes it: long enough for the SBE header, this schema's id and exact
 * version, a known template with its exact block length, and groups and var data that end exactly where
 * the message ends. The walk runs over a view whose capacity is the message, so a lying length field
 * makes the bounds-checked buffer throw instead of reading past the message.
 */
final class MessageValidator
{
    static final int OK = 0;
    static final int TOO_SHORT = 1;
    static final int WRONG_SCHEMA = 2;
    static final int WRONG_VERSION = 3;
    static final int UNKNOWN_TEMPLATE = 4;
    static final int BAD_BLOCK_LENGTH = 5;
    static final int BAD_LENGTH = 6;

    @FunctionalInterface
    interface Skipper
    {
        /** Wraps the template's decoder at the body, skips everything, returns the body's encoded length. */
        int skip(DirectBuffer buffer, int bodyOffset, int blockLength, int version);
    }

    private static final class Template
    {
        final int blockLength;
        final Skipper skipper;

        Template(final int blockLength, final Skipper skipper)
        {
            this.blockLength = blockLength;
            this.skipper = skipper;
        }
    }

    private final MessageHeaderDecoder header = new MessageHeaderDecoder();
    private final UnsafeBuffer view = new UnsafeBuffer(0, 0);
    private final Int2ObjectHashMap<Template> templates = new Int2ObjectHashMap<>();
    private int templateId;

    MessageValidator()
    {
        final BlockAbortDecoder blockAbort = new BlockAbortDecoder();
        templates.put(BlockAbortDecoder.TEMPLATE_ID, new Template(BlockAbortDecoder.BLOCK_LENGTH, (b, o, l, v) -> blockAbort.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final BlockChunkDecoder blockChunk = new BlockChunkDecoder();
        templates.put(BlockChunkDecoder.TEMPLATE_ID, new Template(BlockChunkDecoder.BLOCK_LENGTH, (b, o, l, v) -> blockChunk.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final BlockEndDecoder blockEnd = new BlockEndDecoder();
        templates.put(BlockEndDecoder.TEMPLATE_ID, new Template(BlockEndDecoder.BLOCK_LENGTH, (b, o, l, v) -> blockEnd.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final BlockOfferDecoder blockOffer = new BlockOfferDecoder();
        templates.put(BlockOfferDecoder.TEMPLATE_ID, new Template(BlockOfferDecoder.BLOCK_LENGTH, (b, o, l, v) -> blockOffer.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final BlockResultDecoder blockResult = new BlockResultDecoder();
        templates.put(BlockResultDecoder.TEMPLATE_ID, new Template(BlockResultDecoder.BLOCK_LENGTH, (b, o, l, v) -> blockResult.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final BlockStartDecoder blockStart = new BlockStartDecoder();
        templates.put(BlockStartDecoder.TEMPLATE_ID, new Template(BlockStartDecoder.BLOCK_LENGTH, (b, o, l, v) -> blockStart.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final CancelKeysDecoder cancelKeys = new CancelKeysDecoder();
        templates.put(CancelKeysDecoder.TEMPLATE_ID, new Template(CancelKeysDecoder.BLOCK_LENGTH, (b, o, l, v) -> cancelKeys.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final ChallengeDecoder challenge = new ChallengeDecoder();
        templates.put(ChallengeDecoder.TEMPLATE_ID, new Template(ChallengeDecoder.BLOCK_LENGTH, (b, o, l, v) -> challenge.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final ClusterInfoDecoder clusterInfo = new ClusterInfoDecoder();
        templates.put(ClusterInfoDecoder.TEMPLATE_ID, new Template(ClusterInfoDecoder.BLOCK_LENGTH, (b, o, l, v) -> clusterInfo.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final ComputeTaskDecoder computeTask = new ComputeTaskDecoder();
        templates.put(ComputeTaskDecoder.TEMPLATE_ID, new Template(ComputeTaskDecoder.BLOCK_LENGTH, (b, o, l, v) -> computeTask.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final CopyKeysDecoder copyKeys = new CopyKeysDecoder();
        templates.put(CopyKeysDecoder.TEMPLATE_ID, new Template(CopyKeysDecoder.BLOCK_LENGTH, (b, o, l, v) -> copyKeys.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final DatasetRequestDecoder datasetRequest = new DatasetRequestDecoder();
        templates.put(DatasetRequestDecoder.TEMPLATE_ID, new Template(DatasetRequestDecoder.BLOCK_LENGTH, (b, o, l, v) -> datasetRequest.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final DefineFunctionDecoder defineFunction = new DefineFunctionDecoder();
        templates.put(DefineFunctionDecoder.TEMPLATE_ID, new Template(DefineFunctionDecoder.BLOCK_LENGTH, (b, o, l, v) -> defineFunction.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final FetchKeyDecoder fetchKey = new FetchKeyDecoder();
        templates.put(FetchKeyDecoder.TEMPLATE_ID, new Template(FetchKeyDecoder.BLOCK_LENGTH, (b, o, l, v) -> fetchKey.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final TasksFinishedDecoder tasksFinished = new TasksFinishedDecoder();
        templates.put(TasksFinishedDecoder.TEMPLATE_ID, new Template(TasksFinishedDecoder.BLOCK_LENGTH, (b, o, l, v) -> tasksFinished.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final KeyStatesDecoder keyStates = new KeyStatesDecoder();
        templates.put(KeyStatesDecoder.TEMPLATE_ID, new Template(KeyStatesDecoder.BLOCK_LENGTH, (b, o, l, v) -> keyStates.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final FreeKeysDecoder freeKeys = new FreeKeysDecoder();
        templates.put(FreeKeysDecoder.TEMPLATE_ID, new Template(FreeKeysDecoder.BLOCK_LENGTH, (b, o, l, v) -> freeKeys.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final GoodbyeDecoder goodbye = new GoodbyeDecoder();
        templates.put(GoodbyeDecoder.TEMPLATE_ID, new Template(GoodbyeDecoder.BLOCK_LENGTH, (b, o, l, v) -> goodbye.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final HandshakeResponseDecoder handshakeResponse = new HandshakeResponseDecoder();
        templates.put(HandshakeResponseDecoder.TEMPLATE_ID, new Template(HandshakeResponseDecoder.BLOCK_LENGTH, (b, o, l, v) -> handshakeResponse.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final HelloDecoder hello = new HelloDecoder();
        templates.put(HelloDecoder.TEMPLATE_ID, new Template(HelloDecoder.BLOCK_LENGTH, (b, o, l, v) -> hello.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final InfoRequestDecoder infoRequest = new InfoRequestDecoder();
        templates.put(InfoRequestDecoder.TEMPLATE_ID, new Template(InfoRequestDecoder.BLOCK_LENGTH, (b, o, l, v) -> infoRequest.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final KeyLocationsDecoder keyLocations = new KeyLocationsDecoder();
        templates.put(KeyLocationsDecoder.TEMPLATE_ID, new Template(KeyLocationsDecoder.BLOCK_LENGTH, (b, o, l, v) -> keyLocations.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final KeyStateUpdateDecoder keyStateUpdate = new KeyStateUpdateDecoder();
        templates.put(KeyStateUpdateDecoder.TEMPLATE_ID, new Template(KeyStateUpdateDecoder.BLOCK_LENGTH, (b, o, l, v) -> keyStateUpdate.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final KeysStoredDecoder keysStored = new KeysStoredDecoder();
        templates.put(KeysStoredDecoder.TEMPLATE_ID, new Template(KeysStoredDecoder.BLOCK_LENGTH, (b, o, l, v) -> keysStored.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final LocateKeysDecoder locateKeys = new LocateKeysDecoder();
        templates.put(LocateKeysDecoder.TEMPLATE_ID, new Template(LocateKeysDecoder.BLOCK_LENGTH, (b, o, l, v) -> locateKeys.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final PingDecoder ping = new PingDecoder();
        templates.put(PingDecoder.TEMPLATE_ID, new Template(PingDecoder.BLOCK_LENGTH, (b, o, l, v) -> ping.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final RebalanceRequestDecoder rebalanceRequest = new RebalanceRequestDecoder();
        templates.put(RebalanceRequestDecoder.TEMPLATE_ID, new Template(RebalanceRequestDecoder.BLOCK_LENGTH, (b, o, l, v) -> rebalanceRequest.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final RefusedDecoder refused = new RefusedDecoder();
        templates.put(RefusedDecoder.TEMPLATE_ID, new Template(RefusedDecoder.BLOCK_LENGTH, (b, o, l, v) -> refused.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final RegisterAckDecoder registerAck = new RegisterAckDecoder();
        templates.put(RegisterAckDecoder.TEMPLATE_ID, new Template(RegisterAckDecoder.BLOCK_LENGTH, (b, o, l, v) -> registerAck.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final RegisterNodeDecoder registerNode = new RegisterNodeDecoder();
        templates.put(RegisterNodeDecoder.TEMPLATE_ID, new Template(RegisterNodeDecoder.BLOCK_LENGTH, (b, o, l, v) -> registerNode.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final ReleaseKeysDecoder releaseKeys = new ReleaseKeysDecoder();
        templates.put(ReleaseKeysDecoder.TEMPLATE_ID, new Template(ReleaseKeysDecoder.BLOCK_LENGTH, (b, o, l, v) -> releaseKeys.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final ReplicateRequestDecoder replicateRequest = new ReplicateRequestDecoder();
        templates.put(ReplicateRequestDecoder.TEMPLATE_ID, new Template(ReplicateRequestDecoder.BLOCK_LENGTH, (b, o, l, v) -> replicateRequest.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final RequestDoneDecoder requestDone = new RequestDoneDecoder();
        templates.put(RequestDoneDecoder.TEMPLATE_ID, new Template(RequestDoneDecoder.BLOCK_LENGTH, (b, o, l, v) -> requestDone.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final RestartDecoder restart = new RestartDecoder();
        templates.put(RestartDecoder.TEMPLATE_ID, new Template(RestartDecoder.BLOCK_LENGTH, (b, o, l, v) -> restart.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final ScatterRequestDecoder scatterRequest = new ScatterRequestDecoder();
        templates.put(ScatterRequestDecoder.TEMPLATE_ID, new Template(ScatterRequestDecoder.BLOCK_LENGTH, (b, o, l, v) -> scatterRequest.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final SubmitGraphDecoder submitGraph = new SubmitGraphDecoder();
        templates.put(SubmitGraphDecoder.TEMPLATE_ID, new Template(SubmitGraphDecoder.BLOCK_LENGTH, (b, o, l, v) -> submitGraph.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final TaskErredDecoder taskErred = new TaskErredDecoder();
        templates.put(TaskErredDecoder.TEMPLATE_ID, new Template(TaskErredDecoder.BLOCK_LENGTH, (b, o, l, v) -> taskErred.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final TaskFinishedDecoder taskFinished = new TaskFinishedDecoder();
        templates.put(TaskFinishedDecoder.TEMPLATE_ID, new Template(TaskFinishedDecoder.BLOCK_LENGTH, (b, o, l, v) -> taskFinished.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final WantKeysDecoder wantKeys = new WantKeysDecoder();
        templates.put(WantKeysDecoder.TEMPLATE_ID, new Template(WantKeysDecoder.BLOCK_LENGTH, (b, o, l, v) -> wantKeys.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final NodeDirectoryDecoder nodeDirectory = new NodeDirectoryDecoder();
        templates.put(NodeDirectoryDecoder.TEMPLATE_ID, new Template(NodeDirectoryDecoder.BLOCK_LENGTH, (b, o, l, v) -> nodeDirectory.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final WelcomeDecoder welcome = new WelcomeDecoder();
        templates.put(WelcomeDecoder.TEMPLATE_ID, new Template(WelcomeDecoder.BLOCK_LENGTH, (b, o, l, v) -> welcome.wrap(b, o, l, v).sbeSkip().encodedLength()));
        final WorkerHeartbeatDecoder workerHeartbeat = new WorkerHeartbeatDecoder();
        templates.put(WorkerHeartbeatDecoder.TEMPLATE_ID, new Template(WorkerHeartbeatDecoder.BLOCK_LENGTH, (b, o, l, v) -> workerHeartbeat.wrap(b, o, l, v).sbeSkip().encodedLength()));
    }

    /**
     * @return whether the template id is one of this schema's.
     */
    boolean isKnownTemplate(final int templateId)
    {
        return templates.containsKey(templateId);
    }

    /**
     * @return the template id of the last message passed to {@link #validate}, once its header was readable.
     */
    int templateId()
    {
        return templateId;
    }

    /**
     * @return {@link #OK} or why the message is not acceptable.
     */
    int validate(final DirectBuffer buffer, final int offset, final int length)
    {
        templateId = -1;
        if (length < MessageHeaderDecoder.ENCODED_LENGTH)
        {
            return TOO_SHORT;
        }
        header.wrap(buffer, offset);
        if (header.schemaId() != MessageHeaderDecoder.SCHEMA_ID)
        {
            return WRONG_SCHEMA;
        }
        if (header.version() != MessageHeaderDecoder.SCHEMA_VERSION)
        {
            return WRONG_VERSION;
        }
        templateId = header.templateId();
        final Template template = templates.get(templateId);
        if (null == template)
        {
            return UNKNOWN_TEMPLATE;
        }
        final int blockLength = header.blockLength();
        if (blockLength != template.blockLength)
        {
            return BAD_BLOCK_LENGTH;
        }
        if (length < MessageHeaderDecoder.ENCODED_LENGTH + blockLength)
        {
            return TOO_SHORT;
        }
        view.wrap(buffer, offset, length);
        try
        {
            final int bodyLength = template.skipper.skip(view, MessageHeaderDecoder.ENCODED_LENGTH, blockLength, header.version());
            return bodyLength >= blockLength && MessageHeaderDecoder.ENCODED_LENGTH + bodyLength == length ? OK : BAD_LENGTH;
        }
        catch (final IndexOutOfBoundsException | IllegalArgumentException | IllegalStateException ex)
        {
            return BAD_LENGTH;
        }
    }

    static String describe(final int result)
    {
        switch (result)
        {
            case OK: return "ok";
            case TOO_SHORT: return "truncated";
            case WRONG_SCHEMA: return "another schema id";
            case WRONG_VERSION: return "another schema version";
            case UNKNOWN_TEMPLATE: return "unknown template";
            case BAD_BLOCK_LENGTH: return "wrong block length";
            default: return "lengths do not match the message";
        }
    }
}
