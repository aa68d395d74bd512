// The js backend against values computed independently of it: by hand, closed forms, mpmath
// (erf, GELU), torch 1.13 (optimizer steps), naive loops written here, and finite differences.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { erf, erfc } from '../lib/backend/js-math.js';
import { BinaryOp, ReduceOp, UnaryOp } from '../lib/backend/types.js';
import { Rng } from './support/random.js';

const F32 = Float32Array;
const F64 = Float64Array;
type Ctor = typeof Float32Array | typeof Float64Array;

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(a, `element ${i}`).toBeNaN();
      continue;
    }
    const tol = atol + rtol * Math.abs(e);
    if (!(Math.abs(a - e) <= tol)) {
      throw new Error(`element ${i}: got ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > ${tol})`);
    }
  }
}

/** C = alpha op(A) op(B) + beta C by the textbook triple loop, in float64. */
function naiveGemm(
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: ArrayLike<number>,
  aOff: number,
  b: ArrayLike<number>,
  bOff: number,
  beta: number,
  c: ArrayLike<number>,
  cOff: number,
): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const av = tA ? a[aOff + p * m + i] : a[aOff + i * k + p];
        const bv = tB ? b[bOff + j * k + p] : b[bOff + p * n + j];
        s += av * bv;
      }
      out.push(beta === 0 ? alpha * s : alpha * s + beta * c[cOff + i * n + j]);
    }
  }
  return out;
}

