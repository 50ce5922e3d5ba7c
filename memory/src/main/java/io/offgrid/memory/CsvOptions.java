package io.offgrid.memory;

import java.io.Serializable;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How {@link CsvReader} reads a CSV file: delimiter, header row, column types (given or inferred),
 * and what to do with a malformed row. Immutable and serializable, so it travels inside tasks.
 */
public final class CsvOptions implements Serializable
{
    private static final long serialVersionUID = 1L;

    private final char delimiter;
    private final boolean header;
    private final Map<String, ColumnType> types;
    private final boolean skipMalformed;
    private final int maxLineLength;

    private CsvOptions(final char delimiter, final boolean header, final Map<String, ColumnType> types,
        final boolean skipMalformed, final int maxLineLength)
    {
        this.delimiter = delimiter;
        this.header = header;
        this.types = types;
        this.skipMalformed = skipMalformed;
        this.maxLineLength = maxLineLength;
    }

    /**
     * Defaults: comma, a header row, types inferred, a malformed row fails the read, lines up to
     * 1 MiB.
     *
     * @return the defaults.
     */
    public static CsvOptions defaults()
    {
        return new CsvOptions(',', true, Collections.emptyMap(), false, 1 << 20);
    }

    /**
     * @param delimiter the field delimiter (ASCII).
     * @return a copy with it.
     */
    public CsvOptions delimiter(final char delimiter)
    {
        if (delimiter >= 0x80 || delimiter == '"' || delimiter == '\n' || delimiter == '\r')
        {
            throw new IllegalArgumentException("delimiter must be ASCII and not a quote or line break");
        }
        return new CsvOptions(delimiter, header, types, skipMalformed, maxLineLength);
    }

    /**
     * @param header whether the first line names the columns; without one they are c0, c1, ...
     * @return a copy with it.
     */
    public CsvOptions header(final boolean header)
    {
        return new CsvOptions(delimiter, header, types, skipMalformed, maxLineLength);
    }

    /**
     * @param column a column name.
     * @param type   its type, instead of inferring it.
     * @return a copy with it.
     */
    public CsvOptions type(final String column, final ColumnType type)
    {
        final Map<String, ColumnType> copy = new LinkedHashMap<>(types);
        copy.put(column, type);
        return new CsvOptions(delimiter, header, Collections.unmodifiableMap(copy), skipMalformed, maxLineLength);
    }

    /**
     * @param skip true to skip and count malformed rows instead of failing the read.
     * @return a copy with it.
     */
    public CsvOptions skipMalformed(final boolean skip)
    {
        return new CsvOptions(delimiter, header, types, skip, maxLineLength);
    }

    /**
     * @param bytes the longest line accepted (a partition reads this far past its end to finish a line).
     * @return a copy with it.
     */
    public CsvOptions maxLineLength(final int bytes)
    {
        if (bytes < 16)
        {
            throw new IllegalArgumentException("maxLineLength too small: " + bytes);
        }
        return new CsvOptions(delimiter, header, types, skipMalformed, bytes);
    }

    /**
     * @return the delimiter.
     */
    public char delimiter()
    {
        return delimiter;
    }

    /**
     * @return whether there is a header row.
     */
    public boolean header()
    {
        return header;
    }

    /**
     * @return column types given by the caller.
     */
    public Map<String, ColumnType> types()
    {
        return types;
    }

    /**
     * @return whether malformed rows are skipped and counted.
     */
    public boolean skipMalformed()
    {
        return skipMalformed;
    }

    /**
     * @return the longest line accepted.
     */
    public int maxLineLength()
    {
        return maxLineLength;
    }
}
