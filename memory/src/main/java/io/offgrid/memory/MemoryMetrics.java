package io.offgrid.memory;

/**
 * A snapshot of a {@link BlockStore}'s memory, for heartbeats.
 *
 * @param memoryLimit   the budget in bytes.
 * @param managedBytes  bytes of blocks in memory.
 * @param spilledBytes  bytes of blocks on disk.
 * @param reservedBytes bytes reserved for blocks being written or read back.
 * @param releasedBytes bytes of removed blocks still held open by readers.
 * @param cachedBytes   bytes of freed large regions kept for reuse (counted against the limit).
 * @param blockCount    blocks stored (in memory or spilled).
 * @param spilledCount  blocks on disk.
 * @param paused        whether the store is past its pause fraction.
 * @param spillCount    blocks spilled so far.
 * @param spillBytes    bytes spilled so far.
 * @param unspillCount  blocks read back so far.
 * @param unspillBytes  bytes read back so far.
 * @param spillFailures spills that failed (I/O errors); the blocks stayed in memory.
 */
public record MemoryMetrics(
    long memoryLimit,
    long managedBytes,
    long spilledBytes,
    long reservedBytes,
    long releasedBytes,
    long cachedBytes,
    int blockCount,
    int spilledCount,
    boolean paused,
    long spillCount,
    long spillBytes,
    long unspillCount,
    long unspillBytes,
    long spillFailures)
{
}
