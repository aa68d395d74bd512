// nn.Module bookkeeping (state_dict names as torch's, loading, modes, casting) and the layers'
// forward values against hand / closed-form computations.

import { describe, expect, it } from 'vitest';
import { Tensor, tensor, ones } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import * as nn from '../lib/nn/index.js';
import * as backprop from '../lib/index.js';

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

class Net extends nn.Module {
  encoder = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.BatchNorm1d(4));
  head = new nn.Linear(4, 2, { bias: false });
  scale = nn.parameter(ones([2]));

  forward(x: Tensor): Tensor {
    return this.head.call(this.encoder.call(x)).mul(this.scale);
  }
}

describe('public entry point', () => {
  it('exports nn, F (= nn.functional) and optim', () => {
    expect(backprop.F).toBe(backprop.nn.functional);
    expect(typeof backprop.nn.Linear).toBe('function');
    expect(typeof backprop.optim.lrScheduler.CosineAnnealingLR).toBe('function');
    const f = backprop.F;
    for (const name of [
      'linear',
      'relu',
      'leakyRelu',
      'gelu',
      'sigmoid',
      'tanh',
      'softmax',
      'logSoftmax',
      'dropout',
      'batchNorm',
      'layerNorm',
      'embedding',
      'crossEntropy',
      'nllLoss',
      'mseLoss',
      'l1Loss',
      'huberLoss',
      'bceWithLogits',
    ] as const) {
      expect(typeof f[name]).toBe('function');
    }
  });
});

