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
      throw new RangeError(`${this.constructor.name}: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
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

/** Logits [N, C] against class indices. */
export class CrossEntropyLoss extends Loss {
  forward(input: Tensor, target: Indices): Tensor {
    return F.crossEntropy(input, target, { reduction: this.reduction });
  }
}

/** Log-probabilities [N, C] against class indices. */
export class NLLLoss extends Loss {
  forward(input: Tensor, target: Indices): Tensor {
    return F.nllLoss(input, target, { reduction: this.reduction });
  }
}

export class BCEWithLogitsLoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceWithLogits(input, target, { reduction: this.reduction });
  }
}
