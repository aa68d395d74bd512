// Reading a whole file the loaders can trust: only a regular file (a FIFO would block forever,
// /dev/zero would never end, a directory is an error anyway), opened non-blocking so that opening
// a FIFO does not hang either, its size checked against the caller's limit before a byte is read,
// and exactly that many bytes read (a file that grows while being read is cut at the size seen).
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Files larger than this are refused by default (the largest a Buffer holds on 64-bit V8). */
export const MAX_FILE_BYTES = 2 ** 32;

function describeKind(st: {
  isDirectory(): boolean;
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
}): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Throws a TypeError naming `who` unless `path` is a non-empty string. */
export function checkPath(who: string, path: unknown): asserts path is string {
  if (typeof path !== 'string' || path.length === 0) {
    const got =
      typeof path === 'string'
        ? 'an empty string'
        : path === null
          ? 'null'
          : Array.isArray(path)
            ? 'an array'
            : typeof path;
    throw new TypeError(`${who}: path must be a non-empty string, got ${got}`);
  }
}

function refuse(who: string, path: string, what: string): never {
  throw new Error(`${who}: cannot read ${path}: ${what}`);
}

/** Reads `path` whole; `who` ("io.load", "loadIdx") starts every error message. */
export function readRegularFile(who: string, path: string, maxBytes = MAX_FILE_BYTES): Buffer {
  checkPath(who, path);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new Error(`${who}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) refuse(who, path, `it is ${describeKind(st)}, not a regular file`);
    if (st.size > maxBytes) refuse(who, path, `it has ${st.size} bytes, more than the limit of ${maxBytes}`);
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < st.size) {
      const n = readSync(fd, buf, done, st.size - done, done);
      if (n === 0) break; // truncated while reading: the parser reports the short file
      done += n;
    }
    return done === st.size ? buf : buf.subarray(0, done);
  } finally {
    closeSync(fd);
  }
}

/** readRegularFile without blocking the event loop. */
export async function readRegularFileAsync(who: string, path: string, maxBytes = MAX_FILE_BYTES): Promise<Buffer> {
  checkPath(who, path);
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new Error(`${who}: cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) refuse(who, path, `it is ${describeKind(st)}, not a regular file`);
    if (st.size > maxBytes) refuse(who, path, `it has ${st.size} bytes, more than the limit of ${maxBytes}`);
    const buf = Buffer.allocUnsafe(st.size);
    let done = 0;
    while (done < st.size) {
      const { bytesRead } = await handle.read(buf, done, st.size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === st.size ? buf : buf.subarray(0, done);
  } finally {
    await handle.close();
  }
}
