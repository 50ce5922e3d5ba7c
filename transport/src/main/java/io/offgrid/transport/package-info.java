/**
 * Offgrid transport: everything that crosses a process boundary.
 * <p>
 * {@link io.offgrid.transport.TransportNode} is one node's Aeron endpoint, run as a single Agrona agent:
 * messaging by node id with {@link io.offgrid.transport.MessageHandler}s per SBE template, a membership
 * handshake (HMAC-SHA256 challenge-response when a cluster secret is set), liveness, and chunked block
 * streaming of native memory through a {@link io.offgrid.transport.BlockAllocator}. The wire protocol is
 * the SBE schema {@code offgrid-protocol.xml}; its generated codecs live in {@code io.offgrid.transport.protocol}.
 * {@link io.offgrid.transport.TransportDriver} runs a media driver that several nodes on a host share.
 */
package io.offgrid.transport;
