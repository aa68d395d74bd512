// The js backend's convolution, pooling and batch-norm statistics kernels (assembled into
// jsBackend in js.ts). Convolution goes through im2col and plain loops over one image at a time,
// with the column buffer kept between calls; the native kernels (direct ones for stride 1,
// im2col for the rest) are tested against these.

import type { Backend, ConvGeometry, FloatArray } from './types.js';
import {
  checkAtLeast,
  checkFloatArray,
  checkIndicesBelow,
  checkInt32Array,
  checkLike,
  checkSize,
} from './js-checks.js';

/** One spatial dimension of a window op: the output size, or a RangeError when it is empty. */
function outSize(op: string, dim: string, input: number, k: number, stride: number, pad: number, dil: number): number {
  const span = dil * (k - 1) + 1;
  if (input + 2 * pad < span) {
    throw new RangeError(
      `${op}: kernel ${dim} ${k}${dil > 1 ? ` (dilation ${dil}, span ${span})` : ''} is larger than the padded input ${dim} ${input} + 2*${pad}`,
    );
  }
  return Math.floor((input + 2 * pad - span) / stride) + 1;
}

export function convGeom(op: string, g: readonly number[]): ConvGeometry {
  const names = [
    'n',
    'cIn',
    'h',
    'w',
    'cOut',
    'kH',
    'kW',
    'strideH',
    'strideW',
    'padH',
    'padW',
    'dilationH',
    'dilationW',
  ];
  const mins = [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1];
  names.forEach((name, i) => checkSize(op, name, g[i], mins[i]));
  const [n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW] = g;
  const oH = outSize(op, 'height', h, kH, sH, pH, dH);
  const oW = outSize(op, 'width', w, kW, sW, pW, dW);
  return { n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW };
}

interface PoolGeom {
  planes: number;
  h: number;
  w: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  oH: number;
  oW: number;
}

function poolGeom(op: string, g: readonly number[]): PoolGeom {
  const names = ['planes', 'h', 'w', 'kH', 'kW', 'strideH', 'strideW', 'padH', 'padW'];
  const mins = [0, 0, 0, 1, 1, 1, 1, 0, 0];
  names.forEach((name, i) => checkSize(op, name, g[i], mins[i]));
  const [planes, h, w, kH, kW, sH, sW, pH, pW] = g;
  if (2 * pH > kH || 2 * pW > kW) {
    throw new RangeError(`${op}: padding ${pH}x${pW} must be at most half the kernel ${kH}x${kW}`);
  }
  const oH = outSize(op, 'height', h, kH, sH, pH, 1);
  const oW = outSize(op, 'width', w, kW, sW, pW, 1);
  return { planes, h, w, kH, kW, sH, sW, pH, pW, oH, oW };
}

// ---------------------------------------------------------------------------------------------
// Convolution by im2col: the columns of one image form a (cIn*kH*kW) × (oH*oW) matrix.

const workspace = { f32: new Float32Array(0), f64: new Float64Array(0) };

/** The column buffer of x's dtype, grown on demand and kept for the next call. */
function columns(like: FloatArray, n: number): FloatArray {
  if (like instanceof Float32Array) {
    if (workspace.f32.length < n) workspace.f32 = new Float32Array(n);
    return workspace.f32;
  }
  if (workspace.f64.length < n) workspace.f64 = new Float64Array(n);
  return workspace.f64;
}

function im2col(x: FloatArray, xOff: number, g: ConvGeometry, cols: FloatArray): void {
  const { cIn, h, w, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW } = g;
  const P = oH * oW;
  let row = 0;
  for (let c = 0; c < cIn; c++) {
    for (let i = 0; i < kH; i++) {
      for (let j = 0; j < kW; j++, row++) {
        const base = row * P;
        for (let oy = 0; oy < oH; oy++) {
          const iy = oy * sH - pH + i * dH;
          const o = base + oy * oW;
          if (iy < 0 || iy >= h) {
            for (let ox = 0; ox < oW; ox++) cols[o + ox] = 0;
            continue;
          }
          const xr = xOff + (c * h + iy) * w;
          for (let ox = 0; ox < oW; ox++) {
            const ix = ox * sW - pW + j * dW;
            cols[o + ox] = ix >= 0 && ix < w ? x[xr + ix] : 0;
          }
        }
      }
    }
  }
}

