/**
 * Offgrid's per-worker off-heap memory: {@link io.offgrid.memory.BlockStore} keeps task results as
 * reference-counted blocks of native memory under a memory budget, spills least-recently-used
 * blocks to spill files, and turns Java values into bytes and back through
 * {@link io.offgrid.memory.Codec}s. Columnar tables are read in place through
 * {@link io.offgrid.memory.TableView}.
 */
package io.offgrid.memory;
