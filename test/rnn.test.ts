// Recurrent layers: values against a float64 reference written here from torch's equations
// (and against torch itself where python3 has it), gradcheck on every backend for each
// layer over 1 and 2 layers, one and two directions, with and without an initial state, several
// sequence lengths; the fused backward against the rule in Tensor ops; truncated BPTT; vanishing
// and exploding gradients; bad input.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Tensor, cat, randn, tensor, zeros } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { backend, jsBackend } from '../lib/backend/index.js';
import { grad, gradcheck, gradgradcheck } from '../lib/autograd/index.js';
import * as nn from '../lib/nn/index.js';
import { clipGradNorm } from '../lib/optim/clip.js';
import { Adam } from '../lib/optim/index.js';
import { crossEntropy } from '../lib/ops/loss.js';
import { backendsHere } from './support/native.js';
import { PYTHON as PY, torchHere } from './support/torch.js';

type Kind = 'rnnTanh' | 'rnnRelu' | 'lstm' | 'gru';
const KINDS: Kind[] = ['rnnTanh', 'rnnRelu', 'lstm', 'gru'];
const f64 = 'float64' as const;

const initial = backend.current();
afterAll(() => backend.use(initial));
const backends = backendsHere();

interface Config {
  numLayers: number;
  bidirectional: boolean;
  batchFirst?: boolean;
  bias?: boolean;
}

function makeLayer(kind: Kind, input: number, hidden: number, cfg: Config): nn.RNNBase {
  const opts = { ...cfg, dtype: f64 };
  if (kind === 'lstm') return new nn.LSTM(input, hidden, opts);
  if (kind === 'gru') return new nn.GRU(input, hidden, opts);
  return new nn.RNN(input, hidden, { ...opts, nonlinearity: kind === 'rnnTanh' ? 'tanh' : 'relu' });
}

/** Runs the layer, returning [output, h_n] or [output, h_n, c_n]. */
function runLayer(layer: nn.RNNBase, x: Tensor, h0: Tensor | null, c0: Tensor | null): Tensor[] {
  if (layer instanceof nn.LSTM) {
    const [out, [h, c]] = layer.forward(x, h0 === null ? null : [h0, c0!]);
    return [out, h, c];
  }
  const [out, h] = (layer as nn.RNN).forward(x, h0);
  return [out, h];
}

// ---------------------------------------------------------------------------------------------
// The reference: plain float64 loops over torch's equations, independent of the library's ops.

const sig = (v: number): number => 1 / (1 + Math.exp(-v));

