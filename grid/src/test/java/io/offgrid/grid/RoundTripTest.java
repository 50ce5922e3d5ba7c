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
}
