// Activations, softmax and dropout in functional form (nn's F re-exports these).

import { kernels } from '../backend/index.js';
import { UnaryOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled } from '../autograd/mode.js';
import type { Grads, Node } from '../autograd/node.js';
import { nextDouble } from '../random.js';
import { allocLike, allocOut, checkTensor, normDim, record } from './util.js';
import { unary } from './elementwise.js';

export const relu = (x: Tensor): Tensor => unary(UnaryOp.relu, x);
/** max(0, x) + slope * min(0, x). */
export const leakyRelu = (x: Tensor, negativeSlope = 0.01): Tensor => unary(UnaryOp.leakyRelu, x, negativeSlope);
/** Exact (erf) GELU. */
export const gelu = (x: Tensor): Tensor => unary(UnaryOp.gelu, x);
export const sigmoid = (x: Tensor): Tensor => unary(UnaryOp.sigmoid, x);
export const tanh = (x: Tensor): Tensor => unary(UnaryOp.tanh, x);

// ---------------------------------------------------------------------------------------------
// softmax / logSoftmax: the kernels work on the last axis; another dim goes through a transpose.

export function softmax(x: Tensor, dim = -1): Tensor {
  return softmaxAlong(x, dim, false);
}

export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return softmaxAlong(x, dim, true);
}

function softmaxAlong(x: Tensor, dim: number, log: boolean): Tensor {
  const name = log ? 'logSoftmax' : 'softmax';
  checkTensor(name, 'input', x);
  const nd = x.shape.length;
  const d = normDim(name, dim, nd);
  if (nd > 0 && d !== nd - 1) return softmaxLast(x.transpose(d, -1), log).transpose(d, -1);
  return softmaxLast(x, log);
}

function softmaxLast(x: Tensor, log: boolean): Tensor {
  const cols = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
  const rows = cols === 0 ? 0 : x.data.length / cols;
  const y = new Tensor(allocOut(x.data, x.data.length), x.shape);
  if (log) kernels().logSoftmax(x.data, rows, cols, y.data);
  else kernels().softmax(x.data, rows, cols, y.data);
  return record<Tensor>(y, log ? 'logSoftmax' : 'softmax', log ? logSoftmaxBackward : softmaxBackward, [x], y);
}

function softmaxBackward(g: Tensor, node: Node<Tensor>): Grads {
  const y = node.saved;
  if (!isGradEnabled()) {
    const cols = y.shape.length === 0 ? 1 : y.shape[y.shape.length - 1];
    const gx = allocOut(y.data, y.data.length);
    kernels().softmaxBackward(y.data, g.data, cols === 0 ? 0 : y.data.length / cols, cols, gx);
    return [new Tensor(gx, y.shape)];
  }
  return [softmaxRule(g, y)];
}

function logSoftmaxBackward(g: Tensor, node: Node<Tensor>): Grads {
  const y = node.saved;
  if (!isGradEnabled()) {
    const cols = y.shape.length === 0 ? 1 : y.shape[y.shape.length - 1];
    const gx = allocOut(y.data, y.data.length);
    kernels().logSoftmaxBackward(y.data, g.data, cols === 0 ? 0 : y.data.length / cols, cols, gx);
    return [new Tensor(gx, y.shape)];
  }
  return [logSoftmaxRule(g, y)];
}

/** The composed softmax rule over the last axis: y * (g - sum(g * y)). */
function softmaxRule(g: Tensor, y: Tensor): Tensor {
  const last = Math.max(y.shape.length - 1, 0);
  return y.mul(g.sub(g.mul(y).sum(last, true)));
}

/** The composed logSoftmax rule over the last axis: g - exp(y) * sum(g). */
function logSoftmaxRule(g: Tensor, y: Tensor): Tensor {
  const last = Math.max(y.shape.length - 1, 0);
  return g.sub(y.exp().mul(g.sum(last, true)));
}

// ---------------------------------------------------------------------------------------------
// dropout

/**
 * Zeroes each element with probability p and scales the rest by 1/(1-p) while training; the
 * identity otherwise. The mask is drawn from the seeded generator (manualSeed).
 */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  checkTensor('dropout', 'input', x);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${String(p)}`);
  if (!training || p === 0) return x;
  const mask = allocLike(x.data, x.data.length);
  if (p < 1) {
    const scale = 1 / (1 - p);
    for (let i = 0; i < mask.length; i++) mask[i] = nextDouble() >= p ? scale : 0;
  }
  return x.mul(new Tensor(mask, x.shape));
}
