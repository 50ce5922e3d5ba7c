package io.offgrid.client;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CancellationException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** When a release may be left unsent: only while the scheduler is known to hold no want of this client's. */
class WantedKeyTest
{
    @Test
    void aCancelWithOneWantSentLeavesNothingToRelease()
    {
        final WantedKey w = new WantedKey("k");
        w.wantsSent = 1;
        w.updateWithReason(FutureStatus.CANCELLED, "cancelled");
        assertEquals(FutureStatus.CANCELLED, w.status);
        assertTrue(w.schedulerDropped());
        assertTrue(w.error() instanceof CancellationException);
    }

    @Test
    void aKeyWantedTwiceStillReleases()
    {
        final WantedKey w = new WantedKey("k");
        w.wantsSent = 2; // the second want may reach the scheduler after the cancel and restore the key there
        w.updateWithReason(FutureStatus.CANCELLED, "cancelled");
        assertFalse(w.schedulerDropped());
    }

    @Test
    void anyLaterStatusMeansTheSchedulerHoldsTheWantAgain()
    {
        // A CANCELLED meant for an earlier want of the same key (released, then submitted again) arrives first;
        // the statuses of the new want follow, and the release must then be sent.
        for (final FutureStatus later : new FutureStatus[] {FutureStatus.PENDING, FutureStatus.FINISHED,
            FutureStatus.ERROR})
        {
            final WantedKey w = new WantedKey("k");
            w.wantsSent = 1;
            w.updateWithReason(FutureStatus.CANCELLED, "cancelled");
            w.update(later, later == FutureStatus.ERROR ? new RuntimeException("boom") : null);
            assertFalse(w.schedulerDropped(), later.name());
        }
        final WantedKey lost = new WantedKey("k");
        lost.wantsSent = 1;
        lost.updateWithReason(FutureStatus.CANCELLED, "cancelled");
        lost.updateWithReason(FutureStatus.LOST, "lost");
        assertFalse(lost.schedulerDropped(), "a lost key stays wanted on the scheduler");
    }
}
