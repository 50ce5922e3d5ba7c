package io.offgrid.perf.harness;

import io.offgrid.client.Client;
import io.offgrid.grid.LocalCluster;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The end-to-end benchmark: runs the scenarios of {@code shared/peers/dask_bench.py} (same names, same units) on a
 * {@link LocalCluster} of 2 workers × 1 thread, with process workers (UDP on 127.0.0.1) and/or in-process workers
 * (Aeron IPC), prints a table and writes every figure as JSON.
 * <pre>
 * BenchMain [--only a,b,...] [--json FILE] [--workers process|process-udp|inprocess|both] [--runs N]
 *           [--size full|smoke] [--wait-quiet SECONDS] [--deadline SECONDS] [--profile DIR [--profile-event EVENT]]
 * </pre>
 * Each figure is the median of {@code --runs} runs with their min and max. The machine's load is sampled from
 * {@code /proc/stat} against this process tree's own CPU; a phase during which other processes used more than
 * 0.1 core on average is marked disturbed. With {@code --profile}, async-profiler records each scenario's timed runs
 * in every process of the cluster ({@link ScenarioProfiler}).
 */
public final class BenchMain
{
    static final String PROCESS = "process";
    static final String PROCESS_UDP = "process_udp";
    static final String INPROCESS = "inprocess";
    /** Process workers over UDP run the data-path scenarios only: the rest is the same as "process" plus noise. */
    static final Set<String> UDP_SCENARIOS = Set.of("c", "d", "h");

    /** Command-line settings, with defaults. */
    static final class Options
    {
        Set<String> only = new LinkedHashSet<>();
        Path json;
        /** "process" (process workers on the cluster's driver: shared memory), "process_udp", "inprocess". */
        List<String> processModes = List.of(PROCESS, PROCESS_UDP, INPROCESS);
        int runs = 3;
        /** Untimed runs of each scenario before the timed ones (Dask's direct figures also follow earlier reps). */
        int warmups = 1;
        /** Warm-up runs go on, past {@link #warmups}, until this long after a scenario's first one (JMH-style). */
        double warmupSeconds = 0;
        /**
         * Warm-up runs also go on while the JIT compiler threads of the cluster's JVMs used more than this many cores
         * over the last {@link Warmup#JIT_WINDOW_NS} or more of warm-ups (0 = don't wait for the JIT), up to
         * {@link #warmupMaxSeconds}.
         */
        double warmupJitCores = 0;
        /**
         * No scenario waits for the JIT longer than this after its first warm-up run starts (nor less than
         * {@link #warmupSeconds}); the {@link #warmups} count is a floor all the same.
         */
        double warmupMaxSeconds = 120;
        Scenarios.Context sizes = new Scenarios.Context();
        double waitQuietS = 0;
        double quietCores = 0.05;
        double deadlineS = 900;
        /**
         * LocalCluster.Builder#workerCpus for process workers: none (the library's default), auto (lower latency for
         * small tasks, less throughput for large data: perf/README.md) or a CPU list.
         */
        String workerCpus = "none";
        /** JVM options of process workers (LocalCluster.Builder#workerJvmOptions); null = the library's default. */
        List<String> workerJvmOptions;
        /** Where async-profiler profiles of each scenario's timed runs go; null = no profiling. */
        Path profileDir;
        /** async-profiler's event for them: {@link ScenarioProfiler#EVENTS}. */
        String profileEvent = "cpu";
        PrintStream out = System.out;

        Options conclude()
        {
            if (runs < 1)
            {
                throw new IllegalArgumentException("--runs must be at least 1: " + runs);
            }
            if (warmups < 0)
            {
                throw new IllegalArgumentException("--warmup must be 0 or more: " + warmups);
            }
            if (!(warmupSeconds >= 0 && warmupSeconds <= 3600))
            {
                throw new IllegalArgumentException("--warmup-seconds must be in [0, 3600]: " + warmupSeconds);
            }
            final int cores = Runtime.getRuntime().availableProcessors();
            if (!(warmupJitCores >= 0 && warmupJitCores <= cores))
            {
                throw new IllegalArgumentException("--warmup-jit-quiet must be in [0, " + cores + "] cores: " + warmupJitCores);
            }
            if (!(warmupMaxSeconds >= 0 && warmupMaxSeconds <= 3600))
            {
                // Below --warmup-seconds it does not cut those: the limit is the larger of the two.
                throw new IllegalArgumentException("--warmup-max-seconds must be in [0, 3600]: " + warmupMaxSeconds);
            }
            for (final String letter : only)
            {
                if (Scenarios.ALL.stream().noneMatch(s -> s.letter().equals(letter)))
                {
                    throw new IllegalArgumentException("unknown scenario '" + letter + "' (a,b,c,d,e,f,g,h)");
                }
            }
            if (!ScenarioProfiler.EVENTS.contains(profileEvent))
            {
                throw new IllegalArgumentException("--profile-event must be one of " + ScenarioProfiler.EVENTS + ": " +
                    profileEvent);
            }
            sizes.conclude();
            return this;
        }
    }

