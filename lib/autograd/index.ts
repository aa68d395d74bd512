export { noGrad, enableGrad, isGradEnabled } from './mode.js';
export { grad, type GradOptions } from './engine.js';
export { hvp, type HvpResult } from './hvp.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradcheckFn } from './gradcheck.js';
export { detectAnomaly } from './anomaly.js';
export { Node, type BackwardFn, type Grads } from './node.js';
export {
  vjp,
  jvp,
  vhp,
  jacobian,
  hessian,
  type FunctionalOptions,
  type VjpResult,
  type JvpResult,
  type VhpResult,
  type TensorFn,
  type ScalarFn,
  type Tensors,
} from './functional.js';
export { gnvp, type GnvpOptions, type GnvpResult, type GaussNewtonModel } from './gauss_newton.js';
