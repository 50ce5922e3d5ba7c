package io.offgrid.transport;

import io.aeron.driver.ThreadingMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(60)
class DriverLifecycleTest
{
    @AfterEach
    void noDirectoriesLeft()
    {
        Nodes.assertNoDriverDirectories();
    }

    @Test
    void driverDirectoryIsUniqueUnderDevShmAndDeletedAtClose()
    {
        final String first;
        try (TransportDriver a = TransportDriver.launch(new TransportDriver.Context());
            TransportDriver b = TransportDriver.launch(new TransportDriver.Context().threadingMode(ThreadingMode.DEDICATED)))
        {
            first = a.aeronDirectoryName();
            assertTrue(first.startsWith(DriverDirectories.defaultParent() + "/" + DriverDirectories.PREFIX + ProcessHandle.current().pid() + "-"));
            assertTrue(new File(first).isDirectory());
            assertFalse(first.equals(b.aeronDirectoryName()));
        }
        assertFalse(new File(first).exists());
    }

    @Test
    void embeddedDriverOfANodeIsDeletedAtClose()
    {
        final TransportNode node = TransportNode.launch(new TransportNode.Context().nodeId(5).useAgentRunner(false));
        final String dir = node.aeronDirectoryName();
        assertTrue(new File(dir).isDirectory());
        node.close();
        assertFalse(new File(dir).exists());
        final TransportNode threaded = TransportNode.launch(new TransportNode.Context().nodeId(6));
        final String dir2 = threaded.aeronDirectoryName();
        threaded.close();
        assertFalse(new File(dir2).exists());
    }

    @Test
    void staleDirectoriesOfDeadProcessesAreDeletedOthersKept(@TempDir final Path parent) throws IOException
    {
        final long deadPid = deadPid();
        final Path stale = Files.createDirectories(parent.resolve(DriverDirectories.PREFIX + deadPid + "-abc"));
        Files.write(stale.resolve("cnc.dat"), new byte[128]);
        final Path live = Files.createDirectories(parent.resolve(DriverDirectories.PREFIX + ProcessHandle.current().pid() + "-def"));
        final Path other = Files.createDirectories(parent.resolve("someone-else"));
        assertEquals(1, DriverDirectories.deleteStale(parent.toString()));
        assertFalse(Files.exists(stale));
        assertTrue(Files.exists(live));
        assertTrue(Files.exists(other));

        final Path stale2 = Files.createDirectories(parent.resolve(DriverDirectories.PREFIX + deadPid + "-xyz"));
        try (TransportDriver driver = TransportDriver.launch(new TransportDriver.Context().parentDirectory(parent.toString())))
        {
            assertFalse(Files.exists(stale2), "cleaned when a driver starts");
            assertTrue(driver.aeronDirectoryName().startsWith(parent.toString()));
        }
        DriverDirectories.delete(live);
    }

    @Test
    void badConfigurationIsRefusedClearly()
    {
        assertThrows(TransportException.class, () -> new TransportNode.Context().conclude(), "node id required");
        assertThrows(TransportException.class, () -> new TransportNode.Context().nodeId(1).listenEndpoint("nohost").conclude());
        assertThrows(TransportException.class, () -> new TransportNode.Context().nodeId(1).chunkLength(64 * 1024 * 1024).conclude());
        assertThrows(TransportException.class, () -> new TransportNode.Context().nodeId(1).controlTermLength(1000).conclude());
        assertThrows(TransportException.class, () -> new TransportNode.Context().nodeId(1).heartbeatIntervalNs(10).peerTimeoutNs(5).conclude());
        assertThrows(TransportException.class, () -> new TransportNode.Context().nodeId(1).handler(5, (p, t, b, o, l) -> { }));
        assertThrows(TransportException.class, () -> new TransportDriver.Context().parentDirectory("/no/such/dir").conclude());
        assertTrue(TransportNode.isEndpoint("127.0.0.1:40123"));
        assertTrue(TransportNode.isEndpoint("worker-3.example.org:1"));
        assertFalse(TransportNode.isEndpoint("127.0.0.1:0"));
        assertFalse(TransportNode.isEndpoint("127.0.0.1:65536"));
        assertFalse(TransportNode.isEndpoint("a b:10"));
        assertFalse(TransportNode.isEndpoint(":10"));
    }

    private static long deadPid()
    {
        long pid = 4_000_000;
        while (ProcessHandle.of(pid).isPresent())
        {
            pid++;
        }
        return pid;
    }
}