function refRun(
  kind: Kind,
  sd: Record<string, Tensor>,
  x: number[][][],
  H: number,
  cfg: Config,
  h0: number[][][] | null,
  c0: number[][][] | null,
): { out: number[][][]; h: number[][][]; c: number[][][] } {
  const T = x.length;
  const B = x[0].length;
  const D = cfg.bidirectional ? 2 : 1;
  const G = kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
  const mv = (w: Tensor, v: number[], row: number): number => {
    let s = 0;
    for (let k = 0; k < v.length; k++) s += w.data[row * v.length + k] * v[k];
    return s;
  };
  let layerIn = x;
  const hN: number[][][] = [];
  const cN: number[][][] = [];
  for (let l = 0; l < cfg.numLayers; l++) {
    const outs: number[][][][] = [];
    for (let d = 0; d < D; d++) {
      const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
      const wih = sd[`weight_ih${sfx}`],
        whh = sd[`weight_hh${sfx}`];
      const bih = sd[`bias_ih${sfx}`],
        bhh = sd[`bias_hh${sfx}`];
      const bi = (r: number): number => (bih ? bih.data[r] : 0);
      const bh = (r: number): number => (bhh ? bhh.data[r] : 0);
      const out: number[][][] = Array.from({ length: T }, () => []);
      const hF: number[][] = [];
      const cF: number[][] = [];
      for (let b = 0; b < B; b++) {
        let h = h0 ? h0[l * D + d][b].slice() : new Array<number>(H).fill(0);
        let c = c0 ? c0[l * D + d][b].slice() : new Array<number>(H).fill(0);
        for (let s = 0; s < T; s++) {
          const t = d === 1 ? T - 1 - s : s;
          const xt = layerIn[t][b];
          const gi = (r: number): number => mv(wih, xt, r) + bi(r);
          const gh = (r: number): number => mv(whh, h, r) + bh(r);
          const hNew = new Array<number>(H);
          const cNew = new Array<number>(H);
          for (let j = 0; j < H; j++) {
            if (kind === 'lstm') {
              const pre = (k: number): number => gi(k * H + j) + gh(k * H + j);
              const i = sig(pre(0)),
                f = sig(pre(1)),
                g = Math.tanh(pre(2)),
                o = sig(pre(3));
              cNew[j] = f * c[j] + i * g;
              hNew[j] = o * Math.tanh(cNew[j]);
            } else if (kind === 'gru') {
              const r = sig(gi(j) + gh(j));
              const z = sig(gi(H + j) + gh(H + j));
              const n = Math.tanh(gi(2 * H + j) + r * gh(2 * H + j));
              hNew[j] = (1 - z) * n + z * h[j];
            } else {
              const pre = gi(j) + gh(j);
              hNew[j] = kind === 'rnnTanh' ? Math.tanh(pre) : Math.max(0, pre);
            }
          }
          void G;
          h = hNew;
          if (kind === 'lstm') c = cNew;
          out[t][b] = h;
        }
        hF.push(h);
        cF.push(c);
      }
      outs.push(out);
      hN.push(hF);
      cN.push(cF);
    }
    layerIn = Array.from({ length: T }, (_, t) => Array.from({ length: B }, (_, b) => outs.flatMap((o) => o[t][b])));
  }
  return { out: layerIn, h: hN, c: cN };
}

function toNested3(t: Tensor): number[][][] {
  return t.toArray() as number[][][];
}

function expectClose(actual: Tensor, expected: number[][][] | number[][], tol: number, what: string): void {
  const flat = (expected as unknown[]).flat(2) as number[];
  expect(actual.size, `${what}: size`).toBe(flat.length);
  for (let i = 0; i < flat.length; i++) {
    if (!(Math.abs(actual.data[i] - flat[i]) <= tol * (1 + Math.abs(flat[i])))) {
      throw new Error(`${what}: element ${i} is ${actual.data[i]}, expected ${flat[i]}`);
    }
  }
}

const CONFIGS: (Config & { T: number; state: boolean })[] = [
  { numLayers: 1, bidirectional: false, T: 1, state: false },
  { numLayers: 1, bidirectional: false, T: 3, state: true },
  { numLayers: 1, bidirectional: true, T: 4, state: false },
  { numLayers: 2, bidirectional: false, T: 2, state: true },
  { numLayers: 2, bidirectional: true, T: 3, state: true },
];

