package io.offgrid.scheduler;

import java.util.ArrayList;
import java.util.List;

/**
 * Records every command as a small value object for assertions.
 */
final class RecordingSink implements CommandSink
{
    enum Kind
    {
        COMPUTE, CANCEL_COMPUTE, FREE, COPY, DROP, STATUS, RESTART, REMOVED
    }

    static final class Cmd
    {
        final Kind kind;
        final long worker;
        final String key;
        final long from;
        final long client;
        final KeyStatus status;
        final String message;
        final String[] deps;
        final long[][] depHolders;
        final int priority;

        Cmd(final Kind kind, final long worker, final String key, final long from, final long client,
            final KeyStatus status, final String message, final String[] deps, final long[][] depHolders,
            final int priority)
        {
            this.kind = kind;
            this.worker = worker;
            this.key = key;
            this.from = from;
            this.client = client;
            this.status = status;
            this.message = message;
            this.deps = deps;
            this.depHolders = depHolders;
            this.priority = priority;
        }

        public String toString()
        {
            switch (kind)
            {
                case COMPUTE: return "compute " + key + "@" + worker;
                case COPY: return "copy " + key + " " + from + "->" + worker;
                case STATUS: return "status " + client + " " + key + " " + status;
                default: return kind + " " + key + "@" + worker;
            }
        }
    }

    final List<Cmd> commands = new ArrayList<>();

    public void computeTask(final long workerId, final ComputeTask task)
    {
        final int n = task.dependencyCount();
        final String[] deps = new String[n];
        final long[][] holders = new long[n][];
        for (int i = 0; i < n; i++)
        {
            deps[i] = task.dependencyKey(i);
            holders[i] = new long[task.dependencyHolderCount(i)];
            for (int j = 0; j < holders[i].length; j++)
            {
                holders[i][j] = task.dependencyHolder(i, j);
            }
        }
        commands.add(new Cmd(Kind.COMPUTE, workerId, task.key(), -1, -1, null, null, deps, holders,
            task.priority()));
    }

    public void cancelCompute(final long workerId, final String key)
    {
        commands.add(new Cmd(Kind.CANCEL_COMPUTE, workerId, key, -1, -1, null, null, null, null, 0));
    }

    public void freeKey(final long workerId, final String key)
    {
        commands.add(new Cmd(Kind.FREE, workerId, key, -1, -1, null, null, null, null, 0));
    }

    public void copyKey(final String key, final long fromWorkerId, final long toWorkerId)
    {
        commands.add(new Cmd(Kind.COPY, toWorkerId, key, fromWorkerId, -1, null, null, null, null, 0));
    }

    public void dropReplica(final long workerId, final String key)
    {
        commands.add(new Cmd(Kind.DROP, workerId, key, -1, -1, null, null, null, null, 0));
    }

    public void keyStatus(final long clientId, final String key, final KeyStatus status, final String message)
    {
        commands.add(new Cmd(Kind.STATUS, -1, key, -1, clientId, status, message, null, null, 0));
    }

    public void restartWorker(final long workerId)
    {
        commands.add(new Cmd(Kind.RESTART, workerId, null, -1, -1, null, null, null, null, 0));
    }

    public void workerRemoved(final long workerId, final String reason)
    {
        commands.add(new Cmd(Kind.REMOVED, workerId, null, -1, -1, null, reason, null, null, 0));
    }

    List<Cmd> take()
    {
        final List<Cmd> out = new ArrayList<>(commands);
        commands.clear();
        return out;
    }

    List<Cmd> of(final Kind kind)
    {
        final List<Cmd> out = new ArrayList<>();
        for (final Cmd c : commands)
        {
            if (c.kind == kind)
            {
                out.add(c);
            }
        }
        return out;
    }

    Cmd compute(final String key)
    {
        for (final Cmd c : commands)
        {
            if (c.kind == Kind.COMPUTE && c.key.equals(key))
            {
                return c;
            }
        }
        return null;
    }

    boolean has(final Kind kind, final long worker, final String key)
    {
        for (final Cmd c : commands)
        {
            if (c.kind == kind && c.worker == worker && key.equals(c.key))
            {
                return true;
            }
        }
        return false;
    }

    KeyStatus lastStatus(final long client, final String key)
    {
        KeyStatus s = null;
        for (final Cmd c : commands)
        {
            if (c.kind == Kind.STATUS && c.client == client && c.key.equals(key))
            {
                s = c.status;
            }
        }
        return s;
    }

    String lastMessage(final long client, final String key)
    {
        String s = null;
        for (final Cmd c : commands)
        {
            if (c.kind == Kind.STATUS && c.client == client && c.key.equals(key))
            {
                s = c.message;
            }
        }
        return s;
    }
}
