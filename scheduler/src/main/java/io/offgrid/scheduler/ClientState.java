package io.offgrid.scheduler;

import org.agrona.collections.ObjectHashSet;

/**
 * A client's (or pseudo-client's: published dataset, fire-and-forget) set of wanted keys.
 */
final class ClientState
{
    final long id;
    final String datasetName;
    final ObjectHashSet<TaskRecord> wants = new ObjectHashSet<>();

    ClientState(final long id, final String datasetName)
    {
        this.id = id;
        this.datasetName = datasetName;
    }
}
