package io.offgrid.transport;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;

/**
 * HMAC-SHA256 challenge-response over two nonces. Each side proves it knows the cluster secret over the
 * other side's fresh nonce, so a recorded handshake cannot be replayed. Without a secret the MACs are zeros
 * and are not checked.
 */
final class Handshake
{
    static final int NONCE_LENGTH = 16;
    static final int MAC_LENGTH = 32;
    private static final byte[] CHALLENGE_LABEL = "offgrid-challenge".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RESPONSE_LABEL = "offgrid-response".getBytes(StandardCharsets.US_ASCII);

    private final Mac mac;
    private final SecureRandom random = new SecureRandom();
    private final ByteBuffer ids = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);

    Handshake(final byte[] secret)
    {
        if (null == secret)
        {
            mac = null;
        }
        else
        {
            try
            {
                mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec(secret, "HmacSHA256"));
            }
            catch (final GeneralSecurityException ex)
            {
                throw new TransportException("HmacSHA256 unavailable", ex);
            }
        }
    }

    boolean hasSecret()
    {
        return null != mac;
    }

    void nextNonce(final byte[] nonce)
    {
        random.nextBytes(nonce);
    }

    /** Responder's proof: over the initiator's nonce first. */
    void challengeMac(final byte[] initiatorNonce, final byte[] responderNonce, final long initiatorId, final long responderId, final byte[] out)
    {
        compute(CHALLENGE_LABEL, initiatorNonce, responderNonce, initiatorId, responderId, out);
    }

    /** Initiator's proof: over the responder's nonce first. */
    void responseMac(final byte[] initiatorNonce, final byte[] responderNonce, final long initiatorId, final long responderId, final byte[] out)
    {
        compute(RESPONSE_LABEL, responderNonce, initiatorNonce, initiatorId, responderId, out);
    }

    boolean matches(final byte[] expected, final byte[] actual)
    {
        return null == mac || MessageDigest.isEqual(expected, actual);
    }

    private void compute(
        final byte[] label, final byte[] first, final byte[] second, final long initiatorId, final long responderId, final byte[] out)
    {
        if (null == mac)
        {
            java.util.Arrays.fill(out, (byte)0);
            return;
        }
        mac.update(label);
        mac.update(first);
        mac.update(second);
        ids.clear();
        ids.putLong(initiatorId).putLong(responderId);
        mac.update(ids.array());
        try
        {
            mac.doFinal(out, 0);
        }
        catch (final GeneralSecurityException ex)
        {
            throw new TransportException("HMAC failed", ex);
        }
    }
}
