// MultiheadAttention, TransformerEncoderLayer and TransformerEncoder on every backend, without
// PyTorch: outputs against a float64 reference of torch 1.13's equations written here in plain
// loops (projections, per-head softmax attention with torch's mask polarity, head averaging,
// LayerNorm, the feed-forward block), gradcheck through both modules, torch's state_dict names
// and initialisation, the encoder's copies of its layer, dropout, and errors.

import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, backend } from '../lib/index.js';
import * as nn from '../lib/nn/index.js';
import { gradcheck } from '../lib/autograd/index.js';
import { manualSeed } from '../lib/random.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));
const backends = backendsHere();
const f64 = { dtype: 'float64' } as const;

type Mat = number[][];
const matOf = (t: Tensor, rows: number, cols: number, offset = 0): Mat =>
  Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => t.data[offset + i * cols + j]));
/** x W^T + b for rows x. */
const lin = (x: Mat, w: Mat, b: number[] | null): Mat =>
  x.map((row) => w.map((wr, o) => wr.reduce((s, wv, i) => s + wv * row[i], b ? b[o] : 0)));

/**
 * torch 1.13's multi-head attention for one batch element: q [L, E], k [S, kdim], v [S, vdim];
 * hide(i, j) true hides key j from query i. Returns the output [L, E] and the head-averaged weights.
 */
function mhaRef(m: nn.MultiheadAttention, q: Mat, k: Mat, v: Mat, hide: (i: number, j: number) => boolean): [Mat, Mat] {
  const E = m.embedDim;
  const H = m.numHeads;
  const hd = E / H;
  const sd = m.stateDict();
  const w = sd.in_proj_weight;
  const b = sd.in_proj_bias;
  const wq = matOf(w, E, E, 0);
  const wk = matOf(w, E, E, E * E);
  const wv = matOf(w, E, E, 2 * E * E);
  const bias = (i: number): number[] => Array.from({ length: E }, (_, j) => b.data[i * E + j]);
  const Q = lin(q, wq, bias(0));
  const K = lin(k, wk, bias(1));
  const V = lin(v, wv, bias(2));
  const L = q.length;
  const S = k.length;
  const concat: Mat = Array.from({ length: L }, () => new Array<number>(E).fill(0));
  const avg: Mat = Array.from({ length: L }, () => new Array<number>(S).fill(0));
  for (let h = 0; h < H; h++) {
    for (let i = 0; i < L; i++) {
      const s = Array.from({ length: S }, (_, j) => {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += Q[i][h * hd + d] * K[j][h * hd + d];
        return hide(i, j) ? -Infinity : dot / Math.sqrt(hd);
      });
      const mx = Math.max(...s);
      const z = s.reduce((a, x) => a + Math.exp(x - mx), 0);
      const p = s.map((x) => Math.exp(x - mx) / z);
      for (let j = 0; j < S; j++) {
        avg[i][j] += p[j] / H;
        for (let d = 0; d < hd; d++) concat[i][h * hd + d] += p[j] * V[j][h * hd + d];
      }
    }
  }
  const out = lin(concat, matOf(sd['out_proj.weight'], E, E), [...sd['out_proj.bias'].data]);
  return [out, avg];
}

function layerNormRef(x: Mat, w: Tensor, b: Tensor, eps: number): Mat {
  return x.map((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / row.length;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * w.data[i] + b.data[i]);
  });
}

/** torch 1.13's post-norm encoder layer (relu, no dropout) for one batch element. */
function layerRef(l: nn.TransformerEncoderLayer, x: Mat, hide: (i: number, j: number) => boolean): Mat {
  const sd = l.stateDict();
  const E = l.dModel;
  const ff = l.options.dimFeedforward;
  const [sa] = mhaRef(l.selfAttn, x, x, x, hide);
  const eps = l.options.layerNormEps;
  const h = layerNormRef(
    x.map((r, i) => r.map((v, j) => v + sa[i][j])),
    sd['norm1.weight'],
    sd['norm1.bias'],
    eps,
  );
  const a = lin(h, matOf(sd['linear1.weight'], ff, E), [...sd['linear1.bias'].data]).map((r) =>
    r.map((v) => Math.max(v, 0)),
  );
  const f = lin(a, matOf(sd['linear2.weight'], E, ff), [...sd['linear2.bias'].data]);
  return layerNormRef(
    h.map((r, i) => r.map((v, j) => v + f[i][j])),
    sd['norm2.weight'],
    sd['norm2.bias'],
    eps,
  );
}

