// Native optimizer steps against the js backend, on every SIMD path this CPU has and both dtypes:
// sgdStep (plain, momentum, dampening, weight decay, Nesterov) and adamStep (weight decay,
// AMSGrad, decoupled), three steps each, on sizes from 0 to ones that take the threaded paths.
//
// The js reference in float64 and the tolerances: test/support/native-vs-js.ts.
import { describe, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import type { Backend } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import {
  alloc,
  DTYPES,
  describeEachSimdLevel,
  expectClose,
  native,
  randomArray,
  skipReason,
  tol,
  widen,
} from './support/native-vs-js.js';

describe.skipIf(!native)(`native vs js: optimizer steps on every SIMD level${skipReason}`, () => {
  const nb = native as Backend;

  describeEachSimdLevel(() => {
    for (const dtype of DTYPES) {
      it(`sgdStep and adamStep over three steps, every variant, ${dtype}`, () => {
        const rng = new Rng(17);
        const [rtol, atol] = tol.optim[dtype];
        for (const n of [0, 1, 7, 16, 17, 33, 1000, 100_003]) {
          const sgdVariants: [number, number, number, boolean][] = [
            [0, 0, 0, false],
            [0.9, 0, 0, false],
            [0.9, 0.1, 1e-2, false],
            [0.8, 0, 1e-3, true],
          ];
          for (const [momentum, dampening, wd, nesterov] of sgdVariants) {
            const p = randomArray(rng, dtype, n);
            const buf = momentum === 0 ? null : alloc(dtype, n);
            const P = widen(p);
            const B = momentum === 0 ? null : new Float64Array(n);
            for (let step = 0; step < 3; step++) {
              const g = randomArray(rng, dtype, n);
              nb.sgdStep(p, g, buf, 0.05, momentum, dampening, wd, nesterov, step === 0);
              js.sgdStep(P, widen(g), B, 0.05, momentum, dampening, wd, nesterov, step === 0);
              const what = `sgd m=${momentum} d=${dampening} wd=${wd} nesterov=${nesterov} n=${n} step ${step}`;
              expectClose(what, p, P, rtol, atol);
              if (buf && B) expectClose(`${what} buf`, buf, B, rtol, atol);
            }
          }
          const adamVariants: [number, boolean, boolean][] = [
            [0, false, false],
            [1e-2, false, false],
            [1e-2, true, false],
            [1e-2, false, true],
            [0.1, true, true],
          ];
          for (const [wd, amsgrad, decoupled] of adamVariants) {
            const p = randomArray(rng, dtype, n);
            const m = alloc(dtype, n);
            const v = alloc(dtype, n);
            const vmax = amsgrad ? alloc(dtype, n) : null;
            const P = widen(p);
            const M = new Float64Array(n);
            const V = new Float64Array(n);
            const VMAX = amsgrad ? new Float64Array(n) : null;
            for (let step = 1; step <= 3; step++) {
              const g = randomArray(rng, dtype, n);
              nb.adamStep(p, g, m, v, vmax, step, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled);
              js.adamStep(P, widen(g), M, V, VMAX, step, 1e-3, 0.9, 0.999, 1e-8, wd, decoupled);
              const what = `adam wd=${wd} amsgrad=${amsgrad} decoupled=${decoupled} n=${n} step ${step}`;
              expectClose(what, p, P, rtol, atol);
              expectClose(`${what} expAvg`, m, M, rtol, atol);
              expectClose(`${what} expAvgSq`, v, V, rtol, atol * 1e-3);
              if (vmax && VMAX) expectClose(`${what} maxExpAvgSq`, vmax, VMAX, rtol, atol * 1e-3);
            }
          }
        }
      });
    }
  });
});
