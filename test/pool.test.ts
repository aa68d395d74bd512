// maxPool2d and avgPool2d: forward against naive window loops written here (and values worked
// out by hand), gradcheck/gradgradcheck in float64 on every backend that loads, native against
// js in float32 (exact: pooling only selects or adds a few values in the same order), the
// modules' defaults, NaN propagation and the error messages.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, grad, gradcheck, gradgradcheck, nn, F, tensor } from '../lib/index.js';
import { kernels } from '../lib/backend/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf, onJsThenNative } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

/** Naive pooling of every plane; padding is -Infinity for max and 0 (counted) for avg. */
function naivePool(
  x: Tensor,
  kind: 'max' | 'avg',
  k: [number, number],
  s: [number, number],
  p: [number, number],
): number[] {
  const [H, W] = x.shape.slice(-2);
  const planes = x.size / (H * W);
  const OH = Math.floor((H + 2 * p[0] - k[0]) / s[0]) + 1;
  const OW = Math.floor((W + 2 * p[1] - k[1]) / s[1]) + 1;
  const out: number[] = [];
  for (let pl = 0; pl < planes; pl++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        let acc = kind === 'max' ? -Infinity : 0;
        for (let a = 0; a < k[0]; a++)
          for (let b = 0; b < k[1]; b++) {
            const y = i * s[0] - p[0] + a,
              z = j * s[1] - p[1] + b;
            if (y < 0 || y >= H || z < 0 || z >= W) continue;
            const v = x.data[pl * H * W + y * W + z];
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        out.push(kind === 'max' ? acc : acc / (k[0] * k[1]));
      }
  return out;
}

/** Distinct values (a shuffled ramp), so that max pooling has no ties and is differentiable. */
function distinct(rng: Rng, shape: number[], requiresGrad = true): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(0, i + 1);
    [v[i], v[j]] = [v[j], v[i]];
  }
  return new Tensor(Float64Array.from(v), shape, requiresGrad);
}

const cases: [number[], [number, number], [number, number], [number, number]][] = [
  [
    [2, 3, 6, 6],
    [2, 2],
    [2, 2],
    [0, 0],
  ],
  [
    [1, 2, 7, 5],
    [3, 3],
    [2, 2],
    [1, 1],
  ],
  [
    [2, 1, 5, 8],
    [2, 3],
    [1, 2],
    [1, 0],
  ],
  [
    [3, 6, 5],
    [3, 2],
    [3, 1],
    [1, 1],
  ],
];

describe.each(backendsHere())('pooling on %s', (name) => {
  test('forward equals naive window loops', () => {
    backend.use(name);
    const rng = new Rng(1);
    for (const [shape, k, s, p] of cases) {
      const x = leaf(rng, shape, { requiresGrad: false });
      for (const kind of ['max', 'avg'] as const) {
        const y =
          kind === 'max' ? F.maxPool2d(x, k, { stride: s, padding: p }) : F.avgPool2d(x, k, { stride: s, padding: p });
        const ref = naivePool(x, kind, k, s, p);
        expect(y.size).toBe(ref.length);
        ref.forEach((v, i) => expect(y.data[i]).toBeCloseTo(v, 13));
      }
    }
  });

  test('values by hand: avg counts the padding, max takes the first maximum', () => {
    backend.use(name);
    const x = tensor(
      [
        [
          [
            [1, 2],
            [3, 4],
          ],
        ],
      ],
      { dtype: 'float64' },
    );
    // 2x2 windows, stride 1, padding 1: the corner window holds only x[0][0] = 1 -> 1/4.
    expect(F.avgPool2d(x, 2, { stride: 1, padding: 1 }).toArray()).toEqual([
      [
        [
          [0.25, 0.75, 0.5],
          [1, 2.5, 1.5],
          [0.75, 1.75, 1],
        ],
      ],
    ]);
    expect(F.maxPool2d(x, 2, { stride: 1, padding: 1 }).toArray()).toEqual([
      [
        [
          [1, 2, 2],
          [3, 4, 4],
          [3, 4, 4],
        ],
      ],
    ]);
    const ties = tensor(
      [
        [
          [
            [5, 5],
            [5, 5],
          ],
        ],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    const [g] = grad(F.maxPool2d(ties, 2).sum(), [ties]);
    expect(g.toArray()).toEqual([
      [
        [
          [1, 0],
          [0, 0],
        ],
      ],
    ]);
  });

  test('a NaN in a window propagates to the max', () => {
    backend.use(name);
    const x = tensor([
      [
        [
          [1, NaN, 3, 4],
          [5, 6, 7, 8],
        ],
      ],
    ]);
    const y = F.maxPool2d(x, 2);
    expect(Number.isNaN(y.data[0])).toBe(true);
    expect(y.data[1]).toBe(8);
  });

  test('gradcheck and gradgradcheck of both pools', () => {
    backend.use(name);
    const rng = new Rng(2);
    for (const [shape, k, s, p] of cases) {
      const x = distinct(rng, shape);
      expect(gradcheck((x) => F.maxPool2d(x, k, { stride: s, padding: p }), [x])).toBe(true);
      expect(gradcheck((x) => F.avgPool2d(x, k, { stride: s, padding: p }), [x])).toBe(true);
    }
    const x = distinct(rng, [1, 2, 5, 5]);
    // Squared so that the second derivative is not identically zero.
    expect(gradgradcheck((x) => F.maxPool2d(x, 3, { stride: 2, padding: 1 }).pow(2), [x])).toBe(true);
    expect(gradgradcheck((x) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }).pow(2), [x])).toBe(true);
  });
});

