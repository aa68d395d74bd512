// BatchNorm2d: batch normalisation of [N, C, H, W] inputs per channel, over N, H and W; torch's
// parameters (weight, bias), buffers (running_mean, running_var, num_batches_tracked) and
// defaults (momentum 0.1, eps 1e-5). It shares BatchNorm1d's bookkeeping: an [N, C, H, W] input
// is normalised as the [N, C, H*W] view BatchNorm1d takes, which has the same statistics.

import type { Tensor } from '../../tensor.js';
import { BatchNorm1d, type BatchNormOptions } from './normalization.js';

export class BatchNorm2d extends BatchNorm1d {
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }

  override forward(x: Tensor): Tensor {
    if (x.ndim !== 4) {
      throw new RangeError(`BatchNorm2d: expected a 4-D [N, C, H, W] input, got shape [${x.shape.join(', ')}]`);
    }
    if (x.shape[1] !== this.numFeatures) {
      throw new Error(
        `BatchNorm2d: input shape [${x.shape.join(', ')}] has ${x.shape[1]} channels, the layer ${this.numFeatures}`,
      );
    }
    const [n, c, h, w] = x.shape;
    return super.forward(x.reshape([n, c, h * w])).reshape([n, c, h, w]);
  }
}
