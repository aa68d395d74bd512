// The js backend's elementwise unary kernels (UNARY_OPS). softplus, silu and elu have no js
// kernel yet: unary throws a RangeError for them.

import { UNARY_OPS, UnaryOp, type Backend, type FloatArray } from './types.js';
import { checkCode, checkFloatArrays, checkLength, checkNumber } from './js-checks.js';
import { INV_SQRT_2PI, normalCdf } from './js-math.js';

function unary(op: UnaryOp, x: FloatArray, y: FloatArray, p0: number, p1: number): void {
  const name = 'unary';
  checkCode(name, 'op', UNARY_OPS, op);
  checkFloatArrays(name, { x, y });
  checkLength(name, 'y', y, x.length);
  checkNumber(name, 'p0', p0);
  checkNumber(name, 'p1', p1);
  const alpha = p0;
  const len = x.length;
  switch (op) {
    case UnaryOp.relu:
      for (let i = 0; i < len; i++) y[i] = Math.max(x[i], 0); // NaN stays NaN, as in torch
      break;
    case UnaryOp.leakyRelu:
      for (let i = 0; i < len; i++) { const v = x[i]; y[i] = v > 0 ? v : alpha * v; }
      break;
    case UnaryOp.sigmoid:
      // Two forms so exp never overflows into Inf/Inf.
      for (let i = 0; i < len; i++) {
        const v = x[i];
        if (v >= 0) {
          y[i] = 1 / (1 + Math.exp(-v));
        } else {
          const e = Math.exp(v);
          y[i] = e / (1 + e);
        }
      }
      break;
    case UnaryOp.tanh:
      for (let i = 0; i < len; i++) y[i] = Math.tanh(x[i]);
      break;
    case UnaryOp.gelu:
      for (let i = 0; i < len; i++) { const v = x[i]; y[i] = v * normalCdf(v); }
      break;
    case UnaryOp.exp:
      for (let i = 0; i < len; i++) y[i] = Math.exp(x[i]);
      break;
    case UnaryOp.log:
      for (let i = 0; i < len; i++) y[i] = Math.log(x[i]);
      break;
    case UnaryOp.sqrt:
      for (let i = 0; i < len; i++) y[i] = Math.sqrt(x[i]);
      break;
    case UnaryOp.abs:
      for (let i = 0; i < len; i++) y[i] = Math.abs(x[i]);
      break;
    case UnaryOp.neg:
      for (let i = 0; i < len; i++) y[i] = -x[i];
      break;
    case UnaryOp.sign:
      // -1, 0 or 1; NaN stays NaN, as torch.sign.
      for (let i = 0; i < len; i++) y[i] = Math.sign(x[i]);
      break;
    default:
      throw new RangeError(`${name}: the js backend has no kernel for ${UNARY_OPS[op]} (op ${op})`);
  }
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
  const alpha = p0;
  const len = x.length;
  switch (op) {
    case UnaryOp.relu:
      // torch: the gradient is 0 where x <= 0 (0 at x = 0).
      for (let i = 0; i < len; i++) gx[i] = x[i] > 0 ? gy[i] : 0;
      break;
    case UnaryOp.leakyRelu:
      for (let i = 0; i < len; i++) gx[i] = x[i] > 0 ? gy[i] : alpha * gy[i];
      break;
    case UnaryOp.sigmoid:
      for (let i = 0; i < len; i++) { const s = y[i]; gx[i] = gy[i] * s * (1 - s); }
      break;
    case UnaryOp.tanh:
      for (let i = 0; i < len; i++) { const t = y[i]; gx[i] = gy[i] * (1 - t * t); }
      break;
    case UnaryOp.gelu:
      // d/dx [x Phi(x)] = Phi(x) + x phi(x)
      for (let i = 0; i < len; i++) {
        const v = x[i];
        gx[i] = gy[i] * (normalCdf(v) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      break;
    case UnaryOp.exp:
      for (let i = 0; i < len; i++) gx[i] = gy[i] * y[i];
      break;
    case UnaryOp.log:
      for (let i = 0; i < len; i++) gx[i] = gy[i] / x[i];
      break;
    case UnaryOp.sqrt:
      for (let i = 0; i < len; i++) gx[i] = gy[i] / (2 * y[i]);
      break;
    case UnaryOp.abs:
      // torch: grad * sign(x), so 0 at x = 0.
      for (let i = 0; i < len; i++) gx[i] = gy[i] * Math.sign(x[i]);
      break;
    case UnaryOp.neg:
      for (let i = 0; i < len; i++) gx[i] = -gy[i];
      break;
    case UnaryOp.sign:
      for (let i = 0; i < len; i++) gx[i] = 0;
      break;
    default:
      throw new RangeError(`${name}: the js backend has no kernel for ${UNARY_OPS[op]} (op ${op})`);
  }
}

export const unaryKernels: Pick<Backend, 'unary' | 'unaryBackward'> = { unary, unaryBackward };