/** Adds the columns back into the image they came from (the adjoint of im2col). */
function col2im(cols: FloatArray, g: ConvGeometry, gx: FloatArray, xOff: number): void {
  const { cIn, h, w, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW } = g;
  const P = oH * oW;
  let row = 0;
  for (let c = 0; c < cIn; c++) {
    for (let i = 0; i < kH; i++) {
      for (let j = 0; j < kW; j++, row++) {
        const base = row * P;
        for (let oy = 0; oy < oH; oy++) {
          const iy = oy * sH - pH + i * dH;
          if (iy < 0 || iy >= h) continue;
          const xr = xOff + (c * h + iy) * w;
          const o = base + oy * oW;
          for (let ox = 0; ox < oW; ox++) {
            const ix = ox * sW - pW + j * dW;
            if (ix >= 0 && ix < w) gx[xr + ix] += cols[o + ox];
          }
        }
      }
    }
  }
}

function conv2d(x: FloatArray, weight: FloatArray, bias: FloatArray | null, y: FloatArray, ...geom: number[]): void {
  const op = 'conv2d';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'weight', weight, x);
  if (bias !== null) checkLike(op, 'bias', bias, x);
  checkLike(op, 'y', y, x);
  const g = convGeom(op, geom);
  const K = g.cIn * g.kH * g.kW,
    P = g.oH * g.oW;
  checkAtLeast(op, 'x', x, g.n * g.cIn * g.h * g.w);
  checkAtLeast(op, 'weight', weight, g.cOut * K);
  if (bias !== null) checkAtLeast(op, 'bias', bias, g.cOut);
  checkAtLeast(op, 'y', y, g.n * g.cOut * P);
  const cols = columns(x, K * P);
  for (let img = 0; img < g.n; img++) {
    im2col(x, img * g.cIn * g.h * g.w, g, cols);
    for (let co = 0; co < g.cOut; co++) {
      const yo = (img * g.cOut + co) * P;
      const b = bias === null ? 0 : bias[co];
      for (let p = 0; p < P; p++) y[yo + p] = b;
      for (let k = 0; k < K; k++) {
        const wv = weight[co * K + k];
        const co2 = k * P;
        for (let p = 0; p < P; p++) y[yo + p] += wv * cols[co2 + p];
      }
    }
  }
}

function conv2dBackwardInput(gy: FloatArray, weight: FloatArray, gx: FloatArray, ...geom: number[]): void {
  const op = 'conv2dBackwardInput';
  checkFloatArray(op, 'gy', gy);
  checkLike(op, 'weight', weight, gy);
  checkLike(op, 'gx', gx, gy);
  const g = convGeom(op, geom);
  const K = g.cIn * g.kH * g.kW,
    P = g.oH * g.oW,
    X = g.cIn * g.h * g.w;
  checkAtLeast(op, 'gy', gy, g.n * g.cOut * P);
  checkAtLeast(op, 'weight', weight, g.cOut * K);
  checkAtLeast(op, 'gx', gx, g.n * X);
  gx.fill(0, 0, g.n * X);
  const cols = columns(gy, K * P);
  for (let img = 0; img < g.n; img++) {
    cols.fill(0, 0, K * P);
    for (let co = 0; co < g.cOut; co++) {
      const yo = (img * g.cOut + co) * P;
      for (let k = 0; k < K; k++) {
        const wv = weight[co * K + k];
        const c0 = k * P;
        for (let p = 0; p < P; p++) cols[c0 + p] += wv * gy[yo + p];
      }
    }
    col2im(cols, g, gx, img * X);
  }
}

