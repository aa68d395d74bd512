// Helpers shared by the ops: shape rules, argument checks with clear messages, recording a node.

import type { FloatArray } from '../backend/types.js';
import { DTYPES, isHalfDType, isKernelDType, type DType, type KernelDType, type TensorData } from '../dtype.js';
import { Tensor, type FloatTensor } from '../tensor.js';
import { Node } from '../autograd/node.js';
import type { OpDef } from './registry.js';
import { isAnomalyEnabled, isGradEnabled } from '../autograd/mode.js';
import { markAsUntransferable } from 'node:worker_threads';
import { noteNode, noteRecycled, noteSlab, noteStorage } from '../backend/memory.js';
import { saveVersions } from '../autograd/version.js';

export type Scalar = number;
export type TensorLike = Tensor | number;
/** Class indices: a Tensor of integral values, an Int32Array or a number[]. */
export type Indices = Tensor | Int32Array | readonly number[];

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  return n;
}

/**
 * Array.isArray for arguments typed as arrays but checked anyway (JavaScript callers): the built-in
 * guard narrows a `readonly T[]` to `any[]`, this one keeps the element type.
 */
export function isArray(v: unknown): v is readonly unknown[] {
  return Array.isArray(v);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Op outputs of a few KiB are carved out of shared slabs. Allocating an ArrayBuffer of its own
// costs far more than the small kernels that fill it (a backing store, zeroing, GC tracking), and
// dominated the time of small training steps. A slab is never reused, only cut further, so every
// piece starts zeroed like a new array. A piece keeps its slab alive, which bounds the waste to
// SLAB_BYTES per long-lived small tensor. Arrays of at most 64 bytes live on V8's heap and are
// cheap already; large ones get their own buffer. Slabs are marked untransferable: a postMessage
// transfer list that names one (a tensor's data.buffer) then copies it or throws, instead of
// detaching it under every other tensor cut from it (lib/workers/transfer.ts packs tensors safely).
const SLAB_BYTES = 32768;
const SLAB_MAX_PIECE = 4096;
const ON_HEAP_BYTES = 64;
let slab = new ArrayBuffer(0);
let slabUsed = 0;

function carve(bytes: number): number {
  // Pieces start on 64-byte boundaries (cache lines, SIMD loads).
  const aligned = (bytes + 63) & ~63;
  if (slabUsed + aligned > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    noteSlab(slab);
    markAsUntransferable(slab);
    slabUsed = 0;
  }
  const offset = slabUsed;
  slabUsed += aligned;
  return offset;
}

export function alloc(dtype: KernelDType, n: number): FloatArray {
  const arr = allocUncounted(dtype, n);
  noteStorage(arr);
  return arr;
}

function allocUncounted(dtype: KernelDType, n: number): FloatArray {
  if (dtype === 'float64') {
    const bytes = n * 8;
    if (bytes <= ON_HEAP_BYTES || bytes > SLAB_MAX_PIECE) return new Float64Array(n);
    const offset = carve(bytes);
    return new Float64Array(slab, offset, n);
  }
  const bytes = n * 4;
  if (bytes <= ON_HEAP_BYTES || bytes > SLAB_MAX_PIECE) return new Float32Array(n);
  const offset = carve(bytes);
  return new Float32Array(slab, offset, n);
}

/** A new zeroed array of the same dtype as `like`. */
export function allocLike(like: FloatArray, n: number): FloatArray {
  return alloc(like instanceof Float64Array ? 'float64' : 'float32', n);
}

/**
 * An array of the dtype of `like` for a kernel output that the kernel overwrites entirely
 * (gemm with beta 0, unary, binary...). Large ones are not zeroed first: that pass over memory
 * cost as much as a small kernel and a tenth of a large MLP's step. Never use it for an output
 * that a kernel accumulates into (scatterAdd) or writes only in part.
 */
export function allocOut(like: FloatArray, n: number): FloatArray {
  const f64 = like instanceof Float64Array;
  const bytes = n * (f64 ? 8 : 4);
  if (bytes <= SLAB_MAX_PIECE) return alloc(f64 ? 'float64' : 'float32', n);
  const free = recycled.get(bytes);
  let buffer: ArrayBuffer;
  if (free !== undefined && free.length > 0) {
    buffer = free.pop()!;
    recycledBytes -= bytes;
  } else {
    // Not zero-filled: the kernel overwrites all of it.
    buffer = Buffer.allocUnsafeSlow(bytes).buffer;
  }
  const arr = f64 ? new Float64Array(buffer, 0, n) : new Float32Array(buffer, 0, n);
  noteStorage(arr);
  return arr;
}

/** Int32 indices with unspecified contents, for kernels that write every one. */
export function allocIndices(n: number): Int32Array {
  if (n * 4 <= SLAB_MAX_PIECE) return new Int32Array(n);
  return new Int32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}

// Large buffers the autograd engine knows to be dead (a gradient consumed by its node's rule
// and referenced by nothing else), kept for allocOut to hand out again. Fresh memory costs a
// page fault per 4 KiB on first touch, and V8 frees buffers only at GC, in bulk, which lets
// malloc return them to the OS: recycling saves that churn for the gradients of activations.
const recycled = new Map<number, ArrayBuffer[]>();
let recycledBytes = 0;
const RECYCLE_MAX_BYTES = 64 << 20;
const RECYCLE_MAX_PER_SIZE = 8;

/** Hands a dead array's storage back to allocOut (only whole large buffers of its own). */
export function recycle(arr: TensorData): void {
  const bytes = arr.byteLength;
  if (bytes <= SLAB_MAX_PIECE || arr.byteOffset !== 0) return;
  const buffer = arr.buffer;
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== bytes) return;
  if (recycledBytes + bytes > RECYCLE_MAX_BYTES) return;
  let free = recycled.get(bytes);
  if (free === undefined) recycled.set(bytes, (free = []));
  if (free.length >= RECYCLE_MAX_PER_SIZE || free.includes(buffer)) return;
  free.push(buffer);
  recycledBytes += bytes;
  noteRecycled(arr);
}

