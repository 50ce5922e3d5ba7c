package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridException;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import static io.offgrid.grid.GridTests.MIB;
import static io.offgrid.grid.GridTests.await;
import static io.offgrid.grid.GridTests.total;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bulk data between process workers and the client: over the cluster's driver (Aeron IPC, the same-host
 * shared-memory path, the default) and over UDP (each worker its own driver). Multi-MiB blocks arrive intact
 * (checksums) through scatter, gather, replicate and a task pinned to the other worker; a worker SIGKILLed
 * while it sends leaves no partial block behind and no driver directory in /dev/shm.
 */
@Timeout(120)
class SharedMemoryPathTest
{
    @ParameterizedTest(name = "sharedDriver={0}, directReads={1}")
    @CsvSource({"true,true", "false,true", "false,false"})
    void blocksArriveIntactBetweenProcesses(final boolean sharedDriver, final boolean directReads)
    {
        final List<ProcessHandle> children = new ArrayList<>();
        final LocalCluster.Builder builder = LocalCluster.builder().workers(2).threadsPerWorker(1).processes(true)
            .sharedDriver(sharedDriver);
        if (!directReads)
        {
            // the workers neither read nor offer: every block streams, as between hosts
            builder.workerJvmOptions(List.of("-Xmx1g", "-XX:+UseSerialGC", "-Doffgrid.transport.directReads=false"));
        }
        try (LocalCluster cluster = builder.start();
             Client client = cluster.client())
        {
            cluster.workers().forEach(w -> children.add(ProcessHandle.of(w.pid()).orElseThrow()));
            // On the shared driver a worker embeds none: no driver directory of its own.
            assertEquals(sharedDriver ? 0 : 2, driverDirectoriesOf(children).size(), "driver directories of workers");
            final long[] ids = cluster.workerIds();
            final double[] big = randomDoubles(7, 40 * MIB / 8);
            final long sum = checksum(big);

            final GridFuture<double[]> f = client.scatter(big, ScatterOptions.options().workers(ids[0]).hash(false));
            assertArrayEquals(big, client.gather(f), "gathered from A");
            client.replicate(List.of(f), 2, null);
            await(() -> client.whoHas(List.of(f)).get(f.key()).length == 2, 20_000, "replicated to B");
            final GridFuture<Long> onB = client.submit(SharedMemoryPathTest::checksum,
                SubmitOptions.options().workers(ids[1]).allowOtherWorkers(false), f);
            assertEquals(sum, onB.get(), "checksum computed on B");

            final List<double[]> small = new ArrayList<>();
            for (int i = 0; i < 12; i++)
            {
                small.add(randomDoubles(100 + i, 4 * MIB / 8));
            }
            final List<GridFuture<double[]>> fs = client.scatter(small, ScatterOptions.options().workers(ids[1]).hash(false));
            final List<double[]> back = client.gather(fs);
            for (int i = 0; i < small.size(); i++)
            {
                assertArrayEquals(small.get(i), back.get(i), "small block " + i);
            }
            // The gathers: read out of the workers' memory, or streamed when the workers do not offer.
            if (directReads)
            {
                // 13 gathers of 4 MiB and up; the first may have been streamed while the binding still loaded
                assertTrue(client.transportCounters().blocksReadDirect() >= 12, client.transportCounters().toString());
            }
            else
            {
                assertEquals(0, client.transportCounters().blocksReadDirect());
                assertTrue(client.transportCounters().offersStreamed() >= 1, "a worker refused an offer of a scattered block");
            }
            f.release();
            onB.release();
            fs.forEach(GridFuture::release);
            await(() -> total(cluster) < 1024, 10_000, "freed in the worker processes");
        }
        assertEquals(0, ProcessHandle.current().children().count(), "no child process left");
        assertEquals(List.of(), driverDirectoriesOf(children), "no worker driver directory left");
    }

