// Layer gradients (inputs and parameters) against central finite differences in float64, and a
// small end-to-end training run through modules, losses and optimizers.

import { describe, expect, it } from 'vitest';
import { Tensor, tensor, randn } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { gradcheck, gradgradcheck } from '../lib/autograd/index.js';
import * as nn from '../lib/nn/index.js';
import * as optim from '../lib/optim/index.js';

const f64 = { dtype: 'float64' as const };

function input(shape: number[]): Tensor {
  const x = randn(shape, f64);
  x.requiresGrad = true;
  return x;
}

describe('layer gradients (gradcheck)', () => {
  it('Linear: input, weight and bias', () => {
    manualSeed(1);
    const m = new nn.Linear(3, 2, f64);
    const x = input([4, 3]);
    expect(gradcheck((xx) => m.call(xx), [x, m.weight, m.bias as Tensor])).toBe(true);
  });

  it('BatchNorm1d in training ([N, C] and [N, C, L]) and in eval', () => {
    manualSeed(2);
    const bn = new nn.BatchNorm1d(3, f64);
    bn.weight?.data.set([1.5, -0.5, 2]);
    bn.bias?.data.set([0.1, 0.2, -0.3]);
    const params = [bn.weight as Tensor, bn.bias as Tensor];
    expect(gradcheck((x) => bn.call(x), [input([5, 3]), ...params])).toBe(true);
    expect(gradcheck((x) => bn.call(x), [input([2, 3, 4]), ...params])).toBe(true);
    bn.eval();
    expect(gradcheck((x) => bn.call(x), [input([4, 3]), ...params])).toBe(true);
  });

  it('LayerNorm over one and two trailing dims', () => {
    manualSeed(3);
    const ln = new nn.LayerNorm(4, f64);
    ln.weight?.data.set([1, 2, -1, 0.5]);
    expect(gradcheck((x) => ln.call(x), [input([3, 4]), ln.weight as Tensor, ln.bias as Tensor])).toBe(true);
    const ln2 = new nn.LayerNorm([2, 3], f64);
    expect(gradcheck((x) => ln2.call(x), [input([2, 2, 3]), ln2.weight as Tensor, ln2.bias as Tensor])).toBe(true);
  });

  it('Embedding: weight rows, repeated indices accumulate', () => {
    manualSeed(4);
    const e = new nn.Embedding(5, 3, f64);
    expect(gradcheck(() => e.call([1, 3, 1, 0]), [e.weight])).toBe(true);
  });

  it('an MLP with cross-entropy, through every parameter', () => {
    manualSeed(5);
    const model = new nn.Sequential(
      new nn.Linear(3, 5, f64),
      new nn.Tanh(),
      new nn.Linear(5, 4, f64),
      new nn.GELU(),
      new nn.Linear(4, 3, f64),
    );
    const loss = new nn.CrossEntropyLoss();
    const x = randn([6, 3], f64);
    const y = [0, 2, 1, 1, 0, 2];
    expect(gradcheck(() => loss.call(model.call(x), y), model.parameters())).toBe(true);
  });

  it('second derivatives of LayerNorm and BatchNorm (gradgradcheck)', () => {
    manualSeed(6);
    const ln = new nn.LayerNorm(3, f64);
    expect(gradgradcheck((x) => ln.call(x), [input([2, 3])])).toBe(true);
    const bn = new nn.BatchNorm1d(2, f64);
    expect(gradgradcheck((x) => bn.call(x), [input([3, 2])])).toBe(true);
  });
});

describe('training end to end', () => {
  function data(): [Tensor, number[]] {
    // two interleaved classes on a line: not linearly separable in x alone, separable with x²
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 0; i < 32; i++) {
      const v = -2 + (4 * i) / 31;
      xs.push(v, v * 0.5);
      ys.push(Math.abs(v) < 1 ? 1 : 0);
    }
    return [tensor(xs, { shape: [32, 2] }), ys];
  }

  for (const [name, make] of [
    ['SGD with nesterov momentum', (ps: Tensor[]) => new optim.SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })],
    ['Adam', (ps: Tensor[]) => new optim.Adam(ps, { lr: 0.02 })],
    ['RMSprop', (ps: Tensor[]) => new optim.RMSprop(ps, { lr: 0.01 })],
  ] as const) {
    it(`${name} fits a small classifier (loss falls by 80%)`, () => {
      manualSeed(10);
      const [x, y] = data();
      const model = new nn.Sequential(
        new nn.Linear(2, 16),
        new nn.ReLU(),
        new nn.BatchNorm1d(16),
        new nn.Linear(16, 2),
      );
      const lossFn = new nn.CrossEntropyLoss();
      const opt = make(model.parameters());
      const first = lossFn.call(model.call(x), y).item();
      let last = first;
      for (let step = 0; step < 150; step++) {
        opt.zeroGrad();
        const loss = lossFn.call(model.call(x), y);
        loss.backward();
        opt.step();
        last = loss.item();
      }
      expect(last).toBeLessThan(0.2 * first);
    });
  }

  it('LBFGS with strong Wolfe fits a linear regression exactly', () => {
    manualSeed(12);
    const x = randn([20, 3], f64);
    const trueW = tensor([[1.5, -2, 0.5]], f64);
    const y = x.matmul(trueW.transpose(0, 1)).add(0.25);
    const model = new nn.Linear(3, 1, f64);
    const lossFn = new nn.MSELoss();
    const opt = new optim.LBFGS(model.parameters(), { lineSearchFn: 'strong_wolfe', maxIter: 50 });
    opt.step(() => {
      opt.zeroGrad();
      const loss = lossFn.call(model.call(x), y);
      loss.backward();
      return loss;
    });
    Array.from(model.weight.data).forEach((v, i) => expect(v).toBeCloseTo(trueW.data[i], 5));
    expect(model.bias?.data[0]).toBeCloseTo(0.25, 5);
  });
});
