// Elementwise selection and scans with torch's semantics: where, maskedFill, clamp, cumsum and
// logsumexp. Their forwards are single passes over the data (no kernel of their own: none of them
// is heavy next to the ops around it), and each backward is written in Tensor ops.

import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import { expand } from './reduce.js';
import {
  allocLike,
  allocOut,
  axisSplit,
  broadcastShapes,
  checkAnyTensor,
  checkSameDtype,
  checkTensor,
  floatData,
  normDim,
  record,
  shapeStr,
} from './util.js';

// ---------------------------------------------------------------------------------------------
// where / maskedFill

/** cond as 0/1 numbers broadcast to shape (a bool tensor is required, as torch). */
function condValues(op: string, cond: Tensor, shape: readonly number[]): ArrayLike<number> {
  checkAnyTensor(op, 'condition', cond);
  if (cond.dtype !== 'bool') {
    throw new TypeError(`${op}: condition must be a bool tensor, got dtype '${cond.dtype}'`);
  }
  return expand(cond.to('float64'), shape).data;
}

interface WhereSaved {
  cond: Tensor; // float64 0/1, of the output's shape: a constant
}

/** torch.where(cond, x, y): x where cond is true, else y; the three broadcast together. */
export function where(cond: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  const op = 'where';
  const like = x instanceof Tensor ? x : y;
  if (!(like instanceof Tensor)) throw new TypeError(`${op}: x or y must be a Tensor`);
  checkTensor(op, x instanceof Tensor ? 'x' : 'y', like);
  const tx = x instanceof Tensor ? x : scalarLike(x, like);
  const ty = y instanceof Tensor ? y : scalarLike(y, like);
  checkTensor(op, 'x', tx);
  checkTensor(op, 'y', ty);
  checkSameDtype(op, tx, ty);
  checkAnyTensor(op, 'condition', cond);
  const shape = broadcastShapes(op, broadcastShapes(op, tx.shape, ty.shape), cond.shape);
  const c = condValues(op, cond, shape);
  // The broadcasts of x and y record expand nodes, whose backward sums the gradient back.
  const xb = expand(tx, shape);
  const yb = expand(ty, shape);
  const out = new Tensor(allocOut(floatData(xb), c.length), shape);
  const o = floatData(out);
  for (let i = 0; i < o.length; i++) o[i] = c[i] !== 0 ? xb.data[i] : yb.data[i];
  const saved = new Tensor(Float64Array.from(c), shape);
  return record<WhereSaved>(out, whereOp, [xb, yb], { cond: saved });
}

/** A 0-d tensor of like's dtype holding v (torch wraps a Python number the same way). */
function scalarLike(v: number, like: Tensor): Tensor {
  if (typeof v !== 'number') throw new TypeError(`where: x and y must be Tensors or numbers, got ${String(v)}`);
  const d = allocLike(floatData(like), 1);
  d[0] = v;
  return new Tensor(d, []);
}

function whereBackward(g: Tensor, node: Node<WhereSaved>): Grads {
  const c = node.saved.cond.to('bool');
  const zero = 0;
  return [
    node.inputs[0].requiresGrad ? where(c, g, zero) : null,
    node.inputs[1].requiresGrad ? where(c, zero, g) : null,
  ];
}

const whereOp = defineOp<WhereSaved>({ name: 'where', kernels: [], arity: 2, rule: whereBackward });

