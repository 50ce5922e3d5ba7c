package io.offgrid.grid;

import io.offgrid.client.Client;
import io.offgrid.client.GridFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

@Timeout(60)
class RoundTripTest
{
    @Test
    void submitGetAndChain()
    {
        try (LocalCluster cluster = LocalCluster.start(2);
             Client client = cluster.client())
        {
            final GridFuture<Integer> x = client.submit((Integer a) -> a + 1, 41);
            assertEquals(42, x.get());
            final GridFuture<Integer> y = client.submit((Integer a) -> a * 2, x);
            assertEquals(84, y.get());
            final List<GridFuture<Long>> squares = client.map((Long v) -> v * v, List.of(1L, 2L, 3L));
            assertEquals(List.of(1L, 4L, 9L), client.gather(squares));
        }
    }

    @Test
    void smallResultsComeInlineWithTheirStateAndLargeOnesAreFetched()
    {
        try (LocalCluster cluster = LocalCluster.start(1);
             Client client = cluster.client())
        {
            final Worker worker = cluster.workers().get(0).worker();
            final GridFuture<String> small = client.submit((Integer n) -> "x".repeat(n), 100);
            assertEquals(100, small.get().length());
            assertEquals(100, small.get().length(), "a second get reads the kept inline copy");
            assertEquals(0, worker.fetchesServed(), "a small result needs no fetch");
            assertEquals(1, worker.inlineResultsSent());

            final GridFuture<byte[]> large = client.submit((Integer n) -> new byte[n], 64 * 1024);
            assertEquals(64 * 1024, large.get().length);
            assertEquals(1, worker.fetchesServed(), "a large result is fetched from its holder");
            assertEquals(1, worker.inlineResultsSent());

            // A dependent task on the worker still reads its input from the worker's store, not from the client.
            final GridFuture<Integer> dependent = client.submit((String s) -> s.length() + 1, small);
            assertEquals(101, dependent.get());
            small.release();
            large.release();
            dependent.release();
        }
    }
}
