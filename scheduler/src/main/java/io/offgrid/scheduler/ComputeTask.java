package io.offgrid.scheduler;

/**
 * Flyweight view of a task being sent to a worker by {@link CommandSink#computeTask}. Valid only during that
 * call: copy out what you need, do not keep the reference.
 */
public interface ComputeTask
{
    /**
     * @return the task key.
     */
    String key();

    /**
     * @return the opaque function payload (shared, do not modify).
     */
    byte[] function();

    /**
     * @return the priority; higher runs first.
     */
    int priority();

    /**
     * @return the number of dependencies.
     */
    int dependencyCount();

    /**
     * @param index dependency index.
     * @return the dependency's key.
     */
    String dependencyKey(int index);

    /**
     * @param index dependency index.
     * @return the dependency's size in bytes.
     */
    long dependencyNbytes(int index);

    /**
     * @param index dependency index.
     * @return how many workers hold a copy of the dependency (at least one).
     */
    int dependencyHolderCount(int index);

    /**
     * @param index  dependency index.
     * @param holder holder index, below {@link #dependencyHolderCount(int)}.
     * @return the id of a worker that holds the dependency.
     */
    long dependencyHolder(int index, int holder);
}
