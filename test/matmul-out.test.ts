// The `out` option of matmul and F.linear (torch's out=): the result lands in the given tensor,
// which is returned, with values equal to a plain-JS product; wrong shapes, dtypes, aliasing and
// autograd are refused as in torch. Every backend that loads; large enough for the native GEMM's
// packed (and threaded) path as well as the small one.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, noGrad, zeros } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { Rng } from './support/random.js';
import { leaf as gradLeaf } from './support/autograd.js';
import { backendsHere } from './support/native.js';
import { expectClose } from './support/ops.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

/** A random tensor that does not require grad (unless asked). */
const leaf = (rng: Rng, shape: number[], opts: Parameters<typeof gradLeaf>[2] = {}): Tensor =>
  gradLeaf(rng, shape, { requiresGrad: false, ...opts });

/** Plain [m, k] @ [k, n] (row-major flat arrays) in float64. */
function ref(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): number[] {
  const out = new Array<number>(m * n).fill(0);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q] * b[q * n + j];
      out[i * n + j] = s;
    }
  return out;
}

/** The transpose of a row-major [r, c] array. */
function transposed(a: ArrayLike<number>, r: number, c: number): number[] {
  const t = new Array<number>(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

describe.each(backendsHere())('%s backend', (name) => {
  test('matmul writes into out and returns it, in 2-D, 1-D and batched cases', () => {
    backend.use(name);
    const rng = new Rng(5);
    for (const [m, k, n] of [
      [3, 4, 2],
      [150, 130, 170], // past the small-product path: the packed GEMM
    ]) {
      const a = leaf(rng, [m, k]),
        b = leaf(rng, [k, n]);
      const out = zeros([m, n], { dtype: 'float64' }).add(Number.NaN); // every element overwritten
      const r = a.matmul(b, { out });
      expect(r).toBe(out);
      expectClose(out, ref(a.data, b.data, m, k, n), [m, n]);
      // Reused: a second product into the same tensor.
      const b2 = leaf(rng, [k, n]);
      F.matmul(a, b2, { out });
      expectClose(out, ref(a.data, b2.data, m, k, n), [m, n]);
    }
    const a = leaf(rng, [3, 4]),
      v = leaf(rng, [4]);
    const ov = zeros([3], { dtype: 'float64' });
    expect(a.matmul(v, { out: ov })).toBe(ov);
    expectClose(ov, ref(a.data, v.data, 3, 4, 1), [3]);
    const ba = leaf(rng, [2, 3, 4]),
      b = leaf(rng, [4, 5]);
    const ob = zeros([2, 3, 5], { dtype: 'float64' });
    F.matmul(ba, b, { out: ob });
    expectClose(ob, ref(ba.data, b.data, 6, 4, 5), [2, 3, 5]);
    const bb = leaf(rng, [2, 4, 5]);
    F.matmul(ba, bb, { out: ob });
    expectClose(
      ob,
      [
        ...ref(ba.data.subarray(0, 12), bb.data.subarray(0, 20), 3, 4, 5),
        ...ref(ba.data.subarray(12), bb.data.subarray(20), 3, 4, 5),
      ],
      [2, 3, 5],
    );
  });

  test('F.linear writes x Wᵀ + b into out, 2-D and 3-D input, float32 too', () => {
    backend.use(name);
    const rng = new Rng(6);
    for (const dtype of ['float64', 'float32'] as const) {
      const tol = dtype === 'float32' ? 1e-5 : 1e-12;
      const x = leaf(rng, [70, 90], { dtype }),
        w = leaf(rng, [110, 90], { dtype }),
        bias = leaf(rng, [110], { dtype });
      const expected = ref(x.data, transposed(w.data, 110, 90), 70, 90, 110).map((s, i) => s + bias.data[i % 110]);
      const out = zeros([70, 110], { dtype });
      expect(F.linear(x, w, bias, { out })).toBe(out);
      expectClose(out, expected, [70, 110], tol);
      const out3 = zeros([7, 10, 110], { dtype });
      expect(F.linear(x.reshape([7, 10, 90]), w, bias, { out: out3 })).toBe(out3);
      expectClose(out3, expected, [7, 10, 110], tol);
      const noBias = zeros([70, 110], { dtype });
      F.linear(x, w, null, { out: noBias });
      expectClose(noBias, ref(x.data, transposed(w.data, 110, 90), 70, 90, 110), [70, 110], tol);
    }
  });

  test('out is refused with the wrong shape or dtype, aliasing an input, or under autograd', () => {
    backend.use(name);
    const rng = new Rng(7);
    const a = leaf(rng, [3, 4]),
      b = leaf(rng, [4, 2]);
    expect(() => a.matmul(b, { out: zeros([2, 3], { dtype: 'float64' }) })).toThrow(
      'matmul: out has shape [2, 3], expected [3, 2]',
    );
    expect(() => a.matmul(b, { out: zeros([3, 2]) })).toThrow('matmul: out has dtype float32, expected float64');
    // Inner sizes that do not match: the usual error, not one about out.
    expect(() => a.matmul(a, { out: zeros([3, 4], { dtype: 'float64' }) })).toThrow('cannot be multiplied');
    const sq = leaf(rng, [3, 3]);
    expect(() => sq.matmul(sq, { out: sq })).toThrow('matmul: out shares storage with an input');
    expect(() => F.linear(sq, sq, null, { out: sq.reshape([3, 3]) })).toThrow('linear: out shares storage');
    expect(() => F.linear(a, leaf(rng, [2, 4]), null, { out: zeros([3, 3], { dtype: 'float64' }) })).toThrow(
      'linear: out has shape [3, 3], expected [3, 2]',
    );
    const w = leaf(rng, [4, 2], { requiresGrad: true });
    const out = zeros([3, 2], { dtype: 'float64' });
    expect(() => a.matmul(w, { out })).toThrow('matmul: out= does not support automatic differentiation');
    // Under noGrad (inference with parameters that require grad) it is allowed.
    noGrad(() => a.matmul(w, { out }));
    expectClose(out, ref(a.data, w.data, 3, 4, 2), [3, 2]);
    expect(out.requiresGrad).toBe(false);
    expect(out.gradFn).toBe(null);
    expect(() => a.matmul(b, { out: 'x' as unknown as Tensor })).toThrow('matmul: out must be a Tensor');
  });
});
