package io.offgrid.grid;

import io.offgrid.client.Bag;
import io.offgrid.client.Client;
import io.offgrid.client.ClusterState;
import io.offgrid.client.Delayed;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridException;
import io.offgrid.client.GridFuture;
import io.offgrid.client.RemoteTaskException;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static io.offgrid.grid.GridTests.MIB;
import static io.offgrid.grid.GridTests.await;
import static io.offgrid.grid.GridTests.bytesOn;
import static io.offgrid.grid.GridTests.total;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The client API end to end over real Aeron with in-process workers. */
@Timeout(60)
class ClientApiTest
{
    private LocalCluster cluster;
    private Client client;
    private long[] ids;

    @BeforeEach
    void start()
    {
        cluster = LocalCluster.builder().workers(3).threadsPerWorker(2).memoryLimit(128L * MIB).start();
        client = cluster.client();
        ids = cluster.workerIds();
    }

    @AfterEach
    void stop()
    {
        cluster.close();
    }

    @Test
    void scatterToChosenWorkersAndBroadcast()
    {
        final GridFuture<long[]> one = client.scatter(GridTests.megabyte(1), ScatterOptions.options().workers(ids[2]));
        assertArrayEquals(new long[]{ids[2]}, client.whoHas(List.of(one)).get(one.key()));
        assertEquals(FutureStatus.FINISHED, one.await(5, TimeUnit.SECONDS).status());
        assertEquals(1L, one.get()[0]);

        final GridFuture<long[]> all = client.scatter(GridTests.megabyte(2), ScatterOptions.options().broadcast(true));
        final long[] holders = client.whoHas(List.of(all)).get(all.key());
        Arrays.sort(holders);
        assertArrayEquals(ids, holders);
        for (final long id : ids)
        {
            assertTrue(bytesOn(cluster, id) >= MIB, "broadcast copy on " + id);
        }
        // Placement without restriction goes to the worker with the most free memory, not round-robin.
        final List<GridFuture<long[]>> spread = client.scatter(
            List.of(GridTests.megabyte(3), GridTests.megabyte(4)), ScatterOptions.options());
        final Map<String, long[]> where = client.whoHas(spread);
        for (final long[] h : where.values())
        {
            assertEquals(1, h.length);
            assertFalse(h[0] == ids[2], "worker " + ids[2] + " holds the most already");
        }
        final Map<Long, List<String>> hasWhat = client.hasWhat();
        assertTrue(hasWhat.get(ids[2]).contains(one.key()));
        assertTrue(hasWhat.get(ids[0]).contains(all.key()));
        final Map<String, Long> nbytes = client.nbytes(List.of(one, all));
        assertTrue(nbytes.get(one.key()) > MIB && nbytes.get(one.key()) < MIB + 64);
        one.release();
        all.release();
        spread.forEach(GridFuture::release);
        await(() -> total(cluster) == 0, 5_000, "scattered data freed on every holder");
    }

    @Test
    void scatteredKeysByContentHash()
    {
        final GridFuture<String> a = client.scatter("same text", ScatterOptions.options());
        final GridFuture<String> b = client.scatter("same text", ScatterOptions.options());
        assertEquals(a.key(), b.key());
        final GridFuture<String> c = client.scatter("same text", ScatterOptions.options().hash(false));
        assertFalse(a.key().equals(c.key()));
        assertEquals("same text", c.get());
    }

    @Test
    void replicateToTwoThenBackToOne()
    {
        final GridFuture<long[]> x = client.scatter(GridTests.megabyte(7), ScatterOptions.options().workers(ids[0]));
        client.replicate(List.of(x), 2, null);
        assertEquals(2, client.whoHas(List.of(x)).get(x.key()).length, "replicate returns once the copies are made");
        await(() -> total(cluster) >= 2L * MIB, 5_000, "two copies in memory");
        client.replicate(List.of(x), 1, null);
        assertEquals(1, client.whoHas(List.of(x)).get(x.key()).length, "one copy");
        await(() -> total(cluster) < 2L * MIB, 5_000, "extra copy freed");
        assertEquals(7L, x.get()[0]);
        assertThrows(IllegalArgumentException.class, () -> client.replicate(List.of(x), 0, null));
        // A key still computing: the call waits for it to finish, then for its copies (as Dask's replicate).
        final GridFuture<long[]> slow = client.submit((Long seed) -> GridTests.megabyte(seed + GridTests.sleepy(300) * 0), 9L);
        client.replicate(List.of(slow), 2, null);
        assertEquals(FutureStatus.FINISHED, slow.status());
        assertEquals(2, client.whoHas(List.of(slow)).get(slow.key()).length);
    }

