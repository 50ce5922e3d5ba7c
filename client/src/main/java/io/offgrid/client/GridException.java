package io.offgrid.client;

/**
 * A grid operation failed: the scheduler is gone, a key was lost or cancelled, a request timed out.
 */
public class GridException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong.
     */
    public GridException(final String message)
    {
        super(message);
    }

    /**
     * @param message what went wrong.
     * @param cause   the underlying failure.
     */
    public GridException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
