package io.offgrid.transport;

/**
 * A transport operation that cannot proceed: bad configuration, a driver that cannot start, a misuse of the API.
 */
public class TransportException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong.
     */
    public TransportException(final String message)
    {
        super(message);
    }

    /**
     * @param message what went wrong.
     * @param cause   the underlying failure.
     */
    public TransportException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
