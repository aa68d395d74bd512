// softplus, silu and elu: everything about them in one file.
//  1. The kernels, the js backend's and the addon's at every SIMD level this CPU has, forward and
//     backward in both dtypes, against float64 closed forms written here from Math.log1p, expm1 and
//     exp: ordinary, tiny, subnormal and huge arguments, ±Infinity and NaN, the vector-loop tails,
//     in place, the softplus threshold boundary and non-default parameters; torch's values pinned
//     (signed zeros included); float64 gradients against finite differences; argument errors.
//  2. The ops through autograd on every backend: gradcheck (the fused backward), gradgradcheck, the
//     rule against the fused backward, second derivatives at the kinks, the nn modules and Tensor
//     methods against F, option errors; and values, gradients and second derivatives against
//     PyTorch 1.13 in float64 (whenever torch imports; BACKPROP_REQUIRE_TORCH=1 fails without it).
// torch 1.13 decides the conventions: float32 parameters and a float32 product beta*x (which decides
// the softplus branch and feeds the curve), elu(-0) = +0, and second derivatives 0 at elu's x = 0
// and softplus's beta x = threshold. Where torch gives an artifact rather than a value, the closed
// form wins: softplus past a threshold above 709 (torch: inf, gradient NaN), float64 silu(x) and
// silu'(x) for x in [-745, -709.8] (torch: -0 where x e^x is a nonzero subnormal) and elu'(NaN)
// (torch: 1 in its scalar loop, NaN in its vector loop; here NaN).
import { afterAll, describe, expect, it, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Tensor, backend, grad, gradcheck, gradgradcheck, nn, F, tensor } from '../lib/index.js';
import { jsBackend } from '../lib/backend/js.js';
import { UnaryOp, type Backend } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import { tryLoadNative } from './support/native.js';
import { backendsHere, leaf } from './support/autograd.js';

const { native, loadError } = tryLoadNative();

// ---- dtypes and tolerances ---------------------------------------------------------------------

interface Dtype {
  name: 'float32' | 'float64';
  Arr: Float32ArrayConstructor | Float64ArrayConstructor;
  /** Rounds a float64 to the dtype, as the kernels round their parameters (and torch its products). */
  round: (v: number) => number;
}
const F32: Dtype = { name: 'float32', Arr: Float32Array, round: Math.fround };
const F64: Dtype = { name: 'float64', Arr: Float64Array, round: (v) => v };
const DTYPES = [F32, F64];

/** |got - want| <= rtol * max(|want|, floor, scale): floor bounds the error where results are subnormal. */
interface Tol {
  rtol: number;
  floor: number;
}
type Tols = Record<Dtype['name'], Tol>;
// js: float32 results are a float64 value good to a few of its ulps rounded once (so within half a
// float32 ulp, or half a subnormal step); float64 results within 2e-15 relative or one subnormal
// step. The addon's polynomials measure 6.2e-8 and 6.2e-16 at worst here: one float32 ulp and
// 2e-15 (a cancelling 1 - s in silu's backward gives 4e-15), floors at the smallest normal (its
// exp flushes to 0 below -745).
const JS_TOL: Tols = {
  float32: { rtol: 2 ** -24 + 2 ** -50, floor: 2 ** -126 },
  float64: { rtol: 2e-15, floor: 2 ** -1074 / 2e-15 },
};
const NATIVE_TOL: Tols = { float32: { rtol: 2 ** -23, floor: 2 ** -126 }, float64: { rtol: 2e-15, floor: 2 ** -1022 } };

type Kernels = Pick<Backend, 'unary' | 'unaryBackward'>;

// ---- float64 references ------------------------------------------------------------------------

/** sigmoid(t), exp never overflowing. */
const sigmoid = (t: number): number => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

/**
 * softplus(x; beta, threshold) = x where t = beta*x > threshold, else log1p(exp(t)) / beta, with t
 * (and beta, threshold) in the dtype's precision as torch computes them. log1p(exp(t)) is taken as
 * t + log1p(exp(-t)) for t > 0, so exp cannot overflow when the threshold is raised past 709.
 */
