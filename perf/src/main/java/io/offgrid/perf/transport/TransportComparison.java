package io.offgrid.perf.transport;

import org.HdrHistogram.Histogram;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Offgrid against bare Aeron with both set up at once and measured in alternating rounds, so the load other
 * work puts on a shared machine falls on both alike: figures are medians of rounds and the median of the
 * per-round ratios. Uses the JMH benchmark states ({@link BlockThroughputBench}, {@link ControlRttBench}).
 *
 * <pre>java $(cat perf/target/classes/offgrid-jvm.flags) -cp perf/target/classes:$(cat perf/target/classpath.txt) \
 *     io.offgrid.perf.transport.TransportComparison [rounds]</pre>
 */
public final class TransportComparison
{
    private TransportComparison()
    {
    }

    public static void main(final String[] args) throws Exception
    {
        final int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        System.out.println("load before: " + loadAverage());
        for (final String medium : new String[]{"udp", "ipc", "direct"})
        {
            for (final long size : new long[]{1L << 20, 64L << 20})
            {
                throughput(medium, size, rounds);
            }
        }
        rtt(rounds);
        System.out.println("load after: " + loadAverage());
    }

    private static BlockThroughputBench block(final String impl, final String medium, final long size)
    {
        final BlockThroughputBench bench = new BlockThroughputBench();
        bench.impl = impl;
        bench.medium = medium;
        bench.size = size;
        bench.idle = "default";
        bench.chunk = 1 << 20;
        bench.setUp();
        return bench;
    }

    private static double bytesPerSecond(final BlockThroughputBench bench, final long millis)
    {
        final long start = System.nanoTime();
        final long end = start + TimeUnit.MILLISECONDS.toNanos(millis);
        long blocks = 0;
        while (System.nanoTime() < end)
        {
            bench.transfer();
            blocks++;
        }
        return blocks * (double)bench.size / ((System.nanoTime() - start) / 1e9);
    }

    private static void throughput(final String medium, final long size, final int rounds)
    {
        final BlockThroughputBench bare = block("bare", medium, size);
        final BlockThroughputBench offgrid = block("offgrid", medium, size);
        try
        {
            bytesPerSecond(bare, 1500);
            bytesPerSecond(offgrid, 1500);
            final double[] b = new double[rounds];
            final double[] o = new double[rounds];
            final double[] ratio = new double[rounds];
            for (int r = 0; r < rounds; r++)
            {
                if ((r & 1) == 0)
                {
                    b[r] = bytesPerSecond(bare, 500);
                    o[r] = bytesPerSecond(offgrid, 500);
                }
                else
                {
                    o[r] = bytesPerSecond(offgrid, 500);
                    b[r] = bytesPerSecond(bare, 500);
                }
                ratio[r] = o[r] / b[r];
            }
            System.out.printf("block %s %4d MiB: bare %.2f GB/s, offgrid %.2f GB/s, offgrid/bare %.2f (median of %d rounds)%n",
                medium, size >> 20, median(b) / 1e9, median(o) / 1e9, median(ratio), rounds);
        }
        finally
        {
            bare.tearDown();
            offgrid.tearDown();
        }
    }

    private static void rtt(final int rounds) throws Exception
    {
        final ControlRttBench bare = new ControlRttBench();
        bare.impl = "bare";
        bare.idle = "default";
        bare.driver = "INVOKER";
        final ControlRttBench offgrid = new ControlRttBench();
        offgrid.impl = "offgrid";
        offgrid.idle = "default";
        offgrid.driver = "INVOKER";
        bare.setUp();
        offgrid.setUp();
        try
        {
            final Histogram hb = new Histogram(TimeUnit.SECONDS.toNanos(1), 3);
            final Histogram ho = new Histogram(TimeUnit.SECONDS.toNanos(1), 3);
            sample(bare, null, 2000);
            sample(offgrid, null, 2000);
            for (int r = 0; r < rounds; r++)
            {
                sample(bare, hb, 1000);
                sample(offgrid, ho, 1000);
            }
            print("bare", hb);
            print("offgrid", ho);
            System.out.printf("rtt offgrid/bare: p50 %.2f, p99 %.2f, p99.9 %.2f%n",
                ratio(ho, hb, 50), ratio(ho, hb, 99), ratio(ho, hb, 99.9));
        }
        finally
        {
            bare.tearDown();
            offgrid.tearDown();
        }
    }

    private static void sample(final ControlRttBench bench, final Histogram histogram, final long millis)
    {
        final long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        while (System.nanoTime() < end)
        {
            final long rtt = bench.roundTrip();
            if (null != histogram)
            {
                histogram.recordValue(Math.min(rtt, histogram.getHighestTrackableValue()));
            }
        }
    }

    private static void print(final String impl, final Histogram h)
    {
        System.out.printf("rtt %-7s 32 B UDP: p50 %.1f us, p99 %.1f us, p99.9 %.1f us (%d samples)%n", impl,
            h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3, h.getValueAtPercentile(99.9) / 1e3, h.getTotalCount());
    }

    private static double ratio(final Histogram a, final Histogram b, final double percentile)
    {
        return a.getValueAtPercentile(percentile) / (double)b.getValueAtPercentile(percentile);
    }

    private static double median(final double[] values)
    {
        final double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }

    private static String loadAverage()
    {
        try
        {
            return new String(java.nio.file.Files.readAllBytes(java.nio.file.Paths.get("/proc/loadavg"))).trim();
        }
        catch (final java.io.IOException ex)
        {
            return "unknown";
        }
    }
}
