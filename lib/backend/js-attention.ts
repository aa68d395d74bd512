// The js backend's attention kernels (assembled into jsBackend in js.ts): scaled-dot-product
// attention forward and backward (dropout from a position hash included), one query row at a
// time in plain loops. A row's scores are
// computed, used and dropped, so memory stays linear in the sequence length as in the native
// tiled kernels (native/attention.cc), which are tested against these.

import type { Backend, FloatArray } from './types.js';
import {
  checkAtLeast,
  checkBoolean,
  checkedProduct,
  checkFloatArray,
  checkLike,
  checkNumber,
  checkOptional,
  checkSize,
} from './js-checks.js';

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The dropout hash of the attention kernels (native/attention.h computes the same): weight
 * (row = bh*Lq + i, col = j) is dropped when this is below p * 2^32. All arithmetic mod 2^32.
 */
export function attentionDropoutHash(seed: number, row: number, col: number): number {
  return fmix32((fmix32((seed ^ row) >>> 0) + Math.imul(col, 0x9e3779b9)) >>> 0);
}

interface Problem {
  B: number;
  H: number;
  Lq: number;
  Lk: number;
  D: number;
  Dv: number;
  mask: FloatArray | null;
  maskB: number;
  maskH: number;
  maskI: number;
  causal: boolean;
  scale: number;
  dropoutP: number;
  seed: number;
}

/** The dropout multiplier of weight (bh, i, j): 1 / (1 - p) when kept, else 0 (1 without dropout). */
function dropMult(p: Problem, bh: number, i: number, j: number): number {
  if (p.dropoutP === 0) return 1;
  const h = attentionDropoutHash(p.seed, (bh * p.Lq + i) >>> 0, j);
  return h >= p.dropoutP * 4294967296 ? 1 / (1 - p.dropoutP) : 0;
}

/** Checks the arguments both kernels share (in the native binding's order). */
function checkProblem(
  op: string,
  sizes: readonly unknown[],
  q: unknown,
  k: unknown,
  v: unknown,
  mask: unknown,
  strides: readonly unknown[],
  causal: unknown,
  scale: unknown,
  dropoutP: unknown,
  seed: unknown,
): Problem & { q: FloatArray; k: FloatArray; v: FloatArray; qn: number; kn: number; vn: number; on: number } {
  const names = ['batch', 'heads', 'lq', 'lk', 'd', 'dv'];
  sizes.forEach((s, i) => checkSize(op, names[i], s, i >= 3 ? 1 : 0));
  const [B, H, Lq, Lk, D, Dv] = sizes as number[];
  const qn = checkedProduct(op, 'q', [B, H, Lq, D]);
  const kn = checkedProduct(op, 'k', [B, H, Lk, D]);
  const vn = checkedProduct(op, 'v', [B, H, Lk, Dv]);
  const on = checkedProduct(op, 'out', [B, H, Lq, Dv]);
  checkFloatArray(op, 'q', q);
  checkAtLeast(op, 'q', q, qn);
  checkLike(op, 'k', k, q);
  checkAtLeast(op, 'k', k, kn);
  checkLike(op, 'v', v, q);
  checkAtLeast(op, 'v', v, vn);
  const sNames = ['maskStrideB', 'maskStrideH', 'maskStrideI'];
  strides.forEach((s, i) => checkSize(op, sNames[i], s));
  const [maskB, maskH, maskI] = strides as number[];
  const last = B * H * Lq === 0 ? 0 : (B - 1) * maskB + (H - 1) * maskH + (Lq - 1) * maskI + Lk;
  const m = checkOptional(op, 'mask', mask, q, last);
  checkBoolean(op, 'causal', causal);
  checkNumber(op, 'scale', scale);
  checkNumber(op, 'dropoutP', dropoutP);
  if (!(dropoutP >= 0 && dropoutP <= 1)) throw new RangeError(`${op}: dropoutP must be in [0, 1], got ${dropoutP}`);
  checkNumber(op, 'seed', seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 4294967295)
    throw new RangeError(`${op}: seed must be an integer in [0, 2^32), got ${seed}`);
  return { B, H, Lq, Lk, D, Dv, mask: m, maskB, maskH, maskI, causal, scale, dropoutP, seed, q, k, v, qn, kn, vn, on };
}

/** Row i's masked scores of problem bh into p; returns their maximum. */
function scoreRow(p: Problem, q: FloatArray, k: FloatArray, bh: number, i: number, row: Float64Array): number {
  const { H, Lq, Lk, D, mask, causal, scale } = p;
  const qo = (bh * Lq + i) * D;
  const mo = mask === null ? 0 : Math.floor(bh / H) * p.maskB + (bh % H) * p.maskH + i * p.maskI;
  let mx = -Infinity;
  for (let j = 0; j < Lk; j++) {
    let s = -Infinity;
    if (!causal || j <= i) {
      const ko = (bh * Lk + j) * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
      s = scale * dot + (mask === null ? 0 : mask[mo + j]);
    }
    row[j] = s;
    if (s > mx) mx = s;
  }
  return mx;
}

