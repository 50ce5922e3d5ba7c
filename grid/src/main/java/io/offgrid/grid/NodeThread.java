package io.offgrid.grid;

import io.offgrid.transport.AgentGroup;
import io.offgrid.transport.TransportNode;
import io.offgrid.transport.WakeableIdleStrategy;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;

/**
 * Where a node's agent runs: a thread of its own idling with a {@link WakeableIdleStrategy}, or a shared
 * {@link AgentGroup}. Either way other threads hand it work with {@link #wake()}.
 */
final class NodeThread
{
    private final AgentGroup group;
    private final WakeableIdleStrategy idle;
    private AgentRunner runner;
    private Agent agent;

    /**
     * @param group a shared group, or null for a thread of its own.
     * @param idle  how the own thread idles, or null for {@link WakeableIdleStrategy#forNode()}; unused in a group.
     */
    NodeThread(final AgentGroup group, final WakeableIdleStrategy idle)
    {
        this.group = group;
        this.idle = null != group ? null : null != idle ? idle : WakeableIdleStrategy.forNode();
    }

    AgentGroup group()
    {
        return group;
    }

    /** Wake the thread if it is parked; any thread. */
    void wake()
    {
        if (null != group)
        {
            group.wake();
        }
        else
        {
            idle.wake();
        }
    }

    void start(final Agent agent, final ErrorHandler errors)
    {
        this.agent = agent;
        if (null != group)
        {
            group.add(agent);
        }
        else
        {
            runner = new AgentRunner(idle, errors, null, agent);
            AgentRunner.startOnThread(runner);
        }
    }

    /** Stop running the agent; returns once it no longer runs. */
    void stop()
    {
        if (null != group)
        {
            group.remove(agent);
        }
        else if (null != runner)
        {
            runner.close();
        }
    }

    /** Close a node this thread ran, after {@link #stop()}: a group's node makes its Aeron calls on the group's thread. */
    void closeNode(final TransportNode node)
    {
        if (null != group)
        {
            group.call(() ->
            {
                node.close();
                return null;
            });
        }
        else
        {
            node.close();
        }
    }
}
