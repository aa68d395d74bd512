// Native reductions and the softmax family against the js backend, on every SIMD path this CPU
// has and both dtypes: reduce (sum, mean, max, min), maxAxis and argmax over [outer, n, inner]
// (empty axes, ties, sizes that take the threaded paths); softmax, logSoftmax, their backward and
// the fused softmax cross-entropy (with and without its gradient).
//
// The js reference in float64 and the tolerances: test/support/native-vs-js.ts.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { ReduceOp, type Backend } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import {
  absSums,
  alloc,
  DTYPES,
  describeEachSimdLevel,
  expectClose,
  F32_ULP,
  native,
  randomArray,
  skipReason,
  tol,
  widen,
} from './support/native-vs-js.js';

describe.skipIf(!native)(`native vs js: reductions and the softmax family on every SIMD level${skipReason}`, () => {
  const nb = native as Backend;

  describeEachSimdLevel(() => {
    for (const dtype of DTYPES) {
      it(`reduce, maxAxis, argmax over [outer, n, inner], ${dtype}`, () => {
        const rng = new Rng(15);
        const shapes = [
          [1, 1, 1],
          [1, 17, 1],
          [3, 5, 1],
          [1, 5, 3],
          [2, 33, 7],
          [4, 1, 9],
          [1, 1000, 1],
          [7, 65, 3],
          [1, 1031, 17],
          [64, 300, 1],
          [2, 0, 3],
          [0, 4, 2],
          [3, 4, 0],
          [1, 100_003, 1],
        ];
        for (const [outer, n, inner] of shapes) {
          const x = randomArray(rng, dtype, outer * n * inner);
          if (n > 3 && inner === 1) x[2] = x[1]; // a possible tie for the first-index rule
          const scale = absSums(x, outer, n, inner);
          for (const [name, op] of Object.entries(ReduceOp)) {
            if ((op === ReduceOp.max || op === ReduceOp.min) && n === 0) continue;
            const out = alloc(dtype, outer * inner);
            nb.reduce(op, x, outer, n, inner, out);
            const ref = new Float64Array(outer * inner);
            js.reduce(op, widen(x), outer, n, inner, ref);
            const relScale = op === ReduceOp.mean ? scale.map((s) => s / n) : scale;
            expectClose(`reduce ${name} [${outer},${n},${inner}]`, out, ref, tol.sum[dtype], 0, relScale);
          }
          if (n === 0) continue;
          const out = alloc(dtype, outer * inner);
          const idx = new Int32Array(outer * inner);
          nb.maxAxis(x, outer, n, inner, out, idx);
          const refOut = new Float64Array(outer * inner);
          const refIdx = new Int32Array(outer * inner);
          js.maxAxis(widen(x), outer, n, inner, refOut, refIdx);
          expectClose(`maxAxis [${outer},${n},${inner}]`, out, refOut, 0, 0);
          expect([...idx], `maxAxis indices [${outer},${n},${inner}]`).toEqual([...refIdx]);
          const idx2 = new Int32Array(outer * inner);
          nb.argmax(x, outer, n, inner, idx2);
          expect([...idx2], `argmax [${outer},${n},${inner}]`).toEqual([...refIdx]);
        }
      });

      it(`softmax, logSoftmax, their backward and fused cross-entropy, ${dtype}`, () => {
        const rng = new Rng(16);
        const shapes = [
          [1, 1],
          [3, 1],
          [1, 17],
          [4, 10],
          [5, 31],
          [2, 33],
          [7, 63],
          [3, 65],
          [2, 1000],
          [1, 1031],
          [130, 257],
          [0, 5],
        ];
        for (const [rows, cols] of shapes) {
          const x = randomArray(rng, dtype, rows * cols);
          for (let i = 0; i < x.length; i += 7) x[i] *= 20; // some large logits
          const X = widen(x);
          const sm = alloc(dtype, rows * cols);
          const lsm = alloc(dtype, rows * cols);
          nb.softmax(x, rows, cols, sm);
          nb.logSoftmax(x, rows, cols, lsm);
          const smRef = new Float64Array(rows * cols);
          const lsmRef = new Float64Array(rows * cols);
          js.softmax(X, rows, cols, smRef);
          js.logSoftmax(X, rows, cols, lsmRef);
          const t = tol.sum[dtype];
          // softmax is within [0, 1]; logSoftmax errors scale with |x - max| and log(cols).
          expectClose(`softmax [${rows},${cols}]`, sm, smRef, t, t);
          expectClose(`logSoftmax [${rows},${cols}]`, lsm, lsmRef, t, t * (1 + Math.log(cols + 1)));

          const gy = randomArray(rng, dtype, rows * cols);
          const gyAbs = new Float64Array(rows); // per-row sum |gy|: the scale of the row sums
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) gyAbs[r] += Math.abs(gy[r * cols + c]);
          const rowScale = new Float64Array(rows * cols).map((_, i) => Math.abs(gy[i]) + gyAbs[Math.floor(i / cols)]);
          const gx = alloc(dtype, rows * cols);
          const gxRef = new Float64Array(rows * cols);
          nb.softmaxBackward(sm, gy, rows, cols, gx);
          js.softmaxBackward(widen(sm), widen(gy), rows, cols, gxRef);
          expectClose(`softmaxBackward [${rows},${cols}]`, gx, gxRef, t, 0, rowScale);
          nb.logSoftmaxBackward(lsm, gy, rows, cols, gx);
          js.logSoftmaxBackward(widen(lsm), widen(gy), rows, cols, gxRef);
          expectClose(`logSoftmaxBackward [${rows},${cols}]`, gx, gxRef, t, 0, rowScale);

          const targets = Int32Array.from({ length: rows }, () => rng.int(0, cols));
          const scale = 1 / Math.max(rows, 1);
          const losses = alloc(dtype, rows);
          const grad = alloc(dtype, rows * cols);
          nb.softmaxCrossEntropy(x, rows, cols, targets, losses, grad, scale);
          const lossRef = new Float64Array(rows);
          const gradRef = new Float64Array(rows * cols);
          js.softmaxCrossEntropy(X, rows, cols, targets, lossRef, gradRef, scale);
          const lossScale = lossRef.map((_, r) => {
            let m = 0;
            for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(X[r * cols + c]));
            return 2 * m + Math.log(cols + 1);
          });
          expectClose(`softmaxCrossEntropy losses [${rows},${cols}]`, losses, lossRef, t, 0, lossScale);
          expectClose(`softmaxCrossEntropy grad [${rows},${cols}]`, grad, gradRef, t, t * scale);
          const losses2 = alloc(dtype, rows);
          nb.softmaxCrossEntropy(x, rows, cols, targets, losses2, null, scale);
          expectClose(`softmaxCrossEntropy without grad [${rows},${cols}]`, losses2, lossRef, t, 0, lossScale);
        }
      });

      it(`logSoftmax and cross-entropy losses near +-1000 keep the accuracy of x - max, ${dtype}`, () => {
        // Rows shifted to +-1000, spread (normal * 3) or with a dominant maximum (the others 18 to
        // 30 below it, so log(sum) is 1e-13..1e-6). The reference is float64 from the stored
        // values, (x - max) - log(sum(exp(x - max))), and the loss (max - x[t]) + log(sum).
        // Shifting by max + log(sum) instead would cost half an ulp of |max| (5.7e-14) in every
        // result, far above these bounds near the maximum. Bounds: float32 one rounding
        // (rtol 2^-23), float64 4 ulps; plus 4 * cols * 2^-52 absolute for log(sum), whose sum
        // of cols terms >= 1 rounds in its own order in the kernel and here.
        const rng = new Rng(18);
        const rtol = dtype === 'float32' ? F32_ULP : 4 * 2 ** -52;
        for (const cols of [2, 3, 5, 8, 16, 17, 33]) {
          const shifts = [1000, -1000, 1000, -1000];
          const rows = shifts.length;
          const x = alloc(dtype, rows * cols);
          const targets = new Int32Array(rows);
          for (let r = 0; r < rows; r++) {
            const dominant = r >= 2;
            const top = rng.int(0, cols);
            for (let c = 0; c < cols; c++) {
              const offset = c === top ? 0 : dominant ? -rng.uniform(18, 30) : 3 * rng.normal();
              x[r * cols + c] = shifts[r] + offset;
            }
            targets[r] = r % 2 === 0 ? top : rng.int(0, cols); // the maximum (loss = log(sum)) or any class
          }
          const lsmRef = new Float64Array(rows * cols);
          const lossRef = new Float64Array(rows);
          for (let r = 0; r < rows; r++) {
            let m = -Infinity;
            for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
            let sum = 0;
            for (let c = 0; c < cols; c++) sum += Math.exp(x[r * cols + c] - m);
            const logSum = Math.log(sum);
            for (let c = 0; c < cols; c++) lsmRef[r * cols + c] = x[r * cols + c] - m - logSum;
            lossRef[r] = m - x[r * cols + targets[r]] + logSum;
          }
          const atol = 4 * cols * 2 ** -52;
          const lsm = alloc(dtype, rows * cols);
          nb.logSoftmax(x, rows, cols, lsm);
          expectClose(`logSoftmax near +-1000 [${rows},${cols}]`, lsm, lsmRef, rtol, atol);
          for (const grad of [alloc(dtype, rows * cols), null]) {
            const losses = alloc(dtype, rows);
            nb.softmaxCrossEntropy(x, rows, cols, targets, losses, grad, 1);
            const what = `softmaxCrossEntropy losses near +-1000 ${grad ? 'with' : 'without'} grad [${rows},${cols}]`;
            expectClose(what, losses, lossRef, rtol, atol);
          }
        }
      });
    }
  });
});
