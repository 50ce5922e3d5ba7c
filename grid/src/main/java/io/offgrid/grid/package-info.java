/**
 * Offgrid grid module.
 */
package io.offgrid.grid;
