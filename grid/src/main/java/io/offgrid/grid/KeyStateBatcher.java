package io.offgrid.grid;

import io.offgrid.transport.protocol.KeyState;
import io.offgrid.transport.protocol.KeyStatesEncoder;
import io.offgrid.transport.protocol.MessageHeaderEncoder;
import org.agrona.DirectBuffer;
import org.agrona.collections.Long2ObjectHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The scheduler's key-state updates to clients, gathered per client into one {@code KeyStates} message until the
 * end of the duty cycle, or until anything else goes to that client (so a client sees every message in the order
 * the scheduler made it). A 20,000-task map finishes in a few hundred messages instead of 20,000, and a cancel of
 * 20,000 keys in a handful. Agent thread only.
 */
final class KeyStateBatcher
{
    /** Where a finished batch goes. */
    @FunctionalInterface
    interface Sender
    {
        void send(long clientId, DirectBuffer buffer, int length);
    }

    private static final int MAX_ENTRIES = KeyStatesEncoder.EntriesEncoder.countMaxValue();
    /** Message, group and per-entry length headers: three var-data length prefixes of 4 bytes. */
    private static final int ENTRY_OVERHEAD = KeyStatesEncoder.EntriesEncoder.sbeBlockLength() + 12;
    private static final int MESSAGE_OVERHEAD = MessageHeaderEncoder.ENCODED_LENGTH + KeyStatesEncoder.BLOCK_LENGTH + 4;

    private static final class Batch
    {
        final UnsafeBuffer buffer;
        final KeyStatesEncoder encoder = new KeyStatesEncoder();
        KeyStatesEncoder.EntriesEncoder entries;
        int count;

        Batch(final int capacity)
        {
            buffer = new UnsafeBuffer(new byte[capacity]);
        }
    }

    private final Long2ObjectHashMap<Batch> batches = new Long2ObjectHashMap<>();
    private final LongArrayList pending = new LongArrayList();
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();
    private final int capacity;
    private final Sender sender;
    private long messagesSent;
    private long entriesSent;

    /**
     * @param capacity largest message, bytes.
     * @param sender   sends a finished batch.
     */
    KeyStateBatcher(final int capacity, final Sender sender)
    {
        this.capacity = capacity;
        this.sender = sender;
    }

    /**
     * Adds one update to the client's batch.
     *
     * @return false when the update alone is too large for a batch message: the caller sends it on its own, after
     * {@link #flush(long)}.
     */
    boolean add(final long clientId, final KeyState state, final long nbytes, final String key, final String message,
        final DirectBuffer value, final int valueLength)
    {
        // UTF-8 needs at most 3 bytes per UTF-16 char.
        final int need = ENTRY_OVERHEAD + 3 * key.length() + 3 * message.length() + valueLength;
        if (MESSAGE_OVERHEAD + need > capacity)
        {
            return false;
        }
        Batch b = batches.get(clientId);
        if (null == b)
        {
            b = new Batch(capacity);
            batches.put(clientId, b);
        }
        if (b.count > 0 && b.encoder.limit() + need > capacity)
        {
            send(clientId, b);
        }
        if (0 == b.count)
        {
            b.encoder.wrapAndApplyHeader(b.buffer, 0, header);
            b.entries = b.encoder.entriesCount(MAX_ENTRIES);
            pending.addLong(clientId);
        }
        final KeyStatesEncoder.EntriesEncoder e = b.entries.next().state(state).nbytes(nbytes);
        e.key(key);
        e.message(message);
        e.putValue(value, 0, valueLength);
        if (++b.count == MAX_ENTRIES)
        {
            send(clientId, b);
        }
        return true;
    }

    /** @param clientId whose batch goes now, if it has one. */
    void flush(final long clientId)
    {
        if (pending.isEmpty())
        {
            return;
        }
        final Batch b = batches.get(clientId);
        if (null != b && b.count > 0)
        {
            send(clientId, b);
        }
    }

    /** Sends every client's batch (end of the duty cycle). */
    void flushAll()
    {
        while (!pending.isEmpty())
        {
            flush(pending.getLong(pending.size() - 1));
        }
    }

    /** @param clientId gone: its batch (if any) is dropped. */
    void forget(final long clientId)
    {
        batches.remove(clientId);
        pending.removeLong(clientId);
    }

    /** @return KeyStates messages sent. */
    long messagesSent()
    {
        return messagesSent;
    }

    /** @return updates sent in them. */
    long entriesSent()
    {
        return entriesSent;
    }

    private void send(final long clientId, final Batch b)
    {
        b.entries.resetCountToIndex();
        entriesSent += b.count;
        messagesSent++;
        b.count = 0;
        pending.removeLong(clientId);
        sender.send(clientId, b.buffer, b.encoder.limit());
    }
}