function attentionForward(
  batch: number,
  heads: number,
  lq: number,
  lk: number,
  d: number,
  dv: number,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  mask: FloatArray | null,
  maskB: number,
  maskH: number,
  maskI: number,
  causal: boolean,
  scale: number,
  dropoutP: number,
  seed: number,
  out: FloatArray,
  lse: FloatArray,
): void {
  const op = 'attentionForward';
  const p = checkProblem(
    op,
    [batch, heads, lq, lk, d, dv],
    q,
    k,
    v,
    mask,
    [maskB, maskH, maskI],
    causal,
    scale,
    dropoutP,
    seed,
  );
  checkLike(op, 'out', out, p.q);
  checkAtLeast(op, 'out', out, p.on);
  checkLike(op, 'lse', lse, p.q);
  checkAtLeast(op, 'lse', lse, batch * heads * lq);
  const { Lq, Lk, Dv } = p;
  const row = new Float64Array(Lk);
  const acc = new Float64Array(Dv);
  for (let bh = 0; bh < p.B * p.H; bh++) {
    for (let i = 0; i < Lq; i++) {
      const m = scoreRow(p, p.q, p.k, bh, i, row);
      const oo = (bh * Lq + i) * Dv;
      if (m === -Infinity) {
        // No visible key: torch's softmax over -inf gives NaN.
        for (let c = 0; c < Dv; c++) out[oo + c] = NaN;
        lse[bh * Lq + i] = -Infinity;
        continue;
      }
      acc.fill(0);
      let l = 0;
      for (let j = 0; j < Lk; j++) {
        const e = Math.exp(row[j] - m);
        if (e === 0) continue;
        l += e;
        const w = e * dropMult(p, bh, i, j);
        const vo = (bh * Lk + j) * Dv;
        for (let c = 0; c < Dv; c++) acc[c] += w * p.v[vo + c];
      }
      for (let c = 0; c < Dv; c++) out[oo + c] = acc[c] / l;
      lse[bh * Lq + i] = m + Math.log(l);
    }
  }
}

function attentionBackward(
  batch: number,
  heads: number,
  lq: number,
  lk: number,
  d: number,
  dv: number,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  mask: FloatArray | null,
  maskB: number,
  maskH: number,
  maskI: number,
  causal: boolean,
  scale: number,
  dropoutP: number,
  seed: number,
  out: FloatArray,
  lse: FloatArray,
  gOut: FloatArray,
  gq: FloatArray,
  gk: FloatArray,
  gv: FloatArray,
): void {
  const op = 'attentionBackward';
  const p = checkProblem(
    op,
    [batch, heads, lq, lk, d, dv],
    q,
    k,
    v,
    mask,
    [maskB, maskH, maskI],
    causal,
    scale,
    dropoutP,
    seed,
  );
  const arrays: [string, unknown, number][] = [
    ['out', out, p.on],
    ['lse', lse, batch * heads * lq],
    ['gOut', gOut, p.on],
    ['gq', gq, p.qn],
    ['gk', gk, p.kn],
    ['gv', gv, p.vn],
  ];
  for (const [name, a, need] of arrays) {
    checkLike(op, name, a, p.q);
    checkAtLeast(op, name, a, need);
  }
  const { Lq, Lk, D, Dv } = p;
  const row = new Float64Array(Lk);
  const gqRow = new Float64Array(D);
  // gk and gv accumulate over the query rows of a problem: in float64, stored once.
  const gkAcc = new Float64Array(Lk * D);
  const gvAcc = new Float64Array(Lk * Dv);
  for (let bh = 0; bh < p.B * p.H; bh++) {
    gkAcc.fill(0);
    gvAcc.fill(0);
    for (let i = 0; i < Lq; i++) {
      scoreRow(p, p.q, p.k, bh, i, row);
      const oo = (bh * Lq + i) * Dv;
      const qo = (bh * Lq + i) * D;
      const l = lse[bh * Lq + i];
      let delta = 0;
      for (let c = 0; c < Dv; c++) delta += gOut[oo + c] * out[oo + c];
      gqRow.fill(0);
      for (let j = 0; j < Lk; j++) {
        const pj = Math.exp(row[j] - l);
        if (pj === 0) continue;
        const vo = (bh * Lk + j) * Dv;
        const mult = dropMult(p, bh, i, j);
        let dp = 0;
        for (let c = 0; c < Dv; c++) {
          gvAcc[j * Dv + c] += pj * mult * gOut[oo + c];
          dp += gOut[oo + c] * p.v[vo + c];
        }
        const ds = scale * pj * (dp * mult - delta);
        const ko = (bh * Lk + j) * D;
        for (let c = 0; c < D; c++) {
          gqRow[c] += ds * p.k[ko + c];
          gkAcc[j * D + c] += ds * p.q[qo + c];
        }
      }
      for (let c = 0; c < D; c++) gq[qo + c] = gqRow[c];
    }
    gk.set(gkAcc, bh * Lk * D);
    gv.set(gvAcc, bh * Lk * Dv);
  }
}

export const attentionKernels: Pick<Backend, 'attentionForward' | 'attentionBackward'> = {
  attentionForward,
  attentionBackward,
};
