package io.offgrid.transport;

import io.offgrid.transport.protocol.MessageHeaderEncoder;
import io.offgrid.transport.protocol.WorkerHeartbeatEncoder;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test helpers: nodes stepped by the test thread, waiting with a deadline, /dev/shm checks.
 */
final class Nodes
{
    private Nodes()
    {
    }

    static TransportNode.Context context(final long id, final Events events, final TrackingAllocator allocator)
    {
        return new TransportNode.Context()
            .nodeId(id)
            .useAgentRunner(false)
            .peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(1500))
            .heartbeatIntervalNs(TimeUnit.MILLISECONDS.toNanos(100))
            .defaultHandler(events)
            .peerListener(events)
            .blockListener(events)
            .blockAllocator(allocator);
    }

    static void await(final String what, final BooleanSupplier condition, final long timeoutMs, final TransportNode... nodes)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!condition.getAsBoolean())
        {
            for (final TransportNode node : nodes)
            {
                node.doWork();
            }
            if (System.nanoTime() > deadline)
            {
                fail("timed out waiting for " + what);
            }
        }
    }

    static void run(final long millis, final TransportNode... nodes)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < deadline)
        {
            for (final TransportNode node : nodes)
            {
                node.doWork();
            }
        }
    }

    /** A small valid application message carrying {@code value}. */
    static int heartbeat(final UnsafeBuffer buffer, final long value)
    {
        final WorkerHeartbeatEncoder encoder = new WorkerHeartbeatEncoder();
        encoder.wrapAndApplyHeader(buffer, 0, new MessageHeaderEncoder()).timestampNs(value).managedBytes(value * 2);
        return MessageHeaderEncoder.ENCODED_LENGTH + encoder.encodedLength();
    }

    static List<String> driverDirectories(final long pid)
    {
        final List<String> names = new ArrayList<>();
        final File[] files = new File(DriverDirectories.defaultParent()).listFiles(
            (d, name) -> name.startsWith(DriverDirectories.PREFIX + (pid > 0 ? pid + "-" : "")));
        if (null != files)
        {
            for (final File f : files)
            {
                names.add(f.getName());
            }
        }
        return names;
    }

    static void assertNoDriverDirectories()
    {
        final List<String> left = driverDirectories(ProcessHandle.current().pid());
        if (!left.isEmpty())
        {
            fail("driver directories left behind: " + left);
        }
    }
}
