package io.offgrid.client;

import io.offgrid.client.internal.GridProtocol;
import io.offgrid.client.internal.TaskArguments;
import io.offgrid.client.internal.TaskFunctions;
import io.offgrid.memory.CodecRegistry;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

/** Argument encoding, function shipping and the error text convention, without a cluster. */
class ClientInternalsTest
{
    private final CodecRegistry codecs = new CodecRegistry(GridProtocol.DEFAULT_ALLOW_LIST);

    @Test
    void argumentsRoundTripLiteralsAndDependencies()
    {
        final Object[] args = {42, "text", new double[]{1.5, 2.5}, null, new TaskArguments.KeyRef("dep-1"),
            new ArrayList<>(List.of(1L, 2L)), new TaskArguments.KeyRef("dép-2")};
        final byte[] bytes = TaskArguments.encode(codecs, args);
        final Object[] back = TaskArguments.decode(codecs, bytes, key -> "value of " + key);
        assertEquals(42, back[0]);
        assertEquals("text", back[1]);
        assertArrayEquals(new double[]{1.5, 2.5}, (double[])back[2]);
        assertEquals(null, back[3]);
        assertEquals("value of dep-1", back[4]);
        assertEquals(List.of(1L, 2L), back[5]);
        assertEquals("value of dép-2", back[6]);
        assertEquals(List.of("dep-1", "dép-2"), TaskArguments.dependencies(bytes));
    }

    @Test
    void truncatedOrCorruptArgumentsFailClearly()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final byte[] bytes = TaskArguments.encode(codecs, new Object[]{7L, "abc", new TaskArguments.KeyRef("k")});
        for (int cut = 0; cut < bytes.length; cut++)
        {
            final byte[] truncated = Arrays.copyOf(bytes, cut);
            assertThrows(RuntimeException.class, () -> TaskArguments.decode(codecs, truncated, k -> k),
                "truncated at " + cut);
        }
        for (int i = 0; i < 2_000; i++)
        {
            final byte[] mutated = bytes.clone();
            mutated[random.nextInt(mutated.length)] = (byte)random.nextInt();
            try
            {
                TaskArguments.decode(codecs, mutated, k -> k);
                TaskArguments.dependencies(mutated);
            }
            catch (final RuntimeException expected)
            {
                // a clear exception is fine; anything else (an Error, a hang) is not
            }
            catch (final Throwable t)
            {
                fail("seed " + seed + ": " + t);
            }
        }
    }

    @Test
    void functionsShipAndRunBehindTheAllowList() throws Exception
    {
        final int offset = 5;
        final SerializableBiFunction<Integer, Integer, Integer> add = (a, b) -> a + b + offset;
        final byte[] code = TaskFunctions.serialize(add);
        final Object back = TaskFunctions.deserialize(code, GridProtocol.DEFAULT_ALLOW_LIST);
        assertEquals(8, TaskFunctions.invoke(back, new Object[]{1, 2}));
        assertThrows(IllegalStateException.class, () -> TaskFunctions.deserialize(code, "java.lang.String"));
        assertThrows(IllegalArgumentException.class, () -> TaskFunctions.invoke(back, new Object[]{1}));
        assertThrows(IllegalArgumentException.class, () -> TaskFunctions.checkArity(add, 3));
        assertThrows(IllegalArgumentException.class, () -> TaskFunctions.serialize(new Object()));
        final SerializableCallable<String> call = () -> "hi";
        assertEquals("hi", TaskFunctions.invoke(TaskFunctions.deserialize(TaskFunctions.serialize(call),
            GridProtocol.DEFAULT_ALLOW_LIST), new Object[0]));
    }

    @Test
    void errorTextKeepsClassMessageAndStack()
    {
        final String joined = GridProtocol.joinError("java.io.IOException", "disk", "at x\nat y");
        assertArrayEquals(new String[]{"java.io.IOException", "disk", "at x\nat y"}, GridProtocol.splitError(joined));
        assertArrayEquals(new String[]{"", "plain text", ""}, GridProtocol.splitError("plain text"));
        assertArrayEquals(new String[]{"", "", ""}, GridProtocol.splitError(null));
    }

    @Test
    void hashSpreadsAndDependsOnSeed()
    {
        final byte[] a = "abc".getBytes();
        assertEquals(GridProtocol.hash64(a, 0, 3, 1), GridProtocol.hash64(a.clone(), 0, 3, 1));
        assertNotEquals(GridProtocol.hash64(a, 0, 3, 1), GridProtocol.hash64(a, 0, 3, 2));
        assertNotEquals(GridProtocol.hash64(a, 0, 3, 1), GridProtocol.hash64(a, 0, 2, 1));
    }

    @Test
    void optionsAndConfigValidate()
    {
        assertThrows(IllegalArgumentException.class, () -> SubmitOptions.options().retries(-1));
        assertThrows(IllegalArgumentException.class, () -> SubmitOptions.options().retries(128));
        assertThrows(IllegalArgumentException.class, () -> new ClientConfig().conclude());
        assertThrows(IllegalArgumentException.class, () -> new ClientConfig().schedulerAddress("nohost").conclude());
        assertThrows(IllegalArgumentException.class,
            () -> new ClientConfig().schedulerAddress("127.0.0.1:1").nodeId(GridProtocol.SCHEDULER_NODE_ID).conclude());
        assertThrows(IllegalArgumentException.class, () -> Bag.of(List.of(1), 0));
        final ClientConfig c = new ClientConfig().schedulerAddress("127.0.0.1:1").conclude();
        assertNotEquals(-1, c.nodeId());
    }

    @Test
    void connectToNothingFailsWithinTheTimeout()
    {
        final long t0 = System.nanoTime();
        assertThrows(GridException.class, () -> Client.connect(new ClientConfig().schedulerAddress("127.0.0.1:9")
            .requestTimeoutNs(1_000_000_000L).peerTimeoutNs(500_000_000L)));
        assertThrows(IllegalStateException.class, Client::current);
        org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() - t0 < 10_000_000_000L);
    }

    @Test
    void bufferHashDependsOnEveryByteItsLengthAndSeedAndNotOnWhereTheBytesLive()
    {
        final java.util.Random random = new java.util.Random(17);
        for (int length = 0; length <= 100; length++)
        {
            final byte[] bytes = new byte[length + 3];
            random.nextBytes(bytes);
            final org.agrona.concurrent.UnsafeBuffer heap = new org.agrona.concurrent.UnsafeBuffer(bytes);
            final java.nio.ByteBuffer direct = java.nio.ByteBuffer.allocateDirect(length + 8);
            final org.agrona.concurrent.UnsafeBuffer offHeap = new org.agrona.concurrent.UnsafeBuffer(direct);
            offHeap.putBytes(5, bytes, 3, length);
            final long h = GridProtocol.hashBuffer(heap, 3, length, 9);
            assertEquals(h, GridProtocol.hashBuffer(offHeap, 5, length, 9), "same bytes elsewhere, length " + length);
            assertNotEquals(h, GridProtocol.hashBuffer(heap, 3, length, 10), "seed, length " + length);
            if (length > 0)
            {
                assertNotEquals(h, GridProtocol.hashBuffer(heap, 3, length - 1, 9), "length " + length);
                for (int i = 0; i < length; i++)
                {
                    final byte was = bytes[3 + i];
                    bytes[3 + i] ^= (byte)(1 << (i & 7));
                    assertNotEquals(h, GridProtocol.hashBuffer(heap, 3, length, 9), "flipped byte " + i + " of " + length);
                    bytes[3 + i] = was;
                }
            }
        }
    }
}
