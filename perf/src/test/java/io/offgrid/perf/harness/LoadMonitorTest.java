package io.offgrid.perf.harness;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoadMonitorTest
{
    @Test
    void aShortRunIsNotDisturbedByOneStrayTick()
    {
        // 0.01 s of foreign CPU in a 0.07 s run reads as 0.14 cores: the resolution of /proc's ticks, not a neighbour.
        assertFalse(LoadMonitor.disturbed(Map.of("foreign_cores_avg", 0.14, "foreign_cpu_s", 0.01)));
        assertTrue(LoadMonitor.disturbed(Map.of("foreign_cores_avg", 0.14, "foreign_cpu_s", 0.03)));
        assertFalse(LoadMonitor.disturbed(Map.of("foreign_cores_avg", 0.05, "foreign_cpu_s", 0.5)));
    }

    @Test
    void snapshotsCountTheJitCompilerThreadsOfThisJvm() throws Exception
    {
        // A test JVM has compiled plenty by now; its C1 and C2 threads have CPU on record.
        try (LoadMonitor monitor = new LoadMonitor(1000))
        {
            final double first = monitor.jitCpuSeconds();
            assertTrue(first > 0);
            assertTrue(monitor.jitCpuSeconds() >= first, "readings never go back");
        }
        final LoadMonitor.Snapshot a = new LoadMonitor.Snapshot(0, 1.0, 1.0, 0, 0, 2.0);
        final LoadMonitor.Snapshot b = new LoadMonitor.Snapshot(2_000_000_000L, 2.0, 2.0, 0, 0, 2.5);
        final Map<String, Object> d = LoadMonitor.delta(a, b);
        assertEquals(0.5, d.get("jit_cpu_s"));
        assertEquals(0.25, d.get("jit_cores_avg"));
        // Never negative, whatever two snapshots are given.
        assertEquals(0.0, LoadMonitor.delta(b, new LoadMonitor.Snapshot(3_000_000_000L, 2.0, 2.0, 0, 0, 1.0)).get("jit_cpu_s"));
    }
}