/**
 * Checks that t is a Tensor the kernels take (float32 or float64). The ops that do not yet run
 * on bfloat16, float16 or bool tensors refuse them here, by name.
 */
export function checkTensor(op: string, name: string, t: unknown): asserts t is FloatTensor {
  if (!(t instanceof Tensor)) {
    throw new TypeError(`${op}: ${name} must be a Tensor, got ${describe(t)}`);
  }
  if (!isKernelDType(t.dtype)) throw unsupportedDtype(op, name, t.dtype);
}

/** Checks that t is a Tensor of any dtype (ops that only move or convert storage). */
export function checkAnyTensor(op: string, name: string, t: unknown): asserts t is Tensor {
  if (!(t instanceof Tensor)) {
    throw new TypeError(`${op}: ${name} must be a Tensor, got ${describe(t)}`);
  }
}

export function unsupportedDtype(op: string, name: string, dtype: DType): TypeError {
  const hint = isHalfDType(dtype) ? `; convert with .to('float32') first` : `; convert with .to('float32')`;
  return new TypeError(`${op}: ${name} has dtype '${dtype}', which ${op} does not support (float32, float64)${hint}`);
}

/** t's storage as the kernels take it, for tensors known to be float32/float64 (gradients). */
export function floatData(t: Tensor): FloatArray {
  const d = t.data;
  if (d instanceof Float32Array || d instanceof Float64Array) return d;
  throw unsupportedDtype('backward', 'a gradient', t.dtype);
}

export function describe(v: unknown): string {
  switch (typeof v) {
    case 'object':
      if (v === null) return 'null';
      // Objects from Object.create(null) have no constructor.
      if (Array.isArray(v)) return 'an array';
      return withArticle(v.constructor?.name ?? 'object');
    default:
      return `${typeof v} ${String(v)}`;
  }
}

function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}

/** A bad argument as an error message shows it: a primitive as itself, an object by its kind. */
export function showValue(v: unknown): string {
  return typeof v === 'object' && v !== null ? describe(v) : String(v);
}

export function checkSameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.data.constructor !== b.data.constructor) {
    throw new TypeError(`${op}: dtype mismatch, ${a.dtype} and ${b.dtype}; convert one with .to(dtype)`);
  }
}

