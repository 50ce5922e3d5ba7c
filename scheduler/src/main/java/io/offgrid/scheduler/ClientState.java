package io.offgrid.scheduler;

/**
 * A client (or pseudo-client: published dataset, fire-and-forget). Which keys it wants is stored on the records
 * (their wanters), not here: a per-client set would cost a hash insert and remove per task on the hot path and
 * about 10 bytes per record, to speed up only disconnects, restarts and unpublishes, which scan the records.
 */
final class ClientState
{
    final long id;
    final String datasetName;
    int wantCount;

    ClientState(final long id, final String datasetName)
    {
        this.id = id;
        this.datasetName = datasetName;
    }
}
