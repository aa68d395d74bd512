// The js backend's sparse-weight convolution kernels (SparseProp's three products, assembled into
// jsBackend in js.ts): plain loops over the nonzeros of a CSR weight, on the NCHW tensors as they
// are. They ignore the layout code (both native layouts compute the same sums) and are the
// reference the native kernels are tested against.

import { SPARSE_LAYOUTS, type Backend, type ConvGeometry, type FloatArray } from './types.js';
import {
  checkAtLeast,
  checkCode,
  checkFloatArray,
  checkIndicesBelow,
  checkInt32Array,
  checkLike,
} from './js-checks.js';
import { convGeom } from './js-conv.js';

interface Pattern {
  rowPtr: Int32Array;
  colIdx: Int32Array;
  nnz: number;
}

function checkPattern(op: string, rowPtr: unknown, colIdx: unknown, g: ConvGeometry): Pattern {
  checkInt32Array(op, 'rowPtr', rowPtr);
  checkInt32Array(op, 'colIdx', colIdx);
  checkAtLeast(op, 'rowPtr', rowPtr, g.cOut + 1);
  if (rowPtr[0] !== 0) throw new RangeError(`${op}: rowPtr must start at 0, got ${rowPtr[0]}`);
  for (let r = 0; r < g.cOut; r++) {
    if (rowPtr[r + 1] < rowPtr[r]) {
      throw new RangeError(`${op}: rowPtr must not decrease, but row ${r} goes from ${rowPtr[r]} to ${rowPtr[r + 1]}`);
    }
  }
  const nnz = rowPtr[g.cOut];
  checkAtLeast(op, 'colIdx', colIdx, nnz);
  checkIndicesBelow(op, 'colIdx', colIdx, nnz, g.cIn * g.kH * g.kW);
  return { rowPtr, colIdx, nnz };
}

function setup(op: string, geometry: readonly number[]): ConvGeometry {
  checkCode(op, 'layout', SPARSE_LAYOUTS, geometry[13]);
  return convGeom(op, geometry.slice(0, 13));
}

/**
 * Calls visit(k, xi, yi) for every nonzero k and every pair of an input element xi (flat NCHW
 * index) and an output element yi it multiplies into (taps that fall in the padding skipped).
 */
function forEachProduct(g: ConvGeometry, p: Pattern, visit: (k: number, xi: number, yi: number) => void): void {
  const kk = g.kH * g.kW;
  for (let oc = 0; oc < g.cOut; oc++) {
    for (let k = p.rowPtr[oc]; k < p.rowPtr[oc + 1]; k++) {
      const c = p.colIdx[k];
      const ic = Math.floor(c / kk);
      const kh = Math.floor((c % kk) / g.kW);
      const kw = c % g.kW;
      for (let n = 0; n < g.n; n++) {
        const xPlane = (n * g.cIn + ic) * g.h * g.w;
        const yPlane = (n * g.cOut + oc) * g.oH * g.oW;
        for (let oh = 0; oh < g.oH; oh++) {
          const ih = oh * g.sH - g.pH + kh * g.dH;
          if (ih < 0 || ih >= g.h) continue;
          for (let ow = 0; ow < g.oW; ow++) {
            const iw = ow * g.sW - g.pW + kw * g.dW;
            if (iw < 0 || iw >= g.w) continue;
            visit(k, xPlane + ih * g.w + iw, yPlane + oh * g.oW + ow);
          }
        }
      }
    }
  }
}

function sparseConv2d(
  x: FloatArray,
  values: FloatArray,
  rowPtr: Int32Array,
  colIdx: Int32Array,
  bias: FloatArray | null,
  y: FloatArray,
  ...geometry: number[]
): void {
  const op = 'sparseConv2d';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'values', values, x);
  checkLike(op, 'y', y, x);
  if (bias !== null) checkLike(op, 'bias', bias, x);
  const g = setup(op, geometry);
  const p = checkPattern(op, rowPtr, colIdx, g);
  checkAtLeast(op, 'x', x, g.n * g.cIn * g.h * g.w);
  checkAtLeast(op, 'values', values, p.nnz);
  if (bias !== null) checkAtLeast(op, 'bias', bias, g.cOut);
  const ySize = g.n * g.cOut * g.oH * g.oW;
  checkAtLeast(op, 'y', y, ySize);
  // sums in float64, rounded once where stored
  const acc = new Float64Array(ySize);
  forEachProduct(g, p, (k, xi, yi) => {
    acc[yi] += values[k] * x[xi];
  });
  const plane = g.oH * g.oW;
  for (let i = 0; i < ySize; i++) y[i] = acc[i] + (bias === null ? 0 : bias[Math.floor(i / plane) % g.cOut]);
}

function sparseConv2dBackwardInput(
  gy: FloatArray,
  values: FloatArray,
  rowPtr: Int32Array,
  colIdx: Int32Array,
  gx: FloatArray,
  ...geometry: number[]
): void {
  const op = 'sparseConv2dBackwardInput';
  checkFloatArray(op, 'gy', gy);
  checkLike(op, 'values', values, gy);
  checkLike(op, 'gx', gx, gy);
  const g = setup(op, geometry);
  const p = checkPattern(op, rowPtr, colIdx, g);
  checkAtLeast(op, 'gy', gy, g.n * g.cOut * g.oH * g.oW);
  checkAtLeast(op, 'values', values, p.nnz);
  const xSize = g.n * g.cIn * g.h * g.w;
  checkAtLeast(op, 'gx', gx, xSize);
  const acc = new Float64Array(xSize);
  forEachProduct(g, p, (k, xi, yi) => {
    acc[xi] += values[k] * gy[yi];
  });
  gx.set(acc);
}

function sparseConv2dBackwardValues(
  x: FloatArray,
  gy: FloatArray,
  rowPtr: Int32Array,
  colIdx: Int32Array,
  gv: FloatArray,
  ...geometry: number[]
): void {
  const op = 'sparseConv2dBackwardValues';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'gy', gy, x);
  checkLike(op, 'gv', gv, x);
  const g = setup(op, geometry);
  const p = checkPattern(op, rowPtr, colIdx, g);
  checkAtLeast(op, 'x', x, g.n * g.cIn * g.h * g.w);
  checkAtLeast(op, 'gy', gy, g.n * g.cOut * g.oH * g.oW);
  checkAtLeast(op, 'gv', gv, p.nnz);
  const acc = new Float64Array(p.nnz);
  forEachProduct(g, p, (k, xi, yi) => {
    acc[k] += x[xi] * gy[yi];
  });
  gv.set(acc);
}

export const sparseKernels: Pick<Backend, 'sparseConv2d' | 'sparseConv2dBackwardInput' | 'sparseConv2dBackwardValues'> =
  {
    sparseConv2d: sparseConv2d,
    sparseConv2dBackwardInput: sparseConv2dBackwardInput,
    sparseConv2dBackwardValues: sparseConv2dBackwardValues,
  };
