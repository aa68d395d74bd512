// The Tensor: a contiguous row-major typed array with a shape, plus the autograd fields. Kept
// lean on purpose (a plain class with five fields): a small training step creates dozens of
// tensors, so each one must be cheap. The ops live in lib/ops/; the methods below delegate.

import type { FloatArray } from './backend/types.js';
import {
  DTYPES,
  allocStorage,
  convertStorage,
  dtypeList,
  dtypeOfStorage,
  isDType,
  type DType,
  type TensorData,
} from './dtype.js';
import type { Node } from './autograd/node.js';
import { backward as runBackward, type BackwardOptions } from './autograd/engine.js';
import { fillNormal, fillUniform } from './random.js';
import {
  add,
  div,
  maximum,
  minimum,
  mul,
  pow,
  sub,
  type AlphaOptions,
  type DivOptions,
  compare,
} from './ops/binary.js';
import { abs, exp, log, neg, sign, sqrt } from './ops/unary.js';
import { amax, amin, argmax, expand, max, mean, min, sum } from './ops/reduce.js';
import { clamp, cumsum, logsumexp, maskedFill, where } from './ops/select.js';
import {
  cat as catOp,
  flatten,
  indexSelect,
  narrow,
  permute,
  reshape,
  squeeze,
  stack as stackOp,
  transpose,
  unsqueeze,
} from './ops/shape.js';
import { matmul } from './ops/matmul.js';
import type { OutOptions } from './ops/out.js';
import {
  elu,
  gelu,
  leakyRelu,
  logSoftmax,
  relu,
  sigmoid,
  silu,
  softmax,
  softplus,
  tanh,
  type EluOptions,
  type SoftplusOptions,
  type GeluOptions,
  type SoftmaxOptions,
} from './ops/activation.js';
import { clone, toDtype } from './ops/copy.js';
import { formatTensor } from './tensor-format.js';
import { noteStorage } from './backend/memory.js';
import { bumpVersion, versionOf } from './autograd/version.js';
import { checkAllocation, checkDataLength } from './tensor-checks.js';
import { isArray, numel, showValue, type Indices, type TensorLike } from './ops/util.js';

export type { DType, FloatArray, TensorData };

/**
 * Nested arrays of numbers (booleans for bool tensors), as accepted by tensor() and returned by
 * toArray().
 */
export type NestedArray = number | boolean | NestedArray[];

/** A tensor whose storage the backend kernels take directly (float32 or float64). */
export type FloatTensor = Tensor & { data: FloatArray };

export type { BackwardOptions };

function shapeArgs(args: readonly (number | readonly number[])[]): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return (args[0] as readonly number[]).slice();
  return args as number[];
}

export class Tensor {
  /**
   * The storage: contiguous, row-major. Writes to it are visible to every view of the tensor.
   * Small op results are views into a shared, untransferable slab (see lib/ops/util.ts): send a
   * tensor to another thread with workers.packTensor (lib/workers/transfer.ts). float32/float64:
   * the values; bfloat16/float16: a Uint16Array of the raw bits; bool: a Uint8Array of 0/1.
   */
  data: TensorData;
  /** The element type (see lib/dtype.ts). */
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Whether gradients flow to this tensor (leaves: set by the user; results: by the ops). */
  requiresGrad: boolean;
  /** The accumulated gradient (leaves with requiresGrad), set by backward. */
  grad: Tensor | null = null;
  /** The op that produced this tensor; null for leaves. */
  gradFn: Node | null = null;