    /** A headline figure: label, unit, path in a scenario's summary, whether higher is better, issue 7 targets. */
    record Row(String scenario, String label, String unit, String path, boolean higherIsBetter,
        Double targetProcess, Double targetInProcess)
    {
        /** @return whether only the process-workers-over-UDP mode has this figure (its same-run bare Aeron baseline). */
        boolean overUdpOnly()
        {
            return path.startsWith("udp_baseline.");
        }
    }

    static List<Row> rows(final Scenarios.Context c)
    {
        final String small = c.smallCount + "x" + c.smallMiB + "MiB";
        return List.of(
            new Row("a_submit_latency", "a. submit→result p50", "µs", "p50_us", false, 50.0, 20.0),
            new Row("a_submit_latency", "a. submit→result p90", "µs", "p90_us", false, null, null),
            new Row("a_submit_latency", "a. submit→result p99", "µs", "p99_us", false, 250.0, null),
            new Row("a_submit_latency", "a. submit→result max", "µs", "max_us", false, null, null),
            new Row("b_throughput", "b. map " + c.mapN + " no-op tasks", "tasks/s", "map.tasks_per_s", true,
                100_000.0, 100_000.0),
            new Row("b_throughput", "b. tree reduction " + c.treeLeaves + " leaves", "tasks/s",
                "tree_reduction.tasks_per_s", true, 50_000.0, 50_000.0),
            new Row("b_throughput", "b. chain " + c.chainN + " tasks", "tasks/s", "chain.tasks_per_s", true,
                10_000.0, 10_000.0),
            new Row("c_scatter_gather", "c. scatter " + c.bigMiB + " MiB", "MB/s", "direct.big_scatter.MBps", true,
                8000.0, 8000.0),
            new Row("c_scatter_gather", "c. gather " + c.bigMiB + " MiB", "MB/s", "direct.big_gather.MBps", true,
                8000.0, 8000.0),
            new Row("c_scatter_gather", "c. scatter " + small, "MB/s", "direct." + small + "_scatter.MBps", true,
                8000.0, 8000.0),
            new Row("c_scatter_gather", "c. gather " + small, "MB/s", "direct." + small + "_gather.MBps", true,
                8000.0, 8000.0),
            new Row("c_scatter_gather", "c. bare Aeron UDP " + c.bigMiB + " MiB, same run", "MB/s",
                "udp_baseline.bare_aeron_MBps", true, null, null),
            new Row("c_scatter_gather", "c. scatter over UDP / bare Aeron UDP", "fraction",
                "udp_baseline.big_scatter_vs_bare", true, 0.8, null),
            new Row("c_scatter_gather", "c. gather over UDP / bare Aeron UDP", "fraction",
                "udp_baseline.big_gather_vs_bare", true, 0.8, null),
            new Row("d_worker_to_worker", "d. worker→worker " + c.bigMiB + " MiB, task wall", "MB/s",
                "MBps_task_wall", true, 8000.0, 8000.0),
            new Row("d_worker_to_worker", "d. worker→worker " + c.bigMiB + " MiB, copy only", "MB/s",
                "MBps_replicate", true, 8000.0, 8000.0),
            new Row("d_worker_to_worker", "d. bare Aeron UDP " + c.bigMiB + " MiB, same run", "MB/s",
                "udp_baseline.bare_aeron_MBps", true, null, null),
            new Row("d_worker_to_worker", "d. copy only over UDP / bare Aeron UDP", "fraction",
                "udp_baseline.replicate_vs_bare", true, 0.8, null),
            new Row("e_memory_release", "e. release → worker store 0", "ms", "release_ms_worker_state_nbytes", false,
                1.0, 1.0),
            new Row("e_memory_release", "e. release → scheduler holds no key", "ms", "release_ms_scheduler_keys",
                false, 1.0, 1.0),
            new Row("e_memory_release", "e. release → heartbeat managed 0", "ms",
                "release_ms_heartbeat_managed_bytes", false, null, null),
            new Row("f_restart", "f. restart wall", "ms", "wall_ms", false, 600.0, 100.0),
            new Row("f_restart", "f. first task after restart", "ms", "first_task_after_restart_ms", false, null, null),
            new Row("g_cancel", "g. cancel " + c.cancelChainN + "-task chain → scheduler empty", "ms",
                "chain.ms_until_scheduler_empty", false, 20.0, 20.0),
            new Row("g_cancel", "g. cancel " + c.cancelMapN + "-task map → scheduler empty", "ms",
                "wide_map.ms_until_scheduler_empty", false, 20.0, 20.0),
            new Row("h_replicate_rebalance", "h. replicate(n=2) " + small, "ms", "replicate_n2.wall_ms", false,
                40.0, 40.0),
            new Row("h_replicate_rebalance", "h. rebalance " + small + " from one worker", "ms", "rebalance.wall_ms",
                false, 40.0, 40.0));
    }

