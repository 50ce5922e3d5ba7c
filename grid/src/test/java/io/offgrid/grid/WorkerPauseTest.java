package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static io.offgrid.grid.GridTests.MIB;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A worker whose store is past its pause fraction starts no new task until memory drops again (Dask's pause).
 */
@Timeout(60)
class WorkerPauseTest
{
    private static final AtomicBoolean NEXT_STARTED = new AtomicBoolean();

    @Test
    void aPausedWorkerStartsNothingNewUntilMemoryIsReleased() throws IOException
    {
        // The worker's metrics heartbeat is slowed to a minute, so the scheduler keeps believing it unpaused and
        // sends it work: only the worker's own gate can hold that work back.
        final Path spillParent = Files.createTempDirectory("offgrid-pause-test-");
        try (LocalCluster cluster = LocalCluster.builder().workers(0).start();
             Worker worker = Worker.launch(new Worker.Context()
                 .schedulerAddress(cluster.schedulerAddress())
                 .threads(1)
                 .memoryLimit(64L * MIB)
                 .heartbeatIntervalNs(TimeUnit.SECONDS.toNanos(60))
                 .spillDirectory(spillParent));
             Client client = cluster.client())
        {
            GridTests.await(() -> cluster.scheduler().workerCount() == 1, 10_000, "the worker registers");
            // Spilling cannot relieve this worker: its spill directory is replaced by a plain file, so every
            // spill write fails and the results stay in memory.
            final Path spill = worker.store().spillDirectory();
            try (Stream<Path> files = Files.walk(spill))
            {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
            Files.writeString(spill, "not a directory");
            try
            {
                // 56 MiB of results in a 64 MiB store: past the 0.8 pause fraction (51.2 MiB).
                final GridFuture<Long> small = client.scatter(41L, ScatterOptions.options());
                small.await(10, TimeUnit.SECONDS);
                final GridFuture<long[]> big = client.submit((Integer mib) -> new long[mib * (MIB / 8)], 56);
                big.await(30, TimeUnit.SECONDS);
                assertEquals(FutureStatus.FINISHED, big.status(), () -> String.valueOf(big.exception()));
                assertTrue(worker.store().paused(), "the store is past its pause fraction");
                // Its input is in memory, so the scheduler (which has no heartbeat saying "paused") sends it at
                // once: only the worker's own gate can hold it back.
                final GridFuture<Long> next = client.submit((Long x) ->
                {
                    NEXT_STARTED.set(true); // the worker runs in this JVM: the test sees the flag
                    return x + 1;
                }, SubmitOptions.options().pure(false), small);
                GridTests.sleep(500);
                assertEquals(FutureStatus.PENDING, next.status());
                assertFalse(NEXT_STARTED.get(), "no task starts while the worker is paused");

                big.release(); // memory drops below the pause fraction: the worker starts what it held back
                assertEquals(42L, next.get(), "the held task runs once the worker unpauses");
                assertTrue(!worker.store().paused());
                small.release();
                next.release();
                GridTests.await(() -> worker.managedBytes() == 0 && worker.store().spilledBytes() == 0, 5_000, "all freed");
            }
            finally
            {
                if (Files.isRegularFile(spill))
                {
                    Files.delete(spill);
                }
            }
        }
        finally
        {
            if (Files.exists(spillParent)) // the worker's store deletes its spill directory at close
            {
                try (Stream<Path> files = Files.walk(spillParent))
                {
                    files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    @Test
    void memoryThatDropsIsReportedAtOnceNotAtTheNextHeartbeat() throws IOException
    {
        final Path spillParent = Files.createTempDirectory("offgrid-heartbeat-test-");
        try (LocalCluster cluster = LocalCluster.builder().workers(0).start();
             Worker worker = Worker.launch(new Worker.Context()
                 .schedulerAddress(cluster.schedulerAddress())
                 .threads(1)
                 .memoryLimit(64L * MIB)
                 .heartbeatIntervalNs(TimeUnit.SECONDS.toNanos(60)) // only the early report can tell
                 .spillDirectory(spillParent));
             Client client = cluster.client())
        {
            GridTests.await(() -> cluster.scheduler().workerCount() == 1, 10_000, "the worker registers");
            final GridFuture<long[]> kept = client.submit((Long seed) -> GridTests.megabyte(seed), 3L);
            final GridFuture<long[]> dropped = client.submit((Long seed) -> GridTests.megabyte(seed), 4L);
            assertEquals(3L, kept.get()[0]);
            assertEquals(4L, dropped.get()[0]);
            final long bothBytes = worker.managedBytes();
            dropped.release();
            GridTests.await(() -> worker.managedBytes() < bothBytes, 5_000, "the worker frees one");
            // The scheduler never had a regular heartbeat since both were stored: only the early report can
            // tell it the one megabyte that is left.
            GridTests.await(() -> cluster.scheduler().reportedManagedBytes(worker.id()) == worker.managedBytes(), 5_000,
                "the scheduler hears of the drop long before the next (60 s) heartbeat");
            assertTrue(cluster.scheduler().reportedManagedBytes(worker.id()) >= MIB);
            kept.release();
            GridTests.await(() -> cluster.scheduler().reportedManagedBytes(worker.id()) == 0, 5_000, "and of the last free");
            assertEquals(0L, client.info().managedBytes());
        }
    }
}
