package io.offgrid.transport;

import io.offgrid.transport.protocol.BlockStatus;
import org.agrona.DirectBuffer;
import org.agrona.UnsafeApi;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A node in its own JVM for the multi-process tests. Arguments are key=value: id, secret, peerTimeoutMs,
 * aeronDir, echo (echo every application message back). Commands on stdin, one per line:
 * {@code peer ID ENDPOINT}, {@code block TO LENGTH SEED}, {@code sendall TO SEED}, {@code counters},
 * {@code outstanding}, {@code exit}. Events on stdout: READY endpoint, JOINED, LOST, MSG, ECHO-ALL-OK,
 * BLOCK-RECEIVED from id length OK|BAD, BLOCK-SENT, BLOCK-SEND-FAILED, BLOCK-RECV-FAILED.
 */
public final class PeerProcess implements MessageHandler, PeerListener, BlockListener
{
    private final TrackingAllocator allocator = new TrackingAllocator();
    private final Long2LongHashMap sources = new Long2LongHashMap(0);
    private final Map<Integer, byte[]> expectedEchoes = new HashMap<>();
    private final boolean echo;
    private TransportNode node;
    private long echoPeer = -1;

    private PeerProcess(final boolean echo)
    {
        this.echo = echo;
    }

    public static void main(final String[] args) throws Exception
    {
        final Map<String, String> opts = new HashMap<>();
        for (final String arg : args)
        {
            final int eq = arg.indexOf('=');
            opts.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        if (opts.containsKey("jvmDirectReads"))
        {
            // before anything touches the transport: the switch is read once per JVM
            System.setProperty("offgrid.transport.directReads", opts.get("jvmDirectReads"));
        }
        final PeerProcess app = new PeerProcess(Boolean.parseBoolean(opts.getOrDefault("echo", "false")));
        final TransportNode.Context ctx = new TransportNode.Context()
            .nodeId(Long.parseLong(opts.get("id")))
            .peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(Long.parseLong(opts.getOrDefault("peerTimeoutMs", "2000"))))
            .heartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(100))
            .defaultHandler(app).peerListener(app).blockListener(app).blockAllocator(app.allocator);
        if (opts.containsKey("secret"))
        {
            ctx.clusterSecret(opts.get("secret").getBytes(StandardCharsets.UTF_8));
        }
        if (opts.containsKey("directReads"))
        {
            ctx.directReads(Boolean.parseBoolean(opts.get("directReads")));
        }
        if (opts.containsKey("aeronDir"))
        {
            ctx.aeronDirectoryName(opts.get("aeronDir"));
        }
        try (TransportNode node = TransportNode.launch(ctx))
        {
            app.node = node;
            say("READY " + node.endpoint());
            final BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while (null != (line = in.readLine()))
            {
                final String[] cmd = line.trim().split(" ");
                if ("exit".equals(cmd[0]))
                {
                    break;
                }
                app.command(cmd);
            }
        }
        say("BYE");
        System.exit(0);
    }

    private void command(final String[] cmd)
    {
        switch (cmd[0])
        {
            case "peer":
                node.execute(() -> node.addPeer(Long.parseLong(cmd[1]), cmd[2]));
                break;
            case "block":
            {
                final long to = Long.parseLong(cmd[1]);
                final long length = Long.parseLong(cmd[2]);
                final long seed = Long.parseLong(cmd[3]);
                final long address = Pattern.allocateFilled(length, seed);
                final byte[] meta = Events.seedMetadata(seed);
                node.execute(() ->
                {
                    final long id = node.sendBlock(to, address, length, new UnsafeBuffer(meta), 0, meta.length);
                    sources.put(id, address);
                    say("BLOCK-STARTED " + to + " " + id);
                });
                break;
            }
            case "sendall":
            {
                final long to = Long.parseLong(cmd[1]);
                final Random random = new Random(Long.parseLong(cmd[2]));
                final SchemaMessages schema = SchemaMessages.load();
                node.execute(() ->
                {
                    echoPeer = to;
                    final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64 * 1024]);
                    for (final int template : schema.applicationTemplateIds())
                    {
                        final int length = schema.encode(template, buffer, 0, random);
                        final byte[] bytes = new byte[length];
                        buffer.getBytes(0, bytes);
                        expectedEchoes.put(template, bytes);
                        if (!node.send(to, buffer, 0, length))
                        {
                            say("SEND-REJECTED " + template);
                        }
                    }
                });
                break;
            }
            case "counters":
                node.execute(() -> say("COUNTERS " + node.counters()));
                break;
            case "outstanding":
                node.execute(() -> say("OUTSTANDING " + allocator.outstandingBytes()));
                break;
            default:
                say("UNKNOWN " + Arrays.toString(cmd));
        }
    }

    public void onMessage(final long peerId, final int templateId, final DirectBuffer buffer, final int offset, final int length)
    {
        if (echo)
        {
            node.send(peerId, buffer, offset, length);
            return;
        }
        if (peerId == echoPeer)
        {
            final byte[] expected = expectedEchoes.remove(templateId);
            final byte[] actual = new byte[length];
            buffer.getBytes(offset, actual);
            if (null == expected || !Arrays.equals(expected, actual))
            {
                say("ECHO-BAD " + templateId);
            }
            else if (expectedEchoes.isEmpty())
            {
                say("ECHO-ALL-OK");
            }
        }
        else
        {
            say("MSG " + peerId + " " + templateId);
        }
    }

    public void onPeerJoined(final long peerId, final String endpoint)
    {
        say("JOINED " + peerId);
    }

    public void onPeerLost(final long peerId, final String reason, final int droppedMessages)
    {
        say("LOST " + peerId + " " + reason);
    }

    public void onBlockReceived(
        final long peerId, final long transferId, final long address, final long length,
        final DirectBuffer metadata, final int metadataOffset, final int metadataLength)
    {
        final String meta = metadata.getStringWithoutLengthAscii(metadataOffset, metadataLength);
        final boolean intact = Pattern.matches(address, length, Long.parseLong(meta.substring(5)));
        if (0 != address)
        {
            allocator.free(address, length);
        }
        say("BLOCK-RECEIVED " + peerId + " " + transferId + " " + length + " " + (intact ? "OK" : "BAD"));
    }

    public void onBlockReceiveFailed(final long peerId, final long transferId, final BlockStatus status)
    {
        say("BLOCK-RECV-FAILED " + peerId + " " + transferId + " " + status);
    }

    public void onBlockSent(final long peerId, final long transferId)
    {
        UnsafeApi.freeMemory(sources.remove(transferId));
        say("BLOCK-SENT " + peerId + " " + transferId);
    }

    public void onBlockSendFailed(final long peerId, final long transferId, final BlockStatus status)
    {
        UnsafeApi.freeMemory(sources.remove(transferId));
        say("BLOCK-SEND-FAILED " + peerId + " " + transferId + " " + status);
    }

    private static void say(final String line)
    {
        synchronized (System.out)
        {
            System.out.println(line);
            System.out.flush();
        }
    }
}
