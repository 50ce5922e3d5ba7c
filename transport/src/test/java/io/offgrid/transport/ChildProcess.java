package io.offgrid.transport;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A {@link PeerProcess} in a child JVM: same java, the test class path, the project's JVM flags.
 * Its stdout lines are queued; {@link #expect} waits for one while stepping the test's own nodes.
 */
final class ChildProcess implements AutoCloseable
{
    private final Process process;
    private final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> transcript = new ArrayList<>();
    private final Writer stdin;
    final String endpoint;

    ChildProcess(final String... args) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        final String flags = System.getProperty("offgrid.test.jvm.flags", "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED");
        command.addAll(Arrays.asList(flags.trim().split("\\s+")));
        command.add("-Xmx256m");
        command.add("-XX:+UseSerialGC");
        command.add("-cp");
        command.add(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")));
        command.add(PeerProcess.class.getName());
        command.addAll(Arrays.asList(args));
        process = new ProcessBuilder(command).redirectErrorStream(true).start();
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        final Thread reader = new Thread(() ->
        {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)))
            {
                String line;
                while (null != (line = in.readLine()))
                {
                    lines.add(line);
                }
            }
            catch (final IOException ignore)
            {
            }
        }, "child-reader");
        reader.setDaemon(true);
        reader.start();
        endpoint = expect("READY ", 30_000).substring("READY ".length());
    }

    long pid()
    {
        return process.pid();
    }

    void send(final String command)
    {
        try
        {
            stdin.write(command + "\n");
            stdin.flush();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException("child gone: " + transcript, ex);
        }
    }

    String expect(final String prefix, final long timeoutMs, final TransportNode... nodes)
    {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (System.nanoTime() < deadline)
        {
            final String line = lines.poll();
            if (null != line)
            {
                transcript.add(line);
                if (line.startsWith(prefix))
                {
                    return line;
                }
                continue;
            }
            if (nodes.length == 0)
            {
                try
                {
                    Thread.sleep(1);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            for (final TransportNode node : nodes)
            {
                node.doWork();
            }
        }
        fail("child " + process.pid() + " did not say '" + prefix + "' in " + timeoutMs + " ms; it said " + transcript);
        return null;
    }

    List<String> transcript()
    {
        String line;
        while (null != (line = lines.poll()))
        {
            transcript.add(line);
        }
        return transcript;
    }

    void kill() throws InterruptedException
    {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    public void close() throws InterruptedException
    {
        if (process.isAlive())
        {
            try
            {
                send("exit");
            }
            catch (final RuntimeException ignore)
            {
            }
            if (!process.waitFor(5, TimeUnit.SECONDS))
            {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
