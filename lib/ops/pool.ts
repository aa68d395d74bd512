// 2-D max and average pooling (torch.nn.functional.max_pool2d / avg_pool2d, ceil_mode false,
// avg with count_include_pad true), NCHW or CHW. Both are linear in the input once the argmax is
// fixed, so their gradients are ops again (scatter through the argmax; the adjoint average),
// and double backward works.

import { kernels } from '../backend/index.js';
import type { PoolGeometryArgs } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import { allocIndices, allocOut, checkTensor, floatData, numel, record, shapeStr } from './util.js';
import { pair } from './conv.js';

export interface Pool2dOptions {
  /** Step of the window, one number or [h, w] (default, or null: the kernel size). */
  stride?: number | readonly [number, number] | null;
  /** Implicit padding on each side, at most half the kernel (default 0). */
  padding?: number | readonly [number, number];
}

interface PoolGeometry {
  /** Shape of the input (3-D or 4-D). */
  inShape: readonly number[];
  outShape: number[];
  planes: number;
  h: number;
  w: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
}

/** The kernels' geometry arguments, in their order. */
function args(g: PoolGeometry): PoolGeometryArgs {
  return [g.planes, g.h, g.w, g.kH, g.kW, g.sH, g.sW, g.pH, g.pW];
}

function geometry(
  op: string,
  x: Tensor,
  kernelSize: number | readonly [number, number],
  opts: Pool2dOptions,
): PoolGeometry {
  checkTensor(op, 'input', x);
  if (x.ndim !== 4 && x.ndim !== 3)
    throw new Error(`${op}: expected a 4-D [N, C, H, W] or 3-D [C, H, W] input, got shape ${shapeStr(x.shape)}`);
  const [kH, kW] = pair(op, 'kernelSize', kernelSize, 1, 1);
  const [sH, sW] = opts.stride === undefined || opts.stride === null ? [kH, kW] : pair(op, 'stride', opts.stride, 1, 1);
  const [pH, pW] = pair(op, 'padding', opts.padding, 0, 0);
  if (2 * pH > kH || 2 * pW > kW) {
    throw new Error(`${op}: padding ${pH}x${pW} must be at most half of kernel size ${kH}x${kW}`);
  }
  const h = x.shape[x.ndim - 2],
    w = x.shape[x.ndim - 1];
  if (h + 2 * pH < kH || w + 2 * pW < kW) {
    throw new Error(
      `${op}: kernel size ${kH}x${kW} is larger than the padded input ${h + 2 * pH}x${w + 2 * pW} of input shape ${shapeStr(x.shape)} (padding ${pH}x${pW})`,
    );
  }
  const oH = Math.floor((h + 2 * pH - kH) / sH) + 1;
  const oW = Math.floor((w + 2 * pW - kW) / sW) + 1;
  const planes = x.size / Math.max(h * w, 1);
  const outShape = [...x.shape.slice(0, x.ndim - 2), oH, oW];
  return { inShape: x.shape, outShape, planes: h * w === 0 ? 0 : planes, h, w, kH, kW, sH, sW, pH, pW };
}

// ---------------------------------------------------------------------------------------------
// max pooling

interface MaxSaved {
  g: PoolGeometry;
  indices: Int32Array;
}

/** torch.nn.functional.max_pool2d(x, kernelSize, stride = kernelSize, padding). */
export function maxPool2d(x: Tensor, kernelSize: number | readonly [number, number], opts: Pool2dOptions = {}): Tensor {
  const g = geometry('maxPool2d', x, kernelSize, opts);
  // torch refuses an empty channel or plane (a batch of 0 is fine): a window over nothing has no maximum.
  if (x.shape.slice(x.ndim - 3).some((d) => d === 0))
    throw new Error(`maxPool2d: expected non-zero channel, height and width, got input shape ${shapeStr(x.shape)}`);
  const n = numel(g.outShape);
  const y = allocOut(floatData(x), n);
  const indices = allocIndices(n);
  kernels().maxPool2d(floatData(x), y, indices, ...args(g));
  return record<MaxSaved>(new Tensor(y, g.outShape), maxPool2dOp, [x], { g, indices });
}

function maxPoolBackward(gy: Tensor, node: Node<MaxSaved>): Grads {
  return [maxPoolScatter(gy, node.saved)];
}

const maxPool2dOp = defineOp<MaxSaved>({ name: 'maxPool2d', kernels: ['maxPool2d'], arity: 1, rule: maxPoolBackward });

/** gx = gy scattered to the argmax of each window (linear in gy). */
function maxPoolScatter(gy: Tensor, s: MaxSaved): Tensor {
  const gx = allocOut(floatData(gy), s.g.planes * s.g.h * s.g.w);
  kernels().maxPool2dBackward(floatData(gy), s.indices, gx, ...args(s.g));
  return record<MaxSaved>(new Tensor(gx, s.g.inShape), maxPool2dBackwardOp, [gy], s);
}

/** The adjoint of the scatter: read the incoming gradient at every argmax. */
function maxPoolScatterBackward(h: Tensor, node: Node<MaxSaved>): Grads {
  const { g, indices } = node.saved;
  const hw = g.h * g.w;
  const per = indices.length / Math.max(g.planes, 1);
  const flat = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) flat[i] = Math.floor(i / per) * hw + indices[i];
  return [h.reshape([-1]).indexSelect(0, flat).reshape(g.outShape)];
}

const maxPool2dBackwardOp = defineOp<MaxSaved>({
  name: 'maxPool2dBackward',
  kernels: ['maxPool2dBackward'],
  arity: 1,
  rule: maxPoolScatterBackward,
});

// ---------------------------------------------------------------------------------------------
// average pooling

/** torch.nn.functional.avg_pool2d(x, kernelSize, stride = kernelSize, padding), count_include_pad. */
export function avgPool2d(x: Tensor, kernelSize: number | readonly [number, number], opts: Pool2dOptions = {}): Tensor {
  const g = geometry('avgPool2d', x, kernelSize, opts);
  return avgPoolRaw(x, g);
}

function avgPoolRaw(x: Tensor, g: PoolGeometry): Tensor {
  const y = allocOut(floatData(x), numel(g.outShape));
  kernels().avgPool2d(floatData(x), y, ...args(g));
  return record(new Tensor(y, g.outShape), avgPool2dOp, [x], g);
}

function avgPoolBackward(gy: Tensor, node: Node<PoolGeometry>): Grads {
  return [avgPoolAdjoint(gy, node.saved)];
}

const avgPool2dOp = defineOp<PoolGeometry>({
  name: 'avgPool2d',
  kernels: ['avgPool2d'],
  arity: 1,
  rule: avgPoolBackward,
});

function avgPoolAdjoint(gy: Tensor, g: PoolGeometry): Tensor {
  const gx = allocOut(floatData(gy), g.planes * g.h * g.w);
  kernels().avgPool2dBackward(floatData(gy), gx, ...args(g));
  return record(new Tensor(gx, g.inShape), avgPool2dBackwardOp, [gy], g);
}

function avgPoolAdjointBackward(h: Tensor, node: Node<PoolGeometry>): Grads {
  return [avgPoolRaw(h, node.saved)];
}

const avgPool2dBackwardOp = defineOp<PoolGeometry>({
  name: 'avgPool2dBackward',
  kernels: ['avgPool2dBackward'],
  arity: 1,
  rule: avgPoolAdjointBackward,
});
