package io.offgrid.scheduler;

import java.util.Arrays;

/**
 * A graph a client submits: tasks (key, function payload, dependencies, priority, retries, restrictions) and
 * the keys the client wants. Reusable: {@link #clear()} and fill again, so an adapter decoding messages does
 * not allocate a new graph per submission.
 * <pre>{@code
 * graph.clear()
 *     .task("x", fn).priority(1)
 *     .task("y", fn).dependsOn("x").retries(2)
 *     .want("y");
 * scheduler.submitGraph(clientId, graph);
 * }</pre>
 * Methods after {@link #task} apply to that most recently added task. A dependency may name a task in this
 * graph or a key the scheduler already knows. A key the scheduler already knows keeps its existing
 * definition (keys name pure computations).
 */
public final class TaskGraph
{
    private static final long[] NO_WORKERS = null;

    private int taskCount;
    private String[] keys = new String[16];
    private byte[][] functions = new byte[16][];
    private int[] priorities = new int[16];
    private int[] retries = new int[16];
    private long[] kinds = new long[16];
    private long[][] allowedWorkers = new long[16][];
    private boolean[] allowOther = new boolean[16];
    private int[] depStart = new int[17];
    private int depCount;
    private String[] deps = new String[32];
    private int wantCount;
    private String[] wants = new String[16];

    /**
     * Empty the graph for reuse.
     *
     * @return this.
     */
    public TaskGraph clear()
    {
        Arrays.fill(keys, 0, taskCount, null);
        Arrays.fill(functions, 0, taskCount, null);
        Arrays.fill(allowedWorkers, 0, taskCount, null);
        Arrays.fill(deps, 0, depCount, null);
        Arrays.fill(wants, 0, wantCount, null);
        taskCount = 0;
        depCount = 0;
        wantCount = 0;
        depStart[0] = 0;
        return this;
    }

    /**
     * Add a task; the following calls configure it.
     *
     * @param key      unique key.
     * @param function opaque function payload, shared (not copied); must not be null.
     * @return this.
     */
    public TaskGraph task(final String key, final byte[] function)
    {
        if (null == key)
        {
            throw new IllegalArgumentException("task key must not be null");
        }
        if (null == function)
        {
            throw new IllegalArgumentException("task '" + key + "' has no function payload");
        }
        if (taskCount == keys.length)
        {
            final int n = taskCount * 2;
            keys = Arrays.copyOf(keys, n);
            functions = Arrays.copyOf(functions, n);
            priorities = Arrays.copyOf(priorities, n);
            retries = Arrays.copyOf(retries, n);
            kinds = Arrays.copyOf(kinds, n);
            allowedWorkers = Arrays.copyOf(allowedWorkers, n);
            allowOther = Arrays.copyOf(allowOther, n);
            depStart = Arrays.copyOf(depStart, n + 1);
        }
        final int i = taskCount++;
        keys[i] = key;
        functions[i] = function;
        priorities[i] = 0;
        retries[i] = 0;
        kinds[i] = 0;
        allowedWorkers[i] = NO_WORKERS;
        allowOther[i] = false;
        depStart[i] = depCount;
        depStart[i + 1] = depCount;
        return this;
    }

    /**
     * Add a dependency to the current task.
     *
     * @param key the key it depends on.
     * @return this.
     */
    public TaskGraph dependsOn(final String key)
    {
        final int i = current();
        if (null == key)
        {
            throw new IllegalArgumentException("task '" + keys[i] + "' has a null dependency");
        }
        if (depCount == deps.length)
        {
            deps = Arrays.copyOf(deps, depCount * 2);
        }
        deps[depCount++] = key;
        depStart[i + 1] = depCount;
        return this;
    }

    /**
     * @param priority higher runs first (default 0).
     * @return this.
     */
    public TaskGraph priority(final int priority)
    {
        priorities[current()] = priority;
        return this;
    }

    /**
     * @param retries how many times an erring task is recomputed before it is erred (0..127, default 0).
     * @return this.
     */
    public TaskGraph retries(final int retries)
    {
        if (retries < 0 || retries > Byte.MAX_VALUE)
        {
            throw new IllegalArgumentException("retries must be in 0..127: " + retries);
        }
        this.retries[current()] = retries;
        return this;
    }

    /**
     * @param kind what the current task runs, for its duration estimate (Dask's task prefix): tasks of one kind
     *             are expected to take alike; the grid passes the function id. Default 0.
     * @return this.
     */
    public TaskGraph kind(final long kind)
    {
        kinds[current()] = kind;
        return this;
    }

    /**
     * Restrict the current task to some workers.
     *
     * @param workerIds         allowed workers (copied).
     * @param allowOtherWorkers whether other workers may run it when none of these can.
     * @return this.
     */
    public TaskGraph workers(final long[] workerIds, final boolean allowOtherWorkers)
    {
        final int i = current();
        if (null == workerIds || workerIds.length == 0)
        {
            throw new IllegalArgumentException("task '" + keys[i] + "': restriction needs at least one worker");
        }
        allowedWorkers[i] = workerIds.clone();
        allowOther[i] = allowOtherWorkers;
        return this;
    }

    /**
     * The submitting client wants this key (holds a future to it).
     *
     * @param key a key of this graph or one the scheduler already knows.
     * @return this.
     */
    public TaskGraph want(final String key)
    {
        if (null == key)
        {
            throw new IllegalArgumentException("wanted key must not be null");
        }
        if (wantCount == wants.length)
        {
            wants = Arrays.copyOf(wants, wantCount * 2);
        }
        wants[wantCount++] = key;
        return this;
    }

    /**
     * @return the number of tasks.
     */
    public int taskCount()
    {
        return taskCount;
    }

    /**
     * @return the number of wanted keys.
     */
    public int wantCount()
    {
        return wantCount;
    }

    String key(final int i)
    {
        return keys[i];
    }

    byte[] function(final int i)
    {
        return functions[i];
    }

    int priorityOf(final int i)
    {
        return priorities[i];
    }

    int retriesOf(final int i)
    {
        return retries[i];
    }

    long kindOf(final int i)
    {
        return kinds[i];
    }

    long[] allowedWorkers(final int i)
    {
        return allowedWorkers[i];
    }

    boolean allowOther(final int i)
    {
        return allowOther[i];
    }

    int dependencyCount(final int i)
    {
        return depStart[i + 1] - depStart[i];
    }

    String dependency(final int i, final int d)
    {
        return deps[depStart[i] + d];
    }

    String wanted(final int i)
    {
        return wants[i];
    }

    private int current()
    {
        if (taskCount == 0)
        {
            throw new IllegalStateException("call task(key, function) first");
        }
        return taskCount - 1;
    }
}
