package io.offgrid.transport;

import org.agrona.UnsafeApi;
import org.agrona.collections.IntArrayList;

import java.security.SecureRandom;
import java.util.SplittableRandom;

/**
 * One guard word per block offered for a direct read, in native memory the readers can read. While an offer stands
 * its word holds the offer's random 64-bit token; the sender clears it before it tells the block's owner that the
 * transfer ended, and the owner may free the memory only after that. A reader checks the word after its last chunk:
 * if the token is still there, every chunk was copied before the owner could free anything, so the block is good;
 * otherwise the block is thrown away. That makes every way an offer can end early on the sender's side (peer lost,
 * close, a failed answer) safe without waiting for the reader, which may be another process that is stalled.
 * <p>
 * The table is freed when its node closes: a reader then fails to read the word (EFAULT) or finds other bytes, and
 * a random 64-bit token is not found there by chance. Agent thread only.
 */
final class OfferGuards implements AutoCloseable
{
    private final long address;
    private final int capacity;
    private final IntArrayList free;
    private final SplittableRandom random = new SplittableRandom(new SecureRandom().nextLong());

    OfferGuards(final int capacity)
    {
        this.capacity = capacity;
        this.address = UnsafeApi.allocateMemory(8L * capacity);
        UnsafeApi.setMemory(address, 8L * capacity, (byte)0);
        this.free = new IntArrayList(capacity, -1);
        for (int i = capacity - 1; i >= 0; i--)
        {
            free.addInt(i);
        }
    }

    /** @return a slot for a new offer, or -1 if every slot is in use (the block is streamed instead). */
    int acquire()
    {
        return free.isEmpty() ? -1 : free.removeAt(free.size() - 1);
    }

    /** Arm a slot with a fresh non-zero token. @return the token. */
    long arm(final int slot)
    {
        long token;
        do
        {
            token = random.nextLong();
        }
        while (0 == token);
        UnsafeApi.putLongVolatile(null, address(slot), token);
        return token;
    }

    /** Clear a slot's token and give the slot back: from now on no reader accepts the block it guarded. */
    void revoke(final int slot)
    {
        UnsafeApi.putLongVolatile(null, address(slot), 0L);
        // A volatile store orders earlier stores only: on a weakly ordered CPU (AArch64) the owner's writes to the
        // block right after the callback could otherwise become visible before the cleared word.
        UnsafeApi.fullFence();
        free.addInt(slot);
    }

    /** @return where a slot's word is, for the offer. */
    long address(final int slot)
    {
        if (slot < 0 || slot >= capacity)
        {
            throw new IllegalArgumentException("no guard slot " + slot);
        }
        return address + 8L * slot;
    }

    public void close()
    {
        // Zeroed first: freed memory keeps its bytes, and a late reader must not find a token there.
        UnsafeApi.setMemory(address, 8L * capacity, (byte)0);
        UnsafeApi.fullFence();
        UnsafeApi.freeMemory(address);
    }
}
