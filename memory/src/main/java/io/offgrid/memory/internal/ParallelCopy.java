package io.offgrid.memory.internal;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Large copies between Java arrays and native memory, shared with helper threads: the codecs' encode and decode of a
 * big primitive array. One core copies 256 MiB in 15-16 ms on this project's VM and two in 8-10 ms, and a client that
 * scatters or gathers a large array usually leaves the other cores idle meanwhile.
 * <p>
 * A copy of at least {@link #MIN_BYTES} is cut into {@link #CHUNK}-byte chunks. The calling thread publishes the job,
 * wakes the helpers and claims chunks itself; helpers claim chunks of any published job; the caller returns once
 * every chunk is copied. A helper that comes late finds nothing to claim, and the caller does every chunk itself when
 * no helper runs. However the caller leaves, it stops further claims and waits for the claimed chunks first, so no
 * helper writes memory its caller may free. Copies made inside {@link #callerOnly} (file mappings, where a full file
 * system faults inside the copy) stay on the caller. The job holds the arrays, so a garbage collection may move them
 * between chunks but never during one (each chunk is one {@code copyMemory}).
 * <p>
 * {@code -Doffgrid.memory.copyHelpers=N} sets the helper count (default: the processors less one, at most 3; 0 copies
 * on the caller only; at most 16), {@code -Doffgrid.memory.parallelCopyBytes=B} the smallest copy shared (default
 * 4 MiB, at least 1 MiB).
 */
public final class ParallelCopy
{
    /** Smallest copy shared with helpers (at least one chunk). */
    public static final long MIN_BYTES = Math.max(NativeMemory.COPY_SLICE, Long.getLong("offgrid.memory.parallelCopyBytes", 4L << 20));
    /** Helper threads, started at the first shared copy. */
    public static final int HELPERS = Math.max(0, Math.min(16, Integer.getInteger("offgrid.memory.copyHelpers",
        Math.min(3, Math.max(0, Runtime.getRuntime().availableProcessors() - 1)))));
    /** Bytes per claim: one {@code copyMemory} call, also the longest stretch without a safepoint poll. */
    static final long CHUNK = NativeMemory.COPY_SLICE;
    /** A helper with nothing to do spins this long before it parks: a chunk takes about 70 µs. */
    private static final long HELPER_SPIN_NS = 50_000;

    private static final ConcurrentLinkedQueue<Job> JOBS = new ConcurrentLinkedQueue<>();
    /** Set while a thread copies into or out of file mappings, which may fault: those copies stay on that thread. */
    private static final ThreadLocal<boolean[]> CALLER_ONLY = ThreadLocal.withInitial(() -> new boolean[1]);
    private static final Helper[] HELPER_STATES = new Helper[HELPERS];
    private static final AtomicLong SHARED_CHUNKS = new AtomicLong();

    private ParallelCopy()
    {
    }

    /**
     * Copy between an object (array or null for native) and another object or native memory, as
     * {@link NativeMemory#copy(Object, long, Object, long, long)}, sharing a large copy with helper threads.
     * Overlapping copies within one object are done by the caller alone.
     *
     * @param src       source array or null.
     * @param srcOffset source offset (array base offset plus index, or an address).
     * @param dst       destination array or null.
     * @param dstOffset destination offset.
     * @param length    bytes.
     */
    public static void copy(final Object src, final long srcOffset, final Object dst, final long dstOffset, final long length)
    {
        if (0 == HELPERS || length < MIN_BYTES ||
            (src == dst && srcOffset < dstOffset + length && dstOffset < srcOffset + length) || CALLER_ONLY.get()[0])
        {
            NativeMemory.copy(src, srcOffset, dst, dstOffset, length);
            return;
        }
        final Job job = new Job(src, srcOffset, dst, dstOffset, length);
        JOBS.add(job);
        try
        {
            wakeHelpers();
            job.work(false);
        }
        finally
        {
            // However this thread leaves (an error included), no chunk is claimed from here on, and it returns only
            // once the chunks already claimed are copied: its caller may free the memory at once.
            JOBS.remove(job);
            job.awaitClaimed();
        }
        job.throwIfFailed();
    }

    /**
     * Run {@code action} with every copy it makes on the calling thread: for memory mapped from files, where a
     * full file system shows up as a fault inside the copy, which must reach the thread that owns the memory.
     *
     * @param action the work.
     */
    public static void callerOnly(final Runnable action)
    {
        final boolean[] flag = CALLER_ONLY.get();
        final boolean was = flag[0];
        flag[0] = true;
        try
        {
            action.run();
        }
        finally
        {
            flag[0] = was;
        }
    }

    /** @return chunks copied by helper threads since the JVM started (tests, metrics). */
    public static long chunksByHelpers()
    {
        return SHARED_CHUNKS.get();
    }

    private static void wakeHelpers()
    {
        synchronized (HELPER_STATES)
        {
            for (int h = 0; h < HELPERS; h++)
            {
                if (null == HELPER_STATES[h])
                {
                    final Helper helper = new Helper();
                    final Thread thread = new Thread(helper, "offgrid-copy-" + h);
                    thread.setDaemon(true);
                    thread.setContextClassLoader(ParallelCopy.class.getClassLoader()); // not the first caller's
                    helper.thread = thread;
                    try
                    {
                        thread.start();
                    }
                    catch (final Throwable ex)
                    {
                        return; // no thread to be had (a process limit): the callers copy on their own
                    }
                    HELPER_STATES[h] = helper;
                }
                else if (HELPER_STATES[h].parked)
                {
                    LockSupport.unpark(HELPER_STATES[h].thread);
                }
            }
        }
    }

    private static final class Job
    {
        private final Object src;
        private final long srcOffset;
        private final Object dst;
        private final long dstOffset;
        private final long length;
        private final long chunks;
        private final AtomicLong next = new AtomicLong();
        private final AtomicLong done = new AtomicLong();
        volatile Throwable failure;

        Job(final Object src, final long srcOffset, final Object dst, final long dstOffset, final long length)
        {
            this.src = src;
            this.srcOffset = srcOffset;
            this.dst = dst;
            this.dstOffset = dstOffset;
            this.length = length;
            this.chunks = (length + CHUNK - 1) / CHUNK;
        }

        boolean hasWork()
        {
            return next.get() < chunks;
        }

        /** Claim and copy chunks until none is left. */
        void work(final boolean helper)
        {
            long c;
            while ((c = next.getAndIncrement()) < chunks)
            {
                final long at = c * CHUNK;
                try
                {
                    NativeMemory.copy(src, srcOffset + at, dst, dstOffset + at, Math.min(CHUNK, length - at));
                    if (helper)
                    {
                        SHARED_CHUNKS.incrementAndGet();
                    }
                }
                catch (final Throwable ex)
                {
                    failure = ex;
                }
                finally
                {
                    done.incrementAndGet();
                }
            }
        }

        /** Stop further claims, then wait until every chunk claimed so far is copied. */
        void awaitClaimed()
        {
            final long claimed = Math.min(chunks, next.getAndSet(Long.MAX_VALUE / 2));
            int spins = 0;
            while (done.get() < claimed)
            {
                if (++spins < 1000)
                {
                    Thread.onSpinWait();
                }
                else
                {
                    Thread.yield(); // a helper was preempted mid-chunk: let it run
                }
            }
        }

        void throwIfFailed()
        {
            final Throwable ex = failure;
            if (ex instanceof RuntimeException)
            {
                throw (RuntimeException)ex;
            }
            if (ex instanceof Error)
            {
                throw (Error)ex; // as the copy on the caller's own thread would have thrown it
            }
            if (null != ex)
            {
                throw new IllegalStateException("parallel copy failed", ex);
            }
        }
    }

    private static final class Helper implements Runnable
    {
        volatile boolean parked;
        Thread thread;

        public void run()
        {
            long idleSince = 0;
            while (true)
            {
                final Job job = nextJob();
                if (null != job)
                {
                    try
                    {
                        job.work(true);
                    }
                    catch (final Throwable ex)
                    {
                        // Surfaced after its chunk was counted (an asynchronous error): a caller still waiting sees
                        // it; one that has returned does not. File mappings, where such faults come from, stay on
                        // their caller (callerOnly).
                        job.failure = ex;
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
                parked = true; // then look again: a job published between the look above and this write would be missed
                if (null == nextJob())
                {
                    LockSupport.parkNanos(this, 1_000_000_000L);
                }
                parked = false;
            }
        }

        private static Job nextJob()
        {
            for (final Job job : JOBS)
            {
                if (job.hasWork())
                {
                    return job;
                }
            }
            return null;
        }
    }
}
