// softplus, silu and elu. The js kernels against float64 closed forms written here with
// Math.log1p / Math.expm1 (torch's definitions), in both dtypes: values and gradients, ±Inf, NaN,
// huge and tiny inputs, the softplus threshold boundary and non-default parameters; the float64
// gradients also against central finite differences of the forward.
//   softplus(x; beta = p0, threshold = p1) = x where beta*x > threshold, else log1p(exp(beta*x))/beta
//   silu(x) = x / (1 + exp(-x))
//   elu(x; alpha = p0) = x where x > 0, else alpha*expm1(x)
// Float32 follows torch's float32 kernels: the parameters and softplus's product beta*x are
// float32 values; each result is the float64 value rounded once to float32.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { UnaryOp, type FloatArray } from '../lib/backend/types.js';
import { Rng } from './support/random.js';

type Dtype = 'float32' | 'float64';
const DTYPES: Dtype[] = ['float32', 'float64'];
const f32 = Math.fround;

function arrayOf(dtype: Dtype, values: readonly number[]): FloatArray {
  return dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values);
}

// ---------------------------------------------------------------------------------------------
// Closed forms in float64. For float32, the parameters (and softplus's product) are rounded as
// torch's float32 kernel rounds them; the caller rounds the result.

interface Op {
  name: 'softplus' | 'silu' | 'elu';
  code: UnaryOp;
  value(x: number, p0: number, p1: number, dtype: Dtype): number;
  /** f'(x) */
  slope(x: number, p0: number, p1: number, dtype: Dtype): number;
}

const asDtype = (v: number, dtype: Dtype): number => (dtype === 'float32' ? f32(v) : v);

const softplus: Op = {
  name: 'softplus',
  code: UnaryOp.softplus,
  value(x, p0, p1, dtype) {
    const beta = asDtype(p0, dtype);
    const t = asDtype(beta * x, dtype);
    return t > asDtype(p1, dtype) ? x : Math.log1p(Math.exp(t)) / beta;
  },
  slope(x, p0, p1, dtype) {
    const t = asDtype(asDtype(p0, dtype) * x, dtype);
    if (t > asDtype(p1, dtype)) return 1;
    const z = Math.exp(t);
    return z / (z + 1);
  },
};

const silu: Op = {
  name: 'silu',
  code: UnaryOp.silu,
  value: (x) => x / (1 + Math.exp(-x)),
  slope(x) {
    // sigmoid without overflow: exp(x)/(1 + exp(x)) below 0 keeps e^x for x << 0 (e.g. -740)
    const s = x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
    return s * (1 + x * (1 - s));
  },
};

const elu: Op = {
  name: 'elu',
  code: UnaryOp.elu,
  value: (x, p0, p1, dtype) => (x > 0 ? x : asDtype(p0, dtype) * Math.expm1(x)),
  slope: (x, p0, p1, dtype) => (x > 0 ? 1 : asDtype(p0, dtype) * Math.exp(x)),
};

/** [op, p0, p1]: torch's defaults first, then non-default parameters. */
const CASES: [Op, number, number][] = [
  [softplus, 1, 20], [softplus, 2, 5], [softplus, 0.5, 3], [softplus, 3, 1], [softplus, 1.7, -2],
  [silu, 0, 0],
  [elu, 1, 0], [elu, 0.3, 0], [elu, 2.5, 0], [elu, 0.1, 0],
];

const label = (op: Op, p0: number, p1: number, dtype: Dtype): string =>
  `${op.name}(p0 = ${p0}, p1 = ${p1}) ${dtype}`;

function run(op: Op, dtype: Dtype, xs: readonly number[], p0: number, p1: number, gys?: readonly number[]) {
  const x = arrayOf(dtype, xs);
  const y = arrayOf(dtype, xs.map(() => 0));
  js.unary(op.code, x, y, p0, p1);
  const gy = arrayOf(dtype, gys ?? xs.map((_, i) => 1 + (i % 5) / 4));
  const gx = arrayOf(dtype, xs.map(() => 0));
  js.unaryBackward(op.code, x, y, gy, gx, p0, p1);
  return { x, y, gy, gx };
}

