// Loss modules: F's losses with their options fixed at construction.

import type { Tensor } from '../../tensor.js';
import type { Indices } from '../../ops/util.js';
import { Module } from '../module.js';
import * as F from '../functional.js';

abstract class Loss extends Module {
  readonly reduction: F.Reduction;

  constructor(options: F.LossOptions = {}) {
    super();
    const reduction = options.reduction ?? 'mean';
    if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
      throw new RangeError(
        `${this.constructor.name}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`,
      );
    }
    this.reduction = reduction;
  }

  override extraRepr(): string {
    return `reduction=${this.reduction}`;
  }
}

export class MSELoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return F.mseLoss(input, target, { reduction: this.reduction });
  }
}

export class L1Loss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return F.l1Loss(input, target, { reduction: this.reduction });
  }
}

export class HuberLoss extends Loss {
  readonly delta: number;

  constructor(options: F.HuberOptions = {}) {
    super(options);
    this.delta = options.delta ?? 1;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return F.huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/** torch's _WeightedLoss: a class weight given at construction is a buffer (`weight` in the state dict). */
abstract class ClassLoss extends Loss {
  declare weight: Tensor | null;
  readonly ignoreIndex: number;

  constructor(options: F.ClassLossOptions = {}) {
    super(options);
    this.registerBuffer('weight', options.weight ?? null);
    this.ignoreIndex = options.ignoreIndex ?? -100;
  }
}

/** Logits [N, C] against class indices. */
export class CrossEntropyLoss extends ClassLoss {
  readonly labelSmoothing: number;

  constructor(options: F.CrossEntropyOptions = {}) {
    super(options);
    this.labelSmoothing = options.labelSmoothing ?? 0;
  }

  forward(input: Tensor, target: Indices): Tensor {
    return F.crossEntropy(input, target, {
      reduction: this.reduction,
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/** Log-probabilities [N, C] against class indices. */
export class NLLLoss extends ClassLoss {
  forward(input: Tensor, target: Indices): Tensor {
    return F.nllLoss(input, target, { reduction: this.reduction, weight: this.weight, ignoreIndex: this.ignoreIndex });
  }
}

export class BCEWithLogitsLoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceWithLogits(input, target, { reduction: this.reduction });
  }
}
