// Native convolution, pooling and batch-norm kernels (NCHW) against the js backend, both dtypes:
// conv2d forward (with and without bias), its input and weight (and bias) gradients over strides,
// padding and dilation; maxPool2d (ties: the first maximum) and avgPool2d with their backward;
// batchNormStats (on offset data, where a one-pass variance would cancel) and channelAffine
// (also in place).
//
// The js reference in float64 and the tolerances: test/support/native-vs-js.ts.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import type { Backend, FloatArray } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import {
  alloc,
  DTYPES,
  expectClose,
  F32_ULP,
  hasNative,
  lacks,
  native,
  randomArray,
  skipReason,
  tol,
  widen,
} from './support/native-vs-js.js';

// n, cIn, h, w, cOut, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW
const CONV_GEOMETRIES: number[][] = [
  [1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 1, 1],
  [2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1],
  [2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1],
  [2, 3, 9, 7, 5, 3, 2, 2, 1, 1, 0, 1, 1],
  [1, 2, 10, 11, 3, 3, 3, 2, 3, 2, 1, 2, 2],
  [1, 17, 5, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1],
  [4, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1],
  [3, 16, 14, 14, 33, 3, 3, 1, 1, 1, 1, 1, 1],
  [0, 2, 4, 4, 2, 3, 3, 1, 1, 0, 0, 1, 1],
];

function convOut(g: number[]): [number, number] {
  const [, , h, w, , kH, kW, sH, sW, pH, pW, dH, dW] = g;
  return [Math.floor((h + 2 * pH - dH * (kH - 1) - 1) / sH) + 1, Math.floor((w + 2 * pW - dW * (kW - 1) - 1) / sW) + 1];
}

describe.skipIf(!native)(`native vs js: convolution${skipReason}`, () => {
  const nb = native as unknown as Backend;
  for (const dtype of DTYPES) {
    it.skipIf(!hasNative('conv2d') || !hasNative('conv2dBackwardInput') || !hasNative('conv2dBackwardWeight'))(
      `conv2d forward, backward input and weight, ${dtype}${lacks('conv2d')}`,
      () => {
        const rng = new Rng(41);
        const t = tol.gemm[dtype];
        for (const g of CONV_GEOMETRIES) {
          const [n, cIn, h, w, cOut, kH, kW] = g;
          const [oH, oW] = convOut(g);
          const geom = g as [
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
          ];
          const x = randomArray(rng, dtype, n * cIn * h * w);
          const wt = randomArray(rng, dtype, cOut * cIn * kH * kW);
          const gy = randomArray(rng, dtype, n * cOut * oH * oW);
          const abs = (a: FloatArray): Float64Array => widen(a).map(Math.abs);
          for (const withBias of [false, true]) {
            const bias = withBias ? randomArray(rng, dtype, cOut) : null;
            const y = randomArray(rng, dtype, n * cOut * oH * oW); // overwritten
            nb.conv2d(x, wt, bias, y, ...geom);
            const ref = new Float64Array(y.length);
            js.conv2d(widen(x), widen(wt), bias && widen(bias), ref, ...geom);
            const scale = new Float64Array(y.length);
            js.conv2d(abs(x), abs(wt), bias && abs(bias), scale, ...geom);
            expectClose(`conv2d [${g}] bias=${withBias}`, y, ref, t, 1e-300, scale);
          }
          const gx = randomArray(rng, dtype, x.length);
          nb.conv2dBackwardInput(gy, wt, gx, ...geom);
          const gxRef = new Float64Array(x.length);
          js.conv2dBackwardInput(widen(gy), widen(wt), gxRef, ...geom);
          const gxScale = new Float64Array(x.length);
          js.conv2dBackwardInput(abs(gy), abs(wt), gxScale, ...geom);
          expectClose(`conv2dBackwardInput [${g}]`, gx, gxRef, t, 1e-300, gxScale);

          for (const withBias of [false, true]) {
            const gw = randomArray(rng, dtype, wt.length);
            const gb = withBias ? randomArray(rng, dtype, cOut) : null;
            nb.conv2dBackwardWeight(x, gy, gw, gb, ...geom);
            const gwRef = new Float64Array(wt.length);
            const gbRef = withBias ? new Float64Array(cOut) : null;
            js.conv2dBackwardWeight(widen(x), widen(gy), gwRef, gbRef, ...geom);
            const gwScale = new Float64Array(wt.length);
            const gbScale = withBias ? new Float64Array(cOut) : null;
            js.conv2dBackwardWeight(abs(x), abs(gy), gwScale, gbScale, ...geom);
            expectClose(`conv2dBackwardWeight [${g}]`, gw, gwRef, t, 1e-300, gwScale);
            if (gb && gbRef && gbScale) expectClose(`conv2d bias gradient [${g}]`, gb, gbRef, t, 1e-300, gbScale);
          }
        }
      },
    );
  }
});

