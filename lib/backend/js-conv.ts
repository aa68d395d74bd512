// The js backend's convolution, pooling and batch-norm statistics kernels (merged into jsBackend
// in js.ts). Convolution goes through im2col and plain loops over one image at a time, the same
// algorithm as the native kernels, with the column buffer kept between calls.

import type { Backend, FloatArray } from './types.js';
import { checkAtLeast, checkFloatArray, checkInt32Array, describe } from './js-checks.js';

// ---------------------------------------------------------------------------------------------
// Argument checks (the same classes of error as the native side: TypeError for a wrong kind of
// value, RangeError for a wrong size or length).

function floats(op: string, name: string, v: unknown, like?: FloatArray): FloatArray {
  checkFloatArray(op, name, v);
  if (like !== undefined && v.constructor !== like.constructor) {
    throw new TypeError(`${op}: ${name} is a ${v.constructor.name} but the other arrays are ${like.constructor.name}s; all arrays must share one dtype`);
  }
  return v;
}

function indices(op: string, name: string, v: unknown): Int32Array {
  checkInt32Array(op, name, v);
  return v;
}

function size(op: string, name: string, v: unknown, min = 0): number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < min || v > 2147483647) {
    throw new RangeError(`${op}: ${name} must be an integer in [${min}, 2147483647], got ${v}`);
  }
  return v;
}

function atLeast(op: string, name: string, a: ArrayLike<number>, need: number): void {
  if (!Number.isSafeInteger(need)) throw new RangeError(`${op}: ${name} would need too many elements`);
  checkAtLeast(op, name, a, need);
}

/** One spatial dimension of a window op: the output size, or a RangeError when it is empty. */
function outSize(op: string, dim: string, input: number, k: number, stride: number, pad: number, dil: number): number {
  const span = dil * (k - 1) + 1;
  if (input + 2 * pad < span) {
    throw new RangeError(`${op}: kernel ${dim} ${k}${dil > 1 ? ` (dilation ${dil}, span ${span})` : ''} is larger than the padded input ${dim} ${input} + 2*${pad}`);
  }
  return Math.floor((input + 2 * pad - span) / stride) + 1;
}

interface ConvGeom {
  n: number; cIn: number; h: number; w: number; cOut: number; kH: number; kW: number;
  sH: number; sW: number; pH: number; pW: number; dH: number; dW: number;
  oH: number; oW: number;
}

function convGeom(op: string, g: readonly number[]): ConvGeom {
  const names = ['n', 'cIn', 'h', 'w', 'cOut', 'kH', 'kW', 'strideH', 'strideW', 'padH', 'padW', 'dilationH', 'dilationW'];
  const mins = [0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1];
  const v = names.map((name, i) => size(op, name, g[i], mins[i]));
  const [n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW] = v;
  const oH = outSize(op, 'height', h, kH, sH, pH, dH);
  const oW = outSize(op, 'width', w, kW, sW, pW, dW);
  return { n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW };
}

interface PoolGeom { planes: number; h: number; w: number; kH: number; kW: number; sH: number; sW: number; pH: number; pW: number; oH: number; oW: number }

