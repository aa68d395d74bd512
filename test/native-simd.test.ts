// Accuracy of the addon's vectorised math (exp, log, tanh, sigmoid, gelu and gelu's derivative) on
// every SIMD path this CPU has, against float64 references computed here from Math.* and an
// independent erfc (series below 1, continued fraction above): float32 results within 1e-6
// relative, float64 within 2e-14 relative, over the whole range that gives normal numbers,
// including tiny arguments (tanh), far tails (sigmoid, gelu) and NaN/±Infinity. (float64 gelu
// in its far left tail is allowed the error its conditioning implies, see worstRelError.)
import { afterAll, describe, expect, it } from 'vitest';
import type { NativeBackend } from '../lib/backend/native.js';
import { tryLoadNative } from './support/native.js';
import { UnaryOp } from '../lib/backend/types.js';

const { native, loadError } = tryLoadNative();

/** erfc(z) in float64: Taylor series of erf for |z| < 1, Lentz continued fraction beyond. */
function erfc(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z < 0) return 2 - erfc(-z);
  if (z < 1) {
    // erf(z) = 2/sqrt(pi) * sum (-1)^n z^(2n+1) / (n! (2n+1))
    let term = z;
    let sum = z;
    for (let n = 1; n < 80; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (z > 27) return 0;
  // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...))))
  const tiny = 1e-300;
  let f = z;
  let c = z;
  let d = 0;
  for (let i = 1; i < 1000; i++) {
    const a = i / 2;
    d = z + a * d;
    d = d === 0 ? tiny : d;
    c = z + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-17) break;
  }
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

const refs: Record<string, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  sigmoid: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
  gelu: (x) => 0.5 * x * erfc(-x / Math.SQRT2),
};
const geluGrad = (x: number): number =>
  0.5 * erfc(-x / Math.SQRT2) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);

// Domains whose float32 results stay normal numbers (relative error is meaningless in subnormals).
const domains: Record<string, [number, number]> = {
  exp: [-87, 88.5],
  tanh: [-25, 25],
  sigmoid: [-87, 87],
  gelu: [-12.5, 12.5],
};

function inputs(lo: number, hi: number): number[] {
  const xs: number[] = [];
  const n = 4001;
  for (let i = 0; i < n; i++) xs.push(lo + ((hi - lo) * i) / (n - 1));
  // Tiny magnitudes, where a 1 - something formula would lose all relative accuracy.
  for (let e = -30; e <= 0; e++) for (const m of [1, 1.37, 3.3, 7.9]) xs.push(m * 10 ** e, -m * 10 ** e);
  xs.push(0, -0);
  return xs.filter((x) => x >= lo && x <= hi);
}

/**
 * Worst error relative to |reference| (at least `floor`), divided by `cond(x)`: in float64 the
 * gelu tail is ill-conditioned (relative condition number ~ x^2/2, about 80 at |x| = 12.5), so
 * rounding x/sqrt(2) alone costs that many ulps, in any implementation and in the reference.
 */
function logInputs(float32: boolean): number[] {
  const xs: number[] = [];
  const [lo, hi] = float32 ? [-149, 127] : [-1074, 1023];
  for (let e = lo; e <= hi; e++) for (const m of [1, 1.1, 1.4142, 1.5, 1.99]) xs.push(m * 2 ** e);
  for (let i = 1; i <= 2000; i++) xs.push(1 + i * 1e-4, 1 - (i * 1e-4) / 2, 1 + i * 1e-7, 1 - i * 1e-7);
  return xs;
}

function worstRelError(
  actual: ArrayLike<number>,
  x: ArrayLike<number>,
  ref: (x: number) => number,
  floor: number,
  cond: (x: number) => number = () => 1,
  scale: (x: number) => number = () => 0,
): { err: number; at: number } {
  let worst = { err: 0, at: NaN };
  for (let i = 0; i < x.length; i++) {
    const e = ref(x[i]);
    const err = Math.abs(actual[i] - e) / Math.max(Math.abs(e), floor, scale(x[i])) / cond(x[i]);
    if (!(err <= worst.err)) worst = { err: Number.isNaN(err) ? Infinity : err, at: x[i] };
  }
  return worst;
}

