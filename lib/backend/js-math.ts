// Scalar math of the js backend: rounding to an array's precision (see the precision note in
// js.ts), erf and erfc (JS has no Math.erf; the exact GELU needs them) and the standard normal CDF.

import type { FloatArray } from './types.js';

/** Rounds a float64 value to the precision of the array it belongs to. */
export function rounderFor(a: FloatArray): (v: number) => number {
  return a instanceof Float32Array ? Math.fround : (v) => v;
}

// ---------------------------------------------------------------------------------------------
// erf and erfc in float64, accurate to a few ulp.
// |x| < 1.5: the series erf(x) = 2/sqrt(pi) * x * e^(-x^2) * sum_n (2x^2)^n / (1*3*...*(2n+1)),
//            whose terms are all positive (no cancellation).
// |x| >= 1.5: erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
//            a continued fraction evaluated by the modified Lentz method; erf = 1 - erfc.

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_PI = 0.5641895835477563;
const INV_SQRT_2 = 0.7071067811865476;
/** 1/sqrt(2 pi), the normal density's factor. */
export const INV_SQRT_2PI = 0.3989422804014327;
const ERF_SERIES_LIMIT = 1.5;

function erfSeries(x: number): number {
  const x2 = x * x;
  let term = 1;
  let sum = 1;
  for (let n = 1; term > sum * 1e-17; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * x * Math.exp(-x2) * sum;
}

/** erfc(x) for x >= ERF_SERIES_LIMIT. */
function erfcContinuedFraction(x: number): number {
  if (x > 27) return 0; // below the smallest subnormal
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let i = 1; i < 500; i++) {
    const a = i / 2;
    d = x + a * d;
    if (d === 0) d = tiny;
    d = 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (Math.exp(-x * x) * INV_SQRT_PI) / f;
}

export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < ERF_SERIES_LIMIT) return erfSeries(x);
  const r = 1 - erfcContinuedFraction(ax);
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= ERF_SERIES_LIMIT) return erfcContinuedFraction(x);
  if (x <= -ERF_SERIES_LIMIT) return 2 - erfcContinuedFraction(-x);
  return 1 - erfSeries(x);
}

/** Phi(x), the standard normal CDF, written with erfc so its left tail keeps relative accuracy. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * INV_SQRT_2);
}
