// Scaled-dot-product attention (torch 2's F.scaled_dot_product_attention) as one op.
//
// Forward: the fused kernel attentionForward (native: tiled, online softmax, FlashAttention's
// scheme; js: row by row), which never forms the Lq×Lk matrix; it keeps only the output and one
// log-sum-exp per query row for the backward.
// Backward, fast path (no graph being created): attentionBackward, which recomputes the
// probabilities tile by tile from the saved log-sum-exp.
// Backward, definition (createGraph): `attentionRule`, the composed formula (matmul, softmax,
// matmul) written in Tensor ops, so double backward works; test/attention.test.ts checks that
// both agree.
// Dropout on the attention weights runs inside the kernels: a seed drawn from the global
// generator (manualSeed) picks the mask through a position hash, which the backward regenerates.
// A float mask that requires a gradient takes the composed path (matmul / softmax / dropout /
// matmul) instead, whose dropout draws its mask from the global generator element by element.

import { kernels } from '../backend/index.js';
import { attentionDropoutHash } from '../backend/js-attention.js';
import { nextUint32 } from '../random.js';
import type { FloatArray } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import {
  allocLike,
  allocOut,
  checkTensor,
  floatData,
  isArray,
  numel,
  record,
  sameShape,
  shapeStr,
  willRecord,
} from './util.js';
import { matmul } from './matmul.js';
import { dropout, softmax } from './activation.js';
import { expand } from './reduce.js';
import { transpose } from './shape.js';

/** Nested JS booleans, `[[true, false], [true, true]]`: the same as a bool tensor of them. */
export type BoolArray = readonly (boolean | BoolArray)[];

/**
 * An attention mask: a float tensor added to the scores, or a bool tensor (or nested booleans)
 * with torch's polarity for the argument it is passed as (F.scaledDotProductAttention's attnMask:
 * true = may attend; keyPaddingMask: true = padding; MultiheadAttention's attnMask: true = hidden).
 */
export type AttentionMask = Tensor | BoolArray;

export interface ScaledDotProductAttentionOptions {
  /** Broadcastable to [..., Lq, Lk]: a float mask added to the scores, or booleans (true = may attend). */
  attnMask?: AttentionMask | null;
  /**
   * Probability of zeroing an attention weight (applied whenever > 0, as torch's); the mask comes
   * from a seed drawn from the global generator (manualSeed).
   */
  dropoutP?: number;
  /** Hide key j from query i when j > i (top-left aligned, as torch's). */
  isCausal?: boolean;
  /** Multiplies q kᵀ; default 1 / sqrt(E). */
  scale?: number;
}

// ---------------------------------------------------------------------------------------------
// Masks

function boolShape(op: string, name: string, v: BoolArray): number[] {
  const shape: number[] = [];
  let cur: BoolArray | boolean = v;
  while (isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  if (typeof cur !== 'boolean' && numel(shape) !== 0) {
    throw new TypeError(`${op}: ${name} must be a float tensor or nested arrays of booleans`);
  }
  return shape;
}

/**
 * The additive form (0 where a key may be attended, -inf where not) of booleans in which `true`
 * means `trueMeans`. The one place a bool mask becomes the kernel's form, so that a bool tensor
 * type slots in here.
 */
export function boolMaskToAdditive(
  op: string,
  name: string,
  values: ArrayLike<boolean | number>,
  shape: readonly number[],
  trueMeans: 'attend' | 'ignore',
  like: Tensor,
): Tensor {
  const out = allocLike(floatData(like), values.length);
  const hideWhen = trueMeans === 'ignore';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'boolean' && v !== 0 && v !== 1) {
      throw new TypeError(`${op}: ${name} must hold booleans, got ${String(v)} at flat index ${i}`);
    }
    out[i] = Boolean(v) === hideWhen ? -Infinity : 0;
  }
  return new Tensor(out, shape);
}

