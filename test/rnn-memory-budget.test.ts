// Memory-budgeted BPTT (RNN, LSTM, GRU with { memoryBudget }): outputs, final states, the input's
// gradient and every parameter's gradient equal full BPTT's (the same layer without a budget)
// bit for bit, on every backend, in float64 and float32, for lengths across 1..200 and budgets
// from the minimum to more than the sequence needs, with every layer option. The dynamic
// program's costs against values worked by hand, the cell forwards the backward runs against the
// program's count, the saved bytes against the budget, and the error below the minimum.

import { afterAll, describe, expect, it, vi } from 'vitest';
import { Tensor, randn } from '../lib/tensor.js';
import * as nn from '../lib/nn/index.js';
import { manualSeed } from '../lib/random.js';
import { backend, jsBackend } from '../lib/backend/index.js';
import { memoryStats, resetPeakMemoryStats } from '../lib/backend/memory.js';
import { bpttPolicy, bpttRecomputeCost, budgetUnits } from '../lib/ops/rnn-budget.js';
import type { DType } from '../lib/backend/types.js';
import { backendsHere } from './support/native.js';
import { KINDS, type Kind } from './support/rnn.js';

const initial = backend.current();
afterAll(() => backend.use(initial));
const bits = (t: Tensor): number[] => Array.from(t.data);

interface Opts {
  numLayers?: number;
  bidirectional?: boolean;
  batchFirst?: boolean;
  bias?: boolean;
  dropout?: number;
  dtype: DType;
  memoryBudget?: number | null;
}

function make(kind: Kind, input: number, hidden: number, o: Opts): nn.RNNBase {
  if (kind === 'lstm') return new nn.LSTM(input, hidden, o);
  if (kind === 'gru') return new nn.GRU(input, hidden, o);
  return new nn.RNN(input, hidden, { ...o, nonlinearity: kind === 'rnnTanh' ? 'tanh' : 'relu' });
}

/** Forward and backward of a loss over the output and the final states; every result's bits. */
function run(layer: nn.RNNBase, x: Tensor, h0: Tensor | null, c0: Tensor | null, seed: number): number[][] {
  layer.zeroGrad();
  x.grad = null;
  manualSeed(seed);
  const lstm = layer instanceof nn.LSTM;
  const [out, h, c] = lstm
    ? (() => {
        const [o, [hh, cc]] = layer.forward(x, h0 === null ? null : [h0, c0!]);
        return [o, hh, cc];
      })()
    : [...(layer as nn.RNN).forward(x, h0), null];
  let loss = out.mul(out).sum().add(h.mul(3).sum());
  if (c !== null) loss = loss.add(c.mul(c).mean());
  loss.backward();
  const r = [bits(out), bits(h), bits(x.grad!), ...layer.parameters().map((p) => bits(p.grad!))];
  if (c !== null) r.push(bits(c));
  if (h0 !== null) r.push(bits(h0.grad!));
  return r;
}

/** The minimum budget plus `slots` stored states, for batch B and hidden H. */
function budget(kind: Kind, B: number, H: number, dtype: DType, slots: number): number {
  const u = budgetUnits(kind, B, H, dtype === 'float64' ? 8 : 4);
  return u.minBytes + slots * u.stateBytes;
}

function compare(kind: Kind, T: number, slots: number, o: Opts, withH0 = false): void {
  const B = 2;
  const I = 3;
  const H = 4;
  manualSeed(T * 31 + slots);
  const plain = make(kind, I, H, { ...o, memoryBudget: null });
  const lean = make(kind, I, H, { ...o, memoryBudget: budget(kind, B, H, o.dtype, slots) });
  lean.loadStateDict(plain.stateDict());
  const D = (o.numLayers ?? 1) * (o.bidirectional ? 2 : 1);
  const x = randn(o.batchFirst ? [B, T, I] : [T, B, I], { dtype: o.dtype, requiresGrad: true });
  const h0 = withH0 ? randn([D, B, H], { dtype: o.dtype, requiresGrad: true }) : null;
  const c0 = withH0 && kind === 'lstm' ? randn([D, B, H], { dtype: o.dtype, requiresGrad: true }) : null;
  const ref = run(plain, x, h0, c0, 5);
  if (h0) h0.grad = null;
  if (c0) c0.grad = null;
  expect(run(lean, x, h0, c0, 5), `${kind} T=${T} slots=${slots}`).toEqual(ref);
}

