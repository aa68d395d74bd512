// The native fused recurrent cells (one time step of tanh and relu RNN, LSTM and GRU) against the
// js backend, forward and backward (with and without the next step's gradients), with and without
// the hidden bias, on every SIMD path this CPU has and both dtypes.
//
// The js reference in float64: test/support/native-vs-js.ts.
import { afterAll, describe, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import type { NativeBackend } from '../lib/backend/native.js';
import type { Backend, FloatArray } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import {
  alloc,
  defaultSimd,
  DTYPES,
  expectClose,
  hasNative,
  hooks,
  lacks,
  native,
  type Pair,
  randomArray,
  simdLevels,
  skipReason,
  widen,
} from './support/native-vs-js.js';

const CELLS: [string, number, number][] = [
  ['rnnTanh', 0, 1],
  ['rnnRelu', 1, 1],
  ['lstm', 2, 4],
  ['gru', 3, 3],
]; // name, RnnCell code, gates

describe.skipIf(!native)(`native vs js: recurrent cells${skipReason}`, () => {
  const nb = native as unknown as Backend;
  const h = hooks as NativeBackend;
  afterAll(() => h?._setSimd(defaultSimd));
  for (const level of simdLevels) {
    for (const dtype of DTYPES) {
      it.skipIf(!hasNative('rnnCellForward') || !hasNative('rnnCellBackward'))(
        `rnnCellForward and rnnCellBackward, every cell, simd=${level}, ${dtype}${lacks('rnnCellForward')}`,
        () => {
          h._setSimd(level);
          const rng = new Rng(51);
          const t: Pair = dtype === 'float32' ? [1e-5, 1e-6] : [1e-12, 1e-14];
          const none = null;
          for (const [name, cell, gates] of CELLS) {
            for (const [batch, hidden] of [
              [1, 1],
              [3, 5],
              [2, 16],
              [17, 33],
              [0, 4],
              [4, 0],
            ]) {
              for (const withBias of [false, true]) {
                const G = gates * hidden;
                const xp = randomArray(rng, dtype, batch * G);
                const hh = randomArray(rng, dtype, batch * G);
                const bHh = withBias ? randomArray(rng, dtype, G) : none;
                const hPrev = randomArray(rng, dtype, batch * hidden);
                const isLstm = name === 'lstm';
                const cPrev = isLstm ? randomArray(rng, dtype, batch * hidden) : none;
                const needsSaved = !name.startsWith('rnn'); // LSTM and GRU keep their gates for the backward
                const savedLen = batch * 4 * hidden;
                const what = `${name} batch=${batch} hidden=${hidden} bias=${withBias}`;

                const hOut = alloc(dtype, batch * hidden);
                const cOut = isLstm ? alloc(dtype, batch * hidden) : none;
                const saved = needsSaved ? alloc(dtype, savedLen) : none;
                nb.rnnCellForward(cell as never, batch, hidden, xp, hh, bHh, hPrev, cPrev, hOut, cOut, saved);
                const W = (a: FloatArray | null): Float64Array | null => (a === null ? null : widen(a));
                const hRef = new Float64Array(batch * hidden);
                const cRef = isLstm ? new Float64Array(batch * hidden) : none;
                const savedRef = needsSaved ? new Float64Array(savedLen) : none;
                js.rnnCellForward(
                  cell as never,
                  batch,
                  hidden,
                  widen(xp),
                  widen(hh),
                  W(bHh),
                  widen(hPrev),
                  W(cPrev),
                  hRef,
                  cRef,
                  savedRef,
                );
                expectClose(`${what} h`, hOut, hRef, ...t);
                if (cOut && cRef) expectClose(`${what} c`, cOut, cRef, ...t);
                if (saved && savedRef) expectClose(`${what} saved`, saved, savedRef, ...t);

                for (const withNext of [false, true]) {
                  const gh = randomArray(rng, dtype, batch * hidden);
                  const ghNext = withNext ? randomArray(rng, dtype, batch * hidden) : none;
                  const gcNext = isLstm && withNext ? randomArray(rng, dtype, batch * hidden) : none;
                  const gxp = alloc(dtype, batch * G);
                  const ghh = name === 'gru' ? alloc(dtype, batch * G) : none;
                  const ghPrev = alloc(dtype, batch * hidden);
                  const gcPrev = isLstm ? alloc(dtype, batch * hidden) : none;
                  nb.rnnCellBackward(
                    cell as never,
                    batch,
                    hidden,
                    saved,
                    hPrev,
                    cPrev,
                    cOut,
                    hOut,
                    gh,
                    ghNext,
                    gcNext,
                    gxp,
                    ghh,
                    ghPrev,
                    gcPrev,
                  );
                  const gxpRef = new Float64Array(batch * G);
                  const ghhRef = ghh ? new Float64Array(batch * G) : none;
                  const ghPrevRef = new Float64Array(batch * hidden);
                  const gcPrevRef = isLstm ? new Float64Array(batch * hidden) : none;
                  // The reference backward reads the reference forward's outputs and the same gradients.
                  js.rnnCellBackward(
                    cell as never,
                    batch,
                    hidden,
                    savedRef,
                    widen(hPrev),
                    W(cPrev),
                    cRef,
                    hRef,
                    widen(gh),
                    W(ghNext),
                    W(gcNext),
                    gxpRef,
                    ghhRef,
                    ghPrevRef,
                    gcPrevRef,
                  );
                  // The float32 forward outputs it reads differ from the float64 ones by one rounding,
                  // which the gradient formulas can amplify by a few times: a looser float32 rtol.
                  const tb: Pair = dtype === 'float32' ? [2e-5, 2e-6] : t;
                  expectClose(`${what} next=${withNext} gxp`, gxp, gxpRef, ...tb);
                  if (ghh && ghhRef) expectClose(`${what} next=${withNext} ghh`, ghh, ghhRef, ...tb);
                  expectClose(`${what} next=${withNext} ghPrev`, ghPrev, ghPrevRef, ...tb);
                  if (gcPrev && gcPrevRef) expectClose(`${what} next=${withNext} gcPrev`, gcPrev, gcPrevRef, ...tb);
                }
              }
            }
          }
        },
      );
    }
  }
});
