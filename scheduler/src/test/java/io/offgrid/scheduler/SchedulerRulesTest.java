package io.offgrid.scheduler;

import io.offgrid.scheduler.RecordingSink.Cmd;
import io.offgrid.scheduler.RecordingSink.Kind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One or more tests per rule of issue 3, driving only the public event API (plus the invariant checker).
 */
@Timeout(30)
class SchedulerRulesTest
{
    static final byte[] FN = {42};
    static final long C1 = 1;
    static final long C2 = 2;

    RecordingSink sink;
    Scheduler s;
    final TaskGraph graph = new TaskGraph();

    @BeforeEach
    void setUp()
    {
        sink = new RecordingSink();
        s = new Scheduler(testContext(), sink);
        s.clientConnected(C1);
        s.clientConnected(C2);
    }

    private static Scheduler.Context testContext()
    {
        return new Scheduler.Context().defaultTaskDurationNs(1_000_000).workerTimeoutNs(0);
    }

    /** Replace setUp's scheduler with one whose settings {@code change} alters, both clients connected. */
    private void restartWith(final java.util.function.UnaryOperator<Scheduler.Context> change)
    {
        s.close();
        s = new Scheduler(change.apply(testContext()), sink);
        s.clientConnected(C1);
        s.clientConnected(C2);
    }

    @AfterEach
    void tearDown()
    {
        Invariants.check(s);
        s.close();
    }

    private void workers(final int n, final int threads)
    {
        for (int i = 1; i <= n; i++)
        {
            s.workerJoined(0, i, threads, 1000);
        }
    }

    private void finish(final long w, final String key, final long nbytes)
    {
        s.taskFinished(w, key, nbytes, "long", 0);
        Invariants.check(s);
    }

    private long workerOf(final String key)
    {
        final Cmd c = sink.compute(key);
        assertNotNull(c, "no compute command for " + key + " in " + sink.commands);
        return c.worker;
    }

    private void chain(final long client, final String... keys)
    {
        graph.clear();
        for (int i = 0; i < keys.length; i++)
        {
            graph.task(keys[i], FN);
            if (i > 0)
            {
                graph.dependsOn(keys[i - 1]);
            }
        }
        graph.want(keys[keys.length - 1]);
        s.submitGraph(client, graph);
        Invariants.check(s);
    }

    // ---------------------------------------------------------------- transition table

    @Test
    void transitionTableHasExactlyTheDocumentedEdges()
    {
        final String[] expected = {
            "RELEASED>WAITING", "RELEASED>MEMORY", "RELEASED>ERRED", "RELEASED>FORGOTTEN",
            "WAITING>QUEUED", "WAITING>NO_WORKER", "WAITING>PROCESSING", "WAITING>RELEASED", "WAITING>ERRED",
            "QUEUED>PROCESSING", "QUEUED>RELEASED", "NO_WORKER>PROCESSING", "NO_WORKER>RELEASED",
            "PROCESSING>MEMORY", "PROCESSING>ERRED", "PROCESSING>RELEASED", "MEMORY>RELEASED", "ERRED>RELEASED"};
        final List<String> actual = new ArrayList<>();
        for (final TaskState a : TaskState.values())
        {
            for (final TaskState b : TaskState.values())
            {
                if (a.canTransitionTo(b))
                {
                    actual.add(a + ">" + b);
                }
            }
        }
        final List<String> sorted = new ArrayList<>(Arrays.asList(expected));
        sorted.sort(null);
        actual.sort(null);
        assertEquals(sorted, actual);
    }