describe.each(backends)('recurrent layers on the %s backend', (name) => {
  it.each(KINDS)(
    '%s: output and final state equal the float64 reference (1/2 layers, 1/2 directions, with/without state)',
    (kind) => {
      backend.use(name);
      manualSeed(11);
      const I = 2,
        H = 3,
        B = 2;
      for (const cfg of [...CONFIGS, { numLayers: 2, bidirectional: true, T: 3, state: false, bias: false }]) {
        const layer = makeLayer(kind, I, H, cfg);
        const D = cfg.bidirectional ? 2 : 1;
        const x = randn([cfg.T, B, I], { dtype: f64 });
        const h0 = cfg.state ? randn([cfg.numLayers * D, B, H], { dtype: f64 }) : null;
        const c0 = cfg.state && kind === 'lstm' ? randn([cfg.numLayers * D, B, H], { dtype: f64 }) : null;
        const res = runLayer(layer, x, h0, c0);
        const ref = refRun(kind, layer.stateDict(), toNested3(x), H, cfg, h0 && toNested3(h0), c0 && toNested3(c0));
        const what = `${kind} ${JSON.stringify(cfg)}`;
        expect(res[0].shape).toEqual([cfg.T, B, D * H]);
        expect(res[1].shape).toEqual([cfg.numLayers * D, B, H]);
        expectClose(res[0], ref.out, 1e-12, `${what} output`);
        expectClose(res[1], ref.h, 1e-12, `${what} h_n`);
        if (kind === 'lstm') expectClose(res[2], ref.c, 1e-12, `${what} c_n`);
      }
    },
  );

  it.each(KINDS)('%s: gradcheck of input, initial state and every parameter', (kind) => {
    backend.use(name);
    manualSeed(12);
    const I = 2,
      H = 3,
      B = 2;
    for (const cfg of [...CONFIGS, { numLayers: 1, bidirectional: true, T: 2, state: true, bias: false }]) {
      const layer = makeLayer(kind, I, H, cfg);
      const D = cfg.bidirectional ? 2 : 1;
      const x = randn([cfg.T, B, I], { dtype: f64, requiresGrad: true });
      const inputs = [x];
      if (cfg.state) {
        inputs.push(randn([cfg.numLayers * D, B, H], { dtype: f64, requiresGrad: true })); // h0
        if (kind === 'lstm') inputs.push(randn([cfg.numLayers * D, B, H], { dtype: f64, requiresGrad: true })); // c0
      }
      const params = layer.parameters();
      const fn = (...ts: Tensor[]): Tensor[] =>
        runLayer(layer, ts[0], cfg.state ? ts[1] : null, cfg.state && kind === 'lstm' ? ts[2] : null);
      expect(gradcheck(fn, [...inputs, ...params]), `${kind} ${JSON.stringify(cfg)}`).toBe(true);
    }
  });

  it.each(KINDS)('%s: the fused backward equals the rule in Tensor ops', (kind) => {
    backend.use(name);
    manualSeed(13);
    const layer = makeLayer(kind, 3, 4, { numLayers: 2, bidirectional: true });
    const x = randn([5, 3, 3], { dtype: f64, requiresGrad: true });
    const h0 = randn([4, 3, 4], { dtype: f64, requiresGrad: true });
    const c0 = kind === 'lstm' ? randn([4, 3, 4], { dtype: f64, requiresGrad: true }) : null;
    const outs = runLayer(layer, x, h0, c0);
    const weights = outs.map((o) => randn(o.shape as number[], { dtype: f64 }));
    const loss = outs.map((o, i) => o.mul(weights[i]).sum()).reduce((a, b) => a.add(b));
    const targets = [x, h0, ...(c0 ? [c0] : []), ...layer.parameters()];
    const fused = grad(loss, targets, { retainGraph: true });
    const rule = grad(loss, targets, { createGraph: true }); // grad mode on: the Tensor-op rule runs
    fused.forEach((g, i) => {
      expect(g).not.toBeNull();
      const r = rule[i];
      for (let k = 0; k < g.size; k++)
        expect(Math.abs(g.data[k] - r.data[k])).toBeLessThan(1e-12 * (1 + Math.abs(r.data[k])));
    });
  });
});

describe('double backward through the recurrence (the Tensor-op rule)', () => {
  it.each(['lstm', 'gru', 'rnnTanh'] as Kind[])('%s: gradgradcheck', (kind) => {
    manualSeed(14);
    const layer = makeLayer(kind, 2, 2, { numLayers: 1, bidirectional: false });
    const x = randn([2, 1, 2], { dtype: f64, requiresGrad: true });
    const [wih, whh] = layer.parameters();
    expect(
      gradgradcheck(
        (xx, a, b) => {
          void a;
          void b;
          return runLayer(layer, xx, null, null)[0];
        },
        [x, wih, whh],
      ),
    ).toBe(true);
  });
});

