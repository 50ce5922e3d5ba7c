package io.offgrid.perf.memory;

import io.offgrid.memory.ColumnType;
import io.offgrid.memory.CsvOptions;
import io.offgrid.memory.CsvReader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * CSV parse speed (a Frame partition's source): {@code CsvReader.read} of a file of an id (LONG) and two
 * 3-decimal DOUBLE columns into an off-heap table, next to reading the same bytes into a direct buffer (page
 * cache warm) in the same run. MB/s = file bytes / (seconds per op).
 *
 * <pre>perf/jmh CsvBench -f 1 -wi 2 -i 3</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(1)
public class CsvBench
{
    /** Rows in the file. */
    @Param({"2000000"})
    public int rows;

    /** Whether the column types are given (true) or inferred while parsing (false). */
    @Param({"true", "false"})
    public boolean typed;

    private Path dir;
    private Path file;
    private ByteBuffer buffer;
    private CsvOptions options;

    /**
     * Write the file.
     *
     * @throws IOException if it cannot be written.
     */
    @Setup(Level.Trial)
    public void setUp() throws IOException
    {
        dir = Files.createTempDirectory("offgrid-csvbench");
        file = dir.resolve("data.csv");
        final SplittableRandom random = new SplittableRandom(3);
        try (BufferedWriter w = Files.newBufferedWriter(file))
        {
            w.write("id,x,y\n");
            for (int i = 0; i < rows; i++)
            {
                w.write(Long.toString(i));
                w.write(',');
                w.write(Double.toString(Math.round(random.nextDouble(-1000, 1000) * 1000) / 1000.0));
                w.write(',');
                w.write(Double.toString(Math.round(random.nextDouble(-1000, 1000) * 1000) / 1000.0));
                w.write('\n');
            }
        }
        buffer = ByteBuffer.allocateDirect((int)Files.size(file));
        options = typed ? CsvOptions.defaults().type("id", ColumnType.LONG).type("x", ColumnType.DOUBLE)
            .type("y", ColumnType.DOUBLE) : CsvOptions.defaults();
        System.out.println("\nCSV file: " + Files.size(file) + " bytes");
    }

    /**
     * Delete the file.
     *
     * @throws IOException if it cannot be deleted.
     */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException
    {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    /**
     * @return rows parsed.
     */
    @Benchmark
    public int parse()
    {
        try (CsvReader.Result r = CsvReader.read(file, options))
        {
            return r.table().view().rowCount();
        }
    }

    /**
     * The same bytes read into a direct buffer: the I/O floor.
     *
     * @return bytes read.
     * @throws IOException if the read fails.
     */
    @Benchmark
    public int readBytes() throws IOException
    {
        buffer.clear();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ))
        {
            while (buffer.hasRemaining() && ch.read(buffer) >= 0)
            {
                // read to the end
            }
        }
        return buffer.position();
    }
}