/**
 * |actual - expected| <= rtol*|expected| + atol, NaN only where NaN is expected, infinities and
 * signed zeros exact. For float32 the expected value is rounded to float32 first.
 */
function expectClose(what: string, actual: number, expected: number, dtype: Dtype, atol = 0): void {
  const e = asDtype(expected, dtype);
  if (Number.isNaN(e) || !Number.isFinite(e)) {
    expect(actual, what).toBe(e);
    return;
  }
  if (e === 0 && atol === 0) {
    expect(Object.is(actual, e), `${what}: ${actual} is not ${Object.is(e, -0) ? '-0' : '0'}`).toBe(true);
    return;
  }
  // float32: one rounding of a value that float64 computed to a few ulp. float64: a few ulp.
  const rtol = dtype === 'float32' ? 2 ** -23 : 2e-15;
  const tol = rtol * Math.abs(e) + atol + (dtype === 'float32' ? 1.5e-45 : 5e-324);
  expect(Math.abs(actual - e), `${what}: ${actual} vs ${e}`).toBeLessThanOrEqual(tol);
}

// ---------------------------------------------------------------------------------------------

describe('js softplus, silu, elu: values and gradients against closed forms', () => {
  for (const dtype of DTYPES) {
    for (const [op, p0, p1] of CASES) {
      it(`${label(op, p0, p1, dtype)} on normal and uniform inputs`, () => {
        const rng = new Rng(7);
        const xs = [
          ...Array.from({ length: 300 }, () => 3 * rng.normal()),
          ...Array.from({ length: 300 }, () => rng.uniform(-40, 40)),
        ].map((v) => asDtype(v, dtype));
        const gys = xs.map(() => asDtype(rng.normal(), dtype));
        const { y, gx } = run(op, dtype, xs, p0, p1, gys);
        xs.forEach((v, i) => {
          expectClose(`${op.name}(${v})`, y[i], op.value(v, p0, p1, dtype), dtype);
          // silu's slope s(1 + x(1 - s)) crosses 0 near x = -1.28, where its terms cancel: the
          // error is relative to the size of the terms, |gy| (1 + |x|).
          const atol = 2e-15 * Math.abs(gys[i]) * (1 + Math.abs(v));
          expectClose(`${op.name}'(${v}) * ${gys[i]}`, gx[i], gys[i] * op.slope(v, p0, p1, dtype), dtype, atol);
        });
      });
    }
  }

  for (const [op, p0, p1] of CASES) {
    it(`${label(op, p0, p1, 'float64')} backward matches central finite differences of the forward`, () => {
      const rng = new Rng(8);
      const kink = op === softplus ? p1 / p0 : 0; // softplus switches branch at beta*x = threshold
      const xs = Array.from({ length: 200 }, () => rng.uniform(-8, 8)).filter((v) => Math.abs(v - kink) > 1e-3);
      const gys = xs.map(() => rng.normal());
      const { gx } = run(op, 'float64', xs, p0, p1, gys);
      const h = 1e-6;
      xs.forEach((v, i) => {
        const at = (u: number): number => {
          const out = new Float64Array(1);
          js.unary(op.code, Float64Array.of(u), out, p0, p1);
          return out[0];
        };
        const fd = (gys[i] * (at(v + h) - at(v - h))) / (2 * h);
        expect(Math.abs(gx[i] - fd), `${op.name}'(${v})`).toBeLessThanOrEqual(1e-6 * Math.abs(fd) + 1e-7);
      });
    });
  }
});

