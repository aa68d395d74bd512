// Linear: y = x Wᵀ + b, torch's layout ([out, in] weight) and default initialisation.

import { zeros, type Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { linear } from '../functional.js';
import { linearFeedback } from '../../ops/feedback.js';
import { feedbackMatrix, type FeedbackMode } from '../feedback.js';
import { fanInUniform } from '../init.js';

export interface LinearOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;
  /** How the backward reaches the input: 'backprop' (Wᵀ) unless a `bio` method switched it. */
  feedbackMode: FeedbackMode = 'backprop';

  constructor(inFeatures: number, outFeatures: number, options: LinearOptions = {}) {
    super();
    for (const [name, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`Linear: ${name} must be a non-negative integer, got ${v}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter(
      'weight',
      zeros([outFeatures, inFeatures], { dtype, requiresGrad: true }),
    ) as Tensor;
    this.bias = this.registerParameter(
      'bias',
      options.bias === false ? null : zeros([outFeatures], { dtype, requiresGrad: true }),
    );
    this.resetParameters();
  }

  /** torch's init: U(±1/√inFeatures) for W and b. */
  resetParameters(): void {
    fanInUniform(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const feedback = feedbackMatrix(this);
    if (feedback !== null) return linearFeedback(x, this.weight, this.bias, feedback);
    return linear(x, this.weight, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}
