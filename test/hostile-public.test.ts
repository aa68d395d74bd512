// Hostile and careless calls through the public API (issue 10): in-place writes under a saved
// graph (version counters), data shorter than its shape, huge creations, null state dicts,
// options that torch or common sense refuses, maxPool over nothing, and a DataLoader generator.
import { describe, expect, it } from 'vitest';
import {
  Generator,
  Tensor,
  backend,
  manualSeed,
  nn,
  optim,
  F,
  tensor,
  zeros,
  randn,
  full,
  data,
} from '../lib/index.js';

describe('version counters: an in-place write under a saved graph is refused at backward', () => {
  it('markModified_ after writing a saved input gives torch’s message with the versions', () => {
    const w = tensor([0.5, 1, 2], { requiresGrad: true });
    const y = w.exp().sum();
    w.data[0] = 5;
    w.markModified_();
    expect(w._version).toBe(1);
    expect(() => y.backward()).toThrow(
      /one of the variables needed for gradient computation has been modified by an inplace operation: \[float32 \[3\]\], which is input 0 of exp, is at version 1; expected version 0 instead/,
    );
  });

  it('replacing a saved tensor’s data array is refused too', () => {
    const w = tensor([1, 2, 3], { requiresGrad: true });
    const y = w.mul(w).sum();
    w.data = new Float32Array([9, 9, 9]);
    expect(() => y.backward()).toThrow(/the data array of input 0 of mul was replaced/);
  });

  it('an optimizer step between two backwards of a retained graph is refused; a normal loop is not', () => {
    manualSeed(1);
    const model = new nn.Linear(3, 2);
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    const x = randn([4, 3]);
    const v0 = model.weight._version; // init wrote the weight in place: 1
    expect(v0).toBe(1);
    const loss = model.forward(x).pow(2).mean();
    loss.backward(null, { retainGraph: true });
    opt.step();
    expect(() => loss.backward()).toThrow(/which is input 1 of linear, is at version 2; expected version 1 instead/);
    // forward, backward, step, again: every graph is built after the last write.
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      model.forward(x).pow(2).mean().backward();
      opt.step();
    }
    expect(model.weight._version).toBe(v0 + 4); // one bump per step
    expect(x._version).toBe(0);
  });

  it('the gradient is right when nothing was modified (the check costs nothing semantically)', () => {
    const w = tensor([0.5, -1], { requiresGrad: true });
    w.exp().sum().backward();
    expect(Array.from(w.grad!.data)).toEqual([Math.fround(Math.exp(0.5)), Math.fround(Math.exp(-1))]);
  });
});

describe('creation and state-dict messages name the op', () => {
  it('new Tensor with data shorter or longer than its shape is refused', () => {
    expect(() => new Tensor(new Float32Array(2), [10])).toThrow(
      new RangeError(
        'Tensor: shape [10] holds 10 elements but data has 2; pass data of exactly that length (or reshape)',
      ),
    );
    expect(() => new Tensor(new Float32Array(12), [10])).toThrow(RangeError);
    expect(new Tensor(new Float32Array(6), [2, 3]).shape).toEqual([2, 3]);
  });

  it('zeros([1e6, 1e6]) and friends say which op and how many bytes', () => {
    expect(() => zeros([1e6, 1e6])).toThrow(/^zeros: 1000000000000 elements of float32 would need 4000000000000 bytes/);
    expect(() => full([1e5, 1e5, 10], 1, { dtype: 'float64' })).toThrow(/^full: .* would need 800000000000 bytes/);
    expect(() => randn([2 ** 31])).toThrow(/^randn: /);
  });

  it('loadStateDict(null) names the method', () => {
    const m = new nn.Linear(2, 2);
    expect(() => m.loadStateDict(null as never)).toThrow(
      /Linear.loadStateDict: expected a state dict \(an object of Tensors by name\), got null/,
    );
    // A key named like an Object.prototype member is an unexpected key, not a crash.
    const sd = { ...m.stateDict(), constructor: m.weight } as Record<string, Tensor>;
    expect(() => m.loadStateDict(sd)).toThrow(/unexpected keys: constructor/);
  });
});

