// 2-D convolution (torch.nn.functional.conv2d, groups = 1, NCHW). Three ops share one geometry:
// conv2d itself and its two gradients, each of which is again an op with a backward rule, so
// double backward works. <conv2d(x, w), g> is trilinear in (x, w, g); every rule below is a
// partial derivative of that one form:
//   d/dx = conv2dInputGrad(g, w)   d/dw = conv2dWeightGrad(x, g)   d/dg = conv2d(x, w).

import { kernels } from '../backend/index.js';
import type { ConvGeometry, ConvGeometryArgs } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import { allocLike, allocOut, checkSameDtype, checkTensor, floatData, isArray, record, shapeStr } from './util.js';

export interface Conv2dOptions {
  /** Step of the window, one number or [h, w] (default 1). */
  stride?: number | readonly [number, number];
  /** Zeros added on each side, one number or [h, w] (default 0). */
  padding?: number | readonly [number, number];
  /** Spacing between kernel taps, one number or [h, w] (default 1). */
  dilation?: number | readonly [number, number];
}

/** The kernels' geometry arguments, in their order. */
function args(g: ConvGeometry): ConvGeometryArgs {
  return [g.n, g.cIn, g.h, g.w, g.cOut, g.kH, g.kW, g.sH, g.sW, g.pH, g.pW, g.dH, g.dW];
}

/** A pair of window parameters from a number or [h, w], checked. */
export function pair(
  op: string,
  name: string,
  v: number | readonly number[] | undefined,
  fallback: number,
  min: number,
): [number, number] {
  const p = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : v;
  if (!isArray(p) && typeof v !== 'number')
    throw new TypeError(`${op}: ${name} must be a number or [h, w], got ${String(v)}`);
  if (p.length !== 2 || !p.every((e) => Number.isInteger(e) && e >= min)) {
    throw new RangeError(
      `${op}: ${name} must be an integer >= ${min} or a pair of them, got ${isArray(v) ? shapeStr(v) : String(v)}`,
    );
  }
  return [p[0], p[1]];
}

/** The checked geometry of x against a weight of shape [outC, inC, kH, kW] (ops/sparse.ts too). */
export function geometry(
  op: string,
  x: Tensor,
  weight: { readonly ndim: number; readonly shape: readonly number[] },
  opts: Conv2dOptions,
): ConvGeometry {
  if (x.ndim !== 4) throw new Error(`${op}: expected a 4-D input [N, C, H, W], got shape ${shapeStr(x.shape)}`);
  if (weight.ndim !== 4)
    throw new Error(`${op}: expected a 4-D weight [outC, inC, kH, kW], got shape ${shapeStr(weight.shape)}`);
  const [n, cIn, h, w] = x.shape;
  const [cOut, wcIn, kH, kW] = weight.shape;
  if (wcIn !== cIn) {
    throw new Error(
      `${op}: input shape ${shapeStr(x.shape)} has ${cIn} channels but weight shape ${shapeStr(weight.shape)} expects ${wcIn}`,
    );
  }
  const [sH, sW] = pair(op, 'stride', opts.stride, 1, 1);
  const [pH, pW] = pair(op, 'padding', opts.padding, 0, 0);
  const [dH, dW] = pair(op, 'dilation', opts.dilation, 1, 1);
  const spanH = dH * (kH - 1) + 1,
    spanW = dW * (kW - 1) + 1;
  if (h + 2 * pH < spanH || w + 2 * pW < spanW || kH === 0 || kW === 0) {
    throw new Error(
      `${op}: kernel ${kH}x${kW}${dH > 1 || dW > 1 ? ` (dilation ${dH}x${dW})` : ''} of weight shape ${shapeStr(weight.shape)} is larger than the padded input ${h + 2 * pH}x${w + 2 * pW} of input shape ${shapeStr(x.shape)} (padding ${pH}x${pW})`,
    );
  }
  const oH = Math.floor((h + 2 * pH - spanH) / sH) + 1;
  const oW = Math.floor((w + 2 * pW - spanW) / sW) + 1;
  return { n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW };
}

/** torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation). */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', weight);
  checkSameDtype(op, x, weight);
  const g = geometry(op, x, weight, opts);
  const b = bias ?? null;
  if (b !== null) {
    checkTensor(op, 'bias', b);
    checkSameDtype(op, x, b);
    if (b.ndim !== 1 || b.shape[0] !== g.cOut) {
      throw new Error(
        `${op}: bias shape ${shapeStr(b.shape)} does not match weight shape ${shapeStr(weight.shape)} (expected [${g.cOut}])`,
      );
    }
  }
  return conv2dRaw(x, weight, b, g);
}

