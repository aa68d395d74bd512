// Native kernels with no SIMD dispatch (data movement and bias) against the js backend, once per
// dtype: biasAdd (also in place) and biasGrad, permute up to 8 dims, gather and scatterAdd with
// repeated indices, on shapes from empty to ones that take the threaded paths.
//
// The js reference in float64 and the tolerances: test/support/native-vs-js.ts.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import type { Backend } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import {
  absSums,
  alloc,
  DTYPES,
  expectClose,
  native,
  randomArray,
  skipReason,
  tol,
  widen,
} from './support/native-vs-js.js';

describe.skipIf(!native)(`native vs js: data movement and bias${skipReason}`, () => {
  const nb = native as Backend;
  for (const dtype of DTYPES) {
    it(`biasAdd and biasGrad, ${dtype}`, () => {
      const rng = new Rng(21);
      for (const [rows, cols] of [
        [0, 3],
        [1, 1],
        [3, 17],
        [17, 3],
        [64, 33],
        [1000, 65],
        [5, 1031],
        [2000, 100],
      ]) {
        const x = randomArray(rng, dtype, rows * cols);
        const bias = randomArray(rng, dtype, cols);
        const out = alloc(dtype, rows * cols);
        nb.biasAdd(x, rows, cols, bias, out);
        const ref = new Float64Array(rows * cols);
        js.biasAdd(widen(x), rows, cols, widen(bias), ref);
        expectClose(`biasAdd [${rows},${cols}]`, out, ref, ...tol.exact[dtype]);
        nb.biasAdd(x, rows, cols, bias, x); // in place
        expectClose(`biasAdd in place [${rows},${cols}]`, x, ref, ...tol.exact[dtype]);

        const gy = randomArray(rng, dtype, rows * cols);
        const gb = randomArray(rng, dtype, cols); // overwritten, not accumulated
        nb.biasGrad(gy, rows, cols, gb);
        const gbRef = new Float64Array(cols);
        js.biasGrad(widen(gy), rows, cols, gbRef);
        expectClose(`biasGrad [${rows},${cols}]`, gb, gbRef, tol.sum[dtype], 0, absSums(gy, 1, rows, cols));
      }
    });

    it(`permute, ${dtype}`, () => {
      const rng = new Rng(22);
      const cases: [number[], number[]][] = [
        [[], []],
        [[5], [0]],
        [
          [0, 3],
          [1, 0],
        ],
        [
          [3, 17],
          [1, 0],
        ],
        [
          [33, 65],
          [1, 0],
        ],
        [
          [2, 3, 4],
          [2, 0, 1],
        ],
        [
          [4, 5, 6, 7],
          [3, 1, 0, 2],
        ],
        [
          [2, 3, 2, 3, 2, 3, 2, 3],
          [7, 6, 5, 4, 3, 2, 1, 0],
        ],
        [
          [64, 3, 28, 28],
          [0, 2, 3, 1],
        ],
      ];
      for (const [shape, perm] of cases) {
        const n = shape.reduce((p, s) => p * s, 1);
        const x = randomArray(rng, dtype, n);
        const out = alloc(dtype, n);
        nb.permute(x, shape, perm, out);
        const ref = alloc(dtype, n);
        js.permute(x, shape, perm, ref);
        expect([...out], `permute [${shape}] by [${perm}]`).toEqual([...ref]);
      }
    });

    it(`gather and scatterAdd (repeated indices), ${dtype}`, () => {
      const rng = new Rng(23);
      for (const [outer, n, inner, count] of [
        [1, 1, 1, 1],
        [1, 10, 1, 25],
        [3, 7, 5, 9],
        [2, 33, 17, 0],
        [4, 1000, 1, 300],
        [1, 60000, 64, 128],
      ]) {
        const x = randomArray(rng, dtype, outer * n * inner);
        const idx = Int32Array.from({ length: count }, () => rng.int(0, n));
        const out = alloc(dtype, outer * count * inner);
        nb.gather(x, outer, n, inner, idx, out);
        const ref = alloc(dtype, outer * count * inner);
        js.gather(x, outer, n, inner, idx, ref);
        expect([...out], `gather [${outer},${n},${inner}] count ${count}`).toEqual([...ref]);

        const g = randomArray(rng, dtype, outer * count * inner);
        const gx = randomArray(rng, dtype, outer * n * inner);
        const GX = widen(gx);
        nb.scatterAdd(g, outer, n, inner, idx, gx);
        js.scatterAdd(widen(g), outer, n, inner, idx, GX);
        const mag = widen(g).map(Math.abs);
        const scale = widen(gx).map(Math.abs);
        js.scatterAdd(mag, outer, n, inner, idx, scale);
        expectClose(`scatterAdd [${outer},${n},${inner}] count ${count}`, gx, GX, tol.sum[dtype], 0, scale);
      }
    });
  }
});
