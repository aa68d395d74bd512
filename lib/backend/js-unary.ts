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

/** A parameter as the array's dtype holds it (torch converts an op's Scalar parameters to the dtype too). */
function paramOf(x: FloatArray, p: number): number {
  return x instanceof Float32Array ? Math.fround(p) : p;
}

const UNARY_KERNELS: Record<UnaryName, UnaryKernel> = {
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
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        y[i] = v > 0 ? v : slope * v;
      }
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
      for (let i = 0, n = x.length; i < n; i++) {
        const s = y[i];
        gx[i] = gy[i] * s * (1 - s);
      }
    },
  },
  tanh: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) y[i] = Math.tanh(x[i]);
    },
    backward(x, y, gy, gx) {
      for (let i = 0, n = x.length; i < n; i++) {
        const t = y[i];
        gx[i] = gy[i] * (1 - t * t);
      }
    },
  },
  gelu: {
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        y[i] = v * normalCdf(v);
      }
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
  softplus: {
    // torch: x where beta*x > threshold, else log1p(exp(beta*x))/beta. For a Float32Array, beta,
    // threshold and the product beta*x are float32 values, as in torch's float32 kernel, so the
    // same side of the threshold is taken. log1p(exp(t)) is evaluated as t + log1p(exp(-t)) for
    // t > 0: the same value, but it cannot overflow when the threshold is raised past 709.
    forward(x, y, p0, p1) {
      const f32 = x instanceof Float32Array;
      const beta = paramOf(x, p0),
        threshold = paramOf(x, p1);
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        const t = f32 ? Math.fround(beta * v) : beta * v;
        y[i] = t > threshold ? v : (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t))) / beta;
      }
    },
    backward(x, y, gy, gx, p0, p1) {
      // gy * z/(z + 1) with z = exp(beta*x), i.e. gy * sigmoid(beta*x), in its two overflow-free forms.
      const f32 = x instanceof Float32Array;
      const beta = paramOf(x, p0),
        threshold = paramOf(x, p1);
      for (let i = 0, n = x.length; i < n; i++) {
        const t = f32 ? Math.fround(beta * x[i]) : beta * x[i];
        if (t > threshold) {
          gx[i] = gy[i];
        } else if (t >= 0) {
          gx[i] = gy[i] / (1 + Math.exp(-t));
        } else {
          const z = Math.exp(t);
          gx[i] = (gy[i] * z) / (1 + z);
        }
      }
    },
  },
  silu: {
    // torch's form x / (1 + exp(-x)), except below -700: there exp(-x) overflows (torch gives -0)
    // and e^x is subnormal, while x e^x is a nonzero float64 down to -745, taken as x e^(x/2) e^(x/2).
    forward(x, y) {
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        y[i] = v > -700 ? v / (1 + Math.exp(-v)) : v * Math.exp(v / 2) * Math.exp(v / 2);
      }
    },
    backward(x, y, gy, gx) {
      // d/dx [x s(x)] = s (1 + x (1 - s)), s = sigmoid(x), with 1 - s taken from e = exp(-|x|)
      // rather than by a subtraction that cancels for large x; below -700, s = e^x (split as in
      // the forward) and 1 - s = 1.
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        if (v >= 0) {
          const e = Math.exp(-v);
          const s = 1 / (1 + e);
          gx[i] = gy[i] * s * (1 + v * e * s);
        } else if (v > -700) {
          const e = Math.exp(v);
          const c = 1 / (1 + e); // 1 - s
          gx[i] = gy[i] * e * c * (1 + v * c);
        } else {
          const h = Math.exp(v / 2);
          gx[i] = gy[i] * (1 + v) * h * h;
        }
      }
    },
  },
  elu: {
    // expm1 keeps alpha*(e^x - 1) accurate for x near 0, where e^x - 1 would cancel; + 0 turns
    // expm1(-0) = -0 into torch's exp(-0) - 1 = +0.
    forward(x, y, p0) {
      const alpha = paramOf(x, p0);
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        y[i] = v > 0 ? v : alpha * (Math.expm1(v) + 0);
      }
    },
    backward(x, y, gy, gx, p0) {
      const alpha = paramOf(x, p0);
      for (let i = 0, n = x.length; i < n; i++) {
        const v = x[i];
        gx[i] = v > 0 ? gy[i] : gy[i] * alpha * Math.exp(v);
      }
    },
  },
};

function unary(op: UnaryOp, x: FloatArray, y: FloatArray, p0: number, p1: number): void {
  const name = 'unary';
  checkCode(name, 'op', UNARY_OPS, op);
  checkFloatArrays(name, { x, y });
  checkLength(name, 'y', y, x.length);
  checkNumber(name, 'p0', p0);
  checkNumber(name, 'p1', p1);
  UNARY_KERNELS[UNARY_OPS[op]].forward(x, y, p0, p1);
}

function unaryBackward(
  op: UnaryOp,
  x: FloatArray,
  y: FloatArray,
  gy: FloatArray,
  gx: FloatArray,
  p0: number,
  p1: number,
): void {
  const name = 'unaryBackward';
  checkCode(name, 'op', UNARY_OPS, op);
  checkFloatArrays(name, { x, y, gy, gx });
  checkLength(name, 'y', y, x.length);
  checkLength(name, 'gy', gy, x.length);
  checkLength(name, 'gx', gx, x.length);
  checkNumber(name, 'p0', p0);
  checkNumber(name, 'p1', p1);
  UNARY_KERNELS[UNARY_OPS[op]].backward(x, y, gy, gx, p0, p1);
}

export const unaryKernels: Pick<Backend, 'unary' | 'unaryBackward'> = { unary, unaryBackward };