  /**
   * Wraps storage without copying. `dtype` is needed only for a Uint16Array (raw bfloat16 or
   * float16 bits); the other storages imply theirs.
   */
  constructor(data: TensorData, shape: readonly number[], requiresGrad = false, dtype?: DType) {
    checkDataLength(data, shape);
    this.data = data;
    this.shape = shape;
    this.requiresGrad = requiresGrad;
    const implied = dtypeOfStorage(data);
    if (dtype === undefined) {
      if (implied === undefined) {
        throw new TypeError("Tensor: a Uint16Array storage needs its dtype, 'bfloat16' or 'float16'");
      }
      dtype = implied;
    } else if (!(data instanceof DTYPES[dtype].storage)) {
      throw new TypeError(`Tensor: dtype '${dtype}' is stored in a ${DTYPES[dtype].storage.name}`);
    }
    this.dtype = dtype;
    noteStorage(data); // memory accounting (lib/backend/memory.ts)
  }

  get ndim(): number {
    return this.shape.length;
  }

  /**
   * Number of elements: the same as numel(). Kept because the API has always had it; note that
   * torch's size() is the shape, so prefer numel() in new code.
   */
  get size(): number {
    return this.data.length;
  }

  /** Number of elements (torch's numel()). */
  numel(): number {
    return this.data.length;
  }

  /** How many in-place writes the storage has seen (torch's _version; see autograd/version.ts). */
  get _version(): number {
    return versionOf(this.data);
  }

  /**
   * Declares that `data` was written in place (after `t.data[i] = v` or `t.data.set(...)`): bumps
   * the version, so a backward that saved this tensor refuses instead of using the new values.
   */
  markModified_(): this {
    bumpVersion(this.data);
    return this;
  }

  /** True for tensors not produced by a recorded op (user-created, or parameters). */
  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** Sets requiresGrad (leaves only) and returns this, like torch's requires_grad_(). */
  requiresGrad_(flag = true): this {
    if (this.gradFn !== null && !flag) {
      throw new Error('requiresGrad_: cannot turn off requiresGrad of a non-leaf tensor; use detach()');
    }
    this.requiresGrad = flag;
    return this;
  }

  // --- elementwise ----------------------------------------------------------------------------
  add(other: TensorLike, options?: AlphaOptions): Tensor {
    return add(this, other, options);
  }
  sub(other: TensorLike, options?: AlphaOptions): Tensor {
    return sub(this, other, options);
  }
  mul(other: TensorLike): Tensor {
    return mul(this, other);
  }
  div(other: TensorLike, options?: DivOptions): Tensor {
    return div(this, other, options);
  }
  pow(exponent: TensorLike): Tensor {
    return pow(this, exponent);
  }
  /** other - this */
  rsub(other: TensorLike): Tensor {
    return sub(other, this);
  }
  /** other / this */
  rdiv(other: TensorLike): Tensor {
    return div(other, this);
  }
  maximum(other: TensorLike): Tensor {
    return maximum(this, other);
  }
  minimum(other: TensorLike): Tensor {
    return minimum(this, other);
  }
  neg(): Tensor {
    return neg(this);
  }
  exp(): Tensor {
    return exp(this);
  }
  log(): Tensor {
    return log(this);
  }
  sqrt(): Tensor {
    return sqrt(this);
  }
  abs(): Tensor {
    return abs(this);
  }
  /** -1, 0 or 1 (not differentiable). */
  sign(): Tensor {
    return sign(this);
  }
  tanh(): Tensor {
    return tanh(this);
  }
  sigmoid(): Tensor {
    return sigmoid(this);
  }
  relu(): Tensor {
    return relu(this);
  }
  leakyRelu(negativeSlope = 0.01): Tensor {
    return leakyRelu(this, negativeSlope);
  }
  gelu(options?: GeluOptions): Tensor {
    return gelu(this, options);
  }
  softplus(options?: SoftplusOptions): Tensor {
    return softplus(this, options);
  }
  silu(): Tensor {
    return silu(this);
  }
  elu(options?: EluOptions): Tensor {
    return elu(this, options);
  }
  softmax(dim = -1, options?: SoftmaxOptions): Tensor {
    return softmax(this, dim, options);
  }
  logSoftmax(dim = -1, options?: SoftmaxOptions): Tensor {
    return logSoftmax(this, dim, options);
  }

