// Atomic file replacement: write a temporary file in the target's directory, fsync it, rename it
// over the target, fsync the directory. A reader sees the old file or the new one, never half of
// one; a failure (or a crash) before the rename leaves the old file untouched.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

export type ChunkWriter = (bytes: Uint8Array) => void;

/** Calls `produce` with a function that appends bytes, then atomically replaces `path`. */
export function writeFileAtomic(path: string, produce: (write: ChunkWriter) => void): void {
  const { target, dir, temp } = tempPathFor(path);
  removeStaleTemps(target);
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
  removeStaleTemps(target);
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

/**
 * Removes the temporaries that killed saves to `target` left behind (`.<name>.<pid>.<hex>.tmp`
 * of a process that no longer runs): a SIGKILL between open and rename cannot clean up, so the
 * next save to the same path does. Temporaries of live processes (saves in flight) are kept.
 */
export function removeStaleTemps(target: string): void {
  const dir = dirname(target);
  const prefix = `.${basename(target)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // the open of the temporary reports a missing folder
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
    } catch {
      // removed by another process's save at the same moment
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by another user
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
