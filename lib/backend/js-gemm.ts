// The js backend's GEMM: plain i-k-j loops over one output row at a time.

import type { Backend, FloatArray } from './types.js';
import { checkAtLeast, checkBoolean, checkedProduct, checkFloatArrays, checkNumber, checkSize } from './js-checks.js';

function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: FloatArray,
  b: FloatArray,
  beta: number,
  c: FloatArray,
  batch = 1,
  strideA = m * k,
  strideB = k * n,
  strideC = m * n,
  aOffset = 0,
  bOffset = 0,
  cOffset = 0,
): void {
  const op = 'gemm';
  checkBoolean(op, 'transA', transA);
  checkBoolean(op, 'transB', transB);
  checkSize(op, 'm', m);
  checkSize(op, 'n', n);
  checkSize(op, 'k', k);
  checkNumber(op, 'alpha', alpha);
  checkNumber(op, 'beta', beta);
  checkFloatArrays(op, { a, b, c });
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
    throw new RangeError(
      `${op}: strideC must not be 0 when batch > 1 (the ${batch} outputs would overwrite each other)`,
    );
  }
  const needs = (name: string, arr: FloatArray, offset: number, stride: number, size: number): void => {
    if (batch === 0 || size === 0) return;
    const end = offset + (batch - 1) * stride + size;
    const what =
      batch === 1 && offset === 0
        ? name
        : `${name} (${batch} batches of ${size} at offset ${offset}, stride ${stride})`;
    checkAtLeast(op, what, arr, end);
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

export const gemmKernels: Pick<Backend, 'gemm'> = { gemm };
