// Tensors across threads. A Tensor is a class instance over a typed array, and postMessage would
// send it as a plain object (its methods lost), cloning the typed array's *whole* buffer: for a
// small op result that is the 32 KiB slab it was carved from (lib/ops/util.ts). Transferring that
// buffer would have emptied every other tensor cut from the slab; slabs are now marked
// untransferable, so a transfer list naming one is ignored (Node 20: the slab is copied) or refused
// (Node >= 21: DataCloneError), and never detaches anything.
//
// The one safe way across is to pack: packTensor copies the values into a buffer that belongs to
// the packed tensor alone, so transferring it (transferListOf) moves only that copy; unpackTensor
// rebuilds a Tensor over it on the other side. packStateDict puts a whole state dict into one
// buffer (an ArrayBuffer to transfer, or a SharedArrayBuffer to share read-only between threads).
import { Tensor } from '../tensor.js';
import { DTYPES, type DType, type TensorData } from '../dtype.js';

/** A tensor as a message: plain data that structured clone carries intact. */
export interface PackedTensor {
  readonly kind: 'backprop.tensor';
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** The values, in a buffer of their own (byteOffset 0, byteLength = the values' bytes). */
  readonly data: TensorData;
}

/** A state dict in one buffer: entry i is `names[i]`, at `offsets[i]` bytes, `shapes[i]`, `dtypes[i]`. */
export interface PackedStateDict {
  readonly kind: 'backprop.stateDict';
  readonly names: readonly string[];
  readonly dtypes: readonly DType[];
  readonly shapes: readonly (readonly number[])[];
  readonly offsets: readonly number[];
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}

function infoOf(op: string, dtype: unknown): (typeof DTYPES)[DType] {
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPES, dtype))
    throw new TypeError(`${op}: unknown dtype ${String(dtype)}`);
  return DTYPES[dtype as DType];
}

