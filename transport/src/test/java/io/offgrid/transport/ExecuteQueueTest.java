package io.offgrid.transport;

import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link TransportNode#execute}: a bounded queue, back pressure for other threads, a clear refusal when it stays full. */
@Timeout(30)
class ExecuteQueueTest
{
    private TransportNode node;

    @AfterEach
    void close()
    {
        CloseHelper.quietClose(node);
        Nodes.assertNoDriverDirectories();
    }

    @Test
    void aFullQueueRefusesWithAClearErrorAndLosesNothingQueued()
    {
        node = TransportNode.launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator())
            .commandQueueCapacity(16).commandTimeoutNs(0));
        final AtomicInteger ran = new AtomicInteger();
        for (int i = 0; i < 16; i++)
        {
            node.execute(ran::incrementAndGet);
        }
        final TransportException full = assertThrows(TransportException.class, () -> node.execute(ran::incrementAndGet));
        assertTrue(full.getMessage().contains("command queue full (16 commands"), full.getMessage());
        assertEquals(1, node.counters().commandsRejected());
        node.doWork();
        assertEquals(16, ran.get(), "every queued command ran, the refused one did not");
        node.execute(ran::incrementAndGet);
        node.doWork();
        assertEquals(17, ran.get());
    }

    @Test
    void anotherThreadWaitsForRoomWhileTheAgentThreadIsRefusedAtOnce() throws Exception
    {
        node = TransportNode.launch(Nodes.context(1, new Events(new TrackingAllocator()), new TrackingAllocator())
            .commandQueueCapacity(4).commandTimeoutNs(TimeUnit.SECONDS.toNanos(20)));
        final AtomicInteger ran = new AtomicInteger();
        node.doWork(); // this thread is the agent from now on
        for (int i = 0; i < 4; i++)
        {
            node.execute(ran::incrementAndGet);
        }
        final TransportException self = assertThrows(TransportException.class, () -> node.execute(ran::incrementAndGet));
        assertTrue(self.getMessage().contains("agent thread itself"), self.getMessage());

        final CompletableFuture<Void> other = CompletableFuture.runAsync(() -> node.execute(ran::incrementAndGet));
        Thread.sleep(100);
        assertFalse(other.isDone(), "waits while the queue is full");
        while (!other.isDone())
        {
            node.doWork(); // room appears: the waiting command goes in
        }
        other.get();
        node.doWork();
        assertEquals(5, ran.get());
        assertEquals(1, node.counters().commandsRejected());
    }
    @Test
    void inAGroupAThreadThatRanACycleStillWaitsForRoomAndTheCycleItselfIsRefusedAtOnce() throws Exception
    {
        try (TransportDriver driver = TransportDriver.launch(new TransportDriver.Context().threadingMode(ThreadingMode.INVOKER));
             AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("offgrid-test-group").driver(driver)))
        {
            final TransportNode member = TransportNode.launch(Nodes.context(1, new Events(new TrackingAllocator()),
                new TrackingAllocator()).aeronDirectoryName(driver.aeronDirectoryName()).agentGroup(group)
                .commandQueueCapacity(4).commandTimeoutNs(TimeUnit.SECONDS.toNanos(20)));
            group.add(member);
            // This thread runs one of the group's cycles (a client waiting in get() does): it polls the node's queue.
            final long helpedBefore = group.helpedCycles();
            final long tHelp = System.nanoTime();
            while (group.helpedCycles() == helpedBefore && System.nanoTime() - tHelp < TimeUnit.SECONDS.toNanos(10))
            {
                final int[] checks = {0};
                group.helpUntil(() -> checks[0]++ >= 1, TimeUnit.SECONDS.toNanos(5), Long.MAX_VALUE);
            }
            assertTrue(group.helpedCycles() > helpedBefore, "a cycle ran on this thread");

            final CountDownLatch blocked = new CountDownLatch(1);
            final CountDownLatch filled = new CountDownLatch(1);
            final CountDownLatch release = new CountDownLatch(1);
            final AtomicReference<Throwable> inCycle = new AtomicReference<>();
            final AtomicInteger ran = new AtomicInteger();
            final AtomicBoolean armed = new AtomicBoolean(true);
            group.add(new Agent()
            {
                public int doWork() throws Exception
                {
                    if (armed.getAndSet(false))
                    {
                        blocked.countDown();
                        filled.await(10, TimeUnit.SECONDS);
                        try
                        {
                            member.execute(ran::incrementAndGet);
                        }
                        catch (final TransportException ex)
                        {
                            inCycle.set(ex);
                        }
                        release.await(10, TimeUnit.SECONDS);
                    }
                    return 0;
                }

                public String roleName()
                {
                    return "blocker";
                }
            });
            assertTrue(blocked.await(10, TimeUnit.SECONDS));
            for (int i = 0; i < 4; i++)
            {
                member.execute(ran::incrementAndGet);
            }
            filled.countDown();
            final long t0 = System.nanoTime();
            while (null == inCycle.get() && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10))
            {
                Thread.sleep(1);
            }
            assertTrue(inCycle.get().getMessage().contains("agent thread itself"), String.valueOf(inCycle.get()));

            final Thread releaser = new Thread(() ->
            {
                try
                {
                    Thread.sleep(200);
                }
                catch (final InterruptedException ex)
                {
                    Thread.currentThread().interrupt();
                }
                release.countDown();
            });
            releaser.start();
            final long t1 = System.nanoTime();
            member.execute(ran::incrementAndGet); // this thread ran a cycle before, yet it is not the one polling now
            assertTrue(System.nanoTime() - t1 >= TimeUnit.MILLISECONDS.toNanos(100), "waited for room");
            releaser.join();
            final long t2 = System.nanoTime();
            while (ran.get() < 5 && System.nanoTime() - t2 < TimeUnit.SECONDS.toNanos(10))
            {
                Thread.sleep(1);
            }
            assertEquals(5, ran.get(), "the four queued and the waiting one ran; the refused one did not");
            group.remove(member);
        }
    }
}