function conv2dBackwardWeight(
  x: FloatArray,
  gy: FloatArray,
  gw: FloatArray,
  gb: FloatArray | null,
  ...geom: number[]
): void {
  const op = 'conv2dBackwardWeight';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'gy', gy, x);
  checkLike(op, 'gw', gw, x);
  if (gb !== null) checkLike(op, 'gb', gb, x);
  const g = convGeom(op, geom);
  const K = g.cIn * g.kH * g.kW,
    P = g.oH * g.oW;
  checkAtLeast(op, 'x', x, g.n * g.cIn * g.h * g.w);
  checkAtLeast(op, 'gy', gy, g.n * g.cOut * P);
  checkAtLeast(op, 'gw', gw, g.cOut * K);
  if (gb !== null) checkAtLeast(op, 'gb', gb, g.cOut);
  gw.fill(0, 0, g.cOut * K);
  if (gb !== null) gb.fill(0, 0, g.cOut);
  const cols = columns(x, K * P);
  for (let img = 0; img < g.n; img++) {
    im2col(x, img * g.cIn * g.h * g.w, g, cols);
    for (let co = 0; co < g.cOut; co++) {
      const yo = (img * g.cOut + co) * P;
      for (let k = 0; k < K; k++) {
        const c0 = k * P;
        let s = 0;
        for (let p = 0; p < P; p++) s += gy[yo + p] * cols[c0 + p];
        gw[co * K + k] += s;
      }
      if (gb !== null) {
        let s = 0;
        for (let p = 0; p < P; p++) s += gy[yo + p];
        gb[co] += s;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Pooling

function maxPool2d(x: FloatArray, y: FloatArray, idx: Int32Array, ...geom: number[]): void {
  const op = 'maxPool2d';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'y', y, x);
  checkInt32Array(op, 'indices', idx);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w,
    O = g.oH * g.oW;
  checkAtLeast(op, 'x', x, g.planes * HW);
  checkAtLeast(op, 'y', y, g.planes * O);
  checkAtLeast(op, 'indices', idx, g.planes * O);
  // As the native binding: a window over an empty plane lies wholly in the padding.
  if (HW === 0 && g.planes > 0 && O > 0)
    throw new RangeError(`${op}: an input plane of ${g.h}x${g.w} is empty: a window over it has no maximum`);
  for (let pl = 0; pl < g.planes; pl++) {
    const xo = pl * HW;
    for (let oy = 0; oy < g.oH; oy++) {
      const y0 = oy * g.sH - g.pH;
      for (let ox = 0; ox < g.oW; ox++) {
        const x0 = ox * g.sW - g.pW;
        const i0 = Math.max(y0, 0),
          j0 = Math.max(x0, 0);
        let best = x[xo + i0 * g.w + j0];
        let at = i0 * g.w + j0;
        for (let i = i0; i < Math.min(y0 + g.kH, g.h); i++) {
          for (let j = j0; j < Math.min(x0 + g.kW, g.w); j++) {
            const v = x[xo + i * g.w + j];
            // torch's rule: the first maximum wins, but a NaN beats everything (the last NaN).
            if (v > best || v !== v) {
              best = v;
              at = i * g.w + j;
            }
          }
        }
        const o = pl * O + oy * g.oW + ox;
        y[o] = best;
        idx[o] = at;
      }
    }
  }
}

function maxPool2dBackward(gy: FloatArray, idx: Int32Array, gx: FloatArray, ...geom: number[]): void {
  const op = 'maxPool2dBackward';
  checkFloatArray(op, 'gy', gy);
  checkInt32Array(op, 'indices', idx);
  checkLike(op, 'gx', gx, gy);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w,
    O = g.oH * g.oW;
  checkAtLeast(op, 'gy', gy, g.planes * O);
  checkAtLeast(op, 'indices', idx, g.planes * O);
  checkAtLeast(op, 'gx', gx, g.planes * HW);
  checkIndicesBelow(op, 'indices', idx, g.planes * O, HW, '', 'the plane ');
  gx.fill(0, 0, g.planes * HW);
  for (let pl = 0; pl < g.planes; pl++) {
    for (let o = 0; o < O; o++) gx[pl * HW + idx[pl * O + o]] += gy[pl * O + o];
  }
}

function avgPool2d(x: FloatArray, y: FloatArray, ...geom: number[]): void {
  const op = 'avgPool2d';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'y', y, x);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w,
    O = g.oH * g.oW;
  checkAtLeast(op, 'x', x, g.planes * HW);
  checkAtLeast(op, 'y', y, g.planes * O);
  const inv = 1 / (g.kH * g.kW);
  for (let pl = 0; pl < g.planes; pl++) {
    const xo = pl * HW;
    for (let oy = 0; oy < g.oH; oy++) {
      const y0 = oy * g.sH - g.pH;
      for (let ox = 0; ox < g.oW; ox++) {
        const x0 = ox * g.sW - g.pW;
        let s = 0;
        for (let i = Math.max(y0, 0); i < Math.min(y0 + g.kH, g.h); i++) {
          for (let j = Math.max(x0, 0); j < Math.min(x0 + g.kW, g.w); j++) s += x[xo + i * g.w + j];
        }
        y[pl * O + oy * g.oW + ox] = s * inv;
      }
    }
  }
}

function avgPool2dBackward(gy: FloatArray, gx: FloatArray, ...geom: number[]): void {
  const op = 'avgPool2dBackward';
  checkFloatArray(op, 'gy', gy);
  checkLike(op, 'gx', gx, gy);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w,
    O = g.oH * g.oW;
  checkAtLeast(op, 'gy', gy, g.planes * O);
  checkAtLeast(op, 'gx', gx, g.planes * HW);
  gx.fill(0, 0, g.planes * HW);
  const inv = 1 / (g.kH * g.kW);
  for (let pl = 0; pl < g.planes; pl++) {
    const xo = pl * HW;
    for (let oy = 0; oy < g.oH; oy++) {
      const y0 = oy * g.sH - g.pH;
      for (let ox = 0; ox < g.oW; ox++) {
        const x0 = ox * g.sW - g.pW;
        const v = gy[pl * O + oy * g.oW + ox] * inv;
        for (let i = Math.max(y0, 0); i < Math.min(y0 + g.kH, g.h); i++) {
          for (let j = Math.max(x0, 0); j < Math.min(x0 + g.kW, g.w); j++) gx[xo + i * g.w + j] += v;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Batch-norm statistics

function batchNormStats(
  x: FloatArray,
  n: number,
  c: number,
  inner: number,
  mean: FloatArray,
  variance: FloatArray,
): void {
  const op = 'batchNormStats';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'mean', mean, x);
  checkLike(op, 'variance', variance, x);
  checkSize(op, 'n', n);
  checkSize(op, 'c', c);
  checkSize(op, 'inner', inner);
  checkAtLeast(op, 'x', x, n * c * inner);
  checkAtLeast(op, 'mean', mean, c);
  checkAtLeast(op, 'variance', variance, c);
  const count = n * inner;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * inner;
      for (let j = 0; j < inner; j++) s += x[o + j];
    }
    const m = count > 0 ? s / count : NaN;
    let q = 0;
    for (let i = 0; i < n; i++) {
      const o = (i * c + ch) * inner;
      for (let j = 0; j < inner; j++) {
        const d = x[o + j] - m;
        q += d * d;
      }
    }
    mean[ch] = m;
    variance[ch] = count > 0 ? q / count : NaN;
  }
}

function channelAffine(
  x: FloatArray,
  n: number,
  c: number,
  inner: number,
  scale: FloatArray,
  shift: FloatArray,
  y: FloatArray,
): void {
  const op = 'channelAffine';
  checkFloatArray(op, 'x', x);
  checkLike(op, 'scale', scale, x);
  checkLike(op, 'shift', shift, x);
  checkLike(op, 'y', y, x);
  checkSize(op, 'n', n);
  checkSize(op, 'c', c);
  checkSize(op, 'inner', inner);
  checkAtLeast(op, 'x', x, n * c * inner);
  checkAtLeast(op, 'scale', scale, c);
  checkAtLeast(op, 'shift', shift, c);
  checkAtLeast(op, 'y', y, n * c * inner);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * inner;
      const a = scale[ch],
        b = shift[ch];
      for (let j = 0; j < inner; j++) y[o + j] = x[o + j] * a + b;
    }
  }
}

/** The kernels of this file, spread into jsBackend. */
export const convKernels: Pick<
  Backend,
  | 'conv2d'
  | 'conv2dBackwardInput'
  | 'conv2dBackwardWeight'
  | 'maxPool2d'
  | 'maxPool2dBackward'
  | 'avgPool2d'
  | 'avgPool2dBackward'
  | 'batchNormStats'
  | 'channelAffine'
> = {
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2d,
  maxPool2dBackward,
  avgPool2d,
  avgPool2dBackward,
  batchNormStats,
  channelAffine,
};