describe('js gemm', () => {
  it('multiplies a hand-computed 2x3 by 3x2', () => {
    const a = new F64([1, 2, 3, 4, 5, 6]);
    const b = new F64([7, 8, 9, 10, 11, 12]);
    const c = new F64(4);
    js.gemm(false, false, 2, 2, 3, 1, a, b, 0, c);
    expect([...c]).toEqual([58, 64, 139, 154]);
  });

  it('matches a naive triple loop for every transpose, alpha and beta, both dtypes', () => {
    const rng = new Rng(1);
    for (const T of [F32, F64] as Ctor[]) {
      for (const [m, n, k] of [
        [1, 1, 1],
        [3, 5, 7],
        [17, 4, 9],
        [8, 8, 1],
        [5, 13, 31],
      ]) {
        for (const tA of [false, true]) {
          for (const tB of [false, true]) {
            for (const [alpha, beta] of [
              [1, 0],
              [0.5, 2],
              [-1.5, 1],
              [2, -0.25],
            ]) {
              const a = rng.fill(new T(m * k));
              const b = rng.fill(new T(k * n));
              const c = rng.fill(new T(m * n));
              const expected = naiveGemm(tA, tB, m, n, k, alpha, a, 0, b, 0, beta, c, 0);
              js.gemm(tA, tB, m, n, k, alpha, a, b, beta, c);
              expectClose(c, expected, T === F32 ? 1e-5 : 1e-13, T === F32 ? 1e-5 : 1e-13);
            }
          }
        }
      }
    }
  });

  it('handles batches with strides, offsets and a broadcast (stride 0) operand', () => {
    const rng = new Rng(2);
    const [m, n, k, batch] = [3, 4, 5, 3];
    const aOff = 2;
    const bOff = 1;
    const cOff = 3;
    const a = rng.fill(new F64(aOff + batch * m * k + 1));
    const b = rng.fill(new F64(bOff + k * n)); // one B shared by every batch
    const strideC = m * n + 2; // gaps between outputs stay untouched
    const c = rng.fill(new F64(cOff + batch * strideC));
    const before = Float64Array.from(c);
    js.gemm(true, false, m, n, k, 1.5, a, b, 0.5, c, batch, m * k, 0, strideC, aOff, bOff, cOff);
    for (let i = 0; i < batch; i++) {
      const expected = naiveGemm(
        true,
        false,
        m,
        n,
        k,
        1.5,
        a,
        aOff + i * m * k,
        b,
        bOff,
        0.5,
        before,
        cOff + i * strideC,
      );
      expectClose(c.subarray(cOff + i * strideC, cOff + i * strideC + m * n), expected, 1e-13, 1e-13);
      if (i < batch - 1) {
        const gap = cOff + i * strideC + m * n;
        expect([c[gap], c[gap + 1]]).toEqual([before[gap], before[gap + 1]]);
      }
    }
    expect([...c.subarray(0, cOff)]).toEqual([...before.subarray(0, cOff)]);
  });

  it('handles batches with a transposed B, per-batch or shared (stride 0)', () => {
    const rng = new Rng(6);
    const [m, n, k, batch] = [4, 3, 6, 3];
    for (const T of [F32, F64] as Ctor[]) {
      for (const strideB of [0, k * n + 1]) {
        const a = rng.fill(new T(batch * m * k));
        const b = rng.fill(new T(2 + (batch - 1) * strideB + k * n));
        const c = rng.fill(new T(batch * m * n));
        const before = T.from(c);
        js.gemm(false, true, m, n, k, 1, a, b, -1, c, batch, m * k, strideB, m * n, 0, 2, 0);
        for (let i = 0; i < batch; i++) {
          const expected = naiveGemm(false, true, m, n, k, 1, a, i * m * k, b, 2 + i * strideB, -1, before, i * m * n);
          expectClose(
            c.subarray(i * m * n, (i + 1) * m * n),
            expected,
            T === F32 ? 1e-5 : 1e-13,
            T === F32 ? 1e-5 : 1e-13,
          );
        }
      }
    }
  });

  it('ignores C when beta = 0 and A, B when alpha = 0 (NaN does not leak), and scales C when k = 0', () => {
    const c = new F32([NaN, NaN, NaN, NaN]);
    js.gemm(false, false, 2, 2, 1, 1, new F32([1, 2]), new F32([3, 4]), 0, c);
    expect([...c]).toEqual([3, 4, 6, 8]);
    const c2 = new F64([1, 2]);
    js.gemm(false, false, 1, 2, 2, 0, new F64([NaN, 1]), new F64([1, 2, 3, NaN]), 3, c2);
    expect([...c2]).toEqual([3, 6]);
    const c3 = new F64([1, -2]);
    js.gemm(false, false, 1, 2, 0, 1, new F64(0), new F64(0), 2, c3);
    expect([...c3]).toEqual([2, -4]);
  });

  it('rejects bad arguments with TypeError / RangeError', () => {
    const a = new F32(6);
    const b = new F32(6);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, a, b, 0, new F32(3))).toThrow(RangeError);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, new F32(5), b, 0, new F32(4))).toThrow(RangeError);
    expect(() => js.gemm(false, false, -1, 2, 3, 1, a, b, 0, new F32(4))).toThrow(RangeError);
    expect(() => js.gemm(false, false, 2.5, 2, 3, 1, a, b, 0, new F32(4))).toThrow(RangeError);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, a, new F64(6), 0, new F32(4))).toThrow(TypeError);
    expect(() => js.gemm(false, false, 2, 2, 3, 1, [1, 2] as unknown as Float32Array, b, 0, new F32(4))).toThrow(
      TypeError,
    );
    expect(() => js.gemm(false, false, 2, 2, 3, 1, a, b, 0, new F32(8), 2, 6, 6, 4, 1)).toThrow(RangeError);
  });
});

