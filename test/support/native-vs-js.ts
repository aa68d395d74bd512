// What the native-vs-js tests (test/native-vs-js-*.test.ts) share: the addon with its test hooks
// (or why it cannot load), the SIMD levels this CPU has, float arrays of either dtype, the
// elementwise comparison and the tolerances.
//
// References are computed by the js backend in float64 from the very same inputs (float32 inputs
// are widened exactly), so a float32 comparison measures the native kernel's error alone.
//
// Tolerances (|native - reference| <= atol + rtol*|reference| unless said otherwise):
//   unary forward/backward: float32 rtol 2e-6, atol 1e-6 (the vectorised exp/tanh/sigmoid/gelu
//     must be accurate to 1e-6 relative; the rest is the float32 rounding of both sides);
//     float64 rtol 1e-12, atol 1e-14.
//   add/sub/mul/div, maximum/minimum, comparisons, biasAdd, permute, gather: exact in float64,
//     float32 within one rounding (rtol 2^-23); pow: float32 rtol 1e-5, float64 rtol 1e-13.
//   reductions, softmax family, cross-entropy, biasGrad, scatterAdd: error relative to the sum of
//     magnitudes that entered each result: float32 1e-5, float64 1e-12.
//   GEMM: |C - Cref| <= tol * (|alpha| * sum_p |a_ip||b_pj| + |beta||c_ij|), float32 tol 1e-5,
//     float64 tol 1e-13.
//   sgdStep/adamStep: float32 rtol 1e-5, atol 1e-6; float64 rtol 1e-12, atol 1e-14.

import { afterAll, beforeAll, describe, expect } from 'vitest';
import { jsBackend as js } from '../../lib/backend/js.js';
import type { NativeBackend } from '../../lib/backend/native.js';
import { ReduceOp, type FloatArray, type SimdLevel } from '../../lib/backend/types.js';
import { tryLoadNative } from './native.js';
import type { Rng } from './random.js';

// ---------------------------------------------------------------------------------------------
// Loading the addon and its test hooks

// The addon object is the Backend, with test hooks next to the kernels (_setSimd, _simdLevels, _setBlas).
const loaded = tryLoadNative();
export const native = loaded.native;
export const hooks = native;

export const skipReason = native ? '' : ` (SKIPPED: the native addon cannot load: ${loaded.loadError})`;
if (!native) console.warn(`native-vs-js: native tests skipped, the addon cannot load: ${loaded.loadError}`);

export const simdLevels: SimdLevel[] = hooks ? hooks._simdLevels() : [];
export const defaultSimd: SimdLevel = native ? native.info().simd : 'scalar';

/** Declares `body` once per SIMD level this CPU has, in a `simd=<level>` block that selects the level first. */
export function describeEachSimdLevel(body: (level: SimdLevel) => void): void {
  const h = hooks as NativeBackend;
  for (const level of simdLevels) {
    describe(`simd=${level}`, () => {
      beforeAll(() => {
        h._setSimd(level);
        expect(h.info().simd).toBe(level);
      });
      afterAll(() => h._setSimd(defaultSimd));
      body(level);
    });
  }
}

/** Whether the addon has `kernel`; `lacks(kernel)` is the note a test title carries when it does not. */
export const hasNative = (kernel: string): boolean =>
  !!native && typeof (native as unknown as Record<string, unknown>)[kernel] === 'function';
export const lacks = (kernel: string): string =>
  native && !hasNative(kernel) ? ` (SKIPPED: the addon has no ${kernel})` : '';

// ---------------------------------------------------------------------------------------------
// Arrays, comparison, tolerances

export type Dtype = 'float32' | 'float64';
export const DTYPES: Dtype[] = ['float32', 'float64'];
export const F32_ULP = 2 ** -23;

export function alloc(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}
export function widen(a: FloatArray): Float64Array {
  return Float64Array.from(a);
}
export function randomArray(rng: Rng, dtype: Dtype, n: number, lo?: number, hi?: number): FloatArray {
  return rng.fill(alloc(dtype, n), lo, hi);
}

/** Compares elementwise; `scale[i]` (when given) replaces |expected[i]| as the relative scale. */
export function expectClose(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  scale?: ArrayLike<number>,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
      continue;
    }
    const tol = atol + rtol * (scale ? scale[i] : Math.abs(e));
    if (!(Math.abs(a - e) <= tol)) {
      throw new Error(
        `${what}: element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(3)} > tol ${tol.toExponential(3)})`,
      );
    }
  }
}

export type Pair = [rtol: number, atol: number];
export const tol: Record<'unary' | 'exact' | 'pow' | 'optim', Record<Dtype, Pair>> &
  Record<'sum' | 'gemm', Record<Dtype, number>> = {
  unary: { float32: [2e-6, 1e-6], float64: [1e-12, 1e-14] },
  exact: { float32: [F32_ULP, 0], float64: [0, 0] },
  pow: { float32: [1e-5, 1e-30], float64: [1e-13, 1e-300] },
  sum: { float32: 1e-5, float64: 1e-12 },
  gemm: { float32: 1e-5, float64: 1e-13 },
  optim: { float32: [1e-5, 1e-6], float64: [1e-12, 1e-14] },
};

/** Sum over the axis of |x|: the scale of the rounding error of a reduction. */
export function absSums(x: FloatArray, outer: number, n: number, inner: number): Float64Array {
  const abs = widen(x).map(Math.abs);
  const out = new Float64Array(outer * inner);
  js.reduce(ReduceOp.sum, abs, outer, n, inner, out);
  return out;
}
