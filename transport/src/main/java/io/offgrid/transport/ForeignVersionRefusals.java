package io.offgrid.transport;

import io.aeron.Aeron;
import io.aeron.ExclusivePublication;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.util.ArrayList;

/**
 * Refusals to nodes that said Hello in another version of the schema. Such a node is not a peer (nothing of it
 * is kept but this message), so the Refused goes out on a short-lived publication to the endpoint its Hello
 * named, retried until it is connected or the handshake timeout passes. At most {@link #MAX_PENDING} at once,
 * since anyone can send Hellos; beyond that the refusal is only logged and counted by the node.
 */
final class ForeignVersionRefusals implements AutoCloseable
{
    static final int MAX_PENDING = 16;
    private static final long LINGER_NS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(200);

    private static final class Pending
    {
        final ExclusivePublication publication;
        final UnsafeBuffer message;
        long deadlineNs;
        boolean offered;

        Pending(final ExclusivePublication publication, final UnsafeBuffer message, final long deadlineNs)
        {
            this.publication = publication;
            this.message = message;
            this.deadlineNs = deadlineNs;
        }
    }

    private final Aeron aeron;
    private final int streamId;
    private final long timeoutNs;
    private final ArrayList<Pending> pending = new ArrayList<>();

    ForeignVersionRefusals(final Aeron aeron, final int streamId, final long timeoutNs)
    {
        this.aeron = aeron;
        this.streamId = streamId;
        this.timeoutNs = timeoutNs;
    }

    /** @return false if too many refusals are already on their way. */
    boolean refuse(final String endpoint, final DirectBuffer message, final int length, final long nowNs)
    {
        if (pending.size() >= MAX_PENDING)
        {
            return false;
        }
        final UnsafeBuffer copy = new UnsafeBuffer(new byte[length]);
        copy.putBytes(0, message, 0, length);
        final ExclusivePublication publication = aeron.addExclusivePublication(
            "aeron:udp?endpoint=" + endpoint + "|term-length=65536|sparse=true", streamId);
        pending.add(new Pending(publication, copy, nowNs + timeoutNs));
        return true;
    }

    int doWork(final long nowNs)
    {
        if (pending.isEmpty())
        {
            return 0;
        }
        int work = 0;
        for (int i = pending.size() - 1; i >= 0; i--)
        {
            final Pending p = pending.get(i);
            if (!p.offered && p.publication.isConnected() && p.publication.offer(p.message, 0, p.message.capacity()) > 0)
            {
                // The driver drains a closed publication's data, but keep it a moment so a slow receiver still gets it.
                p.offered = true;
                p.deadlineNs = nowNs + LINGER_NS;
                work++;
            }
            else if (nowNs - p.deadlineNs > 0)
            {
                pending.remove(i);
                CloseHelper.quietClose(p.publication);
                work++;
            }
        }
        return work;
    }

    public void close()
    {
        for (final Pending p : pending)
        {
            CloseHelper.quietClose(p.publication);
        }
        pending.clear();
    }
}