/** A mask as a float tensor of `like`'s dtype to add to the scores (null: no mask). */
export function additiveMask(
  op: string,
  name: string,
  mask: AttentionMask | null | undefined,
  trueMeans: 'attend' | 'ignore',
  like: Tensor,
): Tensor | null {
  if (mask === null || mask === undefined) return null;
  if (mask instanceof Tensor) {
    if (mask.dtype === 'bool') return boolMaskToAdditive(op, name, mask.data, mask.shape, trueMeans, like);
    if (mask.dtype !== like.dtype) {
      throw new TypeError(
        `${op}: ${name} is ${mask.dtype} but the query is ${like.dtype}; convert one with .to(dtype)`,
      );
    }
    return mask;
  }
  if (!isArray(mask)) throw new TypeError(`${op}: ${name} must be a float tensor or nested arrays of booleans`);
  const shape = boolShape(op, name, mask);
  const flat = (mask as readonly unknown[]).flat(Infinity) as boolean[];
  if (flat.length !== numel(shape)) throw new Error(`${op}: ${name} is a ragged nested array`);
  return boolMaskToAdditive(op, name, flat, shape, trueMeans, like);
}

/** [Lq, Lk]: 0 on and below the diagonal, -inf above it (torch's tril(ones) polarity). */
export function causalMask(lq: number, lk: number, like: Tensor): Tensor {
  const m = allocLike(floatData(like), lq * lk);
  for (let i = 0; i < lq; i++) for (let j = i + 1; j < lk; j++) m[i * lk + j] = -Infinity;
  return new Tensor(m, [lq, lk]);
}

// ---------------------------------------------------------------------------------------------
// The op

interface AttentionSaved {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  D: number;
  Dv: number;
  /** The additive mask as given (broadcastable to the scores), for the rule; null without one. */
  mask: Tensor | null;
  /** Its data as the kernel reads it (possibly expanded) and its strides. */
  maskData: FloatArray | null;
  strides: [number, number, number];
  causal: boolean;
  scale: number;
  dropoutP: number;
  seed: number;
  out: FloatArray;
  lse: FloatArray;
}

/**
 * The kernel's view of a mask broadcastable to [...lead, Lq, Lk]: data with strides per batch
 * (the leading dims but the last), head (the last leading dim) and query row. A mask whose
 * broadcast does not fit that view, or that broadcasts along the keys, is expanded first.
 */
function kernelMask(
  mask: Tensor,
  lead: readonly number[],
  lq: number,
  lk: number,
): [FloatArray, [number, number, number]] {
  const full = [...lead, lq, lk];
  const nd = full.length;
  if (mask.shape.length > nd) throw new Error('unreachable: mask rank checked by the caller');
  const ms = [...new Array<number>(nd - mask.shape.length).fill(1), ...mask.shape];
  const batchDims = ms.slice(0, Math.max(0, nd - 3));
  const batchFull = batchDims.every((s, i) => s === full[i]);
  const batchOne = batchDims.every((s) => s === 1);
  if (ms[nd - 1] !== lk || !(batchFull || batchOne)) {
    const e = expand(mask, full);
    return kernelMask(e, lead, lq, lk);
  }
  const mq = ms[nd - 2];
  const mh = nd >= 3 ? ms[nd - 3] : 1;
  const maskI = mq === 1 ? 0 : lk;
  const maskH = mh === 1 ? 0 : mq * lk;
  const maskB = batchOne ? 0 : mh * mq * lk;
  return [floatData(mask), [maskB, maskH, maskI]];
}

