/**
 * Offgrid client module.
 */
package io.offgrid.client;
