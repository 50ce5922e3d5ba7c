package io.offgrid.perf.harness;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tiny run of every scenario on an in-process cluster: the harness works end to end and its JSON has every
 * headline figure. Figures themselves are not judged here (speed belongs to the benchmark run, not to tests).
 */
class BenchMainTest
{
    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    @SuppressWarnings("unchecked")
    void smokeRunOfEveryScenarioHasEveryFigure(@TempDir final Path dir) throws Exception
    {
        final Path json = dir.resolve("out/bench.json");
        final BenchMain.Options o = BenchMain.parse(new String[]{
            "--size", "smoke", "--runs", "1", "--warmup", "1", "--workers", "inprocess", "--json", json.toString()});
        final ByteArrayOutputStream table = new ByteArrayOutputStream();
        o.out = new PrintStream(table, true, StandardCharsets.UTF_8);

        final Map<String, Object> results = BenchMain.run(o, new LinkedHashMap<>());

        final Map<String, Object> mode = (Map<String, Object>)((Map<String, Object>)results.get("modes")).get("inprocess");
        assertNull(mode.get("error"), () -> "cluster error: " + mode.get("error"));
        final List<String> missing = new ArrayList<>();
        for (final Scenarios.Scenario s : Scenarios.ALL)
        {
            final Map<String, Object> entry = (Map<String, Object>)mode.get(s.name());
            assertNotNull(entry, s.name());
            assertEquals(List.of(), entry.get("errors"), s.name());
            assertEquals(List.of(), entry.get("warmup_errors"), s.name());
            assertEquals(1, entry.get("warmup_runs"), s.name());
            assertEquals(1, ((List<?>)entry.get("load")).size(), s.name()); // one timed run: the warm-up is not in the figures
            assertEquals(1, ((List<?>)entry.get("runs")).size(), s.name());
        }
        for (final BenchMain.Row row : BenchMain.rows(o.sizes))
        {
            if (row.overUdpOnly())
            {
                assertNull(BenchMain.figure(mode, row.scenario(), row.path()), "no UDP baseline in-process");
                continue;
            }
            final Map<String, Object> f = BenchMain.figure(mode, row.scenario(), row.path());
            if (null == f)
            {
                missing.add(row.scenario() + "." + row.path());
                continue;
            }
            final double median = ((Number)f.get("median")).doubleValue();
            assertTrue(median >= 0 && Double.isFinite(median), row.path() + " = " + median);
        }
        assertEquals(List.of(), missing, "figures missing from the summary");

        final Map<String, Object> a = (Map<String, Object>)((Map<String, Object>)mode.get("a_submit_latency")).get("summary");
        assertEquals(200.0, ((Number)((Map<String, Object>)a.get("n")).get("median")).doubleValue());
        final Map<String, Object> load = (Map<String, Object>)results.get("run_load");
        assertTrue(((Number)load.get("wall_s")).doubleValue() > 0);
        assertNotNull(results.get("contaminated_by_foreign_load"));

        final String text = Files.readString(json);
        assertEquals(Json.write(results), text);
        assertTrue(text.contains("\"release_ms_worker_state_nbytes\""));
        final String printed = table.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("a. submit→result p50"), printed);
        assertFalse(printed.contains(" - "), () -> "a figure is missing from the table:\n" + printed);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    @SuppressWarnings("unchecked")
    void overUdpTheDataScenariosMeasureBareAeronInTheSameRun(@TempDir final Path dir) throws Exception
    {
        final BenchMain.Options o = BenchMain.parse(new String[]{"--size", "smoke", "--only", "c,d", "--runs", "2",
            "--warmup", "0", "--workers", "process-udp", "--json", dir.resolve("u.json").toString()});
        final ByteArrayOutputStream table = new ByteArrayOutputStream();
        o.out = new PrintStream(table, true, StandardCharsets.UTF_8);
        final Map<String, Object> results = BenchMain.run(o, new LinkedHashMap<>());
        final Map<String, Object> mode = (Map<String, Object>)((Map<String, Object>)results.get("modes")).get("process_udp");
        assertNull(mode.get("error"), () -> "cluster error: " + mode.get("error"));
        int udpRows = 0;
        for (final BenchMain.Row row : BenchMain.rows(o.sizes))
        {
            if (!row.overUdpOnly())
            {
                continue;
            }
            udpRows++;
            final Map<String, Object> f = BenchMain.figure(mode, row.scenario(), row.path());
            assertNotNull(f, row.scenario() + "." + row.path());
            assertEquals(2, f.get("n"), "one baseline per timed run: " + row.path());
            final double min = ((Number)f.get("min")).doubleValue();
            assertTrue(min > 0 && Double.isFinite(((Number)f.get("max")).doubleValue()), row.path() + " " + f);
        }
        assertEquals(5, udpRows);
        // Each run's fractions are that run's figures over that run's baseline.
        for (final Object run : (List<Object>)((Map<String, Object>)mode.get("c_scatter_gather")).get("runs"))
        {
            final Map<String, Object> c = (Map<String, Object>)run;
            final double scatter = (Double)((Map<String, Object>)((Map<String, Object>)c.get("direct")).get("big_scatter")).get("MBps");
            final Map<String, Object> base = (Map<String, Object>)c.get("udp_baseline");
            assertEquals(scatter / (Double)base.get("bare_aeron_MBps"), (Double)base.get("big_scatter_vs_bare"), 0.002);
        }
        final String printed = table.toString(StandardCharsets.UTF_8);
        assertTrue(printed.contains("c. scatter over UDP / bare Aeron UDP") && printed.contains(">= 0.80 over UDP"), printed);
    }

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    @SuppressWarnings("unchecked")
    void profileRecordsTheTimedRunsInTheBenchAndEachProcessWorker(@TempDir final Path dir) throws Exception
    {
        final Path profiles = dir.resolve("profiles");
        final BenchMain.Options o = BenchMain.parse(new String[]{"--size", "smoke", "--only", "a,b", "--runs", "1",
            "--warmup", "1", "--workers", "process", "--profile", profiles.toString(), "--json", dir.resolve("p.json").toString()});
        o.out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        final List<Path> librariesBefore = profilerLibraries();
        final Map<String, Object> results = BenchMain.run(o, new LinkedHashMap<>());
        final Map<String, Object> mode = (Map<String, Object>)((Map<String, Object>)results.get("modes")).get("process");
        assertNull(mode.get("error"), () -> "cluster error: " + mode.get("error"));
        assertEquals("cpu", ((Map<String, Object>)results.get("env")).get("profile_event"));
        for (final String scenario : List.of("a_submit_latency", "b_throughput"))
        {
            final Map<String, Object> profile = (Map<String, Object>)((Map<String, Object>)mode.get(scenario)).get("profile");
            assertNotNull(profile, scenario);
            assertEquals(List.of(), profile.get("errors"), scenario);
            final Map<String, Object> top = (Map<String, Object>)profile.get("top");
            assertEquals(3, top.size(), () -> scenario + ": the bench and two process workers, " + top.keySet());
            for (final String process : top.keySet())
            {
                final Path html = profiles.resolve("process-" + scenario + "-" + process + ".html");
                final Path txt = profiles.resolve("process-" + scenario + "-" + process + ".txt");
                final Path folded = profiles.resolve("process-" + scenario + "-" + process + ".collapsed");
                assertTrue(((List<String>)profile.get("files")).containsAll(List.of(html.toString(), txt.toString(),
                    folded.toString())));
                assertTrue(Files.readString(html).contains("<html"), html + " is a flame graph");
                assertTrue(Files.readString(txt).contains("Total samples"), txt.toString());
                assertTrue(Files.readString(folded).startsWith("["), folded + " has a thread frame first");
            }
            // The bench JVM ran the client's loop: its hottest frames are samples, not an empty list.
            assertFalse(((List<String>)top.get("bench")).isEmpty(), scenario + " " + top);
            final Map<String, Object> threads = (Map<String, Object>)((Map<String, Object>)profile.get("threads")).get("bench");
            assertTrue(threads.containsKey("main"), () -> scenario + ": the bench's main thread ran the client, " + threads);
        }
        // The library's temporary copy is gone; the profiled processes keep it loaded until they exit.
        assertEquals(librariesBefore, profilerLibraries());
    }

