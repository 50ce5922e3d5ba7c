package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.ClientConfig;
import io.offgrid.client.GridException;
import io.offgrid.grid.internal.Demo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line, the demo, cluster secrets, and what LocalCluster leaves behind. */
@Timeout(90)
class LauncherAndClusterTest
{
    @Test
    void demoTellsTheStoryAndEndsWithOneJsonLine()
    {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        final int code = new Demo(new PrintStream(bytes, true, StandardCharsets.UTF_8), 2, false, null).run();
        final String text = bytes.toString(StandardCharsets.UTF_8);
        final String[] lines = text.trim().split("\n");
        final String last = lines[lines.length - 1];
        assertEquals(0, code, text);
        assertTrue(last.startsWith("{") && last.endsWith("}"), last);
        assertTrue(last.contains("\"ok\":true"), last);
        assertTrue(last.contains("\"restart_ms\":"), last);
        assertTrue(text.contains("[after releasing both] worker 100: 0 B | worker 101: 0 B"), text);
        assertFalse(text.contains("UNEXPECTED"), text);
    }

    @Test
    void helpOnEveryCommandAndClearErrorsForBadOptions()
    {
        for (final String[] args : new String[][]{{"--help"}, {"scheduler", "--help"}, {"worker", "--help"}, {"demo", "--help"}})
        {
            final StringWriter out = new StringWriter();
            final CommandLine cmd = new CommandLine(new Offgrid()).setOut(new PrintWriter(out));
            assertEquals(0, cmd.execute(args));
            assertTrue(out.toString().contains("Usage: offgrid"), out.toString());
        }
        final StringWriter err = new StringWriter();
        final CommandLine cmd = new CommandLine(new Offgrid()).setErr(new PrintWriter(err));
        assertEquals(2, cmd.execute("worker"));
        assertTrue(err.toString().contains("--scheduler"), err.toString());
        assertEquals(4L << 30, Offgrid.parseBytes("4g"));
        assertEquals(512L << 20, Offgrid.parseBytes("512m"));
        assertEquals(1024, Offgrid.parseBytes("1024"));
        assertThrows(CommandLine.TypeConversionException.class, () -> Offgrid.parseBytes("lots"));
        assertThrows(CommandLine.TypeConversionException.class, () -> Offgrid.parseBytes("-1g"));
    }

    @Test
    void launcherScriptRunsTheCommandLine() throws Exception
    {
        final Path script = Paths.get("..", "offgrid").toAbsolutePath().normalize();
        assertTrue(Files.isExecutable(script), script.toString());
        final Process p = new ProcessBuilder(script.toString(), "demo", "--help").redirectErrorStream(true).start();
        final String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("Usage: offgrid demo"), out);
    }

    @Test
    void clusterSecretAdmitsOnlyNodesThatKnowIt()
    {
        final byte[] secret = "s3cret".getBytes(StandardCharsets.UTF_8);
        try (LocalCluster cluster = LocalCluster.builder().workers(1).clusterSecret(secret).start();
             Client client = cluster.client())
        {
            assertEquals(3, client.submit((Integer x) -> x + 1, 2).get());
            assertThrows(GridException.class, () -> Client.connect(new ClientConfig()
                .schedulerAddress(cluster.schedulerAddress())
                .clusterSecret("wrong".getBytes(StandardCharsets.UTF_8))
                .requestTimeoutNs(3_000_000_000L)));
            assertEquals(5, client.submit((Integer x) -> x + 1, 4).get(), "the cluster keeps running");
        }
    }

    @Test
    void inProcessClusterStartsQuicklyAndLeavesNothingBehind() throws Exception
    {
        // Warm up class loading once, then time a start as a user of a warm JVM sees it.
        LocalCluster.start(1).close();
        final long t0 = System.nanoTime();
        final LocalCluster cluster = LocalCluster.start(2);
        final double startMs = (System.nanoTime() - t0) / 1e6;
        System.out.println("LocalCluster.start(2) in-process: " + startMs + " ms");
        final String driverDir;
        try (cluster; Client client = cluster.client())
        {
            driverDir = cluster.workers().get(0).worker().aeronDirectoryName();
            assertTrue(Files.isDirectory(Paths.get(driverDir)));
            assertEquals(4, client.submit((Integer x) -> x * 2, 2).get());
        }
        assertFalse(Files.exists(Paths.get(driverDir)), "shared driver directory removed");
        assertEquals(0, ProcessHandle.current().children().count());
        assertTrue(startMs < 5_000, "start took " + startMs + " ms");
    }
}
