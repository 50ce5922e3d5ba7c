package io.offgrid.transport;

import org.agrona.CloseHelper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

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
}