    @Test
    void illegalTransitionFailsLoudly()
    {
        workers(1, 1);
        chain(C1, "x");
        final TaskRecord x = s.tasks.get("x");
        assertEquals(TaskState.PROCESSING, x.state());
        final IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.transition(x, TaskState.QUEUED));
        assertTrue(e.getMessage().contains("PROCESSING -> QUEUED"), e.getMessage());
        assertEquals(TaskState.PROCESSING, x.state());
    }

    // ---------------------------------------------------------------- rule 1

    @Test
    void releasingTheLastWantFreesEveryCopyInTheSameStepAndForgetsTheRecord()
    {
        workers(2, 1);
        chain(C1, "x");
        final long w = workerOf("x");
        finish(w, "x", 100);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "x"));
        final long other = w == 1 ? 2 : 1;
        s.replicate("x", 2, null);
        assertEquals(1, sink.of(Kind.COPY).size());
        s.replicaAdded(other, "x");
        assertEquals(2, s.whoHas("x").length);
        sink.take();

        s.releaseKey(C1, "x");
        assertTrue(sink.has(Kind.FREE, 1, "x"));
        assertTrue(sink.has(Kind.FREE, 2, "x"));
        assertEquals(0, s.taskCount());
        assertEquals(0, s.managedBytes(1));
        assertEquals(0, s.managedBytes(2));
    }

    @Test
    void twoClientsWantingOneKeyKeepItUntilBothRelease()
    {
        workers(1, 1);
        chain(C1, "x");
        graph.clear().want("x");
        s.submitGraph(C2, graph);
        finish(1, "x", 8);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "x"));
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C2, "x"));
        s.releaseKey(C1, "x");
        assertEquals(TaskState.MEMORY, s.taskState("x"));
        assertTrue(sink.of(Kind.FREE).isEmpty());
        s.releaseKey(C2, "x");
        assertTrue(sink.has(Kind.FREE, 1, "x"));
        assertEquals(0, s.taskCount());
    }

    @Test
    void lineageIsKeptAsReleasedRecordsWhileAWantedKeyDependsOnIt()
    {
        workers(1, 1);
        chain(C1, "a", "b", "c");
        finish(1, "a", 10);
        finish(1, "b", 10);
        assertTrue(sink.has(Kind.FREE, 1, "a"), "a freed as soon as b finished");
        finish(1, "c", 10);
        assertTrue(sink.has(Kind.FREE, 1, "b"));
        assertEquals(TaskState.RELEASED, s.taskState("a"));
        assertEquals(TaskState.RELEASED, s.taskState("b"));
        assertEquals(TaskState.MEMORY, s.taskState("c"));
        assertEquals(10, s.managedBytes(1));
        s.releaseKey(C1, "c");
        assertEquals(0, s.taskCount());
    }

    @Test
    void clientDisconnectReleasesEverythingItWanted()
    {
        workers(1, 2);
        chain(C1, "a", "b");
        graph.clear().task("z", FN).want("z");
        s.submitGraph(C1, graph);
        s.clientDisconnected(C1);
        assertEquals(0, s.taskCount());
        assertEquals(3, sink.of(Kind.CANCEL_COMPUTE).size(), "a and z computing, b sent ahead of a: " + sink.commands);
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, workerOf("b"), "b"));
    }

    // ---------------------------------------------------------------- links of a chain sent ahead

    @Test
    void aChainGoesToTheWorkerAheadOfItsInputsToTheConfiguredDepth()
    {
        restartWith(c -> c.dependentsAhead(8));
        workers(2, 1);
        chain(C1, "c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "c10");
        final long w = workerOf("c0");
        for (int i = 1; i <= 8; i++)
        {
            final Cmd c = sink.compute("c" + i);
            assertNotNull(c, "c" + i + " sent ahead: " + sink.commands);
            assertEquals(w, c.worker);
            assertArrayEquals(new long[]{w}, c.depHolders[0], "its input named as computing on the same worker");
            assertEquals(TaskState.PROCESSING, s.taskState("c" + i));
        }
        assertNull(sink.compute("c9"), "the ninth link waits: depth 8");
        assertEquals(TaskState.WAITING, s.taskState("c9"));
        finish(w, "c0", 8);
        assertEquals(w, workerOf("c9"), "c1's input is stored where it runs: the window moves down by one link");
        assertNull(sink.compute("c10"));
        finish(w, "c1", 8);
        assertEquals(w, workerOf("c10"));
        for (int i = 2; i <= 8; i++)
        {
            finish(w, "c" + i, 8);
        }
        finish(w, "c9", 8);
        finish(w, "c10", 8);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "c10"));
    }

    @Test
    void aLinkSubmittedOnItsOwnGoesAheadOfItsComputingInput()
    {
        workers(2, 1);
        graph.clear().task("a", FN).want("a");
        s.submitGraph(C1, graph);
        final long w = workerOf("a");
        graph.clear().task("b", FN).dependsOn("a").want("b");
        s.submitGraph(C1, graph);
        Invariants.check(s);
        assertEquals(w, workerOf("b"), "b sent to a's worker before a finished");
        assertArrayEquals(new long[]{w}, sink.compute("b").depHolders[0]);
        finish(w, "a", 8);
        finish(w, "b", 8);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "b"));
    }

    @Test
    void withDependentsAheadOffEachLinkWaitsForItsInput()
    {
        restartWith(c -> c.dependentsAhead(0));
        workers(1, 1);
        chain(C1, "a", "b", "c");
        assertNotNull(sink.compute("a"));
        assertNull(sink.compute("b"));
        assertEquals(TaskState.WAITING, s.taskState("b"));
        assertThrows(IllegalArgumentException.class, () -> new Scheduler.Context().dependentsAhead(-1).conclude());
        assertThrows(IllegalArgumentException.class, () -> new Scheduler.Context().dependentsAhead(65).conclude());
    }

    @Test
    void aResultSeveralTasksReadIsNotFollowedAhead()
    {
        workers(2, 1);
        graph.clear().task("a", FN).task("b", FN).dependsOn("a").want("b").task("c", FN).dependsOn("a").want("c");
        s.submitGraph(C1, graph);
        assertNull(sink.compute("b"), "a fan-out is placed once a exists: " + sink.commands);
        assertNull(sink.compute("c"));
        finish(workerOf("a"), "a", 8);
        assertNotNull(sink.compute("b"));
        assertNotNull(sink.compute("c"));
    }

    @Test
    void aStaleResultOfALinkAheadFromAnotherWorkerIsFreedNotTaken()
    {
        workers(2, 1);
        chain(C1, "a", "b");
        final long w = workerOf("b");
        final long other = 3 - w;
        sink.take();
        finish(other, "b", 8); // computed there before, from an input that is being computed again now
        assertTrue(sink.has(Kind.FREE, other, "b"), sink.commands.toString());
        assertEquals(TaskState.PROCESSING, s.taskState("b"));
        finish(w, "a", 8);
        finish(w, "b", 8);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "b"));
    }

    @Test
    void aDependentWithAnotherMissingInputIsNotSentAhead()
    {
        workers(1, 1);
        graph.clear().task("x", FN).task("y", FN).task("z", FN).dependsOn("x").dependsOn("y").want("z");
        s.submitGraph(C1, graph);
        assertNotNull(sink.compute("x"));
        assertNull(sink.compute("z"), "z also needs y, not yet in memory");
        finish(1, "x", 8);
        assertNull(sink.compute("z"));
    }

    @Test
    void dependentsAheadOfAnErredTaskErrAndAreCancelledOnTheWorker()
    {
        workers(1, 1);
        chain(C1, "a", "b", "c");
        sink.take();
        s.taskErred(1, "a", "java.lang.RuntimeException: boom");
        Invariants.check(s);
        assertEquals(TaskState.ERRED, s.taskState("c"));
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C1, "c"));
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 1, "b"));
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 1, "c"));
    }

    @Test
    void dependentsAheadOfARetriedTaskAreCancelledAndWaitAgain()
    {
        workers(1, 1);
        graph.clear().task("a", FN).retries(1).task("b", FN).dependsOn("a").task("c", FN).dependsOn("b").want("c");
        s.submitGraph(C1, graph);
        assertNotNull(sink.compute("c"));
        sink.take();
        s.taskErred(1, "a", "java.lang.RuntimeException: once");
        Invariants.check(s);
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 1, "b"), sink.commands.toString());
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 1, "c"));
        // a runs again, and its chain goes ahead again behind it
        assertNotNull(sink.compute("a"));
        assertNotNull(sink.compute("b"));
        assertNotNull(sink.compute("c"));
        finish(1, "a", 8);
        finish(1, "b", 8);
        finish(1, "c", 8);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "c"));
    }

    @Test
    void neitherALinkSentAheadNorItsInputIsStolen()
    {
        workers(1, 1);
        chain(C1, "a", "b", "c");
        s.workerJoined(0, 2, 1, 1000);
        sink.take();
        s.tick(TimeUnit.SECONDS.toNanos(10));
        Invariants.check(s);
        assertTrue(sink.of(Kind.CANCEL_COMPUTE).isEmpty(), "nothing moved: " + sink.commands);
        assertTrue(sink.of(Kind.COMPUTE).isEmpty());
    }

    @Test
    void aLinkAheadOfAResultThatArrivedFromAnotherWorkerGoesBackToWaiting()
    {
        workers(2, 1);
        chain(C1, "a", "b");
        final long w = workerOf("a");
        final long other = 3 - w;
        sink.take();
        finish(other, "a", 8); // a stale copy that finished elsewhere: a is cancelled where b waits for it
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, w, "a"));
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, w, "b"));
        assertEquals(other, workerOf("b"), "b placed again, where a is");
        finish(other, "b", 8);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "b"));
    }

    @Test
    void submittedTasksNobodyNeedsAreNotKept()
    {
        workers(1, 1);
        graph.clear().task("orphan", FN).task("wanted", FN).want("wanted");
        s.submitGraph(C1, graph);
        assertEquals(TaskState.FORGOTTEN, s.taskState("orphan"));
        assertEquals(1, s.taskCount());
    }

    @Test
    void aTenThousandDeepChainComputesAndFreesWithoutRecursion()
    {
        workers(1, 1);
        final String[] keys = new String[10_000];
        for (int i = 0; i < keys.length; i++)
        {
            keys[i] = "c" + i;
        }
        graph.clear();
        for (int i = 0; i < keys.length; i++)
        {
            graph.task(keys[i], FN);
            if (i > 0)
            {
                graph.dependsOn(keys[i - 1]);
            }
        }
        graph.want(keys[keys.length - 1]);
        s.submitGraph(C1, graph);
        for (final String k : keys)
        {
            s.taskFinished(1, k, 1, null, 0);
        }
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, keys[keys.length - 1]));
        assertEquals(1, s.managedBytes(1), "every intermediate was freed");
        s.workerDied(1);
        s.workerJoined(1, 2, 1, 0);
        for (final String k : keys)
        {
            s.taskFinished(2, k, 1, null, 0);
        }
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, keys[keys.length - 1]), "recomputed from lineage");
        s.releaseKey(C1, keys[keys.length - 1]);
        assertEquals(0, s.taskCount());
    }

    // ---------------------------------------------------------------- rule 2

    @Test
    void aDependencyIsFreedWhenItsLastWaiterFinishes()
    {
        workers(1, 4);
        graph.clear().task("x", FN).task("y", FN).dependsOn("x").task("z", FN).dependsOn("x").want("y").want("z");
        s.submitGraph(C1, graph);
        finish(1, "x", 100);
        assertEquals(2, s.tasks.get("x").waiterCount);
        finish(1, "y", 1);
        assertEquals(TaskState.MEMORY, s.taskState("x"));
        assertFalse(sink.has(Kind.FREE, 1, "x"));
        finish(1, "z", 1);
        assertTrue(sink.has(Kind.FREE, 1, "x"));
        assertEquals(TaskState.RELEASED, s.taskState("x"));
        assertEquals(2, s.managedBytes(1));
    }

    // ---------------------------------------------------------------- rule 3

    @Test
    void cancelKillsTheKeyAndEveryDependent()
    {
        workers(1, 1);
        chain(C1, "a", "b", "c");
        graph.clear().task("d", FN).dependsOn("b").want("d");
        s.submitGraph(C2, graph);
        sink.take();
        s.cancel(C1, "a", true);
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, "c"));
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C2, "d"), "with force, dependents are cancelled for every client");
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 1, "a"));
        assertEquals(0, s.taskCount());
        sink.take();
        s.taskFinished(1, "a", 5, "x", 0);
        assertTrue(sink.has(Kind.FREE, 1, "a"), "a late result of a cancelled task is discarded");
        assertEquals(0, s.taskCount());
    }

    @Test
    void cancelWithoutForceSparesDependentsThatOtherClientsOrDatasetsWant()
    {
        workers(1, 1);
        chain(C1, "a", "b", "c");
        graph.clear().task("d", FN).dependsOn("b").want("d").task("e", FN).dependsOn("b").want("e");
        s.submitGraph(C2, graph);
        s.publish("ds", List.of("e"));
        s.releaseKey(C2, "e");
        sink.take();
        s.cancel(C1, "a", false);
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, "c"), "the caller's own dependent is cancelled");
        assertEquals(TaskState.FORGOTTEN, s.taskState("c"));
        assertNull(sink.lastStatus(C2, "d"), "without force another client's key is not cancelled: " + sink.commands);
        assertEquals(TaskState.PROCESSING, s.taskState("a"), "still needed by d");
        // e waits for b, or runs ahead of it on b's worker (Context#dependentsAhead): either way not cancelled
        assertTrue(s.taskState("e") == TaskState.PROCESSING || s.taskState("e") == TaskState.WAITING,
            "a published key is not cancelled either: " + s.taskState("e"));
        finish(1, "a", 1);
        finish(1, "b", 1);
        finish(1, "d", 1);
        finish(1, "e", 1);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C2, "d"));
        assertEquals(TaskState.MEMORY, s.taskState("e"));
    }

    @Test
    void cancelWithoutForceOnlyReleasesForTheCallerWhenAnotherClientWantsTheKey()
    {
        workers(1, 1);
        chain(C1, "x");
        graph.clear().want("x");
        s.submitGraph(C2, graph);
        sink.take();
        s.cancel(C1, "x", false);
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, "x"));
        assertNull(sink.lastStatus(C2, "x"));
        assertEquals(TaskState.PROCESSING, s.taskState("x"));
        assertEquals(0, s.wantedCount(C1));
        s.cancel(C1, List.of("x", "not-there"), true);
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C2, "x"));
        assertEquals(0, s.taskCount());
    }

    @Test
    void cancellingAWideMapAtOnceSendsNoQueuedTaskToAWorker()
    {
        workers(2, 1);
        final List<String> keys = new ArrayList<>();
        graph.clear();
        for (int i = 0; i < 200; i++)
        {
            keys.add("m" + i);
            graph.task("m" + i, FN).want("m" + i);
        }
        s.submitGraph(C1, graph);
        final int running = sink.of(Kind.COMPUTE).size();
        assertTrue(running >= 2 && running < 200, "only the workers' slots are filled: " + running);
        sink.take();
        s.cancel(C1, keys, false);
        assertEquals(List.of(), sink.of(Kind.COMPUTE), "a slot the batch frees is not refilled with a key it cancels");
        assertEquals(running, sink.of(Kind.CANCEL_COMPUTE).size(), "only the running tasks are stopped");
        assertEquals(200, sink.of(Kind.STATUS).size());
        for (final String k : keys)
        {
            assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, k));
        }
        assertEquals(0, s.taskCount());
    }

    @Test
    void cancellingEveryKeyOfAChainInOneBatchCancelsEachOnce()
    {
        workers(1, 1);
        chain(C1, "a", "b", "c", "d");
        graph.clear().task("e", FN).dependsOn("b").want("e");
        s.submitGraph(C2, graph);
        s.wantKey(C1, "b");
        sink.take();
        // Without force: b is the caller's, and so are c and d; e is C2's and goes on, with a and b it needs.
        s.cancel(C1, List.of("d", "b", "c", "a"), false);
        assertEquals(1, countStatus(C1, "b"), "b, reached from a's walk and named itself, is told once");
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, "d"));
        assertNull(sink.lastStatus(C2, "e"));
        assertTrue(s.taskState("e") == TaskState.PROCESSING || s.taskState("e") == TaskState.WAITING);
        // The batch's marks are gone: a new graph over the same keys, and a second cancel, behave as on their own.
        s.cancel(C2, List.of("e"), false);
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C2, "e"));
        assertEquals(0, s.taskCount());
        chain(C1, "a", "b");
        assertEquals(TaskState.PROCESSING, s.taskState("a"));
        s.cancel(C1, "a", false);
        assertEquals(0, s.taskCount());
    }

    @Test
    void aCallerThatMarksItsNamedKeysIsToldOnlyOfTheirDependents()
    {
        workers(1, 1);
        chain(C1, "a", "b");
        graph.clear().want("a");
        s.submitGraph(C2, graph);
        graph.clear().task("x", FN).want("x");
        s.submitGraph(C1, graph);
        sink.take();
        s.cancel(C1, List.of("a", "x"), true, false);
        assertEquals(0, countStatus(C1, "a"), "named: the caller marks it");
        assertEquals(0, countStatus(C1, "x"), "named: the caller marks it");
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, "b"), "a dependent it did not name is reported");
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C2, "a"), "another client is told, with force");
        assertEquals(0, s.wantedCount(C1), "the caller's wants are dropped all the same");
        assertEquals(0, s.taskCount());
        // Without force, a key another client wants: the caller's want goes, silently; the other's stays.
        graph.clear().task("y", FN).want("y");
        s.submitGraph(C1, graph);
        graph.clear().want("y");
        s.submitGraph(C2, graph);
        sink.take();
        s.cancel(C1, List.of("y"), false, false);
        assertEquals(List.of(), sink.of(Kind.STATUS));
        assertEquals(0, s.wantedCount(C1));
        assertEquals(TaskState.PROCESSING, s.taskState("y"));
    }

    private int countStatus(final long client, final String key)
    {
        int n = 0;
        for (final Cmd c : sink.of(Kind.STATUS))
        {
            if (c.client == client && c.key.equals(key))
            {
                n++;
            }
        }
        return n;
    }

    // ---------------------------------------------------------------- rule 4

    @Test
    void restartForgetsEverythingAndEqualsAFreshScheduler()
    {
        workers(2, 1);
        chain(C1, "a", "b", "c");
        graph.clear().task("r1", FN).task("r2", FN).task("r3", FN).want("r1").want("r2").want("r3");
        s.submitGraph(C2, graph);
        finish(workerOf("a"), "a", 10);
        s.dataScattered(C2, "data", 50, 2);
        s.publish("ds", List.of("data"));
        sink.take();

        s.restart();
        assertEquals(0, s.taskCount());
        assertEquals(0, s.queuedCount());
        assertEquals(2, sink.of(Kind.RESTART).size());
        assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C1, "c"));
        assertEquals("cancelled by restart", sink.lastMessage(C1, "c"));
        for (final String k : new String[] {"r1", "r2", "r3", "data"})
        {
            assertEquals(KeyStatus.CANCELLED, sink.lastStatus(C2, k));
        }
        assertEquals(0, s.datasetNames().length);

        final RecordingSink freshSink = new RecordingSink();
        final Scheduler fresh = new Scheduler(new Scheduler.Context().defaultTaskDurationNs(1_000_000), freshSink);
        fresh.clientConnected(C1);
        fresh.workerJoined(0, 1, 1, 1000);
        fresh.workerJoined(0, 2, 1, 1000);
        for (final long w : new long[] {1, 2})
        {
            assertEquals(fresh.managedBytes(w), s.managedBytes(w));
            assertEquals(fresh.processingCount(w), s.processingCount(w));
        }
        assertEquals(0, s.wantedCount(C1));
        assertEquals(0, s.wantedCount(C2));

        // Identical behaviour afterwards.
        sink.take();
        chain(C1, "p", "q");
        graph.clear().task("p", FN).task("q", FN).dependsOn("p").want("q");
        fresh.submitGraph(C1, graph);
        assertEquals(freshSink.commands.toString(), sink.commands.toString());
        Invariants.check(fresh);
        // A late result from before the restart is discarded.
        sink.take();
        s.taskFinished(2, "r2", 1, "x", 0);
        assertTrue(sink.has(Kind.FREE, 2, "r2"));
    }

    // ---------------------------------------------------------------- rule 5

    @Test
    void processingTasksOnADeadWorkerAreRescheduledAndTheThirdDeathErrs()
    {
        for (int i = 1; i <= 4; i++)
        {
            s.workerJoined(0, i, 1, 1000);
        }
        chain(C1, "poison");
        for (int death = 1; death <= 2; death++)
        {
            final long w = s.tasks.get("poison").processingOn.id;
            sink.take();
            s.workerDied(w);
            Invariants.check(s);
            assertEquals(TaskState.PROCESSING, s.taskState("poison"));
            assertNotEquals(w, workerOf("poison"));
        }
        sink.take();
        s.workerDied(s.tasks.get("poison").processingOn.id);
        assertEquals(TaskState.ERRED, s.taskState("poison"));
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C1, "poison"));
        assertTrue(sink.lastMessage(C1, "poison").startsWith("KilledWorker"), sink.lastMessage(C1, "poison"));
        assertEquals(1, s.workerIds().length, "the cluster survives");
    }

    @Test
    void aGracefulLeaveDoesNotCountAgainstTheTask()
    {
        workers(4, 1);
        chain(C1, "t");
        for (int i = 0; i < 3; i++)
        {
            s.workerLeft(s.tasks.get("t").processingOn.id);
        }
        assertEquals(TaskState.PROCESSING, s.taskState("t"));
    }

    @Test
    void aResultWhoseOnlyCopyDiedIsRecomputedFromLineage()
    {
        workers(2, 1);
        chain(C1, "a", "b");
        final long wa = workerOf("a");
        finish(wa, "a", 10);
        final long wb = workerOf("b");
        finish(wb, "b", 10);
        sink.take();
        s.workerDied(wb);
        assertEquals(KeyStatus.PENDING, sink.lastStatus(C1, "b"));
        // a was freed after b finished, so both are recomputed on the survivor.
        final long survivor = wb == 1 ? 2 : 1;
        assertEquals(survivor, workerOf("a"));
        finish(survivor, "a", 10);
        finish(survivor, "b", 10);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "b"));
    }

    @Test
    void processingDependentsOfALostKeyGoBackToWaiting()
    {
        workers(2, 2);
        graph.clear().task("a", FN).workers(new long[] {1}, false)
            .task("b", FN).dependsOn("a").workers(new long[] {2}, false).want("b");
        s.submitGraph(C1, graph);
        finish(1, "a", 10);
        assertEquals(2, workerOf("b"));
        sink.take();
        s.workerDied(1);
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 2, "b"));
        assertEquals(TaskState.WAITING, s.taskState("b"));
        assertEquals(TaskState.NO_WORKER, s.taskState("a"), "a is restricted to the dead worker");
        s.workerJoined(1, 1, 1, 1000);
        finish(1, "a", 10);
        finish(2, "b", 1);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "b"));
    }

    @Test
    void scatteredDataWithNoOtherCopyIsLostAndItsClientsAreToldWithTheKeyNamed()
    {
        workers(2, 1);
        s.dataScattered(C1, "d", 100, 1);
        graph.clear().want("d");
        s.submitGraph(C2, graph);
        graph.clear().task("use", FN).dependsOn("d").workers(new long[] {2}, false).want("use");
        s.submitGraph(C1, graph);
        sink.take();
        s.workerDied(1);
        assertEquals(KeyStatus.LOST, sink.lastStatus(C1, "d"));
        assertEquals(KeyStatus.LOST, sink.lastStatus(C2, "d"));
        assertTrue(sink.lastMessage(C1, "d").contains("'d'"));
        // "use" had already been sent to worker 2: it is called back and errs naming the lost key.
        assertEquals(TaskState.ERRED, s.taskState("use"));
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C1, "use"));
        assertTrue(sink.lastMessage(C1, "use").contains("'d'"));
        s.releaseKey(C1, "d");
        s.releaseKey(C2, "d");
        s.releaseKey(C1, "use");
        assertEquals(0, s.taskCount());
    }

    @Test
    void lostScatteredDataCanBeScatteredAgainUnderTheSameKey()
    {
        workers(2, 1);
        s.dataScattered(C1, "d", 100, 1);
        graph.clear().want("d");
        s.submitGraph(C2, graph);
        s.workerDied(1);
        assertEquals(KeyStatus.LOST, sink.lastStatus(C2, "d"));
        sink.take();
        // Content-hashed scatter keys: scattering the same data again gives the same key, still wanted by the
        // futures that were told it was lost.
        s.dataScattered(C1, "d", 100, 2);
        assertEquals(TaskState.MEMORY, s.taskState("d"));
        assertFalse(sink.has(Kind.FREE, 2, "d"), sink.commands.toString());
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C1, "d"));
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C2, "d"));
        assertNull(s.error("d"));
        s.releaseKey(C1, "d");
        s.releaseKey(C2, "d");
        assertTrue(sink.has(Kind.FREE, 2, "d"));
        assertEquals(0, s.taskCount());
    }

    @Test
    void aReplicatedScatteredKeySurvivesTheDeathOfOneHolder()
    {
        workers(2, 1);
        s.dataScattered(C1, "d", 100, 1, 2);
        s.workerDied(1);
        assertEquals(TaskState.MEMORY, s.taskState("d"));
        assertArrayEquals(new long[] {2}, s.whoHas("d"));
    }

    @Test
    void missingDataDropsTheStaleHolderAndResendsTheTask()
    {
        workers(3, 1);
        s.dataScattered(C1, "d", 10, 1, 2);
        graph.clear().task("t", FN).dependsOn("d").workers(new long[] {3}, false).want("t");
        s.submitGraph(C1, graph);
        sink.take();
        s.missingData(3, "d", 1);
        assertArrayEquals(new long[] {2}, s.whoHas("d"));
        final Cmd again = sink.compute("t");
        assertEquals(3, again.worker);
        assertArrayEquals(new long[] {2}, again.depHolders[0]);
        sink.take();
        s.missingData(3, "d", 2);
        assertEquals(KeyStatus.LOST, sink.lastStatus(C1, "d"), "scattered, no copy left");
        assertEquals(TaskState.ERRED, s.taskState("t"));
    }

    // ---------------------------------------------------------------- rule 6

    @Test
    void restrictionsComeFirst()
    {
        workers(3, 1);
        graph.clear().task("r", FN).workers(new long[] {3}, false).want("r");
        s.submitGraph(C1, graph);
        assertEquals(3, workerOf("r"));
    }

    @Test
    void strictRestrictionsWaitForTheirWorkerWhileLooseOnesFallBack()
    {
        workers(1, 1);
        graph.clear().task("strict", FN).workers(new long[] {7}, false).task("loose", FN)
            .workers(new long[] {7}, true).want("strict").want("loose");
        s.submitGraph(C1, graph);
        assertEquals(TaskState.NO_WORKER, s.taskState("strict"));
        assertEquals(1, workerOf("loose"));
        s.workerJoined(0, 7, 1, 1000);
        assertEquals(7, workerOf("strict"));
    }

    @Test
    void placementMinimisesBytesToMove()
    {
        workers(3, 4);
        s.dataScattered(C1, "big", 500_000_000L, 2);
        s.dataScattered(C1, "small", 10, 3);
        graph.clear().task("t", FN).dependsOn("big").dependsOn("small").want("t");
        s.submitGraph(C1, graph);
        assertEquals(2, workerOf("t"));
        final Cmd c = sink.compute("t");
        assertArrayEquals(new String[] {"big", "small"}, c.deps);
        assertArrayEquals(new long[] {2}, c.depHolders[0]);
        assertArrayEquals(new long[] {3}, c.depHolders[1]);
    }

    @Test
    void placementWeighsQueuedWorkAgainstBytesToMove()
    {
        workers(2, 1);
        s.dataScattered(C1, "tiny", 1, 1);
        graph.clear();
        for (int i = 0; i < 4; i++)
        {
            graph.task("t" + i, FN).dependsOn("tiny").want("t" + i);
        }
        s.submitGraph(C1, graph);
        int on2 = 0;
        for (int i = 0; i < 4; i++)
        {
            on2 += workerOf("t" + i) == 2 ? 1 : 0;
        }
        assertEquals(2, on2, "a 1-byte input is cheaper to move than waiting behind queued work");
    }

    @Test
    void rootTasksAreQueuedOnTheSchedulerAtOnePointOneTimesThreads()
    {
        workers(2, 2);
        graph.clear();
        for (int i = 0; i < 20; i++)
        {
            graph.task("r" + i, FN).want("r" + i);
        }
        s.submitGraph(C1, graph);
        assertEquals(6, sink.of(Kind.COMPUTE).size(), "ceil(2 x 1.1) = 3 per worker");
        assertEquals(3, s.processingCount(1));
        assertEquals(3, s.processingCount(2));
        assertEquals(14, s.queuedCount());
        sink.take();
        finish(1, "r0", 1);
        assertEquals(1, sink.of(Kind.COMPUTE).size());
        assertEquals(1, sink.of(Kind.COMPUTE).get(0).worker);
        assertEquals(13, s.queuedCount());
    }

    /** Finishes the oldest task sent to worker 1, measured at {@code computeNs}; returns how many it now runs. */
    private int finishOldest(final java.util.ArrayDeque<String> running, final long computeNs)
    {
        for (final Cmd c : sink.of(Kind.COMPUTE))
        {
            running.add(c.key);
        }
        sink.take();
        s.taskFinished(1, running.poll(), 1, "long", computeNs);
        Invariants.check(s);
        for (final Cmd c : sink.of(Kind.COMPUTE))
        {
            running.add(c.key);
        }
        sink.take();
        return s.processingCount(1);
    }

    @Test
    void shortRootTasksArePipelinedPastTheSaturationAndLongOnesAreNot()
    {
        workers(1, 1);
        graph.clear();
        for (int i = 0; i < 200; i++)
        {
            graph.task("r" + i, FN).want("r" + i);
        }
        s.submitGraph(C1, graph);
        assertEquals(2, s.processingCount(1), "durations not measured yet (1 ms assumed): ceil(1 x 1.1) = 2");
        final java.util.ArrayDeque<String> running = new java.util.ArrayDeque<>();
        int inFlight = 0;
        for (int i = 0; i < 60; i++)
        {
            inFlight = finishOldest(running, 10_000);
        }
        assertEquals(2 + Scheduler.Context.MAX_PIPELINED_PER_THREAD, inFlight,
            "10 us tasks: 250 us / 10 us pipelined per thread, capped");
        for (int i = 0; i < 60; i++)
        {
            inFlight = finishOldest(running, 5_000_000);
        }
        assertEquals(2, inFlight, "5 ms tasks: the saturation alone");
    }

    @Test
    void pipeliningGoesByEachKindsOwnDurationsAndANewKindStartsAtTheSaturation()
    {
        workers(1, 1);
        graph.clear();
        for (int i = 0; i < 100; i++)
        {
            graph.task("short" + i, FN).kind(1).want("short" + i);
        }
        s.submitGraph(C1, graph);
        final java.util.ArrayDeque<String> running = new java.util.ArrayDeque<>();
        int inFlight = 0;
        for (int i = 0; i < 10; i++)
        {
            inFlight = finishOldest(running, 10_000);
        }
        assertEquals(2 + Scheduler.Context.MAX_PIPELINED_PER_THREAD, inFlight, "kind 1 measured at 10 us");
        // A new kind queued ahead (higher priority): nothing is known of it, so it gets the saturation only.
        graph.clear();
        for (int i = 0; i < 100; i++)
        {
            graph.task("slow" + i, FN).kind(2).priority(5).want("slow" + i);
        }
        s.submitGraph(C1, graph);
        int slowRunning = 0;
        for (int i = 0; i < 40; i++)
        {
            finishOldest(running, running.peek().startsWith("slow") ? 5_000_000 : 10_000);
            slowRunning = (int)running.stream().filter(k -> k.startsWith("slow")).count();
            assertTrue(slowRunning <= 2, "a slow kind never rides the short kind's pipeline: " + slowRunning);
        }
        assertEquals(2, s.processingCount(1), "the slow kind fills the saturation and no more");
        assertEquals(2, slowRunning);
    }

    @Test
    void rootTaskPipeliningOffKeepsTheSaturationAlone()
    {
        s.close();
        s = new Scheduler(new Scheduler.Context().defaultTaskDurationNs(1_000_000).workerTimeoutNs(0)
            .rootTaskPipelineNs(0), sink);
        s.clientConnected(C1);
        workers(1, 1);
        graph.clear();
        for (int i = 0; i < 50; i++)
        {
            graph.task("r" + i, FN).want("r" + i);
        }
        s.submitGraph(C1, graph);
        final java.util.ArrayDeque<String> running = new java.util.ArrayDeque<>();
        for (int i = 0; i < 30; i++)
        {
            assertEquals(2, finishOldest(running, 10_000));
        }
        assertThrows(IllegalArgumentException.class, () -> new Scheduler.Context().rootTaskPipelineNs(-1).conclude());
    }

    @Test
    void queuedTasksLeaveInPriorityOrder()
    {
        workers(1, 1);
        graph.clear().task("block1", FN).task("block2", FN).want("block1").want("block2");
        s.submitGraph(C1, graph);
        graph.clear().task("low", FN).priority(-5).task("high", FN).priority(10).task("mid", FN)
            .want("low").want("high").want("mid");
        s.submitGraph(C1, graph);
        assertEquals(3, s.queuedCount());
        sink.take();
        finish(1, "block1", 1);
        finish(1, "block2", 1);
        finish(1, "high", 1);
        finish(1, "mid", 1);
        final List<String> order = new ArrayList<>();
        for (final Cmd c : sink.of(Kind.COMPUTE))
        {
            order.add(c.key);
        }
        assertEquals(List.of("high", "mid", "low"), order);
    }

    @Test
    void aHighPriorityRootTaskIsNotLeftBehindLowerOnesSubmittedBeforeItInTheSameGraph()
    {
        workers(1, 1);
        graph.clear().task("low0", FN).task("low1", FN).task("low2", FN).task("high", FN).priority(10)
            .want("low0").want("low1").want("low2").want("high");
        s.submitGraph(C1, graph);
        final List<String> sent = new ArrayList<>();
        for (final Cmd c : sink.of(Kind.COMPUTE))
        {
            sent.add(c.key);
        }
        assertEquals(List.of("high", "low0"), sent, "ceil(1 x 1.1) = 2 slots, highest priority first");
        assertEquals(TaskState.QUEUED, s.taskState("low2"));
    }

    @Test
    void pausedWorkersGetNothingNewAndRejectedTasksMove()
    {
        workers(2, 1);
        s.workerHeartbeat(1, 1, 900, 0, true, 0);
        graph.clear().task("a", FN).task("b", FN).task("c", FN).want("a").want("b").want("c");
        s.submitGraph(C1, graph);
        assertEquals(2, workerOf("a"));
        assertEquals(2, workerOf("b"));
        assertEquals(1, s.queuedCount(), "worker 1 is paused, worker 2 has its ceil(1 x 1.1) = 2 tasks");
        s.workerHeartbeat(2, 1, 100, 0, false, 0);
        assertEquals(1, workerOf("c"));
        sink.take();
        s.taskRejected(1, "c");
        assertTrue(s.isPaused(1));
        assertEquals(TaskState.QUEUED, s.taskState("c"));
        finish(2, "a", 1);
        assertEquals(2, workerOf("c"));
    }

    // ---------------------------------------------------------------- rule 7

    @Test
    void tickStealsQueuedWorkFromASaturatedWorkerAndTheThiefKeepsItsCopy()
    {
        s.workerJoined(0, 1, 1, 1000);
        s.dataScattered(C1, "d", 1000, 1);
        graph.clear();
        for (int i = 0; i < 6; i++)
        {
            graph.task("t" + i, FN).dependsOn("d").want("t" + i);
        }
        s.submitGraph(C1, graph);
        assertEquals(6, s.processingCount(1));
        s.workerJoined(1, 2, 2, 1000);
        sink.take();
        s.tick(1_000_000_000L);
        assertEquals(2, s.processingCount(2));
        assertEquals(4, s.processingCount(1));
        final List<Cmd> computes = sink.of(Kind.COMPUTE);
        assertEquals(2, computes.size());
        for (final Cmd c : computes)
        {
            assertEquals(2, c.worker);
            assertTrue(sink.has(Kind.CANCEL_COMPUTE, 1, c.key));
            assertTrue(c.key.equals("t5") || c.key.equals("t4"), "the most recently sent are stolen: " + c.key);
            assertArrayEquals(new long[] {1}, c.depHolders[0]);
        }
        s.replicaAdded(2, "d");
        finish(2, "t5", 1);
        assertEquals(2, s.whoHas("d").length, "the thief keeps the copy it fetched");
        // The victim started the stolen task anyway: the first result wins, the second is kept as a copy.
        finish(1, "t4", 1);
        assertEquals(TaskState.MEMORY, s.taskState("t4"));
        assertTrue(sink.has(Kind.CANCEL_COMPUTE, 2, "t4"));
        finish(2, "t4", 1);
        assertEquals(2, s.whoHas("t4").length);
    }

    @Test
    void noStealWhenMovingTheInputsCostsMoreThanTheWaitSaved()
    {
        s.workerJoined(0, 1, 1, 0);
        s.dataScattered(C1, "huge", 50_000_000_000L, 1);
        graph.clear();
        for (int i = 0; i < 4; i++)
        {
            graph.task("t" + i, FN).dependsOn("huge").want("t" + i);
        }
        s.submitGraph(C1, graph);
        s.workerJoined(1, 2, 2, 0);
        sink.take();
        s.tick(1_000_000_000L);
        assertTrue(sink.of(Kind.COMPUTE).isEmpty());
        assertEquals(4, s.processingCount(1));
    }

    // ---------------------------------------------------------------- rule 8

    @Test
    void replicateMakesExactlyNCopiesThenDropsExtrasNeverTheLast()
    {
        workers(4, 1);
        s.dataScattered(C1, "d", 100, 1);
        s.dataScattered(C1, "ballast", 500, 2);
        sink.take();
        s.replicate("d", 3, null);
        final List<Cmd> copies = sink.of(Kind.COPY);
        assertEquals(2, copies.size());
        for (final Cmd c : copies)
        {
            assertTrue(s.replicating("d"), "a copy is in flight");
            assertNotEquals(2, c.worker, "least-loaded workers receive copies");
            assertEquals(1, c.from);
            s.replicaAdded(c.worker, "d");
        }
        assertFalse(s.replicating("d"), "every copy landed");
        assertFalse(s.replicating("nope"), "an unknown key has nothing to wait for");
        assertEquals(3, s.whoHas("d").length);
        sink.take();
        s.replicate(List.of("d"), 3, null);
        assertTrue(sink.commands.isEmpty(), "already satisfied");
        assertThrows(IllegalArgumentException.class, () -> s.replicate(List.of("d", "nope"), 2, null));
        assertThrows(IllegalArgumentException.class, () -> s.replicate("d", 0, null));
        assertTrue(sink.commands.isEmpty(), "refused requests change nothing");
        s.replicate("d", 1, null);
        assertEquals(2, sink.of(Kind.DROP).size());
        assertEquals(1, s.whoHas("d").length);
        sink.take();
        s.replicate("d", 1, new long[] {3});
        // The only copy may be outside the allowed set: a copy is added there, the last copy is never dropped.
        assertTrue(sink.of(Kind.DROP).isEmpty());
        assertTrue(s.replicating("d"));
        s.replicaFailed(3, "d");
        assertFalse(s.replicating("d"), "a failed copy with the key's replication met is not retried");
    }

    @Test
    void aKeyStillComputingIsReplicatingUntilItsCopiesLand()
    {
        workers(2, 1);
        chain(C1, "c");
        s.replicate("c", 2, null);
        assertTrue(s.replicating("c"), "computing: its copies follow");
        final long w = workerOf("c");
        sink.take();
        finish(w, "c", 10);
        final List<Cmd> copies = sink.of(Kind.COPY);
        assertEquals(1, copies.size(), "copied once it is in memory: " + sink.commands);
        assertTrue(s.replicating("c"));
        s.replicaAdded(copies.get(0).worker, "c");
        assertFalse(s.replicating("c"));
        chain(C1, "e");
        s.replicate("e", 2, null);
        s.taskErred(workerOf("e"), "e", "boom");
        assertFalse(s.replicating("e"), "an erred key has nothing to wait for");
        graph.clear().task("stuck", FN).workers(new long[] {7}, false).want("stuck");
        s.submitGraph(C1, graph);
        s.replicate("stuck", 2, null);
        assertEquals(TaskState.NO_WORKER, s.taskState("stuck"));
        assertFalse(s.replicating("stuck"), "no worker can run it: nothing to wait for");
    }

    @Test
    void declaredReplicationHealsWhenAHolderDies()
    {
        workers(3, 1);
        s.dataScattered(C1, "d", 100, 1);
        s.replicate("d", 2, null);
        final Cmd copy = sink.of(Kind.COPY).get(0);
        s.replicaAdded(copy.worker, "d");
        sink.take();
        s.workerDied(copy.worker);
        final List<Cmd> heal = sink.of(Kind.COPY);
        assertEquals(1, heal.size());
        s.replicaAdded(heal.get(0).worker, "d");
        assertEquals(2, s.whoHas("d").length);
    }

    @Test
    void aRebalanceMoveCompletingAfterReplicateDoesNotTakeTheKeyBelowItsReplication()
    {
        workers(2, 1);
        for (int i = 0; i < 8; i++)
        {
            s.dataScattered(C1, "k" + i, 50, 1);
        }
        assertTrue(s.rebalance(null, null) > 0);
        final Cmd move = sink.of(Kind.COPY).get(0);
        assertEquals(2, move.worker);
        sink.take();
        s.replicate(move.key, 2, null);
        s.replicaAdded(2, move.key);
        assertFalse(sink.has(Kind.DROP, 1, move.key), "the move became the second copy: " + sink.commands);
        assertEquals(2, s.whoHas(move.key).length);
    }

    @Test
    void replicatingDownWhileCopiesAreInFlightStillEndsWithExactlyNCopies()
    {
        workers(3, 1);
        s.dataScattered(C1, "d", 100, 1);
        s.replicate("d", 3, null);
        assertEquals(2, sink.of(Kind.COPY).size());
        sink.take();
        s.replicate("d", 1, null);
        s.replicaAdded(2, "d");
        s.replicaAdded(3, "d");
        Invariants.check(s);
        assertEquals(1, s.whoHas("d").length, "copies that arrive after replicate(1) are dropped");
        assertTrue(sink.has(Kind.DROP, 2, "d") && sink.has(Kind.DROP, 3, "d"), sink.commands.toString());

        // Down, then up again before the copies land: the copies in flight count again, none is sent twice.
        s.replicate("d", 3, null);
        sink.take();
        s.replicate("d", 1, null);
        s.replicate("d", 2, null);
        assertTrue(sink.of(Kind.COPY).isEmpty(), "a copy already in flight is reused: " + sink.commands);
        s.replicaAdded(2, "d");
        s.replicaAdded(3, "d");
        assertEquals(2, s.whoHas("d").length);

        // Healing after a death also reuses a copy in flight that a replicate had given up.
        s.workerJoined(1, 4, 1, 1000);
        s.dataScattered(C1, "e", 100, 1, 4);
        s.replicate("e", 4, null);
        s.replicate("e", 2, null);
        sink.take();
        s.workerDied(4);
        assertTrue(sink.of(Kind.COPY).isEmpty(), "no second copy to a worker already receiving one");
        s.replicaAdded(2, "e");
        s.replicaAdded(3, "e");
        assertEquals(2, s.whoHas("e").length, "declared replication 2 after the death");
    }

    @Test
    void aFailedReplicationCopyIsRetried()
    {
        workers(3, 1);
        s.dataScattered(C1, "d", 100, 1);
        s.replicate("d", 2, null);
        final Cmd copy = sink.of(Kind.COPY).get(0);
        sink.take();
        s.replicaFailed(copy.worker, "d");
        assertEquals(1, sink.of(Kind.COPY).size(), "copied again");
        s.replicaAdded(sink.of(Kind.COPY).get(0).worker, "d");
        assertEquals(2, s.whoHas("d").length);
    }

    // ---------------------------------------------------------------- rule 9

    @Test
    void rebalanceBringsEveryWorkerWithinTheGapOfTheMeanCopyingBeforeDropping()
    {
        workers(4, 1);
        for (int i = 0; i < 12; i++)
        {
            s.dataScattered(C1, "k" + i, 50, 1);
        }
        sink.take();
        final int moves = s.rebalance(null, null);
        assertEquals(8, moves, "600 B must shed to within 50 B of the 150 B mean");
        assertTrue(sink.of(Kind.DROP).isEmpty(), "nothing is dropped before the copy is confirmed");
        assertEquals(600, s.managedBytes(1));
        for (final Cmd c : sink.of(Kind.COPY))
        {
            assertEquals(1, c.from);
            s.replicaAdded(c.worker, c.key);
            assertTrue(sink.has(Kind.DROP, 1, c.key));
        }
        for (int w = 1; w <= 4; w++)
        {
            assertTrue(Math.abs(s.managedBytes(w) - 150) <= 50, "worker " + w + ": " + s.managedBytes(w));
        }
        sink.take();
        assertEquals(0, s.rebalance(null, null), "balanced: nothing more to move");
    }

    @Test
    void rebalanceLeavesWorkersBelowSenderMinAlone()
    {
        workers(2, 1);
        for (int i = 0; i < 5; i++)
        {
            s.dataScattered(C1, "k" + i, 50, 1);
        }
        assertEquals(0, s.rebalance(null, null), "250 B is below 30% of the 1000 B limit");
    }

    @Test
    void scatterOntoAKeyATaskIsComputingIsRefusedAndItsDataFreed()
    {
        workers(2, 1);
        chain(C1, "busy");
        sink.take();
        s.dataScattered(C2, "busy", 10, 2);
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C2, "busy"));
        assertTrue(sink.has(Kind.FREE, 2, "busy"));
        assertEquals(TaskState.PROCESSING, s.taskState("busy"));
        assertEquals(0, s.wantedCount(C2));
        sink.take();
        s.dataScattered(C2, "nowhere", 10, 77);
        assertEquals(KeyStatus.LOST, sink.lastStatus(C2, "nowhere"));
        assertEquals(TaskState.FORGOTTEN, s.taskState("nowhere"));
    }

    @Test
    void broadcastScatterAndALaterScatterOfTheSameKeyAddHolders()
    {
        workers(3, 1);
        s.dataScattered(C1, "b", 10, 1, 2, 3);
        assertEquals(3, s.whoHas("b").length);
        s.workerDied(1);
        s.workerDied(2);
        assertEquals(TaskState.MEMORY, s.taskState("b"));
        s.workerJoined(5, 4, 1, 1000);
        s.dataScattered(C2, "b", 10, 4);
        assertEquals(2, s.whoHas("b").length);
        assertEquals(KeyStatus.MEMORY, sink.lastStatus(C2, "b"));
    }

    // ---------------------------------------------------------------- rule 10

    @Test
    void scatterPlacementGoesToTheWorkerWithTheMostFreeMemory()
    {
        s.workerJoined(0, 1, 1, 1000);
        s.workerJoined(0, 2, 1, 2000);
        s.workerJoined(0, 3, 1, 1000);
        s.dataScattered(C1, "ballast", 900, 2);
        final long[] out = new long[4];
        s.placeScatter(new long[] {100, 100, 100, 100}, 4, null, out);
        // Worker 2 has 1100 B free, 1 and 3 have 1000 B: memory decides, not round-robin.
        assertArrayEquals(new long[] {2, 1, 2, 3}, out);
        s.placeScatter(new long[] {100}, 1, new long[] {2, 3}, out);
        assertEquals(2, out[0]);
        assertThrows(IllegalArgumentException.class, () -> s.placeScatter(new long[] {1}, 2, null, out));
        assertThrows(IllegalStateException.class, () -> s.placeScatter(new long[] {1}, 1, new long[] {42}, out));
    }

    // ---------------------------------------------------------------- errors, retries, bad input

    @Test
    void anErringTaskIsRetriedThenErrsAndItsDependentsErrWithTheSameError()
    {
        workers(1, 1);
        graph.clear().task("a", FN).retries(1).task("b", FN).dependsOn("a").want("b").want("a");
        s.submitGraph(C1, graph);
        s.taskErred(1, "a", "java.lang.ArithmeticException: / by zero");
        assertEquals(TaskState.PROCESSING, s.taskState("a"), "retried");
        s.taskErred(1, "a", "java.lang.ArithmeticException: / by zero");
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C1, "a"));
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C1, "b"));
        assertEquals("java.lang.ArithmeticException: / by zero", sink.lastMessage(C1, "b"));
        assertEquals("java.lang.ArithmeticException: / by zero", s.error("a"));
        graph.clear().task("c", FN).dependsOn("a").want("c");
        s.submitGraph(C2, graph);
        assertEquals(KeyStatus.ERRED, sink.lastStatus(C2, "c"), "new dependents of an erred key err at once");
        s.releaseKey(C1, "a");
        s.releaseKey(C1, "b");
        s.releaseKey(C2, "c");
        assertEquals(0, s.taskCount());
    }

    @Test
    void badGraphsAreRefusedAndChangeNothing()
    {
        workers(1, 1);
        chain(C1, "ok");
        final int before = s.taskCount();
        final List<Cmd> none = sink.take();
        assertFalse(none.isEmpty());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
            s.submitGraph(C1, graph.clear().task("x", FN).dependsOn("nope").want("x")));
        assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> s.submitGraph(C1,
            graph.clear().task("p", FN).dependsOn("q").task("q", FN).dependsOn("p").want("p")));
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> s.submitGraph(C1,
            graph.clear().task("self", FN).dependsOn("self").want("self")));
        assertTrue(e.getMessage().contains("cycle"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.submitGraph(C1,
            graph.clear().task("d", FN).task("d", FN)));
        assertThrows(IllegalArgumentException.class, () -> s.submitGraph(C1, graph.clear().want("ghost")));
        assertThrows(IllegalArgumentException.class, () -> s.submitGraph(99, graph.clear().task("z", FN)));
        assertThrows(IllegalArgumentException.class, () -> s.taskFinished(1, "ok", -1, null, 0));
        assertEquals(before, s.taskCount());
        assertTrue(sink.commands.isEmpty());
        assertEquals(TaskState.PROCESSING, s.taskState("ok"));
    }

    @Test
    void staleEventsAreHandledNotThrown()
    {
        workers(1, 1);
        s.taskFinished(1, "never-submitted", 5, null, 0);
        assertTrue(sink.has(Kind.FREE, 1, "never-submitted"));
        s.taskFinished(99, "x", 5, null, 0);
        s.taskErred(99, "x", "e");
        s.replicaAdded(1, "gone");
        assertTrue(sink.has(Kind.FREE, 1, "gone"));
        s.workerDied(99);
        s.releaseKey(C1, "unknown");
        s.cancel(C1, "unknown", true);
        s.wantKey(C1, "unknown");
        assertEquals(KeyStatus.LOST, sink.lastStatus(C1, "unknown"));
        assertEquals(0, s.taskCount());
    }

    // ---------------------------------------------------------------- publish, fire-and-forget, timeouts

    @Test
    void aPublishedDatasetPinsItsKeysUntilUnpublished()
    {
        workers(1, 1);
        chain(C1, "x");
        finish(1, "x", 10);
        s.publish("mine", List.of("x"));
        assertThrows(IllegalArgumentException.class, () -> s.publish("mine", List.of("x")));
        assertThrows(IllegalArgumentException.class, () -> s.publish("other", List.of("nope")));
        s.releaseKey(C1, "x");
        assertEquals(TaskState.MEMORY, s.taskState("x"));
        assertArrayEquals(new String[] {"x"}, s.datasetKeys("mine"));
        s.unpublish("mine");
        assertTrue(sink.has(Kind.FREE, 1, "x"));
        assertEquals(0, s.taskCount());
    }

    @Test
    void fireAndForgetRunsToCompletionThenFrees()
    {
        workers(1, 1);
        chain(C1, "a", "b");
        s.fireAndForget("b");
        s.releaseKey(C1, "b");
        assertEquals(TaskState.PROCESSING, s.taskState("a"));
        finish(1, "a", 1);
        finish(1, "b", 1);
        assertTrue(sink.has(Kind.FREE, 1, "b"));
        assertEquals(0, s.taskCount());
    }

    @Test
    void silentWorkersAreRemovedOnTick()
    {
        final Scheduler t = new Scheduler(new Scheduler.Context().workerTimeoutNs(1_000), sink);
        t.workerJoined(0, 1, 1, 0);
        t.workerJoined(0, 2, 1, 0);
        t.workerHeartbeat(900, 2, 0, 0, false, 0);
        t.tick(1_500);
        assertArrayEquals(new long[] {2}, t.workerIds());
        assertEquals(1, sink.of(Kind.REMOVED).size());
        Invariants.check(t);

        // Several silent at once while holding a replicated key: all removed, the key healed on the survivor.
        t.workerJoined(2_000, 3, 1, 0);
        t.workerJoined(2_000, 4, 1, 0);
        t.clientConnected(C1);
        t.dataScattered(C1, "d", 10, 2, 3);
        t.replicate("d", 2, null);
        sink.take();
        t.workerHeartbeat(3_500, 4, 0, 0, false, 0);
        t.tick(3_600);
        assertArrayEquals(new long[] {4}, t.workerIds());
        assertEquals(2, sink.of(Kind.REMOVED).size());
        assertEquals(KeyStatus.LOST, sink.lastStatus(C1, "d"), "both copies were on silent workers");
        Invariants.check(t);
    }

    @Test
    void workerInfoIsReported()
    {
        s.workerJoined(0, 5, 3, 4096);
        s.workerHeartbeat(10, 5, 1234, 99, false, 2);
        assertEquals(3, s.workerThreads(5));
        assertEquals(4096, s.workerMemoryLimit(5));
        assertEquals(1234, s.reportedManagedBytes(5));
        assertEquals(99, s.spilledBytes(5));
        assertEquals(-1, s.workerThreads(6));
        assertThrows(IllegalArgumentException.class, () -> s.workerJoined(0, 5, 1, 0));
    }

    @Test
    void contextValidation()
    {
        assertThrows(IllegalArgumentException.class, () -> new Scheduler.Context().workerSaturation(0.5).conclude());
        assertThrows(IllegalArgumentException.class, () -> new Scheduler.Context().rebalanceGap(2).conclude());
        assertThrows(IllegalArgumentException.class, () -> new Scheduler.Context().killedWorkerLimit(0).conclude());
        assertThrows(IllegalArgumentException.class, () -> s.clientConnected(-5));
        assertThrows(IllegalArgumentException.class, () -> s.workerJoined(0, 9, 0, 0));
    }
}