describe('options are validated where they enter', () => {
  const x = randn([4, 3, 2, 2]);
  it('batchNorm momentum NaN, layerNorm eps < 0, indexSelect with a 2-D index', () => {
    expect(() => F.batchNorm(x, zeros([3]), full([3], 1), null, null, true, NaN)).toThrow(
      /batchNorm: momentum and eps must be finite/,
    );
    expect(() => new nn.BatchNorm2d(3, { momentum: NaN })).toThrow(/BatchNorm: momentum must be a finite number/);
    expect(() => F.layerNorm(randn([2, 3]), 3, null, null, -1)).toThrow(
      /layerNorm: eps must be a finite number >= 0, got -1/,
    );
    expect(() => new nn.LayerNorm(3, { eps: -1 })).toThrow(/LayerNorm: eps/);
    expect(() => randn([5, 2]).indexSelect(0, tensor([[0, 1]]))).toThrow(
      /indexSelect: index must be 1-D, got shape \[1, 2\]/,
    );
    expect(randn([5, 2]).indexSelect(0, tensor([0, 4])).shape).toEqual([2, 2]);
  });

  it('SGD lr Infinity, ExponentialLR gamma NaN, setNumThreads(1e6)', () => {
    const p = [zeros([2], { requiresGrad: true })];
    expect(() => new optim.SGD(p, { lr: Infinity })).toThrow(/SGD: invalid learning rate Infinity/);
    const opt = new optim.SGD(p, { lr: 0.1 });
    expect(() => new optim.lrScheduler.ExponentialLR(opt, { gamma: NaN })).toThrow(
      /ExponentialLR: gamma must be a finite number >= 0, got NaN/,
    );
    expect(() => new optim.lrScheduler.StepLR(opt, { stepSize: 1, gamma: Infinity })).toThrow(/StepLR: gamma/);
    const s = new optim.lrScheduler.ExponentialLR(opt, { gamma: 0.5 });
    expect(() => s.loadStateDict({ ...s.stateDict(), gamma: NaN })).toThrow(/ExponentialLR.loadStateDict: gamma/);
    expect(() => backend.setNumThreads(1e6)).toThrow(
      /backend.setNumThreads: n must be an integer in \[1, 256\], got 1000000/,
    );
  });

  it('optimizer.loadStateDict refuses lr NaN or -5 as the constructor does, and changes nothing', () => {
    const p = [zeros([2], { requiresGrad: true })];
    const opt = new optim.Adam(p, { lr: 0.01 });
    for (const lr of [NaN, -5]) {
      const sd = opt.stateDict();
      sd.param_groups[0].lr = lr;
      expect(() => opt.loadStateDict(sd)).toThrow(
        new RegExp(`Adam.loadStateDict: parameter group 0: Adam: invalid learning rate ${lr}`),
      );
      expect(opt.paramGroups[0].lr).toBe(0.01);
    }
  });
});

describe('maxPool2d over an empty plane', () => {
  it('refuses as torch does (a batch of 0 is fine)', () => {
    expect(() => F.maxPool2d(zeros([1, 1, 0, 0]), 2, { padding: 1 })).toThrow(
      /maxPool2d: expected non-zero channel, height and width, got input shape \[1, 1, 0, 0\]/,
    );
    expect(() => F.maxPool2d(zeros([1, 0, 4, 4]), 2)).toThrow(/maxPool2d: expected non-zero/);
    expect(F.maxPool2d(zeros([0, 1, 4, 4]), 2).shape).toEqual([0, 1, 2, 2]);
  });
});

describe('DataLoader({ generator }) and Generator', () => {
  const ds = new data.TensorDataset(
    tensor(Array.from({ length: 10 }, (_, i) => i)),
    tensor(Array.from({ length: 10 }, (_, i) => i)),
  );
  const orders = (dl: InstanceType<typeof data.DataLoader>): number[] => [...dl].flatMap(([x]) => Array.from(x.data));

  it('two loaders interleaved draw the same orders as each alone', () => {
    const solo = (seed: number): number[][] => {
      const dl = new data.DataLoader(ds, { batchSize: 3, shuffle: true, generator: new Generator(seed) });
      return [orders(dl), orders(dl)];
    };
    const a = solo(1),
      b = solo(2);
    const da = new data.DataLoader(ds, { batchSize: 3, shuffle: true, generator: new Generator(1) });
    const db = new data.DataLoader(ds, { batchSize: 3, shuffle: true, generator: new Generator(2) });
    const inter = [orders(da), orders(db), orders(da), orders(db)];
    expect([inter[0], inter[2]]).toEqual(a);
    expect([inter[1], inter[3]]).toEqual(b);
    expect(a[0]).not.toEqual(b[0]);
    expect([...a[0]].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('draws what the global generator draws after the same seed, and restores its state', () => {
    const g = new Generator().manualSeed(123);
    manualSeed(123);
    const globalPerm = Array.from(new data.DataLoader(ds, { batchSize: 10, shuffle: true })).flatMap(([x]) =>
      Array.from(x.data),
    );
    const st = g.getState();
    const p1 = Array.from(g.randperm(10));
    expect(p1).toEqual(globalPerm);
    g.setState(st);
    expect(Array.from(g.randperm(10))).toEqual(p1);
    expect(() => new data.DataLoader(ds, { generator: {} as never })).toThrow(
      /DataLoader: generator must be a Generator/,
    );
  });
});
