/**
 * Offgrid scheduler: the cluster's brain as a single-threaded, sans-I/O state machine.
 * <p>
 * {@link io.offgrid.scheduler.Scheduler} takes events as method calls (time is an argument, never read from a
 * clock) and emits commands through a caller-supplied {@link io.offgrid.scheduler.CommandSink}. Graphs arrive
 * through a reusable {@link io.offgrid.scheduler.TaskGraph}; compute commands are described by the
 * {@link io.offgrid.scheduler.ComputeTask} flyweight. Task states and their one table of allowed edges are in
 * {@link io.offgrid.scheduler.TaskState}; what a client is told about a key is a
 * {@link io.offgrid.scheduler.KeyStatus}.
 */
package io.offgrid.scheduler;