const native = backendsHere().includes('native') ? (await import('../lib/backend/native.js')).loadNative() : null;

describe.skipIf(!native)('native pooling equals js in float32', () => {
  test.each(native ? native._simdLevels() : [])('forward, indices and gradients (%s)', (level) => {
    native!._setSimd(level);
    const rng = new Rng(3);
    for (const [shape, k, s, p] of [
      ...cases,
      [
        [2, 6, 28, 28],
        [2, 2],
        [2, 2],
        [0, 0],
      ] as (typeof cases)[number],
    ]) {
      const x = leaf(rng, shape, { dtype: 'float32' });
      const run = (): Tensor[] => {
        const m = F.maxPool2d(x, k, { stride: s, padding: p });
        const a = F.avgPool2d(x, k, { stride: s, padding: p });
        const gy = new Tensor(
          Float32Array.from(m.data, (_, i) => Math.cos(i)),
          m.shape,
        );
        return [m, a, ...grad(m, [x], { gradOutputs: [gy] }), ...grad(a, [x], { gradOutputs: [gy] })];
      };
      const { ref, got } = onJsThenNative(run);
      got.forEach((t, i) => {
        for (let j = 0; j < t.size; j++)
          expect(Math.abs(t.data[j] - ref[i].data[j])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(ref[i].data[j])));
      });
    }
    native!._setSimd(native!._simdLevels()[0]);
  });
});

describe('pooling modules and errors', () => {
  test('MaxPool2d and AvgPool2d: stride defaults to the kernel; no parameters', () => {
    const m = new nn.MaxPool2d(2);
    expect(m.stride).toEqual([2, 2]);
    expect(Object.keys(m.stateDict())).toEqual([]);
    const x = new Tensor(
      Float32Array.from({ length: 2 * 3 * 6 * 7 }, (_, i) => i),
      [2, 3, 6, 7],
    );
    expect(m.forward(x).shape).toEqual([2, 3, 3, 3]);
    expect(new nn.AvgPool2d(3, { stride: 1, padding: 1 }).forward(x).shape).toEqual([2, 3, 6, 7]);
  });

  test('errors name the op and the shapes', () => {
    const x = new Tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    expect(() => F.maxPool2d(new Tensor(new Float32Array(16), [16]), 2)).toThrow(
      /maxPool2d: expected a 4-D \[N, C, H, W\] or 3-D \[C, H, W\] input, got shape \[16\]/,
    );
    expect(() => F.avgPool2d(x, 5)).toThrow(
      /avgPool2d: kernel size 5x5 is larger than the padded input 4x4 of input shape \[2, 3, 4, 4\]/,
    );
    expect(() => F.maxPool2d(x, 2, { padding: 2 })).toThrow(
      /maxPool2d: padding 2x2 must be at most half of kernel size 2x2/,
    );
    expect(() => new nn.MaxPool2d(0)).toThrow(/MaxPool2d: kernelSize must be an integer >= 1/);
  });

  test.each(backendsHere())('the %s kernels check their arguments', (name) => {
    backend.use(name);
    const K = kernels();
    const x = new Float32Array(2 * 16),
      y = new Float32Array(2 * 4),
      idx = new Int32Array(8);
    expect(() => K.maxPool2d(x, y, idx.subarray(1), 2, 4, 4, 2, 2, 2, 2, 0, 0)).toThrow(RangeError);
    expect(() => K.maxPool2d(x, y, new Float32Array(8) as unknown as Int32Array, 2, 4, 4, 2, 2, 2, 2, 0, 0)).toThrow(
      TypeError,
    );
    expect(() =>
      K.maxPool2dBackward(y, Int32Array.from([0, 1, 2, 16, 0, 0, 0, 0]), x, 2, 4, 4, 2, 2, 2, 2, 0, 0),
    ).toThrow(RangeError);
    expect(() => K.avgPool2d(x, y, 2, 4, 4, 2, 2, 2, 2, 2, 0)).toThrow(RangeError);
    expect(() => K.avgPool2dBackward(y, new Float64Array(32), 2, 4, 4, 2, 2, 2, 2, 0, 0)).toThrow(TypeError);
  });
});
