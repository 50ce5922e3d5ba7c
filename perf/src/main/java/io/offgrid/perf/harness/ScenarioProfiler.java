package io.offgrid.perf.harness;

import com.sun.tools.attach.VirtualMachine;
import io.offgrid.grid.LocalCluster;
import one.profiler.AsyncProfiler;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * async-profiler recordings of one scenario's timed runs, in every process of the cluster: in this JVM (the client,
 * the scheduler, in-process workers) through async-profiler's Java API, and in each process worker by loading the
 * same library into it through the JDK's attach API, as async-profiler's own launcher does. Each process gets a flame
 * graph ({@code .html}, one root per thread), a text profile ({@code .txt}: the hottest frames, then the hottest
 * stacks) and the folded stacks ({@code .collapsed}, one line per stack, for other tools). The library comes from async-profiler's jar on the class path, copied to a temporary file that
 * {@link #close()} deletes.
 * <p>
 * A profile costs the run a little CPU (a sample a millisecond per busy thread); the bench marks profiled figures so.
 */
final class ScenarioProfiler implements AutoCloseable
{
    /** Events async-profiler takes here; cpu = perf_events CPU time, wall = all threads, running or not. */
    static final Set<String> EVENTS = Set.of("cpu", "itimer", "wall", "alloc", "lock");
    /** Frames of each process's flat profile kept in the JSON; the text file has more. */
    static final int TOP_FRAMES = 8;
    /** Threads of each process kept in the JSON, busiest first. */
    static final int TOP_THREADS = 8;

    private final Path dir;
    private final String event;
    private final Path libraryDir;
    private final Path library;
    private final AsyncProfiler self;
    private String label;
    private final List<Target> targets = new ArrayList<>();

    /** A process being profiled: this JVM (pid 0 here, no handle) or a process worker. */
    private record Target(String name, long pid, ProcessHandle process)
    {
    }

    private ScenarioProfiler(final Path dir, final String event, final Path libraryDir, final Path library)
    {
        this.dir = dir;
        this.event = event;
        this.libraryDir = libraryDir;
        this.library = library;
        this.self = AsyncProfiler.getInstance(library.toString());
    }

    /**
     * @param dir   where profiles go (created if missing).
     * @param event one of {@link #EVENTS}.
     * @return a profiler with async-profiler loaded into this JVM.
     * @throws IOException           if the directory or the library's copy cannot be made.
     * @throws IllegalStateException if async-profiler has no library for this platform or cannot load here.
     */
    static ScenarioProfiler open(final Path dir, final String event) throws IOException
    {
        if (!EVENTS.contains(event))
        {
            throw new IllegalArgumentException("profile event must be one of " + EVENTS + ": " + event);
        }
        final String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        final String arch = System.getProperty("os.arch");
        final String platform = !os.contains("linux") ? null :
            "amd64".equals(arch) || "x86_64".equals(arch) ? "linux-x64" : "aarch64".equals(arch) ? "linux-arm64" : null;
        if (null == platform)
        {
            throw new IllegalStateException("async-profiler has no library for " + os + "/" + arch + " in its jar");
        }
        Files.createDirectories(dir);
        final Path libraryDir = Files.createTempDirectory("offgrid-asprof-");
        try
        {
            final Path library = libraryDir.resolve("libasyncProfiler.so");
            try (InputStream in = AsyncProfiler.class.getResourceAsStream("/" + platform + "/libasyncProfiler.so"))
            {
                if (null == in)
                {
                    throw new IllegalStateException("async-profiler's jar has no " + platform + " library");
                }
                Files.copy(in, library, StandardCopyOption.REPLACE_EXISTING);
            }
            return new ScenarioProfiler(dir.toAbsolutePath(), event, libraryDir, library);
        }
        catch (final IOException | RuntimeException | UnsatisfiedLinkError ex)
        {
            deleteLibrary(libraryDir);
            if (ex instanceof UnsatisfiedLinkError)
            {
                throw new IllegalStateException("async-profiler does not load here: " + ex.getMessage(), ex);
            }
            throw ex;
        }
    }

    /**
     * Start recording in this JVM and in each live process worker of {@code cluster}.
     *
     * @param label   names the files: {@code <label>-bench.html}, {@code <label>-worker<id>.txt}, ...
     * @param cluster the cluster whose process workers are profiled too.
     * @return errors (a worker that could not be attached), empty if every process records.
     */
    List<String> start(final String label, final LocalCluster cluster)
    {
        if (null != this.label)
        {
            throw new IllegalStateException("already recording " + this.label);
        }
        this.label = label;
        targets.clear();
        final List<String> errors = new ArrayList<>();
        final String start = "start,event=" + event + ("alloc".equals(event) || "lock".equals(event) ? "" : ",interval=1ms") +
            ",threads";
        try
        {
            self.execute(start);
            targets.add(new Target("bench", 0, null));
        }
        catch (final IOException | RuntimeException | LinkageError ex)
        {
            errors.add("bench JVM: " + ex);
        }
        for (final LocalCluster.WorkerHandle w : cluster.workers())
        {
            if (!w.isProcess() || !w.isAlive())
            {
                continue;
            }
            final String name = "worker" + w.id();
            try
            {
                // The handle knows the process's start: a pid reused after the worker ended is not attached to.
                final ProcessHandle process = ProcessHandle.of(w.pid()).orElseThrow(() -> new IOException("no such process"));
                command(w.pid(), start);
                targets.add(new Target(name, w.pid(), process));
            }
            catch (final IOException | RuntimeException | LinkageError ex)
            {
                errors.add(name + " (pid " + w.pid() + "): " + ex);
            }
        }
        return errors;
    }

    /**
     * Stop recording everywhere and write each process's flame graph and text profile.
     *
     * @return {@code event}, {@code files}, {@code top} (each process's hottest frames), {@code threads} (each
     * process's busiest threads: percent of its samples) and {@code errors}.
     */
    Map<String, Object> stop()
    {
        final Map<String, Object> out = new LinkedHashMap<>();
        final List<String> files = new ArrayList<>();
        final Map<String, Object> top = new LinkedHashMap<>();
        final Map<String, Object> threads = new LinkedHashMap<>();
        final List<String> errors = new ArrayList<>();
        out.put("event", event);
        for (final Target t : targets)
        {
            final Path html = dir.resolve(label + "-" + t.name() + ".html");
            final Path txt = dir.resolve(label + "-" + t.name() + ".txt");
            final Path folded = dir.resolve(label + "-" + t.name() + ".collapsed");
            if (null != t.process() && !t.process().isAlive())
            {
                errors.add(t.name() + ": ended before its profile was written (a lost worker; the bench restarts the " +
                    "cluster, whose new workers are not profiled)");
                continue;
            }
            try
            {
                final List<String> commands = List.of("stop", "dump,file=" + txt + ",flat=30,traces=12",
                    "dump,flamegraph,file=" + html, "dump,collapsed,file=" + folded);
                for (final String command : commands)
                {
                    if (0 == t.pid())
                    {
                        self.execute(command);
                    }
                    else
                    {
                        command(t.pid(), command);
                    }
                }
                files.add(html.toString());
                files.add(txt.toString());
                files.add(folded.toString());
                top.put(t.name(), topFrames(Files.readString(txt, StandardCharsets.UTF_8), TOP_FRAMES));
                threads.put(t.name(), threadShares(Files.readString(folded, StandardCharsets.UTF_8), TOP_THREADS));
            }
            catch (final IOException | RuntimeException | LinkageError ex)
            {
                errors.add(t.name() + ": " + ex);
            }
        }
        targets.clear();
        label = null;
        out.put("files", files);
        out.put("top", top);
        out.put("threads", threads);
        out.put("errors", errors);
        return out;
    }

    /**
     * @param profile async-profiler's text output.
     * @param n       how many frames.
     * @return the first {@code n} lines of its flat section as "percent frame", hottest first.
     */
    static List<String> topFrames(final String profile, final int n)
    {
        final List<String> frames = new ArrayList<>();
        boolean inFlat = false;
        for (final String line : profile.split("\n"))
        {
            final String s = line.trim();
            if (!inFlat)
            {
                inFlat = s.startsWith("----------") && s.endsWith("---") && profile.contains("percent  samples  top");
                continue;
            }
            if (s.isEmpty() || frames.size() == n)
            {
                break;
            }
            final String[] parts = s.split("\\s+", 4); // ns, percent, samples, frame
            if (4 == parts.length)
            {
                frames.add(parts[1] + " " + parts[3]);
            }
        }
        return frames;
    }

    /**
     * @param collapsed async-profiler's folded stacks recorded with {@code threads}: each line
     *                  {@code [name tid=N];frame;...;frame count}.
     * @param n         how many threads.
     * @return percent of all samples per thread name (threads of one name, such as pool threads, added up), the
     * busiest {@code n}, busiest first.
     */
    static Map<String, Double> threadShares(final String collapsed, final int n)
    {
        final Map<String, Long> samples = new LinkedHashMap<>();
        long total = 0;
        for (final String line : collapsed.split("\n"))
        {
            final int space = line.lastIndexOf(' ');
            if (space <= 0)
            {
                continue;
            }
            final long count;
            try
            {
                count = Long.parseLong(line.substring(space + 1).trim());
            }
            catch (final NumberFormatException ex)
            {
                continue;
            }
            final int semi = line.indexOf(';');
            String thread = semi < 0 ? line.substring(0, space) : line.substring(0, semi);
            if (thread.startsWith("[") && thread.endsWith("]"))
            {
                thread = thread.substring(1, thread.length() - 1);
                final int tid = thread.lastIndexOf(" tid=");
                thread = tid > 0 ? thread.substring(0, tid) : thread;
            }
            else
            {
                thread = "(no thread frame)";
            }
            samples.merge(thread, count, Long::sum);
            total += count;
        }
        final Map<String, Double> shares = new LinkedHashMap<>();
        final long all = total;
        samples.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).limit(n)
            .forEach(e -> shares.put(e.getKey(), Math.round(1000.0 * e.getValue() / all) / 10.0));
        return shares;
    }

    private void command(final long pid, final String command) throws IOException
    {
        final VirtualMachine vm;
        try
        {
            vm = VirtualMachine.attach(Long.toString(pid));
        }
        catch (final com.sun.tools.attach.AttachNotSupportedException ex)
        {
            throw new IOException("cannot attach: " + ex.getMessage(), ex);
        }
        try
        {
            vm.loadAgentPath(library.toString(), command);
        }
        catch (final com.sun.tools.attach.AgentLoadException | com.sun.tools.attach.AgentInitializationException ex)
        {
            throw new IOException("async-profiler refused '" + command + "': " + ex.getMessage(), ex);
        }
        finally
        {
            try
            {
                vm.detach();
            }
            catch (final IOException ignore)
            {
                // the command's own outcome is what counts; the connection goes with the process anyway
            }
        }
    }

    /** Stops a recording left running (a scenario that threw), then deletes the library's copy. */
    @Override
    public void close()
    {
        try
        {
            if (null != label)
            {
                stop();
            }
        }
        finally
        {
            deleteLibrary(libraryDir);
        }
    }

    private static void deleteLibrary(final Path libraryDir)
    {
        try
        {
            Files.deleteIfExists(libraryDir.resolve("libasyncProfiler.so"));
            Files.deleteIfExists(libraryDir);
        }
        catch (final IOException ignore)
        {
            // a temporary file; nothing else depends on it
        }
    }
}
