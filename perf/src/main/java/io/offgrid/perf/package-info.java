/**
 * Offgrid perf module.
 */
package io.offgrid.perf;
