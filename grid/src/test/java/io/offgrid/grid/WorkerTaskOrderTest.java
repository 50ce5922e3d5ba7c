package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tasks waiting on a worker for a thread start highest priority first, then in arrival order.
 */
@Timeout(60)
class WorkerTaskOrderTest
{
    @Test
    void aHighPriorityTaskOvertakesLowerOnesWaitingForTheThread()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(1).threadsPerWorker(1).start();
             Client client = cluster.client())
        {
            // Input already in memory: tasks on it are ready at once and go straight to the worker, where they
            // wait behind the blocker for the only thread.
            final GridFuture<Long> input = client.scatter(1L, ScatterOptions.options());
            input.await(10, java.util.concurrent.TimeUnit.SECONDS);
            final GridFuture<Long> blocker = client.submit((Long x) -> GridTests.sleepy(500) + x, SubmitOptions.options().pure(false), input);
            GridTests.sleep(100); // the blocker holds the thread
            final List<GridFuture<Long>> low = new ArrayList<>();
            for (int i = 0; i < 5; i++)
            {
                low.add(client.submit((Long x) -> System.nanoTime() + 0 * x, SubmitOptions.options().pure(false).priority(0), input));
            }
            final GridFuture<Long> high = client.submit((Long x) -> System.nanoTime() + 0 * x, SubmitOptions.options().pure(false).priority(10), input);
            final long highStart = high.get();
            for (final GridFuture<Long> f : low)
            {
                assertTrue(highStart < f.get(), "the high-priority task started before a low one that arrived earlier");
            }
            final List<Long> lowStarts = client.gather(low);
            for (int i = 1; i < lowStarts.size(); i++)
            {
                assertTrue(lowStarts.get(i - 1) < lowStarts.get(i), "equal priorities start in arrival order: " + lowStarts);
            }
            blocker.get();
        }
    }
}
