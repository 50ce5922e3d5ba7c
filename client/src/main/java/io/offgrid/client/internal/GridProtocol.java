package io.offgrid.client.internal;

import org.agrona.DirectBuffer;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Conventions shared by the client and the grid's nodes on top of the SBE messages.
 */
public final class GridProtocol
{
    /** The scheduler's node id: every node knows whom to register with. */
    public static final long SCHEDULER_NODE_ID = 1;

    /** Separates class, message and stack trace inside the scheduler's error text. */
    public static final char ERROR_SEPARATOR = '\u0001';

    /** Allow-list for Java serialization of task values and shipped functions when nothing else is set. */
    public static final String DEFAULT_ALLOW_LIST = "java.lang.*;java.util.*;java.lang.invoke.SerializedLambda;io.offgrid.**";

    /** Default worker heartbeat interval. */
    public static final long HEARTBEAT_INTERVAL_NS = 200_000_000L;

    private GridProtocol()
    {
    }

    /**
     * @param remoteClass exception class name.
     * @param message     its message.
     * @param stackTrace  its stack trace.
     * @return the one-string error form the scheduler passes through unchanged.
     */
    public static String joinError(final String remoteClass, final String message, final String stackTrace)
    {
        return remoteClass + ERROR_SEPARATOR + message + ERROR_SEPARATOR + stackTrace;
    }

    /**
     * @param error text from {@link #joinError}, or any other text.
     * @return class, message and stack trace (missing parts empty; text without separators is the message).
     */
    public static String[] splitError(final String error)
    {
        final String text = null == error ? "" : error;
        final int a = text.indexOf(ERROR_SEPARATOR);
        if (a < 0)
        {
            return new String[]{"", text, ""};
        }
        final int b = text.indexOf(ERROR_SEPARATOR, a + 1);
        if (b < 0)
        {
            return new String[]{text.substring(0, a), text.substring(a + 1), ""};
        }
        return new String[]{text.substring(0, a), text.substring(a + 1, b), text.substring(b + 1)};
    }

    /**
     * A 64-bit hash of bytes (FNV-1a with a murmur finaliser), used for function ids and content keys.
     *
     * @param bytes  the bytes.
     * @param offset where they start.
     * @param length how many.
     * @param seed   mixed in first.
     * @return the hash.
     */
    public static long hash64(final byte[] bytes, final int offset, final int length, final long seed)
    {
        long h = 0xcbf29ce484222325L ^ seed;
        for (int i = offset, end = offset + length; i < end; i++)
        {
            h ^= bytes[i];
            h *= 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    /**
     * A 64-bit content hash of {@code length} bytes of a buffer, read in place eight bytes at a time over four
     * independent lanes (the xxHash64 round structure): several GB/s, so content-addressed scatter keys do not
     * cost more than the copy into the store. Not compatible with {@link #hash64(byte[], int, int, long)}.
     *
     * @param buffer where the bytes are (heap or native).
     * @param offset first byte.
     * @param length how many bytes.
     * @param seed   mixed in first.
     * @return the hash.
     */
    public static long hashBuffer(final DirectBuffer buffer, final int offset, final int length, final long seed)
    {
        final long p1 = 0x9E3779B185EBCA87L;
        final long p2 = 0xC2B2AE3D27D4EB4FL;
        long v1 = seed + p1 + p2;
        long v2 = seed + p2;
        long v3 = seed;
        long v4 = seed - p1;
        int i = offset;
        final int end = offset + length;
        for (; i + 32 <= end; i += 32)
        {
            v1 = Long.rotateLeft(v1 + buffer.getLong(i, ByteOrder.LITTLE_ENDIAN) * p2, 31) * p1;
            v2 = Long.rotateLeft(v2 + buffer.getLong(i + 8, ByteOrder.LITTLE_ENDIAN) * p2, 31) * p1;
            v3 = Long.rotateLeft(v3 + buffer.getLong(i + 16, ByteOrder.LITTLE_ENDIAN) * p2, 31) * p1;
            v4 = Long.rotateLeft(v4 + buffer.getLong(i + 24, ByteOrder.LITTLE_ENDIAN) * p2, 31) * p1;
        }
        long h = Long.rotateLeft(v1, 1) + Long.rotateLeft(v2, 7) + Long.rotateLeft(v3, 12) + Long.rotateLeft(v4, 18);
        h += length;
        for (; i + 8 <= end; i += 8)
        {
            h ^= Long.rotateLeft(buffer.getLong(i, ByteOrder.LITTLE_ENDIAN) * p2, 31) * p1;
            h = Long.rotateLeft(h, 27) * p1 + 0x85EBCA77C2B2AE63L;
        }
        for (; i < end; i++)
        {
            h ^= (buffer.getByte(i) & 0xFFL) * 0x27D4EB2F165667C5L;
            h = Long.rotateLeft(h, 11) * p1;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }

    /**
     * How many keys, from {@code from} on, one message of at most {@code budget} bytes can carry in a group of
     * var-data keys after {@code fixedLength} bytes of header and fields (UTF-8 worst case: three bytes a char).
     *
     * @param keys        the keys.
     * @param from        the first key to place.
     * @param fixedLength bytes of the message before its keys.
     * @param budget      the message's size limit.
     * @return at least one (a single key too long for the budget fails at encoding, not by being skipped).
     */
    public static int keysThatFit(final List<String> keys, final int from, final int fixedLength, final int budget)
    {
        int length = fixedLength;
        int count = 0;
        while (from + count < keys.size())
        {
            length += 4 + 3 * keys.get(from + count).length();
            if (count > 0 && length > budget)
            {
                break;
            }
            count++;
        }
        return count;
    }

    /**
     * @param s text.
     * @return its UTF-8 bytes.
     */
    public static byte[] utf8(final String s)
    {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
