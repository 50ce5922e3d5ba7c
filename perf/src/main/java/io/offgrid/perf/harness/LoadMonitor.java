package io.offgrid.perf.harness;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Machine load during a benchmark: busy CPU of the whole machine ({@code /proc/stat} user+nice+system) against
 * the CPU used by this JVM and every process it started (worker JVMs), so CPU burnt by other processes on a
 * shared machine can be reported per phase. A sampler thread keeps the per-process figures current, so a worker
 * that exits between two snapshots still counts with the CPU it was last seen with. Snapshots also add up the CPU
 * of the JIT compiler threads of this JVM and its child JVMs: on 2 cores a compiler thread that is still busy takes
 * a core from the run it measures.
 */
final class LoadMonitor implements AutoCloseable
{
    /** Foreign busy cores above which a phase counts as disturbed (as dask_bench.py). */
    static final double DISTURBED_CORES = 0.1;
    /**
     * Foreign CPU a disturbed phase used at least: two readings of tick counters are each up to a tick off, so in a
     * 0.1 s run one stray tick would otherwise read as 0.1 cores.
     */
    static final double DISTURBED_MIN_CPU_S = 0.025;

    /** USER_HZ: the unit of /proc/stat and /proc/PID/stat times; 100 on every Linux this runs on. */
    private static final double TICKS_PER_SECOND = 100.0;

    private final HashMap<String, Double> perProcess = new HashMap<>();
    /** Each compiler thread's last CPU reading, by pid, process start and tid: an ended thread keeps its total. */
    private final HashMap<String, Double> perCompilerThread = new HashMap<>();
    private final Thread sampler;
    private final boolean available;
    private volatile boolean running = true;

    /** One reading: wall time and cumulative CPU seconds (jit: compiler threads of this JVM and its children). */
    record Snapshot(long nanos, double busy, double own, double irq, double steal, double jit)
    {
    }

    LoadMonitor(final long periodMs)
    {
        available = Files.isReadable(Paths.get("/proc/stat"));
        sampler = new Thread(() ->
        {
            while (running)
            {
                try
                {
                    Thread.sleep(periodMs);
                    ownCpuSeconds();
                }
                catch (final InterruptedException ex)
                {
                    return;
                }
            }
        }, "offgrid-bench-load");
        sampler.setDaemon(true);
        sampler.start();
    }

    boolean available()
    {
        return available;
    }

    synchronized Snapshot snap()
    {
        final double[] cpu = machineCpu();
        return new Snapshot(System.nanoTime(), cpu[0], ownCpuSeconds(), cpu[1], cpu[2], jitCpuSeconds());
    }

    /**
     * @return the load between two snapshots, in the same shape as dask_bench.py's {@code phase_load}.
     */
    static Map<String, Object> delta(final Snapshot a, final Snapshot b)
    {
        final double wall = (b.nanos - a.nanos) / 1e9;
        final double busy = b.busy - a.busy;
        final double own = b.own - a.own;
        final double foreign = Math.max(0.0, busy - own);
        final LinkedHashMap<String, Object> m = new LinkedHashMap<>();
        m.put("wall_s", round(wall, 3));
        m.put("machine_busy_cpu_s", round(busy, 2));
        m.put("own_cpu_s", round(own, 2));
        m.put("foreign_cpu_s", round(foreign, 2));
        m.put("foreign_cores_avg", wall > 0 ? round(foreign / wall, 2) : null);
        m.put("irq_softirq_cpu_s", round(b.irq - a.irq, 2));
        m.put("steal_cpu_s", round(b.steal - a.steal, 2));
        final double jit = Math.max(0.0, b.jit - a.jit);
        m.put("jit_cpu_s", round(jit, 2));
        m.put("jit_cores_avg", wall > 0 ? round(jit / wall, 3) : null);
        return m;
    }

