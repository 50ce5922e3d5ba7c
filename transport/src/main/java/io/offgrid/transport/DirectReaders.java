package io.offgrid.transport;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

/**
 * Slices of direct reads, copied by a node's agent thread and by helper threads beside it. On this project's 2-core VM
 * one thread's {@code process_vm_readv} moves 7-17 GB/s and two move 12-18 GB/s (256 MiB in 1 MiB chunks), and the
 * other cores are mostly idle while a node reads, so a large block lands sooner when two threads copy it.
 * <p>
 * Only the agent thread changes transfer state. It posts slices (a chunk of one transfer each) into a small table
 * of slots; a helper or the agent itself claims a posted slot, copies, and marks it done; the agent collects done
 * slots and applies their results. A slot moves EMPTY → READY (agent) → RUNNING (claimer) → DONE (claimer) →
 * EMPTY (agent), each step a volatile write or CAS, so the plain fields written before a step are seen after it.
 * The agent never frees a transfer's destination while one of its slices is posted or being copied: it counts them
 * ({@link InboundTransfer#slicesOut}), withdraws the posted ones of a failed transfer, and finishes the transfer
 * when the last comes back.
 * <p>
 * Helpers start on the first post, spin briefly when no slot is ready, then park until the agent posts again (it
 * unparks them). With no helpers the agent copies every slice itself, as a single-threaded reader would.
 */
final class DirectReaders implements AutoCloseable
{
    private static final int EMPTY = 0;
    private static final int READY = 1;
    private static final int RUNNING = 2;
    private static final int DONE = 3;
    /** A helper that found nothing to copy spins this long before it parks: a slice takes about 80 µs. */
    private static final long HELPER_SPIN_NS = 50_000;
    /** Parked helpers also wake this often: a safety net, as the post/park handshake loses no wake-up. */
    private static final long HELPER_PARK_NS = 1_000_000_000L;
    /** The result of a slice withdrawn before anyone copied it. */
    static final long WITHDRAWN = -125; // minus ECANCELED

    private final String name;
    private final int helperCount;
    private final AtomicIntegerArray state;
    // Written by the agent before READY, read by the claimer after its CAS.
    private final long[] pid;
    private final long[] remote;
    private final long[] local;
    private final long[] length;
    // Written by the claimer before DONE, read by the agent after it sees DONE.
    private final long[] result;
    private final boolean[] byHelper;
    // Agent only.
    private final InboundTransfer[] owner;
    private int inFlight;
    private int nextSlot;

    private final Thread[] helpers;
    private final Helper[] helperStates;
    private volatile boolean running = true;

    /**
     * @param name        thread names' prefix.
     * @param helperCount helper threads beside the agent, 0 or more.
     */
    DirectReaders(final String name, final int helperCount)
    {
        this.name = name;
        this.helperCount = helperCount;
        final int slots = Math.max(4, 4 * (helperCount + 1));
        this.state = new AtomicIntegerArray(slots);
        this.pid = new long[slots];
        this.remote = new long[slots];
        this.local = new long[slots];
        this.length = new long[slots];
        this.result = new long[slots];
        this.byHelper = new boolean[slots];
        this.owner = new InboundTransfer[slots];
        this.helpers = new Thread[helperCount];
        this.helperStates = new Helper[helperCount];
    }

    /** @return slices posted and not yet collected. Agent only. */
    int inFlight()
    {
        return inFlight;
    }

    /** @return whether another slice can be posted now. Agent only. */
    boolean hasFreeSlot()
    {
        return inFlight < owner.length;
    }

    /**
     * Post a slice of a transfer: {@code n} bytes at {@code offset} of its block. Agent only; needs a free slot.
     */
    void post(final InboundTransfer t, final long offset, final long n)
    {
        int i = nextSlot;
        while (null != owner[i])
        {
            i = (i + 1) % owner.length;
        }
        nextSlot = (i + 1) % owner.length;
        owner[i] = t;
        pid[i] = t.sender.pid;
        remote[i] = t.remoteAddress + offset;
        local[i] = t.address + offset;
        length[i] = n;
        t.slicesOut++;
        inFlight++;
        state.set(i, READY);
    }

    /** Wake parked helpers (starting them the first time): slices were posted. Agent only. */
    void wakeHelpers()
    {
        for (int h = 0; h < helperCount; h++)
        {
            if (null == helpers[h])
            {
                helperStates[h] = new Helper();
                final Thread thread = new Thread(helperStates[h], name + "-" + h);
                thread.setDaemon(true);
                thread.setContextClassLoader(DirectReaders.class.getClassLoader()); // not the first caller's
                helpers[h] = thread;
                try
                {
                    thread.start();
                }
                catch (final Throwable ex)
                {
                    // No thread to be had (a process limit): it is never tried again, and the node thread copies
                    // what is posted. Its unstarted Thread stays, so close() has nothing to join.
                }
            }
            else if (helperStates[h].parked)
            {
                LockSupport.unpark(helpers[h]);
            }
        }
    }

