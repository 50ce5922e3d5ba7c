package io.offgrid.grid;

import io.offgrid.client.Bag;
import io.offgrid.client.Client;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridFuture;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;

import static io.offgrid.grid.GridTests.MIB;
import static io.offgrid.grid.GridTests.await;
import static io.offgrid.grid.GridTests.total;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rules of DESIGN.md over real Aeron (IPC, one shared driver) with in-process workers, asserting on the
 * workers' real managed bytes and on whoHas.
 */
@Timeout(60)
class MemoryModelTest
{
    private LocalCluster cluster;
    private Client client;

    @BeforeEach
    void start()
    {
        cluster = LocalCluster.builder().workers(2).threadsPerWorker(2).memoryLimit(256L * MIB).start();
        client = cluster.client();
    }

    @AfterEach
    void stop()
    {
        cluster.close();
    }

    @Test
    void futurePinsItsResultAndReleaseFreesItWithin100ms()
    {
        final double[] freeMs = new double[3];
        for (int i = 0; i < freeMs.length; i++)
        {
            final GridFuture<long[]> f = client.submit((Long seed) -> GridTests.megabyte(seed), (long)i);
            f.await(10, TimeUnit.SECONDS);
            assertEquals(FutureStatus.FINISHED, f.status());
            GridTests.sleep(200); // nothing frees a wanted key, however long it sits
            assertTrue(total(cluster) >= MIB, "pinned by its future");
            assertEquals(1, client.whoHas(List.of(f)).get(f.key()).length);
            assertEquals(i, f.get()[0]);
            f.release();
            freeMs[i] = await(() -> total(cluster) == 0, 5_000, "free after release");
        }
        Arrays.sort(freeMs);
        assertTrue(freeMs[1] <= 100, "median free after release " + freeMs[1] + " ms");
    }

    @Test
    void releasesBatchedInOneBurstKeepTheirOrderWithWants()
    {
        // Many releases, then the same key wanted again right after its release: the release batch must reach the
        // scheduler before the new want, or the scheduler would drop a key the client still holds.
        final List<GridFuture<Long>> many = client.map((Long x) -> x, java.util.stream.LongStream.range(0, 2_000).boxed().toList());
        client.waitAll(many);
        final SubmitOptions keyed = SubmitOptions.options().key("re-wanted").pure(true);
        final GridFuture<long[]> first = client.submit((Long seed) -> GridTests.megabyte(seed), keyed, 7L);
        first.await(10, TimeUnit.SECONDS);
        for (final GridFuture<Long> f : many)
        {
            f.release();
        }
        first.release();
        final GridFuture<long[]> again = client.submit((Long seed) -> GridTests.megabyte(seed), keyed, 7L);
        assertEquals(7, again.get()[0]);
        GridTests.sleep(200);
        assertTrue(total(cluster) >= MIB, "the re-wanted key stays pinned by its new future");
        assertEquals(1, client.whoHas(List.of(again)).get(again.key()).length);
        again.release();
        await(() -> total(cluster) == 0, 5_000, "everything freed once the last future is released");
    }

    @Test
    void chainHoldingOnlyItsTipFreesTheMiddle()
    {
        GridFuture<long[]> tip = client.submit((Long seed) -> GridTests.megabyte(seed), 1L);
        for (int i = 0; i < 10; i++)
        {
            final GridFuture<long[]> next = client.submit((long[] a) ->
            {
                final long[] r = a.clone();
                r[0]++;
                return r;
            }, tip);
            tip.release();
            tip = next;
        }
        assertEquals(11, tip.get()[0]);
        final long tipBytes = client.nbytes(List.of(tip)).get(tip.key());
        assertTrue(tipBytes > MIB);
        await(() -> total(cluster) == tipBytes, 5_000, "only the tip in memory");
        assertEquals(11, client.info().taskCount(), "the scheduler keeps the lineage (records, not data)");
        tip.release();
        await(() -> total(cluster) == 0, 5_000, "nothing left");
        await(() -> client.info().taskCount() == 0, 5_000, "lineage forgotten with the last reference");
    }

