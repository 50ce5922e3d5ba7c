package io.offgrid.grid;

import io.offgrid.client.Bag;
import io.offgrid.client.Client;
import io.offgrid.client.Delayed;
import io.offgrid.client.FutureStatus;
import io.offgrid.client.GridException;
import io.offgrid.client.GridFuture;
import io.offgrid.client.RemoteTaskException;
import io.offgrid.client.ScatterOptions;
import io.offgrid.client.SubmitOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.offgrid.grid.GridTests.MIB;
import static io.offgrid.grid.GridTests.await;
import static io.offgrid.grid.GridTests.total;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Workers in their own JVMs over UDP on 127.0.0.1; SIGKILL mid-graph. */
@Timeout(120)
class ProcessClusterTest
{
    @Test
    void processWorkersEndToEndAndNothingLeftBehind()
    {
        final Set<String> shmBefore = shm();
        final List<ProcessHandle> children = new ArrayList<>();
        Path temp;
        try (LocalCluster cluster = LocalCluster.builder().workers(2).processes(true).start();
             Client client = cluster.client())
        {
            cluster.workers().forEach(w -> children.add(ProcessHandle.of(w.pid()).orElseThrow()));
            final long[] ids = cluster.workerIds();
            final GridFuture<Integer> x = client.submit((Integer a) -> a + 1, 41);
            assertEquals(42, x.get());
            // Worker-to-worker copy over UDP: data on one worker, task restricted to the other.
            final GridFuture<long[]> data = client.scatter(GridTests.megabyte(5), ScatterOptions.options().workers(ids[0]));
            final GridFuture<Long> y = client.submit((long[] a) -> a[0] + 1, SubmitOptions.options().workers(ids[1]), data);
            assertEquals(6L, y.get());
            final long[] holders = client.whoHas(List.of(data)).get(data.key());
            Arrays.sort(holders);
            assertArrayEquals(ids, holders);
            assertEquals(500, client.gather(client.map((Integer i) -> i * 2, List.of(1, 2, 250))).get(2));
            await(() -> total(cluster) >= 2L * MIB, 5_000, "heartbeats report both copies");
            data.release();
            x.release();
            y.release();
            await(() -> total(cluster) < 1024, 5_000, "freed in the worker processes");
            temp = Paths.get(System.getProperty("java.io.tmpdir"));
        }
        for (final ProcessHandle p : children)
        {
            assertFalse(p.isAlive(), "worker process " + p.pid() + " still alive");
        }
        assertEquals(0, ProcessHandle.current().children().count(), "no child process left");
        assertEquals(shmBefore, shmOfThisTest(shmBefore, children), "no driver directory left in /dev/shm");
        assertTrue(Files.isDirectory(temp));
    }

