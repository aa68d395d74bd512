// Reductions (sum, mean, max, min, argmax) and the two broadcasting helpers that are each
// other's gradient: expand (broadcast to a shape) and sumToShape (sum a broadcast gradient back).

import { kernels } from '../backend/index.js';
import { ReduceOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import {
  allocIndices,
  allocLike,
  allocOut,
  axisSplit,
  broadcastShapes,
  checkTensor,
  floatData,
  normDim,
  numel,
  record,
  sameShape,
  shapeStr,
  willRecord,
} from './util.js';

const REDUCE_NAMES = ['sum', 'mean', 'max', 'min'];

/** Normalised, de-duplicated dims in descending order; undefined means all dims. */
function reduceDims(op: string, ndim: number, dim: number | readonly number[] | undefined): number[] {
  if (dim === undefined) {
    const all = [];
    for (let i = ndim - 1; i >= 0; i--) all.push(i);
    return all;
  }
  const list = typeof dim === 'number' ? [dim] : dim;
  if (list.length === 0) return reduceDims(op, ndim, undefined); // torch: an empty list means all dims
  const out: number[] = [];
  for (const d of list) {
    const nd = normDim(op, d, ndim);
    if (out.includes(nd)) throw new Error(`${op}: dim ${nd} appears more than once`);
    out.push(nd);
  }
  return out.sort((p, q) => q - p);
}

/** Reduces over dims in turn (sum, mean, max and min all compose axis by axis). */
function reduceOver(op: ReduceOp, x: Tensor, dims: readonly number[]): { data: Tensor['data']; keepShape: number[] } {
  const k = kernels();
  const keepShape = x.shape.slice();
  if (dims.length === x.shape.length || x.shape.length === 0) {
    // All dims at once: one pass over the flat array.
    const out = allocLike(floatData(x), 1);
    k.reduce(op, floatData(x), 1, x.data.length, 1, out);
    for (let i = 0; i < keepShape.length; i++) keepShape[i] = 1;
    return { data: out, keepShape };
  }
  let data = floatData(x);
  for (const d of dims) {
    const [outer, n, inner] = axisSplit(keepShape, d);
    const out = allocOut(data, outer * inner);
    k.reduce(op, data, outer, n, inner, out);
    data = out;
    keepShape[d] = 1;
  }
  return { data, keepShape };
}

/**
 * Reduction of an empty tensor, as torch: the output is empty when a kept dim is 0; otherwise
 * every output element reduces nothing, giving 0 (sum) or NaN (mean, 0 / 0). No kernel runs.
 */
function reduceEmpty(op: ReduceOp, x: Tensor, dims: readonly number[]): { data: Tensor['data']; keepShape: number[] } {
  const keepShape = x.shape.map((s, i) => (dims.includes(i) ? 1 : s));
  const data = allocLike(floatData(x), numel(keepShape));
  if (op === ReduceOp.mean) data.fill(NaN);
  return { data, keepShape };
}

function dropDims(keepShape: readonly number[], dims: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < keepShape.length; i++) if (!dims.includes(i)) out.push(keepShape[i]);
  return out;
}

interface ReduceSaved {
  keepShape: number[];
  count: number;
}

export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return reduction(ReduceOp.sum, x, dim, keepdim);
}

export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return reduction(ReduceOp.mean, x, dim, keepdim);
}

function reduction(op: ReduceOp, x: Tensor, dim: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  const name = REDUCE_NAMES[op];
  checkTensor(name, 'input', x);
  const dims = reduceDims(name, x.shape.length, dim);
  const { data, keepShape } = x.data.length === 0 ? reduceEmpty(op, x, dims) : reduceOver(op, x, dims);
  const out = new Tensor(data, keepdim ? keepShape : dropDims(keepShape, dims));
  const count = x.data.length / Math.max(data.length, 1);
  return record<ReduceSaved>(out, op === ReduceOp.sum ? sumOp : meanOp, [x], { keepShape, count });
}

function sumBackward(g: Tensor, node: Node<ReduceSaved>): Grads {
  return [expand(g.reshape(node.saved.keepShape), node.inputs[0].shape)];
}

function meanBackward(g: Tensor, node: Node<ReduceSaved>): Grads {
  return [expand(g.reshape(node.saved.keepShape), node.inputs[0].shape).div(node.saved.count)];
}

const sumOp = defineOp<ReduceSaved>({
  name: 'sum',
  kernels: ['reduce'],
  code: ReduceOp.sum,
  arity: 1,
  rule: sumBackward,
});
const meanOp = defineOp<ReduceSaved>({
  name: 'mean',
  kernels: ['reduce'],
  code: ReduceOp.mean,
  arity: 1,
  rule: meanBackward,
});

interface MaxSaved {
  indices: Int32Array;
  dim: number; // -1: over all elements
  keepShape: number[];
}

