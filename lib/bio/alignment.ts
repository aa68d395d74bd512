// How far a credit-assignment method's updates are from backpropagation's: per layer, the angle
// between the weight gradient the method delivers and the true gradient of the same loss on the
// same batch (Lillicrap et al. 2016 report this angle falling below 90° as the forward weights come
// to align with the feedback). 0° is backpropagation itself; 90° is an update orthogonal to it.

import type { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import type { LossFunction, Metric } from '../train/index.js';
import type { FeedbackMode } from '../nn/feedback.js';
import { feedbackLayers } from './feedback-modes.js';

/** The angle between two tensors seen as flat vectors, in degrees (NaN if either is zero). */
export function angleBetween(a: Tensor, b: Tensor): number {
  if (a.size !== b.size) throw new Error(`bio.angleBetween: sizes ${a.size} and ${b.size} differ`);
  let dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.size; i++) {
    dot += a.data[i] * b.data[i];
    na += a.data[i] * a.data[i];
    nb += b.data[i] * b.data[i];
  }
  if (na === 0 || nb === 0) return NaN;
  const cos = Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
  return (Math.acos(cos) * 180) / Math.PI;
}

function lossOf(loss: LossFunction, output: Tensor, target: Tensor): Tensor {
  return typeof loss === 'function' ? loss(output, target) : loss.forward(output, target);
}

export interface LayerAlignment {
  /** The layer's qualified name in `model` ('0', 'features.3', ...). */
  layer: string;
  /** Angle in degrees between the method's weight gradient and backpropagation's. */
  angle: number;
}

/**
 * Per Linear/Conv2d layer of `model`, the angle between the weight gradient that `method` delivers
 * on (x, y) (the model itself in a feedback mode, or a bio wrapper such as DirectFeedbackAlignment
 * or PredictiveCoding) and backpropagation's gradient of the same loss. Both passes run in eval
 * mode (no dropout draws: the training's random stream is untouched); the parameters' `.grad` and
 * the layers' feedback modes are restored afterwards.
 */
export function alignmentAngles(
  method: Module,
  model: Module,
  loss: LossFunction,
  x: Tensor,
  y: Tensor,
): LayerAlignment[] {
  const layers = feedbackLayers(model);
  const params = model.parameters();
  const savedGrads = params.map((p) => p.grad);
  const wasTraining = model.training;
  const gradients = (run: Module): Tensor[] => {
    for (const p of params) p.grad = null;
    lossOf(loss, run.forward(x) as Tensor, y).backward();
    return layers.map(([, l]) => (l.weight.grad ?? l.weight.mul(0)).clone());
  };
  const modes: FeedbackMode[] = layers.map(([, l]) => l.feedbackMode);
  try {
    method.eval();
    model.eval();
    const delivered = gradients(method);
    for (const [, l] of layers) l.feedbackMode = 'backprop';
    const truth = gradients(model);
    return layers.map(([name], i) => ({ layer: name, angle: angleBetween(delivered[i], truth[i]) }));
  } finally {
    layers.forEach(([, l], i) => (l.feedbackMode = modes[i]));
    params.forEach((p, i) => (p.grad = savedGrads[i]));
    method.train(wasTraining);
    model.train(wasTraining);
  }
}

/**
 * fit() metrics: one per Linear/Conv2d layer, named `angle[<layer>]`, each the alignment angle on
 * the probe batch at the end of the epoch (computed once per epoch for all layers).
 */
export function alignmentMetrics(
  method: Module,
  model: Module,
  options: { loss: LossFunction; batch: readonly [Tensor, Tensor] },
): Metric[] {
  const names = feedbackLayers(model).map(([name]) => name);
  let cache: LayerAlignment[] | null = null;
  return names.map((name, i) => ({
    name: `angle[${name}]`,
    reset: () => {
      cache = null;
    },
    update: () => undefined,
    compute: () => {
      cache ??= alignmentAngles(method, model, options.loss, options.batch[0], options.batch[1]);
      return cache[i].angle;
    },
  }));
}
