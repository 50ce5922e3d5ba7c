package io.offgrid.memory;

/**
 * A block's bytes do not match its CRC32C (read back from a spill file or received from a peer).
 * The corrupt copy is not stored.
 */
public final class CorruptBlockException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param key      the block's key.
     * @param where    where the bytes came from.
     * @param expected checksum in the header.
     * @param actual   checksum of the bytes.
     */
    public CorruptBlockException(final String key, final String where, final int expected, final int actual)
    {
        super("block '" + key + "' from " + where + " is corrupt: CRC32C " + Integer.toHexString(actual) +
            ", header says " + Integer.toHexString(expected));
    }
}