    private BenchMain()
    {
    }

    /**
     * @param args see the class comment; {@code --help} prints them.
     */
    public static void main(final String[] args)
    {
        final Options o;
        try
        {
            o = parse(args);
        }
        catch (final IllegalArgumentException ex)
        {
            System.err.println("bench: " + ex.getMessage());
            System.err.println(usage());
            System.exit(2);
            return;
        }
        if (null == o)
        {
            System.out.println(usage());
            return;
        }
        final Map<String, Object> results = new LinkedHashMap<>();
        final Thread watchdog = watchdog(o, results);
        try
        {
            run(o, results);
        }
        catch (final Exception ex)
        {
            System.err.println("bench: failed: " + ex);
            ex.printStackTrace();
            System.exit(1);
        }
        watchdog.interrupt();
        System.exit(0);
    }

    static String usage()
    {
        return String.join("\n",
            "usage: bench [--only a,b,...] [--json FILE] [--workers process|process-udp|inprocess|both] [--runs N]",
            "             [--warmup N] [--warmup-seconds S] [--size full|smoke] [--wait-quiet SECONDS]",
            "             [--quiet-cores CORES] [--deadline SECONDS] [--worker-cpus auto|none|LIST] [--worker-jvm \"OPTIONS\"]",
            "             [--profile DIR [--profile-event cpu|itimer|wall|alloc|lock]]",
            "             [--warmup-jit-quiet CORES] [--warmup-max-seconds S]",
            "  scenarios (as shared/peers/dask_bench.py): a submit latency, b throughput, c scatter/gather,",
            "  d worker-to-worker, e memory release, f restart, g cancel, h replicate/rebalance",
            "  workers: process = process workers on the cluster's driver (shared memory), process-udp = each its own",
            "  driver over UDP (runs c, d, h only), both = all three kinds",
            "  warmup: untimed runs of each scenario before its timed runs (first touch of memory, JIT, connections);",
            "  warmup-seconds: more untimed runs until this long after the scenario's first (a fresh JVM warms slowly)",
            "  warmup-jit-quiet: and more until the JIT compiler threads of this JVM and its workers used at most this",
            "  many cores over the last 2 s of warm-ups (and no more since); warmup-max-seconds bounds that (default 120)",
            "  worker-cpus: where process workers run (LocalCluster.Builder#workerCpus); none leaves placement to",
            "  the OS, auto keeps them off the lowest CPU",
            "  worker-jvm: process workers' JVM options, replacing LocalCluster's default (heap, GC)",
            "  profile: async-profiler flame graph and text profile of each scenario's timed runs, per process",
            "  (this JVM and each process worker), into DIR; profile-event: cpu (default), itimer, wall, alloc, lock",
            "  defaults: all scenarios, both, 3 runs after 1 warm-up, full sizes, no waiting, 900 s deadline, none");
    }