/**
 * Maximum over one dim (or all elements); returns the values. Over a dim the gradient goes to
 * the first maximal element (torch.max(dim)); over all elements it is split between ties
 * (torch.max()). Indices: argmax.
 */
export function max(x: Tensor, dim?: number, keepdim = false): Tensor {
  checkTensor('max', 'input', x);
  checkNotEmptyReduction('max', x, dim);
  let outer = 1,
    n = x.data.length,
    inner = 1;
  let d = -1;
  const keepShape = x.shape.map(() => 1);
  let shape: number[] = keepdim ? keepShape : [];
  if (dim !== undefined) {
    d = normDim('max', dim, x.shape.length);
    [outer, n, inner] = axisSplit(x.shape, d);
    for (let i = 0; i < x.shape.length; i++) keepShape[i] = i === d ? 1 : x.shape[i];
    shape = keepdim ? keepShape : dropDims(keepShape, [d]);
  }
  const values = allocOut(x.data, outer * inner);
  const indices = allocIndices(outer * inner);
  if (values.length > 0) kernels().maxAxis(x.data, outer, n, inner, values, indices);
  return record<MaxSaved>(new Tensor(values, shape), maxOp, [x], { indices, dim: d, keepShape });
}

function maxBackward(g: Tensor, node: Node<MaxSaved>): Grads {
  const x = node.inputs[0];
  const { indices, dim, keepShape } = node.saved;
  // A constant one-hot mask of where the maxima were, so the rule stays differentiable in g.
  const mask = allocLike(floatData(x), x.data.length);
  if (dim < 0) {
    // Over all elements torch splits the gradient evenly between tied maxima.
    const m = x.data[indices[0]];
    let ties = 0;
    for (let i = 0; i < mask.length; i++) if (x.data[i] === m) ties++;
    for (let i = 0; i < mask.length; i++) if (x.data[i] === m) mask[i] = 1 / ties;
  } else {
    const [outer, n, inner] = axisSplit(x.shape, dim);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) mask[(o * n + indices[o * inner + i]) * inner + i] = 1;
    }
  }
  return [g.reshape(keepShape).mul(new Tensor(mask, x.shape))];
}

const maxOp = defineOp<MaxSaved>({ name: 'max', kernels: ['maxAxis'], arity: 1, rule: maxBackward });

/**
 * max and argmax of an empty tensor: allowed over a dim of nonzero size (the output is empty), an
 * error over a zero-size dim or over all elements, where there is no maximum (as in torch).
 */
function checkNotEmptyReduction(op: string, x: Tensor, dim: number | undefined): void {
  if (x.data.length > 0) return;
  const n = dim === undefined ? 0 : axisSplit(x.shape, normDim(op, dim, x.shape.length))[1];
  if (n === 0) {
    const over = dim === undefined ? 'all elements' : `dim ${dim}, which has size 0`;
    throw new Error(`${op}: input of shape ${shapeStr(x.shape)} is empty and has no maximum over ${over}`);
  }
}

interface ExtremumSaved {
  keepShape: number[];
  /** 1 / (number of ties) where x equals the extremum of its slice, else 0: torch's amax gradient. */
  weights: Tensor;
}

/** torch.amax: the maximum over several dims (all when omitted); ties share the gradient evenly. */
export function amax(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return extremum('amax', x, dim, keepdim);
}

/** torch.amin: the minimum over several dims (all when omitted); ties share the gradient evenly. */
export function amin(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return extremum('amin', x, dim, keepdim);
}

function extremum(
  name: 'amax' | 'amin',
  x: Tensor,
  dim: number | readonly number[] | undefined,
  keepdim: boolean,
): Tensor {
  checkTensor(name, 'input', x);
  const dims = reduceDims(name, x.shape.length, dim);
  for (const d of dims) {
    if (x.shape.length > 0 && x.shape[d] === 0) {
      throw new Error(
        `${name}: input of shape ${shapeStr(x.shape)} is empty along dim ${d}, which has no ${name === 'amax' ? 'maximum' : 'minimum'}`,
      );
    }
  }
  // The values: max (of -x for amin) one dim at a time, on a detached x so no node is recorded.
  const flip = name === 'amin';
  let v = flip ? x.detach().neg() : x.detach();
  for (const d of dims) v = v.max(d, true);
  if (flip) v = v.neg();
  const keepShape = v.shape.slice();
  const out = new Tensor(v.data, keepdim ? keepShape : dropDims(keepShape, dims));
  if (!willRecord([x])) return out;
  const m = expand(v, x.shape).data;
  const mask = allocLike(floatData(x), x.data.length);
  for (let i = 0; i < mask.length; i++) mask[i] = x.data[i] === m[i] ? 1 : 0;
  const ties = expand(new Tensor(mask, x.shape).sum(dims, true), x.shape).data;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) mask[i] = 1 / ties[i];
  return record<ExtremumSaved>(out, flip ? aminOp : amaxOp, [x], { keepShape, weights: new Tensor(mask, x.shape) });
}