    /**
     * Copy one posted slice on the calling (agent) thread, if any is waiting.
     *
     * @return whether a slice was copied.
     */
    boolean copyOne(final ProcessMemory reader)
    {
        final int i = claim();
        if (i < 0)
        {
            return false;
        }
        copy(i, reader, false);
        return true;
    }

    /** Receives the results of collected slices. */
    interface SliceResult
    {
        /**
         * @param t    the slice's transfer.
         * @param n    bytes asked for.
         * @param read bytes copied, or minus errno.
         * @param byHelper whether a helper thread copied it.
         */
        void onSlice(InboundTransfer t, long n, long read, boolean byHelper);
    }

    /**
     * Hand every done slice to {@code handler}, freeing its slot first (so the handler may post). Agent only.
     *
     * @return slices collected.
     */
    int collect(final SliceResult handler)
    {
        if (0 == inFlight)
        {
            return 0;
        }
        int collected = 0;
        for (int i = 0; i < owner.length; i++)
        {
            if (null != owner[i] && state.get(i) == DONE)
            {
                final InboundTransfer t = owner[i];
                final long n = length[i];
                final long read = result[i];
                final boolean helped = byHelper[i];
                owner[i] = null;
                inFlight--;
                t.slicesOut--;
                state.set(i, EMPTY);
                collected++;
                handler.onSlice(t, n, read, helped);
            }
        }
        return collected;
    }

    /**
     * Take back the slices of {@code t} that no thread has claimed yet: they come back from {@link #collect} as
     * {@link #WITHDRAWN}, not copied. Slices being copied come back as usual. Agent only.
     */
    void withdraw(final InboundTransfer t)
    {
        for (int i = 0; i < owner.length; i++)
        {
            if (owner[i] == t && state.get(i) == READY && state.compareAndSet(i, READY, RUNNING))
            {
                result[i] = WITHDRAWN;
                byHelper[i] = false;
                state.set(i, DONE);
            }
        }
    }

    /**
     * Stop the helpers and wait for them: after this no thread writes to any destination ({@link #drain} then gives
     * back the slices still out). Agent (or closing) thread only.
     */
    public void close()
    {
        running = false;
        for (final Thread thread : helpers)
        {
            if (null != thread)
            {
                LockSupport.unpark(thread);
            }
        }
        boolean interrupted = false;
        for (final Thread thread : helpers)
        {
            while (null != thread && thread.isAlive())
            {
                try
                {
                    thread.join();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true;
                }
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * After {@link #close()}: hand every slice still out to {@code handler} as failed (minus EFAULT for those never
     * copied), so the agent can finish their transfers.
     */
    void drain(final SliceResult handler)
    {
        for (int i = 0; i < owner.length; i++)
        {
            if (null != owner[i])
            {
                final InboundTransfer t = owner[i];
                final boolean done = state.get(i) == DONE;
                final long read = done ? result[i] : -ProcessMemory.EFAULT;
                owner[i] = null;
                inFlight--;
                t.slicesOut--;
                state.set(i, EMPTY);
                handler.onSlice(t, length[i], read, done && byHelper[i]);
            }
        }
    }

    /** @return whether a slice is being copied into {@code [address, address + length)} now (tests). */
    boolean copyingInto(final long address, final long length)
    {
        for (int i = 0; i < state.length(); i++)
        {
            if (state.get(i) == RUNNING && local[i] >= address && local[i] < address + length)
            {
                return true;
            }
        }
        return false;
    }

    private int claim()
    {
        for (int i = 0; i < state.length(); i++)
        {
            if (state.get(i) == READY && state.compareAndSet(i, READY, RUNNING))
            {
                return i;
            }
        }
        return -1;
    }

    private boolean anyReady()
    {
        for (int i = 0; i < state.length(); i++)
        {
            if (state.get(i) == READY)
            {
                return true;
            }
        }
        return false;
    }

    private void copy(final int i, final ProcessMemory reader, final boolean helper)
    {
        long read = -ProcessMemory.EFAULT;
        try
        {
            read = reader.read(pid[i], remote[i], local[i], length[i]);
        }
        finally
        {
            // Whatever happened, the slot comes back: a slice left RUNNING would hold its transfer open for good.
            result[i] = read;
            byHelper[i] = helper;
            state.set(i, DONE);
        }
    }

    private final class Helper implements Runnable
    {
        volatile boolean parked;

        public void run()
        {
            final ProcessMemory reader = ProcessMemory.reader();
            long idleSince = 0;
            while (running)
            {
                final int i = claim();
                if (i >= 0)
                {
                    try
                    {
                        copy(i, reader, true);
                    }
                    catch (final Throwable ex)
                    {
                        // The slot is already back (as failed): this thread goes on for the next one.
                    }
                    idleSince = 0;
                    continue;
                }
                final long now = System.nanoTime();
                if (0 == idleSince)
                {
                    idleSince = now;
                }
                if (now - idleSince < HELPER_SPIN_NS)
                {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true; // then look again: a post between the look above and this write would be missed
                if (running && !anyReady())
                {
                    LockSupport.parkNanos(this, HELPER_PARK_NS);
                }
                parked = false;
                // Spin again only once there was work: a wake-up with nothing posted goes straight back to park.
            }
        }
    }
}
