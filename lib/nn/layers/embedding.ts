// Embedding: a lookup table of numEmbeddings rows of size embeddingDim, N(0, 1) initialised.

import { zeros, type Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import type { Indices } from '../../ops/util.js';
import { Module } from '../module.js';
import { embedding } from '../functional.js';
import { normal } from '../init.js';

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, options: { dtype?: DType } = {}) {
    super();
    for (const [name, v] of [
      ['numEmbeddings', numEmbeddings],
      ['embeddingDim', embeddingDim],
    ] as const) {
      if (!Number.isInteger(v) || v <= 0)
        throw new RangeError(`Embedding: ${name} must be a positive integer, got ${v}`);
    }
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    const dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter(
      'weight',
      zeros([numEmbeddings, embeddingDim], { dtype, requiresGrad: true }),
    ) as Tensor;
    normal(this.weight);
  }

  /** indices: a Tensor of integral values, an Int32Array or a number[]. */
  forward(indices: Indices): Tensor {
    return embedding(indices, this.weight);
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}`;
  }
}
