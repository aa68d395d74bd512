// The pure-TypeScript backend: the reference the native kernels are tested against, the fallback
// where the addon cannot load, and the baseline of the benchmarks. Plain loops, written to be read.
//
// Precision: JS arithmetic is float64; for Float32Array every value and running sum is rounded to
// float32 where it is stored (typed-array stores, or fround), so results accumulate in the array's
// own precision as the native kernels do.

import {
  BinaryOp, ReduceOp, UnaryOp,
  type Backend, type BackendInfo, type FloatArray,
} from './types.js';
import { checkAtLeast, checkFloatArray, checkInt32Array, describe } from './js-checks.js';
import { convKernels } from './js-conv.js';
import { rnnKernels } from './js-rnn.js';

// ---------------------------------------------------------------------------------------------
// Argument checks. The native side checks the same things and throws the same error classes:
// TypeError for a wrong kind of value, RangeError for a wrong size, length or index.

const MAX_DIMS = 8;

/** Checks that every array is a FloatArray of the same dtype as the first. */
function checkSameDtype(op: string, arrays: Record<string, unknown>): void {
  let first: FloatArray | undefined;
  let firstName = '';
  for (const [name, v] of Object.entries(arrays)) {
    checkFloatArray(op, name, v);
    if (first === undefined) {
      first = v;
      firstName = name;
    } else if (v.constructor !== first.constructor) {
      throw new TypeError(`${op}: ${name} is a ${v.constructor.name} but ${firstName} is a ${first.constructor.name}; all arrays must share one dtype`);
    }
  }
}

function checkSize(op: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`${op}: ${name} must be a non-negative integer, got ${v}`);
  }
}

function checkNumber(op: string, name: string, v: unknown): asserts v is number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describe(v)}`);
}

function checkBoolean(op: string, name: string, v: unknown): asserts v is boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${op}: ${name} must be a boolean, got ${describe(v)}`);
}

function checkLength(op: string, name: string, arr: ArrayLike<number>, expected: number): void {
  if (arr.length !== expected) {
    throw new RangeError(`${op}: ${name} has length ${arr.length}, expected ${expected}`);
  }
}

/** Product of sizes, refusing sizes whose element count could not be addressed. */
function checkedProduct(op: string, what: string, sizes: readonly number[]): number {
  let p = 1;
  for (const s of sizes) p *= s;
  if (!Number.isSafeInteger(p)) throw new RangeError(`${op}: ${what} has too many elements`);
  return p;
}