describe('layer options and shapes', () => {
  it("state_dict names, shapes and order are torch's", () => {
    const lstm = new nn.LSTM(5, 7, { numLayers: 2, bidirectional: true });
    const sd = lstm.stateDict();
    const names = Object.keys(sd);
    const expected: string[] = [];
    for (const l of [0, 1])
      for (const sfx of ['', '_reverse']) {
        for (const p of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']) expected.push(`${p}_l${l}${sfx}`);
      }
    expect(names).toEqual(expected);
    expect(sd.weight_ih_l0.shape).toEqual([28, 5]);
    expect(sd.weight_hh_l0.shape).toEqual([28, 7]);
    expect(sd.weight_ih_l1_reverse.shape).toEqual([28, 14]);
    expect(sd.bias_hh_l1.shape).toEqual([28]);
    expect(Object.keys(new nn.GRU(2, 3, { bias: false }).stateDict())).toEqual(['weight_ih_l0', 'weight_hh_l0']);
    expect(new nn.GRU(2, 3).stateDict().weight_hh_l0.shape).toEqual([9, 3]);
  });

  it('initialisation is U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter', () => {
    manualSeed(15);
    const rnn = new nn.RNN(10, 16, { numLayers: 2 });
    for (const p of rnn.parameters()) {
      let max = 0;
      for (const v of p.data) max = Math.max(max, Math.abs(v));
      expect(max).toBeLessThanOrEqual(0.25);
      expect(max).toBeGreaterThan(0.2); // spread over the whole interval
    }
  });

  it('batchFirst and unbatched inputs give the same numbers as the [seq, batch, input] layout', () => {
    manualSeed(16);
    const a = new nn.GRU(3, 4, { dtype: f64 });
    const b = new nn.GRU(3, 4, { dtype: f64, batchFirst: true });
    b.loadStateDict(a.stateDict());
    const x = randn([5, 2, 3], { dtype: f64 });
    const [oa, ha] = a.forward(x);
    const [ob, hb] = b.forward(x.transpose(0, 1));
    expect(ob.shape).toEqual([2, 5, 4]);
    expectClose(ob.transpose(0, 1), oa.toArray() as number[][][], 0, 'batchFirst output');
    expectClose(hb, ha.toArray() as number[][][], 0, 'batchFirst h');
    const [ou, hu] = a.forward(x.narrow(1, 1, 1).squeeze(1));
    expect(ou.shape).toEqual([5, 4]);
    expect(hu.shape).toEqual([1, 4]);
    expectClose(ou, oa.narrow(1, 1, 1).squeeze(1).toArray() as number[][], 0, 'unbatched output');
  });

  it('an empty batch gives empty outputs of the right shapes', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const [out, [h, c]] = m.forward(zeros([5, 0, 3]));
    expect([out.shape, h.shape, c.shape]).toEqual([
      [5, 0, 8],
      [4, 0, 4],
      [4, 0, 4],
    ]);
  });

  it('dropout between layers only in training mode', () => {
    manualSeed(17);
    const m = new nn.LSTM(2, 3, { numLayers: 2, dropout: 0.5, dtype: f64 });
    const x = randn([4, 2, 2], { dtype: f64 });
    m.eval();
    const [e1] = m.forward(x);
    const [e2] = m.forward(x);
    expect(e1.toArray()).toEqual(e2.toArray());
    m.train();
    const [t1] = m.forward(x);
    expect(t1.toArray()).not.toEqual(e1.toArray());
  });

  it('float32 layers run and agree with float64 ones', () => {
    manualSeed(18);
    const m64 = new nn.LSTM(3, 5, { dtype: f64 });
    const m32 = new nn.LSTM(3, 5);
    m32.loadStateDict(Object.fromEntries(Object.entries(m64.stateDict()).map(([k, v]) => [k, v.to('float32')])));
    const x = randn([6, 2, 3], { dtype: f64 });
    const [o64] = m64.forward(x);
    const [o32] = m32.forward(x.to('float32'));
    expect(o32.dtype).toBe('float32');
    expectClose(o32, o64.toArray() as number[][][], 1e-5, 'float32 vs float64');
  });
});

describe('truncated backpropagation through time', () => {
  it('chunks with detached state continue the sequence exactly and stop the gradient at the chunk boundary', () => {
    manualSeed(19);
    const lstm = new nn.LSTM(2, 3, { dtype: f64 });
    const x = randn([6, 2, 2], { dtype: f64 });
    const [full] = lstm.forward(x);
    const x1 = x.narrow(0, 0, 3).detach();
    x1.requiresGrad = true;
    const x2 = x.narrow(0, 3, 3).detach();
    x2.requiresGrad = true;
    const [o1, [h1, c1]] = lstm.forward(x1);
    const [o2] = lstm.forward(x2, [h1.detach(), c1.detach()]);
    expectClose(cat([o1, o2], 0), full.toArray() as number[][][], 1e-14, 'chunked output');
    o2.sum().backward();
    expect(x2.grad).not.toBeNull();
    expect(x1.grad).toBeNull();
  });
});

