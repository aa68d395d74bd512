// SparseLinear and SparseConv2d (SparseProp, Nikdan et al. 2023): a Linear or Conv2d whose weight
// keeps only its nonzeros. The pattern (CSR over the dense weight viewed as [out, in*kH*kW]) is
// fixed when the layer is made; the nonzero values are the Parameter `weight`, in row-major
// order of the dense weight, so forward and backward cost is linear in the nonzeros. Outputs and
// gradients equal the dense layer's with the same zeros.
//
// The pattern is the layer's structure, like its sizes: it is not in the state dict (which holds
// `weight`, the values, and `bias`), so a state dict loads into a layer of the same pattern;
// toDense() gives the dense layer (torch's layout) for exchange with PyTorch.

import { zeros, type Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import { Conv2d } from './conv.js';
import { noGrad } from '../../autograd/mode.js';
import { pair } from '../../ops/conv.js';
import { floatData } from '../../ops/util.js';
import { isKernelDType, type KernelDType } from '../../dtype.js';
import {
  checkPattern,
  sparseConv2d,
  sparseLinear,
  type SparsePattern,
  type SparseConv2dOptions,
} from '../../ops/sparse.js';

export interface SparseLayerOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
  dtype?: DType;
}

export interface SparseConv2dLayerOptions extends SparseLayerOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  /** The native kernels' layout (default 'auto': chosen by shape). */
  layout?: SparseConv2dOptions['layout'];
}

/** The CSR pattern of the nonzeros of a dense [rows, cols] weight. */
function compress(data: ArrayLike<number>, rows: number, cols: number): { rowPtr: Int32Array; colIdx: Int32Array } {
  const rowPtr = new Int32Array(rows + 1);
  const colIdx: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) if (data[r * cols + c] !== 0) colIdx.push(c);
    rowPtr[r + 1] = colIdx.length;
  }
  return { rowPtr, colIdx: Int32Array.from(colIdx) };
}

/** The dense weight (shape's element count) with the values at the pattern's places. */
function expand(values: ArrayLike<number>, p: SparsePattern, out: Float32Array | Float64Array): void {
  const cols = p.shape[1] * p.shape[2] * p.shape[3];
  for (let r = 0; r < p.shape[0]; r++)
    for (let k = p.rowPtr[r]; k < p.rowPtr[r + 1]; k++) out[r * cols + p.colIdx[k]] = values[k];
}

/** The float dtype of a dense layer's weight (the kernels run float32 and float64). */
function floatDtype(t: Tensor): KernelDType {
  const d = t.dtype;
  if (!isKernelDType(d)) throw new TypeError(`sparse layers: weights must be float32 or float64, got ${d}`);
  return d;
}

/** Shared by both layers: the pattern, the values Parameter and the bias. */
abstract class SparseLayer extends Module {
  readonly pattern: SparsePattern;
  weight: Tensor;
  bias: Tensor | null;

  protected constructor(op: string, pattern: SparsePattern, options: SparseLayerOptions) {
    super();
    checkPattern(op, pattern);
    this.pattern = pattern;
    const dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter(
      'weight',
      zeros([pattern.colIdx.length], { dtype, requiresGrad: true }),
    ) as Tensor;
    this.bias = this.registerParameter(
      'bias',
      options.bias === false ? null : zeros([pattern.shape[0]], { dtype, requiresGrad: true }),
    );
  }

  /** Nonzeros over the dense weight's size, in [0, 1]. */
  get density(): number {
    const [o, i, kh, kw] = this.pattern.shape;
    const size = o * i * kh * kw;
    return size === 0 ? 0 : this.pattern.colIdx.length / size;
  }

  /** Number of stored nonzeros. */
  get nnz(): number {
    return this.pattern.colIdx.length;
  }

  /** Copies values and bias from a dense weight of the pattern's shape (off-pattern entries must be zero). */
  protected loadDense(weight: Tensor, bias: Tensor | null): void {
    noGrad(() => {
      const cols = this.pattern.shape[1] * this.pattern.shape[2] * this.pattern.shape[3];
      const p = this.pattern;
      for (let r = 0; r < p.shape[0]; r++)
        for (let k = p.rowPtr[r]; k < p.rowPtr[r + 1]; k++) this.weight.data[k] = weight.data[r * cols + p.colIdx[k]];
      if (this.bias !== null && bias !== null) this.bias.data.set(bias.data);
    });
  }

  /** The dense weight with this layer's zeros, a new tensor of the pattern's shape. */
  denseWeight(): Tensor {
    const t = zeros([...this.pattern.shape], { dtype: floatDtype(this.weight) });
    expand(floatData(this.weight), this.pattern, floatData(t));
    return t;
  }
}

function patternOf(op: string, weight: Tensor): { pattern: SparsePattern } {
  const [o, i, kh, kw] = weight.ndim === 2 ? [weight.shape[0], weight.shape[1], 1, 1] : weight.shape;
  const c = compress(weight.data, o, i * kh * kw);
  const pattern: SparsePattern = { shape: [o, i, kh, kw], rowPtr: c.rowPtr, colIdx: c.colIdx };
  checkPattern(op, pattern);
  return { pattern };
}