function attentionFused(g: Tensor, node: Node<AttentionSaved>): Grads {
  const [q, k, v] = node.inputs;
  const s = node.saved;
  const [qd, kd, vd] = [floatData(q), floatData(k), floatData(v)];
  const gq = allocOut(qd, qd.length);
  const gk = allocOut(kd, kd.length);
  const gv = allocOut(vd, vd.length);
  kernels().attentionBackward(
    s.B,
    s.H,
    s.Lq,
    s.Lk,
    s.D,
    s.Dv,
    qd,
    kd,
    vd,
    s.maskData,
    ...s.strides,
    s.causal,
    s.scale,
    s.dropoutP,
    s.seed,
    s.out,
    s.lse,
    floatData(g),
    gq,
    gk,
    gv,
  );
  return [new Tensor(gq, q.shape), new Tensor(gk, k.shape), new Tensor(gv, v.shape)];
}

/** The scores scale * q kᵀ (+ causal cut) (+ mask), in Tensor ops. */
function composedScores(q: Tensor, k: Tensor, mask: Tensor | null, causal: boolean, scale: number): Tensor {
  let s = matmul(q, transpose(k, -2, -1)).mul(scale);
  if (causal) s = s.add(causalMask(q.shape[q.shape.length - 2], k.shape[k.shape.length - 2], q));
  if (mask !== null) s = s.add(mask);
  return s;
}

/** The kernels' dropout multipliers (1/(1-p) or 0) as a [..., Lq, Lk] tensor. */
function dropoutMultipliers(s: AttentionSaved, lead: readonly number[], like: Tensor): Tensor {
  const m = allocLike(floatData(like), s.B * s.H * s.Lq * s.Lk);
  const threshold = s.dropoutP * 4294967296;
  const keep = 1 / (1 - s.dropoutP);
  for (let row = 0; row < s.B * s.H * s.Lq; row++) {
    for (let j = 0; j < s.Lk; j++) {
      m[row * s.Lk + j] = attentionDropoutHash(s.seed, row >>> 0, j) >= threshold ? keep : 0;
    }
  }
  return new Tensor(m, [...lead, s.Lq, s.Lk]);
}

/** The gradients of dropout(softmax(scores)) v in Tensor ops: the definition of the backward. */
function attentionRule(g: Tensor, node: Node<AttentionSaved>): Grads {
  const [q, k, v] = node.inputs;
  const { mask, causal, scale, dropoutP } = node.saved;
  const p = softmax(composedScores(q, k, mask, causal, scale), -1);
  const drop = dropoutP > 0 ? dropoutMultipliers(node.saved, q.shape.slice(0, -2), q) : null;
  const gv = matmul(transpose(drop === null ? p : p.mul(drop), -2, -1), g);
  let gp = matmul(g, transpose(v, -2, -1));
  if (drop !== null) gp = gp.mul(drop);
  const gs = p.mul(gp.sub(gp.mul(p).sum(-1, true))).mul(scale);
  const gq = matmul(gs, k);
  const gk = matmul(transpose(gs, -2, -1), q);
  return [gq, gk, gv];
}

const attentionOp = defineOp<AttentionSaved>({
  name: 'scaledDotProductAttention',
  kernels: ['attentionForward'],
  arity: 3,
  rule: attentionRule,
  fused: attentionFused,
  fusedKernels: ['attentionBackward'],
});

/** softmax(scale * q kᵀ + mask) v in Tensor ops, with dropout on the weights. */
function composedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  causal: boolean,
  scale: number,
  dropoutP: number,
): Tensor {
  let p = softmax(composedScores(q, k, mask, causal, scale), -1);
  if (dropoutP > 0) p = dropout(p, dropoutP, true);
  return matmul(p, v);
}