describe('Module: names, traversal, modes', () => {
  it('Sequential(Linear, ReLU, Linear) has torch state_dict names', () => {
    const m = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    expect(Object.keys(m.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['0.weight', [4, 3]],
      ['0.bias', [4]],
      ['2.weight', [2, 4]],
      ['2.bias', [2]],
    ]);
    expect(m.parameters().length).toBe(4);
    expect(m.children().length).toBe(3);
  });

  it('Sequential numbers more than ten children in numeric order', () => {
    const m = new nn.Sequential(...Array.from({ length: 12 }, () => new nn.Linear(1, 1, { bias: false })));
    expect(Object.keys(m.stateDict())).toEqual(Array.from({ length: 12 }, (_, i) => `${i}.weight`));
  });

  it('layers name parameters and buffers as torch does', () => {
    expect(Object.keys(new nn.BatchNorm1d(3).stateDict())).toEqual([
      'weight',
      'bias',
      'running_mean',
      'running_var',
      'num_batches_tracked',
    ]);
    expect(Object.keys(new nn.LayerNorm([2, 3]).stateDict())).toEqual(['weight', 'bias']);
    expect(Object.keys(new nn.Embedding(5, 2).stateDict())).toEqual(['weight']);
    expect(Object.keys(new nn.Linear(2, 2, { bias: false }).stateDict())).toEqual(['weight']);
    expect(Object.keys(new nn.BatchNorm1d(3, { affine: false }).stateDict())).toEqual([
      'running_mean',
      'running_var',
      'num_batches_tracked',
    ]);
  });

  it('nested modules: own parameters first, then children, dotted names', () => {
    const net = new Net();
    expect(Object.keys(net.stateDict())).toEqual([
      'scale',
      'encoder.0.weight',
      'encoder.0.bias',
      'encoder.2.weight',
      'encoder.2.bias',
      'encoder.2.running_mean',
      'encoder.2.running_var',
      'encoder.2.num_batches_tracked',
      'head.weight',
    ]);
    expect(net.namedBuffers().map(([n]) => n)).toEqual([
      'encoder.2.running_mean',
      'encoder.2.running_var',
      'encoder.2.num_batches_tracked',
    ]);
    expect(net.namedModules().map(([n]) => n)).toEqual(['', 'encoder', 'encoder.0', 'encoder.1', 'encoder.2', 'head']);
    expect(
      net.call(
        tensor([
          [1, 2, 3],
          [0, -1, 1],
        ]),
      ).shape,
    ).toEqual([2, 2]);
  });

  it("ModuleList children are named like torch's (layers.0.weight)", () => {
    class Stack extends nn.Module {
      layers = new nn.ModuleList([new nn.Linear(2, 2), new nn.Linear(2, 1)]);
      forward(x: Tensor): Tensor {
        let y = x;
        for (const l of this.layers) y = l.forward(y) as Tensor;
        return y;
      }
    }
    const s = new Stack();
    expect(Object.keys(s.stateDict())).toEqual([
      'layers.0.weight',
      'layers.0.bias',
      'layers.1.weight',
      'layers.1.bias',
    ]);
    expect(s.call(ones([3, 2])).shape).toEqual([3, 1]);
    expect(() => s.layers.forward()).toThrow(/ModuleList has no forward/);
  });

  it('a shared layer is listed once by parameters()', () => {
    const shared = new nn.Linear(2, 2);
    const m = new nn.Sequential(shared, new nn.ReLU(), shared);
    expect(m.parameters().length).toBe(2);
    expect(Object.keys(m.stateDict())).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
  });

  it('train()/eval() reach every descendant', () => {
    const net = new Net();
    expect(net.training).toBe(true);
    net.eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
    expect(net.train(false)).toBe(net);
  });

  it('zeroGrad drops every gradient', () => {
    const m = new nn.Linear(2, 1);
    m.call(tensor([[1, 2]]))
      .sum()
      .backward();
    expect(m.weight.grad).not.toBeNull();
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('to(dtype) casts parameters and buffers in place and keeps values', () => {
    const net = new Net();
    const before = net.stateDict();
    const beforeValues = Object.fromEntries(Object.entries(before).map(([k, v]) => [k, Array.from(v.data)]));
    expect(net.to('float64')).toBe(net);
    const after = net.stateDict();
    for (const [k, v] of Object.entries(after)) {
      expect(v.dtype).toBe('float64');
      expect(Array.from(v.data)).toEqual(beforeValues[k]);
    }
    expect(net.parameters().every((p) => p.requiresGrad && p.isLeaf && p.dtype === 'float64')).toBe(true);
    expect(
      net.call(
        tensor(
          [
            [1, 2, 3],
            [3, 2, 1],
          ],
          { dtype: 'float64' },
        ),
      ).dtype,
    ).toBe('float64');
  });

  it('to(dtype) keeps tied parameters tied', () => {
    const shared = new nn.Linear(2, 2);
    const m = new nn.Sequential(shared, new nn.Tanh(), shared).to('float64');
    expect(m.parameters().length).toBe(2);
    expect((m.at(0) as nn.Linear).weight).toBe((m.at(2) as nn.Linear).weight);
  });

  it('a registered parameter name stays a parameter when reassigned; requiresGrad_ freezes', () => {
    const m = new nn.Linear(2, 1);
    m.weight = tensor([[1, 2]], { requiresGrad: true });
    expect(m.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(m.parameters()[0]).toBe(m.weight);
    m.requiresGrad_(false);
    expect(m.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'bias']);
  });

  it('register* reject names with a dot', () => {
    const m = new nn.Linear(1, 1);
    expect(() => m.registerBuffer('a.b', tensor([1]))).toThrow(/without '\.'/);
    expect(() => m.registerModule('', new nn.ReLU())).toThrow(TypeError);
  });

  it('toString shows the tree', () => {
    expect(new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU()).toString()).toBe(
      'Sequential(\n  (0): Linear(inFeatures=2, outFeatures=3, bias=true)\n  (1): ReLU()\n)',
    );
  });
});

describe('Module: loadStateDict', () => {
  it('round-trips into a fresh model, in place', () => {
    const a = new Net();
    a.train();
    a.call(
      tensor([
        [1, 2, 3],
        [0, 1, 0],
        [2, 2, 2],
      ]),
    ); // moves BatchNorm running stats
    const b = new Net();
    const weight = b.head.weight;
    const result = b.loadStateDict(a.stateDict());
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(b.head.weight).toBe(weight);
    for (const [k, v] of Object.entries(b.stateDict()))
      expect(Array.from(v.data)).toEqual(Array.from(a.stateDict()[k].data));
  });

  it('lists missing, unexpected and wrongly shaped keys in one Error', () => {
    const m = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.Linear(4, 2));
    const sd = m.stateDict();
    delete sd['2.bias'];
    sd['3.weight'] = tensor([1]);
    sd['0.weight'] = tensor([
      [1, 2],
      [3, 4],
    ]);
    let message = '';
    try {
      m.loadStateDict(sd);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/missing keys: 2\.bias/);
    expect(message).toMatch(/unexpected keys: 3\.weight/);
    expect(message).toMatch(/0\.weight: checkpoint has shape \[2, 2\], the model has \[4, 3\]/);
  });

  it('strict: false tolerates missing and unexpected keys but never wrong shapes', () => {
    const m = new nn.Linear(2, 2);
    const w = tensor([
      [1, 2],
      [3, 4],
    ]);
    const result = m.loadStateDict({ weight: w, extra: tensor([0]) }, { strict: false });
    expect(result).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['extra'] });
    expect(Array.from(m.weight.data)).toEqual([1, 2, 3, 4]);
    expect(() => m.loadStateDict({ bias: tensor([1, 2, 3]) }, { strict: false })).toThrow(
      /bias: checkpoint has shape \[3\]/,
    );
  });

  it('converts float64 values into a float32 model', () => {
    const m = new nn.Linear(1, 1);
    m.loadStateDict({ weight: tensor([[0.1]], { dtype: 'float64' }), bias: tensor([0.25], { dtype: 'float64' }) });
    expect(m.weight.data[0]).toBe(Math.fround(0.1));
  });
});

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

