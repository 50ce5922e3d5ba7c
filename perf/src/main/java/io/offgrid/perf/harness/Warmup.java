package io.offgrid.perf.harness;

/**
 * When a scenario's untimed warm-up runs end and its timed runs start. The {@code --warmup} count is a floor;
 * {@code --warmup-seconds} and a busy JIT ({@code --warmup-jit-quiet}) extend it, the JIT only up to
 * {@code --warmup-max-seconds} (never below {@code --warmup-seconds}). The JIT is judged over windows of warm-up runs
 * of at least {@link #JIT_WINDOW_NS}: quiet when the last whole window was, and the window under way has not already
 * used more than a whole window's allowance (so a burst since the last window counts).
 */
final class Warmup
{
    /**
     * Warm-ups are judged quiet over windows of at least this long: the JIT works in bursts (one C2 compile can take
     * tens of milliseconds), and /proc counts CPU in 10 ms ticks.
     */
    static final long JIT_WINDOW_NS = 2_000_000_000L;

    private final int minRuns;
    private final double jitQuietCores;
    private final long start;
    private final long secondsEnd;
    private final long limit;
    private LoadMonitor.Snapshot window;
    private LoadMonitor.Snapshot lastEnd;
    private double windowCores = Double.NaN;
    private String lastReason;
    private int runs;
    private double seconds;
    private String endedBy;

    /**
     * @param o     the bench's settings.
     * @param start a snapshot taken as the scenario's first warm-up is about to start.
     */
    Warmup(final BenchMain.Options o, final LoadMonitor.Snapshot start)
    {
        this.minRuns = o.warmups;
        this.jitQuietCores = o.warmupJitCores;
        this.start = start.nanos();
        this.secondsEnd = this.start + (long)(o.warmupSeconds * 1e9);
        this.limit = this.start + (long)(Math.max(o.warmupMaxSeconds, o.warmupSeconds) * 1e9);
        this.window = start;
        this.lastEnd = start;
    }

    /**
     * @param now {@link System#nanoTime()} as the next run is about to start.
     * @return whether it is a warm-up (then counted in {@link #runs()}); the first false fixes {@link #endedBy()}.
     */
    boolean next(final long now)
    {
        final boolean jitBusy = jitQuietCores > 0 && (!(windowCores <= jitQuietCores) ||
            lastEnd.jit() - window.jit() > jitQuietCores * JIT_WINDOW_NS / 1e9);
        final boolean byCount = runs < minRuns;
        final boolean bySeconds = now < limit && now < secondsEnd;
        final boolean byJit = now < limit && jitBusy;
        if (byCount || bySeconds || byJit)
        {
            lastReason = byJit ? "jit quiet" : bySeconds ? "seconds" : "count";
            runs++;
            return true;
        }
        if (null == endedBy)
        {
            seconds = (now - start) / 1e9;
            // The limit (JIT still busy), or the last rule that had kept the warm-ups going.
            endedBy = jitBusy ? "warmup-max-seconds" : null == lastReason ? "count" : lastReason;
        }
        return false;
    }

    /**
     * @param end a snapshot taken as a warm-up run ended.
     * @return the JIT's cores over the window this run closed, or NaN if the window goes on.
     */
    double warmedUp(final LoadMonitor.Snapshot end)
    {
        lastEnd = end;
        if (end.nanos() - window.nanos() < JIT_WINDOW_NS)
        {
            return Double.NaN;
        }
        windowCores = (Double)LoadMonitor.delta(window, end).get("jit_cores_avg");
        window = end;
        return windowCores;
    }

    /** @return warm-up runs so far. */
    int runs()
    {
        return runs;
    }

    /** @return seconds from the first warm-up to the first timed run; 0 before that. */
    double seconds()
    {
        return seconds;
    }

    /** @return the rule that let the timed runs start: count, seconds, jit quiet or warmup-max-seconds; or null. */
    String endedBy()
    {
        return endedBy;
    }

    /** @return the JIT's cores over the last whole window of warm-ups, or null if no window closed. */
    Double lastJitCores()
    {
        return Double.isNaN(windowCores) ? null : windowCores;
    }
}