function softplusCase(beta: number, threshold: number): Case {
  const t = (x: number, d: Dtype): number => d.round(x * d.round(beta)); // exact before rounding for float32
  const linear = (x: number, d: Dtype): boolean => t(x, d) > d.round(threshold);
  return {
    name: 'softplus',
    p0: beta,
    p1: threshold,
    // The arguments where beta*x crosses the threshold, a few ulps either side.
    extra: (d) => neighbours(d.round(d.round(threshold) / d.round(beta)), 3, d),
    value: (x, d) => {
      if (linear(x, d)) return x;
      const v = t(x, d);
      return (v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v))) / d.round(beta);
    },
    grad: (x, g, d) => (linear(x, d) ? g : g * sigmoid(t(x, d))),
  };
}

/**
 * silu(x) = x / (1 + exp(-x)); below -700 as x e^(x/2) e^(x/2) (1 + e^x is 1 there), which stays
 * accurate where e^x is subnormal but x e^x is not, and nonzero down to -745 where exp(-x) overflows.
 */
const siluRef = (x: number): number => (x > -700 ? x / (1 + Math.exp(-x)) : x * Math.exp(x / 2) * Math.exp(x / 2));

/** g silu'(x) = g s (1 + x (1 - s)), s = sigmoid(x), 1 - s without cancellation and e^x split as in siluRef. */
function siluGradRef(x: number, g: number): number {
  if (x >= 0) {
    const e = Math.exp(-x);
    const inv = 1 / (1 + e);
    return g * inv * (1 + x * e * inv);
  }
  const inv = 1 / (1 + Math.exp(x)); // 1 - s
  const m = g * (1 + x * inv) * inv;
  return x > -700 ? m * Math.exp(x) : m * Math.exp(x / 2) * Math.exp(x / 2);
}

/** The size of silu''s two terms, g s and g x s (1 - s): its zero near x = -1.2785 is measured against them. */
const siluGradTerms = (x: number, g: number): number => Math.abs(g) * sigmoid(x) * (1 + Math.abs(x) * sigmoid(-x));

/** torch: alpha (exp(x) - 1) for x <= 0, so elu(-0) is +0 times alpha; expm1 keeps tiny x (torch's gives 0). */
function eluCase(alpha: number): Case {
  return {
    name: 'elu',
    p0: alpha,
    p1: 0,
    extra: () => [],
    value: (x, d) => (x > 0 ? x : d.round(alpha) * (Math.expm1(x) + 0)),
    grad: (x, g, d) => (x > 0 ? g : g * d.round(alpha) * Math.exp(x)),
  };
}

interface Case {
  name: 'softplus' | 'silu' | 'elu';
  p0: number;
  p1: number;
  /** Extra inputs for this parameter set (the threshold boundary). */
  extra: (d: Dtype) => number[];
  value: (x: number, d: Dtype) => number;
  grad: (x: number, g: number, d: Dtype) => number;
  gradScale?: (x: number, g: number) => number;
}

// p0 and p1 are ignored by silu.
const SILU: Case = {
  name: 'silu',
  p0: 0.7,
  p1: -3,
  extra: () => [],
  value: siluRef,
  grad: siluGradRef,
  gradScale: siluGradTerms,
};

const CASES: Case[] = [
  // torch's defaults, then non-default beta / threshold: beta not exact in float32 (0.3, 1.7),
  // negative, thresholds of 0, 1 and below 0 (where the branch decides the value), and one far
  // above the overflow of exp (log1p(exp(t)) is t there; torch's kernels give inf).
  softplusCase(1, 20),
  softplusCase(2, 10),
  softplusCase(2, 5),
  softplusCase(0.5, 5),
  softplusCase(0.5, 3),
  softplusCase(3, 1),
  softplusCase(-1.5, 4),
  softplusCase(0.3, 25),
  softplusCase(1.7, -2),
  softplusCase(1, 0),
  softplusCase(1, 800),
  SILU,
  eluCase(1),
  eluCase(0.3),
  eluCase(2.5),
  eluCase(0.1),
  eluCase(-0.7),
];
const caseLabel = (c: Case): string => `${c.name}(p0 = ${c.p0}, p1 = ${c.p1})`;

