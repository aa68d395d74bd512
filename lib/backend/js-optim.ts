// The js backend's fused optimizer steps: torch.optim's SGD and Adam/AdamW rules, element by
// element, in the parameter's precision.

import type { Backend, FloatArray } from './types.js';
import { checkBoolean, checkFloatArrays, checkLength, checkLike, checkNumber } from './js-checks.js';
import { rounderFor } from './js-math.js';

function sgdStep(
  param: FloatArray,
  grad: FloatArray,
  buf: FloatArray | null,
  lr: number,
  momentum: number,
  dampening: number,
  weightDecay: number,
  nesterov: boolean,
  firstStep: boolean,
): void {
  const name = 'sgdStep';
  buf ??= null;
  checkFloatArrays(name, { param, grad });
  checkLength(name, 'grad', grad, param.length);
  checkNumber(name, 'lr', lr);
  checkNumber(name, 'momentum', momentum);
  checkNumber(name, 'dampening', dampening);
  checkNumber(name, 'weightDecay', weightDecay);
  checkBoolean(name, 'nesterov', nesterov);
  checkBoolean(name, 'firstStep', firstStep);
  if (momentum !== 0 && buf === null) throw new TypeError(`${name}: buf is required when momentum is ${momentum}`);
  if (buf !== null) {
    checkLike(name, 'buf', buf, param);
    checkLength(name, 'buf', buf, param.length);
  }
  const round = rounderFor(param);
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (weightDecay !== 0) g = round(g + weightDecay * param[i]);
    if (momentum !== 0) {
      const b = buf as FloatArray;
      b[i] = firstStep ? g : momentum * b[i] + (1 - dampening) * g;
      g = nesterov ? round(g + momentum * b[i]) : b[i];
    }
    param[i] = param[i] - lr * g;
  }
}

function adamStep(
  param: FloatArray,
  grad: FloatArray,
  expAvg: FloatArray,
  expAvgSq: FloatArray,
  maxExpAvgSq: FloatArray | null,
  step: number,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  decoupled: boolean,
): void {
  const name = 'adamStep';
  maxExpAvgSq ??= null;
  checkFloatArrays(name, { param, grad, expAvg, expAvgSq });
  checkLength(name, 'grad', grad, param.length);
  checkLength(name, 'expAvg', expAvg, param.length);
  checkLength(name, 'expAvgSq', expAvgSq, param.length);
  if (maxExpAvgSq !== null) {
    checkLike(name, 'maxExpAvgSq', maxExpAvgSq, param);
    checkLength(name, 'maxExpAvgSq', maxExpAvgSq, param.length);
  }
  checkNumber(name, 'step', step);
  if (!Number.isSafeInteger(step) || step < 1)
    throw new RangeError(`${name}: step must be an integer >= 1, got ${step}`);
  checkNumber(name, 'lr', lr);
  checkNumber(name, 'beta1', beta1);
  checkNumber(name, 'beta2', beta2);
  checkNumber(name, 'eps', eps);
  checkNumber(name, 'weightDecay', weightDecay);
  checkBoolean(name, 'decoupled', decoupled);

  const round = rounderFor(param);
  const biasCorrection1 = 1 - Math.pow(beta1, step);
  const biasCorrection2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / biasCorrection1;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (weightDecay !== 0) {
      if (decoupled) param[i] = param[i] * (1 - lr * weightDecay);
      else g = round(g + weightDecay * param[i]);
    }
    expAvg[i] = beta1 * expAvg[i] + (1 - beta1) * g;
    expAvgSq[i] = beta2 * expAvgSq[i] + (1 - beta2) * g * g;
    let v = expAvgSq[i];
    if (maxExpAvgSq !== null) {
      maxExpAvgSq[i] = Math.max(maxExpAvgSq[i], v);
      v = maxExpAvgSq[i];
    }
    const denom = round(round(Math.sqrt(v) / biasCorrection2Sqrt) + eps);
    param[i] = param[i] - stepSize * round(expAvg[i] / denom);
  }
}

export const optimKernels: Pick<Backend, 'sgdStep' | 'adamStep'> = { sgdStep, adamStep };