describe('vanishing and exploding gradients', () => {
  it('the gradient of a tanh RNN with respect to early inputs vanishes over a long sequence', () => {
    manualSeed(20);
    const T = 120;
    const rnn = new nn.RNN(4, 16, { dtype: f64 });
    const x = randn([T, 1, 4], { dtype: f64, requiresGrad: true });
    const [out] = rnn.forward(x);
    out
      .narrow(0, T - 1, 1)
      .sum()
      .backward();
    const norms = Array.from({ length: T }, (_, t) => Math.hypot(...x.grad!.narrow(0, t, 1).data));
    expect(norms[T - 1]).toBeGreaterThan(1e-2);
    // The norm shrinks geometrically going back in time.
    expect(norms[T - 21]).toBeLessThan(1e-2 * norms[T - 1]);
    expect(norms[0]).toBeLessThan(1e-10 * norms[T - 1]);
  });

  it('clipGradNorm bounds the exploding gradient of a relu RNN with large recurrent weights', () => {
    manualSeed(21);
    const T = 60;
    const rnn = new nn.RNN(2, 8, { nonlinearity: 'relu', dtype: f64 });
    // W_hh = 1.3 I: every step multiplies the gradient by 1.3 where units are active.
    const w = Object.fromEntries(rnn.namedParameters()).weight_hh_l0;
    w.data.fill(0);
    for (let i = 0; i < 8; i++) w.data[i * 8 + i] = 1.3;
    const x = randn([T, 3, 2], { dtype: f64 }).abs();
    const [out] = rnn.forward(x);
    out
      .narrow(0, T - 1, 1)
      .sum()
      .backward();
    const total = clipGradNorm(rnn.parameters(), 1);
    expect(total).toBeGreaterThan(1e6);
    let after = 0;
    for (const p of rnn.parameters()) for (const v of p.grad!.data) after += v * v;
    expect(Math.sqrt(after)).toBeLessThanOrEqual(1 + 1e-6);
    expect(Math.sqrt(after)).toBeGreaterThan(0.999);
  });
});

describe('bad input gives a clear Error', () => {
  const lstm = new nn.LSTM(3, 4, { numLayers: 2 });
  const gru = new nn.GRU(3, 4, { batchFirst: true });
  it('wrong input rank', () => {
    expect(() => lstm.forward(zeros([5]))).toThrow(/LSTM: expected an input of 3 dims.*got shape \[5\]/);
    expect(() => lstm.forward(zeros([1, 2, 3, 4]))).toThrow(/LSTM.*got shape \[1, 2, 3, 4\]/);
  });
  it('wrong input size', () => {
    expect(() => lstm.forward(zeros([5, 2, 7]))).toThrow(
      /LSTM: input shape \[5, 2, 7\] has 7 features, expected inputSize 3/,
    );
    expect(() => gru.forward(zeros([2, 5, 2]))).toThrow(
      /GRU: input shape \[2, 5, 2\] has 2 features, expected inputSize 3/,
    );
  });
  it('a state of the wrong shape', () => {
    expect(() => lstm.forward(zeros([5, 2, 3]), [zeros([1, 2, 4]), zeros([2, 2, 4])])).toThrow(
      /LSTM: expected h0 \(state\[0\]\) of shape \[2, 2, 4\] for input of shape \[5, 2, 3\], got \[1, 2, 4\]/,
    );
    expect(() => lstm.forward(zeros([5, 2, 3]), [zeros([2, 2, 4]), zeros([2, 3, 4])])).toThrow(
      /LSTM: expected c0 \(state\[1\]\) of shape \[2, 2, 4\].*got \[2, 3, 4\]/,
    );
    expect(() => gru.forward(zeros([2, 5, 3]), zeros([1, 5, 4]))).toThrow(
      /GRU: expected h0 of shape \[1, 2, 4\].*got \[1, 5, 4\]/,
    );
  });
  it('a dtype mismatch and bad options', () => {
    expect(() => lstm.forward(zeros([5, 2, 3], { dtype: f64 }))).toThrow(
      /LSTM: input is float64 but the parameters are float32/,
    );
    expect(() => new nn.RNN(3, 4, { nonlinearity: 'sigmoid' as 'tanh' })).toThrow(/nonlinearity/);
    expect(() => new nn.LSTM(3, 0)).toThrow(/hiddenSize must be a positive integer/);
  });
});