    @Test
    void rebalanceEvensMemory()
    {
        final ArrayList<long[]> values = new ArrayList<>();
        for (int i = 0; i < 24; i++)
        {
            values.add(new long[(2 * MIB) / 8]);
            values.get(i)[0] = i;
        }
        final List<GridFuture<long[]>> data = client.scatter(values, ScatterOptions.options().workers(ids[0]));
        final long before = bytesOn(cluster, ids[0]);
        assertTrue(before >= 48L * MIB);
        assertEquals(0, bytesOn(cluster, ids[1]));
        // Wait for the heartbeat to report the load, then ask for an even spread.
        await(() -> client.info().workers().stream().anyMatch(w -> w.managedBytes() >= 48L * MIB), 5_000, "heartbeat");
        client.rebalance(data, null);
        await(() -> bytesOn(cluster, ids[1]) > 0 && bytesOn(cluster, ids[2]) > 0, 10_000, "data moved");
        await(() -> bytesOn(cluster, ids[0]) < before, 10_000, "sender dropped its copies");
        await(() -> client.whoHas(data).values().stream().allMatch(h -> h.length == 1), 10_000, "moves done");
        final long max = Arrays.stream(ids).map(id -> bytesOn(cluster, id)).max().getAsLong();
        assertTrue(max < before, "memory is more even: max " + max + " < " + before);
        for (int i = 0; i < data.size(); i++)
        {
            assertEquals(i, data.get(i).get()[0]);
        }
    }

    @Test
    void throwingTaskFailsItsFutureAndDependentsWithTheSameCause()
    {
        final GridFuture<Integer> bad = client.submit((Integer x) ->
        {
            if (x > 0)
            {
                throw new IllegalStateException("boom " + x);
            }
            return x;
        }, 3);
        final GridFuture<Integer> dependent = client.submit((Integer x) -> x + 1, bad);
        final RemoteTaskException ex = assertThrows(RemoteTaskException.class, bad::get);
        assertEquals("java.lang.IllegalStateException", ex.remoteClass());
        assertEquals("boom 3", ex.remoteMessage());
        assertTrue(ex.remoteStackTrace().contains("ClientApiTest"), ex.remoteStackTrace());
        assertEquals(FutureStatus.ERROR, bad.status());
        assertInstanceOf(RemoteTaskException.class, bad.exception());
        final RemoteTaskException dep = assertThrows(RemoteTaskException.class, dependent::get);
        assertEquals("java.lang.IllegalStateException", dep.remoteClass());
        assertEquals("boom 3", dep.remoteMessage());
        // The worker keeps running.
        assertEquals(2, client.submit((Integer x) -> x + 1, 1).get());
        final ExecutionException wrapped = assertThrows(ExecutionException.class,
            () -> bad.toCompletableFuture().get(5, TimeUnit.SECONDS));
        assertInstanceOf(RemoteTaskException.class, wrapped.getCause());
    }

    @Test
    void retriesRunAFlakyTaskAgain()
    {
        final GridFuture<Integer> f = client.submit((Integer x) ->
        {
            throw new IllegalArgumentException("always");
        }, SubmitOptions.options().retries(2), 1);
        assertThrows(RemoteTaskException.class, f::get);
    }

    @Test
    void functionUsedByManyTasksIsShippedOnce()
    {
        final List<Integer> items = new ArrayList<>();
        for (int i = 0; i < 500; i++)
        {
            items.add(i);
        }
        final List<GridFuture<Integer>> out = client.map((Integer x) -> x * 3, items);
        final List<Integer> values = client.gather(out);
        for (int i = 0; i < 500; i++)
        {
            assertEquals(i * 3, values.get(i));
        }
        for (final LocalCluster.WorkerHandle w : cluster.workers())
        {
            assertTrue(w.worker().functionCount() <= 1, "worker " + w.id() + " got " + w.worker().functionCount());
        }
        // Pure tasks with the same function and arguments share a key.
        final io.offgrid.client.SerializableFunction<Integer, Integer> triple = x -> x * 3;
        final GridFuture<Integer> first = client.submit(triple, 5);
        assertEquals(first.key(), client.submit(triple, 5).key());
        assertFalse(first.key().equals(client.submit(triple, SubmitOptions.options().pure(false), 5).key()));
    }

