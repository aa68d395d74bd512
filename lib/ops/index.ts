// The ops layer's functional forms in one place (nn's F re-exports the layer functions among them).

export * from './activation.js';
export { linear, matmul } from './matmul.js';
export {
  mseLoss,
  l1Loss,
  huberLoss,
  crossEntropy,
  nllLoss,
  bceWithLogits,
  type Reduction,
  type LossOptions,
  type HuberOptions,
  type ClassLossOptions,
  type CrossEntropyOptions,
} from './loss.js';
export { add, sub, mul, div, pow, maximum, minimum, type AlphaOptions, type DivOptions } from './binary.js';
export { neg, exp, log, sqrt, abs, sign } from './unary.js';
export { sum, mean, max, min, argmax, amax, amin } from './reduce.js';
export { reshape, flatten, squeeze, unsqueeze, permute, transpose, narrow, indexSelect, cat, stack } from './shape.js';
export { where, maskedFill, clamp, cumsum, logsumexp } from './select.js';
