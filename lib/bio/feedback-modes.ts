// Feedback alignment (Lillicrap et al. 2016) and sign symmetry (Liao, Leibo and Poggio 2016) as
// switches on the Linear and Conv2d layers of any model: the forward is unchanged, and each
// layer's backward sends the error to its input through B instead of W. fit(), every optimizer
// and every loss work as with backpropagation.

import { zeros } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers/linear.js';
import { Conv2d } from '../nn/layers/conv.js';
import { uniform } from '../nn/init.js';
import type { FeedbackMode } from '../nn/feedback.js';

export type FeedbackModule = Linear | Conv2d;

/** The model's Linear and Conv2d layers with their qualified names, in forward order. */
export function feedbackLayers(model: Module): [string, FeedbackModule][] {
  if (!(model instanceof Module)) throw new TypeError('bio: model must be an nn.Module');
  return model
    .namedModules()
    .filter((e): e is [string, FeedbackModule] => e[1] instanceof Linear || e[1] instanceof Conv2d);
}

function layersOf(fn: string, model: Module): FeedbackModule[] {
  const layers = feedbackLayers(model).map((e) => e[1]);
  if (layers.length === 0) throw new Error(`bio.${fn}: the model has no Linear or Conv2d layer`);
  return layers;
}

function setMode(layers: FeedbackModule[], mode: FeedbackMode): void {
  for (const layer of layers) {
    if (mode !== 'random' && 'feedback_weight' in layer) layer.registerBuffer('feedback_weight', null);
    layer.feedbackMode = mode;
  }
}

/**
 * Feedback alignment: every Linear and Conv2d layer sends its error back through a fixed random
 * matrix B shaped like its weight, drawn from the same distribution as torch's default init of
 * that weight, U(±1/√fanIn), with the global generator (manualSeed makes it reproducible). B is
 * the buffer `feedback_weight`: saved and restored with the model's state dict.
 */
export function feedbackAlignment<M extends Module>(model: M): M {
  const layers = layersOf('feedbackAlignment', model);
  for (const layer of layers) {
    const fanIn = layer.weight.size / layer.weight.shape[0];
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    const b = uniform(zeros(layer.weight.shape, { dtype: layer.weight.dtype }), -bound, bound);
    layer.registerBuffer('feedback_weight', b);
  }
  setMode(layers, 'random');
  return model;
}

/** Sign symmetry: every Linear and Conv2d layer sends its error back through B = sign(W). */
export function signSymmetry<M extends Module>(model: M): M {
  setMode(layersOf('signSymmetry', model), 'sign');
  return model;
}

/** Back to backpropagation (B = W) on every Linear and Conv2d layer; drops feedback_weight buffers. */
export function backpropagation<M extends Module>(model: M): M {
  setMode(layersOf('backpropagation', model), 'backprop');
  return model;
}
