package io.offgrid.transport;

import java.io.File;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Names, creates and cleans media driver directories: {@code <parent>/offgrid-aeron-<pid>-<random>}. The pid
 * in the name lets a later process recognise a directory whose owner was killed and delete it.
 */
final class DriverDirectories
{
    static final String PREFIX = "offgrid-aeron-";
    private static final System.Logger LOG = System.getLogger("io.offgrid.transport");

    private DriverDirectories()
    {
    }

    static String defaultParent()
    {
        final File shm = new File("/dev/shm");
        return shm.isDirectory() && shm.canWrite() ? shm.getPath() : System.getProperty("java.io.tmpdir");
    }

    static String newDirectory(final String parent)
    {
        final long pid = ProcessHandle.current().pid();
        final String random = Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
        return new File(parent, PREFIX + pid + "-" + random).getPath();
    }

    /**
     * Deletes directories under {@code parent} left by processes that no longer exist.
     *
     * @return how many were deleted.
     */
    static int deleteStale(final String parent)
    {
        final File[] dirs = new File(parent).listFiles((dir, name) -> name.startsWith(PREFIX));
        int deleted = 0;
        if (null != dirs)
        {
            for (final File dir : dirs)
            {
                final long pid = ownerPid(dir.getName());
                if (pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                {
                    continue;
                }
                if (pid > 0 || pid == -1)
                {
                    LOG.log(System.Logger.Level.INFO, "deleting stale media driver directory " + dir);
                    delete(dir.toPath());
                    deleted++;
                }
            }
        }
        return deleted;
    }

    static long ownerPid(final String name)
    {
        if (!name.startsWith(PREFIX))
        {
            return 0;
        }
        final int end = name.indexOf('-', PREFIX.length());
        try
        {
            return Long.parseLong(end < 0 ? name.substring(PREFIX.length()) : name.substring(PREFIX.length(), end));
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }

    static void delete(final Path dir)
    {
        if (!Files.exists(dir))
        {
            return;
        }
        try
        {
            Files.walkFileTree(dir, new SimpleFileVisitor<>()
            {
                public FileVisitResult visitFile(final Path file, final BasicFileAttributes attrs) throws IOException
                {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                public FileVisitResult postVisitDirectory(final Path d, final IOException exc) throws IOException
                {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        }
        catch (final IOException ex)
        {
            LOG.log(System.Logger.Level.WARNING, "could not delete " + dir + ": " + ex);
        }
    }
}
