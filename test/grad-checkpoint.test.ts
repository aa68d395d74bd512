// nn.utils.checkpoint and checkpointSequential: outputs, the input's gradient and every parameter's
// .grad equal those of the plain call bit for bit (the reference is the same model run without
// checkpointing), on every backend and in both float dtypes: MLPs with dropout in training mode,
// LeNet, BatchNorm, nested checkpoints, grad() with respect to parameters inside a segment, double
// backward (gradgradcheck against finite differences) and the noGrad plain call. The saved bytes of
// a checkpointed chain against the count derived by hand.

import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Tensor, randn } from '../lib/tensor.js';
import * as nn from '../lib/nn/index.js';
import { manualSeed } from '../lib/random.js';
import { backend } from '../lib/backend/index.js';
import { memoryStats } from '../lib/backend/memory.js';
import { grad, gradgradcheck, noGrad } from '../lib/autograd/index.js';
import type { DType } from '../lib/backend/types.js';
import { backendsHere } from './support/native.js';
import { PYTHON, torchHere } from './support/torch.js';

const { checkpoint, checkpointSequential } = nn.utils;
const initial = backend.current();
afterAll(() => backend.use(initial));

const bits = (t: Tensor): number[] => Array.from(t.data);

function mlp(dtype: DType, width: number, layers: number, dropout: number): nn.Sequential {
  const m = new nn.Sequential();
  for (let i = 0; i < layers; i++) {
    m.append(new nn.Linear(width, width, { dtype }));
    m.append(new nn.Tanh());
    if (dropout > 0) m.append(new nn.Dropout(dropout));
  }
  m.append(new nn.Linear(width, 3, { dtype }));
  return m;
}

function lenet(dtype: DType): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2, dtype }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5, { dtype }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120, { dtype }),
    new nn.ReLU(),
    new nn.Linear(120, 84, { dtype }),
    new nn.ReLU(),
    new nn.Linear(84, 10, { dtype }),
  );
}

/** Loss, input gradient and parameter gradients of one step with forward `run`, RNG at `seed`. */
function step(model: nn.Module, x: Tensor, seed: number, run: (x: Tensor) => Tensor): number[][] {
  model.zeroGrad();
  x.grad = null;
  manualSeed(seed);
  const y = run(x);
  const loss = y.mul(y).mean();
  loss.backward();
  return [bits(y), bits(x.grad!), ...model.parameters().map((p) => bits(p.grad!))];
}

describe.each(backendsHere())('checkpoint on the %s backend', (name) => {
  backend.use(name);
  for (const dtype of ['float32', 'float64'] as const) {
    it(`an MLP with dropout (${dtype}): every segment count gives the plain gradients bit for bit`, () => {
      backend.use(name);
      manualSeed(3);
      const model = mlp(dtype, 16, 6, 0.25); // 19 modules
      const x = randn([8, 16], { dtype, requiresGrad: true });
      const plain = step(model, x, 7, (v) => model.call(v));
      for (const segments of [1, 2, 4, 19]) {
        expect(step(model, x, 7, (v) => checkpointSequential(model, segments, v))).toEqual(plain);
      }
      // checkpoint() around the whole model, the input not requiring grad: parameters still get
      // their gradients (non-reentrant semantics).
      const x0 = randn([8, 16], { dtype });
      model.zeroGrad();
      manualSeed(9);
      model.call(x0).sum().backward();
      const ref = model.parameters().map((p) => bits(p.grad!));
      model.zeroGrad();
      manualSeed(9);
      checkpoint((v) => model.call(v), x0)
        .sum()
        .backward();
      expect(model.parameters().map((p) => bits(p.grad!))).toEqual(ref);
    });

    it(`LeNet (${dtype}): gradients bit for bit with 3 segments`, () => {
      backend.use(name);
      manualSeed(4);
      const model = lenet(dtype);
      const x = randn([2, 1, 28, 28], { dtype, requiresGrad: true });
      const plain = step(model, x, 1, (v) => model.call(v));
      expect(step(model, x, 1, (v) => checkpointSequential(model, 3, v))).toEqual(plain);
    });
  }

  it('BatchNorm: gradients bit for bit; running statistics updated again by the recomputation, as torch 1.13', () => {
    backend.use(name);
    manualSeed(5);
    const model = new nn.Sequential(
      new nn.Linear(6, 8, { dtype: 'float64' }),
      new nn.BatchNorm1d(8, { dtype: 'float64' }),
      new nn.Tanh(),
      new nn.Linear(8, 2, { dtype: 'float64' }),
    );
    const twin = new nn.Sequential(
      new nn.Linear(6, 8, { dtype: 'float64' }),
      new nn.BatchNorm1d(8, { dtype: 'float64' }),
      new nn.Tanh(),
      new nn.Linear(8, 2, { dtype: 'float64' }),
    );
    twin.loadStateDict(model.stateDict());
    const x = randn([10, 6], { dtype: 'float64', requiresGrad: true });
    const plain = step(twin, x, 0, (v) => twin.call(v));
    expect(step(model, x, 0, (v) => checkpointSequential(model, 2, v))).toEqual(plain);
    // The checkpointed BatchNorm ran forward twice (forward, then recomputation in backward);
    // torch 1.13's checkpoint does the same (see the cross-check below): its statistics equal
    // the plain model's after a second forward on the same batch.
    const bn = model.at(1) as nn.BatchNorm1d;
    const bnTwin = twin.at(1) as nn.BatchNorm1d;
    expect(bn.num_batches_tracked!.item()).toBe(2);
    twin.call(x);
    expect(bits(bn.running_mean!)).toEqual(bits(bnTwin.running_mean!));
    expect(bits(bn.running_var!)).toEqual(bits(bnTwin.running_var!));
  });

  it('nested checkpoints, and grad() with respect to parameters inside a segment', () => {
    backend.use(name);
    manualSeed(6);
    const model = mlp('float64', 8, 4, 0.5);
    const x = randn([5, 8], { dtype: 'float64', requiresGrad: true });
    const plain = step(model, x, 2, (v) => model.call(v));
    const mods = [...model];
    const run = (a: number, b: number) => (v: Tensor) => mods.slice(a, b).reduce((h, m) => m.forward(h) as Tensor, v);
    const nested = (v: Tensor): Tensor =>
      checkpoint((u: Tensor) => run(6, 13)(checkpoint((w: Tensor) => run(3, 6)(checkpoint(run(0, 3), w)), u)), v);
    expect(step(model, x, 2, nested)).toEqual(plain);
    const w = model.parameters();
    manualSeed(2);
    const ref = grad(model.call(x).sum(), w).map(bits);
    manualSeed(2);
    expect(grad(nested(x).sum(), w).map(bits)).toEqual(ref);
  });

  it('double backward through a checkpoint (gradgradcheck) and a nested one', () => {
    backend.use(name);
    manualSeed(8);
    const w = randn([4, 4], { dtype: 'float64', requiresGrad: true });
    const x = randn([3, 4], { dtype: 'float64', requiresGrad: true });
    const seg = (v: Tensor): Tensor => v.matmul(w).tanh().mul(v.sigmoid());
    expect(gradgradcheck((a, b) => checkpoint((v: Tensor) => seg(v).matmul(b), a), [x, w])).toBe(true);
    expect(
      gradgradcheck((a) => checkpoint((v: Tensor) => checkpoint(seg, v.mul(v)).exp(), a), [x], { atol: 1e-4 }),
    ).toBe(true);
  });

  it('under noGrad it is the plain call', () => {
    backend.use(name);
    manualSeed(1);
    const model = mlp('float32', 6, 2, 0);
    const x = randn([4, 6]);
    const a = noGrad(() => checkpointSequential(model, 2, x));
    const b = noGrad(() => model.call(x));
    expect(a.gradFn).toBeNull();
    expect(bits(a)).toEqual(bits(b));
  });
});

