// optim: torch.optim's optimizers, lr schedulers and gradient clipping.

export { Optimizer } from './optimizer.js';
export type {
  BaseOptions,
  Closure,
  OptimizerStateDict,
  ParamGroup,
  ParamGroupInput,
  ParamState,
  Params,
  StateValue,
} from './optimizer.js';
export { SGD } from './sgd.js';
export type { SGDOptions } from './sgd.js';
export { Adam, AdamW } from './adam.js';
export type { AdamOptions } from './adam.js';
export { RMSprop } from './rmsprop.js';
export type { RMSpropOptions } from './rmsprop.js';
export { LBFGS } from './lbfgs.js';
export type { LBFGSOptions } from './lbfgs.js';
export { clipGradNorm, clipGradValue } from './clip.js';
export type { ClipGradNormOptions } from './clip.js';
export * as lrScheduler from './lr_scheduler.js';
export { NewtonCG } from './newton_cg.js';
export type { NewtonCGOptions, NewtonCGClosure } from './newton_cg.js';
