// The js backend's reductions and softmax family against values computed independently of it:
// sums, means, max, min, maxAxis and argmax by hand (empty axes, NaN, float32 accumulation);
// softmax and logSoftmax against closed forms, their backward against finite differences, the
// fused cross-entropy against its formula; out-of-range targets.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { ReduceOp } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import { F32, F64, expectClose } from './support/backend-js.js';

describe('js reductions', () => {
  // x[o, j, i] = 100 o + 10 j + i over [2, 3, 2]
  const x = new F64([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);

  it('sum, mean, max, min over the middle axis', () => {
    const out = new F64(4);
    js.reduce(ReduceOp.sum, x, 2, 3, 2, out);
    expect([...out]).toEqual([30, 33, 330, 333]);
    js.reduce(ReduceOp.mean, x, 2, 3, 2, out);
    expect([...out]).toEqual([10, 11, 110, 111]);
    js.reduce(ReduceOp.max, x, 2, 3, 2, out);
    expect([...out]).toEqual([20, 21, 120, 121]);
    js.reduce(ReduceOp.min, x, 2, 3, 2, out);
    expect([...out]).toEqual([0, 1, 100, 101]);
  });

  it('an empty axis sums to 0, averages to NaN, and has no max', () => {
    const out = new F64(2);
    js.reduce(ReduceOp.sum, new F64(0), 2, 0, 1, out);
    expect([...out]).toEqual([0, 0]);
    js.reduce(ReduceOp.mean, new F64(0), 2, 0, 1, out);
    expect([...out]).toEqual([NaN, NaN]);
    expect(() => js.reduce(ReduceOp.max, new F64(0), 2, 0, 1, out)).toThrow(RangeError);
  });

  it('maxAxis and argmax return the first maximum; NaN counts as the maximum', () => {
    const v = new F64([3, 7, 7, 1, /* row 2 */ 2, NaN, 9, 9]);
    const out = new F64(2);
    const idx = new Int32Array(2);
    js.maxAxis(v, 2, 4, 1, out, idx);
    expect([...out]).toEqual([7, NaN]);
    expect([...idx]).toEqual([1, 1]);
    const idx4 = new Int32Array(4);
    js.argmax(x, 2, 3, 2, idx4);
    expect([...idx4]).toEqual([2, 2, 2, 2]);
    expect(() => js.argmax(x, 2, 3, 2, new Int32Array(3))).toThrow(RangeError);
    expect(() => js.argmax(x, 2, 3, 2, new F64(4) as unknown as Int32Array)).toThrow(TypeError);
  });

  it('float32 sums are accumulated in float32', () => {
    // 2^24 + 1 is not representable in float32: each +1 after 2^24 is lost.
    const v = new F32([16777216, 1, 1, 1, 1]);
    const out = new F32(1);
    js.reduce(ReduceOp.sum, v, 1, 5, 1, out);
    expect(out[0]).toBe(16777216);
  });
});

describe('js softmax family', () => {
  it('softmax and logSoftmax match closed forms, stably', () => {
    const x = new F64([0, Math.log(2), Math.log(3), 1000, 1000 + Math.log(2), 1000 + Math.log(3)]);
    const y = new F64(6);
    js.softmax(x, 2, 3, y);
    expectClose(y, [1 / 6, 2 / 6, 3 / 6, 1 / 6, 2 / 6, 3 / 6], 1e-12, 0);
    js.logSoftmax(x, 2, 3, y);
    expectClose(
      y,
      [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6), Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6)],
      1e-12,
      1e-12,
    );
  });

  it('the backward kernels match finite differences of <w, f(x)>', () => {
    const rng = new Rng(5);
    const [rows, cols] = [3, 5];
    const x = rng.fill(new F64(rows * cols));
    const w = rng.fill(new F64(rows * cols));
    // The js kernels are plain functions (no `this`): safe to take off the object.
    /* eslint-disable @typescript-eslint/unbound-method */
    const kernelPairs = [
      [js.softmax, js.softmaxBackward],
      [js.logSoftmax, js.logSoftmaxBackward],
    ] as const;
    /* eslint-enable @typescript-eslint/unbound-method */
    for (const [fwd, bwd] of kernelPairs) {
      const y = new F64(rows * cols);
      fwd(x, rows, cols, y);
      const gx = new F64(rows * cols);
      bwd(y, w, rows, cols, gx);
      const h = 1e-6;
      const objective = (xs: Float64Array): number => {
        const ys = new F64(rows * cols);
        fwd(xs, rows, cols, ys);
        return ys.reduce((s, v, i) => s + v * w[i], 0);
      };
      const fd = [...x].map((_, i) => {
        const p = Float64Array.from(x);
        const m = Float64Array.from(x);
        p[i] += h;
        m[i] -= h;
        return (objective(p) - objective(m)) / (2 * h);
      });
      expectClose(gx, fd, 1e-6, 1e-8);
    }
  });

  it('softmaxCrossEntropy: loss = logsumexp - x[t], grad = scale (softmax - onehot)', () => {
    const logits = new F64([1, 2, 3, 0, 0, 0, 1000, 0, -1000]);
    const targets = new Int32Array([2, 0, 1]);
    const losses = new F64(3);
    const grad = new F64(9);
    js.softmaxCrossEntropy(logits, 3, 3, targets, losses, grad, 0.5);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expectClose(losses, [lse - 3, Math.log(3), 1000], 1e-12, 1e-12);
    const p = [Math.exp(1 - lse), Math.exp(2 - lse), Math.exp(3 - lse)];
    expectClose(
      grad,
      [0.5 * p[0], 0.5 * p[1], 0.5 * (p[2] - 1), 0.5 * (1 / 3 - 1), 0.5 / 3, 0.5 / 3, 0.5, -0.5, 0],
      1e-12,
      1e-15,
    );
    const losses2 = new F64(3);
    js.softmaxCrossEntropy(logits, 3, 3, targets, losses2, null, 1);
    expect([...losses2]).toEqual([...losses]);
  });

  it('softmaxCrossEntropy rejects out-of-range targets before writing anything', () => {
    const losses = new F64([7, 7]);
    expect(() => js.softmaxCrossEntropy(new F64(6), 2, 3, new Int32Array([0, 3]), losses, null, 1)).toThrow(RangeError);
    expect(() => js.softmaxCrossEntropy(new F64(6), 2, 3, new Int32Array([-1, 0]), losses, null, 1)).toThrow(
      RangeError,
    );
    expect([...losses]).toEqual([7, 7]);
    expect(() => js.softmaxCrossEntropy(new F64(6), 2, 3, new Int32Array([0]), losses, null, 1)).toThrow(RangeError);
  });
});