    static boolean disturbed(final Map<String, Object> load)
    {
        final Object f = load.get("foreign_cores_avg");
        final Object cpu = load.get("foreign_cpu_s");
        return f instanceof Double && (Double)f > DISTURBED_CORES && cpu instanceof Double &&
            (Double)cpu >= DISTURBED_MIN_CPU_S;
    }

    /** Sample for {@code millis} and return the load of that interval. */
    Map<String, Object> measure(final long millis) throws InterruptedException
    {
        final Snapshot a = snap();
        Thread.sleep(millis);
        return delta(a, snap());
    }

    private static double[] machineCpu()
    {
        try
        {
            final String line = Files.readAllLines(Paths.get("/proc/stat"), StandardCharsets.US_ASCII).get(0);
            final String[] f = line.trim().split("\\s+");
            final double user = Long.parseLong(f[1]);
            final double nice = Long.parseLong(f[2]);
            final double system = Long.parseLong(f[3]);
            final double irq = Long.parseLong(f[6]) + Long.parseLong(f[7]);
            final double steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
            return new double[]{(user + nice + system) / TICKS_PER_SECOND, irq / TICKS_PER_SECOND,
                steal / TICKS_PER_SECOND};
        }
        catch (final IOException | RuntimeException ex)
        {
            return new double[3];
        }
    }

    /**
     * @return CPU seconds of the JIT compiler threads ("C1 CompilerThread...", "C2 CompilerThread...", their names
     * cut to 15 characters by the kernel) of this JVM and every process it started, as last seen: a thread or a
     * process that ended since keeps the CPU it was last seen with, so a difference of two readings is never short
     * by what ended between them (only by what it used after the earlier reading).
     */
    synchronized double jitCpuSeconds()
    {
        compilerCpu(ProcessHandle.current());
        ProcessHandle.current().descendants().forEach(this::compilerCpu);
        double sum = 0;
        for (final double v : perCompilerThread.values())
        {
            sum += v;
        }
        return sum;
    }

    private void compilerCpu(final ProcessHandle p)
    {
        final long pid = p.pid();
        final String process = pid + "@" + p.info().startInstant().map(Object::toString).orElse("");
        try (var tasks = Files.newDirectoryStream(Paths.get("/proc/" + pid + "/task")))
        {
            for (final var task : tasks)
            {
                try
                {
                    final String stat = Files.readString(task.resolve("stat"), StandardCharsets.US_ASCII);
                    final int open = stat.indexOf('(');
                    final int close = stat.lastIndexOf(')');
                    final String name = stat.substring(open + 1, close);
                    if (name.startsWith("C1 Compiler") || name.startsWith("C2 Compiler"))
                    {
                        final String[] f = stat.substring(close + 2).split(" ");
                        perCompilerThread.put(process + "/" + task.getFileName(),
                            (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND);
                    }
                }
                catch (final IOException | RuntimeException ex)
                {
                    // the thread ended between listing and reading
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            // the process ended, or no /proc: its threads keep their last readings
        }
    }

    private synchronized double ownCpuSeconds()
    {
        record(ProcessHandle.current());
        ProcessHandle.current().descendants().forEach(this::record);
        double sum = 0;
        for (final double v : perProcess.values())
        {
            sum += v;
        }
        return sum;
    }

    private void record(final ProcessHandle p)
    {
        try
        {
            final String stat = Files.readString(Paths.get("/proc/" + p.pid() + "/stat"), StandardCharsets.US_ASCII);
            // Fields after the command name, which may contain spaces: state is field 3, utime 14, stime 15.
            final String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            final double cpu = (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS_PER_SECOND;
            final String id = p.pid() + "@" + f[19]; // pid plus start time: a reused pid is a new process
            perProcess.put(id, cpu);
        }
        catch (final IOException | RuntimeException ex)
        {
            // the process exited between listing and reading: its last reading stays
        }
    }

    static Double round(final double v, final int digits)
    {
        final double scale = Math.pow(10, digits);
        return Math.round(v * scale) / scale;
    }

    @Override
    public void close()
    {
        running = false;
        sampler.interrupt();
    }
}
