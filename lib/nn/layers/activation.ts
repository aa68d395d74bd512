// Activation modules: thin wrappers over F.

import type { Tensor } from '../../tensor.js';
import { Module } from '../module.js';
import * as F from '../functional.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

export class LeakyReLU extends Module {
  readonly negativeSlope: number;

  constructor(negativeSlope = 0.01) {
    super();
    this.negativeSlope = negativeSlope;
  }

  forward(x: Tensor): Tensor {
    return F.leakyRelu(x, this.negativeSlope);
  }

  override extraRepr(): string {
    return `negativeSlope=${this.negativeSlope}`;
  }
}

export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return F.sigmoid(x);
  }
}

export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return F.tanh(x);
  }
}

/** GELU, exact (erf) or with torch's tanh approximation. */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor({ approximate = 'none' }: F.GeluOptions = {}) {
    super();
    this.approximate = approximate;
  }

  forward(x: Tensor): Tensor {
    return F.gelu(x, { approximate: this.approximate });
  }
}

export class Softmax extends Module {
  readonly dim: number;

  constructor(dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new TypeError(`Softmax: dim must be an integer, got ${String(dim)}`);
    this.dim = dim;
  }

  forward(x: Tensor): Tensor {
    return F.softmax(x, this.dim);
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export class LogSoftmax extends Module {
  readonly dim: number;

  constructor(dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new TypeError(`LogSoftmax: dim must be an integer, got ${String(dim)}`);
    this.dim = dim;
  }

  forward(x: Tensor): Tensor {
    return F.logSoftmax(x, this.dim);
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

export class Softplus extends Module {
  readonly beta: number;
  readonly threshold: number;

  constructor({ beta = 1, threshold = 20 }: F.SoftplusOptions = {}) {
    super();
    this.beta = beta;
    this.threshold = threshold;
  }

  forward(x: Tensor): Tensor {
    return F.softplus(x, { beta: this.beta, threshold: this.threshold });
  }

  override extraRepr(): string {
    return `beta=${this.beta}, threshold=${this.threshold}`;
  }
}

/** SiLU (swish): x * sigmoid(x). */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return F.silu(x);
  }
}

export class ELU extends Module {
  readonly alpha: number;

  constructor({ alpha = 1 }: F.EluOptions = {}) {
    super();
    this.alpha = alpha;
  }

  forward(x: Tensor): Tensor {
    return F.elu(x, { alpha: this.alpha });
  }

  override extraRepr(): string {
    return `alpha=${this.alpha}`;
  }
}
