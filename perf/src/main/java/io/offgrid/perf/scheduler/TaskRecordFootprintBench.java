package io.offgrid.perf.scheduler;

import io.offgrid.scheduler.Scheduler;
import io.offgrid.scheduler.TaskGraph;
import io.offgrid.scheduler.TaskState;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.util.HashMap;

/**
 * Heap bytes per live task record, as the retained-heap difference over 200,000 records after full GCs.
 * Each record is a finished task in memory on one worker, wanted by one client (the common live case), so the
 * figure includes the record, its entries in the key map, the worker's held set and the client's want set.
 * Key strings are made before the first measurement and excluded (they belong to whoever decoded them); the
 * shared function payload is excluded likewise. The baseline, measured the same way in the same run, is a
 * {@code HashMap<String, long[4]>} entry per key: about the least a scheduler could keep.
 * <p>
 * The figures are printed once per iteration ("bytes per live task record ..., baseline ..., ratio ..."); the
 * time score JMH reports is irrelevant.
 * <pre>perf/jmh TaskRecordFootprintBench -f 1 -wi 1 -i 3</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseSerialGC", "-Xmx2g"})
public class TaskRecordFootprintBench
{
    static final int RECORDS = 200_000;
    static final byte[] FN = {1, 2, 3, 4};

    private String[] keys;
    private double keyBytes;

    /**
     * Make the keys once.
     */
    @Setup(Level.Trial)
    public void setUp()
    {
        final long before = usedHeap();
        keys = new String[RECORDS];
        for (int i = 0; i < RECORDS; i++)
        {
            keys[i] = "task-" + i;
        }
        keyBytes = (usedHeap() - before) / (double)RECORDS;
    }

    /**
     * @return something live, so nothing is optimised away.
     */
    @Benchmark
    public Object measure()
    {
        final FakeCluster cluster = new FakeCluster(1 << 19);
        final Scheduler s = new Scheduler(new Scheduler.Context().workerTimeoutNs(0), cluster);
        s.clientConnected(FakeCluster.CLIENT);
        for (int w = 1; w <= 4; w++)
        {
            s.workerJoined(0, w, 2, 0);
        }
        final TaskGraph graph = new TaskGraph();
        graph.task("warm", FN).want("warm");
        s.submitGraph(FakeCluster.CLIENT, graph);
        graph.clear();
        final long before = usedHeap();
        for (int i = 0; i < RECORDS; i++)
        {
            graph.clear().task(keys[i], FN).want(keys[i]);
            s.submitGraph(FakeCluster.CLIENT, graph);
        }
        finishAll(s, cluster);
        final long after = usedHeap();
        if (s.taskCount() != RECORDS + 1 || s.taskState(keys[RECORDS - 1]) != TaskState.MEMORY)
        {
            throw new IllegalStateException("expected every record in memory: " + s.taskCount());
        }
        final double bytesPerRecord = (after - before) / (double)RECORDS;

        final long baseBefore = usedHeap();
        final HashMap<String, long[]> map = new HashMap<>();
        for (int i = 0; i < RECORDS; i++)
        {
            map.put(keys[i], new long[4]);
        }
        final long baseAfter = usedHeap();
        final double baselineBytesPerEntry = (baseAfter - baseBefore) / (double)RECORDS;
        System.out.printf("%nbytes per live task record %.1f, baseline HashMap<String,long[4]> entry %.1f, ratio %.2f" +
            " (key strings, excluded from both: %.1f B each)%n",
            bytesPerRecord, baselineBytesPerEntry, bytesPerRecord / baselineBytesPerEntry, keyBytes);
        return new Object[] {s, map, graph};
    }

    /**
     * Finish every computed task without releasing it, so the records stay live in memory.
     */
    private static void finishAll(final Scheduler s, final FakeCluster cluster)
    {
        cluster.finishWithoutRelease(s);
    }

    private static long usedHeap()
    {
        final MemoryMXBean mx = ManagementFactory.getMemoryMXBean();
        for (int i = 0; i < 4; i++)
        {
            System.gc();
        }
        return mx.getHeapMemoryUsage().getUsed();
    }
}
