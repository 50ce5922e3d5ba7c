package io.offgrid.transport;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KeyCacheTest
{
    private static UnsafeBuffer bytes(final String s)
    {
        return new UnsafeBuffer(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aKeySeenAgainIsTheSameInstance()
    {
        final KeyCache cache = new KeyCache(64);
        final String first = cache.get(bytes("map-1f2e3d4c"));
        assertEquals("map-1f2e3d4c", first);
        assertSame(first, cache.get(bytes("map-1f2e3d4c")));
        assertEquals(1, cache.hits());
        assertEquals(1, cache.misses());
        assertEquals("", cache.get(bytes("")));
    }

    @Test
    void keysAtAnOffsetInALargerBuffer()
    {
        final KeyCache cache = new KeyCache(64);
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[64]);
        buffer.putStringWithoutLengthAscii(10, "abcdef");
        assertEquals("bcd", cache.get(buffer, 11, 3));
        assertEquals("abcdef", cache.get(buffer, 10, 6));
        assertEquals("bcd", cache.get(new UnsafeBuffer(buffer, 11, 3)));
    }

    @Test
    void nonAsciiKeysDecodeAsUtf8AndAreNotCached()
    {
        final KeyCache cache = new KeyCache(64);
        final String key = "r\u00e9sultat-\u4e2d";
        final String a = cache.get(bytes(key));
        assertEquals(key, a);
        assertNotSame(a, cache.get(bytes(key)));
        assertEquals(0, cache.hits());
        assertNull(cache.ascii(key));
    }

    @Test
    void asciiEncodingMatchesUtf8Bytes()
    {
        final KeyCache cache = new KeyCache(64);
        final StringBuilder longKey = new StringBuilder();
        for (int i = 0; i < 300; i++)
        {
            longKey.append((char)('a' + i % 26));
        }
        for (final String key : new String[]{"", "x", "task-0123456789abcdef", longKey.toString()})
        {
            final DirectBuffer view = cache.ascii(key);
            final byte[] copy = new byte[view.capacity()];
            view.getBytes(0, copy);
            assertEquals(key, new String(copy, StandardCharsets.UTF_8));
        }
    }

    /** Seeded: many keys through a small cache (constant displacement) always decode to the right string. */
    @Test
    void randomKeysThroughASmallCacheAlwaysDecodeCorrectly()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final KeyCache cache = new KeyCache(16);
        final List<String> keys = new ArrayList<>();
        for (int i = 0; i < 200; i++)
        {
            final int length = random.nextInt(12);
            final StringBuilder sb = new StringBuilder();
            for (int c = 0; c < length; c++)
            {
                sb.append((char)(random.nextInt(5) == 0 ? 0xe0 + random.nextInt(20) : 0x20 + random.nextInt(95)));
            }
            keys.add(sb.toString());
        }
        for (int i = 0; i < 20_000; i++)
        {
            final String key = keys.get(random.nextInt(keys.size()));
            assertEquals(key, cache.get(bytes(key)), "seed " + seed);
        }
    }

    @Test
    void capacityMustBeAPowerOfTwo()
    {
        assertThrows(IllegalArgumentException.class, () -> new KeyCache(3));
        assertThrows(IllegalArgumentException.class, () -> new KeyCache(1));
    }
}
