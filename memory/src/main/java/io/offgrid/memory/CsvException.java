package io.offgrid.memory;

import java.nio.file.Path;

/**
 * A CSV file could not be read: missing, unreadable, or a malformed row (named by file and line).
 */
public final class CsvException extends RuntimeException
{
    private static final long serialVersionUID = 1L;

    /**
     * @param file   the file.
     * @param line   1-based line number, or 0 when the problem is not on a line.
     * @param reason what is wrong.
     */
    public CsvException(final Path file, final long line, final String reason)
    {
        super(file + (line > 0 ? ":" + line : "") + ": " + reason);
    }

    /**
     * @param file   the file.
     * @param reason what is wrong.
     * @param cause  the I/O failure.
     */
    public CsvException(final Path file, final String reason, final Throwable cause)
    {
        super(file + ": " + reason, cause);
    }
}
