// The js backend's data-movement kernels: a general strided permute, gather and scatterAdd along
// the middle axis of [outer, n, inner], and the bias add and its gradient over rows×cols.

import type { Backend, FloatArray } from './types.js';
import {
  checkAtLeast,
  checkAxisArgs,
  checkedProduct,
  checkFloatArray,
  checkFloatArrays,
  checkIndicesBelow,
  checkInt32Array,
  checkRowsCols,
  checkShape,
  checkSize,
} from './js-checks.js';

function biasAdd(x: FloatArray, rows: number, cols: number, bias: FloatArray, out: FloatArray): void {
  const name = 'biasAdd';
  checkRowsCols(name, rows, cols);
  checkFloatArrays(name, { x, bias, out });
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
  checkFloatArrays(name, { gy, gb });
  checkAtLeast(name, 'gy', gy, rows * cols);
  checkAtLeast(name, 'gb', gb, cols);
  gb.fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let j = 0; j < cols; j++) gb[j] += gy[s + j];
  }
}

function permute(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray): void {
  const name = 'permute';
  checkFloatArrays(name, { x, out });
  checkShape(name, 'shape', shape);
  checkShape(name, 'perm', perm);
  const nd = shape.length;
  if (perm.length !== nd) throw new RangeError(`${name}: perm must have ${nd} entries like shape, got ${perm.length}`);
  const seen = new Array<boolean>(nd).fill(false);
  for (const p of perm) {
    if (p >= nd || seen[p])
      throw new RangeError(`${name}: perm must be a permutation of 0..${nd - 1}, got [${perm.join(', ')}]`);
    seen[p] = true;
  }
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

function gather(x: FloatArray, outer: number, n: number, inner: number, indices: Int32Array, out: FloatArray): void {
  const name = 'gather';
  checkAxisArgs(name, x, outer, n, inner, { out });
  checkInt32Array(name, 'indices', indices);
  const len = indices.length;
  checkAtLeast(name, 'out', out, checkedProduct(name, 'out', [outer, len, inner]));
  checkIndicesBelow(name, 'indices', indices, indices.length, n);
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
  checkFloatArrays(name, { g, gx });
  checkInt32Array(name, 'indices', indices);
  const len = indices.length;
  checkAtLeast(name, 'g', g, checkedProduct(name, 'g', [outer, len, inner]));
  checkAtLeast(name, 'gx', gx, checkedProduct(name, 'gx', [outer, n, inner]));
  checkIndicesBelow(name, 'indices', indices, indices.length, n);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < len; j++) {
      const src = (o * len + j) * inner;
      const dst = (o * n + indices[j]) * inner;
      for (let i = 0; i < inner; i++) gx[dst + i] += g[src + i];
    }
  }
}

export const movementKernels: Pick<Backend, 'biasAdd' | 'biasGrad' | 'permute' | 'gather' | 'scatterAdd'> = {
  biasAdd,
  biasGrad,
  permute,
  gather,
  scatterAdd,
};
