export { noGrad, enableGrad, isGradEnabled } from './mode.js';
export { grad, type GradOptions } from './engine.js';
export { hvp, type HvpResult } from './hvp.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradcheckFn } from './gradcheck.js';
export { detectAnomaly } from './anomaly.js';
export { Node, type BackwardFn, type Grads } from './node.js';