// ---- inputs and the comparison -----------------------------------------------------------------

/** v rounded to the dtype and its neighbours, k ulps either side. */
function neighbours(v: number, k: number, d: Dtype): number[] {
  const out: number[] = [];
  const f = new d.Arr(1);
  f[0] = v;
  const sign = f[0] < 0 ? -1 : 1;
  for (let s = -k; s <= k; s++) {
    const g = new d.Arr(1);
    if (d === F32) new Int32Array(g.buffer)[0] = new Int32Array(f.buffer)[0] + sign * s;
    else new BigInt64Array(g.buffer)[0] = new BigInt64Array(f.buffer)[0] + BigInt(sign * s);
    out.push(g[0]);
  }
  return out;
}

const HUGE = [
  20, 30, 37, 40, 88, 90, 100, 500, 700, 708.5, 710, 714, 720, 740, 745, 746, 750, 1000, 1e10, 1e30, 3e38, 1e300,
];

/** Ordinary (a grid, normal and uniform draws), tiny, subnormal and huge arguments of both signs, ±0, ±Infinity, NaN. */
function inputs(d: Dtype): number[] {
  const rng = new Rng(5);
  const xs: number[] = [];
  for (let i = 0; i <= 2000; i++) xs.push(-50 + i / 20);
  for (let i = 0; i < 300; i++) xs.push(3 * rng.normal(), rng.uniform(-40, 40));
  const minExp = d.name === 'float32' ? -37 : -307;
  for (let e = minExp; e <= 1; e++) for (const m of [1, 1.37, 3.3, 7.9]) xs.push(m * 10 ** e, -m * 10 ** e);
  const subnormal = d.name === 'float32' ? [1e-40, 2 ** -149] : [1e-310, 2 ** -1074];
  for (const h of [...HUGE, ...subnormal]) xs.push(h, -h);
  xs.push(0, -0, Infinity, -Infinity, NaN, -1.2785, 1.2785);
  return xs;
}

/** Gradient values: magnitudes 0.25 to 4, both signs. */
const grads = (rng: Rng, n: number): number[] =>
  Array.from({ length: n }, () => (rng.next() < 0.5 ? -1 : 1) * 2 ** rng.uniform(-2, 2));

/**
 * The worst error of got against want (float64 references) relative to max(|want|, floor,
 * scale): NaN and ±Infinity must match exactly, a zero reference (rounded to the dtype) needs the
 * same signed zero, and a finite reference a finite result.
 */
function worstError(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  d: Dtype,
  floor: number,
  scale: (i: number) => number = () => 0,
): { err: number; at: number } {
  let worst = { err: 0, at: -1 };
  for (let i = 0; i < want.length; i++) {
    const a = got[i];
    const e = want[i];
    let err: number;
    if (Number.isNaN(e)) err = Number.isNaN(a) ? 0 : Infinity;
    else if (!Number.isFinite(e)) err = a === e ? 0 : Infinity;
    else if (d.round(e) === 0) err = Object.is(a, d.round(e)) ? 0 : Infinity;
    else err = Math.abs(a - e) / Math.max(Math.abs(e), floor, scale(i));
    if (!(err <= worst.err)) worst = { err: Number.isNaN(err) ? Infinity : err, at: i };
  }
  return worst;
}

/** Shows -0 as '-0' so that toEqual tells the zeros apart. */
const show0 = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

// ---- the kernels -------------------------------------------------------------------------------

