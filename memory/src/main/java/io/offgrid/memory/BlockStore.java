package io.offgrid.memory;

import io.offgrid.memory.internal.LargePages;
import io.offgrid.memory.internal.NativeMemory;
import io.offgrid.memory.internal.ParallelCopy;
import io.offgrid.memory.internal.NodeDirectories;
import io.offgrid.memory.internal.SpillFiles;
import org.agrona.BufferUtil;
import org.agrona.IoUtil;
import org.agrona.collections.Object2ObjectHashMap;
import org.agrona.concurrent.ManyToOneConcurrentLinkedQueue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * One worker's home for results: blocks of bytes in native memory under string keys, with a memory
 * budget, spilling of least-recently-used blocks to files (positional I/O, or memory-mapped on
 * request), and codecs that turn Java values into blocks and back.
 *
 * <h2>Memory</h2>
 * {@link #managedBytes()} is the sum of the lengths (16-byte header plus payload) of the blocks in
 * memory; each is one native allocation of exactly that length. Against the limit the store counts
 * managed bytes, bytes reserved for blocks being written or read back, and bytes of removed blocks
 * that readers still hold. Past the target fraction a background thread spills least-recently-used
 * blocks that no reader holds until the store is back under target; a put that takes the store
 * past the spill fraction spills on its own thread until it is back under it (back-pressure on
 * producers); past the pause fraction {@link #paused()} is true, so the worker stops starting
 * tasks. {@code paused()} and the byte counters are read without the lock, so a store busy spilling
 * still answers at once. A block that cannot fit even after spilling everything spillable fails with
 * {@link MemoryLimitExceededException} and the store is unchanged.
 *
 * <h2>Threads</h2>
 * Every method is thread-safe: the worker's event-loop thread and its executor threads share one
 * store. Metadata changes take one short lock; encoding, copying and file I/O run outside it, so a
 * long spill never blocks readers of other blocks. Handles from {@link #get(String)} pin their block
 * (no spill, no free) until closed; close each exactly once.
 *
 * <h2>Files</h2>
 * Spill files live in {@code <spillDirectory>/<name>.<pid>}, one per spilled block, deleted when the
 * block is read back or removed; the directory is deleted on close, and directories of dead
 * processes are removed at start. Blocks at least {@link Context#sharedMemoryThreshold(long)} long
 * live in files under {@code <sharedMemoryDirectory>/<name>.<pid>} so that another process on the
 * host can map and copy them ({@link Block#sharedLocation()}).
 */
public final class BlockStore implements AutoCloseable
{
    /** Length of the header in front of every block's payload. */
    public static final int HEADER_LENGTH = 16;

    private static final AtomicInteger STORE_IDS = new AtomicInteger();

    private final Context ctx;
    private final CodecRegistry codecs;
    private final long limit;
    private final long targetBytes;
    private final long spillBytesThreshold;
    private final long pauseBytes;
    private final Path spillDir;
    private final Path sharedDir;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Condition spillWanted = lock.newCondition();
    private static final long BACKGROUND_RELEASE_MIN_LENGTH = 1024 * 1024;
    private final Object2ObjectHashMap<String, StoredBlock> blocks = new Object2ObjectHashMap<>();
    /** LRU ring: lru.next is the least recently used block in memory, lru.prev the most recent. */
    private final StoredBlock lru;
    private final Thread spiller;
    private final RegionCache regions;
    private final Thread releaser;
    private final ManyToOneConcurrentLinkedQueue<long[]> toRelease = new ManyToOneConcurrentLinkedQueue<>();
    private final Semaphore releaseSignal = new Semaphore(0);

    // Written under the lock, read without it.
    private volatile long managed;
    private volatile long spilled;
    private volatile long reserved;
    private volatile long released;
    /** Bytes handed to the background releaser and not yet given back to the OS: still counted against the limit. */
    private volatile long releasing;
    private volatile boolean paused;
    private volatile int spilledCount;
    private volatile long spillCount;
    private volatile long spillBytes;
    private volatile long unspillCount;
    private volatile long unspillBytes;
    private volatile long spillFailures;
    private int spillsInFlight;
    private long fileSequence;
    private boolean closed;

    /**
     * Start a store; the context is concluded here.
     *
     * @param ctx configuration.
     */
    public BlockStore(final Context ctx)
    {
        this.ctx = ctx.conclude();
        this.codecs = ctx.codecs();
        this.limit = ctx.memoryLimit();
        this.targetBytes = (long)(limit * ctx.targetFraction());
        this.spillBytesThreshold = (long)(limit * ctx.spillFraction());
        this.pauseBytes = (long)(limit * ctx.pauseFraction());
        this.regions = new RegionCache(ctx.regionCacheBytes(), 1 << 20);
        LargePages.preload(); // ready by the first large block: a region allocated before stays on 4 KiB pages
        this.lru = new StoredBlock(this, "", 0);
        lru.next = lru;
        lru.prev = lru;
        try
        {
            this.spillDir = NodeDirectories.create(ctx.spillDirectory(), ctx.name());
            this.sharedDir = ctx.sharedMemoryThreshold() == Long.MAX_VALUE ?
                null : NodeDirectories.create(ctx.sharedMemoryDirectory(), ctx.name());
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create the store's directories", ex);
        }
        if (ctx.backgroundSpill())
        {
            spiller = new Thread(this::spillLoop, "offgrid-spill-" + ctx.name());
            spiller.setDaemon(true);
            spiller.start();
        }
        else
        {
            spiller = null;
        }
        if (ctx.backgroundRelease())
        {
            releaser = new Thread(this::releaseLoop, "offgrid-release-" + ctx.name());
            releaser.setDaemon(true);
            releaser.start();
        }
        else
        {
            releaser = null;
        }
    }

    /**
     * @return the concluded configuration.
     */
    public Context context()
    {
        return ctx;
    }

    /**
     * @return the codecs this store encodes and decodes with.
     */
    public CodecRegistry codecs()
    {
        return codecs;
    }

    /**
     * @return this store's spill directory (deleted on close).
     */
    public Path spillDirectory()
    {
        return spillDir;
    }

    /**
     * @return this store's shared-memory directory, or null when no block goes there.
     */
    public Path sharedMemoryDirectory()
    {
        return sharedDir;
    }

    // ----------------------------------------------------------------------------------------- put

    /**
     * Store {@code value} under {@code key} with the codec the registry picks, replacing any block
     * stored there (freed when its last reader lets go).
     *
     * @param key   the key.
     * @param value the value, null included.
     * @throws MemoryLimitExceededException if it cannot fit; the store is unchanged.
     * @throws CodecException               if no codec takes the value.
     */
    public void put(final String key, final Object value)
    {
        put(key, value, codecs.codecFor(value));
    }

    /**
     * Store {@code value} under {@code key} with the given codec.
     *
     * @param key   the key.
     * @param value the value.
     * @param codec its codec; its id goes in the block header.
     * @param <T>   value type.
     */
    public <T> void put(final String key, final T value, final Codec<? super T> codec)
    {
        Objects.requireNonNull(key, "key");
        final long payload = codec.encodedLength(value);
        final StoredBlock block = allocate(key, HEADER_LENGTH + payload);
        boolean encoded = false;
        try
        {
            block.writeHeader(codec.id());
            if (null != block.sharedFile)
            {
                // A file mapping: a full /dev/shm faults inside the copy, on the thread making it, so keep it here.
                ParallelCopy.callerOnly(() -> codec.encode(value, block.writablePayload(), 0));
            }
            else
            {
                codec.encode(value, block.writablePayload(), 0);
            }
            encoded = true;
        }
        finally
        {
            if (!encoded)
            {
                abandon(block);
            }
        }
        commit(block);
    }

    /**
     * Set aside memory for a whole block (header and payload) that arrives as raw bytes.
     *
     * @param key    the key it will be stored under.
     * @param length bytes of the whole block, at least {@link #HEADER_LENGTH}.
     * @return the reservation to fill and commit.
     * @throws MemoryLimitExceededException if it cannot fit.
     */
    public BlockReservation reserve(final String key, final long length)
    {
        Objects.requireNonNull(key, "key");
        if (length < HEADER_LENGTH)
        {
            throw new IllegalArgumentException("a block is at least " + HEADER_LENGTH + " bytes: " + length);
        }
        return new BlockReservation(this, allocate(key, length));
    }

    /**
     * Copy a block that another process on this host holds in shared memory into this store, with
     * one memory copy, and check its CRC32C if its header carries one.
     *
     * @param key      the key to store it under.
     * @param location where the other process holds it.
     * @throws UncheckedIOException  if the file cannot be mapped.
     * @throws CorruptBlockException if the bytes do not match their checksum.
     */
    public void importShared(final String key, final SharedBlockLocation location)
    {
        final StoredBlock block = allocate(key, location.length());
        try
        {
            SpillFiles.copyFrom(location.file(), location.offset(), location.length(), block.address);
        }
        catch (final IOException ex)
        {
            abandon(block);
            throw new UncheckedIOException("cannot map shared block " + location, ex);
        }
        commitReceived(block, location.file().toString());
    }

    // ----------------------------------------------------------------------------------------- get

    /**
     * A handle on the block under {@code key}, read back from disk first if it was spilled. The
     * block stays in memory and valid until the handle is closed.
     *
     * @param key the key.
     * @return an open handle; close it exactly once.
     * @throws UnknownBlockException        if nothing is stored under the key.
     * @throws MemoryLimitExceededException if a spilled block cannot be read back for lack of room.
     * @throws CorruptBlockException        if a spilled block's bytes were damaged on disk.
     */
    public Block get(final String key)
    {
        Objects.requireNonNull(key, "key");
        lock.lock();
        try
        {
            while (true)
            {
                checkOpen();
                final StoredBlock block = blocks.get(key);
                if (block == null)
                {
                    throw new UnknownBlockException(key);
                }
                switch (block.state)
                {
                    case StoredBlock.MEMORY:
                        block.refCount++;
                        unlink(block);
                        linkMostRecent(block);
                        return block;
                    case StoredBlock.SPILLING:
                        block.refCount++;
                        return block;
                    case StoredBlock.SPILLED:
                        unspillLocked(block);
                        break;
                    default:
                        changed.awaitUninterruptibly();
                        break;
                }
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Decode the value under {@code key} onto the heap.
     *
     * @param key the key.
     * @param <T> expected type.
     * @return the value.
     */
    @SuppressWarnings("unchecked")
    public <T> T getValue(final String key)
    {
        try (Block block = get(key))
        {
            final Codec<Object> codec = codecs.codecFor(block.codecId());
            return (T)codec.decode(block.payload(), 0, (int)block.payloadLength());
        }
    }

    // ------------------------------------------------------------------------------------- queries

    /**
     * @param key the key.
     * @return whether a block is stored under it (in memory or spilled).
     */
    public boolean contains(final String key)
    {
        lock.lock();
        try
        {
            return blocks.containsKey(key);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return a snapshot of the stored keys.
     */
    public List<String> keys()
    {
        lock.lock();
        try
        {
            return new ArrayList<>(blocks.keySet());
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @param key the key.
     * @return bytes of the block (header and payload), wherever it is.
     * @throws UnknownBlockException if nothing is stored under the key.
     */
    public long nbytes(final String key)
    {
        lock.lock();
        try
        {
            final StoredBlock block = blocks.get(key);
            if (block == null)
            {
                throw new UnknownBlockException(key);
            }
            return block.length;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @param key the key.
     * @return whether the block is spilled to disk now.
     */
    public boolean isSpilled(final String key)
    {
        lock.lock();
        try
        {
            final StoredBlock block = blocks.get(key);
            return block != null && (block.state == StoredBlock.SPILLED || block.state == StoredBlock.UNSPILLING);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return bytes of the blocks in memory; read without locking.
     */
    public long managedBytes()
    {
        return managed;
    }

    /**
     * @return bytes of the blocks spilled to disk; read without locking.
     */
    public long spilledBytes()
    {
        return spilled;
    }

    /**
     * @return whether memory use is past the pause fraction; read without locking, so it answers at
     * once even while the store is busy spilling.
     */
    public boolean paused()
    {
        return paused;
    }

    /**
     * @return the memory limit in bytes.
     */
    public long memoryLimit()
    {
        return limit;
    }

    /**
     * @return a snapshot for heartbeats.
     */
    public MemoryMetrics metrics()
    {
        lock.lock();
        try
        {
            return new MemoryMetrics(limit, managed, spilled, reserved, released, regions.cachedBytes(),
                blocks.size(), spilledCount,
                paused, spillCount, spillBytes, unspillCount, unspillBytes, spillFailures);
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Spill one block to disk now, as the budget would (for operators and benchmarks).
     *
     * @param key the key.
     * @return true if the block was written out; false if it is in use, already on disk, or the
     * write failed (then it stays in memory).
     * @throws UnknownBlockException if nothing is stored under the key.
     */
    public boolean spill(final String key)
    {
        lock.lock();
        try
        {
            checkOpen();
            final StoredBlock block = blocks.get(key);
            if (block == null)
            {
                throw new UnknownBlockException(key);
            }
            if (block.state != StoredBlock.MEMORY || block.refCount > 0)
            {
                return false;
            }
            return spillLocked(block) && block.state == StoredBlock.SPILLED;
        }
        finally
        {
            lock.unlock();
        }
    }

    // -------------------------------------------------------------------------------------- remove

    /**
     * Remove the block under {@code key}: its memory is freed now, or when the last reader closes
     * its handle; a spill file is deleted now.
     *
     * @param key the key.
     * @return whether a block was stored under it.
     */
    public boolean remove(final String key)
    {
        lock.lock();
        try
        {
            final StoredBlock block = blocks.remove(key);
            if (block == null)
            {
                return false;
            }
            detachLocked(block);
            refreshPaused();
            changed.signalAll();
            return true;
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Remove every block. Blocks held by readers are freed when their handles close.
     */
    public void clear()
    {
        lock.lock();
        try
        {
            for (final StoredBlock block : blocks.values())
            {
                detachLocked(block);
            }
            blocks.clear();
            refreshPaused();
            changed.signalAll();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Stop the spill thread, free every block no reader holds (the rest when their handles close),
     * and delete the store's spill and shared-memory directories.
     */
    @Override
    public void close()
    {
        lock.lock();
        try
        {
            if (closed)
            {
                return;
            }
            closed = true;
            spillWanted.signalAll();
        }
        finally
        {
            lock.unlock();
        }
        if (spiller != null)
        {
            boolean interrupted = false;
            while (spiller.isAlive())
            {
                try
                {
                    spiller.join();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true;
                }
            }
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
        lock.lock();
        try
        {
            for (final StoredBlock block : blocks.values())
            {
                detachLocked(block);
            }
            blocks.clear();
            while (spillsInFlight > 0)
            {
                changed.awaitUninterruptibly();
            }
            regions.clear();
            refreshPaused();
        }
        finally
        {
            lock.unlock();
        }
        if (null != releaser)
        {
            releaseSignal.release(); // wakes it to drain what is left and stop (closed is set)
            boolean interrupted = false;
            while (releaser.isAlive())
            {
                try
                {
                    releaser.join();
                }
                catch (final InterruptedException ex)
                {
                    interrupted = true;
                }
            }
            if (interrupted)
            {
                Thread.currentThread().interrupt();
            }
        }
        NodeDirectories.deleteWithEmptyParent(spillDir);
        if (sharedDir != null)
        {
            NodeDirectories.deleteWithEmptyParent(sharedDir);
        }
    }

    // ------------------------------------------------------------------------------------ internals

    private StoredBlock allocate(final String key, final long length)
    {
        final long reused;
        lock.lock();
        try
        {
            checkOpen();
            reused = reserveLocked(key, length);
        }
        finally
        {
            lock.unlock();
        }
        final StoredBlock block = new StoredBlock(this, key, length);
        try
        {
            allocateMemory(block, reused);
        }
        catch (final Throwable t)
        {
            unreserve(length);
            throw t;
        }
        return block;
    }

    private void allocateMemory(final StoredBlock block, final long reused)
    {
        if (reused != 0)
        {
            block.address = reused;
        }
        else if (block.length >= ctx.sharedMemoryThreshold() && block.length <= Integer.MAX_VALUE && sharedDir != null)
        {
            final Path file;
            lock.lock();
            try
            {
                file = sharedDir.resolve((++fileSequence) + ".blk");
            }
            finally
            {
                lock.unlock();
            }
            try (FileChannel channel = FileChannel.open(
                file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE))
            {
                final MappedByteBuffer mapping = channel.map(FileChannel.MapMode.READ_WRITE, 0, block.length);
                block.mapping = mapping;
                block.sharedFile = file;
                block.address = BufferUtil.address(mapping);
            }
            catch (final IOException ex)
            {
                try
                {
                    Files.deleteIfExists(file);
                }
                catch (final IOException ignore)
                {
                    // Reported through the exception below.
                }
                throw new UncheckedIOException("cannot create shared-memory block " + file, ex);
            }
        }
        else
        {
            block.address = NativeMemory.allocate(block.length);
        }
        block.wrapPayload();
    }

    private void freeMemory(final StoredBlock block)
    {
        if (block.mapping != null)
        {
            IoUtil.unmap(block.mapping);
            block.mapping = null;
            deleteQuietly(block.sharedFile);
            block.sharedFile = null;
        }
        else if (closed || !regions.offer(block.address, block.length))
        {
            if (null != releaser && !closed && block.length >= BACKGROUND_RELEASE_MIN_LENGTH)
            {
                // Giving a large region back to the OS costs milliseconds (page release): not on the caller's
                // thread, which may be a node's event loop, and not under the lock.
                releasing += block.length;
                toRelease.offer(new long[]{block.address, block.length});
                releaseSignal.release();
            }
            else
            {
                NativeMemory.free(block.address, block.length);
            }
        }
        block.address = 0;
    }

    private void unreserve(final long length)
    {
        lock.lock();
        try
        {
            reserved -= length;
            refreshPaused();
            changed.signalAll();
        }
        finally
        {
            lock.unlock();
        }
    }

    /** A block whose write failed or that a reservation gave up: free it, nothing stored. */
    void abandon(final StoredBlock block)
    {
        lock.lock();
        try
        {
            freeMemory(block);
            reserved -= block.length;
            refreshPaused();
            changed.signalAll();
        }
        finally
        {
            lock.unlock();
        }
    }

    void commitReceived(final StoredBlock block, final String source)
    {
        if (block.hasChecksum())
        {
            final int actual = block.computeChecksum();
            if (actual != block.storedChecksum())
            {
                final int expected = block.storedChecksum();
                abandon(block);
                throw new CorruptBlockException(block.key, source, expected, actual);
            }
        }
        commit(block);
    }

    private void commit(final StoredBlock block)
    {
        final long used;
        lock.lock();
        try
        {
            reserved -= block.length;
            if (closed)
            {
                freeMemory(block);
                refreshPaused();
                throw new IllegalStateException("block store '" + ctx.name() + "' is closed");
            }
            managed += block.length;
            block.state = StoredBlock.MEMORY;
            linkMostRecent(block);
            final StoredBlock previous = blocks.put(block.key, block);
            if (previous != null)
            {
                detachLocked(previous);
            }
            refreshPaused();
            used = used();
            if (used > targetBytes)
            {
                spillWanted.signal();
            }
        }
        finally
        {
            lock.unlock();
        }
        if (used > spillBytesThreshold)
        {
            spillDownTo(spillBytesThreshold);
        }
    }

    /** Back-pressure: the producing thread spills until the store is back under {@code goal}. */
    private void spillDownTo(final long goal)
    {
        lock.lock();
        try
        {
            while (!closed && used() > goal)
            {
                if (regions.cachedBytes() > 0)
                {
                    regions.evict(used() - goal);
                    continue;
                }
                final StoredBlock victim = leastRecentUnused();
                if (victim == null || !spillLocked(victim))
                {
                    return;
                }
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    void release(final StoredBlock block)
    {
        lock.lock();
        try
        {
            if (block.refCount <= 0)
            {
                throw new IllegalStateException("block '" + block.key + "' handle closed more than once");
            }
            block.refCount--;
            if (block.refCount == 0)
            {
                if (block.state == StoredBlock.REMOVED)
                {
                    freeIfUnreadLocked(block);
                    refreshPaused();
                    changed.signalAll();
                }
                else if (block.state == StoredBlock.MEMORY && used() > targetBytes)
                {
                    spillWanted.signal();
                }
            }
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * Take {@code length} bytes of budget, giving back cached regions, spilling and waiting for
     * spills as needed.
     *
     * @return a cached region of exactly that length to reuse, or 0 to allocate fresh memory.
     */
    private long reserveLocked(final String key, final long length)
    {
        final long reused = regions.take(length);
        if (reused != 0)
        {
            reserved += length;
            refreshPaused();
            return reused;
        }
        while (used() + length > limit)
        {
            if (length > limit)
            {
                throw new MemoryLimitExceededException(key, length, limit, 0);
            }
            final long freed = regions.take(length);
            if (freed != 0)
            {
                // A spill just gave back a region of this very length: reuse it.
                reserved += length;
                refreshPaused();
                return freed;
            }
            if (regions.cachedBytes() > 0)
            {
                regions.evict(used() + length - limit);
                continue;
            }
            if (releasing > 0)
            {
                changed.awaitUninterruptibly(); // memory on its way back to the OS: wait for it rather than spill
                checkOpen();
                continue;
            }
            final StoredBlock victim = leastRecentUnused();
            if (victim != null)
            {
                if (!spillLocked(victim))
                {
                    throw new MemoryLimitExceededException(key, length, limit, used());
                }
            }
            else if (spillsInFlight > 0)
            {
                changed.awaitUninterruptibly();
            }
            else
            {
                throw new MemoryLimitExceededException(key, length, limit, used());
            }
            checkOpen();
        }
        reserved += length;
        refreshPaused();
        return 0;
    }

    private StoredBlock leastRecentUnused()
    {
        for (StoredBlock b = lru.next; b != lru; b = b.next)
        {
            if (b.refCount == 0)
            {
                return b;
            }
        }
        return null;
    }

    /**
     * Spill one block; the lock is released during the file write and held again on return.
     *
     * @return false if the write failed (the block stays in memory).
     */
    private boolean spillLocked(final StoredBlock block)
    {
        block.state = StoredBlock.SPILLING;
        block.refCount++;
        unlink(block);
        spillsInFlight++;
        final Path file = spillDir.resolve((++fileSequence) + ".spill");
        Throwable failure = null;
        lock.unlock();
        try
        {
            final Consumer<String> hook = ctx.spillHook;
            if (hook != null)
            {
                hook.accept(block.key);
            }
            block.checksum();
            SpillFiles.write(file, block.address, block.length, ctx.mappedSpill());
        }
        catch (final IOException | RuntimeException ex)
        {
            failure = ex;
        }
        finally
        {
            lock.lock();
        }
        spillsInFlight--;
        block.refCount--;
        try
        {
            if (block.state == StoredBlock.REMOVED)
            {
                if (failure == null)
                {
                    deleteQuietly(file);
                }
                freeIfUnreadLocked(block);
                return failure == null;
            }
            if (failure != null)
            {
                spillFailures++;
                block.state = StoredBlock.MEMORY;
                linkLeastRecent(block);
                return false;
            }
            if (block.refCount > 0)
            {
                // Readers arrived while it was written: it is in use, so it stays in memory.
                deleteQuietly(file);
                block.state = StoredBlock.MEMORY;
                linkMostRecent(block);
                return true;
            }
            freeMemory(block);
            block.spillFile = file;
            block.state = StoredBlock.SPILLED;
            managed -= block.length;
            spilled += block.length;
            spilledCount++;
            spillCount++;
            spillBytes += block.length;
            return true;
        }
        finally
        {
            refreshPaused();
            changed.signalAll();
        }
    }

    /** Read a spilled block back; the lock is released during the read and held again on return. */
    private void unspillLocked(final StoredBlock block)
    {
        block.state = StoredBlock.UNSPILLING;
        final long reused;
        try
        {
            reused = reserveLocked(block.key, block.length);
        }
        catch (final RuntimeException ex)
        {
            block.state = StoredBlock.SPILLED;
            changed.signalAll();
            throw ex;
        }
        final Path file = block.spillFile;
        RuntimeException failure = null;
        lock.unlock();
        try
        {
            allocateMemory(block, reused);
            SpillFiles.read(file, block.address, block.length, ctx.mappedSpill());
            if (block.hasChecksum())
            {
                final int actual = block.computeChecksum();
                if (actual != block.storedChecksum())
                {
                    failure = new CorruptBlockException(block.key, "spill file " + file, block.storedChecksum(), actual);
                }
            }
        }
        catch (final IOException ex)
        {
            failure = new UncheckedIOException("cannot read spill file " + file + " of '" + block.key + "'", ex);
        }
        catch (final RuntimeException ex)
        {
            failure = ex;
        }
        finally
        {
            lock.lock();
        }
        reserved -= block.length;
        try
        {
            if (failure != null || block.state == StoredBlock.REMOVED)
            {
                if (block.address != 0)
                {
                    freeMemory(block);
                }
                if (block.state == StoredBlock.REMOVED)
                {
                    deleteQuietly(file);
                    throw new UnknownBlockException(block.key);
                }
                block.state = StoredBlock.SPILLED;
                throw failure;
            }
            deleteQuietly(file);
            block.spillFile = null;
            block.state = StoredBlock.MEMORY;
            spilled -= block.length;
            spilledCount--;
            managed += block.length;
            unspillCount++;
            unspillBytes += block.length;
            linkMostRecent(block);
        }
        finally
        {
            refreshPaused();
            changed.signalAll();
        }
    }

    /** Take a block out of the accounts after it left the map (removed, replaced, cleared). */
    private void detachLocked(final StoredBlock block)
    {
        switch (block.state)
        {
            case StoredBlock.MEMORY:
                unlink(block);
                managed -= block.length;
                released += block.length;
                block.state = StoredBlock.REMOVED;
                freeIfUnreadLocked(block);
                break;
            case StoredBlock.SPILLING:
                managed -= block.length;
                released += block.length;
                block.state = StoredBlock.REMOVED;
                break;
            case StoredBlock.SPILLED:
                spilled -= block.length;
                spilledCount--;
                deleteQuietly(block.spillFile);
                block.spillFile = null;
                block.state = StoredBlock.REMOVED;
                break;
            case StoredBlock.UNSPILLING:
                // The reading thread deletes the file and frees what it read when it sees REMOVED.
                spilled -= block.length;
                spilledCount--;
                block.state = StoredBlock.REMOVED;
                break;
            default:
                throw new IllegalStateException("detaching block '" + block.key + "' in state " + block.state);
        }
    }

    private void freeIfUnreadLocked(final StoredBlock block)
    {
        if (block.refCount == 0 && block.address != 0)
        {
            freeMemory(block);
            released -= block.length;
        }
    }

    private void spillLoop()
    {
        lock.lock();
        try
        {
            while (!closed)
            {
                if (used() > targetBytes && regions.cachedBytes() > 0)
                {
                    regions.evict(used() - targetBytes);
                    refreshPaused();
                    continue;
                }
                if (used() > targetBytes)
                {
                    final StoredBlock victim = leastRecentUnused();
                    if (victim != null)
                    {
                        if (!spillLocked(victim))
                        {
                            // A failing disk: retry later instead of spinning on it.
                            spillWanted.awaitNanos(TimeUnit.MILLISECONDS.toNanos(100));
                        }
                        continue;
                    }
                }
                spillWanted.awaitNanos(TimeUnit.MILLISECONDS.toNanos(100));
            }
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        finally
        {
            lock.unlock();
        }
    }

    /** The background releaser: frees large regions handed over by {@link #freeMemory}; drains and stops at close. */
    private void releaseLoop()
    {
        while (true)
        {
            releaseSignal.acquireUninterruptibly();
            long[] region;
            long freed = 0;
            while (null != (region = toRelease.poll()))
            {
                NativeMemory.free(region[0], region[1]);
                freed += region[1];
            }
            if (freed > 0)
            {
                lock.lock();
                try
                {
                    releasing -= freed;
                    refreshPaused();
                    changed.signalAll();
                }
                finally
                {
                    lock.unlock();
                }
            }
            if (closedForRelease())
            {
                return;
            }
        }
    }

    private boolean closedForRelease()
    {
        lock.lock();
        try
        {
            return closed && toRelease.isEmpty();
        }
        finally
        {
            lock.unlock();
        }
    }

    /**
     * @return bytes of removed blocks the background releaser has not yet given back to the OS (counted against
     * the limit until it has); 0 without background release.
     */
    public long releasingBytes()
    {
        return releasing;
    }

    private long used()
    {
        return managed + reserved + released + releasing + regions.cachedBytes();
    }

    private void refreshPaused()
    {
        final boolean now = used() > pauseBytes;
        if (now != paused)
        {
            paused = now;
        }
    }

    private void checkOpen()
    {
        if (closed)
        {
            throw new IllegalStateException("block store '" + ctx.name() + "' is closed");
        }
    }

    private void unlink(final StoredBlock block)
    {
        if (block.next != null)
        {
            block.prev.next = block.next;
            block.next.prev = block.prev;
            block.next = null;
            block.prev = null;
        }
    }

    private void linkMostRecent(final StoredBlock block)
    {
        block.prev = lru.prev;
        block.next = lru;
        lru.prev.next = block;
        lru.prev = block;
    }

    private void linkLeastRecent(final StoredBlock block)
    {
        block.next = lru.next;
        block.prev = lru;
        lru.next.prev = block;
        lru.next = block;
    }

    private static void deleteQuietly(final Path file)
    {
        if (file != null)
        {
            try
            {
                Files.deleteIfExists(file);
            }
            catch (final IOException ignore)
            {
                // The directory goes at close; a file we could not delete goes with it.
            }
        }
    }

    /**
     * Configuration of a {@link BlockStore}, with defaults; validated by {@link #conclude()}.
     */
    public static final class Context
    {
        private String name;
        private long memoryLimit = defaultMemoryLimit();
        private double targetFraction = 0.60;
        private double spillFraction = 0.70;
        private double pauseFraction = 0.80;
        private Path spillDirectory = Paths.get(System.getProperty("java.io.tmpdir"), "offgrid-spill");
        private Path sharedMemoryDirectory = Paths.get("/dev/shm", "offgrid-blocks");
        private long sharedMemoryThreshold = Long.MAX_VALUE;
        private CodecRegistry codecs;
        private boolean backgroundSpill = true;
        private boolean backgroundRelease;
        private boolean mappedSpill;
        private long regionCacheBytes = -1;
        Consumer<String> spillHook;

        /**
         * Bytes of freed large regions (1 MiB and up) kept for reuse by blocks of the same length,
         * which then skip first-touch page faults. Counted against the limit and given back first
         * when room is needed. Default: an eighth of the memory limit; 0 turns it off.
         *
         * @param bytes the cache's capacity.
         * @return this.
         */
        public Context regionCacheBytes(final long bytes)
        {
            this.regionCacheBytes = bytes;
            return this;
        }

        /**
         * @return the region cache's capacity in bytes.
         */
        public long regionCacheBytes()
        {
            return regionCacheBytes;
        }

        /**
         * @param mapped write and read spill files through memory mappings instead of positional
         *               FileChannel I/O. Default false: measured 3-5x slower here (README).
         * @return this.
         */
        public Context mappedSpill(final boolean mapped)
        {
            this.mappedSpill = mapped;
            return this;
        }

        /**
         * @return whether spill files are memory-mapped.
         */
        public boolean mappedSpill()
        {
            return mappedSpill;
        }

        /**
         * @param name the store's name, used in directory and thread names (letters, digits, - and _).
         * @return this.
         */
        public Context name(final String name)
        {
            this.name = name;
            return this;
        }

        /**
         * @return the store's name.
         */
        public String name()
        {
            return name;
        }

        /**
         * @param bytes the memory budget. Default: half the machine's physical memory.
         * @return this.
         */
        public Context memoryLimit(final long bytes)
        {
            this.memoryLimit = bytes;
            return this;
        }

        /**
         * @return the memory budget in bytes.
         */
        public long memoryLimit()
        {
            return memoryLimit;
        }

        /**
         * @param fraction of the limit past which blocks are spilled in the background. Default 0.60.
         * @return this.
         */
        public Context targetFraction(final double fraction)
        {
            this.targetFraction = fraction;
            return this;
        }

        /**
         * @return the target fraction.
         */
        public double targetFraction()
        {
            return targetFraction;
        }

        /**
         * @param fraction of the limit past which producers spill on their own thread. Default 0.70.
         * @return this.
         */
        public Context spillFraction(final double fraction)
        {
            this.spillFraction = fraction;
            return this;
        }

        /**
         * @return the spill fraction.
         */
        public double spillFraction()
        {
            return spillFraction;
        }

        /**
         * @param fraction of the limit past which the store reports paused. Default 0.80.
         * @return this.
         */
        public Context pauseFraction(final double fraction)
        {
            this.pauseFraction = fraction;
            return this;
        }

        /**
         * @return the pause fraction.
         */
        public double pauseFraction()
        {
            return pauseFraction;
        }

        /**
         * @param dir parent of per-store spill directories. Default {@code $java.io.tmpdir/offgrid-spill}.
         * @return this.
         */
        public Context spillDirectory(final Path dir)
        {
            this.spillDirectory = dir;
            return this;
        }

        /**
         * @return parent of per-store spill directories.
         */
        public Path spillDirectory()
        {
            return spillDirectory;
        }

        /**
         * @param dir parent of per-store shared-memory directories. Default {@code /dev/shm/offgrid-blocks}.
         * @return this.
         */
        public Context sharedMemoryDirectory(final Path dir)
        {
            this.sharedMemoryDirectory = dir;
            return this;
        }

        /**
         * @return parent of per-store shared-memory directories.
         */
        public Path sharedMemoryDirectory()
        {
            return sharedMemoryDirectory;
        }

        /**
         * Blocks at least this long live in shared-memory files that other processes on the host
         * can map; {@code Long.MAX_VALUE} (the default) keeps every block in private memory.
         *
         * @param bytes the threshold.
         * @return this.
         */
        public Context sharedMemoryThreshold(final long bytes)
        {
            this.sharedMemoryThreshold = bytes;
            return this;
        }

        /**
         * @return the shared-memory threshold.
         */
        public long sharedMemoryThreshold()
        {
            return sharedMemoryThreshold;
        }

        /**
         * @param codecs the codec registry. Default: built-ins, Java serialization off.
         * @return this.
         */
        public Context codecs(final CodecRegistry codecs)
        {
            this.codecs = codecs;
            return this;
        }

        /**
         * @return the codec registry.
         */
        public CodecRegistry codecs()
        {
            return codecs;
        }

        /**
         * @param enabled whether a background thread spills down to the target. Default true.
         * @return this.
         */
        public Context backgroundSpill(final boolean enabled)
        {
            this.backgroundSpill = enabled;
            return this;
        }

        /**
         * @return whether a background thread spills.
         */
        public boolean backgroundSpill()
        {
            return backgroundSpill;
        }

        /**
         * @param enabled whether removed blocks of 1 MiB and more are given back to the OS by a background thread
         *                (giving back 512 MiB takes ~30 ms here), so {@link #remove} returns at once. Until it
         *                has, the bytes count against the limit ({@link BlockStore#releasingBytes()}) and an
         *                allocation that needs them waits. Default false; workers turn it on.
         * @return this.
         */
        public Context backgroundRelease(final boolean enabled)
        {
            this.backgroundRelease = enabled;
            return this;
        }

        /**
         * @return whether a background thread gives large freed regions back to the OS.
         */
        public boolean backgroundRelease()
        {
            return backgroundRelease;
        }

        /** Test seam: runs on the spilling thread before each block is written. */
        Context spillHook(final Consumer<String> hook)
        {
            this.spillHook = hook;
            return this;
        }

        /**
         * Fill in defaults and validate.
         *
         * @return this.
         * @throws IllegalArgumentException naming the first bad setting.
         */
        public Context conclude()
        {
            if (name == null)
            {
                name = "store-" + STORE_IDS.incrementAndGet();
            }
            if (!name.matches("[A-Za-z0-9_-]+"))
            {
                throw new IllegalArgumentException("store name must be letters, digits, - or _: '" + name + "'");
            }
            if (memoryLimit <= HEADER_LENGTH)
            {
                throw new IllegalArgumentException("memoryLimit must be positive: " + memoryLimit);
            }
            if (!(targetFraction > 0 && targetFraction <= spillFraction && spillFraction <= pauseFraction &&
                pauseFraction <= 1.0))
            {
                throw new IllegalArgumentException("fractions must satisfy 0 < target <= spill <= pause <= 1: " +
                    targetFraction + ", " + spillFraction + ", " + pauseFraction);
            }
            if (sharedMemoryThreshold < 0)
            {
                throw new IllegalArgumentException("sharedMemoryThreshold must be >= 0: " + sharedMemoryThreshold);
            }
            Objects.requireNonNull(spillDirectory, "spillDirectory");
            Objects.requireNonNull(sharedMemoryDirectory, "sharedMemoryDirectory");
            if (codecs == null)
            {
                codecs = new CodecRegistry();
            }
            if (regionCacheBytes < 0)
            {
                regionCacheBytes = memoryLimit / 8;
            }
            return this;
        }

        private static long defaultMemoryLimit()
        {
            final java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
            if (os instanceof com.sun.management.OperatingSystemMXBean)
            {
                return ((com.sun.management.OperatingSystemMXBean)os).getTotalMemorySize() / 2;
            }
            return 4L << 30;
        }
    }
}
