package io.offgrid.transport;

import org.agrona.DirectBuffer;

/**
 * Receives application messages (SBE templates from 100 on) from authenticated peers, on the node's agent
 * thread. The message starts with the SBE message header at {@code offset}; it has already been checked
 * against this schema's id and version and length-checked, and {@code buffer} ends where the message ends,
 * so a decoder wrapped on it cannot read past the message. The buffer is only valid during the call.
 */
@FunctionalInterface
public interface MessageHandler
{
    /**
     * @param peerId     node id of the sender.
     * @param templateId SBE template id of the message.
     * @param buffer     the message, SBE header first.
     * @param offset     where the header starts.
     * @param length     length of header plus body.
     */
    void onMessage(long peerId, int templateId, DirectBuffer buffer, int offset, int length);
}
