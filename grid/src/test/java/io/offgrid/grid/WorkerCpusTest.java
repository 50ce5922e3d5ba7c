package io.offgrid.grid;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WorkerCpusTest
{
    @Test
    void listsParseAndFormatBothWays()
    {
        assertEquals("0-3,6", WorkerCpus.format(WorkerCpus.parse("0-3,6")));
        assertEquals("1", WorkerCpus.format(WorkerCpus.parse("1-1")));
        assertEquals("0-2", WorkerCpus.format(WorkerCpus.parse("0,1,2")));
        final Random random = new Random(42);
        for (int i = 0; i < 300; i++)
        {
            final BitSet cpus = new BitSet();
            for (int c = 0; c < 64; c++)
            {
                if (random.nextInt(3) == 0)
                {
                    cpus.set(c);
                }
            }
            if (cpus.isEmpty())
            {
                continue;
            }
            final String list = WorkerCpus.format(cpus);
            assertTrue(WorkerCpus.isList(list), list);
            assertEquals(cpus, WorkerCpus.parse(list), list);
        }
    }

    @Test
    void badSettingsAreRefusedAndNoneMeansNoPinning()
    {
        for (final String bad : new String[]{null, "", "3-1", "a", "1,", ",1", "1--2", "-1", "12345"})
        {
            assertThrows(IllegalArgumentException.class, () -> WorkerCpus.validate(bad), String.valueOf(bad));
            if (null != bad)
            {
                assertNull(WorkerCpus.parse(bad), bad);
            }
        }
        WorkerCpus.validate("auto");
        WorkerCpus.validate("none");
        WorkerCpus.validate("0-1,4");
        assertNull(WorkerCpus.resolve("none"));
        assertEquals("2-3", WorkerCpus.resolve("2-3"));
    }

    @Test
    void autoDropsTheLowestUsableCpuAndNeedsTwo()
    {
        assertNull(WorkerCpus.auto("0", "0"));
        assertEquals("1", WorkerCpus.auto("0-1", "0-1"));
        assertEquals("1,4", WorkerCpus.auto("0-1,4", null));
        assertEquals("5-7", WorkerCpus.auto("3,5-7", "0-63"));
        // The affinity mask names possible CPUs; only online ones count.
        assertNull(WorkerCpus.auto("0-3", "0"));
        assertEquals("2", WorkerCpus.auto("0-3", "1-2"));
        assertNull(WorkerCpus.auto("garbage", "0-3"));
        assertNull(WorkerCpus.auto("0-3", "garbage"));
        assertNull(WorkerCpus.auto(null, "0-3"));
    }

    @Test
    void allowedListIsReadFromAStatusFile() throws Exception
    {
        final Path status = Files.createTempFile("status", "");
        try
        {
            Files.writeString(status, "Name:\tjava\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t1\n");
            assertEquals("0-1", WorkerCpus.allowedList(status));
            Files.writeString(status, "Name:\tjava\n");
            assertNull(WorkerCpus.allowedList(status));
        }
        finally
        {
            Files.delete(status);
        }
        assertNull(WorkerCpus.allowedList(status));
        assertFalse(WorkerCpus.isList("0-1 "));
    }
}
