/**
 * The end-to-end performance harness: the scenarios of {@code shared/peers/dask_bench.py} on an Offgrid
 * {@link io.offgrid.grid.LocalCluster}, run by {@link io.offgrid.perf.harness.BenchMain}; {@code perf/compare}
 * puts its JSON beside Dask's in one table.
 */
package io.offgrid.perf.harness;
