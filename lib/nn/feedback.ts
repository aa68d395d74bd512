// Which matrix a Linear or Conv2d layer sends its error back through. Backpropagation uses the
// forward weight; the `bio` namespace switches layers to a fixed random matrix (feedback
// alignment, kept as the buffer `feedback_weight` so it is saved and restored with the model) or
// to the sign of the forward weight (sign symmetry).

import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';

/** 'backprop': Wᵀ; 'random': a fixed random B (buffer feedback_weight); 'sign': sign(W). */
export type FeedbackMode = 'backprop' | 'random' | 'sign';

export interface FeedbackLayer {
  feedbackMode: FeedbackMode;
  weight: Tensor;
}

/** The matrix the layer's input gradient is taken through, or null for backpropagation. */
export function feedbackMatrix(layer: FeedbackLayer): Tensor | null {
  switch (layer.feedbackMode) {
    case 'backprop':
      return null;
    case 'sign':
      // The sign of the weights this forward uses, taken now: a later in-place update of the
      // weights must not change the feedback of a graph already recorded.
      return noGrad(() => layer.weight.sign());
    case 'random': {
      const b = (layer as unknown as { feedback_weight?: unknown }).feedback_weight;
      if (b === undefined || b === null) {
        throw new Error(
          `${layer.constructor.name}: feedbackMode 'random' needs the buffer feedback_weight (use bio.feedbackAlignment(model))`,
        );
      }
      return b as Tensor;
    }
    default:
      throw new Error(`${layer.constructor.name}: unknown feedbackMode ${String(layer.feedbackMode)}`);
  }
}
