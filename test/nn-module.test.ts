// nn.Module bookkeeping: the public entry point's exports, state_dict names as torch's (Sequential,
// ModuleList, nested and shared modules), traversal, train/eval modes, zeroGrad, casting with
// to(dtype), reassigned and frozen parameters, toString, and loadStateDict (round trip, the one
// Error listing every mismatch, strict: false, float64 values into a float32 model).

import { describe, expect, it } from 'vitest';
import { Tensor, tensor, ones } from '../lib/tensor.js';
import * as nn from '../lib/nn/index.js';
import * as backprop from '../lib/index.js';

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