describe('nn.Embedding feeding a recurrent layer', () => {
  it('looks rows up with the gather kernel and accumulates its gradient with scatterAdd (no one-hot GEMM)', () => {
    backend.use('js');
    const gather = vi.spyOn(jsBackend, 'gather');
    const scatterAdd = vi.spyOn(jsBackend, 'scatterAdd');
    const gemm = vi.spyOn(jsBackend, 'gemm');
    try {
      const emb = new nn.Embedding(5, 2, { dtype: f64 });
      emb.weight.data.set([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]);
      const idx = tensor([
        [3, 1],
        [3, 0],
      ]);
      const e = emb.forward(idx);
      expect(e.shape).toEqual([2, 2, 2]);
      expect(e.toArray()).toEqual([
        [
          [30, 31],
          [10, 11],
        ],
        [
          [30, 31],
          [0, 1],
        ],
      ]);
      e.mul(
        tensor(
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
          { dtype: f64 },
        ),
      )
        .sum()
        .backward();
      // Row 3 is used twice: its gradient is the sum of both uses.
      expect(emb.weight.grad!.toArray()).toEqual([
        [7, 8],
        [3, 4],
        [0, 0],
        [6, 8],
        [0, 0],
      ]);
      expect(gather).toHaveBeenCalled();
      expect(scatterAdd).toHaveBeenCalled();
      expect(gemm).not.toHaveBeenCalled();
      // And into an LSTM, end to end.
      const lstm = new nn.LSTM(2, 3, { dtype: f64 });
      const [out] = lstm.forward(emb.forward(idx));
      expect(out.shape).toEqual([2, 2, 3]);
    } finally {
      gather.mockRestore();
      scatterAdd.mockRestore();
      gemm.mockRestore();
    }
  });
});

describe('a character-level language model on the bundled text', () => {
  it('learns beyond the unigram entropy within a few dozen truncated-BPTT updates', () => {
    backend.use(initial);
    manualSeed(23);
    const text = readFileSync(new URL('../data/text/genesis-kjv.txt', import.meta.url), 'utf8').slice(0, 20000);
    const vocab = [...new Set(text)].sort();
    const codes = Int32Array.from(text, (ch) => vocab.indexOf(ch));
    const V = vocab.length;
    const counts = new Float64Array(V);
    for (const c of codes) counts[c]++;
    let unigram = 0;
    for (const n of counts) if (n > 0) unigram -= (n / codes.length) * Math.log(n / codes.length);
    const B = 16,
      T = 32,
      len = Math.floor(codes.length / B);
    const emb = new nn.Embedding(V, 16);
    const lstm = new nn.LSTM(16, 64);
    const head = new nn.Linear(64, V);
    const params = [...emb.parameters(), ...lstm.parameters(), ...head.parameters()];
    const opt = new Adam(params, { lr: 0.01 });
    let state: [Tensor, Tensor] | null = null;
    const losses: number[] = [];
    for (let step = 0, t0 = 0; step < 60; step++, t0 = (t0 + T) % (len - T - 1)) {
      if (t0 === 0) state = null;
      const x = new Float32Array(T * B);
      const y = new Int32Array(T * B);
      for (let t = 0; t < T; t++)
        for (let b = 0; b < B; b++) {
          x[t * B + b] = codes[b * len + t0 + t];
          y[t * B + b] = codes[b * len + t0 + t + 1];
        }
      opt.zeroGrad();
      const [out, [h, c]] = lstm.forward(emb.forward(tensor(x, { shape: [T, B] })), state);
      const loss = crossEntropy(head.forward(out.reshape([T * B, 64])), y);
      loss.backward();
      clipGradNorm(params, 1);
      opt.step();
      state = [h.detach(), c.detach()];
      losses.push(loss.item());
    }
    const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
    expect(losses[0]).toBeGreaterThan(unigram); // starts near log(V), above the unigram entropy
    expect(last).toBeLessThan(0.85 * unigram);
  });
});

