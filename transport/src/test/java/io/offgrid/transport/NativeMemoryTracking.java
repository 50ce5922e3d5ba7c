package io.offgrid.transport;

import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JVM's own count of native memory (tests run with -XX:NativeMemoryTracking=summary, see the pom): malloc'd
 * bytes under "Other", where Unsafe.allocateMemory and direct ByteBuffers land. Independent of the transport's
 * own counters.
 */
final class NativeMemoryTracking
{
    private static final Pattern OTHER = Pattern.compile("Other \\(reserved=\\d+, committed=\\d+\\)\\s*\\(malloc=(\\d+) #\\d+\\)");

    private NativeMemoryTracking()
    {
    }

    static long otherBytes()
    {
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
        if (report.contains("not enabled"))
        {
            throw new IllegalStateException("run tests with -XX:NativeMemoryTracking=summary");
        }
        final Matcher m = OTHER.matcher(report);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
