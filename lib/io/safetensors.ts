// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON ({ name: { dtype, shape, data_offsets: [begin, end] },
// "__metadata__"?: { string: string } }, padded with spaces), then the byte buffer. Offsets are
// relative to the start of the buffer, which the tensors must cover without overlaps or holes.
// This file works on plain typed arrays; lib/io/index.ts wraps it for Tensors.
import { readRegularFile, readRegularFileAsync } from './read-file.js';
import { endianness } from 'node:os';
import { writeFileAtomic, writeFileAtomicAsync } from './atomic.js';
import { DTYPES, type DType, type TensorData } from '../dtype.js';

export type FloatArray = Float32Array | Float64Array;

export interface RawTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** The storage as lib/dtype.ts lays it out (raw bits for the 16-bit floats, 0/1 for bool). */
  readonly data: TensorData;
}

export interface DecodedTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** A file's tensors by name and its string metadata (`__metadata__`, {} when absent). */
export interface DecodedFile {
  tensors: Record<string, DecodedTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};
/** The safetensors tags backprop reads, each to the dtype that has it in lib/dtype.ts. */
const READ_DTYPES = new Map<string, DType>(Object.values(DTYPES).map((d) => [d.safetensors, d.name]));
/** The reference implementation refuses larger headers; so do we (protects against garbage). */
const MAX_HEADER = 100_000_000;

function requireLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported');
}

interface Encoded {
  prefix: Buffer;
  header: Buffer;
  /** The tensors' data in file order, read when called (the sync writer streams them). */
  chunks: (() => Uint8Array)[];
}

/** Checks the tensors and lays out the file: header length, padded JSON header, data order. */
function encode(path: string, tensors: Record<string, RawTensor>, metadata?: Record<string, string>): Encoded {
  requireLittleEndian();
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (name === '__metadata__' || name.length === 0)
      throw new Error(`io.save(${path}): invalid tensor name '${name}'`);
    const code = Object.prototype.hasOwnProperty.call(DTYPES, t.dtype) ? DTYPES[t.dtype].safetensors : undefined;
    if (!code) throw new Error(`io.save(${path}): tensor '${name}' has unsupported dtype ${String(t.dtype)}`);
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) {
      throw new Error(
        `io.save(${path}): tensor '${name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`,
      );
    }
    return { name, shape: [...t.shape], tensor: t, code, bytes: size * BYTES[code] };
  });
  // Larger elements first, then by name: every tensor starts aligned to its element size,
  // and the same tensors always give the same bytes.
  entries.sort((a, b) => BYTES[b.code] - BYTES[a.code] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`io.save(${path}): metadata '${k}' must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.code, shape: e.shape, data_offsets: [offset, offset + e.bytes] };
    offset += e.bytes;
  }
  let json = JSON.stringify(header);
  const rawLength = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + rawLength) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const chunks = entries.map((e) => () => {
    const d = e.tensor.data;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  });
  return { prefix, header: headerBytes, chunks };
}

/** Writes tensors (and optional string metadata) to `path` atomically. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  const { prefix, header, chunks } = encode(path, tensors, metadata);
  writeFileAtomic(path, (write) => {
    write(prefix);
    write(header);
    for (const c of chunks) write(c());
  });
}

/**
 * Like writeSafetensors without blocking the event loop on disk I/O and fsync. The values are
 * copied first, so tensors changed while the write is in flight (training goes on) are saved
 * as they were at the call.
 */
export async function writeSafetensorsAsync(
  path: string,
  tensors: Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  const { prefix, header, chunks } = encode(path, tensors, metadata);
  await writeFileAtomicAsync(path, Buffer.concat([prefix, header, ...chunks.map((c) => c())]));
}

/** Reads a safetensors file; a corrupt or truncated file throws an Error naming it and the defect. */
export function readSafetensors(path: string): DecodedFile {
  return decodeSafetensors(readRegularFile('io.load', path), path);
}

/** Like readSafetensors, reading the file without blocking the event loop. */
export async function readSafetensorsAsync(path: string): Promise<DecodedFile> {
  return decodeSafetensors(await readRegularFileAsync('io.load', path), path);
}

/** Parses safetensors bytes; `name` is used in error messages. */
export function decodeSafetensors(bytes: Uint8Array, name = '<buffer>'): DecodedFile {
  requireLittleEndian();
  const fail = (what: string): never => {
    throw new Error(`io.load: ${name} is not a valid safetensors file: ${what}`);
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8) fail(`only ${buf.length} bytes, shorter than the 8-byte header length`);
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} is larger than the limit of ${MAX_HEADER} bytes`);
  const headerLength = Number(n);
  if (8 + headerLength > buf.length)
    fail(`header length ${headerLength} runs past the end of the file (${buf.length} bytes; truncated?)`);
  const text = buf.toString('utf8', 8, 8 + headerLength);
  if (!text.startsWith('{')) fail('the header does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const body = buf.subarray(8 + headerLength);

  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number; dtype: string; count: number; shape: number[] }[] = [];
  const tensors: Record<string, DecodedTensor> = {};
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ is not an object');
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(`__metadata__ value '${mk}' is not a string`);
        Object.defineProperty(metadata, mk, { value: mv, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(`entry '${key}' is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string' || !(dtype in BYTES))
      fail(`tensor '${key}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!READ_DTYPES.has(dtype as string)) {
      fail(
        `tensor '${key}' has dtype ${String(dtype)}, which backprop cannot load (it reads ${[...READ_DTYPES.keys()].join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${key}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`tensor '${key}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > body.length) {
      fail(`tensor '${key}' has data_offsets [${begin}, ${end}] outside the ${body.length}-byte data buffer`);
    }
    const dims = shape as number[];
    const count = dims.reduce((a, b) => a * b, 1);
    const expected = count * BYTES[dtype as string];
    if (end - begin !== expected) {
      fail(
        `tensor '${key}' has shape [${dims.join(', ')}] of ${String(dtype)} (${expected} bytes) but data_offsets span ${end - begin} bytes`,
      );
    }
    spans.push({ name: key, begin, end, dtype: dtype as string, count, shape: dims });
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const s of spans) {
    if (s.begin < covered)
      fail(`tensor '${s.name}' overlaps the previous tensor (data_offsets start at ${s.begin}, before ${covered})`);
    if (s.begin > covered)
      fail(`the data buffer has a hole at bytes [${covered}, ${s.begin}) before tensor '${s.name}'`);
    covered = s.end;
  }
  if (covered !== body.length)
    fail(`${body.length - covered} bytes after the last tensor are not covered by any tensor`);
  // Only now, with the whole header valid (no overlaps: the copies add up to the file's size),
  // is anything copied. defineProperty: a tensor named '__proto__' stays an own entry.
  for (const s of spans) {
    const t = { ...convert(body.subarray(s.begin, s.end), s.dtype, s.count), shape: s.shape };
    Object.defineProperty(tensors, s.name, { value: t, enumerable: true, writable: true, configurable: true });
  }
  return { tensors, metadata };
}

function convert(bytes: Buffer, code: string, count: number): { dtype: DType; data: TensorData } {
  // Copy into a fresh, aligned ArrayBuffer: the result owns its memory.
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  const dtype = READ_DTYPES.get(code)!;
  const data = new DTYPES[dtype].storage(copy.buffer, 0, count);
  // A bool byte other than 0 is true (safetensors stores 0/1; be lenient with other writers).
  if (dtype === 'bool') for (let i = 0; i < count; i++) if (data[i] > 1) data[i] = 1;
  return { dtype, data };
}