describe('js erf and unary kernels', () => {
  // [x, erf(x), erfc(x)] from mpmath at 40 digits, printed to 20: each literal rounds to the
  // nearest double, which is the reference wanted.
  /* eslint-disable no-loss-of-precision */
  const erfTable: [number, number, number][] = [
    [-30, -1, 2],
    [-5, -0.99999999999846254021, 1.9999999999984625402],
    [-3, -0.99997790950300141456, 1.9999779095030014146],
    [-1.5, -0.96610514647531072707, 1.9661051464753107271],
    [-1.4999, -0.96609325166229527062, 1.9660932516622952706],
    [-1, -0.84270079294971486934, 1.8427007929497148693],
    [-0.001, -0.0011283787909692364034, 1.0011283787909692364],
    [0, 0, 1],
    [1e-8, 1.1283791670955125599e-8, 0.99999998871620832904],
    [0.3, 0.32862675945912741619, 0.67137324054087258381],
    [0.5, 0.52049987781304653768, 0.47950012218695346232],
    [1, 0.84270079294971486934, 0.15729920705028513066],
    [1.49, 0.96489786484320421101, 0.035102135156795788985],
    [1.5, 0.96610514647531072707, 0.033894853524689272933],
    [2, 0.99532226501895273416, 0.0046777349810472658379],
    [3, 0.99997790950300141456, 0.000022090496998585441373],
    [4.5, 0.99999999980338395585, 1.9661604415428874763e-10],
    [6, 0.99999999999999997848, 2.1519736712498913117e-17],
    [8, 1, 1.122429717298292708e-29],
  ];
  /* eslint-enable no-loss-of-precision */

  it('erf and erfc agree with mpmath to about 1e-15 relative', () => {
    for (const [x, e, ec] of erfTable) {
      expect(Math.abs(erf(x) - e), `erf(${x})`).toBeLessThanOrEqual(1e-15 * Math.abs(e) + 1e-300);
      // erfc below 1.5 is 1 - erf: relative accuracy drops at most by 1/erfc(1.5) ~ 30x.
      expect(Math.abs(erfc(x) - ec), `erfc(${x})`).toBeLessThanOrEqual(3e-14 * Math.abs(ec));
    }
    expect(erf(NaN)).toBeNaN();
  });

  it('computes each op on hand-checked values', () => {
    const x = new F64([-2, -0.5, 0, 0.5, 3]);
    const y = new F64(5);
    const run = (op: UnaryOp, alpha = 0): number[] => (js.unary(op, x, y, alpha, 0), [...y]);
    expect(run(UnaryOp.relu)).toEqual([0, 0, 0, 0.5, 3]);
    expect(run(UnaryOp.leakyRelu, 0.1)).toEqual([-0.2, -0.05, 0, 0.5, 3]);
    expectClose(
      run(UnaryOp.sigmoid),
      [...x].map((v) => 1 / (1 + Math.exp(-v))),
      1e-15,
      0,
    );
    expectClose(
      run(UnaryOp.tanh),
      [...x].map((v) => (Math.exp(2 * v) - 1) / (Math.exp(2 * v) + 1)),
      1e-15,
      1e-16,
    );
    expectClose(run(UnaryOp.exp), [Math.E ** -2, Math.E ** -0.5, 1, Math.E ** 0.5, Math.E ** 3], 1e-15, 0);
    expect(run(UnaryOp.abs)).toEqual([2, 0.5, 0, 0.5, 3]);
    expect(run(UnaryOp.neg)).toEqual([2, 0.5, -0, -0.5, -3]);
    expect(run(UnaryOp.sign)).toEqual([-1, -1, 0, 1, 1]);
    const pos = new F64([0.25, 1, 4, Math.E]);
    const out = new F64(4);
    js.unary(UnaryOp.sqrt, pos, out, 0, 0);
    expect([...out]).toEqual([0.5, 1, 2, Math.sqrt(Math.E)]);
    js.unary(UnaryOp.log, pos, out, 0, 0);
    expectClose(out, [-2 * Math.LN2, 0, 2 * Math.LN2, 1], 1e-15, 1e-16);
  });

  it('GELU (erf form) and its derivative agree with mpmath', () => {
    // [x, x*Phi(x), Phi(x) + x*phi(x)], printed to 20 digits (rounded to the nearest double here)
    /* eslint-disable no-loss-of-precision */
    const table = [
      [-10, -7.619853024160526066e-23, -7.6184000964648140857e-22],
      [-6, -5.9195258702261888442e-9, -3.5468709453902014781e-8],
      [-3, -0.00404969409489028358, -0.011945647204183927],
      [-1, -0.15865525393145705141, -0.083315470587686298383],
      [-0.25, -0.10032341857926906894, 0.30462664511636397402],
      [0, 0, 0.5],
      [0.25, 0.14967658142073093106, 0.69537335488363602598],
      [1, 0.84134474606854294859, 1.0833154705876862984],
      [3, 2.9959503059051097164, 1.011945647204183927],
      [6, 5.9999999940804741298, 1.0000000354687094539],
    ];
    /* eslint-enable no-loss-of-precision */
    const x = new F64(table.map((r) => r[0]));
    const y = new F64(x.length);
    const gx = new F64(x.length);
    js.unary(UnaryOp.gelu, x, y, 0, 0);
    js.unaryBackward(UnaryOp.gelu, x, y, new F64(x.length).fill(1), gx, 0, 0);
    expectClose(
      y,
      table.map((r) => r[1]),
      1e-13,
      1e-300,
    );
    expectClose(
      gx,
      table.map((r) => r[2]),
      1e-13,
      1e-300,
    );
  });

  it('keeps sigmoid, tanh and softmax finite at extreme inputs', () => {
    const x = new F32([-1000, -90, 90, 1000]);
    const y = new F32(4);
    js.unary(UnaryOp.sigmoid, x, y, 0, 0);
    expect([...y]).toEqual([0, Math.fround(Math.exp(-90)), 1, 1]);
    js.unary(UnaryOp.tanh, x, y, 0, 0);
    expect([...y]).toEqual([-1, -1, 1, 1]);
  });

  it('backward of every differentiable op matches central finite differences (float64)', () => {
    const rng = new Rng(3);
    const ops: [UnaryOp, number, number, number][] = [
      // [op, alpha, input lo, input hi]: ranges avoid kinks (relu, abs at 0) and domain edges.
      [UnaryOp.leakyRelu, 0.2, -3, 3],
      [UnaryOp.relu, 0, -3, 3],
      [UnaryOp.sigmoid, 0, -6, 6],
      [UnaryOp.tanh, 0, -3, 3],
      [UnaryOp.gelu, 0, -5, 5],
      [UnaryOp.exp, 0, -3, 3],
      [UnaryOp.log, 0, 0.1, 5],
      [UnaryOp.sqrt, 0, 0.1, 5],
      [UnaryOp.abs, 0, -3, 3],
      [UnaryOp.neg, 0, -3, 3],
    ];
    const h = 1e-6;
    for (const [op, alpha, lo, hi] of ops) {
      const x = rng.fill(new F64(40), lo, hi).map((v) => (Math.abs(v) < 0.01 ? v + 0.05 : v));
      const y = new F64(40);
      const gy = rng.fill(new F64(40));
      const gx = new F64(40);
      js.unary(op, x, y, alpha, 0);
      js.unaryBackward(op, x, y, gy, gx, alpha, 0);
      const fd = [...x].map((v, i) => {
        const plus = new F64(1);
        const minus = new F64(1);
        js.unary(op, new F64([v + h]), plus, alpha, 0);
        js.unary(op, new F64([v - h]), minus, alpha, 0);
        return (gy[i] * (plus[0] - minus[0])) / (2 * h);
      });
      expectClose(gx, fd, 1e-6, 1e-7);
    }
  });

  it('follows torch at kinks: relu and abs have gradient 0 at 0, sign has gradient 0', () => {
    const x = new F64([0, 0, 0]);
    const gx = new F64(3);
    for (const op of [UnaryOp.relu, UnaryOp.abs, UnaryOp.sign]) {
      js.unaryBackward(op, x, x, new F64([1, 2, 3]), gx, 0, 0);
      expect([...gx]).toEqual([0, 0, 0]);
    }
  });

  it('rounds float32 results to float32 and allows y to alias x', () => {
    const x = new F32([0.1, 1.7]);
    js.unary(UnaryOp.exp, x, x, 0, 0);
    expect([...x]).toEqual([Math.fround(Math.exp(Math.fround(0.1))), Math.fround(Math.exp(Math.fround(1.7)))]);
  });

  it('rejects unknown ops, mixed dtypes and wrong lengths', () => {
    expect(() => js.unary(99 as UnaryOp, new F32(2), new F32(2), 0, 0)).toThrow(RangeError);
    expect(() => js.unary(UnaryOp.relu, new F32(2), new F32(3), 0, 0)).toThrow(RangeError);
    expect(() => js.unary(UnaryOp.relu, new F32(2), new F64(2), 0, 0)).toThrow(TypeError);
    expect(() => js.unaryBackward(UnaryOp.relu, new F32(2), new F32(2), new F32(1), new F32(2), 0, 0)).toThrow(
      RangeError,
    );
  });
});

