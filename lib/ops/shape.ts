// Shape ops. Storage is always contiguous row-major, so reshape/squeeze/unsqueeze/flatten are
// views sharing the input's array (no copy), while permute/transpose copy through the permute
// kernel and narrow/indexSelect through gather.

import { DTYPE_NAMES } from '../dtype.js';
import { kernels } from '../backend/index.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import {
  allocLike,
  allocOut,
  axisSplit,
  checkSameDtype,
  checkAnyTensor,
  checkTensor,
  floatData,
  isArray,
  normDim,
  numel,
  record,
  sameShape,
  shapeStr,
  toIndexArray,
  type Indices,
} from './util.js';

// ---------------------------------------------------------------------------------------------
// Views

/** Resolves one -1 and checks the element count. */
export function inferShape(op: string, shape: readonly number[], size: number, from: readonly number[]): number[] {
  const out = shape.slice();
  let infer = -1;
  let known = 1;
  for (let i = 0; i < out.length; i++) {
    const s = out[i];
    if (s === -1) {
      if (infer >= 0) throw new Error(`${op}: only one dimension can be -1, got ${shapeStr(shape)}`);
      infer = i;
    } else if (!Number.isInteger(s) || s < 0) {
      throw new RangeError(`${op}: invalid size ${s} in shape ${shapeStr(shape)}`);
    } else {
      known *= s;
    }
  }
  if (infer >= 0) {
    if (known === 0 || size % known !== 0) {
      throw new Error(
        `${op}: shape ${shapeStr(shape)} is invalid for input of shape ${shapeStr(from)} (${size} elements)`,
      );
    }
    out[infer] = size / known;
  } else if (known !== size) {
    throw new Error(
      `${op}: shape ${shapeStr(shape)} is invalid for input of shape ${shapeStr(from)} (${size} elements)`,
    );
  }
  return out;
}

/** A view of x with another shape (same storage). */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(shape, x.shape)) return x;
  return record(new Tensor(x.data, shape, false, x.dtype), viewOp, [x], null);
}

function viewBackward(g: Tensor, node: Node<null>): Grads {
  return [g.reshape(node.inputs[0].shape)];
}

/**
 * Every reshape-like op (reshape, view, flatten, squeeze, unsqueeze): a view of the same storage,
 * so any dtype (bool masks, raw 16-bit bits) passes.
 */
const viewOp = defineOp<null>({ name: 'reshape', kernels: [], arity: 1, dtypes: DTYPE_NAMES, rule: viewBackward });

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkAnyTensor('reshape', 'input', x);
  return view(x, inferShape('reshape', shape, x.data.length, x.shape));
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  const nd = x.shape.length;
  if (nd === 0) return view(x, [1]);
  const s = normDim('flatten', startDim, nd);
  const e = normDim('flatten', endDim, nd);
  if (s > e) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
  const shape = x.shape.slice(0, s);
  let m = 1;
  for (let i = s; i <= e; i++) m *= x.shape[i];
  shape.push(m, ...x.shape.slice(e + 1));
  return view(x, shape);
}

export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined)
    return view(
      x,
      x.shape.filter((s) => s !== 1),
    );
  const d = normDim('squeeze', dim, x.shape.length);
  if (x.shape.length === 0 || x.shape[d] !== 1) return x;
  const shape = x.shape.slice();
  shape.splice(d, 1);
  return view(x, shape);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim('unsqueeze', dim, x.shape.length + 1);
  const shape = x.shape.slice();
  shape.splice(d, 0, 1);
  return view(x, shape);
}

// ---------------------------------------------------------------------------------------------
// Permutations (copies)

export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', 'input', x);
  const nd = x.shape.length;
  if (dims.length !== nd) {
    throw new Error(`permute: got ${dims.length} dims ${shapeStr(dims)} for a tensor of shape ${shapeStr(x.shape)}`);
  }
  const perm = dims.map((d) => normDim('permute', d, nd));
  const seen = new Set(perm);
  if (seen.size !== nd) throw new Error(`permute: dims ${shapeStr(dims)} repeat a dimension`);
  let identity = true;
  for (let i = 0; i < nd; i++) if (perm[i] !== i) identity = false;
  if (identity) return x;
  const shape = perm.map((p) => x.shape[p]);
  const out = new Tensor(allocOut(x.data, x.data.length), shape);
  kernels().permute(x.data, x.shape, perm, floatData(out));
  return record<number[]>(out, permuteOp, [x], perm);
}

function permuteBackward(g: Tensor, node: Node<number[]>): Grads {
  const perm = node.saved;
  const inv = new Array<number>(perm.length);
  for (let i = 0; i < perm.length; i++) inv[perm[i]] = i;
  return [permute(g, inv)];
}

const permuteOp = defineOp<number[]>({ name: 'permute', kernels: ['permute'], arity: 1, rule: permuteBackward });

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const nd = x.shape.length;
  const a = normDim('transpose', dim0, nd);
  const b = normDim('transpose', dim1, nd);
  if (a === b) return x;
  const perm = [];
  for (let i = 0; i < nd; i++) perm.push(i === a ? b : i === b ? a : i);
  return permute(x, perm);
}

// ---------------------------------------------------------------------------------------------
// Selection along one dim (gather) and its gradient (scatter-add)

interface SelectSaved {
  dim: number;
  indices: Int32Array;
}

export function indexSelect(x: Tensor, dim: number, indices: Indices): Tensor {
  checkTensor('indexSelect', 'input', x);
  const d = normDim('indexSelect', dim, x.shape.length);
  const [outer, n, inner] = axisSplit(x.shape, d);
  // As torch's index_select: the index is a vector (or a scalar), not a matrix.
  if (indices instanceof Tensor && indices.ndim > 1)
    throw new RangeError(`indexSelect: index must be 1-D, got shape ${shapeStr(indices.shape)}`);
  const idx = toIndexArray('indexSelect', indices, n);
  if (x.shape.length === 0 && idx.length !== 1) {
    throw new RangeError(`indexSelect: a 0-d input takes exactly one index, got ${idx.length}`);
  }
  return gatherOp('indexSelect', x, d, outer, n, inner, idx);
}

