package io.offgrid.memory;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(120)
class CsvReaderTest extends StoreFixture
{
    private Path write(final String name, final String content) throws IOException
    {
        final Path file = tempDir.resolve(name);
        Files.write(file, content.getBytes(StandardCharsets.UTF_8));
        return file;
    }

    private static ColumnarTable read(final Path file, final CsvOptions options)
    {
        try (CsvReader.Result result = CsvReader.read(file, options))
        {
            return result.table().toColumnarTable();
        }
    }

    @Test
    void infersTypesAndReadsValues() throws IOException
    {
        final Path file = write("a.csv", "id,price,name\n1,2.5,apple\n2,3,\"pear, green\"\n-3,1e3,\"say \"\"hi\"\"\"\n");
        final ColumnarTable t = read(file, CsvOptions.defaults());
        assertEquals(List.of("id", "price", "name"), t.names());
        assertEquals(ColumnType.LONG, t.type("id"));
        assertEquals(ColumnType.DOUBLE, t.type("price"));
        assertEquals(ColumnType.STRING, t.type("name"));
        assertArrayEquals(new long[]{1, 2, -3}, t.longs("id"));
        assertArrayEquals(new double[]{2.5, 3, 1000}, t.doubles("price"));
        assertArrayEquals(new String[]{"apple", "pear, green", "say \"hi\""}, t.strings("name"));
    }

    @Test
    void emptyFileAndHeaderOnly() throws IOException
    {
        final ColumnarTable empty = read(write("empty.csv", ""), CsvOptions.defaults());
        assertEquals(0, empty.rowCount());
        assertEquals(List.of(), empty.names());
        final ColumnarTable header = read(write("header.csv", "a,b\n"), CsvOptions.defaults());
        assertEquals(List.of("a", "b"), header.names());
        assertEquals(0, header.rowCount());
    }

    @Test
    void crlfLineEndsBlankLinesAndNoHeader() throws IOException
    {
        final ColumnarTable t = read(write("crlf.csv", "1;x\r\n\r\n2;y\r\n3;z"),
            CsvOptions.defaults().header(false).delimiter(';'));
        assertEquals(List.of("c0", "c1"), t.names());
        assertArrayEquals(new long[]{1, 2, 3}, t.longs("c0"));
        assertArrayEquals(new String[]{"x", "y", "z"}, t.strings("c1"));
    }

    @Test
    void aBadNumberNamesTheFileAndLine() throws IOException
    {
        final Path file = write("bad.csv", "a,b\n1,2\n3,oops\n5,6\n");
        final CsvException ex = assertThrows(CsvException.class,
            () -> read(file, CsvOptions.defaults().type("b", ColumnType.LONG)));
        assertTrue(ex.getMessage().contains("bad.csv:3") && ex.getMessage().contains("'oops'"), ex.getMessage());

        try (CsvReader.Result skipped = CsvReader.read(file,
            CsvOptions.defaults().type("b", ColumnType.LONG).skipMalformed(true)))
        {
            assertEquals(1, skipped.skippedRows());
            assertArrayEquals(new long[]{2, 6}, skipped.table().toColumnarTable().longs("b"));
        }
        final Path ragged = write("ragged.csv", "a,b\n1,2\n3\n");
        final CsvException fields = assertThrows(CsvException.class, () -> read(ragged, CsvOptions.defaults()));
        assertTrue(fields.getMessage().contains("ragged.csv:3") && fields.getMessage().contains("expected 2 fields"),
            fields.getMessage());
    }

    @Test
    void aMissingFileIsNamed()
    {
        final Path missing = tempDir.resolve("nope.csv");
        final CsvException ex = assertThrows(CsvException.class, () -> read(missing, CsvOptions.defaults()));
        assertTrue(ex.getMessage().contains("nope.csv") && ex.getMessage().contains("no such file"), ex.getMessage());
    }

    @Test
    void emptyFieldsAreNaNInDoubleColumns() throws IOException
    {
        final ColumnarTable t = read(write("nan.csv", "a,b\n1,\n,2.5\n"), CsvOptions.defaults());
        assertEquals(ColumnType.DOUBLE, t.type("a"));
        assertTrue(Double.isNaN(t.doubles("a")[1]));
        assertTrue(Double.isNaN(t.doubles("b")[0]));
    }

    @Test
    void splitPartitionsTogetherEqualTheWholeFile() throws IOException
    {
        for (int seed = 0; seed < 20; seed++)
        {
            final Random random = new Random(seed);
            final StringBuilder csv = new StringBuilder("k,v,s\n");
            final List<Long> keys = new ArrayList<>();
            final int rows = random.nextInt(3000);
            for (int i = 0; i < rows; i++)
            {
                final long k = random.nextLong();
                keys.add(k);
                csv.append(k).append(',').append(random.nextInt(100000) / 100.0).append(',')
                    .append(random.nextBoolean() ? "\"q,\"\"" + i + "\"" : "w" + i).append(random.nextBoolean() ? "\r\n" : "\n");
            }
            final Path file = write("split" + seed + ".csv", csv.toString());
            final CsvOptions options = CsvOptions.defaults();
            final Map<String, ColumnType> types = CsvReader.inferTypes(file, options, 4096);
            CsvOptions typed = options;
            for (final Map.Entry<String, ColumnType> e : types.entrySet())
            {
                typed = typed.type(e.getKey(), e.getValue());
            }
            final ColumnarTable whole = read(file, typed);
            final List<Long> joined = new ArrayList<>();
            final List<String> strings = new ArrayList<>();
            for (final long[] range : CsvReader.splits(file, 1 + random.nextInt(20000)))
            {
                try (CsvReader.Result part = CsvReader.read(file, range[0], range[1], typed))
                {
                    final ColumnarTable t = part.table().toColumnarTable();
                    for (final long k : t.longs("k"))
                    {
                        joined.add(k);
                    }
                    strings.addAll(List.of(t.strings("s")));
                }
            }
            assertEquals(keys, joined, "seed " + seed);
            assertEquals(List.of(whole.strings("s")), strings, "seed " + seed);
            assertEquals(rows, whole.rowCount());
        }
    }

    @Test
    void doublesParseExactlyLikeJava() throws IOException
    {
        final Random random = new Random(3);
        final StringBuilder csv = new StringBuilder("d\n");
        final List<String> texts = new ArrayList<>();
        for (int i = 0; i < 2000; i++)
        {
            final String text;
            switch (random.nextInt(4))
            {
                case 0:
                    text = Double.toString(random.nextGaussian() * Math.pow(10, random.nextInt(40) - 20));
                    break;
                case 1:
                    text = (random.nextInt(2000000) - 1000000) / 1000.0 + "";
                    break;
                case 2:
                    text = random.nextInt(100) + "." + random.nextInt(1000000) + "e" + (random.nextInt(60) - 30);
                    break;
                default:
                    text = "0.1234567890123456789";
            }
            texts.add(text);
            csv.append(text).append('\n');
        }
        final ColumnarTable t = read(write("d.csv", csv.toString()), CsvOptions.defaults().type("d", ColumnType.DOUBLE));
        for (int i = 0; i < texts.size(); i++)
        {
            assertEquals(Double.parseDouble(texts.get(i)), t.doubles("d")[i], 0.0, texts.get(i));
        }
    }
}
