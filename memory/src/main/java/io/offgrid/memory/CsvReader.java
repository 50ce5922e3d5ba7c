package io.offgrid.memory;

import io.offgrid.memory.internal.DirectViews;
import io.offgrid.memory.internal.NativeMemory;
import org.agrona.IoUtil;
import org.agrona.UnsafeApi;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses CSV into a {@link NativeTable}: a whole file, or the lines that start in a byte range of it
 * (so a large file is split into partitions on line boundaries). The bytes are read once into native
 * memory and scanned twice, once to count rows, infer types and size string columns, once to write
 * the columns; no object is made per row or per field (numbers parse straight from the bytes; a
 * double that the exact fast path cannot take falls back to {@link Double#parseDouble}).
 *
 * <p>Quoted fields may hold delimiters and doubled quotes, not line breaks. Blank lines are
 * skipped; CRLF line ends are accepted. Inferred types go LONG, then DOUBLE, then STRING; an empty
 * field is NaN in a DOUBLE column and makes an inferred LONG column DOUBLE. A row with the wrong
 * number of fields, or a value that does not parse as its column's given type, fails the read with
 * the file and line named, or, with {@link CsvOptions#skipMalformed(boolean)}, is skipped and counted.
 */
public final class CsvReader
{
    private static final byte QUOTE = '"';
    private static final int NONE = 0;
    private static final int EMPTY_ONLY = 1;
    private static final int LONG = 2;
    private static final int DOUBLE = 3;
    private static final int STRING = 4;
    private static final double[] POWERS = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
        1e19, 1e20, 1e21, 1e22,
    };

    /**
     * A parsed partition.
     *
     * @param table       the rows, in native memory owned by the caller.
     * @param skippedRows malformed rows skipped (with {@link CsvOptions#skipMalformed(boolean)}).
     */
    public record Result(NativeTable table, long skippedRows) implements AutoCloseable
    {
        @Override
        public void close()
        {
            table.close();
        }
    }

    private final Path file;
    private final CsvOptions options;
    private final byte delimiter;
    // Tokenizer output for the current field.
    private int fieldStart;
    private int fieldEnd;
    private int fieldBytes; // unescaped length
    private boolean fieldQuoted;
    private String malformed;
    // Number parser output.
    private long longValue;
    private double doubleValue;

    private CsvReader(final Path file, final CsvOptions options)
    {
        this.file = file;
        this.options = options;
        this.delimiter = (byte)options.delimiter();
    }

    /**
     * Read a whole file.
     *
     * @param file    the CSV file.
     * @param options how to read it.
     * @return the table and the count of skipped rows.
     * @throws CsvException if the file is missing or a row is malformed.
     */
    public static Result read(final Path file, final CsvOptions options)
    {
        return read(file, 0, Long.MAX_VALUE, options);
    }

    /**
     * Read the lines of {@code file} that start at a byte offset in {@code [start, end)}; the header
     * (if any) is always read from the top of the file.
     *
     * @param file    the CSV file.
     * @param start   first byte offset of the partition.
     * @param end     end offset (exclusive) of the partition.
     * @param options how to read it.
     * @return the table and the count of skipped rows.
     * @throws CsvException if the file is missing or a row is malformed.
     */
    public static Result read(final Path file, final long start, final long end, final CsvOptions options)
    {
        return new CsvReader(file, options).parse(start, end);
    }

    /**
     * Byte ranges of about {@code chunkBytes} covering the file, for one partition each.
     *
     * @param file       the CSV file.
     * @param chunkBytes target partition size.
     * @return [start, end) pairs.
     */
    public static List<long[]> splits(final Path file, final long chunkBytes)
    {
        final long size;
        try
        {
            size = Files.size(file);
        }
        catch (final NoSuchFileException ex)
        {
            throw new CsvException(file, 0, "no such file");
        }
        catch (final IOException ex)
        {
            throw new CsvException(file, "cannot read", ex);
        }
        final List<long[]> ranges = new ArrayList<>();
        for (long s = 0; s < Math.max(size, 1); s += chunkBytes)
        {
            ranges.add(new long[]{s, Math.min(size, s + chunkBytes)});
        }
        return ranges;
    }

    /**
     * Column names and types inferred from the first {@code sampleBytes} of a file, to give every
     * partition of a split file the same types.
     *
     * @param file        the CSV file.
     * @param options     how to read it.
     * @param sampleBytes how much to look at.
     * @return column name to type, in file order.
     */
    public static Map<String, ColumnType> inferTypes(final Path file, final CsvOptions options, final long sampleBytes)
    {
        try (Result sample = read(file, 0, sampleBytes, options.skipMalformed(true)))
        {
            final Map<String, ColumnType> types = new LinkedHashMap<>();
            final TableView view = sample.table().view();
            for (int c = 0; c < view.columnCount(); c++)
            {
                types.put(view.columnName(c), view.columnType(c));
            }
            return types;
        }
    }

    private Result parse(final long start, final long end)
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            final long size = channel.size();
            final long maxLine = options.maxLineLength();
            // Header: the first line of the file.
            final long headerLength = Math.min(size, maxLine);
            final Region head = Region.read(channel, 0, headerLength);
            String[] names;
            long dataStart;
            try
            {
                final int headerEnd = lineEnd(head, 0, true);
                if (options.header())
                {
                    names = size == 0 ? new String[0] : headerNames(head, headerEnd);
                    dataStart = Math.min(size, nextLine(head, headerEnd));
                }
                else
                {
                    names = null;
                    dataStart = 0;
                }
            }
            finally
            {
                head.close();
            }
            long s = Math.max(start, dataStart);
            final long e = Math.min(end, size);
            if (s >= e)
            {
                return empty(names == null ? new String[0] : names);
            }
            final long regionLength = Math.min(size - s, (e - s) + maxLine + 1);
            final Region region = Region.map(channel, s > 0 ? s - 1 : 0, regionLength + (s > 0 ? 1 : 0));
            try
            {
                int pos = 0;
                if (s > 0)
                {
                    // Offset 0 of the region is the byte before s: start after the next line break.
                    pos = region.get(0) == '\n' ? 1 : nextLine(region, lineEnd(region, 0, s - 1 + region.length >= size));
                }
                final int startsBefore = (int)(e - s + (s > 0 ? 1 : 0));
                final boolean regionAtEof = (s > 0 ? s - 1 : 0) + region.length >= size;
                return scan(region, pos, startsBefore, regionAtEof, names, s > 0 ? s - 1 : 0);
            }
            finally
            {
                region.close();
            }
        }
        catch (final NoSuchFileException ex)
        {
            throw new CsvException(file, 0, "no such file");
        }
        catch (final IOException ex)
        {
            throw new CsvException(file, "cannot read", ex);
        }
    }

    private Result scan(
        final Region r, final int from, final int startsBefore, final boolean atEof, final String[] header,
        final long regionOffset)
    {
        String[] names = header;
        int columns = names == null ? -1 : names.length;
        int[] state = null;
        ColumnType[] given = null;
        long[] bytes = null;
        long rows = 0;
        long skipped = 0;
        final long validity = NativeMemory.allocate(Math.max(8, r.length));
        try
        {
            // Pass 1: rows, field counts, types, string sizes.
            int line = 0;
            for (int pos = from; pos < r.length && pos < startsBefore; line++)
            {
                final int lineEnd = lineEnd(r, pos, atEof);
                final int next = nextLine(r, lineEnd);
                UnsafeApi.putByte(validity + line, (byte)0);
                if (contentEnd(r, pos, lineEnd) == pos)
                {
                    pos = next;
                    continue; // blank line
                }
                if (columns < 0)
                {
                    columns = countFields(r, pos, lineEnd);
                    names = new String[columns];
                    for (int c = 0; c < columns; c++)
                    {
                        names[c] = "c" + c;
                    }
                }
                if (state == null)
                {
                    state = new int[columns];
                    bytes = new long[columns];
                    given = new ColumnType[columns];
                    for (int c = 0; c < columns; c++)
                    {
                        given[c] = options.types().get(names[c]);
                    }
                }
                final String problem = checkRow(r, pos, lineEnd, columns, given);
                if (problem != null)
                {
                    if (!options.skipMalformed())
                    {
                        throw new CsvException(file, lineNumber(regionOffset + pos), problem);
                    }
                    skipped++;
                    pos = next;
                    continue;
                }
                inferRow(r, pos, lineEnd, columns, state, bytes, given);
                UnsafeApi.putByte(validity + line, (byte)1);
                rows++;
                pos = next;
            }
            if (names == null)
            {
                names = new String[0];
                columns = 0;
            }
            final ColumnType[] types = new ColumnType[columns];
            for (int c = 0; c < columns; c++)
            {
                types[c] = given != null && given[c] != null ? given[c] : options.types().getOrDefault(names[c],
                    state == null ? ColumnType.STRING : finalType(state[c]));
            }
            if (rows > Integer.MAX_VALUE / 8)
            {
                throw new CsvException(file, 0, "partition of " + rows + " rows is too large: split the file");
            }
            return finish(names, types, (int)rows, skipped, bytes, r, from, startsBefore, atEof, validity);
        }
        finally
        {
            NativeMemory.free(validity, Math.max(8, r.length));
        }
    }

    /** A table with the header's columns and no rows (typed as given, else STRING). */
    private Result empty(final String[] names)
    {
        final ColumnType[] types = new ColumnType[names.length];
        for (int c = 0; c < names.length; c++)
        {
            types[c] = options.types().getOrDefault(names[c], ColumnType.STRING);
        }
        return finish(names, types, 0, 0, null, null, 0, 0, true, 0);
    }

    private Result finish(
        final String[] names, final ColumnType[] types, final int rows, final long skipped, final long[] bytes,
        final Region r, final int from, final int startsBefore, final boolean atEof, final long validity)
    {
        final long[] stringBytes = new long[names.length];
        for (int c = 0; c < names.length; c++)
        {
            stringBytes[c] = types[c] == ColumnType.STRING && bytes != null ? bytes[c] : 0;
        }
        final long length = TableView.encodedLength(names, types, rows, stringBytes);
        if (length > Integer.MAX_VALUE - BlockStore.HEADER_LENGTH)
        {
            throw new CsvException(file, 0, "partition of " + length + " bytes exceeds 2 GiB: split the file");
        }
        final NativeTable table = new NativeTable((int)length);
        boolean done = false;
        try
        {
            final UnsafeBuffer out = table.mutableBuffer();
            TableView.layout(names, types, rows, stringBytes, out, 0);
            table.sealed();
            if (rows > 0)
            {
                fill(r, from, startsBefore, atEof, validity, table.view(), types, rows);
            }
            done = true;
            return new Result(table, skipped);
        }
        finally
        {
            if (!done)
            {
                table.close();
            }
        }
    }

    /** Pass 2: write every valid row's fields into the columns. */
    private void fill(
        final Region r, final int from, final int startsBefore, final boolean atEof, final long validity,
        final TableView view, final ColumnType[] types, final int rows)
    {
        final int columns = types.length;
        final long base = view.buffer().addressOffset();
        final long[] dataAt = new long[columns];
        final long[] stringCursor = new long[columns];
        for (int c = 0; c < columns; c++)
        {
            dataAt[c] = base + view.columnOffset(c);
        }
        int row = 0;
        int line = 0;
        for (int pos = from; pos < r.length && pos < startsBefore; line++)
        {
            final int lineEnd = lineEnd(r, pos, atEof);
            final int next = nextLine(r, lineEnd);
            if (UnsafeApi.getByte(validity + line) == 0)
            {
                pos = next;
                continue;
            }
            final int end = contentEnd(r, pos, lineEnd);
            int p = pos;
            for (int c = 0; c < columns; c++)
            {
                p = field(r, p, end);
                switch (types[c])
                {
                    case LONG:
                        parseLong(r, fieldStart, fieldEnd);
                        UnsafeApi.putLong(dataAt[c] + 8L * row, longValue);
                        break;
                    case DOUBLE:
                        if (fieldEnd == fieldStart)
                        {
                            UnsafeApi.putDouble(dataAt[c] + 8L * row, Double.NaN);
                        }
                        else
                        {
                            parseDouble(r, fieldStart, fieldEnd);
                            UnsafeApi.putDouble(dataAt[c] + 8L * row, doubleValue);
                        }
                        break;
                    default:
                        final long stringsAt = dataAt[c] + 8L * (rows + 1);
                        UnsafeApi.putLong(dataAt[c] + 8L * row, stringCursor[c]);
                        copyUnescaped(r, stringsAt + stringCursor[c]);
                        stringCursor[c] += fieldBytes;
                        break;
                }
                p++; // past the delimiter
            }
            row++;
            pos = next;
        }
        for (int c = 0; c < columns; c++)
        {
            if (types[c] == ColumnType.STRING)
            {
                UnsafeApi.putLong(dataAt[c] + 8L * rows, stringCursor[c]);
            }
        }
    }

    private String checkRow(final Region r, final int pos, final int lineEnd, final int columns, final ColumnType[] given)
    {
        final int end = contentEnd(r, pos, lineEnd);
        int p = pos;
        int count = 0;
        while (true)
        {
            p = field(r, p, end);
            if (malformed != null)
            {
                return malformed;
            }
            if (count < columns && given[count] != null && given[count] != ColumnType.STRING)
            {
                final boolean ok = given[count] == ColumnType.LONG ?
                    parseLong(r, fieldStart, fieldEnd) : fieldEnd == fieldStart || parseDouble(r, fieldStart, fieldEnd);
                if (!ok)
                {
                    return "column " + (count + 1) + ": '" + text(r, fieldStart, fieldEnd) + "' is not a " +
                        given[count].name().toLowerCase();
                }
            }
            count++;
            if (p >= end)
            {
                break;
            }
            p++;
        }
        return count == columns ? null : "expected " + columns + " fields, found " + count;
    }

    private void inferRow(
        final Region r, final int pos, final int lineEnd, final int columns, final int[] state, final long[] bytes,
        final ColumnType[] given)
    {
        final int end = contentEnd(r, pos, lineEnd);
        int p = pos;
        for (int c = 0; c < columns; c++)
        {
            p = field(r, p, end);
            bytes[c] += fieldBytes;
            if (given[c] == null && state[c] != STRING)
            {
                final int kind;
                if (fieldEnd == fieldStart)
                {
                    kind = EMPTY_ONLY;
                }
                else if (!fieldQuoted && parseLong(r, fieldStart, fieldEnd))
                {
                    kind = LONG;
                }
                else if (!fieldQuoted && parseDouble(r, fieldStart, fieldEnd))
                {
                    kind = DOUBLE;
                }
                else
                {
                    kind = STRING;
                }
                state[c] = merge(state[c], kind);
            }
            p++;
        }
    }

    private static int merge(final int current, final int kind)
    {
        if (current == NONE)
        {
            return kind;
        }
        if (kind == EMPTY_ONLY)
        {
            return current == LONG ? DOUBLE : current;
        }
        if (current == EMPTY_ONLY)
        {
            return kind == LONG ? DOUBLE : kind;
        }
        return Math.max(current, kind);
    }

    private static ColumnType finalType(final int state)
    {
        switch (state)
        {
            case LONG:
                return ColumnType.LONG;
            case DOUBLE:
            case EMPTY_ONLY:
                return ColumnType.DOUBLE;
            default:
                return ColumnType.STRING;
        }
    }

    /**
     * Tokenize the field starting at {@code p}; sets fieldStart/fieldEnd (content, without quotes),
     * fieldBytes (unescaped length), fieldQuoted, and malformed on error.
     *
     * @return the offset of the delimiter after the field, or {@code end}.
     */
    private int field(final Region r, final int p, final int end)
    {
        malformed = null;
        if (p < end && r.get(p) == QUOTE)
        {
            fieldQuoted = true;
            fieldStart = p + 1;
            int escapes = 0;
            int q = p + 1;
            while (true)
            {
                if (q >= end)
                {
                    malformed = "unterminated quoted field";
                    fieldEnd = end;
                    fieldBytes = end - fieldStart - escapes;
                    return end;
                }
                if (r.get(q) == QUOTE)
                {
                    if (q + 1 < end && r.get(q + 1) == QUOTE)
                    {
                        escapes++;
                        q += 2;
                        continue;
                    }
                    break;
                }
                q++;
            }
            fieldEnd = q;
            fieldBytes = fieldEnd - fieldStart - escapes;
            final int after = q + 1;
            if (after < end && r.get(after) != delimiter)
            {
                malformed = "unexpected character after a closing quote";
            }
            return after;
        }
        fieldQuoted = false;
        fieldStart = p;
        int q = p;
        while (q < end && r.get(q) != delimiter)
        {
            q++;
        }
        fieldEnd = q;
        fieldBytes = q - p;
        return q;
    }

    private void copyUnescaped(final Region r, final long to)
    {
        if (!fieldQuoted || fieldBytes == fieldEnd - fieldStart)
        {
            NativeMemory.copy(r.address + fieldStart, to, fieldEnd - fieldStart);
            return;
        }
        long out = to;
        for (int q = fieldStart; q < fieldEnd; q++)
        {
            final byte b = r.get(q);
            UnsafeApi.putByte(out++, b);
            if (b == QUOTE)
            {
                q++; // skip the second of a doubled quote
            }
        }
    }

    private int countFields(final Region r, final int pos, final int lineEnd)
    {
        final int end = contentEnd(r, pos, lineEnd);
        int p = pos;
        int count = 0;
        while (true)
        {
            p = field(r, p, end);
            count++;
            if (p >= end)
            {
                return count;
            }
            p++;
        }
    }

    private String[] headerNames(final Region r, final int lineEnd)
    {
        final int end = contentEnd(r, 0, lineEnd);
        final List<String> names = new ArrayList<>();
        int p = 0;
        while (true)
        {
            p = field(r, p, end);
            if (malformed != null)
            {
                throw new CsvException(file, 1, "header: " + malformed);
            }
            final byte[] name = new byte[fieldBytes];
            final long scratch = NativeMemory.allocate(Math.max(1, fieldBytes));
            try
            {
                copyUnescaped(r, scratch);
                new UnsafeBuffer(scratch, Math.max(1, fieldBytes)).getBytes(0, name, 0, fieldBytes);
            }
            finally
            {
                NativeMemory.free(scratch, Math.max(1, fieldBytes));
            }
            names.add(new String(name, StandardCharsets.UTF_8));
            if (p >= end)
            {
                break;
            }
            p++;
        }
        if (names.size() == 1 && names.get(0).isEmpty())
        {
            return new String[0];
        }
        return names.toArray(new String[0]);
    }

    /** Offset of the line break ending the line at {@code pos}, or the region's end at EOF. */
    private int lineEnd(final Region r, final int pos, final boolean atEof)
    {
        final int limit = (int)Math.min(r.length, (long)pos + options.maxLineLength() + 1);
        for (int q = pos; q < limit; q++)
        {
            if (r.get(q) == '\n')
            {
                return q;
            }
        }
        if (limit == r.length && atEof)
        {
            return r.length;
        }
        throw new CsvException(file, 0, "a line longer than " + options.maxLineLength() + " bytes (maxLineLength)");
    }

    private static int nextLine(final Region r, final int lineEnd)
    {
        return Math.min(r.length, lineEnd + 1);
    }

    /** End of a line's content: before the line break and a CR preceding it. */
    private static int contentEnd(final Region r, final int pos, final int lineEnd)
    {
        return lineEnd > pos && r.get(lineEnd - 1) == '\r' ? lineEnd - 1 : lineEnd;
    }

    private boolean parseLong(final Region r, final int from, final int to)
    {
        int p = from;
        boolean negative = false;
        if (p < to && (r.get(p) == '-' || r.get(p) == '+'))
        {
            negative = r.get(p) == '-';
            p++;
        }
        if (p >= to || to - p > 19)
        {
            return false;
        }
        long value = 0;
        for (; p < to; p++)
        {
            final int d = r.get(p) - '0';
            if (d < 0 || d > 9)
            {
                return false;
            }
            value = value * 10 + d;
            if (value < 0)
            {
                return negative && value == Long.MIN_VALUE && p == to - 1 && assign(Long.MIN_VALUE);
            }
        }
        longValue = negative ? -value : value;
        return true;
    }

    private boolean assign(final long value)
    {
        longValue = value;
        return true;
    }

    private boolean parseDouble(final Region r, final int from, final int to)
    {
        int p = from;
        boolean negative = false;
        if (p < to && (r.get(p) == '-' || r.get(p) == '+'))
        {
            negative = r.get(p) == '-';
            p++;
        }
        long mantissa = 0;
        int digits = 0;
        int scale = 0;
        boolean seenDigit = false;
        boolean seenDot = false;
        for (; p < to; p++)
        {
            final byte b = r.get(p);
            if (b >= '0' && b <= '9')
            {
                seenDigit = true;
                if (mantissa != 0 || b != '0')
                {
                    digits++;
                }
                if (digits <= 18)
                {
                    mantissa = mantissa * 10 + (b - '0');
                    if (seenDot)
                    {
                        scale--;
                    }
                }
                else if (!seenDot)
                {
                    scale++;
                }
            }
            else if (b == '.' && !seenDot)
            {
                seenDot = true;
            }
            else
            {
                break;
            }
        }
        if (!seenDigit)
        {
            return slowDouble(r, from, to);
        }
        if (p < to)
        {
            if (r.get(p) != 'e' && r.get(p) != 'E')
            {
                return false;
            }
            int q = p + 1;
            boolean expNegative = false;
            if (q < to && (r.get(q) == '-' || r.get(q) == '+'))
            {
                expNegative = r.get(q) == '-';
                q++;
            }
            if (q >= to || to - q > 4)
            {
                return slowDouble(r, from, to);
            }
            int exp = 0;
            for (; q < to; q++)
            {
                final int d = r.get(q) - '0';
                if (d < 0 || d > 9)
                {
                    return false;
                }
                exp = exp * 10 + d;
            }
            scale += expNegative ? -exp : exp;
        }
        // Exact when the mantissa fits 53 bits and the power of ten is exact (Clinger's fast path).
        if (digits <= 15 && scale >= -22 && scale <= 22)
        {
            final double m = mantissa;
            final double value = scale >= 0 ? m * POWERS[scale] : m / POWERS[-scale];
            doubleValue = negative ? -value : value;
            return true;
        }
        return slowDouble(r, from, to);
    }

    private boolean slowDouble(final Region r, final int from, final int to)
    {
        for (int q = from; q < to; q++)
        {
            final byte b = r.get(q);
            final boolean allowed = (b >= '0' && b <= '9') || b == '.' || b == '-' || b == '+' || b == 'e' ||
                b == 'E' || b == 'N' || b == 'a' || b == 'I' || b == 'n' || b == 'f' || b == 'i' || b == 't' || b == 'y';
            if (!allowed)
            {
                return false;
            }
        }
        final String text = text(r, from, to);
        if (text.endsWith("f") && !text.endsWith("Infinity"))
        {
            return false;
        }
        try
        {
            doubleValue = Double.parseDouble(text);
            return true;
        }
        catch (final NumberFormatException ex)
        {
            return false;
        }
    }

    private static String text(final Region r, final int from, final int to)
    {
        final byte[] bytes = new byte[to - from];
        for (int i = 0; i < bytes.length; i++)
        {
            bytes[i] = r.get(from + i);
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** 1-based line number of the byte at {@code offset} in the file (counted only for errors). */
    private long lineNumber(final long offset)
    {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ))
        {
            final ByteBuffer chunk = ByteBuffer.allocate(1 << 16);
            long line = 1;
            long position = 0;
            while (position < offset)
            {
                chunk.clear().limit((int)Math.min(chunk.capacity(), offset - position));
                final int n = channel.read(chunk, position);
                if (n <= 0)
                {
                    break;
                }
                for (int i = 0; i < n; i++)
                {
                    if (chunk.get(i) == '\n')
                    {
                        line++;
                    }
                }
                position += n;
            }
            return line;
        }
        catch (final IOException ex)
        {
            return 0;
        }
    }

    /** A range of the file read into native memory, or mapped. */
    private static final class Region implements AutoCloseable
    {
        /** Below this a read is cheaper than a mapping. */
        private static final long MAP_THRESHOLD = 256 * 1024;

        final long address;
        final int length;
        private final MappedByteBuffer mapped;
        /** Bytes allocated at address when read (not mapped), for the free. */
        private final long allocated;

        private Region(final long address, final int length, final MappedByteBuffer mapped, final long allocated)
        {
            this.address = address;
            this.length = length;
            this.mapped = mapped;
            this.allocated = allocated;
        }

        /**
         * Map the range read-only: the page cache's pages are used in place, where a read would copy them
         * into fresh memory that costs a zeroing page fault per 4 KiB first (measured: CsvBench).
         */
        static Region map(final FileChannel channel, final long position, final long length) throws IOException
        {
            final long available = Math.max(0, Math.min(length, channel.size() - position));
            if (available < MAP_THRESHOLD || available > Integer.MAX_VALUE - 8)
            {
                return read(channel, position, length);
            }
            final MappedByteBuffer buffer = channel.map(FileChannel.MapMode.READ_ONLY, position, available);
            return new Region(org.agrona.BufferUtil.address(buffer), (int)available, buffer, 0);
        }

        static Region read(final FileChannel channel, final long position, final long length) throws IOException
        {
            if (length > Integer.MAX_VALUE - 8)
            {
                throw new IOException("partition of " + length + " bytes is too large: split the file");
            }
            final int n = (int)length;
            final long address = NativeMemory.allocate(Math.max(8, n));
            final ByteBuffer view = DirectViews.point(DirectViews.newView(), address, n);
            try
            {
                while (view.hasRemaining())
                {
                    if (channel.read(view, position + view.position()) < 0)
                    {
                        break;
                    }
                }
            }
            catch (final IOException | RuntimeException ex)
            {
                NativeMemory.free(address, Math.max(8, n));
                throw ex;
            }
            return new Region(address, view.position(), null, Math.max(8, n));
        }

        byte get(final int index)
        {
            return UnsafeApi.getByte(address + index);
        }

        @Override
        public void close()
        {
            if (null != mapped)
            {
                IoUtil.unmap(mapped);
            }
            else
            {
                NativeMemory.free(address, allocated);
            }
        }
    }
}
