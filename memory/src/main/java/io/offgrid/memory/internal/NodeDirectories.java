package io.offgrid.memory.internal;

import org.agrona.IoUtil;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Per-process working directories named {@code <name>.<pid>}: created fresh at start, deleted at
 * close, and those whose process is gone (a crashed store) deleted by the next store to start
 * under the same parent.
 */
public final class NodeDirectories
{
    private NodeDirectories()
    {
    }

    /**
     * Remove leftovers of dead processes under {@code parent}, then create {@code parent/name.pid}
     * empty (wiping it if this very process left it behind).
     *
     * @param parent the parent directory, created if missing.
     * @param name   the store's name.
     * @return the new directory.
     * @throws IOException if it cannot be created.
     */
    public static Path create(final Path parent, final String name) throws IOException
    {
        final Path dir = parent.resolve(name + "." + ProcessHandle.current().pid());
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Files.createDirectories(parent);
                removeDead(parent);
                if (Files.exists(dir))
                {
                    IoUtil.delete(dir.toFile(), false);
                }
                Files.createDirectory(dir);
                return dir;
            }
            catch (final java.nio.file.NoSuchFileException ex)
            {
                // Another store removed the empty parent as it closed; try again.
                if (attempt == 3)
                {
                    throw ex;
                }
            }
        }
    }

    /**
     * Delete {@code dir} with its contents, then its parent if that is now empty, so a closed
     * store leaves nothing behind.
     *
     * @param dir a directory from {@link #create(Path, String)}.
     */
    public static void deleteWithEmptyParent(final Path dir)
    {
        delete(dir);
        try
        {
            Files.deleteIfExists(dir.getParent());
        }
        catch (final IOException ignore)
        {
            // Not empty: another store still lives there.
        }
    }

    /**
     * Delete every {@code *.pid} directory under {@code parent} whose process is not alive.
     *
     * @param parent directory to scan.
     * @return how many were removed.
     */
    public static int removeDead(final Path parent)
    {
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent))
        {
            for (final Path entry : entries)
            {
                final long pid = pidOf(entry.getFileName().toString());
                if (pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) == Boolean.FALSE)
                {
                    IoUtil.delete(entry.toFile(), true);
                    removed++;
                }
            }
        }
        catch (final IOException ignore)
        {
            // A parent we cannot list has nothing of ours to clean.
        }
        return removed;
    }

    /**
     * Delete a directory and everything in it.
     *
     * @param dir the directory.
     */
    public static void delete(final Path dir)
    {
        final File file = dir.toFile();
        if (file.exists())
        {
            IoUtil.delete(file, true);
        }
    }

    private static long pidOf(final String name)
    {
        final int dot = name.lastIndexOf('.');
        if (dot < 0 || dot == name.length() - 1)
        {
            return -1;
        }
        for (int i = dot + 1; i < name.length(); i++)
        {
            if (!Character.isDigit(name.charAt(i)))
            {
                return -1;
            }
        }
        try
        {
            return Long.parseLong(name.substring(dot + 1));
        }
        catch (final NumberFormatException ex)
        {
            return -1;
        }
    }
}
