package io.offgrid.memory;

import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the JVM's native memory tracking counters (the test JVM runs with
 * -XX:NativeMemoryTracking=summary). Unsafe.allocateMemory, which the store uses, is counted under
 * "Other", so these are independent of the store's own bookkeeping.
 */
final class NativeMemoryTracking
{
    private static final Pattern OTHER = Pattern.compile(
        "Other \\(reserved=(\\d+), committed=(\\d+)\\)\\s*\\(malloc=(\\d+) #(\\d+)\\)");

    /** Bytes and count of "Other" mallocs. */
    record Snapshot(long bytes, long count)
    {
    }

    private NativeMemoryTracking()
    {
    }

    static Snapshot other()
    {
        // The madvise binding loads once per JVM on a thread of its own, allocating as it goes: load it before any
        // baseline, so its one-time memory is not counted against the code under test.
        io.offgrid.memory.internal.LargePages.awaitReady(30, java.util.concurrent.TimeUnit.SECONDS);
        final String report;
        try
        {
            report = ManagementFactory.getPlatformMBeanServer().invoke(
                new ObjectName("com.sun.management:type=DiagnosticCommand"), "vmNativeMemory",
                new Object[]{new String[]{"summary", "scale=b"}}, new String[]{String[].class.getName()}).toString();
        }
        catch (final Exception ex)
        {
            throw new IllegalStateException("native memory tracking is not available", ex);
        }
        final Matcher m = OTHER.matcher(report);
        if (!m.find())
        {
            if (report.contains("not enabled"))
            {
                throw new IllegalStateException("run tests with -XX:NativeMemoryTracking=summary");
            }
            // No "Other" line at all means nothing is allocated there.
            return new Snapshot(0, 0);
        }
        return new Snapshot(Long.parseLong(m.group(3)), Long.parseLong(m.group(4)));
    }
}
