// F (= nn.functional): stateless layer functions with torch's argument order, options last.
// Activations, softmax, dropout, linear and the losses are ops (lib/ops) and re-exported here;
// the normalisations and embedding are composed from Tensor ops, so their gradients (and
// double gradients) come from the ops' own rules.

import { Tensor } from '../tensor.js';
import { toIndexArray, type Indices } from '../ops/util.js';

export {
  linear, relu, leakyRelu, gelu, sigmoid, tanh, softmax, logSoftmax, dropout,
  mseLoss, l1Loss, huberLoss, crossEntropy, nllLoss, bceWithLogits,
} from '../ops/functional.js';
export type { Reduction, LossOptions, HuberOptions } from '../ops/functional.js';
export type { Indices } from '../ops/util.js';

function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function checkTensorArg(op: string, name: string, value: unknown): asserts value is Tensor {
  if (!(value instanceof Tensor)) throw new TypeError(`${op}: ${name} must be a Tensor, got ${value === null ? 'null' : typeof value}`);
}

/** Shape [1, C, 1, ...] that lines a per-channel vector up with an [N, C, ...] input. */
function channelShape(x: Tensor): number[] {
  return x.shape.map((d, i) => (i === 1 ? d : 1));
}

/**
 * Batch normalisation over an [N, C] or [N, C, L, ...] input, per channel C. In training it
 * normalises by the batch statistics (biased variance) and, when running stats are given,
 * updates them in place (running_var with the unbiased variance); otherwise it uses them.
 */
export function batchNorm(x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null = null, bias: Tensor | null = null, training = false, momentum = 0.1, eps = 1e-5): Tensor {
  const op = 'batchNorm';
  checkTensorArg(op, 'input', x);
  if (x.ndim < 2) throw new RangeError(`${op}: expected an input of shape [N, C] or [N, C, ...], got ${shapeStr(x.shape)}`);
  const c = x.shape[1];
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]] as const) {
    if (t !== null && (t.ndim !== 1 || t.shape[0] !== c)) {
      throw new Error(`${op}: ${name} has shape ${shapeStr(t.shape)}, the input ${shapeStr(x.shape)} has ${c} channels`);
    }
  }
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const cshape = channelShape(x);
  let mean: Tensor;
  let variance: Tensor;
  if (training) {
    const n = x.size / c;
    if (n <= 1) throw new Error(`${op}: expected more than 1 value per channel when training, got input shape ${shapeStr(x.shape)}`);
    mean = x.mean(dims, true);
    const centered = x.sub(mean);
    variance = centered.mul(centered).mean(dims, true);
    if (runningMean !== null && runningVar !== null) {
      const m = mean.data, v = variance.data, rm = runningMean.data, rv = runningVar.data;
      const unbias = n / (n - 1);
      for (let i = 0; i < c; i++) {
        rm[i] = (1 - momentum) * rm[i] + momentum * m[i];
        rv[i] = (1 - momentum) * rv[i] + momentum * v[i] * unbias;
      }
    }
  } else {
    if (runningMean === null || runningVar === null) {
      throw new Error(`${op}: running_mean and running_var are needed when not training`);
    }
    mean = runningMean.reshape(cshape);
    variance = runningVar.reshape(cshape);
  }
  let y = x.sub(mean).div(variance.add(eps).sqrt());
  if (weight !== null) y = y.mul(weight.reshape(cshape));
  if (bias !== null) y = y.add(bias.reshape(cshape));
  return y;
}

/** Layer normalisation over the trailing dims given by normalizedShape (biased variance). */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], weight: Tensor | null = null,
  bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  checkTensorArg(op, 'input', x);
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: input shape ${shapeStr(x.shape)} does not end in normalized shape ${shapeStr(shape)}`);
  }
  for (const [name, t] of [['weight', weight], ['bias', bias]] as const) {
    if (t !== null && (t.ndim !== k || t.shape.some((d, i) => d !== shape[i]))) {
      throw new Error(`${op}: ${name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(shape)}`);
    }
  }
  const dims = shape.map((_, i) => x.ndim - k + i);
  const mean = x.mean(dims, true);
  const centered = x.sub(mean);
  const variance = centered.mul(centered).mean(dims, true);
  let y = centered.div(variance.add(eps).sqrt());
  if (weight !== null) y = y.mul(weight);
  if (bias !== null) y = y.add(bias);
  return y;
}

/** Rows of weight picked by indices; the output has shape [...indices.shape, dim]. */
export function embedding(indices: Indices, weight: Tensor): Tensor {
  const op = 'embedding';
  checkTensorArg(op, 'weight', weight);
  if (weight.ndim !== 2) throw new RangeError(`${op}: weight must be 2-D [num, dim], got ${shapeStr(weight.shape)}`);
  const idx = toIndexArray(op, indices, weight.shape[0]);
  const idxShape = indices instanceof Tensor ? [...indices.shape] : [idx.length];
  return weight.indexSelect(0, idx).reshape([...idxShape, weight.shape[1]]);
}