/** Normalises a possibly negative dim against ndim, with a clear error when out of range. */
export function normDim(op: string, dim: number, ndim: number): number {
  if (!Number.isInteger(dim)) throw new TypeError(`${op}: dim must be an integer, got ${String(dim)}`);
  const lo = ndim === 0 ? -1 : -ndim;
  const hi = ndim === 0 ? 0 : ndim - 1;
  if (dim < lo || dim > hi) {
    throw new RangeError(
      `${op}: dim ${dim} is out of range for a tensor with ${ndim} dimension${ndim === 1 ? '' : 's'} (expected ${lo}..${hi})`,
    );
  }
  return dim < 0 ? dim + Math.max(ndim, 1) : dim;
}

/** The NumPy broadcast of two shapes; throws naming the op and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else
      throw new Error(
        `${op}: shapes ${shapeStr(a)} and ${shapeStr(b)} cannot be broadcast together (dim ${i}: ${da} vs ${db})`,
      );
  }
  return out;
}

/** [outer, n, inner] view of a shape around axis `dim`. */
export function axisSplit(shape: readonly number[], dim: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < dim; i++) outer *= shape[i];
  for (let i = dim + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[dim] ?? 1, inner];
}

/** Converts class indices to an Int32Array, checking integrality and (when given) the bound. */
export function toIndexArray(op: string, indices: Indices, bound?: number): Int32Array {
  let out: Int32Array;
  if (indices instanceof Int32Array) {
    out = indices;
  } else if (indices instanceof Tensor) {
    out = copyIndices(op, indices.data);
  } else if (isArray(indices)) {
    out = copyIndices(op, indices);
  } else {
    throw new TypeError(
      `${op}: indices must be a Tensor of integral values, an Int32Array or a number[], got ${describe(indices)}`,
    );
  }
  if (bound !== undefined) {
    for (let i = 0; i < out.length; i++) {
      const v = out[i];
      if (v < 0 || v >= bound) throw new RangeError(`${op}: index ${v} at position ${i} is out of range [0, ${bound})`);
    }
  }
  return out;
}

function copyIndices(op: string, src: ArrayLike<number>): Int32Array {
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      throw new TypeError(`${op}: indices must be integers, got ${v} at position ${i}`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Finishes an op: records its node when grad mode is on, the op has a gradient and an input
 * requires grad, and checks the output when anomaly detection is on.
 */
export function record<S>(out: Tensor, op: OpDef<S>, inputs: Tensor[], saved: S): Tensor {
  if (isAnomalyEnabled()) checkFinite(out, `forward of '${op.name}'`);
  if (op.rule !== null && willRecord(inputs)) {
    out.requiresGrad = true;
    const node = new Node<S>(op, inputs, saved);
    node.versions = saveVersions(inputs, out);
    out.gradFn = node as Node;
    noteNode(out.gradFn, inputs, saved);
    if (recordSink !== null) recordSink.push(out.gradFn);
  }
  return out;
}

let recordSink: Node[] | null = null;

/**
 * Collects every node recorded from now on into `sink` (null: stop); returns the previous sink.
 * nn.utils.checkpoint uses it to find the graph a segment recorded, and to drop it.
 */
export function setRecordSink(sink: Node[] | null): Node[] | null {
  const prev = recordSink;
  recordSink = sink;
  return prev;
}

/**
 * Whether an op on these inputs will be recorded (grad mode on and an input requires grad): a
 * forward asks this to decide whether to keep what only a backward needs.
 */
export function willRecord(inputs: readonly Tensor[]): boolean {
  if (!isGradEnabled()) return false;
  for (let i = 0; i < inputs.length; i++) if (inputs[i].requiresGrad) return true;
  return false;
}

/** Throws when t holds NaN or Inf (anomaly detection). */
export function checkFinite(t: Tensor, where: string): void {
  const d = t.data;
  const decode = DTYPES[t.dtype].decode;
  for (let i = 0; i < d.length; i++) {
    const v = decode(d[i]);
    if (v - v !== 0) {
      throw new Error(
        `detectAnomaly: ${where} produced ${Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf'} at element ${i} (output shape ${shapeStr(t.shape)})`,
      );
    }
  }
}