function arrayFor(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData {
  // Every storage constructor takes (buffer, byteOffset, length); TypeScript cannot call a union of them.
  const Storage = DTYPES[dtype].storage as unknown as new (b: ArrayBufferLike, o: number, n: number) => TensorData;
  return new Storage(buffer, byteOffset, length);
}

function numelOf(op: string, shape: unknown): number {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: shape must be an array of sizes`);
  let n = 1;
  for (const d of shape as unknown[]) {
    if (!Number.isInteger(d) || (d as number) < 0) throw new RangeError(`${op}: invalid size ${String(d)} in shape`);
    n *= d as number;
  }
  return n;
}

/** Copies t's values into a buffer of their own, ready to post (and to transfer: transferListOf). */
export function packTensor(t: Tensor): PackedTensor {
  if (!(t instanceof Tensor)) throw new TypeError('packTensor: expected a Tensor');
  // slice() copies into a new ArrayBuffer that holds exactly these values.
  return { kind: 'backprop.tensor', dtype: t.dtype, shape: t.shape.slice(), data: t.data.slice() };
}

export function isPackedTensor(v: unknown): v is PackedTensor {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'backprop.tensor';
}

/** A Tensor over a received PackedTensor's values (no copy: the message's buffer is its storage). */
export function unpackTensor(p: PackedTensor): Tensor {
  if (!isPackedTensor(p)) throw new TypeError('unpackTensor: expected a packed tensor (from packTensor)');
  const n = numelOf('unpackTensor', p.shape);
  const data = p.data;
  if (!(data instanceof infoOf('unpackTensor', p.dtype).storage))
    throw new TypeError(`unpackTensor: data is not the storage of dtype ${String(p.dtype)}`);
  if (data.length !== n)
    throw new RangeError(`unpackTensor: ${data.length} values for shape [${p.shape.join(', ')}] (${n} elements)`);
  return new Tensor(data, p.shape.slice(), false, p.dtype);
}

/**
 * Deep copy of a value (state dicts, optimizer state, logs) with every Tensor packed, so that
 * postMessage carries it whole; unpackValue reverses it. Other values go through structured clone
 * as they are.
 */
export function packValue(value: unknown): unknown {
  if (value instanceof Tensor) return packTensor(value);
  if (Array.isArray(value)) return value.map(packValue);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = packValue(v);
    return out;
  }
  return value;
}

export function unpackValue(value: unknown): unknown {
  if (isPackedTensor(value)) return unpackTensor(value);
  if (Array.isArray(value)) return value.map(unpackValue);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = unpackValue(v);
    return out;
  }
  return value;
}

/** The buffers of the packed tensors inside a packed value: the transfer list that moves them. */
export function transferListOf(packed: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const walk = (v: unknown): void => {
    if (isPackedTensor(v)) {
      if (v.data.buffer instanceof ArrayBuffer) out.push(v.data.buffer);
    } else if (isPackedStateDict(v)) {
      if (v.buffer instanceof ArrayBuffer) out.push(v.buffer);
    } else if (Array.isArray(v)) {
      for (const x of v) walk(x);
    } else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      for (const x of Object.values(v)) walk(x);
    }
  };
  walk(packed);
  return out;
}

const ALIGN = 64;

/**
 * The tensors of a state dict copied into one buffer: an ArrayBuffer (post it with
 * transferListOf to move it without a copy) or, with `shared`, a SharedArrayBuffer that several
 * threads read. Nothing writes to a packed buffer after packing: a new version is a new buffer.
 */
export function packStateDict(sd: Record<string, Tensor>, options: { shared?: boolean } = {}): PackedStateDict {
  if (sd === null || typeof sd !== 'object')
    throw new TypeError('packStateDict: expected a state dict (name → Tensor)');
  const names: string[] = [];
  const dtypes: DType[] = [];
  const shapes: number[][] = [];
  const offsets: number[] = [];
  const tensors: Tensor[] = [];
  let bytes = 0;
  for (const [name, t] of Object.entries(sd)) {
    if (!(t instanceof Tensor)) throw new TypeError(`packStateDict: '${name}' is not a Tensor`);
    names.push(name);
    dtypes.push(t.dtype);
    shapes.push(t.shape.slice());
    offsets.push(bytes);
    tensors.push(t);
    bytes += Math.ceil(t.data.byteLength / ALIGN) * ALIGN;
  }
  const buffer = options.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  for (let i = 0; i < tensors.length; i++) {
    const d = tensors[i].data;
    arrayFor(dtypes[i], buffer, offsets[i], d.length).set(d);
  }
  return { kind: 'backprop.stateDict', names, dtypes, shapes, offsets, buffer };
}

export function isPackedStateDict(v: unknown): v is PackedStateDict {
  return typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'backprop.stateDict';
}

/**
 * The state dict of a PackedStateDict, as Tensors that view its buffer (no copy). Over a
 * SharedArrayBuffer these are read-only by contract: load them into a model
 * (module.loadStateDict copies) rather than computing with them.
 */
export function unpackStateDict(p: PackedStateDict): Record<string, Tensor> {
  if (!isPackedStateDict(p)) throw new TypeError('unpackStateDict: expected a packed state dict (from packStateDict)');
  const sd: Record<string, Tensor> = {};
  for (let i = 0; i < p.names.length; i++) {
    const n = numelOf('unpackStateDict', p.shapes[i]);
    const bytesPer = infoOf('unpackStateDict', p.dtypes[i]).itemsize;
    if (!Number.isInteger(p.offsets[i]) || p.offsets[i] < 0 || p.offsets[i] + n * bytesPer > p.buffer.byteLength)
      throw new RangeError(`unpackStateDict: '${p.names[i]}' lies outside the buffer`);
    sd[p.names[i]] = new Tensor(
      arrayFor(p.dtypes[i], p.buffer, p.offsets[i], n),
      p.shapes[i].slice(),
      false,
      p.dtypes[i],
    );
  }
  return sd;
}