    static Options parse(final String[] args)
    {
        final Options o = new Options();
        for (int i = 0; i < args.length; i++)
        {
            String a = args[i];
            String v = null;
            final int eq = a.indexOf('=');
            if (a.startsWith("--") && eq > 0)
            {
                v = a.substring(eq + 1);
                a = a.substring(0, eq);
            }
            if (a.equals("--help") || a.equals("-h"))
            {
                return null;
            }
            if (null == v)
            {
                if (i + 1 >= args.length)
                {
                    throw new IllegalArgumentException(a + " needs a value");
                }
                v = args[++i];
            }
            switch (a)
            {
                case "--only" ->
                {
                    for (final String s : v.split(","))
                    {
                        if (!s.isBlank())
                        {
                            o.only.add(s.trim().toLowerCase(Locale.ROOT));
                        }
                    }
                }
                case "--json" -> o.json = Paths.get(v);
                case "--workers" -> o.processModes = switch (v)
                {
                    case "process" -> List.of(PROCESS);
                    case "process-udp" -> List.of(PROCESS_UDP);
                    case "inprocess" -> List.of(INPROCESS);
                    case "both" -> List.of(PROCESS, PROCESS_UDP, INPROCESS);
                    default -> throw new IllegalArgumentException("--workers process|process-udp|inprocess|both, not " + v);
                };
                case "--runs" -> o.runs = parseInt(a, v);
                case "--warmup" -> o.warmups = parseInt(a, v);
                case "--warmup-seconds" -> o.warmupSeconds = parseDouble(a, v);
                case "--warmup-jit-quiet" -> o.warmupJitCores = parseDouble(a, v);
                case "--warmup-max-seconds" -> o.warmupMaxSeconds = parseDouble(a, v);
                case "--worker-jvm" -> o.workerJvmOptions = List.of(v.trim().split("\\s+"));
                case "--profile" -> o.profileDir = Paths.get(v);
                case "--profile-event" -> o.profileEvent = v;
                case "--size" -> o.sizes = switch (v)
                {
                    case "full" -> new Scenarios.Context();
                    case "smoke" -> Scenarios.Context.smoke();
                    default -> throw new IllegalArgumentException("--size full|smoke, not " + v);
                };
                case "--wait-quiet" -> o.waitQuietS = parseDouble(a, v);
                case "--quiet-cores" -> o.quietCores = parseDouble(a, v);
                case "--deadline" -> o.deadlineS = parseDouble(a, v);
                case "--worker-cpus" ->
                {
                    LocalCluster.builder().workerCpus(v); // refused here, not when the first cluster starts
                    o.workerCpus = v;
                }
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        return o.conclude();
    }

    private static int parseInt(final String name, final String v)
    {
        try
        {
            return Integer.parseInt(v);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(name + " needs a whole number, not '" + v + "'");
        }
    }

    private static double parseDouble(final String name, final String v)
    {
        try
        {
            return Double.parseDouble(v);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(name + " needs a number, not '" + v + "'");
        }
    }

    /**
     * Run the benchmark, filling {@code results} as it goes (so a watchdog can write what there is).
     */
    static Map<String, Object> run(final Options o, final Map<String, Object> results) throws Exception
    {
        final long start = System.nanoTime();
        synchronized (results)
        {
            results.put("harness", "offgrid");
            results.put("aborted", false);
            results.put("errors", new LinkedHashMap<String, Object>());
            results.put("env", env(o));
        }
        try (LoadMonitor mon = new LoadMonitor(250);
            ScenarioProfiler profiler = null == o.profileDir ? null : ScenarioProfiler.open(o.profileDir, o.profileEvent))
        {
            final Map<String, Object> pre = waitQuiet(o, mon);
            synchronized (results)
            {
                results.put("pre_run_load", pre.get("load"));
                results.put("waited_for_quiet_s", pre.get("waited_s"));
            }
            final LoadMonitor.Snapshot runStart = mon.snap();
            final Map<String, Object> modes = new LinkedHashMap<>();
            synchronized (results)
            {
                results.put("modes", modes);
            }
            for (final String mode : o.processModes)
            {
                final Map<String, Object> m = new LinkedHashMap<>();
                synchronized (results)
                {
                    modes.put(mode, m);
                }
                runMode(o, mon, profiler, mode, m, results);
            }
            final Map<String, Object> runLoad = LoadMonitor.delta(runStart, mon.snap());
            synchronized (results)
            {
                results.put("run_load", runLoad);
                results.put("contaminated_by_foreign_load", LoadMonitor.disturbed(runLoad));
                results.put("total_wall_s", LoadMonitor.round((System.nanoTime() - start) / 1e9, 3));
            }
        }
        printTable(o, results);
        write(o, results);
        return results;
    }

    /** The cluster a mode runs on; replaced when a failed scenario left it without its 2 workers. */
    private static final class Bench implements AutoCloseable
    {
        final LocalCluster cluster;
        final Client client;
        final Scenarios scenarios;

        Bench(final Options o, final String mode)
        {
            final boolean processes = !INPROCESS.equals(mode);
            final LocalCluster.Builder b = LocalCluster.builder().workers(2).threadsPerWorker(1).processes(processes)
                .sharedDriver(!PROCESS_UDP.equals(mode)).memoryLimit(4L << 30).peerTimeoutNs(TimeUnit.SECONDS.toNanos(10))
                .workerCpus(o.workerCpus);
            final List<String> jvm = new ArrayList<>(null != o.workerJvmOptions ? o.workerJvmOptions :
                LocalCluster.builder().workerJvmOptions());
            if (PROCESS_UDP.equals(mode))
            {
                // The path between hosts: blocks streamed over UDP, not read from each other's memory (same host).
                jvm.add("-Doffgrid.transport.directReads=false");
            }
            b.workerJvmOptions(jvm);
            final LocalCluster c = b.start();
            try
            {
                cluster = c;
                client = c.client();
                scenarios = new Scenarios(o.sizes, c, client, !processes, PROCESS_UDP.equals(mode));
            }
            catch (final RuntimeException ex)
            {
                c.close();
                throw ex;
            }
        }

        boolean healthy()
        {
            try
            {
                return client.info().workers().size() == 2;
            }
            catch (final RuntimeException ex)
            {
                return false;
            }
        }

        @Override
        public void close()
        {
            try
            {
                client.close();
            }
            finally
            {
                cluster.close();
            }
        }
    }

    private static void runMode(final Options o, final LoadMonitor mon, final ScenarioProfiler profiler,
        final String mode, final Map<String, Object> m, final Map<String, Object> results)
    {
        final boolean processes = !INPROCESS.equals(mode);
        log(o, "starting LocalCluster(workers=2, threadsPerWorker=1, " + mode + ")");
        final long t0 = System.nanoTime();
        Bench bench = null;
        int restarts = 0;
        try
        {
            bench = new Bench(o, mode);
            synchronized (results)
            {
                m.put("cluster", "2 workers x 1 thread, " + (PROCESS_UDP.equals(mode) ?
                    "process workers, each its own driver (UDP 127.0.0.1)" : processes ?
                    "process workers on the cluster's driver (Aeron IPC, shared memory)" : "in-process workers (Aeron IPC)"));
                m.put("worker_cpus_applied", null == bench.cluster.workerCpus() ? "none" : bench.cluster.workerCpus());
                m.put("cluster_start_s", LoadMonitor.round((System.nanoTime() - t0) / 1e9, 3));
            }
            for (final Scenarios.Scenario sc : Scenarios.ALL)
            {
                if ((!o.only.isEmpty() && !o.only.contains(sc.letter())) ||
                    (PROCESS_UDP.equals(mode) && !UDP_SCENARIOS.contains(sc.letter())))
                {
                    continue;
                }
                final List<Object> runs = new ArrayList<>();
                final List<Object> loads = new ArrayList<>();
                final List<Object> errors = new ArrayList<>();
                final Map<String, Object> entry = new LinkedHashMap<>();
                synchronized (results)
                {
                    m.put(sc.name(), entry);
                }
                boolean disturbed = false;
                final List<Object> warmupErrors = new ArrayList<>();
                // Untimed warm-ups first (Warmup decides how many), then the timed runs; only timed runs give figures
                // and loads.
                final Warmup warmups = new Warmup(o, mon.snap());
                List<String> profileStartErrors = null; // non-null while the timed runs are profiled
                try
                {
                    for (int r = 0; r < o.runs; )
                    {
                        final boolean warmup = warmups.next(System.nanoTime());
                        final String what = warmup ? "warm-up " + warmups.runs() + (o.warmupSeconds > 0 || o.warmupJitCores > 0 ? "" : "/" + o.warmups) :
                            "run " + (r + 1) + "/" + o.runs;
                        if (!warmup)
                        {
                            r++;
                        }
                        final List<Object> failures = warmup ? warmupErrors : errors;
                        log(o, mode + " " + sc.name() + " " + what);
                        if (!warmup && null != profiler && null == profileStartErrors)
                        {
                            profileStartErrors = profiler.start(mode + "-" + sc.name(), bench.cluster);
                        }
                        final LoadMonitor.Snapshot a = mon.snap();
                        try
                        {
                            final Object figures = sc.runner().run(bench.scenarios);
                            if (!warmup)
                            {
                                runs.add(figures);
                            }
                        }
                        catch (final Exception | OutOfMemoryError ex)
                        {
                            failures.add(ex.getClass().getSimpleName() + ": " + ex.getMessage());
                            log(o, mode + " " + sc.name() + " " + what + " FAILED: " + ex);
                            if (bench.healthy())
                            {
                                bench.scenarios.waitIdle();
                            }
                            else
                            {
                                // A lost worker would spoil every later figure: start a fresh cluster.
                                failures.add("a worker was lost: the cluster was restarted after this " +
                                    (warmup ? "warm-up" : "run"));
                                log(o, mode + " cluster lost a worker; starting a fresh one");
                                bench.close();
                                bench = null;
                                bench = new Bench(o, mode);
                                restarts++;
                            }
                        }
                        if (warmup)
                        {
                            final double jitCores = warmups.warmedUp(mon.snap());
                            if (o.warmupJitCores > 0 && !Double.isNaN(jitCores))
                            {
                                log(o, mode + " " + sc.name() + " JIT used " + jitCores + " cores over the last warm-ups");
                            }
                            continue;
                        }
                        final Map<String, Object> load = LoadMonitor.delta(a, mon.snap());
                        loads.add(load);
                        if (LoadMonitor.disturbed(load))
                        {
                            disturbed = true;
                            log(o, "WARNING: other processes used " + load.get("foreign_cores_avg") + " cores on average" +
                                " during " + sc.name() + ": figures are disturbed");
                        }
                    }
                }
                finally
                {
                    if (null != profileStartErrors)
                    {
                        final Map<String, Object> profile = profiler.stop();
                        @SuppressWarnings("unchecked") final List<String> profileErrors = (List<String>)profile.get("errors");
                        profileErrors.addAll(0, profileStartErrors);
                        log(o, mode + " " + sc.name() + " profiles: " + profile.get("files") +
                            (profileErrors.isEmpty() ? "" : " errors: " + profileErrors));
                        synchronized (results)
                        {
                            entry.put("profile", profile);
                        }
                    }
                }
                synchronized (results)
                {
                    entry.put("summary", runs.isEmpty() ? null : summarise(runs));
                    entry.put("disturbed", disturbed);
                    entry.put("load", loads);
                    entry.put("errors", errors);
                    entry.put("warmup_runs", warmups.runs());
                    entry.put("warmup_s", LoadMonitor.round(warmups.seconds(), 2));
                    entry.put("warmup_ended_by", warmups.endedBy());
                    entry.put("warmup_last_jit_cores", warmups.lastJitCores());
                    entry.put("warmup_errors", warmupErrors);
                    entry.put("runs", runs);
                }
            }
        }
        catch (final RuntimeException ex)
        {
            synchronized (results)
            {
                m.put("error", ex.toString());
            }
            log(o, mode + " cluster FAILED: " + ex);
        }
        finally
        {
            synchronized (results)
            {
                m.put("cluster_restarts", restarts);
            }
            if (null != bench)
            {
                bench.close();
            }
        }
    }

    private static Map<String, Object> waitQuiet(final Options o, final LoadMonitor mon) throws InterruptedException
    {
        final long t0 = System.nanoTime();
        int quiet = 0;
        Map<String, Object> load;
        while (true)
        {
            load = mon.measure(2000);
            final Object f = load.get("foreign_cores_avg");
            final double cores = f instanceof Double ? (Double)f : 0;
            final double waited = (System.nanoTime() - t0) / 1e9;
            if (cores <= o.quietCores)
            {
                if (++quiet >= 2 || o.waitQuietS <= 0)
                {
                    break;
                }
                continue;
            }
            quiet = 0;
            if (waited >= o.waitQuietS)
            {
                log(o, "WARNING: machine not quiet (" + cores + " foreign cores busy); running anyway");
                break;
            }
            log(o, "machine busy (" + cores + " foreign cores), waiting for quiet...");
            Thread.sleep(3000);
        }
        final Map<String, Object> r = new LinkedHashMap<>();
        r.put("load", load);
        r.put("waited_s", LoadMonitor.round((System.nanoTime() - t0) / 1e9, 1));
        return r;
    }

    /**
     * Merge runs of one scenario: numbers become {median, min, max}; anything else keeps the first run's value.
     */
    @SuppressWarnings("unchecked")
    static Object summarise(final List<Object> values)
    {
        Object first = null;
        for (final Object v : values)
        {
            if (null != v)
            {
                first = v;
                break;
            }
        }
        if (first instanceof Map)
        {
            final LinkedHashSet<Object> keys = new LinkedHashSet<>();
            for (final Object v : values)
            {
                if (v instanceof Map)
                {
                    keys.addAll(((Map<Object, Object>)v).keySet());
                }
            }
            final Map<String, Object> out = new LinkedHashMap<>();
            for (final Object k : keys)
            {
                final List<Object> sub = new ArrayList<>();
                for (final Object v : values)
                {
                    sub.add(v instanceof Map ? ((Map<Object, Object>)v).get(k) : null);
                }
                out.put(String.valueOf(k), summarise(sub));
            }
            return out;
        }
        if (first instanceof Number)
        {
            final List<Double> nums = new ArrayList<>();
            for (final Object v : values)
            {
                if (v instanceof Number)
                {
                    nums.add(((Number)v).doubleValue());
                }
            }
            final double[] a = nums.stream().mapToDouble(Double::doubleValue).toArray();
            Arrays.sort(a);
            final double median = a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
            final Map<String, Object> out = new LinkedHashMap<>();
            out.put("median", LoadMonitor.round(median, 3));
            out.put("min", LoadMonitor.round(a[0], 3));
            out.put("max", LoadMonitor.round(a[a.length - 1], 3));
            out.put("n", a.length);
            return out;
        }
        return first;
    }

    /**
     * @return the {median, min, max} map at {@code path} (dot-separated) of a scenario summary, or null.
     */
    @SuppressWarnings("unchecked")
    static Map<String, Object> figure(final Map<String, Object> mode, final String scenario, final String path)
    {
        final Object entry = mode.get(scenario);
        if (!(entry instanceof Map))
        {
            return null;
        }
        Object v = ((Map<String, Object>)entry).get("summary");
        for (final String p : path.split("\\."))
        {
            if (!(v instanceof Map))
            {
                return null;
            }
            v = ((Map<String, Object>)v).get(p);
        }
        return v instanceof Map && ((Map<String, Object>)v).get("median") instanceof Number ?
            (Map<String, Object>)v : null;
    }

    @SuppressWarnings("unchecked")
    private static void printTable(final Options o, final Map<String, Object> results)
    {
        final Map<String, Object> modes = (Map<String, Object>)results.get("modes");
        final PrintStream out = o.out;
        out.println();
        out.printf("Offgrid LocalCluster, 2 workers x 1 thread; median of %d run(s) after %d untimed warm-up(s) " +
            "[min..max]%s; * = disturbed by other processes (> %.1f foreign cores)%n", o.runs, o.warmups,
            (o.warmupSeconds > 0 ? String.format(" (warm-ups repeated for at least %.0f s per scenario)", o.warmupSeconds) : "") +
            (o.warmupJitCores > 0 ? String.format(" (and until the JIT used at most %.2f cores, within %.0f s)",
                o.warmupJitCores, o.warmupMaxSeconds) : ""),
            LoadMonitor.DISTURBED_CORES);
        out.printf("%-50s %-8s", "scenario", "unit");
        for (final String mode : modes.keySet())
        {
            out.printf(" %-30s", mode);
        }
        out.printf(" %s%n", "target (process / in-process)");
        for (final Row row : rows(o.sizes))
        {
            if ((!o.only.isEmpty() && !o.only.contains(row.scenario().substring(0, 1))) ||
                (row.overUdpOnly() && !modes.containsKey(PROCESS_UDP)))
            {
                continue;
            }
            out.printf("%-50s %-8s", row.label(), row.unit());
            for (final Map.Entry<String, Object> m : modes.entrySet())
            {
                if (row.overUdpOnly() && !PROCESS_UDP.equals(m.getKey()))
                {
                    out.printf(" %-30s", "n/a");
                    continue;
                }
                final Map<String, Object> mode = (Map<String, Object>)m.getValue();
                final Map<String, Object> f = figure(mode, row.scenario(), row.path());
                final Object entry = mode.get(row.scenario());
                final boolean disturbed = entry instanceof Map &&
                    Boolean.TRUE.equals(((Map<String, Object>)entry).get("disturbed"));
                out.printf(" %-30s", null == f ? "-" : String.format("%s [%s..%s]%s", fmt(f.get("median")),
                    fmt(f.get("min")), fmt(f.get("max")), disturbed ? " *" : ""));
            }
            out.printf(" %s%n", target(row));
        }
        out.printf("machine load during the run: %s%n", results.get("run_load"));
    }

    static String target(final Row row)
    {
        if (null == row.targetProcess() && null == row.targetInProcess())
        {
            return "";
        }
        final String cmp = row.higherIsBetter() ? ">= " : "<= ";
        if ("fraction".equals(row.unit()))
        {
            return cmp + fmt(row.targetProcess()) + " over UDP"; // the process-workers-over-UDP column's target
        }
        return cmp + (null == row.targetProcess() ? "-" : fmt(row.targetProcess())) + " / " +
            (null == row.targetInProcess() ? "-" : fmt(row.targetInProcess()));
    }

    static String fmt(final Object v)
    {
        if (!(v instanceof Number))
        {
            return String.valueOf(v);
        }
        final double d = ((Number)v).doubleValue();
        if (Math.abs(d) >= 100)
        {
            return String.format(Locale.ROOT, "%,.0f", d);
        }
        return Math.abs(d) >= 10 ? String.format(Locale.ROOT, "%.1f", d) : String.format(Locale.ROOT, "%.2f", d);
    }

    private static void write(final Options o, final Map<String, Object> results) throws IOException
    {
        if (null == o.json)
        {
            return;
        }
        final String text;
        synchronized (results)
        {
            text = Json.write(results);
        }
        final Path parent = o.json.toAbsolutePath().getParent();
        if (null != parent)
        {
            Files.createDirectories(parent);
        }
        Files.writeString(o.json, text, StandardCharsets.UTF_8);
        log(o, "wrote " + o.json);
    }

    private static Map<String, Object> env(final Options o)
    {
        final Map<String, Object> env = new LinkedHashMap<>();
        env.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        env.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        env.put("nproc", Runtime.getRuntime().availableProcessors());
        env.put("cpu_model", cpuModel());
        env.put("loadavg_at_start", readFirstLine("/proc/loadavg"));
        env.put("runs", o.runs);
        env.put("warmup_runs", o.warmups);
        env.put("warmup_jit_quiet_cores", o.warmupJitCores);
        env.put("warmup_max_seconds", o.warmupMaxSeconds);
        env.put("warmup_seconds", o.warmupSeconds);
        env.put("worker_cpus", o.workerCpus);
        env.put("worker_jvm_options", null != o.workerJvmOptions ? o.workerJvmOptions : LocalCluster.builder().workerJvmOptions());
        env.put("params", o.sizes.toMap());
        // A profiled run's figures carry the profiler's sampling cost: not for comparison with unprofiled ones.
        env.put("profile_event", null == o.profileDir ? null : o.profileEvent);
        return env;
    }

    private static String cpuModel()
    {
        try
        {
            for (final String line : Files.readAllLines(Paths.get("/proc/cpuinfo"), StandardCharsets.US_ASCII))
            {
                if (line.startsWith("model name"))
                {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        }
        catch (final IOException | RuntimeException ignore)
        {
            // not Linux: leave it out
        }
        return "";
    }

    private static String readFirstLine(final String file)
    {
        try
        {
            return Files.readAllLines(Paths.get(file), StandardCharsets.US_ASCII).get(0).trim();
        }
        catch (final IOException | RuntimeException ex)
        {
            return "";
        }
    }

    /** After the deadline: write what there is, kill only this JVM's own child processes, exit 3. */
    private static Thread watchdog(final Options o, final Map<String, Object> results)
    {
        final Thread t = new Thread(() ->
        {
            try
            {
                Thread.sleep((long)(o.deadlineS * 1000));
            }
            catch (final InterruptedException ex)
            {
                return;
            }
            log(o, "WATCHDOG: deadline " + o.deadlineS + " s exceeded, writing partial results");
            synchronized (results)
            {
                results.put("aborted", true);
            }
            try
            {
                write(o, results);
            }
            catch (final IOException | RuntimeException ex)
            {
                log(o, "cannot write partial results: " + ex);
            }
            ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
            Runtime.getRuntime().halt(3);
        }, "offgrid-bench-watchdog");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static final long T_START = System.nanoTime();

    static void log(final Options o, final String msg)
    {
        System.err.printf(Locale.ROOT, "[%7.2fs] %s%n", (System.nanoTime() - T_START) / 1e9, msg);
    }
}