function kernelTests(label: string, k: Kernels, select: () => void, tols: Tols): void {
  /** y and gx for xs (gx for gradient gs, 1 by default) in dtype d. */
  const run = (
    c: { name: Case['name']; p0: number; p1: number },
    d: Dtype,
    xs: readonly number[],
    gs?: readonly number[],
  ) => {
    const x = d.Arr.from(xs);
    const y = new d.Arr(x.length);
    const g = gs ? d.Arr.from(gs) : new d.Arr(x.length).fill(1);
    const gx = new d.Arr(x.length);
    k.unary(UnaryOp[c.name], x, y, c.p0, c.p1);
    k.unaryBackward(UnaryOp[c.name], x, y, g, gx, c.p0, c.p1);
    return { x, y, g, gx };
  };

  for (const d of DTYPES) {
    const tol = tols[d.name];
    const expectWithin = (
      c: Case,
      what: string,
      x: ArrayLike<number>,
      got: ArrayLike<number>,
      want: number[],
      scale?: (i: number) => number,
    ): void => {
      const w = worstError(got, want, d, tol.floor, scale);
      expect(
        w.err,
        `${caseLabel(c)} ${what}: worst error ${w.err} at x = ${x[w.at]}: got ${show0(got[w.at])}, want ${show0(want[w.at])}`,
      ).toBeLessThanOrEqual(tol.rtol);
    };

    it(`${label} ${d.name}: forward and backward within ${tol.rtol} of the float64 closed forms`, () => {
      select();
      const rng = new Rng(2024);
      for (const c of CASES) {
        const xs = Array.from(d.Arr.from([...inputs(d), ...c.extra(d)])); // rounded: the references see the same inputs
        const { x, y, g, gx } = run(c, d, xs, grads(rng, xs.length));
        expectWithin(
          c,
          'forward',
          x,
          y,
          xs.map((v) => c.value(v, d)),
        );
        const scale = c.gradScale && ((i: number) => c.gradScale!(x[i], g[i]));
        expectWithin(
          c,
          'backward',
          x,
          gx,
          xs.map((v, i) => c.grad(v, g[i], d)),
          scale,
        );
      }
    });

    it(`${label} ${d.name}: every length up to three vectors (the loop tails), in place as out of place`, () => {
      select();
      const rng = new Rng(7);
      for (const c of CASES) {
        for (let n = 1; n <= 49; n++) {
          const xs = Array.from({ length: n }, () => d.round(rng.uniform(-6, 6)));
          const { x, y, g, gx } = run(c, d, xs, grads(rng, n));
          expectWithin(
            c,
            `forward n = ${n}`,
            x,
            y,
            xs.map((v) => c.value(v, d)),
          );
          const scale = c.gradScale && ((i: number) => c.gradScale!(x[i], g[i]));
          expectWithin(
            c,
            `backward n = ${n}`,
            x,
            gx,
            xs.map((v, i) => c.grad(v, g[i], d)),
            scale,
          );
          // y aliasing x, and gx aliasing gy, give the same bits.
          const inPlace = x.slice();
          k.unary(UnaryOp[c.name], inPlace, inPlace, c.p0, c.p1);
          expect(Array.from(inPlace, show0), `${caseLabel(c)} in place, n = ${n}`).toEqual(Array.from(y, show0));
          k.unaryBackward(UnaryOp[c.name], x, y, g, g, c.p0, c.p1);
          expect(Array.from(g, show0), `${caseLabel(c)} backward in place, n = ${n}`).toEqual(Array.from(gx, show0));
        }
      }
    });

    it(`${label} ${d.name}: torch's values at ±1000, ±Infinity, NaN and ±0 (signed zeros included)`, () => {
      select();
      const xs = [1000, -1000, Infinity, -Infinity, NaN, 0, -0];
      const ln2 = d.round(Math.LN2);
      const a = d.round(-0.7);
      // softplus(±0) = ln 2; silu(-0) = -0 / 2; elu(-0) = alpha (exp(-0) - 1) = +0 alpha; torch
      // gives NaN where x sigmoid(x) is inf * 0 (silu(-inf), silu'(±inf)).
      const expected: [Case['name'], number, number, number[], number[]][] = [
        ['softplus', 1, 20, [1000, 0, Infinity, 0, NaN, ln2, ln2], [1, 0, 1, 0, NaN, 0.5, 0.5]],
        ['silu', 0, 0, [1000, -0, Infinity, NaN, NaN, 0, -0], [1, -0, NaN, NaN, NaN, 0.5, 0.5]],
        ['elu', 1, 0, [1000, -1, Infinity, -1, NaN, 0, 0], [1, 0, 1, 0, NaN, 1, 1]],
        ['elu', 0.5, 0, [1000, -0.5, Infinity, -0.5, NaN, 0, 0], [1, 0, 1, 0, NaN, 0.5, 0.5]],
        ['elu', -0.7, 0, [1000, -a, Infinity, -a, NaN, -0, -0], [1, -0, 1, -0, NaN, a, a]],
      ];
      for (const [name, p0, p1, y, gx] of expected) {
        const r = run({ name, p0, p1 }, d, xs);
        expect(Array.from(r.y, show0), `${name}(p0 = ${p0})`).toEqual(y.map(show0));
        expect(Array.from(r.gx, show0), `${name}(p0 = ${p0}) backward`).toEqual(gx.map(show0));
      }
    });

    it(`${label} ${d.name}: the softplus branch is beta*x > threshold in the dtype; tiny inputs keep their bits`, () => {
      select();
      const close = (got: number, want: number, what: string): void => {
        expect(Math.abs(got - want), `${what}: ${got} vs ${want}`).toBeLessThanOrEqual(
          tol.rtol * Math.max(Math.abs(want), tol.floor),
        );
      };
      const ulp = d.name === 'float32' ? 2 ** -23 : 2 ** -52;
      // beta = 2, threshold = 3: beta*x = 3 at x = 1.5 is not above it, the next float is.
      let r = run({ name: 'softplus', p0: 2, p1: 3 }, d, [1.5, 1.5 + ulp]);
      close(r.y[0], Math.log1p(Math.exp(3)) / 2, 'softplus(1.5)');
      close(r.gx[0], Math.exp(3) / (Math.exp(3) + 1), "softplus'(1.5)");
      expect([r.y[1], r.gx[1]]).toEqual([1.5 + ulp, 1]);
      // The default threshold 20: x = 20 takes log1p(exp(20)), the next float x itself.
      r = run({ name: 'softplus', p0: 1, p1: 20 }, d, [20, 20 + 16 * ulp]);
      close(r.y[0], Math.log1p(Math.exp(20)), 'softplus(20)');
      close(r.gx[0], Math.exp(20) / (Math.exp(20) + 1), "softplus'(20)");
      expect([r.y[1], r.gx[1]]).toEqual([20 + 16 * ulp, 1]);
      // x = fround(1/3), beta = 3: the float64 product exceeds the threshold 1, its float32 rounding is 1.
      const third = Math.fround(1 / 3);
      r = run({ name: 'softplus', p0: 3, p1: 1 }, d, [third]);
      if (d === F32) {
        close(r.y[0], Math.log1p(Math.E) / 3, 'float32 softplus(1/3; beta 3, threshold 1)');
        close(r.gx[0], Math.E / (Math.E + 1), "float32 softplus'(1/3; beta 3, threshold 1)");
      } else {
        expect([r.y[0], r.gx[0]]).toEqual([third, 1]);
      }
      // A threshold past the overflow of exp: x itself, finite (torch gives inf), also where float32's exp overflows.
      r = run({ name: 'softplus', p0: 1, p1: 1e4 }, d, [800, -800, 100, 200 / 3], [2, 2, 1, 1]);
      expect(Array.from(r.y, show0).slice(0, 3)).toEqual(['800', '0', '100']);
      expect(Array.from(r.gx, show0)).toEqual(['2', '0', '1', '1']);
      close(r.y[3], d.round(200 / 3) + Math.log1p(Math.exp(-d.round(200 / 3))), 'softplus(66.7; threshold 1e4)');
      // elu(-v) = alpha expm1(-v) ~ -alpha v where exp(-v) - 1 is 0; a subnormal stays itself (elu) or halves (silu).
      const v = d.round(1e-30);
      const sub = d.name === 'float32' ? Math.fround(1e-40) : 1e-310;
      close(run(eluCase(0.3), d, [-v]).y[0], -d.round(0.3) * v, 'elu(-1e-30; 0.3)');
      close(run(SILU, d, [v]).y[0], v / 2, 'silu(1e-30)');
      close(run(softplusCase(1, 20), d, [v]).y[0], Math.LN2, 'softplus(1e-30)');
      close(run(SILU, d, [sub]).y[0], sub / 2, 'silu(subnormal)');
      expect(run(eluCase(1), d, [-sub]).y[0]).toBe(-sub);
    });
  }

  it(`${label} float64: the backward matches central differences of the forward`, () => {
    select();
    const rng = new Rng(8);
    const at = (c: Case, u: number): number => run(c, F64, [u]).y[0];
    for (const c of CASES) {
      const kink = c.name === 'softplus' ? c.p1 / c.p0 : 0; // softplus switches branch at beta*x = threshold
      const xs = Array.from({ length: 200 }, () => rng.uniform(-8, 8)).filter((v) => Math.abs(v - kink) > 1e-3);
      const gs = xs.map(() => rng.normal());
      const { gx } = run(c, F64, xs, gs);
      const h = 1e-6;
      xs.forEach((v, i) => {
        const fd = (gs[i] * (at(c, v + h) - at(c, v - h))) / (2 * h);
        expect(Math.abs(gx[i] - fd), `${caseLabel(c)}'(${v})`).toBeLessThanOrEqual(1e-6 * Math.abs(fd) + 1e-7);
      });
    }
  });

  it(`${label}: both parameters must be numbers`, () => {
    select();
    const x = new Float32Array(3);
    const call = (p0: unknown, p1: unknown) => () => k.unary(UnaryOp.softplus, x, x, p0 as number, p1 as number);
    expect(call(1, undefined)).toThrow(TypeError);
    expect(call(1, undefined)).toThrow(/^unary: (argument 5 \()?p1\)? must be a number, got undefined$/);
    expect(call('1', 20)).toThrow(TypeError);
    expect(() => k.unaryBackward(UnaryOp.elu, x, x, x, x, 1, null as unknown as number)).toThrow(TypeError);
  });
}

