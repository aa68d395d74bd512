// The js backend's elementwise unary kernels: one entry per op of UNARY_OPS, holding its forward
// and backward loop over the whole array. The table is keyed by op name and typed against
// UnaryName, so an op without a js kernel is a compile error here; the kernels look up
// table[UNARY_OPS[op]]. Each loop is its own function (one call per kernel call, never one per
// element), so V8 compiles every op's loop on its own.

import { UNARY_OPS, type Backend, type FloatArray, type UnaryName, type UnaryOp } from './types.js';
import { checkCode, checkFloatArrays, checkLength, checkNumber } from './js-checks.js';
import { INV_SQRT_2PI, normalCdf } from './js-math.js';

/** One op's loops. p0 and p1 are the op's parameters (see UNARY_OPS), ignored by ops without them. */
interface UnaryKernel {
  /** y[i] = f(x[i]) for every i < x.length; y may be x. */
  forward(x: FloatArray, y: FloatArray, p0: number, p1: number): void;
  /** gx[i] = gy[i] * f'(x[i]), given y = f(x); gx may be gy. */
  backward(x: FloatArray, y: FloatArray, gy: FloatArray, gx: FloatArray, p0: number, p1: number): void;
}

/** Ops whose js kernels are not written yet: unary throws a RangeError for them. */
type Pending = 'softplus' | 'silu' | 'elu';

const UNARY_KERNELS: Record<Exclude<UnaryName, Pending>, UnaryKernel> = {
  relu: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.max(x[i], 0); // NaN stays NaN, as in torch
    },
    backward(x, y, gy, gx) {
      // torch: the gradient is 0 where x <= 0 (0 at x = 0).
      for (let i = 0, n = x.length; i < n; i++) gx[i] = x[i] > 0 ? gy[i] : 0;
    },
  },
  leakyRelu: {
    forward(x, y, slope) {
      for (let i = 0, n = x.length; i < n; i++) { const v = x[i]; y[i] = v > 0 ? v : slope * v; }
    },
    backward(x, y, gy, gx, slope) {
      for (let i = 0, n = x.length; i < n; i++) gx[i] = x[i] > 0 ? gy[i] : slope * gy[i];
    },
  },
  sigmoid: {
    forward(x, y) {
      // Two forms so exp never overflows into Inf/Inf.
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        if (v >= 0) {
          y[i] = 1 / (1 + Math.exp(-v));
        } else {
          const e = Math.exp(v);
          y[i] = e / (1 + e);
        }
      }
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) { const s = y[i]; gx[i] = gy[i] * s * (1 - s); }
    },
  },
  tanh: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.tanh(x[i]);
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) { const t = y[i]; gx[i] = gy[i] * (1 - t * t); }
    },
  },
  gelu: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) { const v = x[i]; y[i] = v * normalCdf(v); }
    },
    backward(x, y, gy, gx) {
      // d/dx [x Phi(x)] = Phi(x) + x phi(x)
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        gx[i] = gy[i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
    },
  },
  exp: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.exp(x[i]);
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) gx[i] = gy[i] * y[i];
    },
  },
  log: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.log(x[i]);
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) gx[i] = gy[i] / x[i];
    },
  },
  sqrt: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.sqrt(x[i]);
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) gx[i] = gy[i] / (2 * y[i]);
    },
  },
  abs: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.abs(x[i]);
    },
    backward(x, y, gy, gx) {
      // torch: grad * sign(x), so 0 at x = 0.
      for (let i = 0, n = x.length; i < n; i++) gx[i] = gy[i] * Math.sign(x[i]);
    },
  },
  neg: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = -x[i];
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) gx[i] = -gy[i];
    },
  },
  sign: {
    forward(x, y) {
      // -1, 0 or 1; NaN stays NaN, as torch.sign.
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.sign(x[i]);
    },
    backward(x, y, gy, gx) {
      gx.fill(0, 0, x.length);
    },
  },
};

function kernelOf(name: string, op: number): UnaryKernel {
  const kernel = (UNARY_KERNELS as Partial<Record<UnaryName, UnaryKernel>>)[UNARY_OPS[op]];
  if (kernel === undefined) throw new RangeError(`${name}: the js backend has no kernel for ${UNARY_OPS[op]} (op ${op})`);
  return kernel;
}

function unary(op: UnaryOp, x: FloatArray, y: FloatArray, p0: number, p1: number): void {
  const name = 'unary';
  checkCode(name, 'op', UNARY_OPS, op);
  checkFloatArrays(name, { x, y });
  checkLength(name, 'y', y, x.length);
  checkNumber(name, 'p0', p0);
  checkNumber(name, 'p1', p1);
  kernelOf(name, op).forward(x, y, p0, p1);
}

function unaryBackward(op: UnaryOp, x: FloatArray, y: FloatArray, gy: FloatArray, gx: FloatArray, p0: number, p1: number): void {
  const name = 'unaryBackward';
  checkCode(name, 'op', UNARY_OPS, op);
  checkFloatArrays(name, { x, y, gy, gx });
  checkLength(name, 'y', y, x.length);
  checkLength(name, 'gy', gy, x.length);
  checkLength(name, 'gx', gx, x.length);
  checkNumber(name, 'p0', p0);
  checkNumber(name, 'p1', p1);
  kernelOf(name, op).backward(x, y, gy, gx, p0, p1);
}

export const unaryKernels: Pick<Backend, 'unary' | 'unaryBackward'> = { unary, unaryBackward };
