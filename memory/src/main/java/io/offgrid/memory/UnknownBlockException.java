package io.offgrid.memory;

/**
 * No block is stored under the key asked for.
 */
public final class UnknownBlockException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    private final String key;

    /**
     * @param key the missing key.
     */
    public UnknownBlockException(final String key)
    {
        super("no block stored under key '" + key + "'");
        this.key = key;
    }

    /**
     * @return the missing key.
     */
    public String key()
    {
        return key;
    }
}