describe('nn.init', () => {
  it('gains follow torch.nn.init.calculate_gain', () => {
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(nn.init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.0001)), 15);
    expect(nn.init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(nn.init.calculateGain('sigmoid')).toBe(1);
    expect(nn.init.calculateGain('selu')).toBe(0.75);
  });

  it('fans use the receptive field and need 2 dims', () => {
    expect(nn.init.calculateFanInAndFanOut(ones([8, 3, 5, 5]))).toEqual([75, 200]);
    expect(() => nn.init.xavierUniform(ones([4]))).toThrow(/at least 2 dimensions/);
  });

  it('uniform initialisers stay inside their bounds and fill them', () => {
    const w = ones([50, 80], { dtype: 'float64' });
    const check = (bound: number): void => {
      const m = Math.max(...Array.from(w.data).map(Math.abs));
      expect(m).toBeLessThanOrEqual(bound);
      expect(m).toBeGreaterThan(0.99 * bound);
    };
    nn.init.xavierUniform(w, 2);
    check(2 * Math.sqrt(6 / 130));
    nn.init.kaimingUniform(w, { nonlinearity: 'relu' });
    check(Math.SQRT2 * Math.sqrt(3 / 80));
    nn.init.kaimingUniform(w, { mode: 'fan_out', nonlinearity: 'relu' });
    check(Math.SQRT2 * Math.sqrt(3 / 50));
    nn.init.uniform(w, -0.3, 0.3);
    check(0.3);
  });

  it('normal initialisers have the right standard deviation', () => {
    const w = ones([200, 300], { dtype: 'float64' });
    const sd = (): number => {
      const v = Array.from(w.data);
      const m = v.reduce((s, a) => s + a, 0) / v.length;
      return Math.sqrt(v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length);
    };
    nn.init.xavierNormal(w);
    expect(sd() / Math.sqrt(2 / 500)).toBeCloseTo(1, 1);
    nn.init.kaimingNormal(w, { mode: 'fan_out', nonlinearity: 'relu' });
    expect(sd() / (Math.SQRT2 / Math.sqrt(200))).toBeCloseTo(1, 1);
    nn.init.normal(w, 3, 0.5);
    expect(sd()).toBeCloseTo(0.5, 1);
    nn.init.zeros(w);
    expect(Array.from(w.data).every((v) => v === 0)).toBe(true);
    nn.init.ones(w);
    expect(Array.from(w.data).every((v) => v === 1)).toBe(true);
  });

  it('manualSeed makes every initialiser reproducible', () => {
    const a = ones([3, 4]);
    const b = ones([3, 4]);
    manualSeed(5);
    nn.init.kaimingNormal(a);
    manualSeed(5);
    nn.init.kaimingNormal(b);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });
});
