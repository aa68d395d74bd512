// Every functional op of this layer in one place, for nn's F to re-export.

export { relu, leakyRelu, gelu, sigmoid, tanh, softmax, logSoftmax, dropout } from './activation.js';
export { linear, matmul } from './matmul.js';
export {
  mseLoss, l1Loss, huberLoss, crossEntropy, nllLoss, bceWithLogits,
  type Reduction, type LossOptions, type HuberOptions, type ClassLossOptions, type CrossEntropyOptions,
} from './loss.js';
export { add, sub, mul, div, pow, neg, exp, log, sqrt, abs, maximum, minimum } from './elementwise.js';
export { sum, mean, max, min, argmax } from './reduce.js';
export { reshape, flatten, squeeze, unsqueeze, permute, transpose, narrow, indexSelect, cat, stack } from './shape.js';
