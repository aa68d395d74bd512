// Losses in functional form (nn's F and the loss modules use these), each with
// { reduction: 'mean' | 'sum' | 'none' } as in torch.

import { kernels } from '../backend/index.js';
import { BinaryOp, ReduceOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import {
  allocLike,
  allocOut,
  checkSameDtype,
  checkTensor,
  describe,
  floatData,
  record,
  sameShape,
  shapeStr,
  toIndexArray,
  type Indices,
  willRecord,
} from './util.js';
import { logSoftmax, softmax } from './activation.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  reduction?: Reduction;
}

function reductionOf(op: string, opts: LossOptions | undefined): Reduction {
  const r = opts?.reduction ?? 'mean';
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new TypeError(`${op}: reduction must be 'mean', 'sum' or 'none', got ${describe(r)}`);
  }
  return r;
}

function reduce(losses: Tensor, r: Reduction): Tensor {
  return r === 'mean' ? losses.mean() : r === 'sum' ? losses.sum() : losses;
}

function checkPair(op: string, input: Tensor, target: Tensor): void {
  checkTensor(op, 'input', input);
  checkTensor(op, 'target', target);
  checkSameDtype(op, input, target);
  if (!sameShape(input.shape, target.shape)) {
    throw new Error(`${op}: input shape ${shapeStr(input.shape)} and target shape ${shapeStr(target.shape)} differ`);
  }
}

// ---------------------------------------------------------------------------------------------
// mseLoss: its own op so that a training step costs two kernels forward and one backward.

interface MseSaved {
  /** input - target */
  diff: Tensor;
  reduction: Reduction;
}

export function mseLoss(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  checkPair('mseLoss', input, target);
  const r = reductionOf('mseLoss', opts);
  const K = kernels();
  const n = input.data.length;
  const diff = allocOut(floatData(input), n);
  K.binary(BinaryOp.sub, floatData(input), input.shape, floatData(target), target.shape, diff);
  const sq = allocOut(floatData(input), n);
  K.binary(BinaryOp.mul, diff, input.shape, diff, input.shape, sq);
  let out: Tensor;
  if (r === 'none') {
    out = new Tensor(sq, input.shape);
  } else {
    const s = allocLike(floatData(input), 1);
    K.reduce(r === 'mean' ? ReduceOp.mean : ReduceOp.sum, sq, 1, n, 1, s);
    out = new Tensor(s, []);
  }
  return record<MseSaved>(out, mseLossOp, [input, target], { diff: new Tensor(diff, input.shape), reduction: r });
}

const mseLossOp = defineOp<MseSaved>({
  name: 'mseLoss',
  kernels: ['binary', 'reduce'],
  arity: 2,
  // Recomputes the difference inside the graph, so the rule can be differentiated again.
  rule: (g, node) => {
    const [input, target] = node.inputs;
    const { diff, reduction } = node.saved;
    const gi = input
      .sub(target)
      .mul(g)
      .mul(reduction === 'mean' ? 2 / diff.data.length : 2);
    return [input.requiresGrad ? gi : null, target.requiresGrad ? gi.neg() : null];
  },
  // The saved difference times one number: a single kernel pass for a reduced loss.
  fused: (g, node) => {
    const [input, target] = node.inputs;
    const { diff, reduction } = node.saved;
    const n = diff.data.length;
    let gi: Tensor;
    if (reduction === 'none') {
      gi = diff.mul(g).mul(2);
    } else {
      gi = new Tensor(allocOut(floatData(diff), n), diff.shape);
      kernels().binaryScalar(
        BinaryOp.mul,
        floatData(diff),
        (reduction === 'mean' ? 2 / n : 2) * g.data[0],
        floatData(gi),
        false,
      );
    }
    return [input.requiresGrad ? gi : null, target.requiresGrad ? gi.neg() : null];
  },
  fusedKernels: ['binaryScalar'],
});

// ---------------------------------------------------------------------------------------------
// l1Loss, huberLoss: compositions of differentiable ops.

export function l1Loss(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  checkPair('l1Loss', input, target);
  return reduce(input.sub(target).abs(), reductionOf('l1Loss', opts));
}

