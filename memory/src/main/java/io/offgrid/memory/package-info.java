/**
 * Offgrid memory module.
 */
package io.offgrid.memory;