describe('js binary kernels', () => {
  it('broadcasts hand-checked shapes', () => {
    const out = new F64(6);
    js.binary(BinaryOp.add, new F64([1, 2, 3, 4, 5, 6]), [2, 3], new F64([10, 20, 30]), [3], out);
    expect([...out]).toEqual([11, 22, 33, 14, 25, 36]);
    js.binary(BinaryOp.mul, new F64([1, 2]), [2, 1], new F64([1, 10, 100]), [1, 3], out);
    expect([...out]).toEqual([1, 10, 100, 2, 20, 200]);
    js.binary(BinaryOp.sub, new F64([5]), [], new F64([1, 2, 3, 4, 5, 6]), [3, 2], out);
    expect([...out]).toEqual([4, 3, 2, 1, 0, -1]);
    const scalarOut = new F64(1);
    js.binary(BinaryOp.div, new F64([1]), [], new F64([4]), [1, 1], scalarOut);
    expect(scalarOut[0]).toBe(0.25);
  });

  it('computes every op elementwise', () => {
    const a = new F64([1, 2, 3, -1]);
    const b = new F64([2, 2, 1, 0.5]);
    const out = new F64(4);
    const run = (op: BinaryOp): number[] => (js.binary(op, a, [4], b, [4], out), [...out]);
    expect(run(BinaryOp.add)).toEqual([3, 4, 4, -0.5]);
    expect(run(BinaryOp.sub)).toEqual([-1, 0, 2, -1.5]);
    expect(run(BinaryOp.mul)).toEqual([2, 4, 3, -0.5]);
    expect(run(BinaryOp.div)).toEqual([0.5, 1, 3, -2]);
    expect(run(BinaryOp.pow)).toEqual([1, 4, 3, NaN]);
    expect(run(BinaryOp.maximum)).toEqual([2, 2, 3, 0.5]);
    expect(run(BinaryOp.minimum)).toEqual([1, 2, 1, -1]);
    expect(run(BinaryOp.gt)).toEqual([0, 0, 1, 0]);
    expect(run(BinaryOp.lt)).toEqual([1, 0, 0, 1]);
    expect(run(BinaryOp.ge)).toEqual([0, 1, 1, 0]);
    expect(run(BinaryOp.le)).toEqual([1, 1, 0, 1]);
    expect(run(BinaryOp.eq)).toEqual([0, 1, 0, 0]);
  });

  it('matches an index-by-index broadcast written here on random 4-D shapes', () => {
    const rng = new Rng(4);
    const cases: [number[], number[]][] = [
      [
        [2, 1, 3, 4],
        [5, 1, 1],
      ],
      [
        [3, 1],
        [2, 1, 4, 3, 1],
      ],
      [
        [1, 4, 1, 2],
        [3, 1, 5, 1],
      ],
      [
        [0, 3],
        [1, 3],
      ],
    ];
    for (const [as, bs] of cases) {
      const nd = Math.max(as.length, bs.length);
      const pa = [...new Array<number>(nd - as.length).fill(1), ...as];
      const pb = [...new Array<number>(nd - bs.length).fill(1), ...bs];
      const os = pa.map((s, d) => Math.max(s, pb[d]) * (s === 0 || pb[d] === 0 ? 0 : 1));
      const a = rng.fill(new F64(as.reduce((p, s) => p * s, 1)));
      const b = rng.fill(new F64(bs.reduce((p, s) => p * s, 1)));
      const total = os.reduce((p, s) => p * s, 1);
      const out = new F64(total);
      js.binary(BinaryOp.sub, a, as, b, bs, out);
      const flat = (shape: number[], idx: number[]): number =>
        idx.reduce((acc, v, d) => acc * shape[d] + (shape[d] === 1 ? 0 : v), 0);
      for (let o = 0; o < total; o++) {
        const idx: number[] = [];
        let r = o;
        for (let d = nd - 1; d >= 0; d--) {
          idx[d] = r % os[d];
          r = Math.floor(r / os[d]);
        }
        expect(out[o]).toBe(a[flat(pa, idx)] - b[flat(pb, idx)]);
      }
    }
  });

  it('names both shapes when they do not broadcast', () => {
    expect(() => js.binary(BinaryOp.add, new F32(6), [2, 3], new F32(2), [2], new F32(6))).toThrow(/\[2, 3\].*\[2\]/);
    expect(() => js.binary(BinaryOp.add, new F32(5), [2, 3], new F32(3), [3], new F32(6))).toThrow(RangeError);
    expect(() => js.binary(BinaryOp.add, new F32(6), [2, 3], new F32(3), [3], new F32(5))).toThrow(RangeError);
  });

  it('binaryScalar puts the scalar on either side', () => {
    const out = new F64(3);
    js.binaryScalar(BinaryOp.sub, new F64([1, 2, 3]), 10, out, false);
    expect([...out]).toEqual([-9, -8, -7]);
    js.binaryScalar(BinaryOp.sub, new F64([1, 2, 3]), 10, out, true);
    expect([...out]).toEqual([9, 8, 7]);
    js.binaryScalar(BinaryOp.pow, new F64([1, 2, 3]), 2, out, true);
    expect([...out]).toEqual([2, 4, 8]);
  });
});