function extremumBackward(g: Tensor, node: Node<ExtremumSaved>): Grads {
  return [expand(g.reshape(node.saved.keepShape), node.inputs[0].shape).mul(node.saved.weights)];
}

const amaxOp = defineOp<ExtremumSaved>({ name: 'amax', kernels: ['maxAxis'], arity: 1, rule: extremumBackward });
const aminOp = defineOp<ExtremumSaved>({ name: 'amin', kernels: ['maxAxis'], arity: 1, rule: extremumBackward });

/** Minimum over one dim (or all elements): -max(-x). */
export function min(x: Tensor, dim?: number, keepdim = false): Tensor {
  return max(x.neg(), dim, keepdim).neg();
}

/** Index of the first maximum over dim (or of the flattened tensor), as a tensor of x's dtype. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  checkTensor('argmax', 'input', x);
  checkNotEmptyReduction('argmax', x, dim);
  let outer = 1,
    n = x.data.length,
    inner = 1;
  let shape: number[] = keepdim ? x.shape.map(() => 1) : [];
  if (dim !== undefined) {
    const d = normDim('argmax', dim, x.shape.length);
    [outer, n, inner] = axisSplit(x.shape, d);
    shape = x.shape.slice();
    if (keepdim) shape[d] = 1;
    else shape.splice(d, 1);
    if (x.shape.length === 0) shape = []; // a 0-d input's dim 0 is itself: torch gives shape []
  }
  const indices = allocIndices(outer * inner);
  if (indices.length > 0) kernels().argmax(x.data, outer, n, inner, indices);
  const out = allocLike(x.data, indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = indices[i];
  return new Tensor(out, shape);
}

// ---------------------------------------------------------------------------------------------
// Broadcasting helpers

/** Broadcasts x to `shape` (NumPy rules; -1 keeps a dim), copying. Gradient: sumToShape. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('expand', 'input', x);
  if (shape.includes(-1)) {
    const lead = shape.length - x.shape.length;
    shape = shape.map((s, i) => (s === -1 && i >= lead ? x.shape[i - lead] : s));
  }
  if (sameShape(x.shape, shape)) return x;
  const target = broadcastShapes('expand', x.shape, shape);
  if (!sameShape(target, shape)) {
    throw new Error(`expand: shape ${shapeStr(x.shape)} cannot be expanded to ${shapeStr(shape)}`);
  }
  const lead = shape.length - x.shape.length;
  const cur = shape.map((s, i) => (i < lead ? 1 : x.shape[i - lead]));
  let data = x.data;
  const k = kernels();
  for (let d = 0; d < shape.length; d++) {
    if (cur[d] === 1 && shape[d] !== 1) {
      // Repeating a size-1 axis n times is a gather with n zero indices.
      const [outer, , inner] = axisSplit(cur, d);
      const out = allocOut(data, outer * shape[d] * inner);
      k.gather(data, outer, 1, inner, new Int32Array(shape[d]), out);
      data = out;
      cur[d] = shape[d];
    }
  }
  return record(new Tensor(data, shape.slice()), expandOp, [x], null);
}

function expandBackward(g: Tensor, node: Node<null>): Grads {
  return [sumToShape(g, node.inputs[0].shape)];
}

const expandOp = defineOp<null>({ name: 'expand', kernels: ['gather'], arity: 1, rule: expandBackward });

/**
 * Sums g (of a broadcast shape) down to `shape`: the gradient of broadcasting. Returns g itself
 * when the shapes already agree, so the common case costs nothing.
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.shape.length - shape.length;
  if (lead < 0) throw new Error(`sumToShape: cannot sum shape ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
  const k = kernels();
  let data = floatData(g);
  const cur = g.shape.slice(lead);
  if (lead > 0) {
    let n = 1;
    for (let i = 0; i < lead; i++) n *= g.shape[i];
    const inner = numel(cur);
    const out = allocOut(data, inner);
    k.reduce(ReduceOp.sum, data, 1, n, inner, out);
    data = out;
  }
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === cur[d]) continue;
    if (shape[d] !== 1) throw new Error(`sumToShape: cannot sum shape ${shapeStr(g.shape)} to ${shapeStr(shape)}`);
    const [outer, n, inner] = axisSplit(cur, d);
    const out = allocOut(data, outer * inner);
    k.reduce(ReduceOp.sum, data, outer, n, inner, out);
    data = out;
    cur[d] = 1;
  }
  return record(new Tensor(data, shape.slice()), sumToShapeOp, [g], null);
}

function sumToShapeBackward(g: Tensor, node: Node<null>): Grads {
  return [expand(g, node.inputs[0].shape)];
}

const sumToShapeOp = defineOp<null>({ name: 'sumToShape', kernels: ['reduce'], arity: 1, rule: sumToShapeBackward });
