// The native backend against the js one on what they must agree on besides values: the addon
// implements every kernel the js backend has, and bad arguments make the native side throw the
// same error class as the js reference.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { BinaryOp, ReduceOp, UnaryOp, type Backend } from '../lib/backend/types.js';
import { native, skipReason } from './support/native-vs-js.js';

describe.skipIf(!native)(`native vs js: argument errors${skipReason}`, () => {
  const nb = native as Backend;
  const f32 = (n: number): Float32Array => new Float32Array(n);
  const calls: [string, (b: Backend) => void][] = [
    ['gemm short C', (b) => b.gemm(false, false, 2, 2, 3, 1, f32(6), f32(6), 0, f32(3))],
    ['gemm negative m', (b) => b.gemm(false, false, -1, 2, 3, 1, f32(6), f32(6), 0, f32(4))],
    ['gemm mixed dtypes', (b) => b.gemm(false, false, 2, 2, 3, 1, f32(6), new Float64Array(6), 0, f32(4))],
    ['gemm batch past the end', (b) => b.gemm(false, false, 2, 2, 3, 1, f32(6), f32(6), 0, f32(8), 2, 6, 6, 4, 1)],
    ['unary unknown op', (b) => b.unary(99 as UnaryOp, f32(2), f32(2), 0, 0)],
    ['unary length mismatch', (b) => b.unary(UnaryOp.relu, f32(3), f32(2), 0, 0)],
    ['unary not a typed array', (b) => b.unary(UnaryOp.relu, [1, 2] as unknown as Float32Array, f32(2), 0, 0)],
    ['binary shapes do not broadcast', (b) => b.binary(BinaryOp.add, f32(6), [2, 3], f32(2), [2], f32(6))],
    ['binary wrong out length', (b) => b.binary(BinaryOp.add, f32(6), [2, 3], f32(3), [3], f32(5))],
    ['reduce wrong x length', (b) => b.reduce(ReduceOp.sum, f32(5), 2, 3, 1, f32(2))],
    ['argmax Float32Array indices', (b) => b.argmax(f32(6), 2, 3, 1, f32(2) as unknown as Int32Array)],
    [
      'cross-entropy target out of range',
      (b) => b.softmaxCrossEntropy(f32(6), 2, 3, new Int32Array([0, 3]), f32(2), null, 1),
    ],
    [
      'cross-entropy negative target',
      (b) => b.softmaxCrossEntropy(f32(6), 2, 3, new Int32Array([-1, 0]), f32(2), null, 1),
    ],
    ['gather index out of range', (b) => b.gather(f32(6), 1, 3, 2, new Int32Array([3]), f32(2))],
    ['scatterAdd negative index', (b) => b.scatterAdd(f32(2), 1, 3, 2, new Int32Array([-1]), f32(6))],
    ['permute not a permutation', (b) => b.permute(f32(6), [2, 3], [0, 0], f32(6))],
    ['biasAdd short bias', (b) => b.biasAdd(f32(6), 2, 3, f32(2), f32(6))],
    ['sgdStep momentum without buf', (b) => b.sgdStep(f32(2), f32(2), null, 0.1, 0.9, 0, 0, false, true)],
    [
      'adamStep short expAvg',
      (b) => b.adamStep(f32(2), f32(2), f32(1), f32(2), null, 1, 0.1, 0.9, 0.999, 1e-8, 0, false),
    ],
  ];
  for (const [name, call] of calls) {
    it(name, () => {
      let jsError: unknown;
      try {
        call(js);
      } catch (e) {
        jsError = e;
      }
      expect(jsError, 'the js backend throws').toBeInstanceOf(Error);
      expect(() => call(nb)).toThrow((jsError as Error).constructor);
    });
  }
});

/** Kernels the js backend has that the addon lacks: the Backend interface requires all of them. */
function missingNativeKernels(): string[] {
  if (!native) return [];
  const table = native as unknown as Record<string, unknown>;
  return Object.entries(js)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .filter((k) => typeof table[k] !== 'function');
}

describe.skipIf(!native)(`native vs js: every kernel exists in both${skipReason}`, () => {
  it('the addon implements every kernel of the js backend', () => {
    expect(missingNativeKernels(), 'kernels missing from the addon').toEqual([]);
  });
});