// planes, h, w, kH, kW, strideH, strideW, padH, padW
const POOL_GEOMETRIES: number[][] = [
  [1, 1, 1, 1, 1, 1, 1, 0, 0],
  [3, 4, 4, 2, 2, 2, 2, 0, 0],
  [2, 5, 7, 3, 3, 2, 2, 1, 1],
  [5, 28, 28, 2, 2, 2, 2, 0, 0],
  [4, 9, 9, 3, 3, 1, 1, 1, 1],
  [6, 17, 13, 3, 2, 2, 3, 1, 1],
  [64, 14, 14, 2, 2, 2, 2, 0, 0],
  [0, 4, 4, 2, 2, 2, 2, 0, 0],
];

function poolOut(g: number[]): [number, number] {
  const [, h, w, kH, kW, sH, sW, pH, pW] = g;
  return [Math.floor((h + 2 * pH - kH) / sH) + 1, Math.floor((w + 2 * pW - kW) / sW) + 1];
}

describe.skipIf(!native)(`native vs js: pooling and batch-norm statistics${skipReason}`, () => {
  const nb = native as unknown as Backend;
  type PoolGeom = [number, number, number, number, number, number, number, number, number];
  for (const dtype of DTYPES) {
    it.skipIf(!hasNative('maxPool2d') || !hasNative('maxPool2dBackward'))(
      `maxPool2d and its backward, ${dtype}${lacks('maxPool2d')}`,
      () => {
        const rng = new Rng(42);
        for (const g of POOL_GEOMETRIES) {
          const [planes, h, w] = g;
          const [oH, oW] = poolOut(g);
          const geom = g as PoolGeom;
          const x = randomArray(rng, dtype, planes * h * w);
          for (let i = 0; i + 1 < x.length; i += 5) x[i + 1] = x[i]; // ties: the first maximum wins
          const y = alloc(dtype, planes * oH * oW);
          const idx = new Int32Array(y.length);
          nb.maxPool2d(x, y, idx, ...geom);
          const yRef = alloc(dtype, y.length);
          const idxRef = new Int32Array(y.length);
          js.maxPool2d(x, yRef, idxRef, ...geom);
          expect([...y], `maxPool2d [${g}]`).toEqual([...yRef]);
          expect([...idx], `maxPool2d indices [${g}]`).toEqual([...idxRef]);
          const gy = randomArray(rng, dtype, y.length);
          const gx = randomArray(rng, dtype, x.length);
          nb.maxPool2dBackward(gy, idx, gx, ...geom);
          const gxRef = new Float64Array(x.length);
          js.maxPool2dBackward(widen(gy), idxRef, gxRef, ...geom);
          const scale = new Float64Array(x.length);
          js.maxPool2dBackward(widen(gy).map(Math.abs), idxRef, scale, ...geom);
          expectClose(`maxPool2dBackward [${g}]`, gx, gxRef, tol.sum[dtype], 0, scale);
        }
      },
    );

    it.skipIf(!hasNative('avgPool2d') || !hasNative('avgPool2dBackward'))(
      `avgPool2d and its backward, ${dtype}${lacks('avgPool2d')}`,
      () => {
        const rng = new Rng(43);
        for (const g of POOL_GEOMETRIES) {
          const [planes, h, w] = g;
          const [oH, oW] = poolOut(g);
          const geom = g as PoolGeom;
          const x = randomArray(rng, dtype, planes * h * w);
          const y = alloc(dtype, planes * oH * oW);
          nb.avgPool2d(x, y, ...geom);
          const yRef = new Float64Array(y.length);
          js.avgPool2d(widen(x), yRef, ...geom);
          const yScale = new Float64Array(y.length);
          js.avgPool2d(widen(x).map(Math.abs), yScale, ...geom);
          expectClose(`avgPool2d [${g}]`, y, yRef, tol.sum[dtype], 0, yScale);
          const gy = randomArray(rng, dtype, y.length);
          const gx = randomArray(rng, dtype, x.length);
          nb.avgPool2dBackward(gy, gx, ...geom);
          const gxRef = new Float64Array(x.length);
          js.avgPool2dBackward(widen(gy), gxRef, ...geom);
          const gxScale = new Float64Array(x.length);
          js.avgPool2dBackward(widen(gy).map(Math.abs), gxScale, ...geom);
          expectClose(`avgPool2dBackward [${g}]`, gx, gxRef, tol.sum[dtype], 0, gxScale);
        }
      },
    );

    it.skipIf(!hasNative('batchNormStats') || !hasNative('channelAffine'))(
      `batchNormStats and channelAffine, ${dtype}${lacks('batchNormStats')}`,
      () => {
        const rng = new Rng(44);
        for (const [n, c, inner] of [
          [1, 1, 1],
          [2, 3, 1],
          [4, 1, 17],
          [8, 16, 49],
          [64, 33, 1],
          [3, 5, 1031],
          [0, 2, 3],
        ]) {
          const x = randomArray(rng, dtype, n * c * inner);
          for (let i = 0; i < x.length; i++) x[i] = x[i] + 3; // an offset, so a one-pass variance would cancel
          const mean = alloc(dtype, c);
          const variance = alloc(dtype, c);
          nb.batchNormStats(x, n, c, inner, mean, variance);
          const meanRef = new Float64Array(c);
          const varRef = new Float64Array(c);
          js.batchNormStats(widen(x), n, c, inner, meanRef, varRef);
          const t = tol.sum[dtype];
          // mean: error relative to mean|x| (about 3 here); variance: relative to itself (about 1).
          expectClose(`batchNormStats mean [${n},${c},${inner}]`, mean, meanRef, t, t * 4);
          expectClose(`batchNormStats var [${n},${c},${inner}]`, variance, varRef, t * 10, t);

          const scale = randomArray(rng, dtype, c);
          const shift = randomArray(rng, dtype, c);
          const y = alloc(dtype, x.length);
          nb.channelAffine(x, n, c, inner, scale, shift, y);
          const yRef = new Float64Array(x.length);
          js.channelAffine(widen(x), n, c, inner, widen(scale), widen(shift), yRef);
          const ulp = dtype === 'float32' ? 2 * F32_ULP : 4e-16;
          const affineScale = yRef.map((_, i) => {
            const ch = Math.floor(i / inner) % c;
            return Math.abs(x[i] * scale[ch]) + Math.abs(shift[ch]);
          });
          expectClose(`channelAffine [${n},${c},${inner}]`, y, yRef, ulp, 0, affineScale);
          nb.channelAffine(x, n, c, inner, scale, shift, x); // in place
          expectClose(`channelAffine in place [${n},${c},${inner}]`, x, yRef, ulp, 0, affineScale);
        }
      },
    );
  }
});
