package io.offgrid.memory.internal;

import org.agrona.UnsafeApi;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** Copies are sliced (a safepoint poll between slices): every length and overlap must still copy exactly. */
class NativeMemoryTest
{
    private static final long BASE = UnsafeApi.arrayBaseOffset(byte[].class);
    private static final long SLICE = NativeMemory.COPY_SLICE;

    @Test
    void heapToNativeToHeapAtEverySliceBoundary()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        for (final long length : new long[]{0, 1, SLICE - 1, SLICE, SLICE + 1, 3 * SLICE + SLICE / 2 + 7})
        {
            final byte[] src = new byte[(int)length];
            random.nextBytes(src);
            final long address = NativeMemory.allocate(Math.max(1, length));
            final long other = NativeMemory.allocate(Math.max(1, length));
            try
            {
                NativeMemory.copy(src, BASE, null, address, length);
                NativeMemory.copy(address, other, length);
                final byte[] back = new byte[(int)length];
                NativeMemory.copy(null, other, back, BASE, length);
                assertArrayEquals(src, back, "length " + length + ", seed " + seed);
            }
            finally
            {
                NativeMemory.free(address, Math.max(1, length));
                NativeMemory.free(other, Math.max(1, length));
            }
        }
    }

    @Test
    void overlappingCopiesWithinOneArrayMoveLikeMemmove()
    {
        final long seed = System.nanoTime();
        final Random random = new Random(seed);
        final int length = (int)(2 * SLICE + 12_345);
        for (final int shift : new int[]{1, 4096, (int)SLICE + 3, -1, -(int)SLICE - 5})
        {
            final byte[] data = new byte[length + Math.abs(shift)];
            random.nextBytes(data);
            final byte[] expected = data.clone();
            final int from = shift > 0 ? 0 : -shift;
            final int to = shift > 0 ? shift : 0;
            System.arraycopy(expected, from, expected, to, length);
            NativeMemory.copy(data, BASE + from, data, BASE + to, length);
            assertArrayEquals(expected, data, "shift " + shift + ", seed " + seed);
        }
    }
}
