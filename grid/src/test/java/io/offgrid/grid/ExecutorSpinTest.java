package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.GridFuture;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import io.offgrid.transport.AgentGroup;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Executors of in-process workers watch their queue for a while before they sleep, so a sequential caller's next
 * task does not pay for waking one; one per group, and only while at most one task is in flight.
 */
@Timeout(60)
class ExecutorSpinTest
{
    private static final long LONG_SPIN_NS = TimeUnit.SECONDS.toNanos(30);

    @Test
    void anIdleExecutorWatchesItsQueueAndTakesTheNextTaskAwake() throws Exception
    {
        try (AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("spin-test")))
        {
            final Worker.SpinningQueue queue = new Worker.SpinningQueue(LONG_SPIN_NS, group);
            final Thread[] taker = new Thread[1];
            final CompletableFuture<Runnable> taken = CompletableFuture.supplyAsync(() ->
            {
                taker[0] = Thread.currentThread();
                try
                {
                    return queue.take();
                }
                catch (final InterruptedException ex)
                {
                    throw new IllegalStateException(ex);
                }
            });
            waitFor(queue::watched, "the idle executor watches its queue");
            assertEquals(Thread.State.RUNNABLE, taker[0].getState(), "awake, not parked");
            assertFalse(group.tryAcquireSpinSlot(), "the group's one spin slot is taken");

            final Runnable task = new Job();
            queue.taskQueued(); // as the worker counts a task it hands to its executors
            assertTrue(queue.watched(), "a task of its own worker in flight: it goes on watching");
            queue.offer(task);
            assertSame(task, taken.get(10, TimeUnit.SECONDS));
            queue.taskDone();
            assertFalse(queue.watched());
            assertTrue(group.tryAcquireSpinSlot(), "the slot is back");
            group.releaseSpinSlot();
        }
    }

    @Test
    void withParallelWorkAnIdleExecutorSleepsAndOnlyOneSpinsPerGroup() throws Exception
    {
        try (AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("spin-test")))
        {
            final Worker.SpinningQueue a = new Worker.SpinningQueue(LONG_SPIN_NS, group);
            final Worker.SpinningQueue b = new Worker.SpinningQueue(LONG_SPIN_NS, group);
            final Thread takerA = taker(a);
            waitFor(a::watched, "a watches");
            final Thread takerB = taker(b);
            waitFor(() -> takerB.getState() == Thread.State.WAITING, "b sleeps: the group has one spinner");
            assertFalse(b.watched());

            // Another worker's task in flight: parallel work. The spinner gives up and sleeps.
            b.taskQueued();
            waitFor(() -> takerA.getState() == Thread.State.WAITING && !a.watched(), "a sleeps once b's task is in flight");
            assertFalse(group.tryAcquireSpinSlot(), "no spinning while a task is in flight");
            a.offer(new Job());
            b.offer(new Job());
            takerA.join(10_000);
            takerB.join(10_000);
            assertFalse(takerA.isAlive() || takerB.isAlive(), "sleeping executors still get their tasks");
            b.taskDone();
            assertEquals(0, group.tasksInFlight());
        }
    }

    @Test
    void everyTaskLeavesTheInFlightCountRunOrCancelledWhileQueued()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(1).threadsPerWorker(1).start();
             Client client = cluster.client())
        {
            final GridFuture<Long> input = client.scatter(1L, ScatterOptions.options());
            input.await(10, TimeUnit.SECONDS);
            final GridFuture<Long> blocker = client.submit((Long x) -> GridTests.sleepy(3_000) + x,
                SubmitOptions.options().pure(false), input);
            GridTests.sleep(100); // the blocker holds the only thread
            final List<GridFuture<Long>> queued = new ArrayList<>();
            for (int i = 0; i < 5; i++)
            {
                queued.add(client.submit((Long x) -> x + 1, SubmitOptions.options().pure(false), input));
            }
            waitFor(() -> cluster.group().tasksInFlight() == 6, "the blocker and five queued tasks in flight");
            client.cancel(queued, true); // cancelled while waiting for the thread
            for (final GridFuture<Long> f : queued)
            {
                f.await(10, TimeUnit.SECONDS);
                assertEquals(io.offgrid.client.FutureStatus.CANCELLED, f.status(), "cancelled before it ran");
            }
            assertEquals(3_001L, blocker.get());
            final List<GridFuture<Long>> ran = new ArrayList<>();
            for (int i = 0; i < 20; i++)
            {
                ran.add(client.submit((Long x) -> x + 2, SubmitOptions.options().pure(false), input));
            }
            client.gather(ran);
            waitFor(() -> cluster.group().tasksInFlight() == 0, "every task counted out, run or cancelled");
        }
    }

    @Test
    void aKilledWorkersQueuedTasksLeaveTheCount()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(2).threadsPerWorker(1).start();
             Client client = cluster.client())
        {
            final long victim = cluster.workerIds()[0];
            final GridFuture<Long> input = client.scatter(1L, ScatterOptions.options().workers(victim));
            input.await(10, TimeUnit.SECONDS);
            final List<GridFuture<Long>> onVictim = new ArrayList<>();
            for (int i = 0; i < 4; i++)
            {
                onVictim.add(client.submit((Long x) -> GridTests.sleepy(2_000) + x,
                    SubmitOptions.options().pure(false).workers(victim).allowOtherWorkers(false), input));
            }
            waitFor(() -> cluster.group().tasksInFlight() == 4, "one task running and three queued on the victim");
            cluster.killWorker(victim); // its executor is shut down with three tasks never started
            waitFor(() -> cluster.group().tasksInFlight() == 0, "the killed worker's tasks counted out");
        }
    }

    /** A task for the queues, which order their tasks (the worker's are by priority, then arrival). */
    private static final class Job implements Runnable, Comparable<Job>
    {
        @Override
        public void run()
        {
        }

        @Override
        public int compareTo(final Job other)
        {
            return 0;
        }
    }

    private static Thread taker(final Worker.SpinningQueue queue)
    {
        final Thread t = new Thread(() ->
        {
            try
            {
                queue.take().run();
            }
            catch (final InterruptedException ignore)
            {
                // test over
            }
        }, "spin-test-taker");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void waitFor(final BooleanSupplier condition, final String what)
    {
        final long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > end)
            {
                throw new AssertionError("timed out waiting until " + what);
            }
            GridTests.sleep(1);
        }
    }
}
