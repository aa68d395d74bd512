// The js backend's elementwise binary kernels: NumPy broadcasting of two arrays, or an array and a
// scalar. The per-op functions are keyed by op name and typed against BinaryName, so an op
// without a js function is a compile error.

import { BINARY_OPS, type Backend, type BinaryName, type BinaryOp, type FloatArray } from './types.js';
import {
  checkAtLeast,
  checkBoolean,
  checkCode,
  checkedProduct,
  checkFloatArrays,
  checkLength,
  checkNumber,
  checkShape,
} from './js-checks.js';
import { rounderFor } from './js-math.js';

const BINARY_FUNCTIONS: Record<BinaryName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  maximum: (a, b) => Math.max(a, b), // NaN propagates, as torch.maximum
  minimum: (a, b) => Math.min(a, b),
  gt: (a, b) => (a > b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  eq: (a, b) => (a === b ? 1 : 0),
};

/** NumPy broadcast of two shapes, or a RangeError naming both. */
function broadcastOutShape(op: string, aShape: readonly number[], bShape: readonly number[]): number[] {
  const nd = Math.max(aShape.length, bShape.length);
  const out: number[] = new Array<number>(nd);
  for (let d = 0; d < nd; d++) {
    const sa = aShape[aShape.length - nd + d] ?? 1;
    const sb = bShape[bShape.length - nd + d] ?? 1;
    if (sa !== sb && sa !== 1 && sb !== 1) {
      throw new RangeError(
        `${op}: shapes [${aShape.join(', ')}] and [${bShape.join(', ')}] cannot be broadcast together`,
      );
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

function binary(
  op: BinaryOp,
  a: FloatArray,
  aShape: readonly number[],
  b: FloatArray,
  bShape: readonly number[],
  out: FloatArray,
): void {
  const name = 'binary';
  checkCode(name, 'op', BINARY_OPS, op);
  checkFloatArrays(name, { a, b, out });
  checkShape(name, 'aShape', aShape);
  checkShape(name, 'bShape', bShape);
  checkAtLeast(name, 'a', a, checkedProduct(name, 'aShape', aShape));
  checkAtLeast(name, 'b', b, checkedProduct(name, 'bShape', bShape));
  const outShape = broadcastOutShape(name, aShape, bShape);
  const total = checkedProduct(name, 'the output', outShape);
  checkAtLeast(name, 'out', out, total);
  if (total === 0) return;
  const f = BINARY_FUNCTIONS[BINARY_OPS[op]];

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
  checkCode(name, 'op', BINARY_OPS, op);
  checkFloatArrays(name, { a, out });
  checkNumber(name, 'scalar', scalar);
  checkLength(name, 'out', out, a.length);
  checkBoolean(name, 'scalarFirst', scalarFirst);
  const f = BINARY_FUNCTIONS[BINARY_OPS[op]];
  // The scalar takes the array's precision first, as it would as a tensor of that dtype.
  const s = rounderFor(a)(scalar);
  if (scalarFirst) {
    for (let i = 0; i < a.length; i++) out[i] = f(s, a[i]);
  } else {
    for (let i = 0; i < a.length; i++) out[i] = f(a[i], s);
  }
}

export const binaryKernels: Pick<Backend, 'binary' | 'binaryScalar'> = { binary, binaryScalar };