  // Comparisons, as torch: a bool tensor (true where the comparison holds), not differentiable.
  gt(other: TensorLike): Tensor {
    return compare('gt', this, other);
  }
  lt(other: TensorLike): Tensor {
    return compare('lt', this, other);
  }
  ge(other: TensorLike): Tensor {
    return compare('ge', this, other);
  }
  le(other: TensorLike): Tensor {
    return compare('le', this, other);
  }
  eq(other: TensorLike): Tensor {
    return compare('eq', this, other);
  }
  ne(other: TensorLike): Tensor {
    return compare('ne', this, other);
  }

  /** torch.matmul; `{ out }` writes into a tensor of the result's shape and dtype (not under autograd). */
  matmul(other: Tensor, options?: OutOptions): Tensor {
    return matmul(this, other, options);
  }

  // --- reductions -----------------------------------------------------------------------------
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    return sum(this, dim, keepdim);
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    return mean(this, dim, keepdim);
  }
  /** Maximum values over dim (or all elements); indices: argmax. */
  max(dim?: number, keepdim = false): Tensor {
    return max(this, dim, keepdim);
  }
  min(dim?: number, keepdim = false): Tensor {
    return min(this, dim, keepdim);
  }
  argmax(dim?: number, keepdim = false): Tensor {
    return argmax(this, dim, keepdim);
  }
  /** torch.clamp: min(max(x, min), max); a null bound is absent. */
  clamp(min: number | null = null, max: number | null = null): Tensor {
    return clamp(this, min, max);
  }
  /** This where cond (bool) is true, else other. */
  where(cond: Tensor, other: Tensor | number): Tensor {
    return where(cond, this, other);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return maskedFill(this, mask, value);
  }
  cumsum(dim: number): Tensor {
    return cumsum(this, dim);
  }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor {
    return logsumexp(this, dim, keepdim);
  }
  amax(dim?: number | readonly number[], keepdim = false): Tensor {
    return amax(this, dim, keepdim);
  }
  amin(dim?: number | readonly number[], keepdim = false): Tensor {
    return amin(this, dim, keepdim);
  }

  // --- shape ----------------------------------------------------------------------------------
  /** A view with another shape (one dim may be -1); shares storage. */
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return reshape(this, shapeArgs(shape));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return reshape(this, shapeArgs(shape));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return transpose(this, dim0, dim1);
  }
  /** Transpose of a 2-D tensor (a 0-D or 1-D tensor is returned as is). */
  t(): Tensor {
    if (this.shape.length > 2)
      throw new Error(`t: expects a tensor with <= 2 dims, got shape [${this.shape.join(', ')}]`);
    return this.shape.length < 2 ? this : transpose(this, 0, 1);
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return permute(this, shapeArgs(dims));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return flatten(this, startDim, endDim);
  }
  squeeze(dim?: number): Tensor {
    return squeeze(this, dim);
  }
  unsqueeze(dim: number): Tensor {
    return unsqueeze(this, dim);
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return narrow(this, dim, start, length);
  }
  indexSelect(dim: number, indices: Indices): Tensor {
    return indexSelect(this, dim, indices);
  }
  /** Broadcasts to shape (a copy, NumPy rules). */
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return expand(this, shapeArgs(shape));
  }

  // --- autograd -------------------------------------------------------------------------------
  /**
   * Accumulates d(this)/d(leaf) into every leaf's .grad. `gradient` is required unless this is
   * a scalar (one element).
   */
  backward(gradient?: Tensor | null, opts?: BackwardOptions): void {
    runBackward([this], [gradient ?? null], opts);
  }

  /** The same storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false, this.dtype);
  }

  /** A copy (differentiable). */
  clone(): Tensor {
    return clone(this);
  }

  /** This tensor in another dtype (this itself when it already has it); differentiable. */
  to(dtype: DType): Tensor {
    return toDtype(this, dtype);
  }

  // --- reading --------------------------------------------------------------------------------
  /** The values as nested arrays (a number for a 0-D tensor); booleans for a bool tensor. */
  toArray(): NestedArray {
    const d = this.data;
    const shape = this.shape;
    const info = DTYPES[this.dtype];
    const value: (raw: number) => NestedArray = info.kind === 'bool' ? (raw) => raw !== 0 : info.decode;
    if (shape.length === 0) return value(d[0]);
    const build = (dim: number, offset: number, stride: number): NestedArray[] => {
      const n = shape[dim];
      const inner = stride / Math.max(n, 1);
      const out = new Array<NestedArray>(n);
      if (dim === shape.length - 1) for (let i = 0; i < n; i++) out[i] = value(d[offset + i]);
      else for (let i = 0; i < n; i++) out[i] = build(dim + 1, offset + i * inner, inner);
      return out;
    };
    let total = 1;
    for (const s of shape) total *= s;
    return build(0, 0, total);
  }

  /**
   * The value of a one-element tensor. A bool tensor gives 1 or 0 (typed as a number for every
   * dtype; toArray() gives booleans).
   */
  item(): number {
    if (this.data.length !== 1) {
      throw new Error(
        `item: only one-element tensors can be converted to a number, got shape [${this.shape.join(', ')}]`,
      );
    }
    return DTYPES[this.dtype].decode(this.data[0]);
  }

  toString(): string {
    return formatTensor(this);
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return formatTensor(this);
  }
}

