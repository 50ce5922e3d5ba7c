package io.offgrid.scheduler;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Deterministic simulation: a fake cluster of workers and clients driven by a seeded random mix of every event
 * (submits, results, errors, rejections, deaths, joins, cancels, restarts, scatters, replicate, rebalance,
 * publish, pauses, ticks, transfers, spontaneous drops, stale and ghost messages, bad graphs). After every step
 * the scheduler's internal invariants are recomputed from scratch and the fake workers' real data must equal
 * what the scheduler believes they hold (so every key nothing holds has been freed in that step). At the end
 * the cluster is run to quiescence: every wanted key must be in memory or erred (never stuck) and what each
 * client was last told must agree; then everything is released and zero records must remain.
 * <p>
 * {@code -Dscheduler.sim.seeds=N} runs N seeds (default 300), {@code -Dscheduler.sim.firstSeed=S} starts at S,
 * {@code -Dscheduler.sim.steps=K} sets steps per seed (default 1000). A failure names the seed to rerun.
 */
class SchedulerSimulationTest
{
    @Test
    void randomEventSequencesKeepEveryInvariant()
    {
        final int seeds = Integer.getInteger("scheduler.sim.seeds", 300);
        final long first = Long.getLong("scheduler.sim.firstSeed", 1L);
        final int steps = Integer.getInteger("scheduler.sim.steps", 1000);
        // A hang guard scaled to the run: each seed takes well under a second.
        assertTimeoutPreemptively(Duration.ofSeconds(60 + seeds * (long)Math.max(1, steps / 1000)), () ->
        {
            long transitions = 0;
            long steals = 0;
            final Map<KeyStatus, Integer> statuses = new java.util.EnumMap<>(KeyStatus.class);
            for (long seed = first; seed < first + seeds; seed++)
            {
                try
                {
                    final Simulation sim = new Simulation(seed, steps);
                    transitions += sim.run();
                    steals += sim.s.stealCount;
                    sim.statusCounts.forEach((k, v) -> statuses.merge(k, v, Integer::sum));
                }
                catch (final Throwable e)
                {
                    throw new AssertionError("simulation failed with seed " + seed +
                        "; rerun with -Dscheduler.sim.firstSeed=" + seed + " -Dscheduler.sim.seeds=1: " + e, e);
                }
            }
            assertTrue(transitions > seeds * 100L, "the simulation exercised the scheduler: " + transitions);
            if (seeds >= 50)
            {
                assertTrue(steals > 0, "no steal happened in " + seeds + " seeds");
                for (final KeyStatus st : KeyStatus.values())
                {
                    assertTrue(statuses.getOrDefault(st, 0) > 0, "no client was ever told " + st);
                }
            }
            System.out.println("simulation: " + seeds + " seeds, " + transitions + " transitions, " + steals +
                " steals, client statuses " + statuses);
        });
    }

