// The js backend's GEMM against values computed independently of it: a product by hand and a
// naive triple loop written here, over every transpose, alpha and beta, both dtypes, batches with
// strides, offsets and a shared (stride 0) operand; NaN in an ignored operand; bad arguments.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { Rng } from './support/random.js';
import { F32, F64, expectClose, type Ctor } from './support/backend-js.js';

/** C = alpha op(A) op(B) + beta C by the textbook triple loop, in float64. */
function naiveGemm(
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: ArrayLike<number>,
  aOff: number,
  b: ArrayLike<number>,
  bOff: number,
  beta: number,
  c: ArrayLike<number>,
  cOff: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = tA ? a[aOff + p * m + i] : a[aOff + i * k + p];
        const bv = tB ? b[bOff + j * k + p] : b[bOff + p * n + j];
        s += av * bv;
      }
      out.push(beta === 0 ? alpha * s : alpha * s + beta * c[cOff + i * n + j]);
    }
  }
  return out;
}

describe('js gemm', () => {
  it('multiplies a hand-computed 2x3 by 3x2', () => {
    const a = new F64([1, 2, 3, 4, 5, 6]);
    const b = new F64([7, 8, 9, 10, 11, 12]);
    const c = new F64(4);
    js.gemm(false, false, 2, 2, 3, 1, a, b, 0, c);
    expect([...c]).toEqual([58, 64, 139, 154]);
  });

  it('matches a naive triple loop for every transpose, alpha and beta, both dtypes', () => {
    const rng = new Rng(1);
    for (const T of [F32, F64] as Ctor[]) {
      for (const [m, n, k] of [
        [1, 1, 1],
        [3, 5, 7],
        [17, 4, 9],
        [8, 8, 1],
        [5, 13, 31],
      ]) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            for (const [alpha, beta] of [
              [1, 0],
              [0.5, 2],
              [-1.5, 1],
              [2, -0.25],
            ]) {
              const a = rng.fill(new T(m * k));
              const b = rng.fill(new T(k * n));
              const c = rng.fill(new T(m * n));
              const expected = naiveGemm(tA, tB, m, n, k, alpha, a, 0, b, 0, beta, c, 0);
              js.gemm(tA, tB, m, n, k, alpha, a, b, beta, c);
              expectClose(c, expected, T === F32 ? 1e-5 : 1e-13, T === F32 ? 1e-5 : 1e-13);
            }
          }
        }
      }
    }
  });

  it('handles batches with strides, offsets and a broadcast (stride 0) operand', () => {
    const rng = new Rng(2);
    const [m, n, k, batch] = [3, 4, 5, 3];
    const aOff = 2;
    const bOff = 1;
    const cOff = 3;
    const a = rng.fill(new F64(aOff + batch * m * k + 1));
    const b = rng.fill(new F64(bOff + k * n)); // one B shared by every batch
    const strideC = m * n + 2; // gaps between outputs stay untouched
    const c = rng.fill(new F64(cOff + batch * strideC));
    const before = Float64Array.from(c);
    js.gemm(true, false, m, n, k, 1.5, a, b, 0.5, c, batch, m * k, 0, strideC, aOff, bOff, cOff);
    for (let i = 0; i < batch; i++) {
      const expected = naiveGemm(
        true,
        false,
        m,
        n,
        k,
        1.5,
        a,
        aOff + i * m * k,
        b,
        bOff,
        0.5,
        before,
        cOff + i * strideC,
      );
      expectClose(c.subarray(cOff + i * strideC, cOff + i * strideC + m * n), expected, 1e-13, 1e-13);
      if (i < batch - 1) {
        const gap = cOff + i * strideC + m * n;
        expect([c[gap], c[gap + 1]]).toEqual([before[gap], before[gap + 1]]);
      }
    }
    expect([...c.subarray(0, cOff)]).toEqual([...before.subarray(0, cOff)]);
  });

  it('handles batches with a transposed B, per-batch or shared (stride 0)', () => {
    const rng = new Rng(6);
    const [m, n, k, batch] = [4, 3, 6, 3];
    for (const T of [F32, F64] as Ctor[]) {
      for (const strideB of [0, k * n + 1]) {
        const a = rng.fill(new T(batch * m * k));
        const b = rng.fill(new T(2 + (batch - 1) * strideB + k * n));
        const c = rng.fill(new T(batch * m * n));
        const before = T.from(c);
        js.gemm(false, true, m, n, k, 1, a, b, -1, c, batch, m * k, strideB, m * n, 0, 2, 0);
        for (let i = 0; i < batch; i++) {
          const expected = naiveGemm(false, true, m, n, k, 1, a, i * m * k, b, 2 + i * strideB, -1, before, i * m * n);
          expectClose(
            c.subarray(i * m * n, (i + 1) * m * n),
            expected,
            T === F32 ? 1e-5 : 1e-13,
            T === F32 ? 1e-5 : 1e-13,
          );
        }
      }
    }
  });

  it('ignores C when beta = 0 and A, B when alpha = 0 (NaN does not leak), and scales C when k = 0', () => {
    const c = new F32([NaN, NaN, NaN, NaN]);
    js.gemm(false, false, 2, 2, 1, 1, new F32([1, 2]), new F32([3, 4]), 0, c);
    expect([...c]).toEqual([3, 4, 6, 8]);
    const c2 = new F64([1, 2]);
    js.gemm(false, false, 1, 2, 2, 0, new F64([NaN, 1]), new F64([1, 2, 3, NaN]), 3, c2);
    expect([...c2]).toEqual([3, 6]);
    const c3 = new F64([1, -2]);
    js.gemm(false, false, 1, 2, 0, 1, new F64(0), new F64(0), 2, c3);
    expect([...c3]).toEqual([2, -4]);
  });

  it('rejects bad arguments with TypeError / RangeError', () => {
    const a = new F32(6);
    const b = new F32(6);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, a, b, 0, new F32(3))).toThrow(RangeError);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, new F32(5), b, 0, new F32(4))).toThrow(RangeError);
    expect(() => js.gemm(false, false, -1, 2, 3, 1, a, b, 0, new F32(4))).toThrow(RangeError);
    expect(() => js.gemm(false, false, 2.5, 2, 3, 1, a, b, 0, new F32(4))).toThrow(RangeError);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, a, new F64(6), 0, new F32(4))).toThrow(TypeError);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, [1, 2] as unknown as Float32Array, b, 0, new F32(4))).toThrow(
      TypeError,
    );
    expect(() => js.gemm(false, false, 2, 2, 3, 1, a, b, 0, new F32(8), 2, 6, 6, 4, 1)).toThrow(RangeError);
  });
});