describe('checkpoint memory', () => {
  it('a checkpointed chain keeps only its input (hand count)', () => {
    // x: [64, 64] float32 = 16384 bytes, not a leaf (h = leaf * 2: mul keeps only the leaf).
    // Plain: tanh 1 keeps h (its input) and y1 (its output), tanh 2 keeps y2, tanh 3 keeps y3:
    // 4 x 16384. Checkpointed: the node keeps h only.
    const leaf = randn([64, 64], { requiresGrad: true });
    const chain = (v: Tensor): Tensor => v.tanh().tanh().tanh();
    const before = memoryStats().savedBytes;
    const h = leaf.mul(2);
    const plain = chain(h);
    expect(memoryStats().savedBytes - before).toBe(4 * 16384);
    plain.sum().backward();
    expect(memoryStats().savedBytes).toBe(before);
    const h2 = leaf.mul(2);
    const ck = checkpoint(chain, h2);
    expect(memoryStats().savedBytes - before).toBe(16384);
    ck.sum().backward();
    expect(memoryStats().savedBytes).toBe(before);
  });
});

describe('torch 1.13 reference for BatchNorm under checkpoint', () => {
  it.skipIf(!torchHere())('torch updates running statistics twice per checkpointed forward and backward', () => {
    const script = [
      'import torch',
      'from torch.utils.checkpoint import checkpoint',
      'bn = torch.nn.BatchNorm1d(3)',
      'x = torch.randn(8, 3, requires_grad=True)',
      'out = []',
      'for r in (True, False):',
      '    bn.reset_running_stats()',
      '    checkpoint(bn, x, use_reentrant=r).sum().backward()',
      '    out.append(int(bn.num_batches_tracked))',
      'print(out)',
    ].join('\n');
    const r = spawnSync(PYTHON, ['-c', script], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout.trim()).toBe('[2, 2]');
  });
});

describe('fit({ checkpointSegments })', () => {
  it('trains to the same weights bit for bit, with a lower peak of saved bytes in the epoch logs', async () => {
    const { fit } = await import('../lib/train/fit.js');
    const { SGD } = await import('../lib/optim/index.js');
    const runFit = async (segments?: number) => {
      manualSeed(11);
      const model = mlp('float32', 32, 6, 0.2);
      const xs = randn([64, 32]);
      const ys = randn([64, 3]);
      const batches: [Tensor, Tensor][] = [0, 1, 2, 3].map((i) => [
        new Tensor(xs.data.slice(i * 512, (i + 1) * 512), [16, 32]),
        new Tensor(ys.data.slice(i * 48, (i + 1) * 48), [16, 3]),
      ]);
      const base = memoryStats().savedBytes; // graphs other tests left alive count too
      const history = await fit(model, {
        train: batches,
        epochs: 2,
        optimizer: new SGD(model.parameters(), { lr: 0.1 }),
        loss: (o, t) => o.sub(t).pow(2).mean(),
        checkpointSegments: segments,
      });
      return { weights: model.parameters().map(bits), peak: history.epochs[1].peakSavedBytes! - base };
    };
    const plain = await runFit();
    const ck = await runFit(4);
    expect(ck.weights).toEqual(plain.weights);
    expect(ck.peak).toBeLessThan(plain.peak / 2);
  });
});