/** Tensor.masked_fill: value where mask (bool, broadcast to x's shape) is true, else x. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  checkTensor('maskedFill', 'input', x);
  checkAnyTensor('maskedFill', 'mask', mask);
  if (typeof value !== 'number') throw new TypeError(`maskedFill: value must be a number, got ${String(value)}`);
  const shape = broadcastShapes('maskedFill', x.shape, mask.shape);
  if (shape.length !== x.shape.length || shape.some((s, i) => s !== x.shape[i])) {
    throw new Error(
      `maskedFill: mask shape ${shapeStr(mask.shape)} does not broadcast to input shape ${shapeStr(x.shape)}`,
    );
  }
  return where(mask, value, x);
}

// ---------------------------------------------------------------------------------------------
// clamp

interface ClampSaved {
  pass: Tensor; // 1 where min <= x <= max (torch's clamp gradient mask), else 0: a constant
}

/** torch.clamp(x, min, max): either bound may be null (not both). */
export function clamp(x: Tensor, min: number | null = null, max: number | null = null): Tensor {
  checkTensor('clamp', 'input', x);
  if (min === null && max === null) throw new Error('clamp: at least one of min and max must be given');
  for (const [n, v] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (v !== null && typeof v !== 'number')
      throw new TypeError(`clamp: ${n} must be a number or null, got ${String(v)}`);
  }
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  const out = new Tensor(allocOut(floatData(x), x.data.length), x.shape);
  const o = floatData(out);
  const pass = allocLike(floatData(x), x.data.length);
  for (let i = 0; i < o.length; i++) {
    const v = x.data[i];
    // torch: min(max(x, lo), hi), so hi wins when lo > hi; NaN stays NaN.
    o[i] = Number.isNaN(v) ? v : Math.min(Math.max(v, lo), hi);
    pass[i] = v >= lo && v <= hi ? 1 : 0;
  }
  return record<ClampSaved>(out, clampOp, [x], { pass: new Tensor(pass, x.shape) });
}

const clampOp = defineOp<ClampSaved>({
  name: 'clamp',
  kernels: [],
  arity: 1,
  rule: (g, node) => [g.mul(node.saved.pass)],
});

// ---------------------------------------------------------------------------------------------
// cumsum

interface CumsumSaved {
  dim: number;
  reverse: boolean;
}

/** torch.cumsum(x, dim): running sums along dim. */
export function cumsum(x: Tensor, dim: number): Tensor {
  checkTensor('cumsum', 'input', x);
  return scan(x, normDim('cumsum', dim, x.shape.length), false);
}

/** Running sums along d, from the end when reverse (the gradient of cumsum, and back). */
function scan(x: Tensor, d: number, reverse: boolean): Tensor {
  const [outer, n, inner] = axisSplit(x.shape, d);
  const src = x.data;
  const out = new Tensor(allocOut(floatData(x), src.length), x.shape);
  const o = floatData(out);
  for (let a = 0; a < outer; a++) {
    for (let b = 0; b < inner; b++) {
      let acc = 0;
      for (let k = 0; k < n; k++) {
        const i = (a * n + (reverse ? n - 1 - k : k)) * inner + b;
        acc += src[i];
        o[i] = acc; // a Float32Array rounds each partial sum, as torch's float32 loop
        acc = o[i];
      }
    }
  }
  return record<CumsumSaved>(out, cumsumOp, [x], { dim: d, reverse });
}

const cumsumOp = defineOp<CumsumSaved>({
  name: 'cumsum',
  kernels: [],
  arity: 1,
  rule: (g, node) => [scan(g, node.saved.dim, !node.saved.reverse)],
});

// ---------------------------------------------------------------------------------------------
// logsumexp

/**
 * torch.logsumexp(x, dim, keepdim): log(sum(exp(x))) shifted by the (detached) maximum, which
 * is 0 where that maximum is infinite (torch), so no inf - inf appears. Composed from Tensor ops:
 * the gradient is softmax's.
 */
export function logsumexp(x: Tensor, dim: number | readonly number[], keepdim = false): Tensor {
  checkTensor('logsumexp', 'input', x);
  const dims = (typeof dim === 'number' ? [dim] : [...dim]).map((d) => normDim('logsumexp', d, x.shape.length));
  if (x.data.length === 0) return x.exp().sum(dims, keepdim).log(); // log(0) = -inf, as torch
  const m = x.detach().amax(dims, true);
  const md = floatData(m);
  for (let i = 0; i < md.length; i++) if (!Number.isFinite(md[i])) md[i] = 0;
  const y = x.sub(m).exp().sum(dims, true).log().add(m);
  if (keepdim) return y;
  return y.reshape(x.shape.filter((_, i) => !dims.includes(i) && x.shape.length > 0));
}
