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
  type GradcheckFn,
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
  type TensorFn,
  type ScalarFn,
  type Tensors,
} from './autograd/index.js';
export type { KernelDType } from './dtype.js';
export type { TensorLike } from './ops/util.js';
export type { AlphaOptions, DivOptions } from './ops/binary.js';
export type { BackendName } from './backend/index.js';
export type { BackendInfo, SimdLevel } from './backend/types.js';
export { backend } from './backend/index.js';
export * as nn from './nn/index.js';
export * as F from './nn/functional.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export * as io from './io/index.js';
export * as bio from './bio/index.js';
export {
  fit,
  evaluate,
  type FitOptions,
  type History,
  type EpochLogs,
  type BatchLogs,
  type LossFunction,
  type MetricSpec,
  type Metric,
  type OptimizerLike,
  type SchedulerLike,
  type Batches,
  type Trainable,
  type EvaluateOptions,
} from './train/index.js';
export { reportHtml, sparkline, writeReport, type ReportOptions } from './train/index.js';
export type { OutOptions } from './ops/out.js';
export type { MemoryStats } from './backend/memory.js';
export { Generator } from './generator.js';
export * as workers from './workers/index.js';
export { where } from './ops/select.js';
