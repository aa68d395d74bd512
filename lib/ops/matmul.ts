// Matrix products: torch.matmul (1-D, 2-D, batched N-D with broadcast batch dims) and linear.
// Every product is a gemm with transpose flags; the backward rules are products with other flags,
// so no transposed copy is ever made.

import { kernels } from '../backend/index.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import {
  allocLike,
  allocOut,
  broadcastShapes,
  checkSameDtype,
  checkTensor,
  floatData,
  numel,
  record,
  shapeStr,
} from './util.js';
import { sumToShape } from './reduce.js';
import { outStorage, type OutOptions } from './out.js';
import type { FloatArray } from '../backend/types.js';

interface MmSaved {
  ta: boolean;
  tb: boolean;
}

/**
 * op(a) @ op(b) for 2-D a and b, op = transpose when the flag is set. The building block of
 * matmul and of every matmul gradient.
 */
export function mm(a: Tensor, b: Tensor, ta = false, tb = false, dst?: FloatArray): Tensor {
  const m = ta ? a.shape[1] : a.shape[0];
  const k = ta ? a.shape[0] : a.shape[1];
  const k2 = tb ? b.shape[1] : b.shape[0];
  const n = tb ? b.shape[0] : b.shape[1];
  if (k !== k2) {
    throw new Error(
      `matmul: shapes ${shapeStr(a.shape)}${ta ? 'ᵀ' : ''} and ${shapeStr(b.shape)}${tb ? 'ᵀ' : ''} cannot be multiplied (${k} vs ${k2})`,
    );
  }
  const out = new Tensor(dst ?? allocOut(floatData(a), m * n), [m, n]);
  // An empty product (k = 0) is zeros, as in torch; no gemm runs on a zero-size operand.
  if (m * n * k === 0) floatData(out).fill(0);
  else kernels().gemm(ta, tb, m, n, k, 1, floatData(a), floatData(b), 0, floatData(out));
  return record<MmSaved>(out, mmOp, [a, b], { ta, tb });
}

function mmBackward(g: Tensor, node: Node<MmSaved>): Grads {
  const a = node.inputs[0];
  const b = node.inputs[1];
  const { ta, tb } = node.saved;
  // C = op(A) op(B): dop(A) = G op(B)ᵀ, dop(B) = op(A)ᵀ G; a stored transposed takes the transpose.
  const ga = a.requiresGrad ? (ta ? mm(b, g, tb, true) : mm(g, b, false, !tb)) : null;
  const gb = b.requiresGrad ? (tb ? mm(g, a, true, ta) : mm(a, g, !ta, false)) : null;
  return [ga, gb];
}

const mmOp = defineOp<MmSaved>({ name: 'matmul', kernels: ['gemm'], arity: 2, rule: mmBackward });

/** Batched op(a) @ op(b) over broadcast batch dims; a and b have at least 2 dims. */
export function bmm(a: Tensor, b: Tensor, ta = false, tb = false, dst?: FloatArray): Tensor {
  const ra = a.shape.length,
    rb = b.shape.length;
  const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = ta ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = tb ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = tb ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) {
    throw new Error(
      `matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be multiplied (${k} vs ${k2})`,
    );
  }
  const batchA = a.shape.slice(0, ra - 2);
  const batchB = b.shape.slice(0, rb - 2);
  const batch = broadcastShapes('matmul', batchA, batchB);
  const nb = numel(batch);
  const out = new Tensor(dst ?? allocOut(floatData(a), nb * m * n), [...batch, m, n]);
  if (nb * m * n * k === 0) {
    // An empty product (k = 0) is zeros, as in torch; no gemm runs on a zero-size operand.
    floatData(out).fill(0);
    return record<MmSaved>(out, bmmOp, [a, b], { ta, tb });
  }
  const K = kernels();
  const na = numel(batchA),
    nbB = numel(batchB);
  const sa = m * k,
    sb = k * n,
    sc = m * n;
  if ((na === nb || na === 1) && (nbB === nb || nbB === 1)) {
    // Either operand is full-batch or a single matrix: one strided gemm (stride 0 broadcasts).
    K.gemm(
      ta,
      tb,
      m,
      n,
      k,
      1,
      floatData(a),
      floatData(b),
      0,
      floatData(out),
      nb,
      na === 1 ? 0 : sa,
      nbB === 1 ? 0 : sb,
      sc,
    );
  } else {
    // General broadcast of several batch dims: one gemm per output matrix.
    const nd = batch.length;
    const stridesA = broadcastStrides(batchA, nd);
    const stridesB = broadcastStrides(batchB, nd);
    const idx = new Array<number>(nd).fill(0);
    for (let i = 0; i < nb; i++) {
      let offA = 0,
        offB = 0;
      for (let d = 0; d < nd; d++) {
        offA += idx[d] * stridesA[d];
        offB += idx[d] * stridesB[d];
      }
      K.gemm(
        ta,
        tb,
        m,
        n,
        k,
        1,
        floatData(a),
        floatData(b),
        0,
        floatData(out),
        1,
        0,
        0,
        0,
        offA * sa,
        offB * sb,
        i * sc,
      );
      for (let d = nd - 1; d >= 0; d--) {
        if (++idx[d] < batch[d]) break;
        idx[d] = 0;
      }
    }
  }
  return record<MmSaved>(out, bmmOp, [a, b], { ta, tb });
}