export interface HuberOptions extends LossOptions {
  delta?: number;
}

/** 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target. */
export function huberLoss(input: Tensor, target: Tensor, opts?: HuberOptions): Tensor {
  checkPair('huberLoss', input, target);
  const delta = opts?.delta ?? 1;
  if (!(delta > 0)) throw new RangeError(`huberLoss: delta must be positive, got ${delta}`);
  const ad = input.sub(target).abs();
  const q = ad.minimum(delta);
  return reduce(q.mul(q).mul(0.5).add(ad.sub(q).mul(delta)), reductionOf('huberLoss', opts));
}

// ---------------------------------------------------------------------------------------------
// crossEntropy: the fused softmaxCrossEntropy kernel computes the losses and, when a gradient
// will be needed, the gradient in the same pass.

interface CeSaved {
  targets: Int32Array;
  reduction: Reduction;
  /** softmax(x) - onehot, times 1/N for 'mean'; null when not computed. */
  fusedGrad: Tensor | null;
}

/** Class-index targets: one per row, each in [0, cols) or equal to ignoreIndex. */
function classTargets(op: string, target: Indices, rows: number, cols: number, ignoreIndex: number): Int32Array {
  const t = toIndexArray(op, target);
  if (t.length !== rows) {
    const shape = target instanceof Tensor ? shapeStr(target.shape) : `[${t.length}]`;
    throw new Error(`${op}: target shape ${shape} does not match input batch size ${rows}`);
  }
  for (let i = 0; i < t.length; i++) {
    const v = t[i];
    if ((v < 0 || v >= cols) && v !== ignoreIndex) {
      throw new RangeError(`${op}: index ${v} at position ${i} is out of range [0, ${cols})`);
    }
  }
  return t;
}

/** torch's cross_entropy with weight / ignore_index / label_smoothing: logSoftmax, then NLL (+ smoothing). */
function composedCrossEntropy(
  input: Tensor,
  targets: Int32Array,
  r: Reduction,
  weight: Tensor | null,
  ignoreIndex: number,
  smoothing: number,
): Tensor {
  const logp = logSoftmax(input, 1);
  const nll = nllLoss(logp, targets, { reduction: r, weight, ignoreIndex });
  if (smoothing === 0) return nll;
  const [rows, cols] = input.shape;
  // Rows with an ignored target contribute nothing: a constant 0/1 row mask.
  const keep = allocLike(floatData(input), rows);
  let kept = 0;
  let weightSum = 0;
  for (let i = 0; i < rows; i++) {
    if (targets[i] !== ignoreIndex) {
      keep[i] = 1;
      kept++;
      if (weight !== null) weightSum += weight.data[targets[i]];
    }
  }
  const perRow = (weight === null ? logp : logp.mul(weight))
    .sum(1)
    .neg()
    .mul(new Tensor(keep, [rows]));
  let smooth: Tensor;
  if (r === 'none') smooth = perRow;
  else if (r === 'sum') smooth = perRow.sum();
  // 'mean' divides by what nllLoss divides by: the rows kept, or their total weight.
  else smooth = perRow.sum().div(weight === null ? kept : weightSum);
  return nll.mul(1 - smoothing).add(smooth.mul(smoothing / cols));
}

export interface ClassLossOptions extends LossOptions {
  /** A manual rescaling weight per class, [C] (torch's `weight`). */
  weight?: Tensor | null;
  /** Targets equal to this are ignored (contribute 0 and do not count in the mean); default -100. */
  ignoreIndex?: number;
}

export interface CrossEntropyOptions extends ClassLossOptions {
  /** Mixes the target with the uniform distribution: (1 - s) onehot + s / C (torch's label_smoothing). */
  labelSmoothing?: number;
}

function checkClassWeight(op: string, weight: Tensor | null | undefined, input: Tensor): Tensor | null {
  if (weight == null) return null;
  checkTensor(op, 'weight', weight);
  checkSameDtype(op, input, weight);
  const cols = input.shape[input.shape.length - 1];
  if (weight.shape.length !== 1 || weight.shape[0] !== cols) {
    throw new Error(
      `${op}: weight shape ${shapeStr(weight.shape)} does not match the ${cols} classes of input shape ${shapeStr(input.shape)}`,
    );
  }
  return weight;
}