describe('js reductions', () => {
  // x[o, j, i] = 100 o + 10 j + i over [2, 3, 2]
  const x = new F64([0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121]);

  it('sum, mean, max, min over the middle axis', () => {
    const out = new F64(4);
    js.reduce(ReduceOp.sum, x, 2, 3, 2, out);
    expect([...out]).toEqual([30, 33, 330, 333]);
    js.reduce(ReduceOp.mean, x, 2, 3, 2, out);
    expect([...out]).toEqual([10, 11, 110, 111]);
    js.reduce(ReduceOp.max, x, 2, 3, 2, out);
    expect([...out]).toEqual([20, 21, 120, 121]);
    js.reduce(ReduceOp.min, x, 2, 3, 2, out);
    expect([...out]).toEqual([0, 1, 100, 101]);
  });

  it('an empty axis sums to 0, averages to NaN, and has no max', () => {
    const out = new F64(2);
    js.reduce(ReduceOp.sum, new F64(0), 2, 0, 1, out);
    expect([...out]).toEqual([0, 0]);
    js.reduce(ReduceOp.mean, new F64(0), 2, 0, 1, out);
    expect([...out]).toEqual([NaN, NaN]);
    expect(() => js.reduce(ReduceOp.max, new F64(0), 2, 0, 1, out)).toThrow(RangeError);
  });

  it('maxAxis and argmax return the first maximum; NaN counts as the maximum', () => {
    const v = new F64([3, 7, 7, 1, /* row 2 */ 2, NaN, 9, 9]);
    const out = new F64(2);
    const idx = new Int32Array(2);
    js.maxAxis(v, 2, 4, 1, out, idx);
    expect([...out]).toEqual([7, NaN]);
    expect([...idx]).toEqual([1, 1]);
    const idx4 = new Int32Array(4);
    js.argmax(x, 2, 3, 2, idx4);
    expect([...idx4]).toEqual([2, 2, 2, 2]);
    expect(() => js.argmax(x, 2, 3, 2, new Int32Array(3))).toThrow(RangeError);
    expect(() => js.argmax(x, 2, 3, 2, new F64(4) as unknown as Int32Array)).toThrow(TypeError);
  });

  it('float32 sums are accumulated in float32', () => {
    // 2^24 + 1 is not representable in float32: each +1 after 2^24 is lost.
    const v = new F32([16777216, 1, 1, 1, 1]);
    const out = new F32(1);
    js.reduce(ReduceOp.sum, v, 1, 5, 1, out);
    expect(out[0]).toBe(16777216);
  });
});