// ---------------------------------------------------------------------------------------------
// Creation

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface TensorFromOptions extends TensorOptions {
  /** The shape of a flat typed array or number[] (default: 1-D). */
  shape?: readonly number[];
}

function checkDtype(op: string, dtype: unknown): DType {
  if (dtype === undefined) return 'float32';
  if (!isDType(dtype)) throw new TypeError(`${op}: dtype must be one of ${dtypeList()}, got ${showValue(dtype)}`);
  return dtype;
}

/** Zeroed storage for n elements of dtype. */
function allocate(dtype: DType, n: number, op = 'tensor'): TensorData {
  checkAllocation(op, dtype, n, DTYPES[dtype].itemsize);
  return allocStorage(dtype, n);
}

/**
 * Storage of dtype holding `values` (float64 values, as JavaScript numbers are): the array
 * itself for float64, else converted the way PyTorch converts a double.
 */
function fromFloat64(values: Float64Array, dtype: DType): TensorData {
  if (dtype === 'float64') return values;
  const out = allocate(dtype, values.length);
  convertStorage(values, 'float64', out, dtype);
  return out;
}

function checkShape(op: string, shape: number | readonly number[]): number[] {
  const s = typeof shape === 'number' ? [shape] : shape;
  if (!isArray(s)) throw new TypeError(`${op}: shape must be a number or an array of numbers`);
  for (const d of s) {
    if (!Number.isInteger(d) || d < 0)
      throw new RangeError(`${op}: invalid size ${String(d)} in shape [${s.join(', ')}]`);
  }
  return s.slice();
}

/**
 * A tensor from a number, a boolean, nested arrays, or a flat typed array / number[] with
 * `shape`. A Float32Array/Float64Array of the requested dtype is used as the storage without
 * copying; other typed arrays are converted (their values, float32 unless dtype says otherwise).
 * Booleans make a bool tensor unless dtype says otherwise. To wrap raw bfloat16/float16 bits,
 * use `new Tensor(bits, shape, false, dtype)`.
 */
