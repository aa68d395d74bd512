// The js backend's reductions over the middle axis of x viewed as [outer, n, inner]: sum, mean,
// max, min, and the maximum with its index.

import { REDUCE_OPS, ReduceOp, type Backend, type FloatArray } from './types.js';
import { checkAtLeast, checkAxisArgs, checkCode, checkInt32Array } from './js-checks.js';

function reduce(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void {
  const name = 'reduce';
  checkCode(name, 'op', REDUCE_OPS, op);
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

export const reduceKernels: Pick<Backend, 'reduce' | 'maxAxis' | 'argmax'> = { reduce, maxAxis, argmax };