    @Test
    void sigkillOfTheSenderMidTransferLeavesNoPartialBlock() throws InterruptedException
    {
        final List<ProcessHandle> children = new ArrayList<>();
        try (LocalCluster cluster = LocalCluster.builder().workers(2).threadsPerWorker(1).processes(true)
                 .peerTimeoutNs(TimeUnit.SECONDS.toNanos(3)).start();
             Client client = cluster.client())
        {
            cluster.workers().forEach(w -> children.add(ProcessHandle.of(w.pid()).orElseThrow()));
            final long[] ids = cluster.workerIds();
            final long a = ids[0];
            final long b = ids[1];
            final double[] big = randomDoubles(11, 256 * MIB / 8);
            final GridFuture<double[]> f = client.scatter(big, ScatterOptions.options().workers(a).hash(false));
            await(() -> cluster.worker(b).managedBytes() == 0 && cluster.worker(a).managedBytes() > 0, 10_000,
                "heartbeats: the block on A only");
            // replicate returns when the copy is made or has failed: it runs beside the kill
            final java.util.concurrent.CompletableFuture<Void> replicating =
                java.util.concurrent.CompletableFuture.runAsync(() -> client.replicate(List.of(f), 2, null));
            Thread.sleep(15); // the copy is under way (256 MiB take some 100 ms here)
            final long t0 = System.nanoTime();
            cluster.killWorker(a);

            // Either B got the whole block before A died, or the partial block is freed and the key is lost.
            boolean lost;
            try
            {
                f.get(20, TimeUnit.SECONDS);
                lost = false;
            }
            catch (final GridException ex)
            {
                lost = true;
            }
            final boolean wasLost = lost;
            if (wasLost)
            {
                assertEquals(FutureStatus.LOST, f.status());
                await(() -> cluster.worker(b).managedBytes() == 0, 10_000, "B freed the partial block");
            }
            else
            {
                assertArrayEquals(big, client.gather(f), "the copy B completed before A died");
            }
            System.out.println("sender killed; key " + (wasLost ? "lost, partial block freed" : "survived on B") +
                " after " + (System.nanoTime() - t0) / 1e6 + " ms");
            try
            {
                replicating.get(20, TimeUnit.SECONDS); // answered, not left waiting on a dead sender
            }
            catch (final java.util.concurrent.ExecutionException ex)
            {
                throw new AssertionError("replicate failed", ex);
            }
            catch (final java.util.concurrent.TimeoutException ex)
            {
                throw new AssertionError("replicate still waiting 20 s after its sender died", ex);
            }
            final GridFuture<Integer> after = client.submit((Integer x) -> x + 1, 6);
            assertEquals(7, after.get(), "the cluster keeps working");
            after.release(); // its result is on B too
            f.release();
            await(() -> cluster.worker(b).managedBytes() == 0, 10_000, "B back to baseline");
        }
        assertEquals(0, ProcessHandle.current().children().count(), "no child process left");
        assertEquals(List.of(), driverDirectoriesOf(children), "no worker driver directory left");
    }

    static long checksum(final double[] a)
    {
        long h = 1;
        for (final double d : a)
        {
            h = 31 * h + Double.doubleToRawLongBits(d);
        }
        return h;
    }

    private static double[] randomDoubles(final long seed, final int n)
    {
        final SplittableRandom r = new SplittableRandom(seed);
        final double[] a = new double[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = r.nextDouble();
        }
        return a;
    }

    /** Driver directories in /dev/shm made by these processes (DriverDirectories names them offgrid-aeron-PID-...). */
    private static List<String> driverDirectoriesOf(final List<ProcessHandle> processes)
    {
        try (Stream<Path> s = Files.list(Paths.get("/dev/shm")))
        {
            final List<String> names = s.map(p -> p.getFileName().toString()).collect(Collectors.toList());
            final List<String> mine = new ArrayList<>();
            for (final ProcessHandle p : processes)
            {
                final String prefix = "offgrid-aeron-" + p.pid() + "-";
                names.stream().filter(n -> n.startsWith(prefix)).forEach(mine::add);
            }
            return mine;
        }
        catch (final IOException ex)
        {
            throw new IllegalStateException(ex);
        }
    }
}