export function tensor(
  values:
    | NestedArray
    | FloatArray
    | Int32Array
    | Uint8Array
    | Int8Array
    | Uint16Array
    | Int16Array
    | Uint32Array
    | readonly number[]
    | readonly boolean[],
  opts: TensorFromOptions = {},
): Tensor {
  let dtype = checkDtype('tensor', opts.dtype);
  let data: TensorData;
  let shape: number[];
  if (ArrayBuffer.isView(values)) {
    if (values instanceof DataView || values instanceof BigInt64Array || values instanceof BigUint64Array) {
      throw new TypeError('tensor: values must be a number, nested arrays of numbers, or a numeric typed array');
    }
    if (opts.dtype === undefined && values instanceof Float64Array) dtype = 'float64';
    const src = values as unknown as FloatArray;
    if (src instanceof DTYPES[dtype].storage && DTYPES[dtype].kernel) {
      data = src; // float32/float64 of the same dtype: no copy
    } else {
      // Integer typed arrays (labels, pixels) hold values: converted like float64 numbers.
      data = allocate(dtype, src.length);
      convertStorage(src, src instanceof Float32Array ? 'float32' : 'float64', data, dtype);
    }
    shape = opts.shape ? checkShape('tensor', opts.shape) : [src.length];
  } else if (typeof values === 'number' || typeof values === 'boolean') {
    if (opts.dtype === undefined && typeof values === 'boolean') dtype = 'bool';
    data = fromFloat64(Float64Array.of(Number(values)), dtype);
    shape = opts.shape ? checkShape('tensor', opts.shape) : [];
  } else if (isArray(values)) {
    shape = inferNestedShape(values);
    if (opts.dtype === undefined && firstLeaf(values) === 'boolean') dtype = 'bool';
    const flat = new Float64Array(numel(shape));
    fillNested(values, shape, 0, flat, 0);
    data = fromFloat64(flat, dtype);
    if (opts.shape) {
      if (shape.length !== 1) throw new Error('tensor: shape can only be given with flat values');
      shape = checkShape('tensor', opts.shape);
    }
  } else {
    throw new TypeError('tensor: values must be a number, nested arrays of numbers, or a Float32Array/Float64Array');
  }
  if (numel(shape) !== data.length) {
    throw new Error(`tensor: shape [${shape.join(', ')}] does not match ${data.length} values`);
  }
  if (opts.requiresGrad && DTYPES[dtype].kind !== 'float') {
    throw new TypeError(`tensor: only floating-point tensors can require gradients, got dtype '${dtype}'`);
  }
  return new Tensor(data, shape, opts.requiresGrad ?? false, dtype);
}

