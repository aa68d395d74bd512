// What the js-backend tests (test/backend-js-*.test.ts) share: short names for the two float
// array types and an elementwise comparison.
import { expect } from 'vitest';

export const F32 = Float32Array;
export const F64 = Float64Array;
export type Ctor = typeof Float32Array | typeof Float64Array;

/** |actual - expected| <= atol + rtol*|expected| at every element; NaN is expected as NaN. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(a, `element ${i}`).toBeNaN();
      continue;
    }
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${tol})`);
    }
  }
}