/** A Linear layer whose weight keeps only its nonzeros. */
export class SparseLinear extends SparseLayer {
  readonly inFeatures: number;
  readonly outFeatures: number;

  /**
   * A layer with the given pattern (rowPtr: outFeatures + 1 row starts, colIdx: the column of each
   * nonzero, increasing within a row) and zero values; fromDense is the usual way to make one.
   */
  constructor(
    inFeatures: number,
    outFeatures: number,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    options: SparseLayerOptions = {},
  ) {
    for (const [name, v] of [
      ['inFeatures', inFeatures],
      ['outFeatures', outFeatures],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new RangeError(`SparseLinear: ${name} must be a non-negative integer, got ${v}`);
    }
    super('SparseLinear', { shape: [outFeatures, inFeatures, 1, 1], rowPtr, colIdx }, options);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
  }

  /** The sparse layer holding the nonzeros of linear.weight (exact zeros are left out) and its bias. */
  static fromDense(linear: Linear): SparseLinear {
    if (!(linear instanceof Linear)) throw new TypeError('SparseLinear.fromDense: expected an nn.Linear');
    const { pattern } = patternOf('SparseLinear.fromDense', linear.weight);
    const s = new SparseLinear(linear.inFeatures, linear.outFeatures, pattern.rowPtr, pattern.colIdx, {
      bias: linear.bias !== null,
      dtype: floatDtype(linear.weight),
    });
    s.loadDense(linear.weight, linear.bias);
    s.training = linear.training;
    return s;
  }

  /** The equivalent nn.Linear (new parameters, zeros where the pattern has none). */
  toDense(): Linear {
    const l = new Linear(this.inFeatures, this.outFeatures, {
      bias: this.bias !== null,
      dtype: floatDtype(this.weight),
    });
    noGrad(() => {
      l.weight.data.set(this.denseWeight().data);
      if (l.bias !== null && this.bias !== null) l.bias.data.set(this.bias.data);
    });
    l.training = this.training;
    return l;
  }

  forward(x: Tensor): Tensor {
    return sparseLinear(x, this.weight, this.pattern, this.bias);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}, density=${this.density.toPrecision(3)}`;
  }
}

/** A Conv2d layer (groups 1) whose weight keeps only its nonzeros. */
export class SparseConv2d extends SparseLayer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  layout: NonNullable<SparseConv2dOptions['layout']>;

  /** A layer with the given pattern over [outC, inC*kH*kW] and zero values; fromDense is the usual way. */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly [number, number],
    rowPtr: Int32Array,
    colIdx: Int32Array,
    options: SparseConv2dLayerOptions = {},
  ) {
    for (const [name, v] of [
      ['inChannels', inChannels],
      ['outChannels', outChannels],
    ] as const) {
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`SparseConv2d: ${name} must be a positive integer, got ${v}`);
    }
    const k = pair('SparseConv2d', 'kernelSize', kernelSize, 1, 1);
    super('SparseConv2d', { shape: [outChannels, inChannels, k[0], k[1]], rowPtr, colIdx }, options);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = k;
    this.stride = pair('SparseConv2d', 'stride', options.stride, 1, 1);
    this.padding = pair('SparseConv2d', 'padding', options.padding, 0, 0);
    this.dilation = pair('SparseConv2d', 'dilation', options.dilation, 1, 1);
    this.layout = options.layout ?? 'auto';
  }

  /** The sparse layer holding the nonzeros of conv.weight (exact zeros left out), its bias and geometry. */
  static fromDense(conv: Conv2d, options: Pick<SparseConv2dLayerOptions, 'layout'> = {}): SparseConv2d {
    if (!(conv instanceof Conv2d)) throw new TypeError('SparseConv2d.fromDense: expected an nn.Conv2d');
    const { pattern } = patternOf('SparseConv2d.fromDense', conv.weight);
    const s = new SparseConv2d(conv.inChannels, conv.outChannels, conv.kernelSize, pattern.rowPtr, pattern.colIdx, {
      bias: conv.bias !== null,
      dtype: floatDtype(conv.weight),
      stride: conv.stride,
      padding: conv.padding,
      dilation: conv.dilation,
      layout: options.layout,
    });
    s.loadDense(conv.weight, conv.bias);
    s.training = conv.training;
    return s;
  }

  /** The equivalent nn.Conv2d (new parameters, zeros where the pattern has none). */
  toDense(): Conv2d {
    const c = new Conv2d(this.inChannels, this.outChannels, this.kernelSize, {
      bias: this.bias !== null,
      dtype: floatDtype(this.weight),
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
    });
    noGrad(() => {
      c.weight.data.set(this.denseWeight().data);
      if (c.bias !== null && this.bias !== null) c.bias.data.set(this.bias.data);
    });
    c.training = this.training;
    return c;
  }

  forward(x: Tensor): Tensor {
    return sparseConv2d(x, this.weight, this.pattern, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      layout: this.layout,
    });
  }

  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=[${this.kernelSize.join(', ')}], stride=[${this.stride.join(', ')}], padding=[${this.padding.join(', ')}], density=${this.density.toPrecision(3)}`;
  }
}