    /**
     * workerCpus("auto") pins process workers off the lowest usable CPU (when there are two or more and the host has
     * taskset); the default, "none", leaves them where the OS puts them; a bad list is refused before anything
     * starts, and a CPU the host lacks fails the start with taskset's own words.
     */
    @Test
    void workerProcessesArePinnedOffTheFirstCpuWithAutoAndNotByDefault()
    {
        final String own = WorkerCpus.allowedList(Paths.get("/proc/self/status"));
        final String auto = null == WorkerCpus.taskset() ? null : WorkerCpus.resolve("auto");
        for (final String setting : new String[]{"auto", null})
        {
            final LocalCluster.Builder b = LocalCluster.builder().workers(1).threadsPerWorker(1).processes(true);
            if (null != setting)
            {
                b.workerCpus(setting);
            }
            try (LocalCluster cluster = b.start(); Client client = cluster.client())
            {
                assertEquals(3, client.submit((Integer a) -> a + 1, 2).get());
                final String worker = WorkerCpus.allowedList(Paths.get("/proc", Long.toString(cluster.workers().get(0).pid()), "status"));
                if (null != setting && null != auto)
                {
                    assertEquals(auto, cluster.workerCpus());
                    assertEquals(auto, worker, "the worker's CPUs");
                    assertFalse(WorkerCpus.parse(worker).get(WorkerCpus.parse(own).nextSetBit(0)), "off the lowest CPU");
                }
                else
                {
                    assertEquals(null, cluster.workerCpus(), String.valueOf(setting));
                    assertEquals(own, worker, "the worker's CPUs with " + setting);
                }
            }
        }
        for (final String bad : new String[]{"2-1", "cpu1", "", "1,,2"})
        {
            assertThrows(IllegalArgumentException.class, () -> LocalCluster.builder().processes(true).workerCpus(bad), bad);
        }
        if (null != WorkerCpus.taskset())
        {
            final IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> LocalCluster.builder().workers(1).processes(true).workerCpus("4000").start());
            assertTrue(e.getMessage().contains("exited before it was ready") && e.getMessage().contains("taskset"), e.getMessage());
            assertEquals(0, ProcessHandle.current().children().count(), "no child process left");
        }
    }

    /** Links of a chain go to the worker ahead of their inputs (Scheduler.Context#dependentsAhead). */
    @Test
    void chainLinksSentAheadComputeInOrderAndAFailingLinkFailsTheLinksAfterIt()
    {
        try (LocalCluster cluster = LocalCluster.builder().workers(2).processes(true).start();
             Client client = cluster.client())
        {
            Delayed<Long> chain = Delayed.call((Long x) -> x + 1, 0L);
            for (int i = 1; i < 300; i++)
            {
                chain = Delayed.call((Long x) -> x + 1, chain);
            }
            assertEquals(300L, chain.compute());

            // Built one submit at a time, with a link that throws: those before it finish, those after it fail.
            final List<GridFuture<Long>> links = new ArrayList<>();
            GridFuture<Long> link = client.submit((Long x) -> x + 1, SubmitOptions.options().pure(false), 0L);
            links.add(link);
            for (int i = 1; i < 80; i++)
            {
                link = client.submit((Long x) ->
                {
                    if (x == 40)
                    {
                        throw new IllegalStateException("link after 40");
                    }
                    return x + 1;
                }, SubmitOptions.options().pure(false), link);
                links.add(link);
            }
            final RemoteTaskException failed = assertThrows(RemoteTaskException.class, links.get(79)::get);
            assertEquals("java.lang.IllegalStateException", failed.remoteClass());
            assertEquals("link after 40", failed.remoteMessage());
            assertEquals(40L, links.get(39).get());
            assertEquals(FutureStatus.ERROR, links.get(40).await(10, TimeUnit.SECONDS).status());
            final GridFuture<Integer> after = client.submit((Integer x) -> x + 1, 6);
            assertEquals(7, after.get(), "the workers keep running");
            after.release();
            links.forEach(GridFuture::release);
            await(() -> client.info().taskCount() == 0, 5_000, "nothing left on the scheduler");
        }
    }

    @Test
    void sigkillMidGraphRecomputesWantedResultsAndLosesScatteredOnlyData()
    {
        final Set<String> shmBefore = shm();
        final List<ProcessHandle> children = new ArrayList<>();
        try (LocalCluster cluster = LocalCluster.builder().workers(3).processes(true).threadsPerWorker(2)
                 .peerTimeoutNs(TimeUnit.SECONDS.toNanos(3)).start();
             Client client = cluster.client())
        {
            cluster.workers().forEach(w -> children.add(ProcessHandle.of(w.pid()).orElseThrow()));
            final long[] ids = cluster.workerIds();
            final long victim = ids[0];
            final GridFuture<long[]> onlyThere = client.scatter(GridTests.megabyte(11),
                ScatterOptions.options().workers(victim));
            final GridFuture<long[]> replicated = client.scatter(GridTests.megabyte(12),
                ScatterOptions.options().workers(victim));
            client.replicate(List.of(replicated), 2, null);
            await(() -> client.whoHas(List.of(replicated)).get(replicated.key()).length == 2, 10_000, "replicated");

            // A graph of slow tasks spread over all workers; some finish on the victim before it dies.
            final Bag<Long> bag = client.persist(Bag.range(12, 12).map(x -> GridTests.sleepy(150) * 0 + x * 10));
            final List<GridFuture<?>> parts = MemoryModelTest.futures(bag);
            await(() -> client.hasWhat().getOrDefault(victim, List.of()).stream().anyMatch(k -> !k.startsWith("scatter")),
                20_000, "a result on the victim");
            final long t0 = System.nanoTime();
            cluster.killWorker(victim);

            final GridException lost = assertThrows(GridException.class, () -> onlyThere.get(20, TimeUnit.SECONDS));
            final double detectMs = (System.nanoTime() - t0) / 1e6;
            assertEquals(FutureStatus.LOST, onlyThere.status());
            assertTrue(lost.getMessage().contains(onlyThere.key()), lost.getMessage());
            System.out.println("SIGKILL detected and scattered key reported LOST after " + detectMs + " ms");
            assertTrue(detectMs < 10_000, "loss noticed within the 3 s peer timeout plus slack: " + detectMs + " ms");

            assertEquals(12L, replicated.get()[0], "a replicated scatter survives");
            final List<Object> values = new ArrayList<>();
            for (final GridFuture<?> f : parts)
            {
                values.add(((List<?>)f.get(30, TimeUnit.SECONDS)).get(0));
            }
            final List<Object> expected = new ArrayList<>();
            for (long i = 0; i < 12; i++)
            {
                expected.add(i * 10);
            }
            assertEquals(expected, values, "every wanted result, recomputed where it was lost");
            for (final long[] h : client.whoHas(parts).values())
            {
                assertFalse(Arrays.stream(h).anyMatch(id -> id == victim));
            }
            assertEquals(2, client.info().workers().size());
            assertEquals(7, client.submit((Integer a) -> a + 1, 6).get(), "the cluster keeps working");
        }
        assertEquals(0, ProcessHandle.current().children().count(), "no child process left");
        assertEquals(shmBefore, shmOfThisTest(shmBefore, children), "the killed worker's driver directory was removed");
    }

    private static Set<String> shm()
    {
        try (Stream<Path> s = Files.list(Paths.get("/dev/shm")))
        {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("offgrid"))
                .collect(Collectors.toCollection(HashSet::new));
        }
        catch (final IOException ex)
        {
            return new HashSet<>();
        }
    }

    /** Entries now in /dev/shm that belong to this JVM or its children (others' builds run concurrently). */
    private static Set<String> shmOfThisTest(final Set<String> before, final List<ProcessHandle> children)
    {
        final Set<String> now = new HashSet<>(before);
        final Set<String> pids = new HashSet<>();
        pids.add(Long.toString(ProcessHandle.current().pid()));
        children.forEach(c -> pids.add(Long.toString(c.pid())));
        for (final String n : shm())
        {
            for (final String pid : pids)
            {
                if (n.contains("-" + pid + "-") || n.endsWith("." + pid))
                {
                    now.add(n);
                }
            }
        }
        return now;
    }
}