/** Element strides (in matrices) of a batch shape right-aligned to nd dims; 0 where broadcast. */
function broadcastStrides(shape: readonly number[], nd: number): number[] {
  const strides = new Array<number>(nd).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = nd - shape.length + i;
    strides[d] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

function bmmBackward(g: Tensor, node: Node<MmSaved>): Grads {
  const a = node.inputs[0];
  const b = node.inputs[1];
  const { ta, tb } = node.saved;
  const ga = a.requiresGrad ? sumToShape(ta ? bmm(b, g, tb, true) : bmm(g, b, false, !tb), a.shape) : null;
  const gb = b.requiresGrad ? sumToShape(tb ? bmm(g, a, true, ta) : bmm(a, g, !ta, false), b.shape) : null;
  return [ga, gb];
}

const bmmOp = defineOp<MmSaved>({ name: 'bmm', kernels: ['gemm'], arity: 2, rule: bmmBackward });

/**
 * torch.matmul; `{ out }` writes the result into a tensor of its shape and dtype and returns it
 * (torch's out=; not under autograd).
 */
export function matmul(a: Tensor, b: Tensor, options: OutOptions = {}): Tensor {
  checkTensor('matmul', 'a', a);
  checkTensor('matmul', 'b', b);
  checkSameDtype('matmul', a, b);
  const out = options.out;
  if (out == null) return matmulInto(a, b);
  const target = outStorage('matmul', out, matmulShape(a, b), [a, b]);
  matmulInto(a, b, floatData(target));
  return target;
}

/** The shape of matmul(a, b) (the checks are matmulInto's). */
function matmulShape(a: Tensor, b: Tensor): number[] {
  const ra = a.shape.length,
    rb = b.shape.length;
  // Operands that cannot be multiplied: matmulInto throws the usual error.
  if (ra === 0 || rb === 0 || a.shape[ra - 1] !== (rb === 1 ? b.shape[0] : b.shape[rb - 2])) {
    return matmulInto(a, b).shape.slice();
  }
  const rows = ra === 1 ? [] : [a.shape[ra - 2]];
  const cols = rb === 1 ? [] : [b.shape[rb - 1]];
  const batch = broadcastShapes('matmul', a.shape.slice(0, Math.max(0, ra - 2)), b.shape.slice(0, Math.max(0, rb - 2)));
  return [...batch, ...rows, ...cols];
}

function matmulInto(a: Tensor, b: Tensor, dst?: FloatArray): Tensor {
  const ra = a.shape.length,
    rb = b.shape.length;
  if (ra === 0 || rb === 0) {
    throw new Error(
      `matmul: both arguments need at least 1 dimension, got shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)}`,
    );
  }
  if (ra === 1 && rb === 1) {
    if (a.shape[0] !== b.shape[0]) {
      throw new Error(`matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be multiplied`);
    }
    return mm(a.reshape([1, -1]), b.reshape([-1, 1]), false, false, dst).reshape([]);
  }
  if (ra <= 2 && rb <= 2) {
    const a2 = ra === 1 ? a.reshape([1, -1]) : a;
    const b2 = rb === 1 ? b.reshape([-1, 1]) : b;
    const c = mm(a2, b2, false, false, dst);
    if (ra === 1) return c.reshape([c.shape[1]]);
    if (rb === 1) return c.reshape([c.shape[0]]);
    return c;
  }
  if (rb <= 2) {
    // Fold a's batch dims into rows: one gemm, and the weight gradient is one gemm too.
    const k = a.shape[ra - 1];
    const b2 = rb === 1 ? b.reshape([-1, 1]) : b;
    if (b2.shape[0] !== k) {
      throw new Error(
        `matmul: shapes ${shapeStr(a.shape)} and ${shapeStr(b.shape)} cannot be multiplied (${k} vs ${b2.shape[0]})`,
      );
    }
    const c = mm(a.reshape([numel(a.shape.slice(0, ra - 1)), k]), b2, false, false, dst); // not [-1, k]: k may be 0
    const shape = a.shape.slice(0, ra - 1);
    if (rb === 2) shape.push(b.shape[1]);
    return c.reshape(shape);
  }
  const a2 = ra === 1 ? a.reshape([1, -1]) : a;
  const c = bmm(a2, b, false, false, dst);
  if (ra === 1) return c.squeeze(-2);
  return c;
}

// ---------------------------------------------------------------------------------------------
// linear

/**
 * x @ wᵀ + b (torch.nn.functional.linear): one gemm and one biasAdd. `{ out }` writes the result
 * into a tensor of its shape and dtype and returns it (not under autograd).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, options: OutOptions = {}): Tensor {
  checkTensor('linear', 'input', x);
  checkTensor('linear', 'weight', weight);
  checkSameDtype('linear', x, weight);
  if (weight.shape.length !== 2)
    throw new Error(`linear: weight must be 2-D [out, in], got shape ${shapeStr(weight.shape)}`);
  const [outF, inF] = weight.shape;
  const rx = x.shape.length;
  if (rx === 0 || x.shape[rx - 1] !== inF) {
    throw new Error(
      `linear: input shape ${shapeStr(x.shape)} does not match weight shape ${shapeStr(weight.shape)} (expected last dim ${inF})`,
    );
  }
  if (bias != null) {
    checkTensor('linear', 'bias', bias);
    checkSameDtype('linear', x, bias);
    if (bias.shape.length !== 1 || bias.shape[0] !== outF) {
      throw new Error(
        `linear: bias shape ${shapeStr(bias.shape)} does not match weight shape ${shapeStr(weight.shape)} (expected [${outF}])`,
      );
    }
  }
  const shape = x.shape.slice(0, rx - 1);
  shape.push(outF);
  let dst: Tensor | undefined;
  if (options.out != null)
    dst = outStorage('linear', options.out, shape, bias != null ? [x, weight, bias] : [x, weight]);
  const x2 = rx === 2 ? x : x.reshape([numel(x.shape.slice(0, rx - 1)), inF]); // not [-1, in]: in may be 0
  const y = linear2d(x2, weight, bias ?? null, dst === undefined ? undefined : floatData(dst));
  return dst ?? (rx === 2 ? y : y.reshape(shape));
}

function linear2d(x: Tensor, w: Tensor, b: Tensor | null, dst?: FloatArray): Tensor {
  const rows = x.shape[0];
  const [outF, inF] = w.shape;
  const out = dst ?? allocOut(floatData(x), rows * outF);
  const K = kernels();
  // in = 0: x @ wᵀ is zeros (torch), plus the bias; no gemm runs on a zero-size operand.
  if (rows * outF * inF === 0) out.fill(0, 0, rows * outF);
  else K.gemm(false, true, rows, outF, inF, 1, floatData(x), floatData(w), 0, out);
  if (b !== null && rows > 0) K.biasAdd(out, rows, outF, floatData(b), out);
  return record(new Tensor(out, [rows, outF]), linearOp, b === null ? [x, w] : [x, w, b], null);
}

/**
 * x, w and b's gradients; the bias gradient (column sums of g) is given by biasGrad. The input
 * gradient is g·wx: wx is w for backpropagation, a feedback matrix for the bio feedback modes.
 */
export function linearGrads(g: Tensor, inputs: readonly Tensor[], wx: Tensor, biasGrad: (g: Tensor) => Tensor): Grads {
  const x = inputs[0];
  const w = inputs[1];
  const b = inputs.length > 2 ? inputs[2] : null;
  const gx = x.requiresGrad ? mm(g, wx) : null;
  const gw = w.requiresGrad ? mm(g, x, true, false) : null;
  const gb = b !== null && b.requiresGrad ? biasGrad(g) : null;
  return b === null ? [gx, gw] : [gx, gw, gb];
}

const linearOp = defineOp<null>({
  name: 'linear',
  kernels: ['gemm', 'biasAdd'],
  arity: 'variadic', // x, w and an optional b
  rule: (g, node) => linearGrads(g, node.inputs, node.inputs[1], (gy) => gy.sum(0)),
  fused: (g, node) => linearGrads(g, node.inputs, node.inputs[1], biasGradFused),
  fusedKernels: ['biasGrad', 'gemm'],
});

/** The bias gradient through the fused biasGrad kernel (column sums of g). */
export function biasGradFused(g: Tensor): Tensor {
  const [rows, cols] = g.shape;
  if (rows === 0) return new Tensor(allocLike(floatData(g), cols), [cols]); // no rows: zeros
  const gb = allocOut(floatData(g), cols);
  kernels().biasGrad(floatData(g), rows, cols, gb);
  return new Tensor(gb, [cols]);
}