    @Test
    void waitAllAsCompletedAndCompletableFuture() throws Exception
    {
        final List<GridFuture<Long>> fs = new ArrayList<>();
        for (long ms : new long[]{300, 10, 150})
        {
            fs.add(client.submit((Long m) -> GridTests.sleepy(m), ms));
        }
        final Iterator<GridFuture<Long>> it = client.asCompleted(fs);
        final List<Long> order = new ArrayList<>();
        while (it.hasNext())
        {
            order.add(it.next().get());
        }
        assertEquals(List.of(10L, 150L, 300L), order);
        client.waitAll(fs);
        final CompletableFuture<Long> cf = fs.get(0).toCompletableFuture();
        assertEquals(300L, cf.get(5, TimeUnit.SECONDS));
        final GridFuture<Long> slow = client.submit((Long m) -> GridTests.sleepy(m), 5_000L);
        assertThrows(GridException.class, () -> client.waitAll(List.of(slow), 50, TimeUnit.MILLISECONDS));
        assertFalse(slow.isDone());
        assertNull(slow.exception());
    }

    @Test
    void infoDescribesWorkers()
    {
        final ClusterState info = client.info();
        assertEquals(3, info.workers().size());
        for (final ClusterState.WorkerInfo w : info.workers())
        {
            assertEquals(2, w.threads());
            assertEquals(128L * MIB, w.memoryLimit());
            assertTrue(w.address().startsWith("127.0.0.1:"), w.address());
            assertFalse(w.paused());
        }
        final GridFuture<long[]> x = client.scatter(GridTests.megabyte(1), ScatterOptions.options());
        await(() -> client.info().managedBytes() >= MIB, 5_000, "heartbeat reports memory");
        assertTrue(client.info().taskCount() >= 1);
        x.release();
    }

    @Test
    void delayedGraphs()
    {
        final Delayed<Integer> a = Delayed.call((Integer x) -> x + 1, 1);
        final Delayed<Integer> b = Delayed.call((Integer x, Integer y) -> x * y, a, 10);
        final Delayed<Integer> c = b.then(x -> x - 5);
        assertEquals(15, c.compute());
        final Delayed<Integer> p = c.persist();
        assertEquals(15, p.future().get());
        assertEquals(30, p.then(x -> x * 2).compute());
        final List<GridFuture<?>> fs = client.compute(b, Bag.of(List.of("x", "y", "z"), 2));
        assertEquals(20, fs.get(0).get());
        assertEquals(List.of("x", "y", "z"), fs.get(1).get());
        fs.forEach(GridFuture::release);
        p.release();
        await(() -> total(cluster) == 0, 5_000, "all released");
        // A deep chain does not grow the client's stack.
        Delayed<Long> deep = Delayed.value(0L);
        for (int i = 0; i < 2_000; i++)
        {
            deep = deep.then(x -> x + 1);
        }
        assertEquals(2_000L, deep.compute());
    }

    @Test
    void bagOperations()
    {
        final Bag<Long> b = Bag.range(100, 7);
        assertEquals(7, b.npartitions());
        assertEquals(100L, b.count().compute());
        assertEquals(4950L, b.sum().compute());
        assertEquals(Long.valueOf(99), b.reduce(Math::max).compute());
        assertEquals(List.of(0L, 1L, 2L), b.take(3));
        assertEquals(200, b.flatMap(x -> List.of(x, -x)).compute().size());
        assertEquals(50L, b.filter(x -> x % 2 == 1).count().compute());
        assertEquals(2.5, Bag.of(List.of(1.0, 1.5), 2).sum().compute());
        assertNull(Bag.of(List.<Long>of(), 2).reduce(Long::sum).compute());
        assertEquals(new HashSet<>(List.of("A", "B")), new HashSet<>(Bag.of(List.of("a", "b"), 2).map(String::toUpperCase).compute()));
        await(() -> total(cluster) == 0 && client.info().taskCount() == 0, 5_000, "compute persisted nothing");
    }