describe('js softplus, silu, elu at edge values', () => {
  const edges = [Infinity, -Infinity, NaN, 0, -0, 1000, -1000, 1e30, -1e30, 88, -88, 100, -100, 700, -700, -740,
    1e-30, -1e-30, 1e-7, -1e-7];
  for (const dtype of DTYPES) {
    const tiny = dtype === 'float32' ? [1e-40, -1e-40, 1.4e-45, -1.4e-45] : [1e-310, -1e-310, 5e-324, -5e-324];
    const big = dtype === 'float32' ? [3e38, -3e38] : [1e300, -1e300];
    const xs = [...edges, ...tiny, ...big].map((v) => asDtype(v, dtype));
    for (const [op, p0, p1] of CASES) {
      it(`${label(op, p0, p1, dtype)}: ±Inf, NaN, ±0, huge and tiny inputs`, () => {
        const { y, gy, gx } = run(op, dtype, xs, p0, p1);
        xs.forEach((v, i) => {
          expectClose(`${op.name}(${v})`, y[i], op.value(v, p0, p1, dtype), dtype);
          const slope = op.slope(v, p0, p1, dtype);
          expectClose(`${op.name}'(${v})`, gx[i], gy[i] * slope, dtype);
        });
      });
    }

    it(`pins the notable edges, ${dtype}`, () => {
      const at = (op: Op, v: number, p0 = 1, p1 = 20) => {
        const { y, gx } = run(op, dtype, [v], p0, p1, [1]);
        return [y[0], gx[0]];
      };
      // silu: -1000 / Inf is -0, never NaN; 1000 / 1 is 1000.
      expect(at(silu, -1000)).toEqual([-0, -0]);
      expect(Object.is(at(silu, -1000)[0], -0)).toBe(true);
      expect(at(silu, 1000)).toEqual([1000, 1]);
      expect(at(silu, Infinity)[0]).toBe(Infinity);
      // softplus: far below the threshold it is exp(x) (so 0 at -1000), above it x itself.
      expect(at(softplus, -1000)).toEqual([0, 0]);
      expect(at(softplus, 1000)).toEqual([1000, 1]);
      expect(at(softplus, -Infinity)).toEqual([0, 0]);
      expect(at(softplus, Infinity)).toEqual([Infinity, 1]);
      // elu saturates at -alpha.
      expect(at(elu, -1000, 0.5)).toEqual([-0.5, 0]);
      expect(at(elu, -Infinity, 0.5)).toEqual([-0.5, 0]);
      expect(at(elu, Infinity, 0.5)).toEqual([Infinity, 1]);
      for (const op of [softplus, silu, elu]) {
        const [y, g] = at(op, NaN);
        expect(y, `${op.name}(NaN)`).toBeNaN();
        expect(g, `${op.name}'(NaN)`).toBeNaN();
      }
    });

    it(`keeps tiny inputs' precision (expm1, log1p), ${dtype}`, () => {
      const v = dtype === 'float32' ? f32(1e-30) : 1e-30;
      // elu(-v) = alpha * expm1(-v) ~ -alpha*v; exp(-v) - 1 would give 0.
      const [y] = run(elu, dtype, [-v], 0.3, 0).y;
      expectClose('elu(-1e-30)', y, -asDtype(0.3, dtype) * v, dtype);
      expect(y).toBeLessThan(0);
      // silu(v) = v/2, softplus(v) = log 2 + v/2.
      expectClose('silu(1e-30)', run(silu, dtype, [v], 0, 0).y[0], v / 2, dtype);
      expectClose('softplus(1e-30)', run(softplus, dtype, [v], 1, 20).y[0], Math.LN2, dtype);
      // A subnormal input stays a (subnormal) nonzero result.
      const sub = dtype === 'float32' ? f32(1e-40) : 1e-310;
      expectClose('silu(subnormal)', run(silu, dtype, [sub], 0, 0).y[0], sub / 2, dtype);
      expect(run(elu, dtype, [-sub], 1, 0).y[0]).toBe(-sub);
    });
  }
});

