// The public entry point of backprop: a plain list of re-exports.

export {
  Tensor,
  tensor,
  zeros,
  ones,
  full,
  rand,
  randn,
  arange,
  eye,
  cat,
  stack,
  zerosLike,
  onesLike,
  type DType,
  type FloatArray,
  type NestedArray,
  type TensorOptions,
  type TensorFromOptions,
  type BackwardOptions,
  type TensorData,
} from './tensor.js';
export { manualSeed, initialSeed, getRngState, setRngState } from './random.js';
export {
  noGrad,
  enableGrad,
  isGradEnabled,
  grad,
  hvp,
  gradcheck,
  gradgradcheck,
  detectAnomaly,
  type GradOptions,
  type HvpResult,
  type GradcheckOptions,
} from './autograd/index.js';
export {
  vjp,
  jvp,
  vhp,
  jacobian,
  hessian,
  gnvp,
  type FunctionalOptions,
  type VjpResult,
  type JvpResult,
  type VhpResult,
  type GnvpOptions,
  type GnvpResult,
  type GaussNewtonModel,
} from './autograd/index.js';
export { backend } from './backend/index.js';
export * as nn from './nn/index.js';
export * as F from './nn/functional.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as bio from './bio/index.js';
export { fit, evaluate, type FitOptions, type History, type EpochLogs, type BatchLogs } from './train/index.js';
export type { OutOptions } from './ops/out.js';
export type { MemoryStats } from './backend/memory.js';
export { Generator } from './generator.js';
export * as workers from './workers/index.js';
export { where } from './ops/select.js';
