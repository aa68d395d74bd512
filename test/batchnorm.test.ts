// batchNorm and BatchNorm2d: outputs and running statistics against the formulas computed here
// in plain loops (torch's rule: biased variance to normalise, unbiased variance into running_var,
// running = (1 - momentum) * running + momentum * batch), gradcheck/gradgradcheck in float64 on
// every backend that loads (training and eval; 2-D, 3-D and 4-D inputs), native against js in
// float32 (|native - js| <= 1e-5 (1 + |js|)), the module's state_dict names and its errors.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, gradcheck, gradgradcheck, nn, F } from '../lib/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf, onJsThenNative, outputAndGrads } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

/** Per-channel mean and biased variance of x viewed as [N, C, inner], in plain loops. */
function channelStats(x: Tensor): { mean: number[]; variance: number[]; count: number } {
  const [n, c] = x.shape;
  const inner = x.size / (n * c);
  const mean: number[] = [];
  const variance: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const vals: number[] = [];
    for (let i = 0; i < n; i++) for (let j = 0; j < inner; j++) vals.push(x.data[(i * c + ch) * inner + j]);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    mean.push(m);
    variance.push(vals.reduce((a, b) => a + (b - m) ** 2, 0) / vals.length);
  }
  return { mean, variance, count: n * inner };
}

describe.each(backendsHere())('batchNorm on %s', (name) => {
  test('training: output, and running stats updated with the unbiased variance', () => {
    backend.use(name);
    const rng = new Rng(1);
    const x = leaf(rng, [4, 3, 2, 5], { requiresGrad: false });
    const w = leaf(rng, [3], { requiresGrad: false });
    const b = leaf(rng, [3], { requiresGrad: false });
    const rm = new Tensor(Float64Array.from([0.5, -1, 2]), [3]);
    const rv = new Tensor(Float64Array.from([1, 2, 0.5]), [3]);
    const y = F.batchNorm(x, rm, rv, w, b, true, 0.2, 1e-3);
    const { mean, variance, count } = channelStats(x);
    const inner = 10;
    for (let i = 0; i < x.size; i++) {
      const ch = Math.floor(i / inner) % 3;
      const want = ((x.data[i] - mean[ch]) / Math.sqrt(variance[ch] + 1e-3)) * w.data[ch] + b.data[ch];
      expect(y.data[i]).toBeCloseTo(want, 12);
    }
    [0.5, -1, 2].forEach((r, ch) => expect(rm.data[ch]).toBeCloseTo(0.8 * r + 0.2 * mean[ch], 13));
    [1, 2, 0.5].forEach((r, ch) =>
      expect(rv.data[ch]).toBeCloseTo(0.8 * r + (0.2 * variance[ch] * count) / (count - 1), 13),
    );
  });

  test('eval: normalises by the running stats, which stay unchanged', () => {
    backend.use(name);
    const rng = new Rng(2);
    const x = leaf(rng, [3, 2, 4], { requiresGrad: false });
    const rm = new Tensor(Float64Array.from([0.25, -0.5]), [2]);
    const rv = new Tensor(Float64Array.from([2, 0.5]), [2]);
    const y = F.batchNorm(x, rm, rv, null, null, false, 0.1, 1e-5);
    for (let i = 0; i < x.size; i++) {
      const ch = Math.floor(i / 4) % 2;
      expect(y.data[i]).toBeCloseTo((x.data[i] - rm.data[ch]) / Math.sqrt(rv.data[ch] + 1e-5), 12);
    }
    expect(Array.from(rm.data)).toEqual([0.25, -0.5]);
    expect(Array.from(rv.data)).toEqual([2, 0.5]);
  });

  test('gradcheck (training and eval; 2-D, 3-D, 4-D) and gradgradcheck', () => {
    backend.use(name);
    const rng = new Rng(3);
    for (const shape of [
      [5, 3],
      [3, 2, 4],
      [2, 3, 3, 2],
    ]) {
      const c = shape[1];
      const x = leaf(rng, shape);
      const w = leaf(rng, [c]);
      const b = leaf(rng, [c]);
      expect(gradcheck((x, w, b) => F.batchNorm(x, null, null, w, b, true), [x, w, b])).toBe(true);
      const rm = leaf(rng, [c], { requiresGrad: false });
      const rv = leaf(rng, [c], { lo: 0.5, hi: 2, requiresGrad: false });
      expect(gradcheck((x, w, b) => F.batchNorm(x, rm, rv, w, b, false), [x, w, b])).toBe(true);
    }
    const x = leaf(rng, [3, 2, 2, 2]);
    const w = leaf(rng, [2]);
    expect(gradgradcheck((x, w) => F.batchNorm(x, null, null, w, null, true), [x, w])).toBe(true);
  });
});

