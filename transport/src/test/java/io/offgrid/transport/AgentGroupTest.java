package io.offgrid.transport;

import io.aeron.driver.ThreadingMode;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class AgentGroupTest
{
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);

    @AfterEach
    void noDriverDirectoryLeft()
    {
        assertTrue(Nodes.driverDirectories(ProcessHandle.current().pid()).isEmpty(), "driver directories left behind");
    }

    @Test
    void nodesInOneGroupTalkOverIpcOnTheGroupThreadAndCloseThere() throws Exception
    {
        // The process_vm_readv binding loads on a daemon thread at the first node, which may still be ending after it
        // is ready: not one of the threads counted here.
        assertTrue(ProcessMemory.awaitReady(30_000));
        final long threadsBefore = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("offgrid") && !t.getName().equals("offgrid-process-memory")).count();
        try (TransportDriver driver = TransportDriver.launch(new TransportDriver.Context().threadingMode(ThreadingMode.INVOKER));
             AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("offgrid-test-group").driver(driver)))
        {
            final Events ea = new Events(new TrackingAllocator());
            final Events eb = new Events(new TrackingAllocator());
            // Started from the test thread: the node's start (Aeron calls awaiting the INVOKER driver) runs on the group.
            final TransportNode a = TransportNode.launch(Nodes.context(1, ea, new TrackingAllocator())
                .aeronDirectoryName(driver.aeronDirectoryName()).agentGroup(group));
            final TransportNode b = TransportNode.launch(Nodes.context(2, eb, new TrackingAllocator())
                .aeronDirectoryName(driver.aeronDirectoryName()).agentGroup(group));
            group.add(a);
            group.add(b);
            final long threadsWithGroup = Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().startsWith("offgrid") && !t.getName().equals("offgrid-process-memory")).count();
            assertEquals(threadsBefore + 1, threadsWithGroup, "two nodes and their driver must run on the group's one thread");

            final AtomicReference<Thread> ranOn = new AtomicReference<>();
            final int length = Nodes.heartbeat(buffer, 7);
            a.execute(() ->
            {
                ranOn.set(Thread.currentThread());
                a.addPeer(2, b.endpoint());
                a.send(2, buffer, 0, length);
            });
            awaitTrue(() ->
            {
                synchronized (eb)
                {
                    return eb.messages.size() == 1;
                }
            });
            assertTrue(group.call(() -> a.usesIpc(2)));
            assertSame(ranOn.get(), group.call(Thread::currentThread), "execute() runs on the group's thread");
            assertTrue(group.call(group::onGroupThread));
            assertFalse(group.onGroupThread());

            group.remove(a); // a's onClose ran on the group: it said goodbye, so b loses it as "left"
            awaitTrue(() ->
            {
                synchronized (eb)
                {
                    return eb.lost.size() == 1;
                }
            });
            group.remove(b);
        }
    }

    @Test
    void callPassesResultsAndExceptionsAndAFailingAgentDoesNotStopTheOthers() throws Exception
    {
        try (AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("offgrid-test-group")))
        {
            assertEquals(42, group.call(() -> 42));
            final IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> group.call(() ->
            {
                throw new IllegalStateException("boom");
            }));
            assertEquals("boom", thrown.getMessage());

            final AtomicInteger healthy = new AtomicInteger();
            final CountDownLatch started = new CountDownLatch(1);
            final CountDownLatch closed = new CountDownLatch(1);
            final Agent failing = new Agent()
            {
                public int doWork()
                {
                    throw new IllegalStateException("always fails");
                }

                public String roleName()
                {
                    return "failing";
                }
            };
            final Agent counting = new Agent()
            {
                public void onStart()
                {
                    started.countDown();
                }

                public int doWork()
                {
                    healthy.incrementAndGet();
                    return 0;
                }

                public void onClose()
                {
                    closed.countDown();
                }

                public String roleName()
                {
                    return "counting";
                }
            };
            group.add(failing);
            group.add(counting);
            assertTrue(started.await(5, TimeUnit.SECONDS));
            final int before = healthy.get();
            awaitTrue(() -> healthy.get() > before + 100);
            group.remove(counting);
            assertTrue(closed.await(5, TimeUnit.SECONDS), "removal runs onClose");
            final int after = healthy.get();
            Thread.sleep(20);
            assertEquals(after, healthy.get(), "a removed agent is not run");
        }
    }

    @Test
    void aWaitingThreadRunsTheGroupsCyclesItselfAndTheGroupThreadTakesOverAfter() throws Exception
    {
        try (AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("offgrid-test-group")))
        {
            final AtomicReference<Thread> lastRanOn = new AtomicReference<>();
            final AtomicInteger cycles = new AtomicInteger();
            final AtomicBoolean sawGroupThread = new AtomicBoolean();
            group.add(new Agent()
            {
                public int doWork()
                {
                    lastRanOn.set(Thread.currentThread());
                    cycles.incrementAndGet();
                    sawGroupThread.set(group.onGroupThread());
                    return 1; // always work: a helper never runs out of budget here
                }

                public String roleName()
                {
                    return "recording";
                }
            });
            final long helpedBefore = group.helpedCycles();
            final int target = cycles.get() + 1000;
            assertTrue(group.helpUntil(() -> cycles.get() >= target && lastRanOn.get() == Thread.currentThread(),
                TimeUnit.SECONDS.toNanos(10), Long.MAX_VALUE));
            assertTrue(sawGroupThread.get(), "inside a helped cycle this thread counts as the group's");
            assertTrue(group.helpedCycles() > helpedBefore);
            assertFalse(group.onGroupThread(), "outside the cycle it does not");

            // The helper left: the group's own thread runs the cycles again.
            awaitTrue(() -> null != lastRanOn.get() && lastRanOn.get() != Thread.currentThread());
            assertSame(lastRanOn.get(), group.call(Thread::currentThread));
            group.close();
            final int closedAt = cycles.get();
            assertFalse(group.helpUntil(() -> false, TimeUnit.MILLISECONDS.toNanos(50), Long.MAX_VALUE));
            assertEquals(closedAt, cycles.get(), "a closed group runs no cycle for a helper");
        }
    }

    @Test
    void wakeCutsAParkShort() throws Exception
    {
        // A strategy that would park for 10 s: without wake() the idler could not notice the flag in time.
        final WakeableIdleStrategy idle = new WakeableIdleStrategy(0, 0, TimeUnit.SECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(10));
        final CountDownLatch parked = new CountDownLatch(1);
        final AtomicInteger rounds = new AtomicInteger();
        final Thread idler = new Thread(() ->
        {
            idle.idle(0);
            idle.idle(0);
            idle.idle(0); // spinning and yielding phases are empty: this parks
            rounds.incrementAndGet();
            parked.countDown();
            idle.idle(0);
            rounds.incrementAndGet();
        });
        idler.start();
        assertTrue(parked.await(5, TimeUnit.SECONDS));
        final long t0 = System.nanoTime();
        while (rounds.get() < 2 && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5))
        {
            idle.wake();
            Thread.sleep(1);
        }
        idler.join(5_000);
        assertEquals(2, rounds.get(), "wake() ended the park");
        assertThrows(IllegalArgumentException.class, () -> new WakeableIdleStrategy(0, 0, 10, 5));
    }

    @Test
    void aClosedGroupRefusesNewAgentsAndDriverMustBeInvokerMode()
    {
        final AgentGroup group = AgentGroup.start(new AgentGroup.Context().name("offgrid-test-group"));
        group.close();
        final Agent idle = new Agent()
        {
            public int doWork()
            {
                return 0;
            }

            public String roleName()
            {
                return "idle";
            }
        };
        assertThrows(TransportException.class, () -> group.add(idle));
        group.remove(idle); // a no-op once closed
        try (TransportDriver shared = TransportDriver.launch(new TransportDriver.Context()))
        {
            assertThrows(IllegalArgumentException.class, () -> AgentGroup.start(new AgentGroup.Context().driver(shared)));
        }
    }

    private static void awaitTrue(final java.util.function.BooleanSupplier condition) throws InterruptedException
    {
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean())
        {
            if (System.nanoTime() > deadline)
            {
                throw new AssertionError("timed out");
            }
            Thread.sleep(1);
        }
    }
}