test('the float32 threshold boundary includes arguments where rounding beta*x to float32 decides the branch', () => {
  // beta = 3, threshold = 1: 3 * fround(1/3) exceeds 1 in float64 but rounds to 1 in float32,
  // where torch keeps log1p(exp(1))/3 = 0.4378 instead of x = 0.3333.
  const decided = softplusCase(3, 1)
    .extra(F32)
    .filter((x) => 3 * x > 1 && !(Math.fround(3 * x) > 1));
  expect(decided.length).toBeGreaterThan(0);
});

describe('js softplus, silu and elu kernels', () => {
  kernelTests('js', jsBackend, () => {}, JS_TOL);
});

describe.skipIf(!native)(`native softplus, silu and elu kernels${native ? '' : ` (SKIPPED: ${loadError})`}`, () => {
  if (!native) return;
  const defaultLevel = native.info().simd;
  afterAll(() => native._setSimd(defaultLevel));
  for (const level of native._simdLevels())
    kernelTests(`native ${level}`, native, () => native._setSimd(level), NATIVE_TOL);
});

// ---- the ops through autograd ------------------------------------------------------------------

const initialBackend = backend.current();
afterAll(() => backend.use(initialBackend));

/** A float64 [3, 4] leaf, normal values moved at least 0.1 away from 0 and from each kink. */
function leafAway(seed: number, kinks: number[] = []): Tensor {
  const t = leaf(new Rng(seed), [3, 4], { away: 0.1 });
  for (const k of kinks)
    t.data.forEach((v, i) => {
      if (Math.abs(v - k) < 0.1) t.data[i] = v < k ? k - 0.1 : k + 0.1;
    });
  return t;
}