    private static List<Path> profilerLibraries() throws java.io.IOException
    {
        try (var tmp = Files.list(Path.of(System.getProperty("java.io.tmpdir"))))
        {
            return tmp.filter(p -> p.getFileName().toString().startsWith("offgrid-asprof-")).sorted().toList();
        }
    }

    @Test
    void topFramesAreTheFlatSectionOfAnAsyncProfilerTextProfile()
    {
        final String text = String.join("\n",
            "--- Execution profile ---",
            "Total samples       : 513",
            "",
            "--- 146119559 ns (28.36%), 147 samples",
            "  [ 0] java.util.Arrays.hashCode",
            "",
            "          ns  percent  samples  top",
            "  ----------  -------  -------  ---",
            "   146119559   28.36%      147  java.util.Arrays.hashCode",
            "   111225497   21.59%      110  pvm_irq_enable_[k]",
            "   105830711   20.54%      106  __memset_avx512_unaligned_erms",
            "");
        assertEquals(List.of("28.36% java.util.Arrays.hashCode", "21.59% pvm_irq_enable_[k]"),
            ScenarioProfiler.topFrames(text, 2));
        assertEquals(3, ScenarioProfiler.topFrames(text, 8).size());
        assertEquals(List.of(), ScenarioProfiler.topFrames("no profile", 8));
    }

