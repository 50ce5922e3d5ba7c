package io.offgrid.scheduler;

/**
 * Where the {@link Scheduler}'s commands go. The caller (the grid's scheduler server) implements it and turns
 * each call into a message; calls happen synchronously inside the event method that caused them, on the
 * scheduler's thread. Implementations must not call back into the scheduler.
 */
public interface CommandSink
{
    /**
     * Compute a task on a worker.
     *
     * @param workerId the worker.
     * @param task     flyweight describing the task and where each dependency lives; valid only during the call.
     */
    void computeTask(long workerId, ComputeTask task);

    /**
     * Stop (or discard the result of) a task the worker was asked to compute: it was cancelled, released or
     * stolen. A result that still arrives is handled by the scheduler.
     *
     * @param workerId the worker.
     * @param key      the task key.
     */
    void cancelCompute(long workerId, String key);

    /**
     * Free a key's data on a worker: nothing holds it any more.
     *
     * @param workerId the worker.
     * @param key      the key.
     */
    void freeKey(long workerId, String key);

    /**
     * Copy a key from one worker to another; the receiver reports {@link Scheduler#replicaAdded} when done,
     * or {@link Scheduler#replicaFailed}.
     *
     * @param key          the key.
     * @param fromWorkerId the worker that holds it.
     * @param toWorkerId   the worker that should fetch it.
     */
    void copyKey(String key, long fromWorkerId, long toWorkerId);

    /**
     * Drop one redundant copy of a key; other copies remain.
     *
     * @param workerId the worker that should drop its copy.
     * @param key      the key.
     */
    void dropReplica(long workerId, String key);

    /**
     * Tell a client the state of a key it wants.
     *
     * @param clientId the client.
     * @param key      the key.
     * @param status   the new status.
     * @param message  error or reason text for ERRED, CANCELLED, LOST and PENDING; null for MEMORY.
     */
    void keyStatus(long clientId, String key, KeyStatus status, String message);

    /**
     * Restart a worker: clear its data and running tasks.
     *
     * @param workerId the worker.
     */
    void restartWorker(long workerId);

    /**
     * The scheduler has removed a worker that stopped sending heartbeats (see
     * {@link Scheduler.Context#workerTimeoutNs(long)}); the caller should disconnect it.
     *
     * @param workerId the worker.
     * @param reason   why.
     */
    default void workerRemoved(final long workerId, final String reason)
    {
    }
}