for (const name of backendsHere()) {
  describe(`softplus, silu and elu through autograd on the ${name} backend`, () => {
    // [title, fn, the inputs where fn has a kink or a jump]
    const fns: [string, (t: Tensor) => Tensor, number[]][] = [
      ['softplus', (t) => F.softplus(t), []],
      // beta * 1.7 t crosses the threshold 1 at t = 1 / 3.4, where softplus jumps (0.6566 to 0.5).
      [
        'softplus beta 2, threshold 1 (both branches)',
        (t) => F.softplus(t.mul(1.7), { beta: 2, threshold: 1 }),
        [1 / 3.4],
      ],
      ['silu', (t) => F.silu(t), []],
      ['silu at large |x|', (t) => F.silu(t.mul(30)), []],
      ['elu', (t) => F.elu(t), [0]],
      ['elu alpha 0.4', (t) => F.elu(t, { alpha: 0.4 }), [0]],
    ];
    fns.forEach(([title, fn, kinks], i) => {
      test(`${title}: gradcheck and gradgradcheck`, () => {
        backend.use(name);
        const input = leafAway(70 + i, kinks);
        for (const k of kinks) {
          expect(input.data.some((v) => v < k) && input.data.some((v) => v > k), `inputs on both sides of ${k}`).toBe(
            true,
          );
        }
        expect(gradcheck(fn, [input])).toBe(true); // the fused backward (no graph recorded)
        expect(gradgradcheck(fn, [input])).toBe(true);
        // gradgradcheck differentiates the rule (what runs under createGraph) but cannot tell that
        // it is the derivative: it must equal the fused backward, which gradcheck checked.
        const gy = leaf(new Rng(90 + i), [3, 4], { requiresGrad: false });
        const [rule] = grad(fn(input), [input], { gradOutputs: gy, createGraph: true });
        const [fused] = grad(fn(input), [input], { gradOutputs: gy });
        rule.data.forEach((v, j) =>
          expect(Math.abs(v - fused.data[j]), `rule vs fused at ${j}`).toBeLessThanOrEqual(
            1e-12 * (1 + Math.abs(fused.data[j])),
          ),
        );
      });
    });

    test("second derivatives at the kinks are torch's: 0 at elu's x = 0 and at softplus's beta x = threshold", () => {
      backend.use(name);
      const second = (fn: (t: Tensor) => Tensor, xs: number[]): number[] => {
        const x = tensor(xs, { dtype: 'float64', requiresGrad: true });
        const [g] = grad(fn(x).sum(), [x], { createGraph: true });
        return Array.from(grad(g.sum(), [x])[0].data);
      };
      const s = 1 / (1 + Math.exp(-0.5)); // sigmoid(2 * 0.25)
      const want = [
        [0, 0, 0.4 * Math.exp(-1), 0],
        [0, 0, 2 * s * (1 - s), 0],
      ];
      const got = [
        second((t) => F.elu(t, { alpha: 0.4 }), [-0, 0, -1, 1]),
        second((t) => F.softplus(t, { beta: 2, threshold: 1 }), [0.5, 0.75, 0.25, 20]),
      ];
      got.flat().forEach((v, i) => expect(v, `case ${i}`).toBeCloseTo(want.flat()[i], 14));
    });

    test('the modules and Tensor methods equal F', () => {
      backend.use(name);
      const t = leafAway(80);
      const same = (a: Tensor, b: Tensor): void => expect(Array.from(a.data)).toEqual(Array.from(b.data));
      same(new nn.Softplus({ beta: 2, threshold: 1 }).call(t), F.softplus(t, { beta: 2, threshold: 1 }));
      same(t.softplus({ beta: 0.5 }), F.softplus(t, { beta: 0.5 }));
      same(new nn.SiLU().call(t), F.silu(t));
      same(t.silu(), F.silu(t));
      same(new nn.ELU({ alpha: 0.3 }).call(t), F.elu(t, { alpha: 0.3 }));
      same(t.elu(), F.elu(t));
      expect(String(new nn.Softplus({ beta: 2 }))).toContain('beta=2, threshold=20');
      expect(String(new nn.ELU())).toContain('alpha=1');
    });

    test('bad options are clear errors', () => {
      backend.use(name);
      const t = leafAway(81);
      expect(() => F.softplus(t, { beta: '2' as unknown as number })).toThrow(TypeError);
      expect(() => F.softplus(t, { beta: '2' as unknown as number })).toThrow(/^softplus: beta must be a number/);
      expect(() => F.softplus(t, { threshold: null as unknown as number })).toThrow(
        /^softplus: threshold must be a number/,
      );
      expect(() => F.elu(t, { alpha: null as unknown as number })).toThrow(/^elu: alpha must be a number/);
      expect(() => F.silu(null as unknown as Tensor)).toThrow(TypeError);
      expect(() => F.silu(null as unknown as Tensor)).toThrow(/^silu: input must be a Tensor/);
    });
  });
}

