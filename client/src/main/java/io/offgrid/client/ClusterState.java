package io.offgrid.client;

import java.util.List;

/**
 * A snapshot of the cluster, from {@link Client#info()}.
 *
 * @param workers   the workers.
 * @param taskCount keys the scheduler currently tracks.
 */
public record ClusterState(List<WorkerInfo> workers, long taskCount)
{
    /**
     * One worker, as its last heartbeat reported it.
     *
     * @param id           node id.
     * @param address      host:port it listens on.
     * @param threads      executor threads.
     * @param memoryLimit  its block store's limit in bytes.
     * @param managedBytes bytes of results in memory.
     * @param spilledBytes bytes of results spilled to disk.
     * @param paused       whether it stopped starting tasks (memory past its pause fraction).
     */
    public record WorkerInfo(
        long id, String address, int threads, long memoryLimit, long managedBytes, long spilledBytes, boolean paused)
    {
    }

    /**
     * @return the sum of managed bytes over all workers.
     */
    public long managedBytes()
    {
        long sum = 0;
        for (final WorkerInfo w : workers)
        {
            sum += w.managedBytes;
        }
        return sum;
    }
}
