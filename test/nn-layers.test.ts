// The layers' and loss modules' forward values against hand / closed-form computations: Linear
// (and its default init), Flatten, the activation modules, Softmax and LogSoftmax, Dropout,
// BatchNorm1d (training, eval, running stats), LayerNorm, Embedding; MSELoss, L1Loss, HuberLoss,
// CrossEntropyLoss, NLLLoss and BCEWithLogitsLoss.

import { describe, expect, it } from 'vitest';
import { Tensor, tensor, ones } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import * as nn from '../lib/nn/index.js';

const F = nn.functional;

function close(actual: Tensor, expected: number[], tol = 1e-6): void {
  const a = Array.from(actual.data);
  expect(a.length).toBe(expected.length);
  a.forEach((v, i) => {
    if (!(Math.abs(v - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`element ${i}: got ${v}, expected ${expected[i]}`);
    }
  });
}

function set(t: Tensor | null, values: number[]): void {
  if (t === null) throw new Error('tensor is null');
  t.data.set(values);
}

describe('layers: forward values', () => {
  it('Linear computes x Wᵀ + b', () => {
    const m = new nn.Linear(2, 3);
    set(m.weight, [1, 2, 3, 4, 5, 6]);
    set(m.bias, [0.5, -1, 0]);
    const y = m.call(
      tensor([
        [1, -1],
        [2, 0.5],
      ]),
    );
    expect(y.shape).toEqual([2, 3]);
    close(y, [-0.5, -2, -1, 3.5, 7, 13]);
    expect(m.call(tensor([[[1, -1]], [[2, 0.5]]])).shape).toEqual([2, 1, 3]);
    expect(() => m.call(tensor([[1, 2, 3]]))).toThrow(/linear/);
  });

  it('Linear default init is U(±1/√in) for weight and bias, reproducible under manualSeed', () => {
    manualSeed(7);
    const a = new nn.Linear(64, 100);
    manualSeed(7);
    const b = new nn.Linear(64, 100);
    expect(Array.from(a.weight.data)).toEqual(Array.from(b.weight.data));
    const bound = 1 / 8;
    const w = Array.from(a.weight.data);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.95 * bound);
    const variance = w.reduce((s, v) => s + v * v, 0) / w.length;
    expect(variance).toBeGreaterThan((0.9 * bound * bound) / 3);
    expect(variance).toBeLessThan((1.1 * bound * bound) / 3);
    expect(Math.max(...Array.from(a.bias?.data ?? []).map(Math.abs))).toBeLessThanOrEqual(bound);
    const c = new nn.Linear(64, 100);
    expect(Array.from(c.weight.data)).not.toEqual(w);
  });

  it('Flatten keeps the batch dim', () => {
    expect(new nn.Flatten().call(ones([2, 3, 4])).shape).toEqual([2, 12]);
    expect(new nn.Flatten(0).call(ones([2, 3, 4])).shape).toEqual([24]);
  });

  it('activation modules', () => {
    const x = tensor([-2, -0.5, 0, 1, 3], { dtype: 'float64' });
    close(new nn.ReLU().call(x), [0, 0, 0, 1, 3], 1e-12);
    close(new nn.LeakyReLU(0.2).call(x), [-0.4, -0.1, 0, 1, 3], 1e-12);
    close(new nn.LeakyReLU().call(x), [-0.02, -0.005, 0, 1, 3], 1e-12);
    close(
      new nn.Sigmoid().call(x),
      [-2, -0.5, 0, 1, 3].map((v) => 1 / (1 + Math.exp(-v))),
      1e-12,
    );
    close(new nn.Tanh().call(x), [-2, -0.5, 0, 1, 3].map(Math.tanh), 1e-12);
    // x Φ(x), Φ from tabulated erf values
    close(
      new nn.GELU().call(tensor([-1, 0, 1, 2], { dtype: 'float64' })),
      [-0.15865525393145707, 0, 0.8413447460685429, 1.9544997361036416],
      1e-7,
    );
  });

  it('Softmax and LogSoftmax along a chosen dim', () => {
    const x = tensor(
      [
        [1, 2, 3],
        [1, 0, -1],
      ],
      { dtype: 'float64' },
    );
    const rows = [
      [1, 2, 3],
      [1, 0, -1],
    ];
    const lse = rows.map((r) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0)));
    close(
      new nn.LogSoftmax(1).call(x),
      rows.flatMap((r, i) => r.map((v) => v - lse[i])),
      1e-12,
    );
    close(
      new nn.Softmax(-1).call(x),
      rows.flatMap((r, i) => r.map((v) => Math.exp(v - lse[i]))),
      1e-12,
    );
    const cols = [0, 1, 2].map((j) => Math.exp(rows[0][j]) + Math.exp(rows[1][j]));
    close(
      new nn.Softmax(0).call(x),
      rows.flatMap((r) => r.map((v, j) => Math.exp(v) / cols[j])),
      1e-12,
    );
  });

  it('Dropout: zeroes about p, scales the rest by 1/(1-p), identity in eval, reproducible', () => {
    const d = new nn.Dropout(0.3);
    manualSeed(3);
    const y = d.call(ones([10000]));
    const values = Array.from(y.data);
    const zeros = values.filter((v) => v === 0).length;
    expect(zeros / values.length).toBeGreaterThan(0.28);
    expect(zeros / values.length).toBeLessThan(0.32);
    expect(values.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.7) < 1e-6)).toBe(true);
    manualSeed(3);
    expect(Array.from(d.call(ones([10000])).data)).toEqual(values);
    d.eval();
    const x = tensor([1, 2, 3]);
    expect(Array.from(d.call(x).data)).toEqual([1, 2, 3]);
    expect(() => new nn.Dropout(1.5)).toThrow(RangeError);
  });

  it('BatchNorm1d [N, C] in training: biased batch variance, running stats with unbiased variance', () => {
    const bn = new nn.BatchNorm1d(2);
    set(bn.weight, [2, 0.5]);
    set(bn.bias, [0.1, -0.1]);
    const cols = [
      [1, 2, 3, 4],
      [0, 0, 1, 3],
    ];
    const x = tensor([
      [1, 0],
      [2, 0],
      [3, 1],
      [4, 3],
    ]);
    const y = bn.call(x);
    const mean = [2.5, 1];
    const varB = [1.25, 1.5];
    const w = [2, 0.5],
      b = [0.1, -0.1];
    const expected: number[] = [];
    for (let i = 0; i < 4; i++)
      for (let c = 0; c < 2; c++) expected.push(((cols[c][i] - mean[c]) / Math.sqrt(varB[c] + 1e-5)) * w[c] + b[c]);
    close(y, expected, 1e-5);
    close(bn.running_mean as Tensor, [0.25, 0.1]);
    close(bn.running_var as Tensor, [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * 2]);
    close(bn.num_batches_tracked as Tensor, [1]);

    bn.eval();
    const rm = [0.25, 0.1],
      rv = [0.9 + 0.1 * (5 / 3), 1.1];
    const z = bn.call(tensor([[1, 1]]));
    close(
      z,
      [0, 1].map((c) => ((1 - rm[c]) / Math.sqrt(rv[c] + 1e-5)) * w[c] + b[c]),
      1e-5,
    );
    close(bn.num_batches_tracked as Tensor, [1]);
  });

  it('BatchNorm1d [N, C, L] normalises over N and L per channel', () => {
    const bn = new nn.BatchNorm1d(2, { dtype: 'float64' });
    const values = [1, 2, 3, 10, 20, 30, 4, 5, 6, -1, 0, 1]; // [2, 2, 3]
    const y = bn.call(tensor(values, { dtype: 'float64', shape: [2, 2, 3] }));
    const chan = (c: number): number[] => [0, 1].flatMap((n) => values.slice(n * 6 + c * 3, n * 6 + c * 3 + 3));
    const stats = [0, 1].map((c) => {
      const v = chan(c);
      const m = v.reduce((s, a) => s + a, 0) / v.length;
      return {
        m,
        var: v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length,
        unbiased: v.reduce((s, a) => s + (a - m) ** 2, 0) / (v.length - 1),
      };
    });
    close(
      y,
      values.map((v, i) => {
        const c = Math.floor(i / 3) % 2;
        return (v - stats[c].m) / Math.sqrt(stats[c].var + 1e-5);
      }),
      1e-10,
    );
    close(
      bn.running_var as Tensor,
      stats.map((s) => 0.9 + 0.1 * s.unbiased),
      1e-12,
    );
    expect(() => bn.call(ones([2, 3], { dtype: 'float64' }))).toThrow(/channels/);
    expect(() => bn.call(ones([1, 2], { dtype: 'float64' }))).toThrow(/more than 1 value per channel/);
  });

  it('BatchNorm1d with momentum null keeps a cumulative average', () => {
    const bn = new nn.BatchNorm1d(1, { momentum: null, dtype: 'float64' });
    bn.call(tensor([[1], [3]], { dtype: 'float64' }));
    bn.call(tensor([[5], [7]], { dtype: 'float64' }));
    close(bn.running_mean as Tensor, [(2 + 6) / 2], 1e-12);
  });

  it('LayerNorm normalises each sample over the trailing dims', () => {
    const ln = new nn.LayerNorm(3, { dtype: 'float64' });
    set(ln.weight, [1, 2, 3]);
    set(ln.bias, [0, 1, 0]);
    const rows = [
      [1, 2, 6],
      [-1, 0, 1],
    ];
    const y = ln.call(tensor(rows, { dtype: 'float64' }));
    close(
      y,
      rows.flatMap((r) => {
        const m = r.reduce((s, v) => s + v, 0) / 3;
        const v2 = r.reduce((s, v) => s + (v - m) ** 2, 0) / 3;
        return r.map((v, j) => ((v - m) / Math.sqrt(v2 + 1e-5)) * [1, 2, 3][j] + [0, 1, 0][j]);
      }),
      1e-10,
    );
    const ln2 = new nn.LayerNorm([2, 2], { dtype: 'float64' });
    const z = ln2.call(
      tensor(
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
        { dtype: 'float64' },
      ),
    );
    const s = Math.sqrt(1.25 + 1e-5);
    close(z, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-10);
    expect(() => ln.call(ones([2, 4], { dtype: 'float64' }))).toThrow(/layerNorm/);
  });

  it('Embedding picks rows; output shape is indices shape + [dim]; N(0,1) init', () => {
    const e = new nn.Embedding(4, 2);
    set(e.weight, [0, 1, 10, 11, 20, 21, 30, 31]);
    const y = e.call(
      tensor([
        [0, 2],
        [3, 0],
      ]),
    );
    expect(y.shape).toEqual([2, 2, 2]);
    close(y, [0, 1, 20, 21, 30, 31, 0, 1]);
    close(e.call([1]), [10, 11]);
    expect(() => e.call([4])).toThrow(RangeError);
    manualSeed(11);
    const big = new nn.Embedding(100, 100);
    const w = Array.from(big.weight.data);
    const mean = w.reduce((s, v) => s + v, 0) / w.length;
    const sd = Math.sqrt(w.reduce((s, v) => s + (v - mean) ** 2, 0) / w.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });
});

