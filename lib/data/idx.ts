// The IDX format (as MNIST and Fashion-MNIST ship): two zero bytes, a type code, the number
// of dimensions, each dimension as a big-endian uint32, then the values big-endian, row-major.
// Files are read raw or gzipped (recognised by the gzip magic, not the file name).
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { MAX_FILE_BYTES, readRegularFile } from '../io/read-file.js';

export type IdxDType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxData {
  dtype: IdxDType;
  shape: number[];
  data: IdxArray;
}

const TYPE_CODES: Record<number, { dtype: IdxDType; bytes: number }> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

/** Reads an IDX file, raw or gzipped; throws an Error naming the file and the defect. */
export function loadIdx(path: string): IdxData {
  return parseIdx(readRegularFile('loadIdx', path), path);
}

/** Parses IDX bytes (raw or gzipped); `name` is used in error messages. */
export function parseIdx(bytes: Uint8Array, name = '<buffer>'): IdxData {
  const fail = (what: string): never => {
    throw new Error(`loadIdx: ${name} is not a valid IDX file: ${what}`);
  };
  let buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    // A gzip bomb must not inflate past what the IDX header claims: inflate a small prefix
    // first (at most ~1000x its size), read the claimed shape from it, then inflate the whole
    // stream with that many bytes (plus one, to see trailing bytes) as the output limit.
    let limit = MAX_FILE_BYTES;
    try {
      const head = gunzipSync(buf.subarray(0, 4096), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const claimed = claimedBytes(head);
      if (claimed !== null) {
        if (claimed > MAX_FILE_BYTES)
          fail(`the header claims ${claimed} bytes of data, more than the limit of ${MAX_FILE_BYTES}`);
        limit = claimed + 1;
      }
    } catch (e) {
      if ((e as Error).message.startsWith('loadIdx:')) throw e;
      // an unreadable prefix: the full inflate below reports the corrupt stream
    }
    try {
      buf = gunzipSync(buf, { maxOutputLength: limit });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
        fail(`the gzip data inflates past the ${limit - 1} bytes its IDX header claims (trailing bytes or a gzip bomb)`);
      fail(`corrupt or truncated gzip data (${(e as Error).message})`);
    }
  }
  if (buf.length < 4) fail(`only ${buf.length} bytes, shorter than the 4-byte magic number`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    fail(`bad magic number 0x${buf.readUInt32BE(0).toString(16).padStart(8, '0')} (the first two bytes must be zero)`);
  }
  const type = TYPE_CODES[buf[2]];
  if (!type) fail(`unknown type code 0x${buf[2].toString(16).padStart(2, '0')}`);
  const ndim = buf[3];
  if (ndim === 0) fail('zero dimensions');
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) fail(`truncated header: ${ndim} dimensions need ${headerBytes} bytes, file has ${buf.length}`);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const d = buf.readUInt32BE(4 + 4 * i);
    shape.push(d);
    count *= d;
  }
  const expected = headerBytes + count * type.bytes;
  if (buf.length !== expected) {
    const how = buf.length < expected ? 'truncated' : 'trailing bytes';
    fail(`${how}: shape [${shape.join(', ')}] of ${type.dtype} needs ${expected} bytes, file has ${buf.length}`);
  }
  return { dtype: type.dtype, shape, data: decode(buf, headerBytes, count, type.dtype) };
}

/** The total size an IDX header claims (header plus data), or null when `head` is too short. */
function claimedBytes(head: Buffer): number | null {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) return null;
  const type = TYPE_CODES[head[2]];
  const ndim = head[3];
  if (!type || head.length < 4 + 4 * ndim) return null;
  let count = 1;
  for (let i = 0; i < ndim; i++) count *= head.readUInt32BE(4 + 4 * i);
  return 4 + 4 * ndim + count * type.bytes;
}

function decode(buf: Buffer, offset: number, count: number, dtype: IdxDType): IdxArray {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(buf.subarray(offset, offset + count));
    case 'int8':
      return new Int8Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = buf.readInt16BE(offset + 2 * i);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = buf.readInt32BE(offset + 4 * i);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = buf.readFloatBE(offset + 4 * i);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = buf.readDoubleBE(offset + 8 * i);
      return out;
    }
  }
}
