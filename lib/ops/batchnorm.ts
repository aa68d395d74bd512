// Batch normalisation (torch.nn.functional.batch_norm) over [N, C] or [N, C, ...] inputs, per
// channel. Forward: one statistics kernel and one fused per-channel affine kernel. Backward: the
// closed-form rule written in Tensor ops; when a graph is being created, the batch statistics are
// recomputed from x in Tensor ops too, so the rule is differentiable again (double backward).

import { kernels } from '../backend/index.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import type { FloatArray } from '../backend/types.js';
import { defineOp } from './registry.js';
import { allocLike, allocOut, checkSameDtype, checkTensor, floatData, record, shapeStr } from './util.js';
import { bumpVersion } from '../autograd/version.js';

interface BnSaved {
  training: boolean;
  eps: number;
  /** Per-channel mean and 1/sqrt(var + eps) used by the forward pass. */
  mean: FloatArray;
  invStd: FloatArray;
  hasWeight: boolean;
  hasBias: boolean;
}

function channelShape(x: Tensor): number[] {
  return x.shape.map((d, i) => (i === 1 ? d : 1));
}

/** Every dim but the channel dim (1): what the statistics reduce over. */
function nonChannelDims(x: Tensor): number[] {
  return x.shape.map((_, i) => i).filter((i) => i !== 1);
}

/**
 * Batch normalisation per channel (dim 1). In training it normalises by the batch statistics
 * (biased variance) and, when running stats are given, updates them in place with
 * `running = (1 - momentum) * running + momentum * batch` (running_var from the unbiased
 * variance); otherwise it normalises by the running stats.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  weight: Tensor | null = null,
  bias: Tensor | null = null,
  training = false,
  momentum = 0.1,
  eps = 1e-5,
): Tensor {
  const op = 'batchNorm';
  checkTensor(op, 'input', x);
  if (x.ndim < 2)
    throw new RangeError(`${op}: expected an input of shape [N, C] or [N, C, ...], got ${shapeStr(x.shape)}`);
  const c = x.shape[1];
  const n = x.shape[0];
  const inner = c === 0 || n === 0 ? 0 : x.size / (n * c);
  for (const [name, t] of [
    ['runningMean', runningMean],
    ['runningVar', runningVar],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t === null || t === undefined) continue;
    checkTensor(op, name, t);
    checkSameDtype(op, x, t);
    if (t.ndim !== 1 || t.shape[0] !== c) {
      throw new Error(
        `${op}: ${name} has shape ${shapeStr(t.shape)}, the input ${shapeStr(x.shape)} has ${c} channels`,
      );
    }
  }
  if (typeof momentum !== 'number' || typeof eps !== 'number' || !(eps >= 0)) {
    throw new TypeError(
      `${op}: momentum and eps must be numbers (eps >= 0), got ${String(momentum)} and ${String(eps)}`,
    );
  }
  // NaN or an infinite momentum or eps would turn the running stats (or the output) into NaN.
  if (!Number.isFinite(momentum) || !Number.isFinite(eps))
    throw new RangeError(`${op}: momentum and eps must be finite, got ${momentum} and ${eps}`);
  const K = kernels();
  let mean: FloatArray;
  let variance: FloatArray;
  if (training) {
    const count = n * inner;
    if (count <= 1)
      throw new Error(
        `${op}: expected more than 1 value per channel when training, got input shape ${shapeStr(x.shape)}`,
      );
    mean = allocLike(x.data, c);
    variance = allocLike(x.data, c);
    K.batchNormStats(x.data, n, c, inner, mean, variance);
    if (runningMean != null && runningVar != null) {
      const rm = runningMean.data,
        rv = runningVar.data;
      const unbias = count / (count - 1);
      bumpVersion(rm);
      bumpVersion(rv);
      for (let i = 0; i < c; i++) {
        rm[i] = (1 - momentum) * rm[i] + momentum * mean[i];
        rv[i] = (1 - momentum) * rv[i] + momentum * variance[i] * unbias;
      }
    }
  } else {
    if (runningMean == null || runningVar == null) {
      throw new Error(`${op}: running_mean and running_var are needed when not training`);
    }
    mean = floatData(runningMean).slice();
    variance = floatData(runningVar);
  }
  const invStd = allocLike(x.data, c);
  const scale = allocLike(x.data, c);
  const shift = allocLike(x.data, c);
  for (let i = 0; i < c; i++) {
    invStd[i] = 1 / Math.sqrt(variance[i] + eps);
    scale[i] = invStd[i] * (weight != null ? weight.data[i] : 1);
    shift[i] = (bias != null ? bias.data[i] : 0) - mean[i] * scale[i];
  }
  const y = allocOut(x.data, x.size);
  K.channelAffine(x.data, n, c, inner, scale, shift, y);
  const inputs: Tensor[] = [x];
  if (weight != null) inputs.push(weight);
  if (bias != null) inputs.push(bias);
  return record<BnSaved>(new Tensor(y, x.shape), batchNormOp, inputs, {
    training,
    eps,
    mean,
    invStd,
    hasWeight: weight != null,
    hasBias: bias != null,
  });
}

/**
 * The gradients of x, weight and bias. With recompute the batch statistics are taken again as
 * functions of x, so that the rule differentiates again (training mode); otherwise the saved
 * statistics are constants, which gives the same first derivatives for less work.
 */
function batchNormGrads(gy: Tensor, node: Node<BnSaved>, recompute: boolean): Grads {
  const s = node.saved;
  const x = node.inputs[0];
  const w = s.hasWeight ? node.inputs[1] : null;
  const b = s.hasBias ? node.inputs[s.hasWeight ? 2 : 1] : null;
  const cshape = channelShape(x);
  const dims = nonChannelDims(x);
  const constant = (v: FloatArray): Tensor => new Tensor(v, cshape);
  let xhat: Tensor;
  let invStd: Tensor;
  if (recompute && s.training && x.requiresGrad) {
    const mean = x.mean(dims, true);
    const centered = x.sub(mean);
    invStd = centered.mul(centered).mean(dims, true).add(s.eps).sqrt().rdiv(1);
    xhat = centered.mul(invStd);
  } else {
    invStd = constant(s.invStd);
    xhat = x.sub(constant(s.mean)).mul(invStd);
  }
  const gScaled = w !== null ? gy.mul(w.reshape(cshape)) : gy;
  let gx: Tensor | null = null;
  if (x.requiresGrad) {
    gx = s.training
      ? gScaled
          .sub(gScaled.mean(dims, true))
          .sub(xhat.mul(gScaled.mul(xhat).mean(dims, true)))
          .mul(invStd)
      : gScaled.mul(invStd);
  }
  const gw = w !== null && w.requiresGrad ? gy.mul(xhat).sum(dims) : null;
  const gb = b !== null && b.requiresGrad ? gy.sum(dims) : null;
  const grads: Grads = [gx];
  if (w !== null) grads.push(gw);
  if (b !== null) grads.push(gb);
  return grads;
}

const batchNormOp = defineOp<BnSaved>({
  name: 'batchNorm',
  kernels: ['batchNormStats', 'channelAffine'],
  arity: 'variadic', // x, and weight and bias when given
  rule: (gy, node) => batchNormGrads(gy, node, true),
  fused: (gy, node) => batchNormGrads(gy, node, false),
});
