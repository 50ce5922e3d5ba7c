package io.offgrid.perf.scheduler;

import io.offgrid.scheduler.Scheduler;
import io.offgrid.scheduler.TaskGraph;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.HashMap;
import java.util.concurrent.TimeUnit;

/**
 * Scheduler throughput on one core, in tasks per second (the score is per task).
 * <ul>
 * <li>{@code independentTasks}: the full lifecycle of 100,000 independent tasks, one submission (like a
 * {@code map}), four workers of two threads: submit, queued, processing, memory, client releases, freed,
 * forgotten. Ends with zero records.</li>
 * <li>{@code treeReduction}: a binary tree reduction over 10,000 leaves (19,999 tasks), only the root wanted:
 * every intermediate is freed as soon as its parent finishes.</li>
 * <li>{@code hashMapBaseline}: the least any scheduler must do per task, measured in the same run: put a
 * small record into a {@code HashMap} by key and remove it again.</li>
 * </ul>
 * Keys are made once in setup: decoding keys from messages is the adapter's cost, not the state machine's.
 * <pre>perf/jmh SchedulerThroughputBench -f 1 -wi 3 -i 5</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SchedulerThroughputBench
{
    static final int TASKS = 100_000;
    static final int LEAVES = 10_000;
    static final int TREE_TASKS = 2 * LEAVES - 1;
    static final byte[] FN = {1, 2, 3, 4};

    private final TaskGraph graph = new TaskGraph();
    private final HashMap<String, long[]> baselineMap = new HashMap<>();
    private String[] keys;
    private String[] treeKeys;
    private FakeCluster cluster;
    private Scheduler scheduler;

    /**
     * Make keys, a scheduler, a client and four workers.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        keys = new String[TASKS];
        for (int i = 0; i < TASKS; i++)
        {
            keys[i] = "inc-" + i;
        }
        treeKeys = new String[TREE_TASKS];
        for (int i = 0; i < TREE_TASKS; i++)
        {
            treeKeys[i] = "sum-" + i;
        }
        cluster = new FakeCluster(1 << 18);
        scheduler = new Scheduler(new Scheduler.Context().workerTimeoutNs(0), cluster);
        scheduler.clientConnected(FakeCluster.CLIENT);
        for (int w = 1; w <= 4; w++)
        {
            scheduler.workerJoined(0, w, 2, 8L << 30);
        }
    }

    /**
     * @return records left (zero).
     */
    @Benchmark
    @OperationsPerInvocation(TASKS)
    public int independentTasks()
    {
        final TaskGraph g = graph.clear();
        for (int i = 0; i < TASKS; i++)
        {
            g.task(keys[i], FN).want(keys[i]);
        }
        scheduler.submitGraph(FakeCluster.CLIENT, g);
        cluster.drain(scheduler);
        return check(scheduler.taskCount());
    }

    /**
     * @return records left (zero).
     */
    @Benchmark
    @OperationsPerInvocation(TREE_TASKS)
    public int treeReduction()
    {
        final TaskGraph g = graph.clear();
        // Heap layout: node i has children 2i+1 and 2i+2; nodes LEAVES-1 .. 2*LEAVES-2 are the leaves.
        for (int i = TREE_TASKS - 1; i >= 0; i--)
        {
            g.task(treeKeys[i], FN);
            final int left = 2 * i + 1;
            if (left < TREE_TASKS)
            {
                g.dependsOn(treeKeys[left]).dependsOn(treeKeys[left + 1]);
            }
        }
        g.want(treeKeys[0]);
        scheduler.submitGraph(FakeCluster.CLIENT, g);
        cluster.drain(scheduler);
        return check(scheduler.taskCount());
    }

    /**
     * @return map size (zero).
     */
    @Benchmark
    @OperationsPerInvocation(TASKS)
    public int hashMapBaseline()
    {
        final HashMap<String, long[]> map = baselineMap;
        for (int i = 0; i < TASKS; i++)
        {
            map.put(keys[i], new long[4]);
        }
        for (int i = 0; i < TASKS; i++)
        {
            map.remove(keys[i]);
        }
        return map.size();
    }

    private static int check(final int records)
    {
        if (records != 0)
        {
            throw new IllegalStateException(records + " records left after the run");
        }
        return records;
    }
}