/**
 * torch 2's F.scaled_dot_product_attention: softmax(q kᵀ * scale + mask) v over the last two
 * dims. q [..., Lq, E], k [..., Lk, E], v [..., Lk, Ev] with the same leading dims; returns
 * [..., Lq, Ev]. A bool attnMask (nested booleans) marks with true the keys that may be attended;
 * a float one is added to the scores. A query row that sees no key gives NaN, as in torch.
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  opts: ScaledDotProductAttentionOptions = {},
): Tensor {
  const op = 'scaledDotProductAttention';
  checkTensor(op, 'query', query);
  checkTensor(op, 'key', key);
  checkTensor(op, 'value', value);
  const { dropoutP = 0, isCausal = false } = opts;
  for (const [n, t] of [
    ['key', key],
    ['value', value],
  ] as const) {
    if (t.dtype !== query.dtype) {
      throw new TypeError(`${op}: ${n} is ${t.dtype} but query is ${query.dtype}; convert one with .to(dtype)`);
    }
  }
  const nd = query.shape.length;
  if (nd < 2 || key.shape.length !== nd || value.shape.length !== nd) {
    throw new Error(
      `${op}: query, key and value need the same rank (at least 2), got shapes ${shapeStr(query.shape)}, ${shapeStr(key.shape)} and ${shapeStr(value.shape)}`,
    );
  }
  const lead = query.shape.slice(0, nd - 2);
  const [Lq, D] = query.shape.slice(nd - 2);
  const [Lk, Dk] = key.shape.slice(nd - 2);
  const [Lv, Dv] = value.shape.slice(nd - 2);
  if (!sameShape(key.shape.slice(0, nd - 2), lead) || Dk !== D) {
    throw new Error(`${op}: key has shape ${shapeStr(key.shape)}, which does not fit query's ${shapeStr(query.shape)}`);
  }
  if (!sameShape(value.shape.slice(0, nd - 2), lead) || Lv !== Lk) {
    throw new Error(`${op}: value has shape ${shapeStr(value.shape)}, which does not fit key's ${shapeStr(key.shape)}`);
  }
  if (Lk === 0 || D === 0 || Dv === 0) {
    throw new Error(`${op}: empty key length or width: query ${shapeStr(query.shape)}, key ${shapeStr(key.shape)}`);
  }
  if (typeof dropoutP !== 'number' || !(dropoutP >= 0 && dropoutP <= 1)) {
    throw new RangeError(`${op}: dropoutP must be in [0, 1], got ${String(dropoutP)}`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const mask = additiveMask(op, 'attnMask', opts.attnMask, 'attend', query);
  if (mask !== null) {
    const target = [...lead, Lq, Lk];
    const ms = mask.shape;
    const fits =
      ms.length <= target.length && ms.every((s, i) => s === 1 || s === target[target.length - ms.length + i]);
    if (!fits) {
      throw new Error(
        `${op}: attnMask has shape ${shapeStr(ms)}, which does not broadcast to the scores ${shapeStr(target)}`,
      );
    }
  }
  if (mask !== null && mask.requiresGrad) {
    return composedAttention(query, key, value, mask, isCausal, scale, dropoutP);
  }

  const H = nd >= 3 ? lead[lead.length - 1] : 1;
  const B = nd >= 3 ? numel(lead.slice(0, -1)) : 1;
  let maskData: FloatArray | null = null;
  let strides: [number, number, number] = [0, 0, 0];
  if (mask !== null) [maskData, strides] = kernelMask(mask, lead, Lq, Lk);
  const out = allocOut(query.data, numel(lead) * Lq * Dv);
  const lse = allocOut(query.data, numel(lead) * Lq);
  const seed = dropoutP > 0 ? nextUint32() : 0;
  kernels().attentionForward(
    B,
    H,
    Lq,
    Lk,
    D,
    Dv,
    query.data,
    key.data,
    value.data,
    maskData,
    ...strides,
    isCausal,
    scale,
    dropoutP,
    seed,
    out,
    lse,
  );
  const result = new Tensor(out, [...lead, Lq, Dv]);
  const inputs = [query, key, value];
  if (!willRecord(inputs)) return result;
  return record<AttentionSaved>(result, attentionOp, inputs, {
    B,
    H,
    Lq,
    Lk,
    D,
    Dv,
    mask,
    maskData,
    strides,
    causal: isCausal,
    scale,
    dropoutP,
    seed,
    out,
    lse,
  });
}
