package io.offgrid.grid;

import io.offgrid.transport.protocol.KeyState;
import io.offgrid.transport.protocol.KeyStatesDecoder;
import io.offgrid.transport.protocol.MessageHeaderDecoder;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KeyStateBatcherTest
{
    /** What one decoded KeyStates message said, entry by entry. */
    private record Sent(long clientId, List<String> entries, int length)
    {
    }

    private final List<Sent> sent = new ArrayList<>();
    private final MessageHeaderDecoder header = new MessageHeaderDecoder();
    private final KeyStatesDecoder decoder = new KeyStatesDecoder();
    private final UnsafeBuffer value = new UnsafeBuffer(new byte[4096]);
    private final UnsafeBuffer valueView = new UnsafeBuffer(0, 0);

    private KeyStateBatcher batcher(final int capacity)
    {
        return new KeyStateBatcher(capacity, (clientId, buffer, length) ->
        {
            assertTrue(length <= capacity, "message within capacity");
            final List<String> entries = new ArrayList<>();
            decoder.wrapAndApplyHeader(buffer, 0, header);
            for (final KeyStatesDecoder.EntriesDecoder e : decoder.entries())
            {
                final KeyState state = e.state();
                final long nbytes = e.nbytes();
                final String key = e.key();
                final String message = e.message();
                e.wrapValue(valueView);
                final byte[] v = new byte[valueView.capacity()];
                valueView.getBytes(0, v);
                entries.add(state + "/" + nbytes + "/" + key + "/" + message + "/" + new String(v, StandardCharsets.UTF_8));
            }
            assertEquals(length, decoder.encodedLength() + MessageHeaderDecoder.ENCODED_LENGTH, "no trailing bytes");
            sent.add(new Sent(clientId, entries, length));
        });
    }

    private int value(final String s)
    {
        final byte[] b = s.getBytes(StandardCharsets.UTF_8);
        value.putBytes(0, b);
        return b.length;
    }

    @Test
    void updatesGoOutPerClientInOrderWhenFlushed()
    {
        final KeyStateBatcher b = batcher(64 * 1024);
        assertTrue(b.add(7, KeyState.MEMORY, 4, "a", "", value, value("v-a")));
        assertTrue(b.add(8, KeyState.CANCELLED, 0, "x", "cancelled", value, 0));
        assertTrue(b.add(7, KeyState.LOST, 0, "b", "its worker died", value, 0));
        assertTrue(sent.isEmpty(), "nothing leaves before a flush");
        b.flush(7);
        assertEquals(1, sent.size());
        assertEquals(7, sent.get(0).clientId());
        assertEquals(List.of("MEMORY/4/a//v-a", "LOST/0/b/its worker died/"), sent.get(0).entries());
        b.flush(7);
        assertEquals(1, sent.size(), "an empty batch sends nothing");
        b.flushAll();
        assertEquals(2, sent.size());
        assertEquals(List.of("CANCELLED/0/x/cancelled/"), sent.get(1).entries());
        assertEquals(2, b.messagesSent());
        assertEquals(3, b.entriesSent());
    }

    @Test
    void aFullBatchGoesOutBeforeTheNextEntryAndNothingIsLostOrReordered()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final KeyStateBatcher b = batcher(2048);
        final List<String> expected = new ArrayList<>();
        for (int i = 0; i < 500; i++)
        {
            final String key = "k\u00e9-" + i; // non-ASCII: 2 bytes in UTF-8
            final String v = "x".repeat(random.nextInt(300));
            assertTrue(b.add(1, KeyState.MEMORY, v.length(), key, "", value, value(v)));
            expected.add("MEMORY/" + v.length() + "/" + key + "//" + v);
        }
        b.flushAll();
        final List<String> got = new ArrayList<>();
        for (final Sent s : sent)
        {
            got.addAll(s.entries());
        }
        assertEquals(expected, got, "seed " + seed);
        assertTrue(sent.size() > 10, "split into many messages of at most 2 KiB");
    }

    @Test
    void anUpdateTooLargeForOneMessageIsRefusedForTheCallerToSendAlone()
    {
        final KeyStateBatcher b = batcher(1024);
        assertFalse(b.add(1, KeyState.MEMORY, 2000, "big", "", value, 2000));
        b.flushAll();
        assertTrue(sent.isEmpty());
    }

    @Test
    void aForgottenClientsBatchIsDropped()
    {
        final KeyStateBatcher b = batcher(4096);
        assertTrue(b.add(3, KeyState.MEMORY, 1, "a", "", value, 0));
        b.forget(3);
        b.flushAll();
        assertTrue(sent.isEmpty());
    }
}
