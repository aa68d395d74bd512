// Atomic file replacement: write a temporary file in the target's directory, fsync it, rename it
// over the target, fsync the directory. A reader sees the old file or the new one, never half of
// one; a failure (or a crash) before the rename leaves the old file untouched.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

export type ChunkWriter = (bytes: Uint8Array) => void;

/** Calls `produce` with a function that appends bytes, then atomically replaces `path`. */
export function writeFileAtomic(path: string, produce: (write: ChunkWriter) => void): void {
  const { target, dir, temp } = tempPathFor(path);
  const fd = openSync(temp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      produce((bytes) => {
        let done = 0;
        while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
      });
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
    renamed = true;
    fsyncDirectory(dir);
  } finally {
    if (!renamed) {
      try {
        unlinkSync(temp);
      } catch {
        // already gone: nothing to clean up
      }
    }
  }
}

/** writeFileAtomic with asynchronous I/O: the event loop keeps running during writes and fsyncs. */
export async function writeFileAtomicAsync(path: string, bytes: Uint8Array): Promise<void> {
  const { target, dir, temp } = tempPathFor(path);
  const handle = await open(temp, 'wx', 0o644);
  let renamed = false;
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, target);
    renamed = true;
    try {
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      // as in fsyncDirectory: not every platform or filesystem syncs directories
    }
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}

function tempPathFor(path: string): { target: string; dir: string; temp: string } {
  const target = resolve(path);
  const dir = dirname(target);
  return { target, dir, temp: join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`) };
}

function fsyncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // some platforms cannot open directories; the rename itself has happened
  }
  try {
    fsyncSync(fd);
  } catch {
    // fsync on a directory is unsupported on some filesystems; the data file itself was synced
  } finally {
    closeSync(fd);
  }
}