describe.skipIf(!backendsHere().includes('native'))('native batchNorm equals js in float32', () => {
  test('training forward and gradients', () => {
    const rng = new Rng(4);
    const x = leaf(rng, [8, 6, 5, 5], { dtype: 'float32' });
    const w = leaf(rng, [6], { dtype: 'float32' });
    const b = leaf(rng, [6], { dtype: 'float32' });
    const { ref, got } = onJsThenNative(() => outputAndGrads(F.batchNorm(x, null, null, w, b, true), [x, w, b]));
    got.forEach((t, i) => {
      for (let k = 0; k < t.size; k++)
        expect(Math.abs(t.data[k] - ref[i].data[k])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(ref[i].data[k])));
    });
  });
});

describe('BatchNorm2d', () => {
  test('state_dict names and defaults; train then eval', () => {
    const bn = new nn.BatchNorm2d(3);
    expect(Object.keys(bn.stateDict()).sort()).toEqual([
      'bias',
      'num_batches_tracked',
      'running_mean',
      'running_var',
      'weight',
    ]);
    expect(bn.momentum).toBe(0.1);
    expect(bn.eps).toBe(1e-5);
    const rng = new Rng(5);
    const x = leaf(rng, [4, 3, 2, 2], { dtype: 'float32', requiresGrad: false });
    const y = bn.forward(x);
    expect(y.shape).toEqual([4, 3, 2, 2]);
    expect(bn.num_batches_tracked?.item()).toBe(1);
    const { mean, variance } = channelStats(x);
    mean.forEach((m, ch) => expect(bn.running_mean!.data[ch]).toBeCloseTo(0.1 * m, 6));
    variance.forEach((v, ch) => expect(bn.running_var!.data[ch]).toBeCloseTo(0.9 + (0.1 * v * 16) / 15, 6));
    bn.eval();
    const z = bn.forward(x);
    expect(z.data[0]).toBeCloseTo(
      (x.data[0] - bn.running_mean!.data[0]) / Math.sqrt(bn.running_var!.data[0] + 1e-5),
      5,
    );
  });

  test('errors name the layer and the shapes', () => {
    const bn = new nn.BatchNorm2d(3);
    expect(() => bn.forward(new Tensor(new Float32Array(12), [4, 3]))).toThrow(
      /BatchNorm2d: expected a 4-D \[N, C, H, W\] input, got shape \[4, 3\]/,
    );
    expect(() => bn.forward(new Tensor(new Float32Array(16), [2, 2, 2, 2]))).toThrow(
      /BatchNorm2d: input shape \[2, 2, 2, 2\] has 2 channels, the layer 3/,
    );
    expect(() =>
      F.batchNorm(
        new Tensor(new Float32Array(6), [2, 3]),
        new Tensor(new Float32Array(2), [2]),
        null,
        null,
        null,
        true,
      ),
    ).toThrow(/batchNorm: runningMean has shape \[2\], the input \[2, 3\] has 3 channels/);
    expect(() => F.batchNorm(new Tensor(new Float32Array(3), [1, 3]), null, null, null, null, true)).toThrow(
      /more than 1 value per channel/,
    );
  });
});
