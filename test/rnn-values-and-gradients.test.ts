// Recurrent layers (tanh and relu RNN, LSTM, GRU) on every backend: output and final state against
// a float64 reference written here from torch's equations, and gradcheck of the input, the initial
// state and every parameter, over 1 and 2 layers, one and two directions, with and without an
// initial state and bias, several sequence lengths; the fused backward against the rule in Tensor
// ops; double backward through the recurrence (gradgradcheck).

import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, randn } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { backend } from '../lib/backend/index.js';
import { grad, gradcheck, gradgradcheck } from '../lib/autograd/index.js';
import { backendsHere } from './support/native.js';
import { KINDS, expectClose, f64, makeLayer, runLayer, type Config, type Kind } from './support/rnn.js';

const initial = backend.current();
afterAll(() => backend.use(initial));
const backends = backendsHere();

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