describe('js softmax family', () => {
  it('softmax and logSoftmax match closed forms, stably', () => {
    const x = new F64([0, Math.log(2), Math.log(3), 1000, 1000 + Math.log(2), 1000 + Math.log(3)]);
    const y = new F64(6);
    js.softmax(x, 2, 3, y);
    expectClose(y, [1 / 6, 2 / 6, 3 / 6, 1 / 6, 2 / 6, 3 / 6], 1e-12, 0);
    js.logSoftmax(x, 2, 3, y);
    expectClose(
      y,
      [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6), Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6)],
      1e-12,
      1e-12,
    );
  });

  it('the backward kernels match finite differences of <w, f(x)>', () => {
    const rng = new Rng(5);
    const [rows, cols] = [3, 5];
    const x = rng.fill(new F64(rows * cols));
    const w = rng.fill(new F64(rows * cols));
    // The js kernels are plain functions (no `this`): safe to take off the object.
    /* eslint-disable @typescript-eslint/unbound-method */
    const kernelPairs = [
      [js.softmax, js.softmaxBackward],
      [js.logSoftmax, js.logSoftmaxBackward],
    ] as const;
    /* eslint-enable @typescript-eslint/unbound-method */
    for (const [fwd, bwd] of kernelPairs) {
      const y = new F64(rows * cols);
      fwd(x, rows, cols, y);
      const gx = new F64(rows * cols);
      bwd(y, w, rows, cols, gx);
      const h = 1e-6;
      const objective = (xs: Float64Array): number => {
        const ys = new F64(rows * cols);
        fwd(xs, rows, cols, ys);
        return ys.reduce((s, v, i) => s + v * w[i], 0);
      };
      const fd = [...x].map((_, i) => {
        const p = Float64Array.from(x);
        const m = Float64Array.from(x);
        p[i] += h;
        m[i] -= h;
        return (objective(p) - objective(m)) / (2 * h);
      });
      expectClose(gx, fd, 1e-6, 1e-8);
    }
  });

  it('softmaxCrossEntropy: loss = logsumexp - x[t], grad = scale (softmax - onehot)', () => {
    const logits = new F64([1, 2, 3, 0, 0, 0, 1000, 0, -1000]);
    const targets = new Int32Array([2, 0, 1]);
    const losses = new F64(3);
    const grad = new F64(9);
    js.softmaxCrossEntropy(logits, 3, 3, targets, losses, grad, 0.5);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expectClose(losses, [lse - 3, Math.log(3), 1000], 1e-12, 1e-12);
    const p = [Math.exp(1 - lse), Math.exp(2 - lse), Math.exp(3 - lse)];
    expectClose(
      grad,
      [0.5 * p[0], 0.5 * p[1], 0.5 * (p[2] - 1), 0.5 * (1 / 3 - 1), 0.5 / 3, 0.5 / 3, 0.5, -0.5, 0],
      1e-12,
      1e-15,
    );
    const losses2 = new F64(3);
    js.softmaxCrossEntropy(logits, 3, 3, targets, losses2, null, 1);
    expect([...losses2]).toEqual([...losses]);
  });

  it('softmaxCrossEntropy rejects out-of-range targets before writing anything', () => {
    const losses = new F64([7, 7]);
    expect(() => js.softmaxCrossEntropy(new F64(6), 2, 3, new Int32Array([0, 3]), losses, null, 1)).toThrow(RangeError);
    expect(() => js.softmaxCrossEntropy(new F64(6), 2, 3, new Int32Array([-1, 0]), losses, null, 1)).toThrow(
      RangeError,
    );
    expect([...losses]).toEqual([7, 7]);
    expect(() => js.softmaxCrossEntropy(new F64(6), 2, 3, new Int32Array([0]), losses, null, 1)).toThrow(RangeError);
  });
});

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