/**
 * Softmax cross-entropy of logits [N, C] (or [C]) with class-index targets. Without weight,
 * ignored targets or label smoothing it is one fused kernel (loss and gradient in one pass);
 * with them, logSoftmax then nllLoss, as torch composes it.
 */
export function crossEntropy(input: Tensor, target: Indices, opts?: CrossEntropyOptions): Tensor {
  checkTensor('crossEntropy', 'input', input);
  const r = reductionOf('crossEntropy', opts);
  if (input.shape.length === 1) {
    const out = crossEntropy(input.reshape([1, -1]), target, { ...opts, reduction: r });
    return r === 'none' ? out.reshape([]) : out;
  }
  if (input.shape.length !== 2) {
    throw new Error(`crossEntropy: input must be [N, C] logits, got shape ${shapeStr(input.shape)}`);
  }
  const [rows, cols] = input.shape;
  const ignoreIndex = opts?.ignoreIndex ?? -100;
  const smoothing = opts?.labelSmoothing ?? 0;
  if (typeof smoothing !== 'number' || !(smoothing >= 0 && smoothing <= 1)) {
    throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${String(smoothing)}`);
  }
  const weight = checkClassWeight('crossEntropy', opts?.weight, input);
  const targets = classTargets('crossEntropy', target, rows, cols, ignoreIndex);
  if (weight !== null || smoothing > 0 || targets.includes(ignoreIndex)) {
    return composedCrossEntropy(input, targets, r, weight, ignoreIndex, smoothing);
  }
  const losses = allocLike(input.data, rows);
  const wantGrad = willRecord([input]);
  const grad = wantGrad ? allocOut(input.data, rows * cols) : null;
  const scale = r === 'mean' ? 1 / rows : 1;
  kernels().softmaxCrossEntropy(input.data, rows, cols, targets, losses, grad, scale);
  let out: Tensor;
  if (r === 'none') {
    out = new Tensor(losses, [rows]);
  } else {
    let s = 0;
    for (let i = 0; i < rows; i++) s += losses[i];
    const d = allocLike(input.data, 1);
    d[0] = s * scale;
    out = new Tensor(d, []);
  }
  const fusedGrad = grad === null ? null : new Tensor(grad, input.shape);
  return record<CeSaved>(out, crossEntropyOp, [input], { targets, reduction: r, fusedGrad });
}

const crossEntropyOp = defineOp<CeSaved>({
  name: 'crossEntropy',
  kernels: ['softmaxCrossEntropy'],
  arity: 1,
  rule: (g, node) => {
    const { targets, reduction } = node.saved;
    return [crossEntropyRule(g, node.inputs[0], targets, reduction)];
  },
  // The gradient the forward kernel computed in the same pass, scaled by g.
  fused: (g, node) => {
    const { reduction, fusedGrad } = node.saved;
    if (fusedGrad === null) return node.op.rule!(g, node);
    if (reduction === 'none') return [fusedGrad.mul(g.reshape([-1, 1]))];
    const gx = allocOut(floatData(fusedGrad), fusedGrad.data.length);
    kernels().binaryScalar(BinaryOp.mul, floatData(fusedGrad), g.data[0], gx, false);
    return [new Tensor(gx, fusedGrad.shape)];
  },
  fusedKernels: ['binaryScalar'],
});

/** The composed rule (softmax(x) - onehot(t)) * g, scaled by 1/N for 'mean'. */
function crossEntropyRule(g: Tensor, x: Tensor, targets: Int32Array, reduction: Reduction): Tensor {
  const diff = softmax(x, -1).sub(oneHot(targets, x));
  if (reduction === 'none') return diff.mul(g.reshape([-1, 1]));
  return diff.mul(reduction === 'mean' ? g.div(x.shape[0]) : g);
}

function oneHot(targets: Int32Array, like: Tensor): Tensor {
  const cols = like.shape[1];
  const d = allocLike(floatData(like), targets.length * cols);
  for (let r = 0; r < targets.length; r++) d[r * cols + targets[r]] = 1;
  return new Tensor(d, [targets.length, cols]);
}

// ---------------------------------------------------------------------------------------------
// nllLoss: -input[r, t[r]] for log-probabilities.

interface NllSaved {
  targets: Int32Array;
  reduction: Reduction;
  /** d loss_r / d input[r, t_r]: -weight[t_r], 0 for ignored rows; for 'mean' divided by the total weight. */
  coef: Float64Array;
}

/**
 * Negative log-likelihood of log-probabilities [N, C] (or [C]) at class-index targets:
 * -weight[t] * input[r, t]; 'mean' divides by the total weight of the rows not ignored.
 */
export function nllLoss(input: Tensor, target: Indices, opts?: ClassLossOptions): Tensor {
  checkTensor('nllLoss', 'input', input);
  const r = reductionOf('nllLoss', opts);
  if (input.shape.length === 1) {
    const out = nllLoss(input.reshape([1, -1]), target, { ...opts, reduction: r });
    return r === 'none' ? out.reshape([]) : out;
  }
  if (input.shape.length !== 2) throw new Error(`nllLoss: input must be [N, C], got shape ${shapeStr(input.shape)}`);
  const [rows, cols] = input.shape;
  const ignoreIndex = opts?.ignoreIndex ?? -100;
  const weight = checkClassWeight('nllLoss', opts?.weight, input);
  const targets = classTargets('nllLoss', target, rows, cols, ignoreIndex);
  const coef = new Float64Array(rows);
  let total = 0;
  for (let i = 0; i < rows; i++) {
    if (targets[i] === ignoreIndex) continue;
    const w = weight === null ? 1 : weight.data[targets[i]];
    coef[i] = -w;
    total += w;
  }
  const losses = allocLike(input.data, rows);
  for (let i = 0; i < rows; i++) if (coef[i] !== 0) losses[i] = coef[i] * input.data[i * cols + targets[i]];
  let out = new Tensor(losses, [rows]);
  if (r !== 'none') {
    let s = 0;
    for (let i = 0; i < rows; i++) s += losses[i];
    const d = allocLike(input.data, 1);
    d[0] = r === 'mean' ? s / total : s;
    out = new Tensor(d, []);
    if (r === 'mean') for (let i = 0; i < rows; i++) coef[i] /= total;
  }
  return record<NllSaved>(out, nllLossOp, [input], { targets, reduction: r, coef });
}

function nllBackward(g: Tensor, node: Node<NllSaved>): Grads {
  const x = node.inputs[0];
  const { targets, reduction, coef } = node.saved;
  // A constant matrix holding coef[r] at [r, t_r]; the rule stays linear in g.
  const cols = x.shape[1];
  const d = allocLike(floatData(x), targets.length * cols);
  for (let r = 0; r < targets.length; r++) if (coef[r] !== 0) d[r * cols + targets[r]] = coef[r];
  const m = new Tensor(d, x.shape);
  return [reduction === 'none' ? m.mul(g.reshape([-1, 1])) : m.mul(g)];
}

const nllLossOp = defineOp<NllSaved>({ name: 'nllLoss', kernels: [], arity: 1, rule: nllBackward });

// ---------------------------------------------------------------------------------------------
// bceWithLogits: max(x, 0) - x y + log(1 + exp(-|x|)), stable for any x; gradient sigmoid(x) - y.

export function bceWithLogits(input: Tensor, target: Tensor, opts?: LossOptions): Tensor {
  checkPair('bceWithLogits', input, target);
  const r = reductionOf('bceWithLogits', opts);
  const losses = noGrad(() => input.relu().sub(input.mul(target)).add(input.abs().neg().exp().add(1).log()));
  return reduce(record(losses, bceWithLogitsOp, [input, target], null), r);
}

function bceBackward(g: Tensor, node: Node<null>): Grads {
  const [x, y] = node.inputs;
  return [x.requiresGrad ? x.sigmoid().sub(y).mul(g) : null, y.requiresGrad ? x.mul(g).neg() : null];
}

const bceWithLogitsOp = defineOp<null>({
  name: 'bceWithLogits',
  kernels: ['unary', 'binary'],
  arity: 2,
  rule: bceBackward,
});
