// Activations, softmax and dropout in functional form (nn's F re-exports these). Each activation
// is declared here once: its registry entry (defineUnary: its code and its backward rule in
// Tensor ops) beside its public function. Their fused backward is the unaryBackward kernel.

import { kernels } from '../backend/index.js';
import type { UnaryOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { nextDouble } from '../random.js';
import { markInternal } from '../backend/memory.js';
import { defineOp } from './registry.js';
import { defineUnary, unary } from './unary.js';
import { compareMask } from './binary.js';
import { allocLike, allocOut, checkTensor, floatData, normDim, record } from './util.js';

const reluOp = defineUnary('relu', (g, x) => g.mul(compareMask('gt', x, 0)));
export const relu = (x: Tensor): Tensor => unary(reluOp, x);

const leakyReluOp = defineUnary('leakyRelu', (g, x, _y, slope) =>
  g.mul(
    compareMask('gt', x, 0)
      .mul(1 - slope)
      .add(slope),
  ),
);
/** max(0, x) + slope * min(0, x). */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor =>
  unary(leakyReluOp, x, checkParam('leakyRelu', 'negativeSlope', negativeSlope));

const sigmoidOp = defineUnary('sigmoid', (g, _x, y) => g.mul(y.mul(y.rsub(1))));
export const sigmoid = (x: Tensor): Tensor => unary(sigmoidOp, x);

const tanhOp = defineUnary('tanh', (g, _x, y) => g.mul(y.mul(y).rsub(1)));
export const tanh = (x: Tensor): Tensor => unary(tanhOp, x);

const geluOp = defineUnary('gelu', (g, x, y) => g.mul(geluDerivative(x, y)));
export interface GeluOptions {
  /** 'none' (default): x Phi(x) with the exact erf; 'tanh': torch's tanh approximation. */
  approximate?: 'none' | 'tanh';
}

/** GELU: exact (erf) by default, or torch's tanh approximation. */
export function gelu(x: Tensor, { approximate = 'none' }: GeluOptions = {}): Tensor {
  if (approximate === 'none') return unary(geluOp, x);
  if (approximate !== 'tanh') {
    throw new TypeError(`gelu: approximate must be 'none' or 'tanh', got ${String(approximate)}`);
  }
  // 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), composed from Tensor ops (gradients of any
  // order come from theirs); not hot enough for a kernel code of its own.
  checkTensor('gelu', 'input', x);
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(inner.tanh().add(1)).mul(0.5);
}

/**
 * gelu'(x) = Phi(x) + x phi(x), as a differentiable op of its own (forward: the unaryBackward
 * kernel with gy = 1) so that gelu supports double backward without an erf op:
 * gelu''(x) = phi(x) (2 - x^2).
 */
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const geluDerivativeOp = defineOp<null>({
  name: 'geluDerivative',
  kernels: ['unaryBackward'],
  arity: 1,
  rule: (g, node) => {
    const x = node.inputs[0];
    const x2 = x.mul(x);
    const phi = x2.mul(-0.5).exp().mul(INV_SQRT_2PI);
    return [g.mul(phi.mul(x2.rsub(2)))];
  },
});

function geluDerivative(x: Tensor, y: Tensor): Tensor {
  const n = x.data.length;
  const ones = allocLike(floatData(x), n).fill(1);
  const out = new Tensor(allocOut(floatData(x), n), x.shape);
  kernels().unaryBackward(geluOp.code as UnaryOp, floatData(x), floatData(y), ones, floatData(out), 0, 0);
  return record(out, geluDerivativeOp, [x], null);
}

export interface SoftplusOptions {
  /** Scales x inside: log(1 + exp(beta x)) / beta. Default 1. */
  beta?: number;
  /** Above beta x > threshold the function is taken as x (linear), as torch. Default 20. */
  threshold?: number;
}

// d/dx = sigmoid(beta x) up to the threshold, 1 above it. At beta x = threshold, s - s.detach()
// (0, with s's slope) takes the slope off, so the second derivative there is 0 as torch's (whose
// double backward masks with beta x < threshold while its backward takes the curve).
const softplusOp = defineUnary('softplus', (g, x, _y, beta, threshold) => {
  const bx = x.mul(beta);
  const s = bx.sigmoid();
  return g.mul(
    s.add(compareMask('gt', bx, threshold).mul(s.rsub(1))).sub(compareMask('eq', bx, threshold).mul(s.sub(s.detach()))),
  );
});
/** torch.nn.functional.softplus: log(1 + exp(beta x)) / beta, and x where beta x > threshold. */
export function softplus(x: Tensor, { beta = 1, threshold = 20 }: SoftplusOptions = {}): Tensor {
  return unary(softplusOp, x, checkParam('softplus', 'beta', beta), checkParam('softplus', 'threshold', threshold));
}

// d/dx x s(x) = s (1 + x (1 - s)).
const siluOp = defineUnary('silu', (g, x) => {
  const s = x.sigmoid();
  return g.mul(s.mul(x.mul(s.rsub(1)).add(1)));
});
/** SiLU (swish): x * sigmoid(x). */
export const silu = (x: Tensor): Tensor => unary(siluOp, x);

export interface EluOptions {
  /** The value approached for x -> -inf is -alpha. Default 1. */
  alpha?: number;
}

// d/dx = 1 for x > 0, alpha exp(x) otherwise (x = 0 included, as torch). exp is taken of x masked
// to 0 unless x < 0: a large positive x cannot make Inf * 0 = NaN in the unused branch, and at
// x = 0 the mask makes the second derivative 0, as torch's (whose double backward masks with x < 0).
const eluOp = defineUnary('elu', (g, x, _y, alpha) => {
  const pos = compareMask('gt', x, 0);
  return g.mul(
    pos.add(
      pos.rsub(1).mul(
        x
          .mul(compareMask('lt', x, 0))
          .exp()
          .mul(alpha),
      ),
    ),
  );
});
/** torch.nn.functional.elu: x where x > 0, alpha (exp(x) - 1) otherwise. */
export function elu(x: Tensor, { alpha = 1 }: EluOptions = {}): Tensor {
  return unary(eluOp, x, checkParam('elu', 'alpha', alpha));
}

function checkParam(op: string, name: string, v: unknown): number {
  if (typeof v !== 'number') throw new TypeError(`${op}: ${name} must be a number, got ${String(v)}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// softmax / logSoftmax: the kernels work on the last axis; another dim goes through a transpose.

export interface SoftmaxOptions {
  /** torch's `dtype`: the input is cast to it first (differentiably), and the result has it. */
  dtype?: 'float32' | 'float64';
}

export function softmax(x: Tensor, dim = -1, { dtype }: SoftmaxOptions = {}): Tensor {
  return softmaxAlong(dtype === undefined ? x : castFor('softmax', x, dtype), dim, false);
}

export function logSoftmax(x: Tensor, dim = -1, { dtype }: SoftmaxOptions = {}): Tensor {
  return softmaxAlong(dtype === undefined ? x : castFor('logSoftmax', x, dtype), dim, true);
}

function castFor(op: string, x: Tensor, dtype: 'float32' | 'float64'): Tensor {
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new TypeError(`${op}: dtype must be 'float32' or 'float64', got ${String(dtype)}`);
  }
  checkTensor(op, 'input', x);
  return x.to(dtype);
}

function softmaxAlong(x: Tensor, dim: number, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  checkTensor(name, 'input', x);
  const nd = x.shape.length;
  const d = normDim(name, dim, nd);
  if (nd > 0 && d !== nd - 1) return softmaxLast(x.transpose(d, -1), log).transpose(d, -1);
  return softmaxLast(x, log);
}

function lastAxis(y: Tensor): { rows: number; cols: number } {
  const cols = y.shape.length === 0 ? 1 : y.shape[y.shape.length - 1];
  return { rows: cols === 0 ? 0 : y.data.length / cols, cols };
}

function softmaxLast(x: Tensor, log: boolean): Tensor {
  const { rows, cols } = lastAxis(x);
  const y = new Tensor(allocOut(floatData(x), x.data.length), x.shape);
  if (log) kernels().logSoftmax(floatData(x), rows, cols, floatData(y));
  else kernels().softmax(floatData(x), rows, cols, floatData(y));
  return record<Tensor>(y, log ? logSoftmaxOp : softmaxOp, [x], y);
}

/** The saved output y and the last axis, for the rules. */
function lastDim(y: Tensor): number {
  return Math.max(y.shape.length - 1, 0);
}

const softmaxOp = defineOp<Tensor>({
  name: 'softmax',
  kernels: ['softmax'],
  arity: 1,
  // y * (g - sum(g * y)) over the last axis.
  rule: (g, node) => {
    const y = node.saved;
    return [y.mul(g.sub(g.mul(y).sum(lastDim(y), true)))];
  },
  fused: (g, node) => softmaxFused(g, node, false),
  fusedKernels: ['softmaxBackward'],
});

const logSoftmaxOp = defineOp<Tensor>({
  name: 'logSoftmax',
  kernels: ['logSoftmax'],
  arity: 1,
  // g - exp(y) * sum(g) over the last axis.
  rule: (g, node) => {
    const y = node.saved;
    return [g.sub(y.exp().mul(g.sum(lastDim(y), true)))];
  },
  fused: (g, node) => softmaxFused(g, node, true),
  fusedKernels: ['logSoftmaxBackward'],
});

function softmaxFused(g: Tensor, node: Node<Tensor>, log: boolean): Grads {
  const y = node.saved;
  const { rows, cols } = lastAxis(y);
  const gx = allocOut(floatData(y), y.data.length);
  if (log) kernels().logSoftmaxBackward(floatData(y), floatData(g), rows, cols, gx);
  else kernels().softmaxBackward(floatData(y), floatData(g), rows, cols, gx);
  return [new Tensor(gx, y.shape)];
}

// ---------------------------------------------------------------------------------------------
// dropout

/**
 * Zeroes each element with probability p and scales the rest by 1/(1-p) while training; the
 * identity otherwise. The mask is drawn from the seeded generator (manualSeed).
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkTensor('dropout', 'input', x);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1))
    throw new RangeError(`dropout: p must be in [0, 1], got ${String(p)}`);
  if (!training || p === 0) return x;
  const mask = allocLike(x.data, x.data.length);
  if (p < 1) {
    const scale = 1 / (1 - p);
    for (let i = 0; i < mask.length; i++) mask[i] = nextDouble() >= p ? scale : 0;
  }
  markInternal(mask); // the graph's mul node holds the mask: saved memory though a leaf
  return x.mul(new Tensor(mask, x.shape));
}
