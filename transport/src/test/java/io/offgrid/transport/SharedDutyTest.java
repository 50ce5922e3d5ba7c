package io.offgrid.transport;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class SharedDutyTest
{
    private static final long BUDGET_NS = TimeUnit.MILLISECONDS.toNanos(2);

    @Test
    void aHelperRunsTheCyclesOnItsOwnThreadUntilItsAnswerComes()
    {
        final AtomicInteger cycles = new AtomicInteger();
        final AtomicReference<Thread> ranOn = new AtomicReference<>();
        final SharedDuty duty = new SharedDuty(() ->
        {
            ranOn.set(Thread.currentThread());
            return cycles.incrementAndGet() < 50 ? 1 : 0;
        }, () -> { }, Throwable::printStackTrace);

        assertTrue(duty.helpUntil(() -> cycles.get() >= 10, BUDGET_NS, Long.MAX_VALUE));
        assertEquals(10, cycles.get(), "checked before every cycle: no cycle after the answer");
        assertSame(Thread.currentThread(), ranOn.get());
        assertEquals(10, duty.helpedCycles());
    }

    @Test
    void aHelperStopsOnceNoCycleFindsWorkForItsBudgetAndWakesTheOwner()
    {
        final AtomicInteger wakes = new AtomicInteger();
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() -> cycles.incrementAndGet() <= 3 ? 1 : 0, wakes::incrementAndGet,
            Throwable::printStackTrace);

        final long t0 = System.nanoTime();
        assertFalse(duty.helpUntil(() -> false, BUDGET_NS, Long.MAX_VALUE));
        assertTrue(System.nanoTime() - t0 >= BUDGET_NS, "went on for the whole budget after the last work");
        assertTrue(cycles.get() > 3, "kept looking for work: " + cycles.get());
        assertEquals(1, wakes.get(), "the last helper to leave wakes the owner, once");
    }

    @Test
    void theOwnerSkipsItsCycleWhileAHelperHoldsTheDutyAndRunsItAfter() throws Exception
    {
        final CountDownLatch inCycle = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicBoolean block = new AtomicBoolean(true);
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() ->
        {
            cycles.incrementAndGet();
            if (block.getAndSet(false))
            {
                inCycle.countDown();
                awaitQuietly(release);
            }
            return 0;
        }, () -> { }, Throwable::printStackTrace);

        final Thread helper = new Thread(() -> duty.helpUntil(() -> !block.get() && release.getCount() == 0, BUDGET_NS, Long.MAX_VALUE));
        helper.start();
        assertTrue(inCycle.await(10, TimeUnit.SECONDS));
        final long t0 = System.nanoTime();
        assertEquals(0, duty.ownerCycle(), "a helper holds the duty");
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "the owner waits at most its short wait");
        assertEquals(1, cycles.get());
        release.countDown();
        helper.join();

        assertEquals(0, duty.ownerCycle()); // nobody helps now: the owner's cycle runs
        assertEquals(2, cycles.get());
    }

    @Test
    void aCycleThatWaitsOnTheNodeRunsNoNestedCycle()
    {
        final AtomicInteger depth = new AtomicInteger();
        final AtomicInteger maxDepth = new AtomicInteger();
        final AtomicInteger cycles = new AtomicInteger();
        final AtomicReference<SharedDuty> self = new AtomicReference<>();
        final SharedDuty duty = new SharedDuty(() ->
        {
            maxDepth.accumulateAndGet(depth.incrementAndGet(), Math::max);
            cycles.incrementAndGet();
            // A client get() inside a cycle: must neither recurse nor wait for itself.
            assertFalse(self.get().helpUntil(() -> false, BUDGET_NS, Long.MAX_VALUE));
            assertTrue(self.get().heldByCurrentThread());
            depth.decrementAndGet();
            return 0;
        }, () -> { }, Throwable::printStackTrace);
        self.set(duty);

        duty.ownerCycle();
        duty.ownerCycle();
        assertEquals(2, cycles.get());
        assertEquals(1, maxDepth.get());
        assertFalse(duty.heldByCurrentThread());
    }

    @Test
    void aFailingCycleOnAHelperIsReportedAndTheHelperGoesOn()
    {
        final List<Throwable> errors = new ArrayList<>();
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() ->
        {
            if (cycles.incrementAndGet() == 2)
            {
                throw new IllegalStateException("handler bug");
            }
            return 1;
        }, () -> { }, errors::add);

        assertTrue(duty.helpUntil(() -> cycles.get() >= 5, BUDGET_NS, Long.MAX_VALUE));
        assertEquals(1, errors.size());
        assertEquals("handler bug", errors.get(0).getMessage());
    }

    @Test
    void anInterruptedThreadRunsNoCycleAndKeepsItsFlag()
    {
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() -> cycles.incrementAndGet() > 0 ? 1 : 0, () -> { },
            Throwable::printStackTrace);
        Thread.currentThread().interrupt();
        try
        {
            assertFalse(duty.helpUntil(() -> false, BUDGET_NS, Long.MAX_VALUE));
            assertEquals(0, cycles.get(), "an interrupted caller must not step a driver (Agrona would stop it)");
            assertTrue(Thread.currentThread().isInterrupted(), "the flag stays for the caller's own wait to throw");
        }
        finally
        {
            Thread.interrupted();
        }
    }

    @Test
    void aCallersTimeoutEndsHelpingEvenWhileEveryCycleFindsWork()
    {
        final SharedDuty duty = new SharedDuty(() -> 1, () -> { }, Throwable::printStackTrace);
        final long t0 = System.nanoTime();
        assertFalse(duty.helpUntil(() -> false, TimeUnit.SECONDS.toNanos(30), TimeUnit.MILLISECONDS.toNanos(20)));
        final long tookNs = System.nanoTime() - t0;
        assertTrue(tookNs >= TimeUnit.MILLISECONDS.toNanos(20) && tookNs < TimeUnit.SECONDS.toNanos(10), "took " + tookNs + " ns");
    }

    @Test
    void anErrorInAHelpedCycleIsReportedNotThrownAndTheHelperLeaves()
    {
        final List<Throwable> errors = new ArrayList<>();
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() ->
        {
            cycles.incrementAndGet();
            throw new StackOverflowError("deep");
        }, () -> { }, errors::add);

        assertFalse(duty.helpUntil(() -> false, TimeUnit.SECONDS.toNanos(30), Long.MAX_VALUE));
        assertEquals(1, cycles.get(), "no cycle after an Error");
        assertEquals(1, errors.size());
        assertTrue(errors.get(0) instanceof StackOverflowError);
    }

    @Test
    void closeWaitsForARunningCycleAndNoCycleStartsAfterIt() throws Exception
    {
        final CountDownLatch inCycle = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() ->
        {
            if (0 == cycles.getAndIncrement())
            {
                inCycle.countDown();
                awaitQuietly(release);
            }
            return 1;
        }, () -> { }, Throwable::printStackTrace);

        final AtomicReference<Boolean> helperResult = new AtomicReference<>();
        final Thread helper = new Thread(() -> helperResult.set(duty.helpUntil(() -> false, TimeUnit.SECONDS.toNanos(30), Long.MAX_VALUE)));
        helper.start();
        assertTrue(inCycle.await(10, TimeUnit.SECONDS));
        final Thread closer = new Thread(duty::close);
        closer.start();
        closer.join(200);
        assertTrue(closer.isAlive(), "close waits for the cycle running on the helper");
        release.countDown();
        closer.join();
        helper.join(10_000);
        assertFalse(helper.isAlive(), "the helper leaves at close, long before its budget");
        assertFalse(helperResult.get());

        final int after = cycles.get();
        assertEquals(0, duty.ownerCycle());
        assertFalse(duty.helpUntil(() -> false, BUDGET_NS, Long.MAX_VALUE));
        assertEquals(after, cycles.get(), "no cycle after close");
    }

    @Test
    void onlyOneThreadRunsACycleAtATime() throws Exception
    {
        final AtomicInteger inside = new AtomicInteger();
        final AtomicReference<String> overlap = new AtomicReference<>();
        final AtomicInteger cycles = new AtomicInteger();
        final SharedDuty duty = new SharedDuty(() ->
        {
            if (inside.incrementAndGet() != 1)
            {
                overlap.compareAndSet(null, "two threads in one cycle");
            }
            cycles.incrementAndGet();
            Thread.onSpinWait();
            inside.decrementAndGet();
            return 1;
        }, () -> { }, Throwable::printStackTrace);

        final int target = 20_000;
        final List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3; i++)
        {
            threads.add(new Thread(() -> duty.helpUntil(() -> cycles.get() >= target, BUDGET_NS, Long.MAX_VALUE)));
        }
        threads.add(new Thread(() ->
        {
            while (cycles.get() < target)
            {
                duty.ownerCycle();
            }
        }));
        threads.forEach(Thread::start);
        for (final Thread t : threads)
        {
            t.join();
        }
        assertNull(overlap.get());
        assertTrue(cycles.get() >= target);
    }

    private static void awaitQuietly(final CountDownLatch latch)
    {
        try
        {
            latch.await(30, TimeUnit.SECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
    }
}
