package io.offgrid.memory;

/**
 * A value could not be encoded or decoded: no codec for its class, a class refused by the
 * deserialization allow-list, or malformed bytes.
 */
public class CodecException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param message what went wrong, naming the class or codec.
     */
    public CodecException(final String message)
    {
        super(message);
    }

    /**
     * @param message what went wrong, naming the class or codec.
     * @param cause   the underlying failure.
     */
    public CodecException(final String message, final Throwable cause)
    {
        super(message, cause);
    }
}
