// The js backend's elementwise kernels against values computed independently of it: erf and erfc
// and GELU against mpmath, every unary op on hand-checked values and its backward against
// finite differences, saturation, torch's gradients at kinks, float32 rounding and aliasing; every
// binary op by hand, broadcasting against an index-by-index loop written here, binaryScalar on
// either side; bad arguments.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { erf, erfc } from '../lib/backend/js-math.js';
import { BinaryOp, UnaryOp } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import { F32, F64, expectClose } from './support/backend-js.js';

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
