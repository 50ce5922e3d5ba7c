package io.offgrid.perf.transport;

import io.aeron.ExclusivePublication;
import io.aeron.Subscription;
import io.aeron.driver.ThreadingMode;
import io.offgrid.transport.TransportNode;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The far end of the RTT benchmark: echoes every message back. Arguments: impl (bare|offgrid), idle
 * (busyspin|backoff|default), its port, the benchmark's port.
 */
public final class EchoProcess
{
    private EchoProcess()
    {
    }

    static IdleStrategy idle(final String name)
    {
        switch (name)
        {
            case "busyspin":
                return new BusySpinIdleStrategy();
            case "backoff":
                return new BackoffIdleStrategy(); // Aeron's default parameters
            case "yield":
                return new org.agrona.concurrent.YieldingIdleStrategy();
            default:
                return null; // the transport's chosen default
        }
    }

    public static void main(final String[] args) throws Exception
    {
        final String impl = args[0];
        final IdleStrategy idle = idle(args[1]);
        final int port = Integer.parseInt(args[2]);
        final int peerPort = Integer.parseInt(args[3]);
        final ThreadingMode driverMode = args.length > 4 ? ThreadingMode.valueOf(args[4]) : ThreadingMode.INVOKER;
        final boolean separateBulkSocket = args.length <= 5 || !"shared".equals(args[5]);
        final AtomicBoolean running = new AtomicBoolean(true);
        // The benchmark closes our stdin to stop us, so the node closes and deletes its driver directory.
        final Thread stdin = new Thread(() ->
        {
            try
            {
                while (System.in.read() != -1)
                {
                }
            }
            catch (final java.io.IOException ignore)
            {
            }
            running.set(false);
        });
        stdin.setDaemon(true);
        stdin.start();
        if ("bare".equals(impl))
        {
            // "default" on the bare side: the same backoff parameters the transport chose as its default.
            final IdleStrategy idleStrategy = null == idle ?
                new BackoffIdleStrategy(100, 10, TimeUnit.MICROSECONDS.toNanos(1), TimeUnit.MICROSECONDS.toNanos(50)) : idle;
            try (BareAeron bare = new BareAeron(ThreadingMode.INVOKER, null))
            {
                final Subscription sub = bare.aeron.addSubscription("aeron:udp?endpoint=127.0.0.1:" + port, 1);
                final ExclusivePublication pub = bare.aeron.addExclusivePublication("aeron:udp?endpoint=127.0.0.1:" + peerPort, 1);
                System.out.println("READY 127.0.0.1:" + port);
                while (running.get())
                {
                    int work = bare.invoke();
                    work += sub.poll((buffer, offset, length, header) ->
                    {
                        while (pub.offer(buffer, offset, length) < 0)
                        {
                            bare.invoke();
                        }
                    }, 16);
                    idleStrategy.idle(work);
                }
            }
        }
        else
        {
            final TransportNode[] self = new TransportNode[1];
            final TransportNode.Context ctx = new TransportNode.Context()
                .nodeId(2)
                .listenEndpoint("127.0.0.1:" + port)
                .separateBulkSocket(separateBulkSocket)
                .driverContext(new io.offgrid.transport.TransportDriver.Context().threadingMode(driverMode))
                .defaultHandler((peer, template, buffer, offset, length) -> self[0].send(peer, buffer, offset, length));
            if (null != idle)
            {
                ctx.idleStrategy(idle);
            }
            try (TransportNode node = TransportNode.launch(ctx))
            {
                self[0] = node;
                System.out.println("READY " + node.endpoint());
                while (running.get())
                {
                    TimeUnit.MILLISECONDS.sleep(50);
                }
            }
        }
    }
}