describe('js optimizer steps against torch.optim (torch 1.13, float64)', () => {
  const p0 = [1.0, -2.0, 3.0, 0.5];
  const grads = [
    [0.1, -0.2, 0.3, 0.0],
    [0.5, 0.4, -0.3, -1.0],
    [-0.2, 0.0, 0.7, 0.25],
  ];
  // Parameters after each of three steps, printed by torch.optim with these settings.
  const torchResults: Record<string, number[][]> = {
    sgd_plain: [
      [0.99, -1.98, 2.97, 0.5],
      [0.94, -2.02, 3.0, 0.6],
      [0.96, -2.02, 2.93, 0.575],
    ],
    sgd_mom: [
      [0.989, -1.978, 2.967, 0.4995],
      [0.9332099, -1.9924198, 2.9616297, 0.58860045],
      [0.9001589210900001, -2.00360444218, 2.89113096327, 0.6457611145950001],
    ],
    sgd_nesterov: [
      [0.9892, -1.9784, 2.9676, 0.4991],
      [0.9385794399999999, -2.00315888, 2.97773832, 0.58788162],
      [0.9351849090079999, -2.004943018016, 2.9078631270239996, 0.595748009084],
    ],
    adam: [
      [0.9900000009999999, -1.9900000005, 2.990000000333333, 0.5],
      [0.9813895386180784, -1.9936610356546038, 2.990526316105263, 0.5074413681304593],
      [0.9775273185242537, -1.9964910264197966, 2.985272930227276, 0.5114715765237968],
    ],
    adam_wd_ams: [
      [0.9800000999995, -1.980000049999875, 2.980000033333278, 0.48000039999200017],
      [0.961301344636151, -1.9758304209171385, 2.967639123606417, 0.49484483770660986],
      [0.9502406194372867, -1.9672554184059214, 2.9510112118140617, 0.5009444954921963],
    ],
    adamw: [
      [0.9890000009999999, -1.9880000005, 2.987000000333333, 0.4995],
      [0.9794005386170784, -1.989673035654104, 2.9845393161049296, 0.5064418681304593],
      [0.9745589179846366, -1.9905133533836425, 2.976301390910838, 0.5099656346556665],
    ],
  };

  const sgdCases: [string, number, number, number, number, boolean][] = [
    // name, lr, momentum, dampening, weightDecay, nesterov
    ['sgd_plain', 0.1, 0, 0, 0, false],
    ['sgd_mom', 0.1, 0.9, 0.1, 0.01, false],
    ['sgd_nesterov', 0.05, 0.8, 0, 0.02, true],
  ];
  for (const [name, lr, momentum, dampening, wd, nesterov] of sgdCases) {
    it(`sgdStep: ${name}`, () => {
      const p = new F64(p0);
      const buf = momentum === 0 ? null : new F64(4);
      grads.forEach((g, step) => {
        js.sgdStep(p, new F64(g), buf, lr, momentum, dampening, wd, nesterov, step === 0);
        expectClose(p, torchResults[name][step], 1e-14, 1e-15);
      });
    });
  }

  const adamCases: [string, number, number, number, number, number, boolean, boolean][] = [
    // name, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled
    ['adam', 0.01, 0.9, 0.999, 1e-8, 0, false, false],
    ['adam_wd_ams', 0.02, 0.8, 0.95, 1e-6, 0.1, true, false],
    ['adamw', 0.01, 0.9, 0.999, 1e-8, 0.1, false, true],
  ];
  for (const [name, lr, b1, b2, eps, wd, amsgrad, decoupled] of adamCases) {
    it(`adamStep: ${name}`, () => {
      const p = new F64(p0);
      const m = new F64(4);
      const v = new F64(4);
      const vmax = amsgrad ? new F64(4) : null;
      grads.forEach((g, step) => {
        js.adamStep(p, new F64(g), m, v, vmax, step + 1, lr, b1, b2, eps, wd, decoupled);
        expectClose(p, torchResults[name][step], 1e-13, 1e-15);
      });
    });
  }

  it('rejects a missing momentum buffer and a step below 1', () => {
    expect(() => js.sgdStep(new F64(2), new F64(2), null, 0.1, 0.9, 0, 0, false, true)).toThrow(TypeError);
    expect(() =>
      js.adamStep(new F64(2), new F64(2), new F64(2), new F64(2), null, 0, 0.1, 0.9, 0.999, 1e-8, 0, false),
    ).toThrow(RangeError);
    expect(() =>
      js.adamStep(new F64(2), new F64(2), new F64(1), new F64(2), null, 1, 0.1, 0.9, 0.999, 1e-8, 0, false),
    ).toThrow(RangeError);
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
