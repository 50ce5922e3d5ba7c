package io.offgrid.grid;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.BitSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which CPUs a LocalCluster's worker processes may run on, and the {@code taskset} prefix that pins them there.
 * <p>
 * Why: on the 2-vCPU VM this project is measured on, the guest kernel packs runnable threads onto one vCPU, so the
 * cluster's thread, the caller's thread and the workers' threads queued behind each other: a process worker's
 * submit→result p50 was 190-540 µs. With the workers kept off the first CPU the cluster JVM may use, it was
 * 131-234 µs in the same probe (grid/README.md). The price is compute: the workers' threads then share fewer CPUs,
 * which is why it is not the default. The cluster JVM itself is the user's and is not pinned.
 */
final class WorkerCpus
{
    /** Every online CPU this JVM may use but the lowest, when there are two or more; else no pinning. */
    static final String AUTO = "auto";
    /** No pinning (the default): workers run wherever the OS puts them. */
    static final String NONE = "none";
    private static final Pattern LIST = Pattern.compile("\\d{1,4}(-\\d{1,4})?(,\\d{1,4}(-\\d{1,4})?)*");

    private WorkerCpus()
    {
    }

    /**
     * @param setting {@link #AUTO}, {@link #NONE}, or a CPU list ({@code 1-3,5}).
     * @throws IllegalArgumentException if it is none of those.
     */
    static void validate(final String setting)
    {
        if (null == setting || !(AUTO.equals(setting) || NONE.equals(setting) || isList(setting)))
        {
            throw new IllegalArgumentException("workerCpus must be auto, none or a CPU list such as 1-3,5; was " + setting);
        }
    }

    /**
     * @param setting a validated setting.
     * @return the CPU list to pin worker processes to, or null for none.
     */
    static String resolve(final String setting)
    {
        if (NONE.equals(setting))
        {
            return null;
        }
        if (!AUTO.equals(setting))
        {
            return setting;
        }
        return auto(allowedList(Paths.get("/proc/self/status")), online(Paths.get("/sys/devices/system/cpu/online")));
    }

    /**
     * @param allowed this JVM's {@code Cpus_allowed_list} (the affinity mask: may name CPUs that are offline).
     * @param online  the host's online CPUs, or null if unknown.
     * @return the usable CPUs but the lowest, or null if fewer than two are usable or the lists are unreadable.
     */
    static String auto(final String allowed, final String online)
    {
        final BitSet usable = parse(allowed);
        if (null == usable)
        {
            return null;
        }
        if (null != online)
        {
            final BitSet on = parse(online);
            if (null == on)
            {
                return null;
            }
            usable.and(on);
        }
        if (usable.cardinality() < 2)
        {
            return null;
        }
        usable.clear(usable.nextSetBit(0));
        return format(usable);
    }

    private static String online(final Path file)
    {
        try
        {
            return Files.readString(file, StandardCharsets.US_ASCII).trim();
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
    }

    /**
     * @param setting a validated setting.
     * @return {@code taskset -c LIST} to put before a worker's command, or empty for no pinning (auto on a host
     *         with one usable CPU or without taskset; none).
     * @throws IllegalStateException for an explicit list on a host without taskset.
     */
    static List<String> launchPrefix(final String setting)
    {
        final String cpus = resolve(setting);
        if (null == cpus)
        {
            return List.of();
        }
        final String taskset = taskset();
        if (null == taskset)
        {
            if (AUTO.equals(setting))
            {
                return List.of();
            }
            throw new IllegalStateException("workerCpus " + setting + " needs taskset, which is not on this host's PATH");
        }
        return List.of(taskset, "-c", cpus);
    }

    /** @return the {@code taskset} program on the PATH (or in /usr/bin, /bin), else null. */
    static String taskset()
    {
        final String path = System.getenv("PATH");
        final String dirs = (null == path ? "" : path + File.pathSeparator) + "/usr/bin" + File.pathSeparator + "/bin";
        for (final String dir : dirs.split(File.pathSeparator))
        {
            if (dir.isEmpty())
            {
                continue;
            }
            final File f = new File(dir, "taskset");
            if (f.isFile() && f.canExecute())
            {
                return f.getPath();
            }
        }
        return null;
    }

    /** @return the {@code Cpus_allowed_list} of a {@code /proc/<pid>/status} file, or null. */
    static String allowedList(final Path status)
    {
        try
        {
            for (final String line : Files.readAllLines(status, StandardCharsets.US_ASCII))
            {
                if (line.startsWith("Cpus_allowed_list:"))
                {
                    return line.substring("Cpus_allowed_list:".length()).trim();
                }
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            return null;
        }
        return null;
    }

    static boolean isList(final String list)
    {
        return null != parse(list);
    }

    /** @return the CPUs of a list such as {@code 0-3,6}, or null if it is not one (a range must not run backwards). */
    static BitSet parse(final String list)
    {
        if (null == list || !LIST.matcher(list).matches())
        {
            return null;
        }
        final BitSet cpus = new BitSet();
        for (final String range : list.split(","))
        {
            final int dash = range.indexOf('-');
            final int from = Integer.parseInt(dash < 0 ? range : range.substring(0, dash));
            final int to = dash < 0 ? from : Integer.parseInt(range.substring(dash + 1));
            if (to < from)
            {
                return null;
            }
            cpus.set(from, to + 1);
        }
        return cpus;
    }

    static String format(final BitSet cpus)
    {
        final StringBuilder sb = new StringBuilder();
        for (int from = cpus.nextSetBit(0); from >= 0; )
        {
            final int to = cpus.nextClearBit(from) - 1;
            if (sb.length() > 0)
            {
                sb.append(',');
            }
            sb.append(from);
            if (to > from)
            {
                sb.append('-').append(to);
            }
            from = cpus.nextSetBit(to + 1);
        }
        return sb.toString();
    }
}