    @Test
    void persistReturnsBeforeASlowGraphFinishes()
    {
        final Bag<Long> slow = Bag.range(8, 4).map(x -> GridTests.sleepy(300) * 0 + x);
        final long t0 = System.nanoTime();
        final Bag<Long> persisted = client.persist(slow);
        final double returnMs = (System.nanoTime() - t0) / 1e6;
        assertTrue(returnMs < 250, "persist returned after " + returnMs + " ms");
        assertTrue(persisted.partitions().stream().anyMatch(p -> p.future().status() == FutureStatus.PENDING));
        for (var p : persisted.partitions())
        {
            assertEquals(FutureStatus.PENDING.ordinal() + 1, p.future().await(20, TimeUnit.SECONDS).status().ordinal());
        }
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L), persisted.compute());
        assertTrue(total(cluster) > 0, "persisted partitions stay");
        persisted.release();
        await(() -> total(cluster) == 0, 5_000, "released bag freed");
    }

    @Test
    void blockingComputePersistsNothing()
    {
        final List<Long> squares = Bag.range(1000, 4).map(x -> x * x).filter(x -> x % 2 == 0).compute();
        assertEquals(500, squares.size());
        assertEquals(4L, squares.get(1));
        assertEquals(Long.valueOf(166_167_000L), Bag.range(1000, 4).map(x -> x * x).filter(x -> x % 2 == 0)
            .sum().compute());
        await(() -> total(cluster) == 0 && client.info().taskCount() == 0, 5_000, "nothing persisted");
    }

    @Test
    void twoCollectionsSharingKeys()
    {
        final Bag<long[]> lazy = Bag.range(4, 4).map(x -> GridTests.megabyte(x));
        final Bag<long[]> first = client.persist(lazy);
        final Bag<long[]> second = client.persist(lazy);
        client.waitAll(futures(second));
        final long bytes = client.nbytes(futures(second)).values().stream().mapToLong(Long::longValue).sum();
        await(() -> total(cluster) == bytes, 5_000, "the 4 partitions in memory, intermediates freed");
        assertTrue(bytes < 5L * MIB, "shared keys stored once: " + bytes);
        first.release();
        GridTests.sleep(200);
        assertEquals(bytes, total(cluster), "the other collection still points to the keys");
        second.release();
        await(() -> total(cluster) == 0, 5_000, "released both: freed");
    }

    @Test
    void twoClientsWantingOneKey()
    {
        try (Client other = cluster.client())
        {
            final SubmitOptions opts = SubmitOptions.options().key("shared-key");
            final GridFuture<long[]> a = client.submit((Long s) -> GridTests.megabyte(s), opts, 5L);
            final GridFuture<long[]> b = other.submit((Long s) -> GridTests.megabyte(s), opts, 5L);
            assertEquals(5L, a.get()[0]);
            assertEquals(5L, b.get()[0]);
            final long bytes = total(cluster);
            assertTrue(bytes >= MIB && bytes < 2L * MIB, "one copy: " + bytes);
            a.release();
            GridTests.sleep(200);
            assertEquals(bytes, total(cluster), "the other client still wants it");
            b.release();
            await(() -> total(cluster) == 0, 5_000, "both released");
        }
    }

    @Test
    void manyFuturesForOneKeyCountAsOneWant()
    {
        final SubmitOptions opts = SubmitOptions.options().key("same");
        final GridFuture<long[]> a = client.submit((Long s) -> GridTests.megabyte(s), opts, 1L);
        final GridFuture<long[]> b = client.submit((Long s) -> GridTests.megabyte(s), opts, 1L);
        a.await(10, TimeUnit.SECONDS);
        a.release();
        GridTests.sleep(200);
        assertTrue(total(cluster) >= MIB, "b still holds the key");
        assertEquals(1L, b.get()[0]);
        b.close();
        await(() -> total(cluster) == 0, 5_000, "last future closed");
    }

    @Test
    void batchReleaseSendsOneReleasePerKeyOnceAndKeepsKeysStillHeld()
    {
        final List<GridFuture<long[]>> chunks = client.map((Long s) -> GridTests.megabyte(s), List.of(1L, 2L, 3L, 4L),
            SubmitOptions.options().pure(false));
        final SubmitOptions keyed = SubmitOptions.options().key("held-twice");
        final GridFuture<long[]> heldA = client.submit((Long s) -> GridTests.megabyte(s), keyed, 9L);
        final GridFuture<long[]> heldB = client.submit((Long s) -> GridTests.megabyte(s), keyed, 9L);
        client.waitAll(chunks);
        heldA.await(10, TimeUnit.SECONDS);
        chunks.get(3).release();
        await(() -> client.releasesSent() == 1, 5_000, "the one released alone is sent");
        await(() -> total(cluster) < 4 * MIB + 64 * 1024, 5_000, "the one released alone is freed");

        // Released already, listed twice, and one of two futures of a key listed twice: each future counts once.
        // Counted twice, heldA would end the want heldB still holds (count 2), and the key would go.
        final List<GridFuture<?>> batch = new ArrayList<>(chunks);
        batch.add(chunks.get(0));
        batch.add(heldA);
        batch.add(heldA);
        client.release(batch);
        assertTrue(chunks.stream().allMatch(GridFuture::isReleased) && heldA.isReleased() && !heldB.isReleased());
        assertEquals(1, client.wantedKeyCount(), "heldB's key is still wanted");
        await(() -> client.releasesSent() == 4, 5_000, "three more keys released");
        await(() -> total(cluster) < 2 * MIB, 5_000, "the batch's chunks freed");
        client.info(); // a round trip behind anything the agent would still send
        assertEquals(4, client.releasesSent(), "each released once");

        heldA.release(); // again, after the batch: nothing more
        assertEquals(1, client.wantedKeyCount());
        assertEquals(9L, heldB.get()[0], "the key another future holds stays");
        assertTrue(total(cluster) >= MIB, "and its block");
        client.release(List.of(heldB));
        await(() -> total(cluster) == 0, 5_000, "the last future released");
        assertEquals(5, client.releasesSent());
        assertEquals(0, client.wantedKeyCount());
    }

    @Test
    void garbageCollectedFutureReleases()
    {
        submitAndForget();
        await(() -> total(cluster) >= MIB, 5_000, "result in memory");
        final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (total(cluster) != 0 && System.nanoTime() < deadline)
        {
            System.gc();
            GridTests.sleep(20);
        }
        assertEquals(0, total(cluster), "a future that became garbage released its key");
        assertEquals(0, client.wantedKeyCount());
    }

    private void submitAndForget()
    {
        final GridFuture<long[]> f = client.submit((Long s) -> GridTests.megabyte(s), 3L);
        f.await(10, TimeUnit.SECONDS);
    }

    @Test
    void cancelKillsDependentsAndWorkersKeepRunning()
    {
        final GridFuture<Long> slow = client.submit((Long ms) -> GridTests.sleepy(ms), 10_000L);
        final GridFuture<Long> dep = client.submit((Long x) -> x + 1, slow);
        final GridFuture<Long> dep2 = client.submit((Long x, Long y) -> x + y, dep, 5L);
        GridTests.sleep(100);
        client.cancel(List.of(slow), false);
        assertEquals(FutureStatus.CANCELLED, slow.status());
        assertEquals(FutureStatus.CANCELLED, dep.await(5, TimeUnit.SECONDS).status());
        assertEquals(FutureStatus.CANCELLED, dep2.await(5, TimeUnit.SECONDS).status());
        for (final GridFuture<Long> f : List.of(slow, dep, dep2))
        {
            final String reason = assertThrows(CancellationException.class, f::get).getMessage();
            assertTrue(reason.endsWith("was cancelled: cancelled"), reason);
        }
        assertEquals(7, client.submit((Integer x) -> x + 1, 6).get());
        await(() -> total(cluster) <= 64, 5_000, "nothing but the small result");
    }

    @Test
    void cancelledFuturesNeedNoReleaseButAKeyWantedTwiceStillSendsOne()
    {
        final List<GridFuture<Long>> many = client.map((Long ms) -> GridTests.sleepy(ms),
            java.util.stream.LongStream.range(1_500, 1_540).boxed().toList(), SubmitOptions.options().pure(false));
        // Long enough to be running or queued at the cancel; a cancelled running task runs out (as in Dask), so the
        // last submit below waits for a free thread at most this long.
        // One key, two submits: two wants sent, so the scheduler may hold one the cancel did not see.
        final SubmitOptions keyed = SubmitOptions.options().key("wanted-twice").pure(true);
        final GridFuture<Long> first = client.submit((Long ms) -> GridTests.sleepy(ms), keyed, 1_500L);
        final GridFuture<Long> second = client.submit((Long ms) -> GridTests.sleepy(ms), keyed, 1_500L);
        final GridFuture<Long> dependent = client.submit((Long x) -> x + 1, many.get(0));
        final GridFuture<Long> releasedFirst = client.submit((Long ms) -> GridTests.sleepy(ms), 1_502L);
        releasedFirst.release(); // named too: cancelled, and not waited for (nothing reports it to this client now)
        GridTests.sleep(50);
        final List<GridFuture<Long>> named = new ArrayList<>(many);
        named.add(first);
        // Waiting on the released one would end in the request timeout's GridException.
        client.cancel(java.util.stream.Stream.concat(named.stream(), java.util.stream.Stream.of(releasedFirst)).toList(),
            false);
        for (final GridFuture<Long> f : named)
        {
            assertEquals(FutureStatus.CANCELLED, f.status(), f.key());
            assertTrue(assertThrows(CancellationException.class, f::get).getMessage().endsWith(": cancelled"));
        }
        assertEquals(FutureStatus.CANCELLED, second.status(), "the same key");
        assertEquals(FutureStatus.CANCELLED, dependent.await(5, TimeUnit.SECONDS).status(), "told by the scheduler");
        assertEquals(0, client.info().taskCount());

        final long before = client.releasesSent();
        many.forEach(GridFuture::release);
        dependent.release();
        client.info(); // behind any release the agent would send
        assertEquals(before, client.releasesSent(), "the scheduler dropped these wants when it cancelled them");
        first.release();
        second.release();
        await(() -> client.releasesSent() == before + 1, 5_000, "the key wanted twice is released");
        assertEquals(0, client.wantedKeyCount());

        // The keys work again afterwards: a new want of a cancelled key is a new task.
        final GridFuture<Long> again = client.submit((Long ms) -> ms + 1, keyed, 1L);
        assertEquals(2L, again.get());
        again.release();
        await(() -> client.info().taskCount() == 0, 5_000, "nothing left on the scheduler");
    }

    @Test
    void restartClearsEverythingAndTheClusterWorksAfter()
    {
        final Bag<long[]> bag = client.persist(Bag.range(4, 4).map(x -> GridTests.megabyte(x)));
        client.waitAll(futures(bag));
        final GridFuture<Long> running = client.submit((Long ms) -> GridTests.sleepy(ms), 10_000L);
        final GridFuture<Long> cancelledFirst = client.submit((Long ms) -> GridTests.sleepy(ms), 10_001L);
        GridTests.sleep(50);
        client.cancel(List.of(cancelledFirst), false);
        assertTrue(assertThrows(CancellationException.class, cancelledFirst::get).getMessage().endsWith(": cancelled"));
        assertTrue(total(cluster) >= 4L * MIB);
        final long t0 = System.nanoTime();
        client.restart();
        final double restartMs = (System.nanoTime() - t0) / 1e6;
        System.out.println("restart (in-process, 2 workers): " + restartMs + " ms");
        assertEquals(0, total(cluster));
        await(() -> running.status() == FutureStatus.CANCELLED, 5_000, "running task cancelled by restart");
        for (var p : bag.partitions())
        {
            assertEquals(FutureStatus.CANCELLED, p.future().status());
        }
        // A reason that differs from the last one decoded (the client reuses the String only for equal bytes).
        assertTrue(assertThrows(CancellationException.class, running::get).getMessage().endsWith(": cancelled by restart"));
        assertTrue(assertThrows(CancellationException.class, bag.partitions().get(0).future()::get).getMessage()
            .endsWith(": cancelled by restart"));
        assertEquals(0, client.info().taskCount());
        assertEquals(42, client.submit((Integer x) -> x * 2, 21).get());
        assertEquals(List.of(0L, 1L, 2L), Bag.range(3, 2).compute());
    }

    @Test
    void taskNeedingDataOnAnotherWorkerCopiesItAndBothKeepACopy()
    {
        final long[] ids = cluster.workerIds();
        final GridFuture<long[]> x = client.scatter(GridTests.megabyte(9), io.offgrid.client.ScatterOptions.options()
            .workers(ids[0]));
        assertArrayEquals(new long[]{ids[0]}, client.whoHas(List.of(x)).get(x.key()));
        final GridFuture<Long> y = client.submit((long[] a) -> a[0] * 2, SubmitOptions.options().workers(ids[1]), x);
        assertEquals(18L, y.get());
        final long[] holders = client.whoHas(List.of(x)).get(x.key());
        Arrays.sort(holders);
        assertArrayEquals(ids, holders, "the worker that fetched keeps its copy");
        assertTrue(GridTests.bytesOn(cluster, ids[0]) >= MIB && GridTests.bytesOn(cluster, ids[1]) >= MIB);
        x.release();
        y.release();
        await(() -> total(cluster) == 0, 5_000, "all copies freed");
    }

    static List<GridFuture<?>> futures(final Bag<?> bag)
    {
        final ArrayList<GridFuture<?>> list = new ArrayList<>();
        for (var p : bag.partitions())
        {
            list.add(p.future());
        }
        return list;
    }
}