    @Test
    void badInputGetsAClearErrorAndLosesNothing()
    {
        final Function<Integer, Integer> notSerializable = x -> x;
        assertThrows(IllegalArgumentException.class,
            () -> client.submit(notSerializable::apply, 1).get()); // method ref of a non-serializable target
        assertThrows(IllegalArgumentException.class, () -> Bag.range(10, 0));
        final GridFuture<Integer> dup = client.submit((Integer x) -> x, SubmitOptions.options().key("k"), 1);
        assertEquals(1, dup.get());
        final Object unencodable = new Object();
        assertThrows(RuntimeException.class, () -> client.submit((Object o) -> 1, unencodable));
        final GridFuture<?> released = client.submit((Integer x) -> x, 2);
        released.release();
        assertThrows(IllegalStateException.class, released::get);
        assertEquals(3, client.submit((Integer x) -> x + 1, 2).get());
    }

    @Test
    void clientOfAGoneSchedulerGetsAClearErrorNotAHang()
    {
        final GridFuture<Long> pending = client.submit((Long m) -> GridTests.sleepy(m), 20_000L);
        GridTests.sleep(100);
        cluster.scheduler().close();
        final GridException ex = assertThrows(GridException.class, () -> pending.get(30, TimeUnit.SECONDS));
        assertTrue(ex.getMessage().contains("scheduler"), ex.getMessage());
        assertEquals(FutureStatus.ERROR, pending.status());
        assertThrows(GridException.class, () -> client.submit((Integer x) -> x, 1));
    }

    @Test
    void whoHasAndHasWhatListEveryKeyEvenPastOneMessage()
    {
        // 30,000 locations need several KeyLocations messages (about 12,000 fit in one).
        final int n = 30_000;
        final List<GridFuture<Long>> many = client.map((Long x) -> x, java.util.stream.LongStream.range(0, n).boxed().toList());
        client.waitAll(many);
        final Map<String, long[]> where = client.whoHas(many);
        assertEquals(n, where.size());
        for (final GridFuture<Long> f : many)
        {
            assertEquals(1, where.get(f.key()).length, f.key());
        }
        final HashSet<String> listed = new HashSet<>();
        for (final List<String> keys : client.hasWhat().values())
        {
            listed.addAll(keys);
        }
        for (final GridFuture<Long> f : many)
        {
            assertTrue(listed.contains(f.key()), f.key());
        }
        assertEquals(n, client.nbytes(many).size());
        // Requests naming more keys than one message holds (about 20,000 fit) go a message's worth at a time.
        client.replicate(many, 2, null); // returns once the copies are made, a message's worth of keys at a time
        assertTrue(client.whoHas(many).values().stream().allMatch(w -> w.length == 2),
            "every one of 30,000 keys on both workers");
        client.rebalance(many, null);
        client.cancel(many, false);
        for (final GridFuture<Long> f : many)
        {
            assertEquals(FutureStatus.CANCELLED, f.status(), f.key());
        }
        // More releases than the client's command queue holds (16,384): none is lost, everything is freed.
        many.forEach(GridFuture::release);
        await(() -> total(cluster) == 0, 10_000, "all 30,000 results freed");
        assertTrue(client.hasWhat().values().stream().allMatch(List::isEmpty), "the scheduler holds none of them");
    }

    @Test
    void aScatterOfMoreValuesThanOneRequestHoldsArrivesWhole()
    {
        // About 8,000 values fit in one scatter request: 9,000 need two.
        final int n = 9_000;
        final List<Integer> values = java.util.stream.IntStream.range(0, n).boxed().toList();
        final List<GridFuture<Integer>> scattered = client.scatter(values, ScatterOptions.options());
        assertEquals(n, scattered.size());
        assertEquals(values, client.gather(scattered));
        scattered.forEach(GridFuture::release);
        await(() -> total(cluster) == 0, 10_000, "all 9,000 scattered values freed");
    }

    @Test
    void aBroadcastScatterWhosePlacementOutgrowsOneMessageArrivesOnEveryWorker()
    {
        // 6,000 values on each of 3 workers: 18,000 placements, about 800 KB, where one message holds 512 KiB (before
        // the answer paged, encoding it failed and the scatter timed out).
        final int n = 6_000;
        final int workers = cluster.workers().size();
        final List<Integer> values = java.util.stream.IntStream.range(0, n).boxed().toList();
        final List<GridFuture<Integer>> scattered = client.scatter(values, ScatterOptions.options().broadcast(true));
        final Map<String, long[]> where = client.whoHas(scattered);
        for (final GridFuture<Integer> f : scattered)
        {
            assertEquals(workers, where.get(f.key()).length, f.key());
        }
        assertEquals(values, client.gather(scattered));
        scattered.forEach(GridFuture::release);
        await(() -> total(cluster) == 0, 10_000, "all broadcast copies freed");
    }
}