function gatherOp(
  name: string,
  x: Tensor,
  d: number,
  outer: number,
  n: number,
  inner: number,
  idx: Int32Array,
): Tensor {
  // A 0-d input keeps shape [] (torch; its index holds one element, checked by the caller).
  const shape = x.shape.slice();
  if (shape.length > 0) shape[d] = idx.length;
  const out = new Tensor(allocOut(floatData(x), outer * idx.length * inner), shape);
  kernels().gather(floatData(x), outer, n, inner, idx, floatData(out));
  return record<SelectSaved>(out, indexSelectOp, [x], { dim: d, indices: idx });
}

function gatherBackward(g: Tensor, node: Node<SelectSaved>): Grads {
  return [indexAdd(g, node.saved.dim, node.saved.indices, node.inputs[0].shape)];
}

const indexSelectOp = defineOp<SelectSaved>({
  name: 'indexSelect',
  kernels: ['gather'],
  arity: 1,
  rule: gatherBackward,
});

/** zeros(shape) with g's slices added at `indices` along dim (repeats add up). */
export function indexAdd(g: Tensor, dim: number, indices: Int32Array, shape: readonly number[]): Tensor {
  const [outer, n, inner] = axisSplit(shape, dim);
  const out = new Tensor(allocLike(floatData(g), numel(shape)), shape.slice());
  kernels().scatterAdd(floatData(g), outer, n, inner, indices, floatData(out));
  return record<SelectSaved>(out, indexAddOp, [g], { dim, indices });
}

function indexAddBackward(g: Tensor, node: Node<SelectSaved>): Grads {
  const { dim, indices } = node.saved;
  const [outer, n, inner] = axisSplit(g.shape, dim);
  return [gatherOp('indexSelect', g, dim, outer, n, inner, indices)];
}

const indexAddOp = defineOp<SelectSaved>({
  name: 'indexAdd',
  kernels: ['scatterAdd'],
  arity: 1,
  rule: indexAddBackward,
});

export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  checkTensor('narrow', 'input', x);
  const d = normDim('narrow', dim, x.shape.length);
  const size = x.shape[d];
  if (start < 0) start += size;
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > size) {
    throw new RangeError(
      `narrow: start ${start} and length ${length} do not fit dim ${d} of size ${size} (shape ${shapeStr(x.shape)})`,
    );
  }
  if (start === 0 && length === size) return x;
  const [outer, n, inner] = axisSplit(x.shape, d);
  const idx = new Int32Array(length);
  for (let i = 0; i < length; i++) idx[i] = start + i;
  return gatherOp('narrow', x, d, outer, n, inner, idx);
}

// ---------------------------------------------------------------------------------------------
// cat / stack

interface CatSaved {
  dim: number;
  sizes: number[];
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!isArray(tensors) || tensors.length === 0) throw new Error('cat: expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('cat', `tensors[${i}]`, t));
  const first = tensors[0];
  const nd = first.shape.length;
  if (nd === 0) throw new Error('cat: zero-dimensional tensors cannot be concatenated; use stack');
  const d = normDim('cat', dim, nd);
  let total = 0;
  for (const t of tensors) {
    checkSameDtype('cat', first, t);
    let ok = t.shape.length === nd;
    for (let i = 0; ok && i < nd; i++) if (i !== d && t.shape[i] !== first.shape[i]) ok = false;
    if (!ok) {
      throw new Error(`cat: shapes ${shapeStr(first.shape)} and ${shapeStr(t.shape)} differ outside dim ${d}`);
    }
    total += t.shape[d];
  }
  const shape = first.shape.slice();
  shape[d] = total;
  const [outer, , inner] = axisSplit(shape, d);
  const out = allocOut(floatData(first), numel(shape));
  // Row blocks are contiguous: one typed-array copy (memcpy) per input per outer index.
  const rowOut = total * inner;
  let offset = 0;
  const sizes: number[] = [];
  for (const t of tensors) {
    const block = t.shape[d] * inner;
    const src = t.data;
    if (outer === 1) out.set(src, offset);
    else for (let o = 0; o < outer; o++) out.set(src.subarray(o * block, (o + 1) * block), o * rowOut + offset);
    offset += block;
    sizes.push(t.shape[d]);
  }
  return record<CatSaved>(new Tensor(out, shape), catOp, tensors.slice(), { dim: d, sizes });
}

function catBackward(g: Tensor, node: Node<CatSaved>): Grads {
  const { dim, sizes } = node.saved;
  const grads: Grads = [];
  let start = 0;
  for (let i = 0; i < sizes.length; i++) {
    grads.push(node.inputs[i].requiresGrad ? narrow(g, dim, start, sizes[i]) : null);
    start += sizes[i];
  }
  return grads;
}

const catOp = defineOp<CatSaved>({ name: 'cat', kernels: [], arity: 'variadic', rule: catBackward });

export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (!isArray(tensors) || tensors.length === 0) throw new Error('stack: expected a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor('stack', `tensors[${i}]`, t));
  const first = tensors[0];
  for (const t of tensors) {
    if (!sameShape(t.shape, first.shape)) {
      throw new Error(
        `stack: all tensors must have the same shape, got ${shapeStr(first.shape)} and ${shapeStr(t.shape)}`,
      );
    }
  }
  const d = normDim('stack', dim, first.shape.length + 1);
  return cat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  );
}
