package io.offgrid.perf.transport;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a benchmark peer in its own JVM (same java, class path and project JVM flags) and waits for its
 * READY line.
 */
final class Children
{
    private Children()
    {
    }

    static int freePort()
    {
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0)))
        {
            return socket.getLocalPort();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    static String jvmFlags()
    {
        try (InputStream in = Children.class.getResourceAsStream("/offgrid-jvm.flags"))
        {
            return null == in ? "--add-exports java.base/jdk.internal.misc=ALL-UNNAMED" :
                new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    /** @return the child, after it printed a line starting with READY. */
    static Process start(final Class<?> main, final String... args) throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(Arrays.asList(jvmFlags().split("\\s+")));
        command.add("-Xmx256m");
        for (final String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
        {
            if (arg.startsWith("-Dorg.agrona.") || arg.startsWith("-Daeron."))
            {
                command.add(arg); // the same Aeron/Agrona tuning on both ends of a comparison
            }
        }
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(main.getName());
        command.addAll(Arrays.asList(args));
        final Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        final BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line;
        while (null != (line = in.readLine()))
        {
            if (line.startsWith("READY"))
            {
                final Thread drain = new Thread(() ->
                {
                    try
                    {
                        while (null != in.readLine())
                        {
                        }
                    }
                    catch (final IOException ignore)
                    {
                    }
                });
                drain.setDaemon(true);
                drain.start();
                return process;
            }
            System.err.println("[child] " + line);
        }
        throw new IllegalStateException("child exited before READY");
    }

    static void stop(final Process process)
    {
        if (null != process)
        {
            try
            {
                process.getOutputStream().close();
                if (!process.waitFor(5, TimeUnit.SECONDS))
                {
                    process.destroy();
                }
                if (!process.waitFor(5, TimeUnit.SECONDS))
                {
                    process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
            }
            catch (final IOException ex)
            {
                process.destroyForcibly();
            }
        }
    }
}