function checkShape(op: string, name: string, shape: unknown): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${op}: ${name} must be an array of sizes, got ${describe(shape)}`);
  if (shape.length > MAX_DIMS) throw new RangeError(`${op}: ${name} has ${shape.length} dims, at most ${MAX_DIMS} are supported`);
  shape.forEach((s, i) => checkSize(op, `${name}[${i}]`, s));
}

const opCodes = new Map<object, ReadonlySet<number>>([
  [UnaryOp, new Set(Object.values(UnaryOp))],
  [BinaryOp, new Set(Object.values(BinaryOp))],
  [ReduceOp, new Set(Object.values(ReduceOp))],
]);

function checkOpCode(op: string, table: Record<string, number>, code: unknown): void {
  if (typeof code !== 'number') throw new TypeError(`${op}: op must be a numeric op code, got ${describe(code)}`);
  if (!opCodes.get(table)?.has(code)) throw new RangeError(`${op}: unknown op code ${code}`);
}

/** Rounds a float64 value to the precision of the array it belongs to. */
function rounderFor(a: FloatArray): (v: number) => number {
  return a instanceof Float32Array ? Math.fround : (v) => v;
}

// ---------------------------------------------------------------------------------------------
// erf and erfc in float64, accurate to a few ulp (the exact GELU needs them; JS has no Math.erf).
// |x| < 1.5: the series erf(x) = 2/sqrt(pi) * x * e^(-x^2) * sum_n (2x^2)^n / (1*3*...*(2n+1)),
//            whose terms are all positive (no cancellation).
// |x| >= 1.5: erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
//            a continued fraction evaluated by the modified Lentz method; erf = 1 - erfc.

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_PI = 0.5641895835477563;
const INV_SQRT_2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;
const ERF_SERIES_LIMIT = 1.5;

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = 1;
  let sum = 1;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * x * Math.exp(-x2) * sum;
}

/** erfc(x) for x >= ERF_SERIES_LIMIT. */
function erfcContinuedFraction(x: number): number {
  if (x > 27) return 0; // below the smallest subnormal
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let i = 1; i < 500; i++) {
    const a = i / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (Math.exp(-x * x) * INV_SQRT_PI) / f;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < ERF_SERIES_LIMIT) return erfSeries(x);
  const r = 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= ERF_SERIES_LIMIT) return erfcContinuedFraction(x);
  if (x <= -ERF_SERIES_LIMIT) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x);
}

/** Phi(x), the standard normal CDF, written with erfc so its left tail keeps relative accuracy. */
function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT_2);
}

// ---------------------------------------------------------------------------------------------
// GEMM

function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: FloatArray, b: FloatArray, beta: number, c: FloatArray,
  batch = 1, strideA = m * k, strideB = k * n, strideC = m * n,
  aOffset = 0, bOffset = 0, cOffset = 0,
): void {
  const op = 'gemm';
  checkBoolean(op, 'transA', transA);
  checkBoolean(op, 'transB', transB);
  checkSize(op, 'm', m);
  checkSize(op, 'n', n);
  checkSize(op, 'k', k);
  checkNumber(op, 'alpha', alpha);
  checkNumber(op, 'beta', beta);
  checkSameDtype(op, { a, b, c });
  checkSize(op, 'batch', batch);
  checkSize(op, 'strideA', strideA);
  checkSize(op, 'strideB', strideB);
  checkSize(op, 'strideC', strideC);
  checkSize(op, 'aOffset', aOffset);
  checkSize(op, 'bOffset', bOffset);
  checkSize(op, 'cOffset', cOffset);
  checkedProduct(op, 'A', [m, k]);
  checkedProduct(op, 'B', [k, n]);
  checkedProduct(op, 'C', [m, n]);
  if (batch > 1 && m * n > 0 && strideC === 0) {
    throw new RangeError(`${op}: strideC must not be 0 when batch > 1 (the ${batch} outputs would overwrite each other)`);
  }
  const needs = (name: string, arr: FloatArray, offset: number, stride: number, size: number): void => {
    if (batch === 0 || size === 0) return;
    const end = offset + (batch - 1) * stride + size;
    if (end > arr.length) {
      throw new RangeError(`${op}: ${name} has length ${arr.length}, but batch ${batch} with offset ${offset} and stride ${stride} of ${size} elements needs ${end}`);
    }
  };
  needs('a', a, aOffset, strideA, m * k);
  needs('b', b, bOffset, strideB, k * n);
  needs('c', c, cOffset, strideC, m * n);

  // One output row is accumulated in a scratch row of C's own dtype, then scaled into C.
  const Row = c instanceof Float32Array ? Float32Array : Float64Array;
  const acc = new Row(n);
  // A transposed B is first copied into k×n order, so that the inner loop always walks a row of
  // op(B) and the accumulator row contiguously (i-k-j order).
  const bT = transB ? new Row(k * n) : null;
  let bTFor = -1; // the B offset bT was copied from (a stride-0 B is copied once)
  for (let bi = 0; bi < batch; bi++) {
    const a0 = aOffset + bi * strideA;
    const c0 = cOffset + bi * strideC;
    let opB: FloatArray = b;
    let b0 = bOffset + bi * strideB;
    if (bT !== null && alpha !== 0) {
      if (bTFor !== b0) {
        for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) bT[p * n + j] = b[b0 + j * k + p];
        bTFor = b0;
      }
      opB = bT;
      b0 = 0;
    }
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      // BLAS convention: alpha = 0 (or k = 0) does not read A and B at all.
      if (alpha !== 0) {
        for (let p = 0; p < k; p++) {
          const aip = transA ? a[a0 + p * m + i] : a[a0 + i * k + p];
          const bRow = b0 + p * n;
          for (let j = 0; j < n; j++) acc[j] += aip * opB[bRow + j];
        }
      }
      const cRow = c0 + i * n;
      for (let j = 0; j < n; j++) {
        c[cRow + j] = beta === 0 ? alpha * acc[j] : alpha * acc[j] + beta * c[cRow + j];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Elementwise unary

function checkUnaryOp(op: string, code: unknown): asserts code is UnaryOp {
  checkOpCode(op, UnaryOp, code);
}

function unary(op: UnaryOp, x: FloatArray, y: FloatArray, alpha: number): void {
  const name = 'unary';
  checkUnaryOp(name, op);
  checkSameDtype(name, { x, y });
  checkLength(name, 'y', y, x.length);
  checkNumber(name, 'alpha', alpha);
  const len = x.length;
  switch (op) {
    case UnaryOp.relu:
      for (let i = 0; i < len; i++) y[i] = Math.max(x[i], 0); // NaN stays NaN, as in torch
      break;
    case UnaryOp.leakyRelu:
      for (let i = 0; i < len; i++) { const v = x[i]; y[i] = v > 0 ? v : alpha * v; }
      break;
    case UnaryOp.sigmoid:
      // Two forms so exp never overflows into Inf/Inf.
      for (let i = 0; i < len; i++) {
        const v = x[i];
        if (v >= 0) {
          y[i] = 1 / (1 + Math.exp(-v));
        } else {
          const e = Math.exp(v);
          y[i] = e / (1 + e);
        }
      }
      break;
    case UnaryOp.tanh:
      for (let i = 0; i < len; i++) y[i] = Math.tanh(x[i]);
      break;
    case UnaryOp.gelu:
      for (let i = 0; i < len; i++) { const v = x[i]; y[i] = v * normalCdf(v); }
      break;
    case UnaryOp.exp:
      for (let i = 0; i < len; i++) y[i] = Math.exp(x[i]);
      break;
    case UnaryOp.log:
      for (let i = 0; i < len; i++) y[i] = Math.log(x[i]);
      break;
    case UnaryOp.sqrt:
      for (let i = 0; i < len; i++) y[i] = Math.sqrt(x[i]);
      break;
    case UnaryOp.abs:
      for (let i = 0; i < len; i++) y[i] = Math.abs(x[i]);
      break;
    case UnaryOp.neg:
      for (let i = 0; i < len; i++) y[i] = -x[i];
      break;
    case UnaryOp.sign:
      // -1, 0 or 1; NaN stays NaN, as torch.sign.
      for (let i = 0; i < len; i++) y[i] = Math.sign(x[i]);
      break;
  }
}

function unaryBackward(op: UnaryOp, x: FloatArray, y: FloatArray, gy: FloatArray, gx: FloatArray, alpha: number): void {
  const name = 'unaryBackward';
  checkUnaryOp(name, op);
  checkSameDtype(name, { x, y, gy, gx });
  checkLength(name, 'y', y, x.length);
  checkLength(name, 'gy', gy, x.length);
  checkLength(name, 'gx', gx, x.length);
  checkNumber(name, 'alpha', alpha);
  const len = x.length;
  switch (op) {
    case UnaryOp.relu:
      // torch: the gradient is 0 where x <= 0 (0 at x = 0).
      for (let i = 0; i < len; i++) gx[i] = x[i] > 0 ? gy[i] : 0;
      break;
    case UnaryOp.leakyRelu:
      for (let i = 0; i < len; i++) gx[i] = x[i] > 0 ? gy[i] : alpha * gy[i];
      break;
    case UnaryOp.sigmoid:
      for (let i = 0; i < len; i++) { const s = y[i]; gx[i] = gy[i] * s * (1 - s); }
      break;
    case UnaryOp.tanh:
      for (let i = 0; i < len; i++) { const t = y[i]; gx[i] = gy[i] * (1 - t * t); }
      break;
    case UnaryOp.gelu:
      // d/dx [x Phi(x)] = Phi(x) + x phi(x)
      for (let i = 0; i < len; i++) {
        const v = x[i];
        gx[i] = gy[i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      break;
    case UnaryOp.exp:
      for (let i = 0; i < len; i++) gx[i] = gy[i] * y[i];
      break;
    case UnaryOp.log:
      for (let i = 0; i < len; i++) gx[i] = gy[i] / x[i];
      break;
    case UnaryOp.sqrt:
      for (let i = 0; i < len; i++) gx[i] = gy[i] / (2 * y[i]);
      break;
    case UnaryOp.abs:
      // torch: grad * sign(x), so 0 at x = 0.
      for (let i = 0; i < len; i++) gx[i] = gy[i] * Math.sign(x[i]);
      break;
    case UnaryOp.neg:
      for (let i = 0; i < len; i++) gx[i] = -gy[i];
      break;
    case UnaryOp.sign:
      for (let i = 0; i < len; i++) gx[i] = 0;
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Elementwise binary with broadcasting

const binaryFunctions: Record<BinaryOp, (a: number, b: number) => number> = {
  [BinaryOp.add]: (a, b) => a + b,
  [BinaryOp.sub]: (a, b) => a - b,
  [BinaryOp.mul]: (a, b) => a * b,
  [BinaryOp.div]: (a, b) => a / b,
  [BinaryOp.pow]: (a, b) => Math.pow(a, b),
  [BinaryOp.maximum]: (a, b) => Math.max(a, b), // NaN propagates, as torch.maximum
  [BinaryOp.minimum]: (a, b) => Math.min(a, b),
  [BinaryOp.gt]: (a, b) => (a > b ? 1 : 0),
  [BinaryOp.lt]: (a, b) => (a < b ? 1 : 0),
  [BinaryOp.ge]: (a, b) => (a >= b ? 1 : 0),
  [BinaryOp.le]: (a, b) => (a <= b ? 1 : 0),
  [BinaryOp.eq]: (a, b) => (a === b ? 1 : 0),
};

/** NumPy broadcast of two shapes, or a RangeError naming both. */
function broadcastShapes(op: string, aShape: readonly number[], bShape: readonly number[]): number[] {
  const nd = Math.max(aShape.length, bShape.length);
  const out: number[] = new Array<number>(nd);
  for (let d = 0; d < nd; d++) {
    const sa = aShape[aShape.length - nd + d] ?? 1;
    const sb = bShape[bShape.length - nd + d] ?? 1;
    if (sa !== sb && sa !== 1 && sb !== 1) {
      throw new RangeError(`${op}: shapes [${aShape.join(', ')}] and [${bShape.join(', ')}] cannot be broadcast together`);
    }
    out[d] = sa === 1 ? sb : sa;
  }
  return out;
}

/** Row-major strides of `shape` aligned to an nd-dim output, 0 along broadcast dims. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const nd = outShape.length;
  const strides = new Array<number>(nd).fill(0);
  let stride = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const od = nd - shape.length + d;
    strides[od] = shape[d] === 1 ? 0 : stride;
    stride *= shape[d];
  }
  return strides;
}

function binary(op: BinaryOp, a: FloatArray, aShape: readonly number[], b: FloatArray, bShape: readonly number[], out: FloatArray): void {
  const name = 'binary';
  checkOpCode(name, BinaryOp, op);
  checkSameDtype(name, { a, b, out });
  checkShape(name, 'aShape', aShape);
  checkShape(name, 'bShape', bShape);
  checkAtLeast(name, 'a', a, checkedProduct(name, 'aShape', aShape));
  checkAtLeast(name, 'b', b, checkedProduct(name, 'bShape', bShape));
  const outShape = broadcastShapes(name, aShape, bShape);
  const total = checkedProduct(name, 'the output', outShape);
  checkAtLeast(name, 'out', out, total);
  if (total === 0) return;
  const f = binaryFunctions[op];

  const nd = outShape.length;
  if (nd === 0) {
    out[0] = f(a[0], b[0]);
    return;
  }
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  // Walk the output in rows of its last dim; `index` counts over the leading dims.
  const cols = outShape[nd - 1];
  const aStep = sa[nd - 1];
  const bStep = sb[nd - 1];
  const index = new Array<number>(nd - 1).fill(0);
  let ai = 0;
  let bi = 0;
  for (let o = 0; o < total; o += cols) {
    for (let j = 0; j < cols; j++) out[o + j] = f(a[ai + j * aStep], b[bi + j * bStep]);
    // Advance the multi-index over dims nd-2 .. 0, keeping ai and bi in step.
    for (let d = nd - 2; d >= 0; d--) {
      index[d]++;
      ai += sa[d];
      bi += sb[d];
      if (index[d] < outShape[d]) break;
      ai -= sa[d] * outShape[d];
      bi -= sb[d] * outShape[d];
      index[d] = 0;
    }
  }
}

function binaryScalar(op: BinaryOp, a: FloatArray, scalar: number, out: FloatArray, scalarFirst: boolean): void {
  const name = 'binaryScalar';
  checkOpCode(name, BinaryOp, op);
  checkSameDtype(name, { a, out });
  checkNumber(name, 'scalar', scalar);
  checkLength(name, 'out', out, a.length);
  checkBoolean(name, 'scalarFirst', scalarFirst);
  const f = binaryFunctions[op];
  // The scalar takes the array's precision first, as it would as a tensor of that dtype.
  const s = rounderFor(a)(scalar);
  if (scalarFirst) {
    for (let i = 0; i < a.length; i++) out[i] = f(s, a[i]);
  } else {
    for (let i = 0; i < a.length; i++) out[i] = f(a[i], s);
  }
}

// ---------------------------------------------------------------------------------------------
// Reductions over the middle axis of [outer, n, inner]

/** Checks x against outer×n×inner; the `sameDtype` arrays are checked for x's dtype first, as native does. */
function checkAxisArgs(op: string, x: unknown, outer: unknown, n: unknown, inner: unknown,
  sameDtype: Record<string, unknown> = {}): asserts x is FloatArray {
  checkFloatArray(op, 'x', x);
  checkSameDtype(op, { x, ...sameDtype });
  checkSize(op, 'outer', outer);
  checkSize(op, 'n', n);
  checkSize(op, 'inner', inner);
  checkAtLeast(op, 'x', x, checkedProduct(op, 'x', [outer, n, inner]));
}

function reduce(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void {
  const name = 'reduce';
  checkOpCode(name, ReduceOp, op);
  checkAxisArgs(name, x, outer, n, inner, { out });
  checkAtLeast(name, 'out', out, outer * inner);
  if ((op === ReduceOp.max || op === ReduceOp.min) && n === 0 && outer * inner > 0) {
    throw new RangeError(`${name}: ${op === ReduceOp.max ? 'max' : 'min'} over an empty axis (n = 0) has no identity`);
  }
  for (let o = 0; o < outer; o++) {
    const xBase = o * n * inner;
    const oBase = o * inner;
    if (op === ReduceOp.sum || op === ReduceOp.mean) {
      // Accumulates into `out`, so sums are rounded to the array's precision at every step.
      for (let i = 0; i < inner; i++) out[oBase + i] = 0;
      for (let j = 0; j < n; j++) {
        const row = xBase + j * inner;
        for (let i = 0; i < inner; i++) out[oBase + i] += x[row + i];
      }
      if (op === ReduceOp.mean) {
        for (let i = 0; i < inner; i++) out[oBase + i] /= n; // n = 0 gives NaN, as torch.mean
      }
    } else {
      const isMax = op === ReduceOp.max;
      for (let i = 0; i < inner; i++) {
        let best = x[xBase + i];
        // A NaN wins, as in torch: once best is NaN nothing replaces it.
        for (let j = 1; j < n && !Number.isNaN(best); j++) {
          const v = x[xBase + j * inner + i];
          if (Number.isNaN(v) || (isMax ? v > best : v < best)) best = v;
        }
        out[oBase + i] = best;
      }
    }
  }
}

/** Index of the first maximum (a NaN counts as the maximum, as in torch) along the axis. */
function firstMaxIndex(x: FloatArray, base: number, n: number, inner: number): number {
  let best = x[base];
  let bestJ = 0;
  for (let j = 1; j < n && !Number.isNaN(best); j++) {
    const v = x[base + j * inner];
    if (v > best || Number.isNaN(v)) {
      best = v;
      bestJ = j;
    }
  }
  return bestJ;
}

function maxAxis(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, indices: Int32Array): void {
  const name = 'maxAxis';
  checkAxisArgs(name, x, outer, n, inner, { out });
  checkInt32Array(name, 'indices', indices);
  checkAtLeast(name, 'out', out, outer * inner);
  checkAtLeast(name, 'indices', indices, outer * inner);
  if (n === 0 && outer * inner > 0) throw new RangeError(`${name}: max over an empty axis (n = 0)`);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const j = firstMaxIndex(x, base, n, inner);
      out[o * inner + i] = x[base + j * inner];
      indices[o * inner + i] = j;
    }
  }
}

function argmax(x: FloatArray, outer: number, n: number, inner: number, indices: Int32Array): void {
  const name = 'argmax';
  checkAxisArgs(name, x, outer, n, inner);
  checkInt32Array(name, 'indices', indices);
  checkAtLeast(name, 'indices', indices, outer * inner);
  if (n === 0 && outer * inner > 0) throw new RangeError(`${name}: argmax over an empty axis (n = 0)`);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) indices[o * inner + i] = firstMaxIndex(x, o * n * inner + i, n, inner);
  }
}

// ---------------------------------------------------------------------------------------------
// Softmax family, row-wise over the last axis of rows×cols

function checkRowsCols(op: string, rows: unknown, cols: unknown): void {
  checkSize(op, 'rows', rows);
  checkSize(op, 'cols', cols);
  checkedProduct(op, 'rows×cols', [rows as number, cols as number]);
}

// The checks of a row-wise kernel whose arrays all hold rows×cols elements of one dtype.
function checkRowArrays(op: string, rows: number, cols: number, arrays: Record<string, FloatArray>): void {
  checkRowsCols(op, rows, cols);
  checkSameDtype(op, arrays);
  for (const [name, a] of Object.entries(arrays)) checkAtLeast(op, name, a, rows * cols);
}

function rowMax(x: FloatArray, start: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) if (x[start + j] > m) m = x[start + j];
  return m;
}

function softmax(x: FloatArray, rows: number, cols: number, y: FloatArray): void {
  const name = 'softmax';
  checkRowArrays(name, rows, cols, { x, y });
  const round = rounderFor(x);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    const m = rowMax(x, s, cols);
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      y[s + j] = Math.exp(x[s + j] - m);
      sum = round(sum + y[s + j]);
    }
    for (let j = 0; j < cols; j++) y[s + j] /= sum;
  }
}

function logSoftmax(x: FloatArray, rows: number, cols: number, y: FloatArray): void {
  const name = 'logSoftmax';
  checkRowArrays(name, rows, cols, { x, y });
  const round = rounderFor(x);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    const m = rowMax(x, s, cols);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum = round(sum + round(Math.exp(x[s + j] - m)));
    const logSum = round(Math.log(sum));
    for (let j = 0; j < cols; j++) y[s + j] = round(x[s + j] - m) - logSum;
  }
}

function softmaxBackward(y: FloatArray, gy: FloatArray, rows: number, cols: number, gx: FloatArray): void {
  const name = 'softmaxBackward';
  checkRowArrays(name, rows, cols, { y, gy, gx });
  const round = rounderFor(y);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot = round(dot + gy[s + j] * y[s + j]);
    for (let j = 0; j < cols; j++) gx[s + j] = y[s + j] * round(gy[s + j] - dot);
  }
}

function logSoftmaxBackward(y: FloatArray, gy: FloatArray, rows: number, cols: number, gx: FloatArray): void {
  const name = 'logSoftmaxBackward';
  checkRowArrays(name, rows, cols, { y, gy, gx });
  const round = rounderFor(y);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum = round(sum + gy[s + j]);
    for (let j = 0; j < cols; j++) gx[s + j] = gy[s + j] - round(Math.exp(y[s + j])) * sum;
  }
}

function softmaxCrossEntropy(logits: FloatArray, rows: number, cols: number, targets: Int32Array,
  losses: FloatArray, grad: FloatArray | null, scale: number): void {
  const name = 'softmaxCrossEntropy';
  grad ??= null; // undefined means "no gradient", as on the native side
  checkRowsCols(name, rows, cols);
  if (grad === null) checkSameDtype(name, { logits, losses });
  else checkSameDtype(name, { logits, losses, grad });
  checkInt32Array(name, 'targets', targets);
  checkAtLeast(name, 'logits', logits, rows * cols);
  checkAtLeast(name, 'targets', targets, rows);
  checkAtLeast(name, 'losses', losses, rows);
  if (grad !== null) checkAtLeast(name, 'grad', grad, rows * cols);
  checkNumber(name, 'scale', scale);
  // Every target is checked before anything is written.
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t < 0 || t >= cols) throw new RangeError(`${name}: target ${t} at row ${r} is out of range [0, ${cols})`);
  }
  const round = rounderFor(logits);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    const t = targets[r];
    const m = rowMax(logits, s, cols);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum = round(sum + round(Math.exp(logits[s + j] - m)));
    const logSum = round(Math.log(sum));
    losses[r] = logSum - round(logits[s + t] - m);
    if (grad !== null) {
      for (let j = 0; j < cols; j++) {
        const p = round(round(Math.exp(logits[s + j] - m)) / sum);
        grad[s + j] = scale * (j === t ? p - 1 : p);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Bias

function biasAdd(x: FloatArray, rows: number, cols: number, bias: FloatArray, out: FloatArray): void {
  const name = 'biasAdd';
  checkRowsCols(name, rows, cols);
  checkSameDtype(name, { x, bias, out });
  checkAtLeast(name, 'x', x, rows * cols);
  checkAtLeast(name, 'bias', bias, cols);
  checkAtLeast(name, 'out', out, rows * cols);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let j = 0; j < cols; j++) out[s + j] = x[s + j] + bias[j];
  }
}

function biasGrad(gy: FloatArray, rows: number, cols: number, gb: FloatArray): void {
  const name = 'biasGrad';
  checkRowsCols(name, rows, cols);
  checkSameDtype(name, { gy, gb });
  checkAtLeast(name, 'gy', gy, rows * cols);
  checkAtLeast(name, 'gb', gb, cols);
  gb.fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let j = 0; j < cols; j++) gb[j] += gy[s + j];
  }
}

// ---------------------------------------------------------------------------------------------
// Data movement

function permute(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray): void {
  const name = 'permute';
  checkSameDtype(name, { x, out });
  checkShape(name, 'shape', shape);
  if (!Array.isArray(perm)) throw new TypeError(`${name}: perm must be an array, got ${describe(perm)}`);
  const nd = shape.length;
  if (perm.length !== nd) throw new RangeError(`${name}: perm has ${perm.length} entries for ${nd} dims`);
  const seen = new Array<boolean>(nd).fill(false);
  perm.forEach((p, i) => {
    if (typeof p !== 'number') throw new TypeError(`${name}: perm[${i}] must be a number, got ${describe(p)}`);
    if (!Number.isInteger(p) || p < 0 || p >= nd || seen[p]) {
      throw new RangeError(`${name}: perm [${perm.join(', ')}] is not a permutation of 0..${nd - 1}`);
    }
    seen[p] = true;
  });
  const total = checkedProduct(name, 'shape', shape);
  checkAtLeast(name, 'x', x, total);
  checkAtLeast(name, 'out', out, total);
  if (total === 0) return;

  const inStrides = new Array<number>(nd);
  let stride = 1;
  for (let d = nd - 1; d >= 0; d--) {
    inStrides[d] = stride;
    stride *= shape[d];
  }
  const outShape = perm.map((p) => shape[p]);
  const srcStrides = perm.map((p) => inStrides[p]); // input stride of each output dim
  const index = new Array<number>(nd).fill(0);
  let src = 0;
  for (let o = 0; o < total; o++) {
    out[o] = x[src];
    for (let d = nd - 1; d >= 0; d--) {
      index[d]++;
      src += srcStrides[d];
      if (index[d] < outShape[d]) break;
      src -= srcStrides[d] * outShape[d];
      index[d] = 0;
    }
  }
}

function checkIndices(op: string, indices: Int32Array, n: number): void {
  for (let j = 0; j < indices.length; j++) {
    const idx = indices[j];
    if (idx < 0 || idx >= n) throw new RangeError(`${op}: index ${idx} at position ${j} is out of range [0, ${n})`);
  }
}

function gather(x: FloatArray, outer: number, n: number, inner: number, indices: Int32Array, out: FloatArray): void {
  const name = 'gather';
  checkAxisArgs(name, x, outer, n, inner, { out });
  checkInt32Array(name, 'indices', indices);
  const len = indices.length;
  checkAtLeast(name, 'out', out, checkedProduct(name, 'out', [outer, len, inner]));
  checkIndices(name, indices, n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const src = (o * n + indices[j]) * inner;
      const dst = (o * len + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i] = x[src + i];
    }
  }
}

function scatterAdd(g: FloatArray, outer: number, n: number, inner: number, indices: Int32Array, gx: FloatArray): void {
  const name = 'scatterAdd';
  checkFloatArray(name, 'g', g);
  checkSize(name, 'outer', outer);
  checkSize(name, 'n', n);
  checkSize(name, 'inner', inner);
  checkSameDtype(name, { g, gx });
  checkInt32Array(name, 'indices', indices);
  const len = indices.length;
  checkAtLeast(name, 'g', g, checkedProduct(name, 'g', [outer, len, inner]));
  checkAtLeast(name, 'gx', gx, checkedProduct(name, 'gx', [outer, n, inner]));
  checkIndices(name, indices, n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const src = (o * len + j) * inner;
      const dst = (o * n + indices[j]) * inner;
      for (let i = 0; i < inner; i++) gx[dst + i] += g[src + i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizer steps (torch.optim's rules, element by element, in the parameter's precision)

function sgdStep(param: FloatArray, grad: FloatArray, buf: FloatArray | null, lr: number, momentum: number,
  dampening: number, weightDecay: number, nesterov: boolean, firstStep: boolean): void {
  const name = 'sgdStep';
  buf ??= null;
  checkSameDtype(name, { param, grad });
  checkLength(name, 'grad', grad, param.length);
  checkNumber(name, 'lr', lr);
  checkNumber(name, 'momentum', momentum);
  checkNumber(name, 'dampening', dampening);
  checkNumber(name, 'weightDecay', weightDecay);
  checkBoolean(name, 'nesterov', nesterov);
  checkBoolean(name, 'firstStep', firstStep);
  if (momentum !== 0 && buf === null) throw new TypeError(`${name}: buf is required when momentum is ${momentum}`);
  if (buf !== null) {
    checkSameDtype(name, { param, buf });
    checkLength(name, 'buf', buf, param.length);
  }
  const round = rounderFor(param);
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (weightDecay !== 0) g = round(g + weightDecay * param[i]);
    if (momentum !== 0) {
      const b = buf as FloatArray;
      b[i] = firstStep ? g : momentum * b[i] + (1 - dampening) * g;
      g = nesterov ? round(g + momentum * b[i]) : b[i];
    }
    param[i] = param[i] - lr * g;
  }
}

function adamStep(param: FloatArray, grad: FloatArray, expAvg: FloatArray, expAvgSq: FloatArray,
  maxExpAvgSq: FloatArray | null, step: number, lr: number, beta1: number, beta2: number,
  eps: number, weightDecay: number, decoupled: boolean): void {
  const name = 'adamStep';
  maxExpAvgSq ??= null;
  checkSameDtype(name, { param, grad, expAvg, expAvgSq });
  checkLength(name, 'grad', grad, param.length);
  checkLength(name, 'expAvg', expAvg, param.length);
  checkLength(name, 'expAvgSq', expAvgSq, param.length);
  if (maxExpAvgSq !== null) {
    checkSameDtype(name, { param, maxExpAvgSq });
    checkLength(name, 'maxExpAvgSq', maxExpAvgSq, param.length);
  }
  checkNumber(name, 'step', step);
  if (!Number.isSafeInteger(step) || step < 1) throw new RangeError(`${name}: step must be an integer >= 1, got ${step}`);
  checkNumber(name, 'lr', lr);
  checkNumber(name, 'beta1', beta1);
  checkNumber(name, 'beta2', beta2);
  checkNumber(name, 'eps', eps);
  checkNumber(name, 'weightDecay', weightDecay);
  checkBoolean(name, 'decoupled', decoupled);

  const round = rounderFor(param);
  const biasCorrection1 = 1 - Math.pow(beta1, step);
  const biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / biasCorrection1;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (weightDecay !== 0) {
      if (decoupled) param[i] = param[i] * (1 - lr * weightDecay);
      else g = round(g + weightDecay * param[i]);
    }
    expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g;
    expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
    let v = expAvgSq[i];
    if (maxExpAvgSq !== null) {
      maxExpAvgSq[i] = Math.max(maxExpAvgSq[i], v);
      v = maxExpAvgSq[i];
    }
    const denom = round(round(Math.sqrt(v) / biasCorrection2Sqrt) + eps);
    param[i] = param[i] - stepSize * round(expAvg[i] / denom);
  }
}

// ---------------------------------------------------------------------------------------------

function info(): BackendInfo {
  return { name: 'js', blas: 'js', simd: 'scalar', threads: 1 };
}

function setNumThreads(n: number): void {
  checkNumber('setNumThreads', 'n', n);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: n must be an integer >= 1, got ${n}`);
  // The js backend is single-threaded; the count only matters to the native backend.
}

/** The pure-TypeScript backend. */
export const jsBackend: Backend = {
  name: 'js',
  info,
  setNumThreads,
  gemm,
  unary,
  unaryBackward,
  binary,
  binaryScalar,
  reduce,
  maxAxis,
  argmax,
  softmax,
  logSoftmax,
  softmaxBackward,
  logSoftmaxBackward,
  softmaxCrossEntropy,
  biasAdd,
  biasGrad,
  permute,
  gather,
  scatterAdd,
  sgdStep,
  adamStep,
  ...convKernels,
  ...rnnKernels,
};