const python = '/usr/bin/python3';
const torchHere = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const requireTorch = process.env.BACKPROP_REQUIRE_TORCH === '1';
const torchScript = `
import json, sys, torch
import torch.nn.functional as F
d = json.load(sys.stdin)
out = {}
for name, call in [('softplus', lambda t: F.softplus(t)), ('softplus2', lambda t: F.softplus(t, beta=2, threshold=1)),
                   ('silu', F.silu), ('elu', lambda t: F.elu(t, alpha=0.4))]:
    x = torch.tensor(d['x'], dtype=torch.float64, requires_grad=True)
    y = call(x)
    g, = torch.autograd.grad(y, [x], torch.tensor(d['g'], dtype=torch.float64), create_graph=True)
    gg, = torch.autograd.grad(g.sum(), [x])
    out[name] = [y.tolist(), g.tolist(), gg.tolist()]
print(json.dumps(out))
`;

// BACKPROP_REQUIRE_TORCH=1 runs these without torch too, so that CI fails instead of skipping.
describe.skipIf(!torchHere && !requireTorch)('softplus, silu and elu equal PyTorch in float64', () => {
  // Both branches of each op and the points between (elu's 0, softplus's beta x = threshold at 0.5
  // and 20: torch's backward takes the curve there, its second derivative the other side), and
  // values where naive formulas overflow or cancel.
  const xs = [-800, -30, -3, -1, -1e-9, -0, 0, 1e-9, 0.3, 0.49, 0.5, 0.51, 1, 3, 19.9, 20, 20.1, 30, 800];
  const gs = xs.map((_, i) => Math.cos(i));
  const r = torchHere
    ? spawnSync(python, ['-c', torchScript], { input: JSON.stringify({ x: xs, g: gs }), encoding: 'utf8' })
    : null;
  const ref = r?.status === 0 ? (JSON.parse(r.stdout) as Record<string, number[][]>) : null;
  const why = r ? `torch failed: ${r.stderr}` : `${python} cannot import torch (BACKPROP_REQUIRE_TORCH=1)`;
  const calls: [string, (t: Tensor) => Tensor][] = [
    ['softplus', (t) => F.softplus(t)],
    ['softplus2', (t) => F.softplus(t, { beta: 2, threshold: 1 })],
    ['silu', (t) => F.silu(t)],
    ['elu', (t) => F.elu(t, { alpha: 0.4 })],
  ];
  for (const name of backendsHere()) {
    for (const [key, fn] of calls) {
      test(`${key} on ${name}: value, gradient (fused and rule) and second derivative`, () => {
        expect(ref, why).not.toBeNull();
        backend.use(name);
        const x = tensor(xs, { dtype: 'float64', requiresGrad: true });
        const gy = tensor(gs, { dtype: 'float64' });
        const y = fn(x);
        const [fused] = grad(fn(x), [x], { gradOutputs: gy }); // no graph: the unaryBackward kernel
        const [g] = grad(y, [x], { gradOutputs: gy, createGraph: true }); // the rule
        const [gg] = grad(g.sum(), [x]);
        const [wantY, wantG, wantGG] = ref![key];
        const checks = [
          [y, wantY, 'value'],
          [fused, wantG, 'fused gradient'],
          [g, wantG, 'gradient'],
          [gg, wantGG, 'second derivative'],
        ] as const;
        for (const [got, want, what] of checks) {
          expect(got.data.length, `${key} ${what}`).toBe(xs.length);
          want.forEach((w, i) => {
            const v = got.data[i];
            if (!(Math.abs(v - w) <= 1e-10 * (1 + Math.abs(w))))
              throw new Error(`${key} ${what} at x = ${xs[i]}: ${v} vs torch ${w}`);
          });
        }
      });
    }
  }
});
