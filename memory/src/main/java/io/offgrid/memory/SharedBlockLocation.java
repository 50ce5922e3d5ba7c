package io.offgrid.memory;

import java.nio.file.Path;

/**
 * Where a block lives in shared memory on this host: a file under the store's shared-memory
 * directory (normally in /dev/shm), an offset and a length. Another process maps it and copies the
 * block once at memory speed ({@link BlockStore#importShared(String, SharedBlockLocation)}).
 *
 * @param file   the backing file.
 * @param offset where the block starts in it.
 * @param length bytes of the whole block, header included.
 */
public record SharedBlockLocation(Path file, long offset, long length)
{
}
