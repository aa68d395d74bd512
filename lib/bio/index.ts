// Credit assignment beyond backpropagation: methods that train the same nn models without
// sending the error back through the forward weights, and the measure of how far their updates
// are from backpropagation's.

export {
  feedbackAlignment,
  signSymmetry,
  backpropagation,
  feedbackLayers,
  type FeedbackModule,
} from './feedback-modes.js';
export { DirectFeedbackAlignment } from './direct-feedback.js';
export { PredictiveCoding, type PredictiveCodingOptions } from './predictive-coding.js';
export { ForwardForward, type ForwardForwardOptions } from './forward-forward.js';
export { alignmentAngles, alignmentMetrics, angleBetween, type LayerAlignment } from './alignment.js';
export type { FeedbackMode } from '../nn/feedback.js';
