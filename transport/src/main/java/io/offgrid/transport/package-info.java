/**
 * Offgrid transport module.
 */
package io.offgrid.transport;
