package io.offgrid.transport;

import org.agrona.UnsafeApi;

/**
 * Deterministic content for blocks: every byte depends on the seed and its position, so a receiver can
 * check a block without the sender's copy.
 */
final class Pattern
{
    private Pattern()
    {
    }

    static long word(final long seed, final long index)
    {
        long z = seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 31)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 29);
    }

    static long allocateFilled(final long length, final long seed)
    {
        final long address = UnsafeApi.allocateMemory(Math.max(1, length));
        fill(address, length, seed);
        return address;
    }

    static void fill(final long address, final long length, final long seed)
    {
        final long words = length >>> 3;
        // Int-counted inner loops keep safepoint polls: a multi-second loop without them stalls every thread.
        for (long start = 0; start < words; start += 1 << 17)
        {
            final int n = (int)Math.min(1 << 17, words - start);
            for (int k = 0; k < n; k++)
            {
                final long i = start + k;
                UnsafeApi.putLong(address + (i << 3), word(seed, i));
            }
        }
        final long tail = word(seed, words);
        for (long i = words << 3; i < length; i++)
        {
            UnsafeApi.putByte(address + i, (byte)(tail >>> ((i & 7) * 8)));
        }
    }

    static boolean matches(final long address, final long length, final long seed)
    {
        final long words = length >>> 3;
        for (long start = 0; start < words; start += 1 << 17)
        {
            final int n = (int)Math.min(1 << 17, words - start);
            for (int k = 0; k < n; k++)
            {
                final long i = start + k;
                if (UnsafeApi.getLong(address + (i << 3)) != word(seed, i))
                {
                    return false;
                }
            }
        }
        final long tail = word(seed, words);
        for (long i = words << 3; i < length; i++)
        {
            if (UnsafeApi.getByte(address + i) != (byte)(tail >>> ((i & 7) * 8)))
            {
                return false;
            }
        }
        return true;
    }
}