    @Test
    void threadSharesAddUpEachThreadNamesSamples()
    {
        final String folded = String.join("\n",
            "[main tid=1];a;b 30",
            "[offgrid-cluster tid=7];c 50",
            "[main tid=1];a;c 10",
            "[pool tid=8];d 5",
            "[pool tid=9];d 5",
            "garbage line",
            "");
        assertEquals(Map.of("offgrid-cluster", 50.0, "main", 40.0, "pool", 10.0), ScenarioProfiler.threadShares(folded, 8));
        assertEquals(List.of("offgrid-cluster"), List.copyOf(ScenarioProfiler.threadShares(folded, 1).keySet()));
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    @SuppressWarnings("unchecked")
    void warmUpsGoOnUntilTheirTimeHasPassed(@TempDir final Path dir) throws Exception
    {
        final BenchMain.Options o = BenchMain.parse(new String[]{"--size", "smoke", "--only", "f", "--runs", "1",
            "--warmup", "1", "--warmup-seconds", "1.5", "--workers", "inprocess", "--json", dir.resolve("b.json").toString()});
        o.out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        final long t0 = System.nanoTime();
        final Map<String, Object> results = BenchMain.run(o, new LinkedHashMap<>());
        final double seconds = (System.nanoTime() - t0) / 1e9;
        final Map<String, Object> mode = (Map<String, Object>)((Map<String, Object>)results.get("modes")).get("inprocess");
        final Map<String, Object> entry = (Map<String, Object>)mode.get("f_restart");
        assertEquals("seconds", entry.get("warmup_ended_by"));
        final int warmups = (Integer)entry.get("warmup_runs");
        assertTrue(warmups > 1, "a restart takes milliseconds: more than the one warm-up asked for, " + warmups);
        assertTrue(seconds >= 1.5, "the warm-ups lasted their 1.5 s: " + seconds);
        assertEquals(1, ((List<?>)entry.get("runs")).size());
        assertEquals(List.of(), entry.get("warmup_errors"));
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    @SuppressWarnings("unchecked")
    void warmUpsGoOnUntilTheJitIsQuietWithinTheirLimit(@TempDir final Path dir) throws Exception
    {
        // 2 cores is every core here: the first window of warm-ups (2 s) is quiet enough.
        final BenchMain.Options quiet = BenchMain.parse(new String[]{"--size", "smoke", "--only", "f", "--runs", "1",
            "--warmup", "1", "--warmup-jit-quiet", "2", "--workers", "inprocess", "--json", dir.resolve("q.json").toString()});
        quiet.out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        Map<String, Object> entry = (Map<String, Object>)((Map<String, Object>)((Map<String, Object>)BenchMain.run(
            quiet, new LinkedHashMap<>()).get("modes")).get("inprocess")).get("f_restart");
        assertEquals("jit quiet", entry.get("warmup_ended_by"));
        assertTrue((Double)entry.get("warmup_s") >= 2.0, "one whole window of warm-ups: " + entry.get("warmup_s"));
        final double jit = (Double)entry.get("warmup_last_jit_cores");
        assertTrue(jit >= 0 && jit <= 2, "measured over the window: " + jit);
        assertTrue(((Map<String, Object>)((List<Object>)entry.get("load")).get(0)).containsKey("jit_cores_avg"));

        // A limit shorter than one window: the JIT is never judged quiet, and the limit ends the warm-ups.
        final BenchMain.Options limited = BenchMain.parse(new String[]{"--size", "smoke", "--only", "f", "--runs", "1",
            "--warmup", "1", "--warmup-jit-quiet", "2", "--warmup-max-seconds", "0.5", "--workers", "inprocess",
            "--json", dir.resolve("l.json").toString()});
        limited.out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        entry = (Map<String, Object>)((Map<String, Object>)((Map<String, Object>)BenchMain.run(
            limited, new LinkedHashMap<>()).get("modes")).get("inprocess")).get("f_restart");
        assertEquals("warmup-max-seconds", entry.get("warmup_ended_by"));
        assertTrue((Double)entry.get("warmup_s") >= 0.5 && (Double)entry.get("warmup_s") < 2.0, "" + entry.get("warmup_s"));
        assertEquals(null, entry.get("warmup_last_jit_cores"));
        assertEquals(1, ((List<?>)entry.get("runs")).size());
    }

    @Test
    void summaryIsMedianMinMax()
    {
        final Map<String, Object> r1 = Map.of("x", 3.0, "s", "a");
        final Map<String, Object> r2 = Map.of("x", 1.0, "s", "b");
        final Map<String, Object> r3 = Map.of("x", 10.0, "s", "c");
        @SuppressWarnings("unchecked") final Map<String, Object> sum =
            (Map<String, Object>)BenchMain.summarise(List.of(r1, r2, r3));
        assertEquals(Map.of("median", 3.0, "min", 1.0, "max", 10.0, "n", 3), sum.get("x"));
        assertEquals("a", sum.get("s"));
        @SuppressWarnings("unchecked") final Map<String, Object> even =
            (Map<String, Object>)BenchMain.summarise(List.of(Map.of("x", 1.0), Map.of("x", 2.0)));
        assertEquals(1.5, ((Map<?, ?>)even.get("x")).get("median"));
    }

    @Test
    void badArgumentsAreRefusedWithTheReason()
    {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--only", "a,z"}))
            .getMessage().contains("'z'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--runs", "0"}))
            .getMessage().contains("--runs"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--warmup", "-1"}))
            .getMessage().contains("--warmup"));
        assertEquals(0, BenchMain.parse(new String[]{"--warmup", "0"}).warmups);
        assertEquals(1, BenchMain.parse(new String[0]).warmups);
        assertEquals(0.0, BenchMain.parse(new String[0]).warmupSeconds);
        assertNull(BenchMain.parse(new String[0]).workerJvmOptions);
        assertEquals(List.of("-Xmx2g", "-XX:+UseG1GC"),
            BenchMain.parse(new String[]{"--worker-jvm", " -Xmx2g  -XX:+UseG1GC"}).workerJvmOptions);
        assertEquals(2.5, BenchMain.parse(new String[]{"--warmup-seconds", "2.5"}).warmupSeconds);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--warmup-seconds", "-1"}))
            .getMessage().contains("--warmup-seconds"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--profile-event", "gc"}))
            .getMessage().contains("--profile-event"));
        assertNull(BenchMain.parse(new String[0]).profileDir);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--warmup-jit-quiet", "-0.1"}))
            .getMessage().contains("--warmup-jit-quiet"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--warmup-max-seconds", "-1"}))
            .getMessage().contains("--warmup-max-seconds"));
        // A limit under --warmup-seconds does not cut those (the limit is the larger): accepted, as before the limit.
        assertEquals(20.0, BenchMain.parse(new String[]{"--warmup-seconds", "30", "--warmup-max-seconds", "20"}).warmupMaxSeconds);
        assertEquals(0.02, BenchMain.parse(new String[]{"--warmup-jit-quiet", "0.02"}).warmupJitCores);
        assertEquals(0.0, BenchMain.parse(new String[0]).warmupJitCores);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--workers", "x"}))
            .getMessage().contains("process|process-udp|inprocess|both"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--json"}))
            .getMessage().contains("needs a value"));
        assertNull(BenchMain.parse(new String[]{"--help"}));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> BenchMain.parse(new String[]{"--worker-cpus", "3-1"}))
            .getMessage().contains("workerCpus"));
        assertEquals("none", BenchMain.parse(new String[0]).workerCpus);
        assertEquals("auto", BenchMain.parse(new String[]{"--worker-cpus=auto"}).workerCpus);
    }

    @Test
    void jsonEscapesAndKeepsNumbers()
    {
        final Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "a\"b\\c\n");
        m.put("d", 1.5);
        m.put("whole", 2.0);
        m.put("l", List.of(1, 2L));
        m.put("nan", Double.NaN);
        m.put("none", null);
        assertEquals("{\n  \"s\": \"a\\\"b\\\\c\\n\",\n  \"d\": 1.5,\n  \"whole\": 2.0,\n  \"l\": [1, 2],\n" +
            "  \"nan\": null,\n  \"none\": null\n}\n", Json.write(m));
    }
}