function conv2dRaw(x: Tensor, weight: Tensor, bias: Tensor | null, g: ConvGeometry): Tensor {
  const y = allocOut(floatData(x), g.n * g.cOut * g.oH * g.oW);
  kernels().conv2d(floatData(x), floatData(weight), bias === null ? null : floatData(bias), y, ...args(g));
  const inputs = bias === null ? [x, weight] : [x, weight, bias];
  return record(new Tensor(y, [g.n, g.cOut, g.oH, g.oW]), conv2dOp, inputs, g);
}

const conv2dOp = defineOp<ConvGeometry>({
  name: 'conv2d',
  kernels: ['conv2d'],
  arity: 'variadic', // x, weight and an optional bias
  rule: (gy, node) => conv2dGrads(gy, node.inputs, node.inputs[1], node.saved, false),
  // The weight and bias gradients in one kernel call.
  fused: (gy, node) => conv2dGrads(gy, node.inputs, node.inputs[1], node.saved, true),
  fusedKernels: ['conv2dBackwardInput', 'conv2dBackwardWeight'],
});

/**
 * The gradients of conv2d's inputs [x, weight, bias?]. The input gradient is the transposed
 * convolution of gy with wx: the weight for backpropagation, a feedback kernel for the bio
 * feedback modes. `fused` computes the weight and bias gradients in one kernel call.
 */
export function conv2dGrads(gy: Tensor, inputs: readonly Tensor[], wx: Tensor, g: ConvGeometry, fused: boolean): Grads {
  const [x, w] = inputs;
  const b = inputs.length > 2 ? inputs[2] : null;
  const gx = x.requiresGrad ? conv2dInputGrad(gy, wx, g) : null;
  const wantGb = b !== null && b.requiresGrad;
  let gw: Tensor | null = null;
  let gb: Tensor | null = null;
  if (!fused) {
    gw = w.requiresGrad ? conv2dWeightGrad(x, gy, g) : null;
    gb = wantGb ? gy.sum([0, 2, 3]) : null;
  } else if (w.requiresGrad || wantGb) {
    const gwData = allocLike(floatData(x), w.size);
    const gbData = wantGb ? allocLike(floatData(x), g.cOut) : null;
    kernels().conv2dBackwardWeight(floatData(x), floatData(gy), gwData, gbData, ...args(g));
    if (w.requiresGrad) gw = new Tensor(gwData, w.shape);
    if (gbData !== null) gb = new Tensor(gbData, [g.cOut]);
  }
  return b === null ? [gx, gw] : [gx, gw, gb];
}

/** d<conv2d(x, w), gy>/dx: a transposed convolution of gy with w; linear in gy and in w. */
function conv2dInputGrad(gy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const gx = allocOut(floatData(gy), g.n * g.cIn * g.h * g.w);
  kernels().conv2dBackwardInput(floatData(gy), floatData(w), gx, ...args(g));
  return record(new Tensor(gx, [g.n, g.cIn, g.h, g.w]), conv2dInputGradOp, [gy, w], g);
}

function inputGradBackward(h: Tensor, node: Node<ConvGeometry>): Grads {
  const [gy, w] = node.inputs;
  const g = node.saved;
  return [gy.requiresGrad ? conv2dRaw(h, w, null, g) : null, w.requiresGrad ? conv2dWeightGrad(h, gy, g) : null];
}

const conv2dInputGradOp = defineOp<ConvGeometry>({
  name: 'conv2dInputGrad',
  kernels: ['conv2dBackwardInput'],
  arity: 2,
  rule: inputGradBackward,
});

/** d<conv2d(x, w), gy>/dw: the correlation of x with gy; linear in x and in gy. */
function conv2dWeightGrad(x: Tensor, gy: Tensor, g: ConvGeometry): Tensor {
  const gw = allocOut(floatData(x), g.cOut * g.cIn * g.kH * g.kW);
  kernels().conv2dBackwardWeight(floatData(x), floatData(gy), gw, null, ...args(g));
  return record(new Tensor(gw, [g.cOut, g.cIn, g.kH, g.kW]), conv2dWeightGradOp, [x, gy], g);
}

function weightGradBackward(h: Tensor, node: Node<ConvGeometry>): Grads {
  const [x, gy] = node.inputs;
  const g = node.saved;
  return [x.requiresGrad ? conv2dInputGrad(gy, h, g) : null, gy.requiresGrad ? conv2dRaw(x, h, null, g) : null];
}

const conv2dWeightGradOp = defineOp<ConvGeometry>({
  name: 'conv2dWeightGrad',
  kernels: ['conv2dBackwardWeight'],
  arity: 2,
  rule: weightGradBackward,
});
