// F (= nn.functional): stateless layer functions with torch's argument order, options last.
// Activations, softmax, dropout, linear, the losses, conv2d, the pools and batchNorm are ops
// (lib/ops) and re-exported here; layerNorm and embedding are composed from Tensor ops, so their
// gradients (and double gradients) come from the ops' own rules.

import { Tensor } from '../tensor.js';
import { checkTensor, shapeStr, toIndexArray, type Indices } from '../ops/util.js';

// Every activation (and softmax, logSoftmax, dropout) with its options type.
export * from '../ops/activation.js';
export { linear, mseLoss, l1Loss, huberLoss, crossEntropy, nllLoss, bceWithLogits } from '../ops/index.js';
export type { Reduction, LossOptions, HuberOptions, ClassLossOptions, CrossEntropyOptions } from '../ops/index.js';
export type { Indices } from '../ops/util.js';
// Convolution, pooling and batch normalisation run on their own kernels (lib/ops).
export { conv2d, type Conv2dOptions } from '../ops/conv.js';
export { maxPool2d, avgPool2d, type Pool2dOptions } from '../ops/pool.js';
export { batchNorm } from '../ops/batchnorm.js';
export {
  scaledDotProductAttention,
  type ScaledDotProductAttentionOptions,
  type AttentionMask,
  type BoolArray,
} from '../ops/attention.js';

/** Layer normalisation over the trailing dims given by normalizedShape (biased variance). */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  eps = 1e-5,
): Tensor {
  const op = 'layerNorm';
  checkTensor(op, 'input', x);
  if (!(typeof eps === 'number' && eps >= 0 && eps < Infinity))
    throw new RangeError(`${op}: eps must be a finite number >= 0, got ${String(eps)}`);
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || tail.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: input shape ${shapeStr(x.shape)} does not end in normalized shape ${shapeStr(shape)}`);
  }
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
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
  checkTensor(op, 'weight', weight);
  if (weight.ndim !== 2) throw new RangeError(`${op}: weight must be 2-D [num, dim], got ${shapeStr(weight.shape)}`);
  const idx = toIndexArray(op, indices, weight.shape[0]);
  const idxShape = indices instanceof Tensor ? [...indices.shape] : [idx.length];
  return weight.indexSelect(0, idx).reshape([...idxShape, weight.shape[1]]);
}
