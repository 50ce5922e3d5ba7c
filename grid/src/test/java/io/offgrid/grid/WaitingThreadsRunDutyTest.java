package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Threads that wait on a node run its duty cycle (SharedDuty): an idle executor runs its worker's, a client in
 * {@code get()} runs its cluster thread's. Results stay right, tasks still run only on executors, and while an
 * executor runs a long task the worker's own thread serves everything else.
 */
@Timeout(120)
class WaitingThreadsRunDutyTest
{
    private static final SubmitOptions IMPURE = SubmitOptions.options().pure(false);
    private static final AtomicBoolean SLOW_STARTED = new AtomicBoolean();
    /** Holds the long task until the test has seen the worker take data (the worker runs in this JVM). */
    private static volatile CountDownLatch slowRelease;

    @Test
    void idleExecutorsRunTheWorkersCycleAndTasksStillRunOnlyOnExecutors()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(0).start();
             Worker worker = Worker.launch(new Worker.Context().schedulerAddress(cluster.schedulerAddress()).threads(1));
             Client client = cluster.client())
        {
            GridTests.await(() -> cluster.scheduler().workerCount() == 1, 10_000, "the worker registers");
            for (long i = 0; i < 500; i++)
            {
                final GridFuture<String> f = client.submit((Long x) -> x + "@" + Thread.currentThread().getName(), IMPURE, i);
                final String r = f.get();
                assertTrue(r.startsWith(i + "@"), r);
                assertTrue(r.contains("-exec-"), "a task runs on an executor thread, not the node's: " + r);
                f.release();
            }
            assertTrue(worker.cyclesRunByExecutors() > 0, "idle executors ran the worker's duty cycle");
            assertTrue(cluster.cyclesRunByWaitingClients() > 0, "the client's get() ran the cluster thread's cycle");
        }
    }

    @Test
    void withExecutorHelpOffOnlyTheNodesThreadRunsTheWorkersCycle()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(0).start();
             Worker worker = Worker.launch(new Worker.Context().schedulerAddress(cluster.schedulerAddress()).threads(1)
                 .executorHelpNs(0));
             Client client = cluster.client())
        {
            GridTests.await(() -> cluster.scheduler().workerCount() == 1, 10_000, "the worker registers");
            for (long i = 0; i < 50; i++)
            {
                final GridFuture<Long> f = client.submit((Long x) -> x + 1, IMPURE, i);
                assertEquals(i + 1, f.get());
                f.release();
            }
            assertEquals(0, worker.cyclesRunByExecutors());
        }
    }

    @Test
    void whileItsOnlyExecutorRunsALongTaskTheWorkerStillTakesData()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(0).start();
             Worker worker = Worker.launch(new Worker.Context().schedulerAddress(cluster.schedulerAddress()).threads(1));
             Client client = cluster.client())
        {
            GridTests.await(() -> cluster.scheduler().workerCount() == 1, 10_000, "the worker registers");
            // Warm: the executor has just helped, so it held the duty when the long task came.
            for (long i = 0; i < 20; i++)
            {
                client.submit((Long x) -> x, IMPURE, i).get();
            }
            SLOW_STARTED.set(false);
            slowRelease = new CountDownLatch(1);
            final GridFuture<Long> slow = client.submit((Long ms) ->
            {
                SLOW_STARTED.set(true);
                try
                {
                    slowRelease.await(ms, TimeUnit.MILLISECONDS);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                return ms;
            }, IMPURE, 60_000L);
            GridTests.await(SLOW_STARTED::get, 10_000, "the long task runs");
            try
            {
                // The only executor is inside the task: only the node's own thread can take this.
                final GridFuture<long[]> data = client.scatter(new long[1 << 16], ScatterOptions.options().workers(worker.id()));
                data.await(30, TimeUnit.SECONDS);
                assertFalse(slow.isDone(), "the long task is still running");
                assertEquals(1 << 16, client.gather(data).length);
            }
            finally
            {
                slowRelease.countDown();
            }
            assertEquals(60_000L, slow.get());
        }
    }

    @Test
    void closeEndsExecutorsThatAreRunningTheCycle()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(0).start();
             Client client = cluster.client())
        {
            final Worker worker = Worker.launch(new Worker.Context().schedulerAddress(cluster.schedulerAddress())
                .threads(2).executorHelpNs(TimeUnit.SECONDS.toNanos(30)));
            GridTests.await(() -> cluster.scheduler().workerCount() == 1, 10_000, "the worker registers");
            assertEquals(7L, client.submit((Long x) -> x + 1, IMPURE, 6L).get());
            GridTests.await(() -> worker.cyclesRunByExecutors() > 0, 10_000, "an executor runs the cycle");
            final long t0 = System.nanoTime();
            worker.close(); // its executors would go on for 30 s without work; close waits for them up to 5 s
            final long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(tookMs < 2_000, "close ends the helping executors at once, took " + tookMs + " ms");
        }
    }
}