// ---------------------------------------------------------------------------------------------
// Against torch itself (skipped where python3 or its torch is missing: test/support/torch.ts).

const hasTorch = torchHere();

const TORCH_SCRIPT = `
import json, sys, torch
req = json.load(sys.stdin)
torch.set_default_dtype(torch.float64)
res = {}
for case in req:
    cls = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU, 'rnnTanh': torch.nn.RNN, 'rnnRelu': torch.nn.RNN}[case['kind']]
    kw = dict(num_layers=case['numLayers'], bidirectional=case['bidirectional'], batch_first=True)
    if case['kind'].startswith('rnn'):
        kw['nonlinearity'] = 'tanh' if case['kind'] == 'rnnTanh' else 'relu'
    m = cls(case['input'], case['hidden'], **kw)
    m.load_state_dict({k: torch.tensor(v['data']).reshape(v['shape']) for k, v in case['sd'].items()})
    x = torch.tensor(case['x']['data']).reshape(case['x']['shape']).requires_grad_()
    out, st = m(x)
    h = st[0] if case['kind'] == 'lstm' else st
    (out.pow(2).sum() + h.sum()).backward()
    res[case['name']] = {'out': out.detach().flatten().tolist(), 'h': h.detach().flatten().tolist(),
        'gx': x.grad.flatten().tolist(), 'gw': m.weight_hh_l0.grad.flatten().tolist()}
print(json.dumps(res))
`;

describe.skipIf(!hasTorch)(`against PyTorch (${PY})`, () => {
  it('outputs and gradients of every layer kind, 2 layers, bidirectional, batchFirst', () => {
    manualSeed(22);
    const cases = KINDS.map((kind) => {
      const layer = makeLayer(kind, 3, 4, { numLayers: 2, bidirectional: true, batchFirst: true });
      const x = randn([2, 5, 3], { dtype: f64, requiresGrad: true });
      const sd = Object.fromEntries(
        Object.entries(layer.stateDict()).map(([k, v]) => [k, { data: [...v.data], shape: v.shape }]),
      );
      return {
        kind,
        layer,
        xT: x,
        req: {
          name: kind,
          kind,
          input: 3,
          hidden: 4,
          numLayers: 2,
          bidirectional: true,
          sd,
          x: { data: [...x.data], shape: x.shape },
        },
      };
    });
    const r = spawnSync(PY, ['-c', TORCH_SCRIPT], {
      input: JSON.stringify(cases.map((c) => c.req)),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    expect(r.status, r.stderr).toBe(0);
    const torchRes = JSON.parse(r.stdout) as Record<string, { out: number[]; h: number[]; gx: number[]; gw: number[] }>;
    for (const c of cases) {
      const [out, h] = runLayer(c.layer, c.xT, null, null);
      out.pow(2).sum().add(h.sum()).backward();
      const t = torchRes[c.kind];
      const cmp = (a: ArrayLike<number>, b: number[], what: string): void => {
        expect(a.length, what).toBe(b.length);
        for (let i = 0; i < b.length; i++)
          expect(Math.abs(a[i] - b[i]), `${c.kind} ${what} [${i}]`).toBeLessThan(1e-10);
      };
      cmp(out.data, t.out, 'output');
      cmp(h.data, t.h, 'h_n');
      cmp(c.xT.grad!.data, t.gx, 'input gradient');
      cmp(Object.fromEntries(c.layer.namedParameters()).weight_hh_l0.grad!.data, t.gw, 'weight_hh_l0 gradient');
    }
  });
});