function inferNestedShape(values: readonly NestedArray[]): number[] {
  const shape: number[] = [];
  let cur: NestedArray | readonly NestedArray[] = values;
  while (isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return shape;
}

/** The type of the first scalar in nested arrays (what torch infers the dtype from). */
function firstLeaf(values: readonly NestedArray[]): string {
  let cur: NestedArray | readonly NestedArray[] = values;
  while (isArray(cur)) {
    if (cur.length === 0) return 'none';
    cur = cur[0];
  }
  return typeof cur;
}

function fillNested(
  v: readonly NestedArray[],
  shape: readonly number[],
  dim: number,
  out: Float64Array,
  offset: number,
): number {
  if (v.length !== shape[dim]) {
    throw new Error(`tensor: ragged nested array: expected ${shape[dim]} entries at depth ${dim}, got ${v.length}`);
  }
  const last = dim === shape.length - 1;
  for (let i = 0; i < v.length; i++) {
    const e = v[i];
    if (last) {
      if (typeof e === 'number') out[offset++] = e;
      else if (typeof e === 'boolean') out[offset++] = e ? 1 : 0;
      else
        throw new TypeError(
          `tensor: expected a number at depth ${dim}, got ${Array.isArray(e) ? 'an array' : typeof e}`,
        );
    } else {
      if (!Array.isArray(e)) throw new Error(`tensor: ragged nested array: expected an array at depth ${dim + 1}`);
      offset = fillNested(e, shape, dim + 1, out, offset);
    }
  }
  return offset;
}

function checkGrad(op: string, dtype: DType, requiresGrad: boolean | undefined): boolean {
  if (requiresGrad && DTYPES[dtype].kind !== 'float') {
    throw new TypeError(`${op}: only floating-point tensors can require gradients, got dtype '${dtype}'`);
  }
  return requiresGrad ?? false;
}

export function zeros(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  const s = checkShape('zeros', shape);
  const dtype = checkDtype('zeros', opts.dtype);
  return new Tensor(allocate(dtype, numel(s), 'zeros'), s, checkGrad('zeros', dtype, opts.requiresGrad), dtype);
}

export function ones(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function full(shape: number | readonly number[], value: number | boolean, opts: TensorOptions = {}): Tensor {
  const s = checkShape('full', shape);
  if (typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TypeError(`full: value must be a number or a boolean, got ${typeof value}`);
  }
  const dtype = opts.dtype === undefined && typeof value === 'boolean' ? 'bool' : checkDtype('full', opts.dtype);
  const data = allocate(dtype, numel(s), 'full').fill(DTYPES[dtype].encode(Number(value)));
  return new Tensor(data, s, checkGrad('full', dtype, opts.requiresGrad), dtype);
}

/** Random storage of a floating-point dtype: drawn in float32 (float64 when asked), then rounded. */
function randomStorage(op: string, opts: TensorOptions, s: number[], fill: (a: FloatArray) => FloatArray): Tensor {
  const n = numel(s);
  const dtype = checkDtype(op, opts.dtype);
  if (DTYPES[dtype].kind !== 'float')
    throw new TypeError(`${op}: dtype must be a floating-point dtype, got '${dtype}'`);
  checkAllocation(op, dtype, n, dtype === 'float64' ? 8 : 4);
  const drawn = fill(dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));
  let data: TensorData = drawn;
  if (!DTYPES[dtype].kernel) {
    data = allocate(dtype, n, op);
    convertStorage(drawn, 'float32', data, dtype);
  }
  return new Tensor(data, s, opts.requiresGrad ?? false, dtype);
}

/** Uniform on [0, 1), from the seeded generator. */
export function rand(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  const s = checkShape('rand', shape);
  return randomStorage('rand', opts, s, (a) => fillUniform(a));
}

/** Standard normal, from the seeded generator. */
export function randn(shape: number | readonly number[], opts: TensorOptions = {}): Tensor {
  const s = checkShape('randn', shape);
  return randomStorage('randn', opts, s, (a) => fillNormal(a));
}

export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return zeros(t.shape, { dtype: opts.dtype ?? t.dtype, requiresGrad: opts.requiresGrad });
}

export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor {
  return ones(t.shape, { dtype: opts.dtype ?? t.dtype, requiresGrad: opts.requiresGrad });
}

/** [start, end) with step; arange(n) is [0, n). */
export function arange(
  start: number,
  end?: number,
  step: number | TensorOptions = 1,
  opts: TensorOptions = {},
): Tensor {
  if (typeof step === 'object') {
    opts = step;
    step = 1;
  }
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (![start, end, step].every(Number.isFinite) || step === 0) {
    throw new RangeError(`arange: need finite start, end and a non-zero step, got ${start}, ${end}, ${step}`);
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = checkDtype('arange', opts.dtype);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return new Tensor(fromFloat64(values, dtype), [n], checkGrad('arange', dtype, opts.requiresGrad), dtype);
}

/** The n×m identity (m = n by default). */
export function eye(n: number, m: number | TensorOptions = n, opts: TensorOptions = {}): Tensor {
  if (typeof m === 'object') {
    opts = m;
    m = n;
  }
  const s = checkShape('eye', [n, m]);
  const dtype = checkDtype('eye', opts.dtype);
  const data = allocate(dtype, n * m, 'eye');
  const one = DTYPES[dtype].encode(1);
  for (let i = 0; i < Math.min(n, m); i++) data[i * m + i] = one;
  return new Tensor(data, s, checkGrad('eye', dtype, opts.requiresGrad), dtype);
}

/** Concatenates along an existing dim. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return catOp(tensors, dim);
}

/** Stacks along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return stackOp(tensors, dim);
}