/** Batch element n of a [L, N, E] tensor. */
const seqOf = (t: Tensor, n: number): Mat => {
  const [L, N, E] = t.shape;
  return Array.from({ length: L }, (_, i) => Array.from({ length: E }, (_, j) => t.data[(i * N + n) * E + j]));
};

function expectMatClose(got: Mat, want: Mat, tol: number, what: string): void {
  got.forEach((row, i) =>
    row.forEach((v, j) => expect(Math.abs(v - want[i][j]), `${what} [${i}, ${j}]`).toBeLessThan(tol)),
  );
}

for (const b of backends) {
  describe(`MultiheadAttention and the encoder on ${b}`, () => {
    it('MultiheadAttention: outputs and averaged weights against the float64 reference, with masks', () => {
      backend.use(b);
      manualSeed(1);
      const m = new nn.MultiheadAttention(6, 2, f64);
      const rng = new Rng(2);
      const q = leaf(rng, [4, 2, 6]);
      const kv = leaf(rng, [5, 2, 6]);
      // attnMask: true may attend (hide key i + 1 from query i). Key padding hides key 4 of batch element 1.
      const attn = Array.from({ length: 4 }, (_, i) => Array.from({ length: 5 }, (_, j) => j !== i + 1));
      const kpm = [0, 1].map((n) => Array.from({ length: 5 }, (_, j) => n === 1 && j === 4));
      const [out, w] = m.forward(q, kv, kv, { attnMask: attn, keyPaddingMask: kpm });
      const [outFused] = m.forward(q, kv, kv, { attnMask: attn, keyPaddingMask: kpm, needWeights: false });
      expect(out.shape).toEqual([4, 2, 6]);
      expect(w!.shape).toEqual([2, 4, 5]);
      for (let n = 0; n < 2; n++) {
        const [refOut, refW] = mhaRef(m, seqOf(q, n), seqOf(kv, n), seqOf(kv, n), (i, j) => !attn[i][j] || kpm[n][j]);
        expectMatClose(seqOf(out, n), refOut, 1e-12, `out of batch ${n}`);
        expectMatClose(seqOf(outFused, n), refOut, 1e-12, `fused out of batch ${n}`);
        expectMatClose(matOf(w!, 4, 5, n * 20), refW, 1e-12, `weights of batch ${n}`);
      }
    });

    it('TransformerEncoderLayer (post-norm, relu): output against the float64 reference; a causal float mask equals isCausal', () => {
      backend.use(b);
      manualSeed(3);
      const l = new nn.TransformerEncoderLayer(6, 3, { ...f64, dimFeedforward: 10, dropout: 0 });
      const rng = new Rng(4);
      const x = leaf(rng, [5, 2, 6]);
      const y = l.forward(x, { isCausal: true });
      for (let n = 0; n < 2; n++)
        expectMatClose(
          seqOf(y, n),
          layerRef(l, seqOf(x, n), (i, j) => j > i),
          1e-12,
          `batch ${n}`,
        );
      const floatCausal = new Tensor(
        Float64Array.from({ length: 25 }, (_, idx) => (idx % 5 > Math.floor(idx / 5) ? -Infinity : 0)),
        [5, 5],
      );
      const y2 = l.forward(x, { srcMask: floatCausal });
      y2.data.forEach((v, i) => expect(Math.abs(v - y.data[i])).toBeLessThan(1e-12));
    });

    it('gradcheck through MultiheadAttention and TransformerEncoderLayer (fused attention inside)', () => {
      backend.use(b);
      manualSeed(5);
      const m = new nn.MultiheadAttention(4, 2, { ...f64, batchFirst: true });
      const l = new nn.TransformerEncoderLayer(4, 2, {
        ...f64,
        dimFeedforward: 6,
        dropout: 0,
        activation: 'gelu',
        normFirst: true,
      });
      const rng = new Rng(6);
      const x = leaf(rng, [2, 3, 4]);
      const kpm = [
        [false, false, true],
        [false, false, false],
      ];
      expect(gradcheck((t) => m.forward(t, t, t, { keyPaddingMask: kpm, needWeights: false })[0], [x])).toBe(true);
      expect(gradcheck((t) => m.forward(t, t, t, { averageAttnWeights: false })[1]!, [x])).toBe(true);
      const xs = leaf(rng, [3, 2, 4]);
      expect(gradcheck((t) => l.forward(t, { isCausal: true }), [xs])).toBe(true);
      // The parameters themselves: gradcheck perturbs them in place, the module reads them.
      const xd = x.detach();
      expect(
        gradcheck(() => m.forward(xd, xd, xd, { needWeights: false })[0], [m.inProjWeight!, m.outProj.weight]),
      ).toBe(true);
    });

    it("torch's state_dict names, order and initialisation; the encoder's layers start equal", () => {
      backend.use(b);
      manualSeed(7);
      const m = new nn.MultiheadAttention(8, 2);
      expect(Object.keys(m.stateDict())).toEqual([
        'in_proj_weight',
        'in_proj_bias',
        'out_proj.weight',
        'out_proj.bias',
      ]);
      const bound = Math.sqrt(6 / (8 + 24)); // xavier_uniform_ on [3E, E]
      const wv = [...m.inProjWeight!.data];
      expect(Math.max(...wv.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...wv.map(Math.abs))).toBeGreaterThan(0.9 * bound);
      expect([...m.inProjBias!.data, ...m.outProj.bias!.data].every((v) => v === 0)).toBe(true);
      const sep = new nn.MultiheadAttention(8, 2, { kdim: 3, vdim: 5, bias: false });
      expect(Object.keys(sep.stateDict())).toEqual([
        'q_proj_weight',
        'k_proj_weight',
        'v_proj_weight',
        'out_proj.weight',
      ]);
      const enc = new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16 }), 2, {
        norm: new nn.LayerNorm(8),
      });
      const keys = Object.keys(enc.stateDict());
      const layerKeys = [
        'self_attn.in_proj_weight',
        'self_attn.in_proj_bias',
        'self_attn.out_proj.weight',
        'self_attn.out_proj.bias',
        'linear1.weight',
        'linear1.bias',
        'linear2.weight',
        'linear2.bias',
        'norm1.weight',
        'norm1.bias',
        'norm2.weight',
        'norm2.bias',
      ];
      expect(keys).toEqual([
        ...layerKeys.map((k) => `layers.0.${k}`),
        ...layerKeys.map((k) => `layers.1.${k}`),
        'norm.weight',
        'norm.bias',
      ]);
      const sd = enc.stateDict();
      for (const k of layerKeys) expect([...sd[`layers.0.${k}`].data]).toEqual([...sd[`layers.1.${k}`].data]);
    });

    it('dropout acts in training only; eval is deterministic', () => {
      backend.use(b);
      manualSeed(8);
      const l = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, dropout: 0.5 });
      const rng = new Rng(9);
      const x = leaf(rng, [4, 2, 8], { dtype: 'float32', requiresGrad: false });
      const a = l.forward(x);
      const c = l.forward(x);
      expect([...a.data]).not.toEqual([...c.data]);
      l.eval();
      expect([...l.forward(x).data]).toEqual([...l.forward(x).data]);
    });

    it('errors name the module and the shapes', () => {
      backend.use(b);
      expect(() => new nn.MultiheadAttention(6, 4)).toThrow(
        /numHeads \(4\) must be a positive divisor of embedDim \(6\)/,
      );
      const m = new nn.MultiheadAttention(4, 2);
      const rng = new Rng(10);
      const x = leaf(rng, [3, 2, 4], { dtype: 'float32' });
      expect(() => m.forward(x, x, x, { attnMask: [[true]] })).toThrow(
        /attnMask must be \[3, 3\] or \[4, 3, 3\], got \[1, 1\]/,
      );
      expect(() => m.forward(x, x, x, { keyPaddingMask: [[true, false]] })).toThrow(
        /keyPaddingMask must be \[2, 3\], got \[1, 2\]/,
      );
      expect(() => m.forward(x, leaf(rng, [3, 2, 5], { dtype: 'float32' }), x)).toThrow(
        /MultiheadAttention: key \[3, 2, 5\]/,
      );
    });
  });
}
