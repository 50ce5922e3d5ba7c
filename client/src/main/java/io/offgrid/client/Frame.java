package io.offgrid.client;

import io.offgrid.client.internal.FrameTasks;
import io.offgrid.memory.ColumnType;
import io.offgrid.memory.ColumnarTable;
import io.offgrid.memory.CsvOptions;
import io.offgrid.memory.CsvReader;
import io.offgrid.memory.Expr;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A partitioned columnar table whose partitions live off-heap on the workers (like Dask's DataFrame). Every
 * partition is a table block (LONG, DOUBLE, STRING columns) read in place by tight loops over native memory; no
 * row is ever an object and no column is copied onto the Java heap until a small result is brought back.
 * Operations are lazy and per partition; a partition's pending operations run fused in one task, each writing a
 * new off-heap table. {@link Client#persist(Frame)} returns at once a frame whose partitions are futures.
 * <pre>{@code
 * Frame df = Frame.readCsv("/data/trades-*.csv", CsvOptions.defaults());
 * df = df.filter(col("x").gt(0)).withColumn("z", col("x").plus(col("y")));
 * df = client.persist(df);                              // returns at once, computes in the background
 * double total = df.column("x").sum().compute().doubleValue();
 * GridFuture<?> future = client.compute(df.column("x").sum()).get(0);
 * Frame df2 = df.filter(col("x").lt(10)); df.release(); // df2 still holds the data: nothing freed
 * client.cancel(df, false);                             // kills df, df2 and every dependent computation
 * }</pre>
 */
public final class Frame
{
    /** One partition: an input (a key in cluster memory) or a source, and the operations still to apply. */
    static final class Part
    {
        final Delayed<?> input;
        final FrameTasks.Source source;
        final FrameTasks.Step[] steps;
        private Delayed<?> materialized;

        Part(final Delayed<?> input, final FrameTasks.Source source, final FrameTasks.Step[] steps)
        {
            this.input = input;
            this.source = source;
            this.steps = steps;
        }

        Object[] inputs()
        {
            return null == input ? new Object[0] : new Object[]{input};
        }

        synchronized Delayed<?> table()
        {
            if (null == materialized)
            {
                materialized = null != input && steps.length == 0 ? input :
                    Delayed.callVar("frame", new FrameTasks.Pipeline(source, steps, null), inputs());
            }
            return materialized;
        }

        Delayed<Object> fold(final String label, final FrameTasks.Step[] extra, final FrameTasks.Terminal terminal)
        {
            final FrameTasks.Step[] all = Arrays.copyOf(steps, steps.length + extra.length);
            System.arraycopy(extra, 0, all, steps.length, extra.length);
            return Delayed.callVar(label, new FrameTasks.Pipeline(source, all, terminal), inputs());
        }
    }

    private final List<Part> parts;

    private Frame(final List<Part> parts)
    {
        this.parts = Collections.unmodifiableList(new ArrayList<>(parts));
    }

    // ================================================================================================= sources

    /**
     * Read CSV files, one partition per file. {@code pathOrGlob} is a path or a glob such as
     * {@code /data/part-*.csv}, expanded here; the files are read by the workers. With more than one file, the
     * column types are inferred here from the first MiB of the first file (unless given in the options) so every
     * partition has the same types, as Dask does.
     *
     * @param pathOrGlob a file or a glob.
     * @param options    header, delimiter, types, malformed-row policy.
     * @return the lazy frame.
     * @throws IllegalArgumentException if a glob matches no file.
     */
    public static Frame readCsv(final String pathOrGlob, final CsvOptions options)
    {
        return readCsv(expand(pathOrGlob), options, 0);
    }

    /**
     * Read CSV files, one partition per file or, with {@code blockBytes > 0}, one partition per block of about
     * that many bytes of each file, split on line boundaries by the workers. A malformed row fails its partition's
     * task naming the file and line (or is skipped, with {@link CsvOptions#skipMalformed(boolean)}, and counted by
     * {@link #malformedRows()}); a missing file fails the task naming the file.
     *
     * @param paths      the files, as the workers see them.
     * @param options    header, delimiter, types, malformed-row policy.
     * @param blockBytes partition size for splitting files, or 0 for one partition per file.
     * @return the lazy frame.
     */
    public static Frame readCsv(final List<String> paths, final CsvOptions options, final long blockBytes)
    {
        if (paths.isEmpty())
        {
            throw new IllegalArgumentException("no CSV files given");
        }
        CsvOptions opts = options;
        final Path first = Path.of(paths.get(0));
        if (opts.types().isEmpty() && (paths.size() > 1 || blockBytes > 0) && Files.isRegularFile(first))
        {
            final Map<String, ColumnType> types = CsvReader.inferTypes(first, options, 1 << 20);
            for (final Map.Entry<String, ColumnType> e : types.entrySet())
            {
                opts = opts.type(e.getKey(), e.getValue());
            }
        }
        final ArrayList<Part> parts = new ArrayList<>();
        for (final String path : paths)
        {
            final Path p = Path.of(path);
            if (blockBytes > 0 && Files.isRegularFile(p))
            {
                for (final long[] range : CsvReader.splits(p, blockBytes))
                {
                    parts.add(new Part(null, new FrameTasks.CsvSource(path, range[0], range[1], opts), NO_STEPS));
                }
            }
            else
            {
                parts.add(new Part(null, new FrameTasks.CsvSource(path, 0, Long.MAX_VALUE, opts), NO_STEPS));
            }
        }
        return new Frame(parts);
    }

    private static final FrameTasks.Step[] NO_STEPS = new FrameTasks.Step[0];

    static List<String> expand(final String pathOrGlob)
    {
        final int wild = firstWildcard(pathOrGlob);
        if (wild < 0)
        {
            return List.of(pathOrGlob);
        }
        final int slash = pathOrGlob.lastIndexOf('/', wild);
        final Path root = Path.of(slash < 0 ? "." : slash == 0 ? "/" : pathOrGlob.substring(0, slash));
        final String pattern = slash < 0 ? Path.of(".").resolve(pathOrGlob).normalize().toString() : pathOrGlob;
        final PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + pattern);
        final List<String> files = new ArrayList<>();
        if (Files.isDirectory(root))
        {
            // Only as deep as the pattern reaches ("**" crosses directories), so "/*.csv" does not walk the disk.
            final String rest = pathOrGlob.substring(slash + 1);
            final int depth = rest.contains("**") ? Integer.MAX_VALUE :
                (int)rest.chars().filter(c -> c == '/').count() + 1;
            try (Stream<Path> walk = Files.walk(root, depth))
            {
                walk.filter(Files::isRegularFile)
                    .filter(f -> matcher.matches(slash < 0 ? f.normalize() : f))
                    .forEach(f -> files.add(f.toString()));
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("cannot list " + root, ex);
            }
        }
        if (files.isEmpty())
        {
            throw new IllegalArgumentException("no file matches " + pathOrGlob);
        }
        Collections.sort(files);
        return files;
    }

    private static int firstWildcard(final String s)
    {
        for (int i = 0; i < s.length(); i++)
        {
            final char c = s.charAt(i);
            if (c == '*' || c == '?' || c == '[' || c == '{')
            {
                return i;
            }
        }
        return -1;
    }

    /**
     * A frame from a table on the heap, split into row ranges (shipped with the graph).
     *
     * @param table       the columns.
     * @param npartitions how many partitions.
     * @return the lazy frame.
     */
    public static Frame fromColumns(final ColumnarTable table, final int npartitions)
    {
        checkPartitions(npartitions);
        final ArrayList<Part> parts = new ArrayList<>(npartitions);
        final int rows = table.rowCount();
        for (int p = 0; p < npartitions; p++)
        {
            final int from = (int)((long)rows * p / npartitions);
            final int to = (int)((long)rows * (p + 1) / npartitions);
            parts.add(new Part(Delayed.value(slice(table, from, to)), null, NO_STEPS));
        }
        return new Frame(parts);
    }

    private static ColumnarTable slice(final ColumnarTable table, final int from, final int to)
    {
        final ColumnarTable.Builder b = ColumnarTable.builder();
        for (final String name : table.names())
        {
            switch (table.type(name))
            {
                case LONG:
                    b.addLong(name, Arrays.copyOfRange(table.longs(name), from, to));
                    break;
                case DOUBLE:
                    b.addDouble(name, Arrays.copyOfRange(table.doubles(name), from, to));
                    break;
                default:
                    b.addString(name, Arrays.copyOfRange(table.strings(name), from, to));
                    break;
            }
        }
        return b.build();
    }

    /**
     * One LONG column {@code id} holding 0 until rows, generated on the workers.
     *
     * @param rows        row count.
     * @param npartitions how many partitions.
     * @return the lazy frame.
     */
    public static Frame range(final long rows, final int npartitions)
    {
        checkPartitions(npartitions);
        final ArrayList<Part> parts = new ArrayList<>(npartitions);
        for (int p = 0; p < npartitions; p++)
        {
            parts.add(new Part(null, new FrameTasks.RangeSource("id", rows * p / npartitions,
                rows * (p + 1) / npartitions), NO_STEPS));
        }
        return new Frame(parts);
    }

    /**
     * DOUBLE columns of uniform random numbers in [low, high), generated on the workers from a seed (partition
     * p uses a generator seeded from seed and p, so the frame is the same every time).
     *
     * @param rows        row count.
     * @param npartitions how many partitions.
     * @param seed        generator seed.
     * @param low         lower bound.
     * @param high        upper bound (exclusive).
     * @param columns     column names.
     * @return the lazy frame.
     */
    public static Frame random(
        final long rows, final int npartitions, final long seed, final double low, final double high,
        final String... columns)
    {
        checkPartitions(npartitions);
        if (columns.length == 0)
        {
            throw new IllegalArgumentException("no columns named");
        }
        final ArrayList<Part> parts = new ArrayList<>(npartitions);
        for (int p = 0; p < npartitions; p++)
        {
            final long from = rows * p / npartitions;
            final long to = rows * (p + 1) / npartitions;
            parts.add(new Part(null, new FrameTasks.RandomSource(columns.clone(), to - from,
                seed * 0x9E3779B97F4A7C15L + p, low, high), NO_STEPS));
        }
        return new Frame(parts);
    }

    private static void checkPartitions(final int npartitions)
    {
        if (npartitions < 1)
        {
            throw new IllegalArgumentException("npartitions must be at least 1: " + npartitions);
        }
    }

    // ================================================================================================= lazy ops

    private Frame then(final FrameTasks.Step step)
    {
        final ArrayList<Part> next = new ArrayList<>(parts.size());
        for (final Part p : parts)
        {
            final FrameTasks.Step[] steps = Arrays.copyOf(p.steps, p.steps.length + 1);
            steps[p.steps.length] = step;
            next.add(new Part(hold(p.input), p.source, steps));
        }
        return new Frame(next);
    }

    /**
     * A derived frame takes its own future to each persisted input, so releasing the frame it came from frees
     * nothing it still needs (Dask: a graph holds the futures it was built on).
     */
    private static Delayed<?> hold(final Delayed<?> input)
    {
        if (null == input || null == input.future())
        {
            return input;
        }
        final GridFuture<?> f = input.future();
        return Delayed.of(f.client().anotherFuture(f));
    }

    /**
     * @param predicate a boolean expression over the columns.
     * @return the lazy frame of the rows for which it holds.
     */
    public Frame filter(final Expr predicate)
    {
        return then(new FrameTasks.Filter(predicate));
    }

    /**
     * @param name the new (or replaced) column.
     * @param expr its values (a comparison is stored as LONG 0/1).
     * @return the lazy frame with the column.
     */
    public Frame withColumn(final String name, final Expr expr)
    {
        return then(new FrameTasks.WithColumn(name, expr));
    }

    /**
     * @param columns names to keep, in order.
     * @return the lazy frame of those columns.
     */
    public Frame select(final String... columns)
    {
        return then(new FrameTasks.Select(columns.clone()));
    }

    /**
     * @param columns names to remove.
     * @return the lazy frame without them.
     */
    public Frame drop(final String... columns)
    {
        return then(new FrameTasks.Drop(columns.clone()));
    }

    /**
     * @param name a column.
     * @return the column as a series.
     */
    public Series column(final String name)
    {
        return new Series(this, Expr.col(name));
    }

    /**
     * @param expr a numeric expression over the columns.
     * @return a series of its values.
     */
    public Series column(final Expr expr)
    {
        return new Series(this, expr);
    }

    // ================================================================================================= results

    <T> Scalar<T> aggregate(final Expr expr, final FrameTasks.AggregateOp op)
    {
        final Object[] partials = new Object[parts.size()];
        for (int i = 0; i < partials.length; i++)
        {
            partials[i] = parts.get(i).fold("partial", NO_STEPS, new FrameTasks.Aggregate(expr,
                op == FrameTasks.AggregateOp.MIN || op == FrameTasks.AggregateOp.MAX));
        }
        return new Scalar<>(Delayed.callVar(op.name().toLowerCase(), new FrameTasks.Combine(op), partials));
    }

    /**
     * @return the lazy number of rows.
     */
    public Scalar<Long> count()
    {
        final Object[] partials = new Object[parts.size()];
        for (int i = 0; i < partials.length; i++)
        {
            partials[i] = parts.get(i).fold("rows", NO_STEPS, new FrameTasks.RowCount());
        }
        return new Scalar<>(Delayed.callVar("count", new FrameTasks.SumLongs(), partials));
    }

    /**
     * How many rows of this frame's CSV sources were skipped as malformed (with
     * {@link CsvOptions#skipMalformed(boolean)}): a lazy count that parses the sources again on the workers.
     *
     * @return the lazy count (0 for a frame without CSV sources).
     */
    public Scalar<Long> malformedRows()
    {
        final ArrayList<Object> counts = new ArrayList<>();
        for (final Part p : parts)
        {
            if (p.source instanceof FrameTasks.CsvSource)
            {
                counts.add(Delayed.callVar("malformed", new FrameTasks.CsvSkipped((FrameTasks.CsvSource)p.source),
                    new Object[0]));
            }
        }
        counts.add(0L);
        return new Scalar<>(Delayed.callVar("malformed", new FrameTasks.SumLongs(), counts.toArray()));
    }

    /**
     * Count, mean, standard deviation (sample), min and max of every numeric column, computed now on the default
     * client: one pass per partition in place, partials merged in one small task.
     *
     * @return a table with a {@code statistic} column and one DOUBLE column per numeric column.
     */
    public ColumnarTable describe()
    {
        final Object[] partials = new Object[parts.size()];
        for (int i = 0; i < partials.length; i++)
        {
            partials[i] = parts.get(i).fold("describe", NO_STEPS, new FrameTasks.DescribePartial());
        }
        return (ColumnarTable)Delayed.callVar("describe", new FrameTasks.DescribeCombine(), partials).compute();
    }

    /**
     * The first rows, computed now on the default client: partitions are asked in order, each for the rows
     * still missing, until there are enough; nothing is persisted.
     *
     * @param n how many rows.
     * @return a small table on the heap.
     */
    public ColumnarTable head(final int n)
    {
        final ArrayList<ColumnarTable> pieces = new ArrayList<>();
        int have = 0;
        for (final Part p : parts)
        {
            if (have >= n && !pieces.isEmpty())
            {
                break;
            }
            final ColumnarTable t = (ColumnarTable)p.fold("head",
                new FrameTasks.Step[]{new FrameTasks.Head(Math.max(0, n - have))}, null).compute();
            pieces.add(t);
            have += t.rowCount();
        }
        return FrameTasks.concat(pieces);
    }

    /**
     * Run on the default client and bring every row back as one table; nothing stays in cluster memory.
     *
     * @return the table.
     */
    public ColumnarTable compute()
    {
        return (ColumnarTable)toTable().compute();
    }

    Delayed<Object> toTable()
    {
        final Object[] tables = new Object[parts.size()];
        for (int i = 0; i < tables.length; i++)
        {
            tables[i] = parts.get(i).table();
        }
        return Delayed.callVar("concat", new FrameTasks.Concat(), tables);
    }

    // ================================================================================================= memory

    /**
     * @return the partitions' graphs: futures once persisted (the same objects every call).
     */
    public List<Delayed<?>> partitions()
    {
        final ArrayList<Delayed<?>> list = new ArrayList<>(parts.size());
        for (final Part p : parts)
        {
            list.add(p.table());
        }
        return list;
    }

    /**
     * @return number of partitions.
     */
    public int npartitions()
    {
        return parts.size();
    }

    /**
     * @return the futures this frame holds: its partitions once persisted, or the persisted partitions it was
     *         derived from.
     */
    public List<GridFuture<?>> futures()
    {
        final ArrayList<GridFuture<?>> list = new ArrayList<>();
        for (final Part p : parts)
        {
            if (null != p.input && null != p.input.future())
            {
                list.add(p.input.future());
            }
        }
        return list;
    }

    static Frame ofFutures(final List<GridFuture<?>> futures)
    {
        final ArrayList<Part> parts = new ArrayList<>(futures.size());
        for (final GridFuture<?> f : futures)
        {
            parts.add(new Part(Delayed.of(f), null, NO_STEPS));
        }
        return new Frame(parts);
    }

    /**
     * Submit on the default client; returns at once with a frame whose partitions are futures.
     *
     * @return the persisted frame.
     */
    public Frame persist()
    {
        return Client.current().persist(this);
    }

    /**
     * Drop the futures this frame holds (like Python's {@code del}); data another frame or future still points
     * to stays. Idempotent.
     */
    public void release()
    {
        final List<GridFuture<?>> futures = futures();
        if (!futures.isEmpty())
        {
            futures.get(0).client().release(futures); // one hand-over for all of them
        }
    }

    @Override
    public String toString()
    {
        return "Frame{" + parts.size() + " partitions" + (futures().isEmpty() ? "" : ", persisted") + "}";
    }
}