    @Test
    void theSameSeedGivesTheSameCommandsInTheSameOrder()
    {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
        {
            for (long seed = 1; seed <= 3; seed++)
            {
                final Simulation a = new Simulation(seed, 600);
                final Simulation b = new Simulation(seed, 600);
                a.run();
                b.run();
                assertTrue(a.commandCount > 100);
                assertEquals(a.commandCount, b.commandCount, "seed " + seed);
                assertEquals(a.digest, b.digest, "seed " + seed + ": commands differ between two runs");
            }
        });
    }

    static final class FakeWorker
    {
        final long id;
        final Set<String> data = new HashSet<>();
        final LinkedHashMap<String, RecordingSink.Cmd> assigned = new LinkedHashMap<>();

        FakeWorker(final long id)
        {
            this.id = id;
        }
    }

    static final class Transfer
    {
        final String key;
        final long from;
        final long to;

        Transfer(final String key, final long from, final long to)
        {
            this.key = key;
            this.from = from;
            this.to = to;
        }
    }

    static final class Simulation implements CommandSink
    {
        static final byte[] FN = {7};

        final long seed;
        final int steps;
        final Random rnd;
        final Scheduler s;
        final LinkedHashMap<Long, FakeWorker> live = new LinkedHashMap<>();
        final Set<Long> dead = new HashSet<>();
        final List<Transfer> transfers = new ArrayList<>();
        final List<Long> clientIds = new ArrayList<>();
        final Map<Long, Map<String, KeyStatus>> told = new HashMap<>();
        final List<String> datasets = new ArrayList<>();
        final TaskGraph graph = new TaskGraph();
        final RecordingSink computeRecorder = new RecordingSink();
        boolean quiescing;
        long now;
        long nextKey;
        long nextWorker = 100;
        long nextClient = 1;
        long commandCount;
        long digest;
        final Map<KeyStatus, Integer> statusCounts = new java.util.EnumMap<>(KeyStatus.class);

        Simulation(final long seed, final int steps)
        {
            this.seed = seed;
            this.steps = steps;
            this.rnd = new Random(seed);
            final Scheduler.Context ctx = new Scheduler.Context()
                .workerTimeoutNs(rnd.nextInt(3) == 0 ? 1_000_000_000L + rnd.nextInt(2_000_000_000) : 0)
                .stealIntervalNs(0)
                .defaultTaskDurationNs(1 + rnd.nextInt(10_000_000))
                .bandwidthBytesPerSecond(1 + rnd.nextInt(1_000_000_000))
                .killedWorkerLimit(1 + rnd.nextInt(3))
                .workerSaturation(1.0 + rnd.nextInt(3) * 0.5);
            s = new Scheduler(ctx, this);
        }

        long run()
        {
            for (int i = 0, n = 1 + rnd.nextInt(4); i < n; i++)
            {
                joinWorker();
            }
            for (int i = 0, n = 1 + rnd.nextInt(3); i < n; i++)
            {
                connectClient();
            }
            int maxRecords = 0;
            long stepNs = 0;
            long checkNs = 0;
            for (int step = 0; step < steps; step++)
            {
                final long t0 = System.nanoTime();
                step();
                final long t1 = System.nanoTime();
                check();
                stepNs += t1 - t0;
                checkNs += System.nanoTime() - t1;
                maxRecords = Math.max(maxRecords, s.taskCount());
            }
            if (Boolean.getBoolean("scheduler.sim.verbose"))
            {
                System.out.println("seed " + seed + ": max records " + maxRecords + ", records " + s.taskCount() +
                    ", workers " + live.size() + ", transitions " + s.transitionCount() + ", commands " + commandCount +
                    ", step ms " + stepNs / 1_000_000 + ", check ms " + checkNs / 1_000_000 + ", statuses " + statusCounts);
            }
            quiesce();
            return s.transitionCount();
        }

        // ------------------------------------------------------------------ sink: apply commands to the fakes

        public void computeTask(final long workerId, final ComputeTask task)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("compute", workerId, task.key());
            final FakeWorker w = live.get(workerId);
            assertNotNull(w, "compute sent to a dead or unknown worker " + workerId);
            computeRecorder.computeTask(workerId, task);
            final RecordingSink.Cmd cmd = computeRecorder.take().get(0);
            for (int i = 0; i < cmd.deps.length; i++)
            {
                assertTrue(cmd.depHolders[i].length > 0, "compute of " + cmd.key + " names no holder of " + cmd.deps[i]);
                for (final long h : cmd.depHolders[i])
                {
                    final FakeWorker hw = live.get(h);
                    // Sent ahead: the input is still computing on this very worker.
                    final boolean pendingHere = h == workerId && w.assigned.containsKey(cmd.deps[i]);
                    assertTrue(null != hw && (hw.data.contains(cmd.deps[i]) || pendingHere),
                        "compute of " + cmd.key + " says " + h + " holds " + cmd.deps[i] + " but it does not");
                }
            }
            w.assigned.put(cmd.key, cmd);
        }

        public void cancelCompute(final long workerId, final String key)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("cancel", workerId, key);
            final FakeWorker w = live.get(workerId);
            assertNotNull(w, "cancel sent to dead worker " + workerId);
            if (quiescing || rnd.nextInt(5) != 0)
            {
                w.assigned.remove(key);
            }
        }

        public void freeKey(final long workerId, final String key)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("free", workerId, key);
            final FakeWorker w = live.get(workerId);
            assertNotNull(w, "free sent to dead worker " + workerId);
            w.data.remove(key);
        }

        public void copyKey(final String key, final long fromWorkerId, final long toWorkerId)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("copy", key, fromWorkerId, toWorkerId);
            assertTrue(live.containsKey(fromWorkerId) && live.containsKey(toWorkerId), "copy between dead workers");
            assertTrue(live.get(fromWorkerId).data.contains(key), "copy from a worker without the key");
            transfers.add(new Transfer(key, fromWorkerId, toWorkerId));
        }

        public void dropReplica(final long workerId, final String key)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("drop", workerId, key);
            final FakeWorker w = live.get(workerId);
            assertNotNull(w, "drop sent to dead worker " + workerId);
            w.data.remove(key);
        }

        public void keyStatus(final long clientId, final String key, final KeyStatus status, final String message)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("status", clientId, key, status.ordinal(), message);
            assertTrue(clientId >= 0, "status sent to pseudo-client " + clientId);
            assertTrue(status == KeyStatus.MEMORY || null != message, "status " + status + " without a message");
            told.computeIfAbsent(clientId, c -> new HashMap<>()).put(key, status);
            statusCounts.merge(status, 1, Integer::sum);
        }

        public void restartWorker(final long workerId)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("restart", workerId);
            final FakeWorker w = live.get(workerId);
            assertNotNull(w, "restart sent to dead worker " + workerId);
            w.data.clear();
            w.assigned.clear();
        }

        public void workerRemoved(final long workerId, final String reason)
        {
            commandCount++;
            digest = digest * 31 + java.util.Objects.hash("removed", workerId);
            assertNotNull(live.remove(workerId), "removed an unknown worker " + workerId);
            dead.add(workerId);
        }

        // ------------------------------------------------------------------ events

        void step()
        {
            final int r = rnd.nextInt(100);
            if (r < 18)
            {
                submit();
            }
            else if (r < 46)
            {
                workOnce(false);
            }
            else if (r < 53)
            {
                release();
                release();
            }
            else if (r < 55)
            {
                want();
            }
            else if (r < 58)
            {
                cancel();
            }
            else if (r < 60)
            {
                killWorker();
            }
            else if (r < 63)
            {
                if (live.size() < 6)
                {
                    joinWorker();
                }
            }
            else if (r < 67)
            {
                scatter();
            }
            else if (r < 69)
            {
                replicate();
            }
            else if (r < 70)
            {
                s.rebalance(rnd.nextBoolean() ? null : randomKeys(3), null);
            }
            else if (r < 72)
            {
                publishOrUnpublish();
            }
            else if (r < 75)
            {
                heartbeat();
            }
            else if (r < 79)
            {
                now += rnd.nextInt(200_000_000);
                s.tick(now);
            }
            else if (r < 86)
            {
                transfer(false);
            }
            else if (r < 87)
            {
                spontaneousDrop();
            }
            else if (r < 89)
            {
                staleOrGhost();
            }
            else if (r < 90)
            {
                clientChurn();
            }
            else if (r < 91)
            {
                final String k = randomKey();
                if (null != k)
                {
                    s.fireAndForget(k);
                }
            }
            else if (r < 92)
            {
                badGraph();
            }
            else if (r < 93 && rnd.nextInt(4) == 0)
            {
                s.restart();
            }
            else
            {
                workOnce(false);
            }
        }

        void joinWorker()
        {
            final long id = nextWorker++;
            live.put(id, new FakeWorker(id));
            s.workerJoined(now, id, 1 + rnd.nextInt(3), rnd.nextInt(4) == 0 ? 0 : 1000 + rnd.nextInt(4000));
        }

        void connectClient()
        {
            final long id = nextClient++;
            clientIds.add(id);
            s.clientConnected(id);
        }

        long randomClient()
        {
            return clientIds.get(rnd.nextInt(clientIds.size()));
        }

        List<String> knownKeys()
        {
            final List<String> keys = new ArrayList<>(new TreeSet<>(s.tasks.keySet()));
            return keys;
        }

        String randomKey()
        {
            final List<String> keys = knownKeys();
            return keys.isEmpty() ? null : keys.get(rnd.nextInt(keys.size()));
        }

        List<String> randomKeys(final int max)
        {
            final List<String> keys = knownKeys();
            final List<String> out = new ArrayList<>();
            for (int i = 0, n = rnd.nextInt(max + 1); i < n && !keys.isEmpty(); i++)
            {
                out.add(keys.get(rnd.nextInt(keys.size())));
            }
            return out;
        }

        void submit()
        {
            final long c = randomClient();
            final List<String> known = knownKeys();
            graph.clear();
            final List<String> fresh = new ArrayList<>();
            for (int i = 0, n = 1 + rnd.nextInt(6); i < n; i++)
            {
                final String key = "k" + nextKey++;
                graph.task(key, FN);
                for (int d = 0, m = rnd.nextInt(4); d < m; d++)
                {
                    if (!fresh.isEmpty() && (known.isEmpty() || rnd.nextBoolean()))
                    {
                        graph.dependsOn(fresh.get(rnd.nextInt(fresh.size())));
                    }
                    else if (!known.isEmpty())
                    {
                        graph.dependsOn(known.get(rnd.nextInt(known.size())));
                    }
                }
                graph.priority(rnd.nextInt(5) - 2);
                if (rnd.nextInt(4) == 0)
                {
                    graph.retries(1);
                }
                if (rnd.nextInt(10) == 0)
                {
                    graph.workers(new long[] {nextWorker - 1 - rnd.nextInt(4)}, true);
                }
                fresh.add(key);
            }
            if (!known.isEmpty() && rnd.nextInt(10) == 0)
            {
                graph.task(known.get(rnd.nextInt(known.size())), FN); // existing key keeps its definition
            }
            for (int i = 0; i < fresh.size(); i++)
            {
                if (i == fresh.size() - 1 || rnd.nextBoolean())
                {
                    graph.want(fresh.get(i));
                }
            }
            if (!known.isEmpty() && rnd.nextInt(5) == 0)
            {
                graph.want(known.get(rnd.nextInt(known.size())));
            }
            s.submitGraph(c, graph);
        }

        void badGraph()
        {
            final int before = s.taskCount();
            final long commands = commandCount;
            graph.clear();
            if (rnd.nextBoolean())
            {
                graph.task("bad" + nextKey, FN).dependsOn("missing-" + nextKey).want("bad" + nextKey);
            }
            else
            {
                graph.task("cyc-a" + nextKey, FN).dependsOn("cyc-b" + nextKey)
                    .task("cyc-b" + nextKey, FN).dependsOn("cyc-a" + nextKey).want("cyc-a" + nextKey);
            }
            nextKey++;
            assertThrows(IllegalArgumentException.class, () -> s.submitGraph(randomClient(), graph));
            assertEquals(before, s.taskCount(), "a refused graph changed the records");
            assertEquals(commands, commandCount, "a refused graph emitted commands");
        }

        void workOnce(final boolean clean)
        {
            final List<FakeWorker> busy = new ArrayList<>();
            for (final FakeWorker w : live.values())
            {
                if (!w.assigned.isEmpty())
                {
                    busy.add(w);
                }
            }
            if (busy.isEmpty())
            {
                return;
            }
            final FakeWorker w = busy.get(rnd.nextInt(busy.size()));
            // A real worker starts a task sent ahead only once its input is stored there.
            final List<String> keys = new ArrayList<>();
            for (final RecordingSink.Cmd c : w.assigned.values())
            {
                if (!waitsHere(w, c))
                {
                    keys.add(c.key);
                }
            }
            if (keys.isEmpty())
            {
                return;
            }
            final String key = keys.get(rnd.nextInt(Math.min(keys.size(), 3)));
            final RecordingSink.Cmd cmd = w.assigned.remove(key);
            final TaskRecord t = s.tasks.get(key);
            final boolean expected = null != t && t.is(TaskState.PROCESSING) && t.processingOn.id == w.id;
            final int outcome = clean ? 99 : rnd.nextInt(100);
            if (outcome < 3)
            {
                s.taskRejected(w.id, key);
                return;
            }
            if (outcome < 10)
            {
                s.taskErred(w.id, key, "java.lang.IllegalStateException: boom in " + key);
                return;
            }
            for (int i = 0; i < cmd.deps.length; i++)
            {
                final String dep = cmd.deps[i];
                if (w.data.contains(dep))
                {
                    continue;
                }
                FakeWorker source = null;
                for (final FakeWorker o : live.values())
                {
                    if (o.data.contains(dep))
                    {
                        source = o;
                        break;
                    }
                }
                if (null == source)
                {
                    assertFalse(expected, "task " + key + " is processing on " + w.id + " but its dependency " + dep +
                        " has no copy anywhere");
                    s.missingData(w.id, dep, cmd.depHolders[i][0]);
                    return;
                }
                w.data.add(dep);
                s.replicaAdded(w.id, dep);
            }
            w.data.add(key);
            s.taskFinished(w.id, key, 1 + rnd.nextInt(1000), "long", rnd.nextInt(2_000_000));
        }

        private boolean waitsHere(final FakeWorker w, final RecordingSink.Cmd c)
        {
            for (final String dep : c.deps)
            {
                if (!w.data.contains(dep) && w.assigned.containsKey(dep))
                {
                    return true;
                }
            }
            return false;
        }

        void release()
        {
            final long c = randomClient();
            final List<String> keys = new ArrayList<>(List.of(s.wantedKeys(c)));
            if (keys.isEmpty())
            {
                return;
            }
            keys.sort(null);
            s.releaseKey(c, keys.get(rnd.nextInt(keys.size())));
        }

        void want()
        {
            final String k = rnd.nextInt(10) == 0 ? "never-" + nextKey++ : randomKey();
            if (null != k)
            {
                s.wantKey(randomClient(), k);
            }
        }

        void cancel()
        {
            if (rnd.nextBoolean())
            {
                final String k = randomKey();
                if (null != k)
                {
                    s.cancel(randomClient(), k, rnd.nextBoolean());
                }
            }
            else
            {
                // A batch, as a client's cancel of many futures arrives: settled once, keys may repeat or overlap.
                // Half the time the caller marks the keys it named itself (as the client does) and is told only of
                // their dependents: model that mark, so the final check still compares what the client believes.
                final long c = randomClient();
                final List<String> keys = randomKeys(6);
                final boolean tellCaller = rnd.nextBoolean();
                final java.util.Set<String> wanted = new java.util.HashSet<>(java.util.Arrays.asList(s.wantedKeys(c)));
                s.cancel(c, keys, rnd.nextBoolean(), tellCaller);
                if (!tellCaller)
                {
                    for (final String k : keys)
                    {
                        if (wanted.contains(k))
                        {
                            told.computeIfAbsent(c, x -> new HashMap<>()).put(k, KeyStatus.CANCELLED);
                        }
                    }
                }
            }
        }

        void killWorker()
        {
            if (live.isEmpty())
            {
                return;
            }
            final List<Long> ids = new ArrayList<>(live.keySet());
            final long id = ids.get(rnd.nextInt(ids.size()));
            live.remove(id);
            dead.add(id);
            if (rnd.nextInt(4) == 0)
            {
                s.workerLeft(id);
            }
            else
            {
                s.workerDied(id);
            }
        }

        void scatter()
        {
            if (live.isEmpty())
            {
                return;
            }
            final long c = randomClient();
            final int n = 1 + rnd.nextInt(3);
            final long[] sizes = new long[n];
            for (int i = 0; i < n; i++)
            {
                sizes[i] = 1 + rnd.nextInt(2000);
            }
            final long[] out = new long[n];
            s.placeScatter(sizes, n, null, out);
            for (int i = 0; i < n; i++)
            {
                final String key = rnd.nextInt(15) == 0 && null != randomKey() ? randomKey() : "s" + nextKey++;
                long[] holders = {out[i]};
                if (rnd.nextInt(8) == 0)
                {
                    holders = live.keySet().stream().mapToLong(Long::longValue).toArray(); // broadcast
                }
                for (final long h : holders)
                {
                    live.get(h).data.add(key);
                }
                s.dataScattered(c, key, sizes[i], holders);
            }
        }

        void replicate()
        {
            final List<String> inMemory = new ArrayList<>();
            for (final String k : knownKeys())
            {
                if (s.taskState(k) == TaskState.MEMORY)
                {
                    inMemory.add(k);
                }
            }
            if (inMemory.isEmpty())
            {
                return;
            }
            long[] allowed = null;
            if (rnd.nextBoolean() && !live.isEmpty())
            {
                final List<Long> ids = new ArrayList<>(live.keySet());
                allowed = new long[] {ids.get(rnd.nextInt(ids.size())), ids.get(rnd.nextInt(ids.size()))};
            }
            s.replicate(inMemory.get(rnd.nextInt(inMemory.size())), 1 + rnd.nextInt(3), allowed);
        }

        void publishOrUnpublish()
        {
            if (!datasets.isEmpty() && rnd.nextBoolean())
            {
                s.unpublish(datasets.remove(rnd.nextInt(datasets.size())));
                return;
            }
            final List<String> keys = randomKeys(3);
            final String name = "ds" + nextKey++;
            s.publish(name, keys);
            datasets.add(name);
        }

        void heartbeat()
        {
            if (live.isEmpty())
            {
                return;
            }
            final List<Long> ids = new ArrayList<>(live.keySet());
            final long id = ids.get(rnd.nextInt(ids.size()));
            s.workerHeartbeat(now, id, live.get(id).data.size(), 0, rnd.nextInt(5) == 0, 0);
        }

        void transfer(final boolean clean)
        {
            if (transfers.isEmpty())
            {
                return;
            }
            final Transfer tr = transfers.remove(clean ? 0 : rnd.nextInt(transfers.size()));
            final FakeWorker from = live.get(tr.from);
            final FakeWorker to = live.get(tr.to);
            if (null == to)
            {
                return;
            }
            if (null != from && from.data.contains(tr.key) && (clean || rnd.nextInt(10) != 0))
            {
                to.data.add(tr.key);
                s.replicaAdded(tr.to, tr.key);
            }
            else
            {
                s.replicaFailed(tr.to, tr.key);
            }
        }

        void spontaneousDrop()
        {
            final List<FakeWorker> holders = new ArrayList<>();
            for (final FakeWorker w : live.values())
            {
                if (!w.data.isEmpty())
                {
                    holders.add(w);
                }
            }
            if (holders.isEmpty())
            {
                return;
            }
            final FakeWorker w = holders.get(rnd.nextInt(holders.size()));
            final List<String> keys = new ArrayList<>(new TreeSet<>(w.data));
            final String key = keys.get(rnd.nextInt(keys.size()));
            w.data.remove(key);
            s.replicaDropped(w.id, key);
        }

        void staleOrGhost()
        {
            if (!dead.isEmpty() && rnd.nextBoolean())
            {
                final String k = randomKey();
                s.taskFinished(dead.iterator().next(), null == k ? "x" : k, 10, null, 0);
                s.taskErred(dead.iterator().next(), null == k ? "x" : k, "late");
                s.replicaAdded(dead.iterator().next(), null == k ? "x" : k);
            }
            else if (!live.isEmpty())
            {
                final FakeWorker w = live.values().iterator().next();
                final String ghost = "ghost" + nextKey++;
                w.data.add(ghost);
                s.taskFinished(w.id, ghost, 10, null, 0);
            }
        }

        void clientChurn()
        {
            if (clientIds.size() > 1 && rnd.nextBoolean())
            {
                final long c = clientIds.remove(rnd.nextInt(clientIds.size()));
                s.clientDisconnected(c);
            }
            else
            {
                connectClient();
            }
        }

        // ------------------------------------------------------------------ checks

        void check()
        {
            Invariants.check(s);
            for (final FakeWorker w : live.values())
            {
                final Set<String> believed = new HashSet<>();
                s.hasWhat(w.id, believed::add);
                if (!believed.equals(w.data))
                {
                    final Set<String> extra = new TreeSet<>(w.data);
                    extra.removeAll(believed);
                    final Set<String> missing = new TreeSet<>(believed);
                    missing.removeAll(w.data);
                    fail("worker " + w.id + " really holds " + extra + " that the scheduler does not know of (not " +
                        "freed), and lacks " + missing + " that the scheduler believes it holds");
                }
            }
            for (final long id : s.workerIds())
            {
                assertTrue(live.containsKey(id), "scheduler lists dead worker " + id);
            }
        }

        void quiesce()
        {
            quiescing = true;
            if (live.isEmpty())
            {
                joinWorker();
            }
            for (final long id : new ArrayList<>(live.keySet()))
            {
                s.workerHeartbeat(now, id, 0, 0, false, 0);
            }
            check();
            int rounds = 0;
            while (true)
            {
                assertTrue(++rounds < 1_000_000, "no quiescence");
                if (!transfers.isEmpty())
                {
                    transfer(true);
                }
                else if (live.values().stream().anyMatch(w -> !w.assigned.isEmpty()))
                {
                    workOnce(true);
                }
                else
                {
                    break;
                }
                check();
            }
            for (final long c : clientIds)
            {
                for (final String key : s.wantedKeys(c))
                {
                    final TaskRecord t = s.tasks.get(key);
                    final TaskState st = t.state();
                    assertTrue(st == TaskState.MEMORY || st == TaskState.ERRED, "client " + c + " wants " + t.key +
                        " which is stuck in " + st);
                    final KeyStatus last = told.getOrDefault(c, Map.of()).get(t.key);
                    if (st == TaskState.MEMORY)
                    {
                        assertEquals(KeyStatus.MEMORY, last, "client " + c + " was not told " + t.key + " is in memory");
                    }
                    else
                    {
                        assertTrue(last == KeyStatus.ERRED || last == KeyStatus.LOST, "client " + c + " was told " +
                            last + " for erred " + t.key);
                    }
                }
            }
            for (final String k : knownKeys())
            {
                final TaskState st = s.taskState(k);
                assertFalse(st.isActive(), "nothing should be left to run at quiescence: " + k + " " + st);
            }
            for (final long c : new ArrayList<>(clientIds))
            {
                s.clientDisconnected(c);
            }
            for (final String d : datasets)
            {
                s.unpublish(d);
            }
            check();
            assertEquals(0, s.taskCount(), "records left after every client released everything: " + s.tasks.keySet());
            for (final FakeWorker w : live.values())
            {
                assertTrue(w.data.isEmpty(), "worker " + w.id + " still holds " + w.data);
            }
        }
    }
}
