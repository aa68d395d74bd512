// BatchNorm1d and LayerNorm with torch's parameters, buffers and defaults.

import { ones, tensor, zeros, type Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { batchNorm, layerNorm } from '../functional.js';

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the new batch in the running averages; null: cumulative average. Default 0.1. */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true). */
  trackRunningStats?: boolean;
  dtype?: DType;
}

/** Batch normalisation of [N, C] or [N, C, L] inputs over N (and L), per channel. */
export class BatchNorm1d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  running_mean: Tensor | null;
  running_var: Tensor | null;
  /** A float scalar here (torch keeps an int64). */
  num_batches_tracked: Tensor | null;

  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures <= 0) {
      throw new RangeError(`BatchNorm1d: numFeatures must be a positive integer, got ${numFeatures}`);
    }
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (!(typeof this.eps === 'number' && this.eps >= 0 && this.eps < Infinity))
      throw new RangeError(`BatchNorm: eps must be a finite number >= 0, got ${String(this.eps)}`);
    if (this.momentum !== null && !(typeof this.momentum === 'number' && Number.isFinite(this.momentum)))
      throw new RangeError(`BatchNorm: momentum must be a finite number or null, got ${String(this.momentum)}`);
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter(
      'weight',
      this.affine ? ones([numFeatures], { dtype, requiresGrad: true }) : null,
    );
    this.bias = this.registerParameter(
      'bias',
      this.affine ? zeros([numFeatures], { dtype, requiresGrad: true }) : null,
    );
    const track = this.trackRunningStats;
    this.running_mean = this.registerBuffer('running_mean', track ? zeros([numFeatures], { dtype }) : null);
    this.running_var = this.registerBuffer('running_var', track ? ones([numFeatures], { dtype }) : null);
    this.num_batches_tracked = this.registerBuffer('num_batches_tracked', track ? tensor(0, { dtype }) : null);
  }

  /** Running statistics back to mean 0, variance 1, no batches seen. */
  resetRunningStats(): void {
    this.running_mean?.data.fill(0);
    this.running_var?.data.fill(1);
    this.num_batches_tracked?.data.fill(0);
  }

  forward(x: Tensor): Tensor {
    if (x.ndim !== 2 && x.ndim !== 3) {
      throw new RangeError(
        `BatchNorm1d: expected a 2-D [N, C] or 3-D [N, C, L] input, got shape [${x.shape.join(', ')}]`,
      );
    }
    if (x.shape[1] !== this.numFeatures) {
      throw new Error(
        `BatchNorm1d: input shape [${x.shape.join(', ')}] has ${x.shape[1]} channels, the layer ${this.numFeatures}`,
      );
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.num_batches_tracked !== null) {
      this.num_batches_tracked.data[0] += 1;
      if (this.momentum === null) factor = 1 / this.num_batches_tracked.data[0];
    }
    // batch statistics in training, or whenever there are no running ones
    const useBatchStats = this.training || this.running_mean === null;
    const useRunning = !this.training || this.trackRunningStats;
    return batchNorm(
      x,
      useRunning ? this.running_mean : null,
      useRunning ? this.running_var : null,
      this.weight,
      this.bias,
      useBatchStats,
      factor,
      this.eps,
    );
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}, trackRunningStats=${this.trackRunningStats}`;
  }
}

export interface LayerNormOptions {
  eps?: number;
  /** Learn weight (and bias) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  bias?: boolean;
  dtype?: DType;
}

/** Normalises over the trailing normalizedShape dims of each sample. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || !this.normalizedShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new RangeError(
        `LayerNorm: normalizedShape must be positive integers, got [${this.normalizedShape.join(', ')}]`,
      );
    }
    this.eps = options.eps ?? 1e-5;
    if (!(typeof this.eps === 'number' && this.eps >= 0 && this.eps < Infinity))
      throw new RangeError(`LayerNorm: eps must be a finite number >= 0, got ${String(this.eps)}`);
    const affine = options.elementwiseAffine ?? true;
    const dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter(
      'weight',
      affine ? ones(this.normalizedShape, { dtype, requiresGrad: true }) : null,
    );
    this.bias = this.registerParameter(
      'bias',
      affine && options.bias !== false ? zeros(this.normalizedShape, { dtype, requiresGrad: true }) : null,
    );
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `[${this.normalizedShape.join(', ')}], eps=${this.eps}, elementwiseAffine=${this.weight !== null}`;
  }
}
