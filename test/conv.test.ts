// conv2d: forward against a naive direct convolution written here, gradients against finite
// differences (gradcheck/gradgradcheck in float64) on every backend that loads, the fused
// backward kernels against the composed (recorded) rule, native against js in float32, the
// Conv2d module (state_dict names, torch's init bounds) and the error messages.
//
// Tolerances: float64 forward vs the naive reference 1e-12 relative to the largest |value|;
// native vs js in float32: |native - js| <= 1e-5 * max|js| + 1e-6 (both accumulate in float32,
// in different orders, over at most a few hundred terms).

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, grad, gradcheck, gradgradcheck, manualSeed, nn, F } from '../lib/index.js';
import { kernels } from '../lib/backend/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf, onJsThenNative, outputAndGrads } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

interface Geo {
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}

/** y[n, o, i, j] = b[o] + sum over c, a, d of x[n, c, i*s - p + a*dil, j*s - p + d*dil] * w[o, c, a, d]. */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | null, g: Geo): { data: Float64Array; shape: number[] } {
  const [N, C, H, W] = x.shape;
  const [O, , KH, KW] = w.shape;
  const OH = Math.floor((H + 2 * g.padding[0] - g.dilation[0] * (KH - 1) - 1) / g.stride[0]) + 1;
  const OW = Math.floor((W + 2 * g.padding[1] - g.dilation[1] * (KW - 1) - 1) / g.stride[1]) + 1;
  const out = new Float64Array(N * O * OH * OW);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let i = 0; i < OH; i++)
        for (let j = 0; j < OW; j++) {
          let s = b ? b.data[o] : 0;
          for (let c = 0; c < C; c++)
            for (let a = 0; a < KH; a++)
              for (let d = 0; d < KW; d++) {
                const yi = i * g.stride[0] - g.padding[0] + a * g.dilation[0];
                const xj = j * g.stride[1] - g.padding[1] + d * g.dilation[1];
                if (yi < 0 || yi >= H || xj < 0 || xj >= W) continue;
                s += x.data[((n * C + c) * H + yi) * W + xj] * w.data[((o * C + c) * KH + a) * KW + d];
              }
          out[((n * O + o) * OH + i) * OW + j] = s;
        }
  return { data: out, shape: [N, O, OH, OW] };
}

const pair = (v: number): [number, number] => [v, v];

// [N, C, H, W], outC, [kH, kW], stride, padding, dilation: odd sizes, several channel counts.
const cases: [number[], number, [number, number], [number, number], [number, number], [number, number]][] = [
  [[2, 1, 5, 6], 2, [3, 3], pair(1), pair(0), pair(1)],
  [[1, 3, 7, 5], 4, [3, 2], pair(2), pair(1), pair(1)],
  [[2, 2, 6, 7], 3, [3, 3], pair(1), pair(2), pair(2)],
  [[1, 2, 9, 8], 5, [2, 3], [2, 1], [0, 2], [2, 1]],
  [[1, 4, 5, 5], 2, [1, 1], pair(1), pair(0), pair(1)],
  [[2, 1, 8, 8], 6, [5, 5], pair(1), pair(2), pair(1)],
];