describe('the dynamic program', () => {
  it('costs worked by hand', () => {
    // C(t, 0) = t(t+1)/2; C(2, 1) = 1 + C(1, 0) + C(1, 1) = 3;
    // C(3, 1) = min(1 + C(2, 0) + C(1, 1), 2 + C(1, 0) + C(2, 1)) = min(5, 6) = 5.
    const p = bpttPolicy(3, 1);
    expect(Array.from(p.c)).toEqual([0, 0, 1, 0, 3, 3, 6, 5]);
    // With a slot for every state, the forward stores them all: one recomputation per step.
    for (const T of [1, 2, 7, 50]) expect(bpttRecomputeCost(T, T)).toBe(T);
    // No slots: the step before each step's backward is reached from the start again.
    expect(bpttRecomputeCost(10, 0)).toBe(55);
    // More slots never cost more.
    let last = Infinity;
    for (let m = 0; m < 40; m++) {
      const c = bpttRecomputeCost(40, m);
      expect(c).toBeLessThanOrEqual(last);
      last = c;
    }
  });

  it('the backward runs exactly the cell forwards the program counts, and keeps within the budget', () => {
    backend.use('js');
    const B = 2;
    const H = 4;
    for (const kind of ['lstm', 'gru'] as const) {
      for (const [T, slots] of [
        [1, 0],
        [9, 0],
        [30, 2],
        [64, 5],
        [100, 99],
      ]) {
        manualSeed(1);
        const bytes = budget(kind, B, H, 'float64', slots);
        const layer = make(kind, 3, H, { dtype: 'float64', memoryBudget: bytes });
        const x = randn([T, B, 3], { dtype: 'float64' });
        const spy = vi.spyOn(jsBackend, 'rnnCellForward');
        const base = memoryStats().savedBytes;
        resetPeakMemoryStats();
        const hn = (layer.forward(x) as [Tensor, Tensor | [Tensor, Tensor]])[1];
        const h = Array.isArray(hn) ? hn[0] : hn;
        const forward = spy.mock.calls.length;
        // The loss holds h_n (a copy, B x H float64) besides what the layer keeps.
        const loss = h.sum();
        expect(memoryStats().savedBytes - base).toBeLessThanOrEqual(bytes + B * H * 8);
        loss.backward();
        const backwardCalls = spy.mock.calls.length - forward;
        spy.mockRestore();
        expect(forward).toBe(T);
        expect(backwardCalls, `${kind} T=${T} slots=${slots}`).toBe(bpttRecomputeCost(T, slots));
        expect(memoryStats().peakSavedBytes - base).toBeLessThanOrEqual(bytes + B * H * 8);
        // The working state is counted while the backward runs: the peak is at least the minimum.
        expect(memoryStats().peakSavedBytes - base).toBeGreaterThanOrEqual(budget(kind, B, H, 'float64', 0));
        expect(memoryStats().savedBytes).toBe(base);
      }
    }
  });
});

describe.each(backendsHere())('memoryBudget BPTT equals full BPTT bit for bit on the %s backend', (name) => {
  for (const kind of KINDS) {
    it(`${kind}: lengths 1..200, budgets from the minimum to more than needed, float64 and float32`, () => {
      backend.use(name);
      const cases: [number, number][] = [
        [1, 0],
        [2, 0],
        [2, 1],
        [3, 1],
        [5, 0],
        [7, 2],
        [16, 3],
        [33, 1],
        [60, 7],
        [128, 11],
        [200, 4],
        [200, 14],
        [200, 250],
      ];
      for (const [T, slots] of cases) compare(kind, T, slots, { dtype: 'float64' });
      for (const [T, slots] of [
        [17, 2],
        [90, 9],
      ] as const)
        compare(kind, T, slots, { dtype: 'float32' });
    });
  }

  it('every option: two layers, bidirectional, batchFirst, no bias, dropout between layers, given state', () => {
    backend.use(name);
    for (const kind of KINDS) {
      compare(kind, 23, 3, { dtype: 'float64', numLayers: 2, bidirectional: true }, true);
      compare(kind, 12, 2, { dtype: 'float64', batchFirst: true, bias: false }, true);
      compare(kind, 15, 1, { dtype: 'float32', numLayers: 2, dropout: 0.4 });
    }
  });
});

describe('memoryBudget errors', () => {
  it('a budget below the minimum says the minimum', () => {
    const min = budget('lstm', 2, 4, 'float32', 0);
    const layer = new nn.LSTM(3, 4, { memoryBudget: min - 1 });
    expect(() => layer.forward(randn([5, 2, 3]))).toThrow(
      `LSTM: memoryBudget ${min - 1} bytes is below the minimum ${min} bytes for batch 2, hidden 4`,
    );
    expect(() => new nn.GRU(3, 4, { memoryBudget: -5 })).toThrow('memoryBudget must be a positive number of bytes');
  });

  it('createGraph through a budgeted layer is refused with a clear message', () => {
    const layer = new nn.GRU(3, 4, { memoryBudget: 1e6, dtype: 'float64' });
    const x = randn([4, 2, 3], { dtype: 'float64', requiresGrad: true });
    const [out] = layer.forward(x);
    expect(() => out.sum().backward(null, { createGraph: true })).toThrow('createGraph');
  });
});
