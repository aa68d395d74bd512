// Conv2d: 2-D convolution over NCHW inputs, torch's layout ([outC, inC, kH, kW] weight), options
// and default initialisation.

import { zeros, type Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { conv2d, pair, type Conv2dOptions } from '../../ops/conv.js';
import { fanInUniform } from '../init.js';
import { conv2dFeedback } from '../../ops/feedback.js';
import { feedbackMatrix, type FeedbackMode } from '../feedback.js';

/** F.conv2d's options, plus what the layer owns. */
export interface Conv2dLayerOptions extends Conv2dOptions {
  /** Learn an additive per-channel bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  weight: Tensor;
  bias: Tensor | null;
  /** How the backward reaches the input: 'backprop' (the weight) unless a `bio` method switched it. */
  feedbackMode: FeedbackMode = 'backprop';

  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly [number, number],
    options: Conv2dLayerOptions = {},
  ) {
    super();
    for (const [name, v] of [
      ['inChannels', inChannels],
      ['outChannels', outChannels],
    ] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`Conv2d: ${name} must be a positive integer, got ${v}`);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair('Conv2d', 'kernelSize', kernelSize, 1, 1);
    this.stride = pair('Conv2d', 'stride', options.stride, 1, 1);
    this.padding = pair('Conv2d', 'padding', options.padding, 0, 0);
    this.dilation = pair('Conv2d', 'dilation', options.dilation, 1, 1);
    const dtype = options.dtype ?? 'float32';
    const [kH, kW] = this.kernelSize;
    this.weight = this.registerParameter(
      'weight',
      zeros([outChannels, inChannels, kH, kW], { dtype, requiresGrad: true }),
    ) as Tensor;
    this.bias = this.registerParameter(
      'bias',
      options.bias === false ? null : zeros([outChannels], { dtype, requiresGrad: true }),
    );
    this.resetParameters();
  }

  /** torch's init: U(±1/√fanIn) for W and b, fanIn = inChannels * kH * kW. */
  resetParameters(): void {
    fanInUniform(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const opts = { stride: this.stride, padding: this.padding, dilation: this.dilation };
    const feedback = feedbackMatrix(this);
    if (feedback !== null) return conv2dFeedback(x, this.weight, this.bias, feedback, opts);
    return conv2d(x, this.weight, this.bias, opts);
  }

  override extraRepr(): string {
    const k = (p: [number, number]): string => `[${p.join(', ')}]`;
    return (
      `${this.inChannels}, ${this.outChannels}, kernelSize=${k(this.kernelSize)}, stride=${k(this.stride)}` +
      `${this.padding[0] || this.padding[1] ? `, padding=${k(this.padding)}` : ''}` +
      `${this.dilation[0] > 1 || this.dilation[1] > 1 ? `, dilation=${k(this.dilation)}` : ''}, bias=${this.bias !== null}`
    );
  }
}
