/**
 * Offgrid scheduler module.
 */
package io.offgrid.scheduler;
