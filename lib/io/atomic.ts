// Atomic file replacement: write a temporary file in the target's directory, fsync it, rename it
// over the target, fsync the directory. A reader sees the old file or the new one, never half of
// one; a failure (or a crash) before the rename leaves the old file untouched.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';

export type ChunkWriter = (bytes: Uint8Array) => void;

/** Calls `produce` with a function that appends bytes, then atomically replaces `path`. */
export function writeFileAtomic(path: string, produce: (write: ChunkWriter) => void): void {
  const target = resolve(path);
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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
