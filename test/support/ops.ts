// What the op-value tests (test/ops-values.test.ts, test/ops-cross-entropy.test.ts) share: a
// Tensor's shape and values against a reference, |actual - expected| <= tol * (1 + |expected|).

import { expect } from 'vitest';
import type { Tensor } from '../../lib/index.js';

export function expectClose(actual: Tensor, expected: ArrayLike<number>, shape: readonly number[], tol = 1e-12): void {
  expect(actual.shape).toEqual(shape);
  expect(actual.size).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    if (Math.abs(actual.data[i] - e) > tol * (1 + Math.abs(e))) {
      throw new Error(`element ${i}: got ${actual.data[i]}, expected ${e}`);
    }
  }
}