describe.skipIf(!native)(`native vectorised math accuracy${native ? '' : ` (SKIPPED: ${loadError})`}`, () => {
  const nb = native as NativeBackend;
  const defaultLevel = native ? native.info().simd : 'scalar';
  afterAll(() => nb._setSimd(defaultLevel));
  const levels = native ? nb._simdLevels() : [];

  for (const level of levels) {
    for (const [dtype, Arr, rtol, floor] of [
      ['float32', Float32Array, 1e-6, 1.2e-38],
      ['float64', Float64Array, 2e-14, 2.3e-308],
    ] as const) {
      it(`${level} ${dtype}: exp, log, tanh, sigmoid, gelu and gelu' within ${rtol} relative`, () => {
        nb._setSimd(level);
        for (const name of ['exp', 'log', 'tanh', 'sigmoid', 'gelu'] as const) {
          // log: every binade from the smallest subnormal to the largest finite number, and
          // arguments next to 1 (where log is tiny and must stay relatively accurate).
          const xs = name === 'log' ? logInputs(dtype === 'float32') : inputs(...domains[name]);
          const x = Arr.from(xs); // rounded to the dtype first: references use the same inputs
          const y = new Arr(x.length);
          nb.unary(UnaryOp[name], x, y, 0, 0);
          const cond = dtype === 'float64' && name === 'gelu' ? (v: number) => Math.max(1, (v * v) / 8) : undefined;
          const w = worstRelError(y, x, refs[name], floor, cond);
          expect(w.err, `${name} worst relative error ${w.err} at x = ${w.at}`).toBeLessThanOrEqual(rtol);
          if (name === 'gelu') {
            const g = new Arr(x.length).fill(1);
            const gx = new Arr(x.length);
            nb.unaryBackward(UnaryOp.gelu, x, y, g, gx, 0, 0);
            // gelu'(x) = Phi(x) + x phi(x) crosses zero near x = -0.7518: relative to the size of its
            // two terms there, not to their vanishing sum.
            const terms = (v: number) =>
              0.5 * erfc(-v / Math.SQRT2) + Math.abs(v * Math.exp(-0.5 * v * v)) / Math.sqrt(2 * Math.PI);
            const wg = worstRelError(gx, x, geluGrad, floor, cond, terms);
            expect(wg.err, `gelu' worst relative error ${wg.err} at x = ${wg.at}`).toBeLessThanOrEqual(rtol);
          }
        }
      });

      it(`${level} ${dtype}: NaN, ±Infinity and overflow`, () => {
        nb._setSimd(level);
        const x = Arr.of(NaN, Infinity, -Infinity, 1000, -1000);
        const y0 = new Arr(4);
        nb.unary(UnaryOp.log, Arr.of(0, -0, -1, Infinity), y0, 0, 0);
        expect(Array.from(y0), 'log at 0, -0, -1, Infinity').toEqual([-Infinity, -Infinity, NaN, Infinity]);
        const y = new Arr(x.length);
        const expected: Record<string, number[]> = {
          exp: [NaN, Infinity, 0, Infinity, 0],
          tanh: [NaN, 1, -1, 1, -1],
          sigmoid: [NaN, 1, 0, 1, 0],
          gelu: [NaN, Infinity, NaN, 1000, -0], // torch also gives NaN for gelu(-Infinity)
        };
        for (const name of ['exp', 'tanh', 'sigmoid', 'gelu'] as const) {
          nb.unary(UnaryOp[name], x, y, 0, 0);
          const got = Array.from(y).map((v) => (Object.is(v, -0) ? 0 : v));
          const want = expected[name].map((v) => (Object.is(v, -0) ? 0 : v));
          expect(got, name).toEqual(want);
        }
      });
    }
  }
});
