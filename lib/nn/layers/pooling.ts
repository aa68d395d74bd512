// MaxPool2d and AvgPool2d over NCHW (or CHW) inputs; the stride defaults to the kernel size.

import type { Tensor } from '../../tensor.js';
import { Module } from '../module.js';
import { avgPool2d, maxPool2d, type Pool2dOptions } from '../../ops/pool.js';
import { pair } from '../../ops/conv.js';

abstract class Pool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(name: string, kernelSize: number | readonly [number, number], options: Pool2dOptions) {
    super();
    this.kernelSize = pair(name, 'kernelSize', kernelSize, 1, 1);
    this.stride = options.stride == null ? this.kernelSize : pair(name, 'stride', options.stride, 1, 1);
    this.padding = pair(name, 'padding', options.padding, 0, 0);
    if (2 * this.padding[0] > this.kernelSize[0] || 2 * this.padding[1] > this.kernelSize[1]) {
      throw new RangeError(
        `${name}: padding [${this.padding.join(', ')}] must be at most half of kernel size [${this.kernelSize.join(', ')}]`,
      );
    }
  }

  override extraRepr(): string {
    return `kernelSize=[${this.kernelSize.join(', ')}], stride=[${this.stride.join(', ')}], padding=[${this.padding.join(', ')}]`;
  }
}

export class MaxPool2d extends Pool2d {
  constructor(kernelSize: number | readonly [number, number], options: Pool2dOptions = {}) {
    super('MaxPool2d', kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}

/** Average pooling with torch's count_include_pad=True (padding zeros count in the divisor). */
export class AvgPool2d extends Pool2d {
  constructor(kernelSize: number | readonly [number, number], options: Pool2dOptions = {}) {
    super('AvgPool2d', kernelSize, options);
  }

  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, { stride: this.stride, padding: this.padding });
  }
}
