// The js backend's data-movement and bias kernels against values by hand and index formulas:
// biasAdd and biasGrad, permute, gather and scatterAdd (repeated indices add up), arrays longer
// than the sizes need; bad arguments; and what the backend reports about itself.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { F32, F64 } from './support/backend-js.js';

describe('js bias, permute, gather, scatterAdd', () => {
  it('biasAdd and biasGrad', () => {
    const out = new F32(6);
    js.biasAdd(new F32([1, 2, 3, 4, 5, 6]), 2, 3, new F32([10, 20, 30]), out);
    expect([...out]).toEqual([11, 22, 33, 14, 25, 36]);
    const gb = new F32([99, 99, 99]);
    js.biasGrad(new F32([1, 2, 3, 4, 5, 6]), 2, 3, gb);
    expect([...gb]).toEqual([5, 7, 9]);
    expect(() => js.biasAdd(new F32(6), 2, 3, new F32(2), out)).toThrow(RangeError);
  });

  it('permute: a 2-D transpose and a 3-D permutation by index formula', () => {
    const out = new F64(6);
    js.permute(new F64([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0], out);
    expect([...out]).toEqual([1, 4, 2, 5, 3, 6]);
    const [d0, d1, d2] = [2, 3, 4];
    const x = F64.from({ length: 24 }, (_, i) => i);
    const y = new F64(24);
    js.permute(x, [d0, d1, d2], [2, 0, 1], y); // y[k, i, j] = x[i, j, k]
    for (let i = 0; i < d0; i++)
      for (let j = 0; j < d1; j++)
        for (let k = 0; k < d2; k++) {
          expect(y[(k * d0 + i) * d1 + j]).toBe(x[(i * d1 + j) * d2 + k]);
        }
    expect(() => js.permute(x, [d0, d1, d2], [0, 0, 1], y)).toThrow(RangeError);
    expect(() => js.permute(x, [d0, d1, d2], [0, 1], y)).toThrow(RangeError);
  });

  it('gather selects and scatterAdd accumulates (repeated indices add up)', () => {
    // x is [2, 3, 2]
    const x = new F64([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const idx = new Int32Array([2, 0, 2]);
    const out = new F64(12);
    js.gather(x, 2, 3, 2, idx, out);
    expect([...out]).toEqual([5, 6, 1, 2, 5, 6, 11, 12, 7, 8, 11, 12]);
    const gx = new F64(12).fill(1);
    js.scatterAdd(
      F64.from({ length: 12 }, () => 1),
      2,
      3,
      2,
      idx,
      gx,
    );
    expect([...gx]).toEqual([2, 2, 1, 1, 3, 3, 2, 2, 1, 1, 3, 3]);
    expect(() => js.gather(x, 2, 3, 2, new Int32Array([3]), new F64(4))).toThrow(RangeError);
    expect(() => js.scatterAdd(new F64(4), 2, 3, 2, new Int32Array([-1]), gx)).toThrow(RangeError);
  });
});

describe('js array lengths', () => {
  it('accepts arrays longer than the sizes need (as native does) and touches only the prefix', () => {
    const out = new F64([0, 0, 0, 99]);
    js.biasAdd(new F64([1, 2, 3, 7]), 1, 3, new F64([1, 1, 1, 5]), out);
    expect([...out]).toEqual([2, 3, 4, 99]);
    const gb = new F64([9, 9, 9]);
    js.biasGrad(new F64([1, 2, 3, 4]), 2, 1, gb);
    expect([...gb]).toEqual([3, 9, 9]);
  });
});

describe('js backend info', () => {
  it('reports itself', () => {
    expect(js.info()).toEqual({ name: 'js', blas: 'js', simd: 'scalar', threads: 1 });
    expect(() => js.setNumThreads(0)).toThrow(RangeError);
  });
});