describe.each(backendsHere())('conv2d on %s', (name) => {
  test('forward equals the naive direct convolution (float64)', () => {
    backend.use(name);
    const rng = new Rng(3);
    for (const [xs, oc, k, stride, padding, dilation] of cases) {
      const x = leaf(rng, xs, { requiresGrad: false });
      const w = leaf(rng, [oc, xs[1], ...k], { requiresGrad: false });
      const b = leaf(rng, [oc], { requiresGrad: false });
      const y = F.conv2d(x, w, b, { stride, padding, dilation });
      const ref = naiveConv(x, w, b, { stride, padding, dilation });
      expect(y.shape).toEqual(ref.shape);
      const scale = Math.max(...ref.data.map(Math.abs));
      for (let i = 0; i < ref.data.length; i++)
        expect(Math.abs(y.data[i] - ref.data[i])).toBeLessThanOrEqual(1e-12 * scale);
    }
  });

  test('gradcheck of input, weight and bias (stride 1/2, padding 0..2, dilation 1/2)', () => {
    backend.use(name);
    const rng = new Rng(5);
    for (const [xs, oc, k, stride, padding, dilation] of cases) {
      const x = leaf(rng, xs);
      const w = leaf(rng, [oc, xs[1], ...k]);
      const b = leaf(rng, [oc]);
      expect(gradcheck((x, w, b) => F.conv2d(x, w, b, { stride, padding, dilation }), [x, w, b])).toBe(true);
    }
  });

  test('gradgradcheck (double backward through conv2dInputGrad and conv2dWeightGrad)', () => {
    backend.use(name);
    const rng = new Rng(7);
    const x = leaf(rng, [1, 2, 5, 4]);
    const w = leaf(rng, [3, 2, 3, 2]);
    const b = leaf(rng, [3]);
    expect(
      gradgradcheck((x, w, b) => F.conv2d(x, w, b, { stride: [2, 1], padding: 1, dilation: [1, 2] }), [x, w, b]),
    ).toBe(true);
  });

  test('the fused weight/bias kernel equals the composed rule', () => {
    backend.use(name);
    const rng = new Rng(9);
    const x = leaf(rng, [3, 2, 7, 6]);
    const w = leaf(rng, [4, 2, 3, 3]);
    const b = leaf(rng, [4]);
    const gy = leaf(rng, [3, 4, 4, 3], { requiresGrad: false });
    const f = () => F.conv2d(x, w, b, { stride: 2, padding: 1 });
    const fused = grad(f(), [x, w, b], { gradOutputs: [gy] });
    const composed = grad(f(), [x, w, b], { gradOutputs: [gy], createGraph: true });
    fused.forEach((t, i) => {
      for (let k = 0; k < t.size; k++) expect(t.data[k]).toBeCloseTo(composed[i].data[k], 12);
    });
  });
});

const native = backendsHere().includes('native') ? (await import('../lib/backend/native.js')).loadNative() : null;

describe.skipIf(!native)('native conv2d equals js in float32', () => {
  test.each(native ? native._simdLevels() : [])(
    'forward and the three gradients, LeNet shapes and strided/dilated ones (%s)',
    (level) => {
      native!._setSimd(level);
      const rng = new Rng(11);
      const shapes: [number[], number[], Parameters<typeof F.conv2d>[3]][] = [
        [[8, 1, 28, 28], [6, 1, 5, 5], { padding: 2 }],
        [[8, 6, 14, 14], [16, 6, 5, 5], {}],
        [[3, 3, 11, 9], [5, 3, 3, 3], { stride: 2, padding: 1, dilation: 2 }],
        [[2, 5, 6, 6], [7, 5, 1, 1], { stride: [1, 2] }],
      ];
      for (const [xs, ws, opts] of shapes) {
        const x = leaf(rng, xs, { dtype: 'float32' });
        const w = leaf(rng, ws, { dtype: 'float32' });
        const b = leaf(rng, [ws[0]], { dtype: 'float32' });
        const { ref, got } = onJsThenNative(() => outputAndGrads(F.conv2d(x, w, b, opts), [x, w, b]));
        got.forEach((t, i) => {
          const scale = Math.max(...Array.from(ref[i].data, Math.abs));
          for (let k = 0; k < t.size; k++) {
            const d = Math.abs(t.data[k] - ref[i].data[k]);
            if (!(d <= 1e-5 * scale + 1e-6))
              throw new Error(
                `${JSON.stringify(xs)} result ${i} element ${k}: native ${t.data[k]} js ${ref[i].data[k]}`,
              );
          }
        });
      }
      native!._setSimd(native!._simdLevels()[0]);
    },
  );
});