describe('js softplus: the threshold', () => {
  for (const dtype of DTYPES) {
    it(`takes the linear branch only strictly above the threshold, ${dtype}`, () => {
      // beta = 2, threshold = 3: beta*x = 3 at x = 1.5 (exact in both dtypes) is not above it.
      const next = dtype === 'float32' ? 1.5 + 2 ** -23 : 1.5 + 2 ** -52;
      const { y, gx } = run(softplus, dtype, [1.5, next], 2, 3, [1, 1]);
      expectClose('softplus(1.5)', y[0], Math.log1p(Math.exp(3)) / 2, dtype);
      expectClose("softplus'(1.5)", gx[0], Math.exp(3) / (Math.exp(3) + 1), dtype);
      expect(y[1]).toBe(next);
      expect(gx[1]).toBe(1);
      // The default threshold 20: x = 20 takes log1p(exp(20)), the next value x itself.
      const n20 = dtype === 'float32' ? 20 + 2 ** -19 : 20 + 2 ** -48;
      const d = run(softplus, dtype, [20, n20], 1, 20, [1, 1]);
      expectClose('softplus(20)', d.y[0], Math.log1p(Math.exp(20)), dtype);
      expectClose("softplus'(20)", d.gx[0], Math.exp(20) / (Math.exp(20) + 1), dtype);
      expect([d.y[1], d.gx[1]]).toEqual([n20, 1]);
    });
  }

  it('compares the float32 product beta*x for float32 arrays, as torch does', () => {
    // x = fround(1/3), beta = 3: the float64 product is 1.0000000298..., its float32 rounding is
    // exactly 1, which is not above the threshold 1.
    const x = f32(1 / 3);
    expect(3 * x).toBeGreaterThan(1);
    expect(f32(3 * x)).toBe(1);
    const r32 = run(softplus, 'float32', [x], 3, 1, [1]);
    expectClose('float32 softplus', r32.y[0], Math.log1p(Math.E) / 3, 'float32');
    expectClose("float32 softplus'", r32.gx[0], Math.E / (Math.E + 1), 'float32');
    const r64 = run(softplus, 'float64', [x], 3, 1, [1]);
    expect([r64.y[0], r64.gx[0]]).toEqual([x, 1]);
  });

  it('stays finite when the threshold is raised past exp overflow', () => {
    // log1p(exp(800)) overflows in float64; softplus(800) is 800 (+ log1p(e^-800)).
    const r64 = run(softplus, 'float64', [800, -800], 1, 1e4, [2, 2]);
    expect([...r64.y]).toEqual([800, 0]);
    expect([...r64.gx]).toEqual([2, 0]);
    // float32: exp(100) overflows float32, but the kernel computes in float64 before rounding.
    const r32 = run(softplus, 'float32', [100, 200 / 3], 1, 1e4, [1, 1]);
    expect(r32.y[0]).toBe(100);
    expectClose('softplus(66.7)', r32.y[1], f32(200 / 3) + Math.log1p(Math.exp(-f32(200 / 3))), 'float32');
    expect(r32.gx[0]).toBe(1);
  });
});

describe('js softplus, silu, elu: aliasing and arguments', () => {
  it('allows y to alias x and gx to alias gy', () => {
    const rng = new Rng(9);
    for (const dtype of DTYPES) {
      for (const [op, p0, p1] of CASES) {
        const xs = Array.from({ length: 64 }, () => asDtype(6 * rng.normal(), dtype));
        const gys = xs.map(() => asDtype(rng.normal(), dtype));
        const ref = run(op, dtype, xs, p0, p1, gys);
        const x = arrayOf(dtype, xs);
        const y = x.slice();
        js.unary(op.code, y, y, p0, p1);
        expect([...y], label(op, p0, p1, dtype)).toEqual([...ref.y]);
        const g = arrayOf(dtype, gys);
        js.unaryBackward(op.code, x, y, g, g, p0, p1);
        expect([...g], label(op, p0, p1, dtype)).toEqual([...ref.gx]);
      }
    }
  });

  it('requires both parameters as numbers', () => {
    const x = new Float32Array(3);
    const call = (p0: unknown, p1: unknown) => () => js.unary(UnaryOp.softplus, x, x, p0 as number, p1 as number);
    expect(call(1, undefined)).toThrow(TypeError);
    expect(call(1, undefined)).toThrow(/unary: p1 must be a number, got undefined/);
    expect(call('1', 20)).toThrow(TypeError);
    expect(() => js.unaryBackward(UnaryOp.elu, x, x, x, x, 1, null as unknown as number)).toThrow(TypeError);
  });
});