describe('loss modules', () => {
  const x = tensor(
    [
      [0.5, -1],
      [2, 0],
    ],
    { dtype: 'float64' },
  );
  const t = tensor(
    [
      [1, -1],
      [0, 0.25],
    ],
    { dtype: 'float64' },
  );
  const d = [-0.5, 0, 2, -0.25];

  it('MSELoss, L1Loss, HuberLoss with each reduction', () => {
    close(new nn.MSELoss().call(x, t), [d.reduce((s, v) => s + v * v, 0) / 4], 1e-12);
    close(new nn.MSELoss({ reduction: 'sum' }).call(x, t), [d.reduce((s, v) => s + v * v, 0)], 1e-12);
    close(new nn.L1Loss({ reduction: 'none' }).call(x, t), d.map(Math.abs), 1e-12);
    const huber = (v: number, delta: number): number =>
      Math.abs(v) < delta ? 0.5 * v * v : delta * (Math.abs(v) - 0.5 * delta);
    close(new nn.HuberLoss().call(x, t), [d.reduce((s, v) => s + huber(v, 1), 0) / 4], 1e-12);
    close(
      new nn.HuberLoss({ delta: 0.4, reduction: 'none' }).call(x, t),
      d.map((v) => huber(v, 0.4)),
      1e-12,
    );
    expect(() => new nn.MSELoss({ reduction: 'avg' as 'mean' })).toThrow(/reduction/);
  });

  it('CrossEntropyLoss and NLLLoss with class indices', () => {
    const logits = [
      [1, 2, 3],
      [1, 0, -1],
    ];
    const targets = [2, 0];
    const ce = logits.map((r, i) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0)) - r[targets[i]]);
    const z = tensor(logits, { dtype: 'float64' });
    close(new nn.CrossEntropyLoss().call(z, targets), [(ce[0] + ce[1]) / 2], 1e-12);
    close(new nn.CrossEntropyLoss({ reduction: 'none' }).call(z, new Int32Array(targets)), ce, 1e-12);
    close(new nn.NLLLoss({ reduction: 'sum' }).call(F.logSoftmax(z, 1), tensor(targets)), [ce[0] + ce[1]], 1e-12);
    expect(() => new nn.CrossEntropyLoss().call(z, [3, 0])).toThrow(RangeError);
  });

  it('BCEWithLogitsLoss equals -(y log σ(x) + (1 - y) log(1 - σ(x)))', () => {
    const xs = [-3, -0.5, 0, 2];
    const ys = [0, 1, 0.5, 1];
    const sig = (v: number): number => 1 / (1 + Math.exp(-v));
    const expected = xs.map((v, i) => -(ys[i] * Math.log(sig(v)) + (1 - ys[i]) * Math.log(1 - sig(v))));
    close(
      new nn.BCEWithLogitsLoss({ reduction: 'none' }).call(
        tensor(xs, { dtype: 'float64' }),
        tensor(ys, { dtype: 'float64' }),
      ),
      expected,
      1e-12,
    );
  });
});