function poolGeom(op: string, g: readonly number[]): PoolGeom {
  const names = ['planes', 'h', 'w', 'kH', 'kW', 'strideH', 'strideW', 'padH', 'padW'];
  const mins = [0, 0, 0, 1, 1, 1, 1, 0, 0];
  const [planes, h, w, kH, kW, sH, sW, pH, pW] = names.map((name, i) => size(op, name, g[i], mins[i]));
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

function im2col(x: FloatArray, xOff: number, g: ConvGeom, cols: FloatArray): void {
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
function col2im(cols: FloatArray, g: ConvGeom, gx: FloatArray, xOff: number): void {
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
  floats(op, 'x', x);
  floats(op, 'weight', weight, x);
  if (bias !== null) floats(op, 'bias', bias, x);
  floats(op, 'y', y, x);
  const g = convGeom(op, geom);
  const K = g.cIn * g.kH * g.kW, P = g.oH * g.oW;
  atLeast(op, 'x', x, g.n * g.cIn * g.h * g.w);
  atLeast(op, 'weight', weight, g.cOut * K);
  if (bias !== null) atLeast(op, 'bias', bias, g.cOut);
  atLeast(op, 'y', y, g.n * g.cOut * P);
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
  floats(op, 'gy', gy);
  floats(op, 'weight', weight, gy);
  floats(op, 'gx', gx, gy);
  const g = convGeom(op, geom);
  const K = g.cIn * g.kH * g.kW, P = g.oH * g.oW, X = g.cIn * g.h * g.w;
  atLeast(op, 'gy', gy, g.n * g.cOut * P);
  atLeast(op, 'weight', weight, g.cOut * K);
  atLeast(op, 'gx', gx, g.n * X);
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

function conv2dBackwardWeight(x: FloatArray, gy: FloatArray, gw: FloatArray, gb: FloatArray | null, ...geom: number[]): void {
  const op = 'conv2dBackwardWeight';
  floats(op, 'x', x);
  floats(op, 'gy', gy, x);
  floats(op, 'gw', gw, x);
  if (gb !== null) floats(op, 'gb', gb, x);
  const g = convGeom(op, geom);
  const K = g.cIn * g.kH * g.kW, P = g.oH * g.oW;
  atLeast(op, 'x', x, g.n * g.cIn * g.h * g.w);
  atLeast(op, 'gy', gy, g.n * g.cOut * P);
  atLeast(op, 'gw', gw, g.cOut * K);
  if (gb !== null) atLeast(op, 'gb', gb, g.cOut);
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
  floats(op, 'x', x);
  floats(op, 'y', y, x);
  indices(op, 'indices', idx);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w, O = g.oH * g.oW;
  atLeast(op, 'x', x, g.planes * HW);
  atLeast(op, 'y', y, g.planes * O);
  atLeast(op, 'indices', idx, g.planes * O);
  for (let pl = 0; pl < g.planes; pl++) {
    const xo = pl * HW;
    for (let oy = 0; oy < g.oH; oy++) {
      const y0 = oy * g.sH - g.pH;
      for (let ox = 0; ox < g.oW; ox++) {
        const x0 = ox * g.sW - g.pW;
        const i0 = Math.max(y0, 0), j0 = Math.max(x0, 0);
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
  floats(op, 'gy', gy);
  indices(op, 'indices', idx);
  floats(op, 'gx', gx, gy);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w, O = g.oH * g.oW;
  atLeast(op, 'gy', gy, g.planes * O);
  atLeast(op, 'indices', idx, g.planes * O);
  atLeast(op, 'gx', gx, g.planes * HW);
  for (let i = 0; i < g.planes * O; i++) {
    if (idx[i] < 0 || idx[i] >= HW) throw new RangeError(`${op}: indices holds ${idx[i]} at ${i}, outside the plane [0, ${HW})`);
  }
  gx.fill(0, 0, g.planes * HW);
  for (let pl = 0; pl < g.planes; pl++) {
    for (let o = 0; o < O; o++) gx[pl * HW + idx[pl * O + o]] += gy[pl * O + o];
  }
}

function avgPool2d(x: FloatArray, y: FloatArray, ...geom: number[]): void {
  const op = 'avgPool2d';
  floats(op, 'x', x);
  floats(op, 'y', y, x);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w, O = g.oH * g.oW;
  atLeast(op, 'x', x, g.planes * HW);
  atLeast(op, 'y', y, g.planes * O);
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
  floats(op, 'gy', gy);
  floats(op, 'gx', gx, gy);
  const g = poolGeom(op, geom);
  const HW = g.h * g.w, O = g.oH * g.oW;
  atLeast(op, 'gy', gy, g.planes * O);
  atLeast(op, 'gx', gx, g.planes * HW);
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

function batchNormStats(x: FloatArray, n: number, c: number, inner: number, mean: FloatArray, variance: FloatArray): void {
  const op = 'batchNormStats';
  floats(op, 'x', x);
  floats(op, 'mean', mean, x);
  floats(op, 'variance', variance, x);
  size(op, 'n', n);
  size(op, 'c', c);
  size(op, 'inner', inner);
  atLeast(op, 'x', x, n * c * inner);
  atLeast(op, 'mean', mean, c);
  atLeast(op, 'variance', variance, c);
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

function channelAffine(x: FloatArray, n: number, c: number, inner: number, scale: FloatArray, shift: FloatArray, y: FloatArray): void {
  const op = 'channelAffine';
  floats(op, 'x', x);
  floats(op, 'scale', scale, x);
  floats(op, 'shift', shift, x);
  floats(op, 'y', y, x);
  size(op, 'n', n);
  size(op, 'c', c);
  size(op, 'inner', inner);
  atLeast(op, 'x', x, n * c * inner);
  atLeast(op, 'scale', scale, c);
  atLeast(op, 'shift', shift, c);
  atLeast(op, 'y', y, n * c * inner);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      const o = (i * c + ch) * inner;
      const a = scale[ch], b = shift[ch];
      for (let j = 0; j < inner; j++) y[o + j] = x[o + j] * a + b;
    }
  }
}

/** The kernels of this file, spread into jsBackend. */
export const convKernels: Pick<Backend, 'conv2d' | 'conv2dBackwardInput' | 'conv2dBackwardWeight' | 'maxPool2d' |
  'maxPool2dBackward' | 'avgPool2d' | 'avgPool2dBackward' | 'batchNormStats' | 'channelAffine'> = {
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
