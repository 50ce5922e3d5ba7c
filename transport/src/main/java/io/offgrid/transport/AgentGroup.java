package io.offgrid.transport;

import io.aeron.driver.ThreadingMode;
import org.agrona.CloseHelper;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.AgentTerminationException;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * One thread that runs the agents of several nodes of this process, and optionally their shared media driver,
 * in one duty cycle.
 * <p>
 * Why: nodes in one process that talk over Aeron IPC (a scheduler, its workers and a client in a
 * {@code LocalCluster}) would otherwise each poll on a thread of their own; on 2 cores five polling threads
 * starve each other and every hop waits out a park. In one group a message one node offers is polled by the
 * next node in the same or the following cycle, and other threads hand work over with {@link #wake()}.
 * <pre>{@code
 * try (TransportDriver driver = TransportDriver.launch(new TransportDriver.Context().threadingMode(ThreadingMode.INVOKER));
 *      AgentGroup group = AgentGroup.start(new AgentGroup.Context().driver(driver)))
 * {
 *     group.add(agent);   // runs on the group's thread from now on
 *     ...
 *     group.remove(agent); // its onClose() ran on the group's thread
 * }
 * }</pre>
 * Agents must not block: a blocked agent stalls every node of the group.
 */
public final class AgentGroup implements AutoCloseable
{
    private static final System.Logger LOG = System.getLogger(AgentGroup.class.getName());
    private static final long MEMBERSHIP_TIMEOUT_NS = TimeUnit.SECONDS.toNanos(10);

    private final Context ctx;
    private final ManyToOneConcurrentArrayQueue<Runnable> membership = new ManyToOneConcurrentArrayQueue<>(1024);
    private final WakeableIdleStrategy idle;
    private final AgentRunner runner;
    private final SharedDuty duty;
    private volatile Thread thread;
    private final AtomicBoolean spinSlot = new AtomicBoolean();
    private final AtomicInteger tasksInFlight = new AtomicInteger();

    private AgentGroup(final Context ctx)
    {
        this.ctx = ctx;
        this.idle = ctx.idleStrategy;
        final GroupAgent agent = new GroupAgent(null == ctx.driver ? null : ctx.driver.invoker());
        this.duty = new SharedDuty(agent::cycle, this::wake,
            ex -> LOG.log(System.Logger.Level.WARNING, "agent group error (in a helping thread)", ex));
        this.runner = new AgentRunner(idle, ex -> LOG.log(System.Logger.Level.WARNING, "agent group error", ex), null,
            agent);
        AgentRunner.startOnThread(runner);
    }

    /**
     * Start the group's thread.
     *
     * @param ctx settings; concluded here.
     * @return the running group.
     */
    public static AgentGroup start(final Context ctx)
    {
        return new AgentGroup(ctx.conclude());
    }

    /**
     * Run {@code agent} on the group's thread from its next cycle; its {@code onStart()} runs there first.
     * Returns once the agent is in.
     *
     * @param agent the agent.
     */
    public void add(final Agent agent)
    {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        submit(() ->
        {
            final GroupAgent group = (GroupAgent)runner.agent();
            group.add(agent);
            done.complete(null);
        }, done, "add " + agent.roleName());
    }

    /**
     * Stop running {@code agent}; its {@code onClose()} runs on the group's thread. Returns once it is out, so the
     * caller may then free what the agent used. Does nothing if the group is closed (it closed its agents).
     *
     * @param agent the agent.
     */
    public void remove(final Agent agent)
    {
        if (runner.isClosed())
        {
            return;
        }
        final CompletableFuture<Void> done = new CompletableFuture<>();
        submit(() ->
        {
            final GroupAgent group = (GroupAgent)runner.agent();
            group.remove(agent);
            done.complete(null);
        }, done, "remove " + agent.roleName());
    }

    /**
     * Run {@code action} on the group's thread and return its result; directly if called on that thread or once
     * the group is closed. Nodes of the group make their Aeron client calls (start, close) through this: a call
     * that awaits the driver steps the driver itself, which only the group's thread may do.
     *
     * @param action what to run.
     * @param <T>    result type.
     * @return its result.
     */
    public <T> T call(final Supplier<T> action)
    {
        if (onGroupThread() || runner.isClosed())
        {
            return action.get();
        }
        final CompletableFuture<T> result = new CompletableFuture<>();
        final CompletableFuture<Void> done = new CompletableFuture<>();
        submit(() ->
        {
            try
            {
                result.complete(action.get());
            }
            catch (final RuntimeException | Error ex)
            {
                result.completeExceptionally(ex);
            }
            done.complete(null);
        }, done, "run a call");
        try
        {
            return result.getNow(null);
        }
        catch (final CompletionException ex)
        {
            final Throwable cause = ex.getCause();
            if (cause instanceof RuntimeException)
            {
                throw (RuntimeException)cause;
            }
            throw (Error)cause;
        }
    }

    /** @return the driver the group steps, for a node's Aeron client to step while it awaits the driver, or null. */
    AgentInvoker driverInvoker()
    {
        return null == ctx.driver ? null : ctx.driver.invoker();
    }

    /**
     * Wake the group's thread if it is parked; any thread. Nodes call this when they hand it work.
     */
    public void wake()
    {
        if (!duty.helping())
        {
            idle.wake();
        }
    }

    /**
     * @return whether the calling thread is the group's thread, or a thread running the group's cycle for it
     * ({@link #helpUntil}).
     */
    public boolean onGroupThread()
    {
        return Thread.currentThread() == thread || duty.heldByCurrentThread();
    }

    /**
     * Run the group's duty cycles on the calling thread while it waits for something those cycles bring (a client
     * waiting for a result), until {@code done} holds or no cycle found work for {@code idleBudgetNs}; the group's
     * own thread sleeps meanwhile. Only one thread runs a cycle at a time. Does nothing inside a cycle, on an
     * interrupted thread, or once the group is closed.
     *
     * @param done         checked between cycles.
     * @param idleBudgetNs how long to go on without work.
     * @param maxNs        how long to go on at most.
     * @return whether {@code done} held at the end.
     * @see SharedDuty#helpUntil
     */
    public boolean helpUntil(final BooleanSupplier done, final long idleBudgetNs, final long maxNs)
    {
        return null == thread ? done.getAsBoolean() : duty.helpUntil(done, idleBudgetNs, maxNs);
    }

    /**
     * Take the group's one slot for a thread that busy-waits beside it (an executor of one of its workers watching
     * its queue). At most one such thread spins per group, and only when no task is queued or running on the
     * group's workers: sequential work, one task in flight for a latency-bound caller. With parallel work a spinner
     * would take the core that the group's cycle, or the client running it, needs (a map of 20,000 no-op tasks ran
     * a third slower with one).
     *
     * @return whether the caller got the slot; if so it gives it back with {@link #releaseSpinSlot()}.
     */
    public boolean tryAcquireSpinSlot()
    {
        return 0 == tasksInFlight.get() && spinSlot.compareAndSet(false, true);
    }

    /** A worker of the group hands a task to its executors; {@link #taskDone()} follows once it ran or was dropped. */
    public void taskQueued()
    {
        tasksInFlight.incrementAndGet();
    }

    /** A task {@link #taskQueued()} announced ran, failed or was cancelled. */
    public void taskDone()
    {
        tasksInFlight.decrementAndGet();
    }

    /** @return tasks queued or running on the group's workers now. */
    public int tasksInFlight()
    {
        return tasksInFlight.get();
    }

    /** Give back the slot {@link #tryAcquireSpinSlot()} took. */
    public void releaseSpinSlot()
    {
        spinSlot.set(false);
    }

    /** @return the group's cycles run by other threads than its own, since start (a monitoring figure). */
    public long helpedCycles()
    {
        return duty.helpedCycles();
    }

    /**
     * @return the group's name.
     */
    public String name()
    {
        return ctx.name;
    }

    /**
     * Stop the thread; every agent still in the group is closed on it first.
     */
    public void close()
    {
        CloseHelper.quietClose(runner);
    }

    private void submit(final Runnable command, final CompletableFuture<Void> done, final String what)
    {
        if (onGroupThread())
        {
            command.run();
            return;
        }
        if (runner.isClosed())
        {
            throw new TransportException("agent group " + ctx.name + " is closed: cannot " + what);
        }
        final long deadline = System.nanoTime() + MEMBERSHIP_TIMEOUT_NS;
        while (!membership.offer(command))
        {
            if (System.nanoTime() > deadline)
            {
                throw new TransportException("agent group " + ctx.name + " is not taking commands: cannot " + what);
            }
            Thread.yield();
        }
        wake();
        try
        {
            done.get(MEMBERSHIP_TIMEOUT_NS, TimeUnit.NANOSECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new TransportException("interrupted: " + what, ex);
        }
        catch (final ExecutionException | TimeoutException ex)
        {
            throw new TransportException("agent group " + ctx.name + " did not " + what, ex);
        }
    }

    private final class GroupAgent implements Agent
    {
        private final AgentInvoker driver;
        private final ArrayList<Agent> agents = new ArrayList<>();
        private Agent[] cycle = new Agent[0];

        GroupAgent(final AgentInvoker driver)
        {
            this.driver = driver;
        }

        void add(final Agent agent)
        {
            if (agents.contains(agent))
            {
                return;
            }
            agent.onStart();
            agents.add(agent);
            cycle = agents.toArray(new Agent[0]);
        }

        void remove(final Agent agent)
        {
            if (agents.remove(agent))
            {
                cycle = agents.toArray(new Agent[0]);
                closeQuietly(agent);
            }
        }

        public void onStart()
        {
            thread = Thread.currentThread();
        }

        public int doWork()
        {
            return duty.ownerCycle();
        }

        /** One cycle: the driver, membership changes, every agent. Whoever holds the duty (SharedDuty). */
        int cycle()
        {
            int work = 0;
            if (null != driver)
            {
                work += TransportNode.invokeDriver(driver);
            }
            Runnable command;
            while (null != (command = membership.poll()))
            {
                command.run();
                work++;
            }
            final Agent[] agents = cycle;
            for (final Agent agent : agents)
            {
                try
                {
                    work += agent.doWork();
                }
                catch (final AgentTerminationException ex)
                {
                    LOG.log(System.Logger.Level.WARNING, "agent " + agent.roleName() + " terminated", ex);
                    remove(agent);
                }
                catch (final Exception ex)
                {
                    // One node's failure must not starve the others of their cycle.
                    LOG.log(System.Logger.Level.WARNING, "agent " + agent.roleName() + " failed", ex);
                }
            }
            return work;
        }

        public void onClose()
        {
            duty.close(); // helpers stop; a cycle one of them runs ends first
            Runnable command;
            while (null != (command = membership.poll()))
            {
                command.run(); // waiting callers complete; a late add is closed below with the rest
            }
            for (int i = agents.size() - 1; i >= 0; i--)
            {
                closeQuietly(agents.get(i));
            }
            agents.clear();
            cycle = new Agent[0];
        }

        public String roleName()
        {
            return ctx.name;
        }

        private void closeQuietly(final Agent agent)
        {
            try
            {
                agent.onClose();
            }
            catch (final RuntimeException ex)
            {
                LOG.log(System.Logger.Level.WARNING, "agent " + agent.roleName() + " failed to close", ex);
            }
        }
    }

    /**
     * Settings: a name, the idle strategy (wakeable; parks up to 50 µs by default) and an optional driver in
     * {@link ThreadingMode#INVOKER} mode for the group to step.
     */
    public static final class Context
    {
        private String name = "offgrid-group";
        private WakeableIdleStrategy idleStrategy;
        private TransportDriver driver;

        /**
         * @param name the thread's name.
         * @return this.
         */
        public Context name(final String name)
        {
            this.name = name;
            return this;
        }

        /**
         * @param idleStrategy how the thread idles; others wake it through it.
         * @return this.
         */
        public Context idleStrategy(final WakeableIdleStrategy idleStrategy)
        {
            this.idleStrategy = idleStrategy;
            return this;
        }

        /**
         * @param driver a driver launched in INVOKER mode, stepped by the group (it stays the caller's to close,
         *               after the group).
         * @return this.
         */
        public Context driver(final TransportDriver driver)
        {
            this.driver = driver;
            return this;
        }

        /**
         * Validate and fill defaults.
         *
         * @return this.
         */
        public Context conclude()
        {
            if (null == name || name.isEmpty())
            {
                throw new IllegalArgumentException("name must be set");
            }
            if (null != driver && driver.threadingMode() != ThreadingMode.INVOKER)
            {
                throw new IllegalArgumentException("a group steps only an INVOKER-mode driver, not " + driver.threadingMode());
            }
            if (null == idleStrategy)
            {
                idleStrategy = WakeableIdleStrategy.forNode();
            }
            return this;
        }
    }
}