describe('Conv2d module', () => {
  test('state_dict names, shapes and torch default init bounds', () => {
    manualSeed(1);
    const conv = new nn.Conv2d(3, 8, 5, { padding: 2 });
    const sd = conv.stateDict();
    expect(Object.keys(sd).sort()).toEqual(['bias', 'weight']);
    expect(sd.weight.shape).toEqual([8, 3, 5, 5]);
    expect(sd.bias.shape).toEqual([8]);
    // kaiming_uniform(a=√5): bound = sqrt(6 / ((1 + 5) * fanIn)) = 1/√fanIn; bias U(±1/√fanIn).
    const bound = 1 / Math.sqrt(3 * 25);
    const maxW = Math.max(...Array.from(sd.weight.data, Math.abs));
    expect(maxW).toBeLessThanOrEqual(bound);
    expect(maxW).toBeGreaterThan(0.9 * bound);
    expect(Math.max(...Array.from(sd.bias.data, Math.abs))).toBeLessThanOrEqual(bound);
    expect(Object.keys(new nn.Conv2d(1, 2, [3, 1], { bias: false }).stateDict())).toEqual(['weight']);
    const y = conv.forward(new Tensor(new Float32Array(2 * 3 * 7 * 6), [2, 3, 7, 6]));
    expect(y.shape).toEqual([2, 8, 7, 6]);
  });
});

describe('conv2d errors name the op and the shapes', () => {
  const x = new Tensor(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
  const w = new Tensor(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);
  test('non-4-D input, channel mismatch, kernel too large, bias shape', () => {
    expect(() => F.conv2d(new Tensor(new Float32Array(75), [3, 5, 5]), w)).toThrow(
      /conv2d: expected a 4-D input .*\[3, 5, 5\]/,
    );
    expect(() => F.conv2d(x, new Tensor(new Float32Array(4 * 2 * 9), [4, 2, 3, 3]))).toThrow(
      /conv2d: input shape \[2, 3, 5, 5\] has 3 channels but weight shape \[4, 2, 3, 3\] expects 2/,
    );
    expect(() => F.conv2d(x, new Tensor(new Float32Array(4 * 3 * 36), [4, 3, 6, 6]))).toThrow(
      /conv2d: kernel 6x6 .*larger than the padded input 5x5 .*\[2, 3, 5, 5\]/,
    );
    expect(() => F.conv2d(x, w, null, { dilation: 3 })).toThrow(
      /conv2d: kernel 3x3 \(dilation 3x3\).*larger than the padded input/,
    );
    expect(() => F.conv2d(x, w, new Tensor(new Float32Array(3), [3]))).toThrow(
      /conv2d: bias shape \[3\] does not match weight shape \[4, 3, 3, 3\]/,
    );
    expect(() => F.conv2d(x, w, null, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1/);
  });
  test.each(backendsHere())('the %s kernels check their arguments', (name) => {
    backend.use(name);
    const K = kernels();
    const geom = [2, 3, 5, 5, 4, 3, 3, 1, 1, 0, 0, 1, 1] as const;
    const xd = x.data as Float32Array;
    const wd = w.data as Float32Array;
    const y = new Float32Array(2 * 4 * 9);
    expect(() => K.conv2d(xd, wd, null, y.subarray(1), ...geom)).toThrow(RangeError);
    expect(() => K.conv2d(xd, new Float64Array(w.size), null, y, ...geom)).toThrow(TypeError);
    expect(() => K.conv2d(xd, wd, null, y, 2, 3, 5, 5, 4, 7, 3, 1, 1, 0, 0, 1, 1)).toThrow(RangeError);
    expect(() => K.conv2dBackwardWeight(xd, y, new Float32Array(10), null, ...geom)).toThrow(RangeError);
    expect(() => K.conv2dBackwardInput(y, wd, xd, 2, 3, 5, 5, 4, 3, 3, 0, 1, 0, 0, 1, 1)).toThrow(RangeError);
  });
});
