// Forward values of the ops against independent plain-JS references (float64, every backend that
// loads), and the errors: shape mismatches name the op and both shapes; dtype mixes and
// out-of-range dims are clear errors.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, tensor, zeros } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

function expectClose(actual: Tensor, expected: ArrayLike<number>, shape: readonly number[], tol = 1e-12): void {
  expect(actual.shape).toEqual(shape);
  expect(actual.size).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    if (Math.abs(actual.data[i] - e) > tol * (1 + Math.abs(e))) {
      throw new Error(`element ${i}: got ${actual.data[i]}, expected ${e}`);
    }
  }
}

/** Row-major strides. */
const stridesOf = (shape: number[]): number[] => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** Plain NumPy-broadcasting reference for a binary function. */
function broadcastRef(a: Tensor, b: Tensor, f: (x: number, y: number) => number): { data: number[]; shape: number[] } {
  const n = Math.max(a.ndim, b.ndim);
  const pa = [...Array(n - a.ndim).fill(1), ...a.shape];
  const pb = [...Array(n - b.ndim).fill(1), ...b.shape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const sa = stridesOf(pa),
    sb = stridesOf(pb),
    so = stridesOf(shape);
  const total = shape.reduce((x, y) => x * y, 1);
  const data: number[] = [];
  for (let o = 0; o < total; o++) {
    let ia = 0,
      ib = 0;
    for (let d = 0; d < n; d++) {
      const idx = Math.floor(o / so[d]) % shape[d];
      if (pa[d] !== 1) ia += idx * sa[d];
      if (pb[d] !== 1) ib += idx * sb[d];
    }
    data.push(f(a.data[ia], b.data[ib]));
  }
  return { data, shape };
}

/** Naive batched matmul reference for [B, m, k] @ [B, k, n] (a and b as flat arrays). */
function matmulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  batch: number,
  m: number,
  k: number,
  n: number,
  aBatch = true,
  bBatch = true,
): number[] {
  const out: number[] = [];
  for (let p = 0; p < batch; p++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++)
          s += a[(aBatch ? p * m * k : 0) + i * k + q] * b[(bBatch ? p * k * n : 0) + q * n + j];
        out.push(s);
      }
    }
  }
  return out;
}

for (const name of backendsHere()) {
  describe(`forward values on the ${name} backend`, () => {
    const rng = new Rng(21);
    const L = (shape: number[], o = {}): Tensor => leaf(rng, shape, { requiresGrad: false, ...o });

    test('binary ops broadcast like NumPy', () => {
      backend.use(name);
      const cases: [number[], number[]][] = [
        [[3, 4], [4]],
        [
          [2, 1, 3],
          [4, 1],
        ],
        [[1], [2, 2]],
        [[], [3]],
        [
          [2, 3],
          [2, 3],
        ],
      ];
      const fns: [string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number][] = [
        ['add', (a, b) => a.add(b), (x, y) => x + y],
        ['sub', (a, b) => a.sub(b), (x, y) => x - y],
        ['mul', (a, b) => a.mul(b), (x, y) => x * y],
        ['div', (a, b) => a.div(b), (x, y) => x / y],
        ['maximum', (a, b) => a.maximum(b), Math.max],
        ['gt', (a, b) => a.gt(b), (x, y) => (x > y ? 1 : 0)],
      ];
      for (const [sa, sb] of cases) {
        const a = L(sa),
          b = L(sb, { away: 0.3 });
        for (const [, f, ref] of fns) {
          const r = broadcastRef(a, b, ref);
          expectClose(f(a, b), r.data, r.shape);
        }
      }
      const a = L([2, 2], { lo: 0.5, hi: 2 });
      expectClose(
        a.pow(2.5),
        Array.from(a.data, (v) => v ** 2.5),
        [2, 2],
      );
      expectClose(
        a.rsub(1),
        Array.from(a.data, (v) => 1 - v),
        [2, 2],
      );
      expectClose(
        a.rdiv(3),
        Array.from(a.data, (v) => 3 / v),
        [2, 2],
      );
    });

    test('unary ops and activations', () => {
      backend.use(name);
      const x = L([7], { away: 0.1 });
      const v = Array.from(x.data);
      const erf = (z: number): number => {
        // Abramowitz-Stegun 7.1.26 is too coarse; integrate the series instead (|z| < 4 here).
        let sum = z,
          term = z;
        for (let n = 1; n < 80; n++) {
          term *= (-z * z) / n;
          sum += term / (2 * n + 1);
        }
        return (2 / Math.sqrt(Math.PI)) * sum;
      };
      expectClose(
        x.relu(),
        v.map((a) => Math.max(a, 0)),
        [7],
      );
      expectClose(
        F.leakyRelu(x, 0.2),
        v.map((a) => (a > 0 ? a : 0.2 * a)),
        [7],
      );
      expectClose(
        x.sigmoid(),
        v.map((a) => 1 / (1 + Math.exp(-a))),
        [7],
      );
      expectClose(x.tanh(), v.map(Math.tanh), [7]);
      expectClose(
        x.gelu(),
        v.map((a) => 0.5 * a * (1 + erf(a / Math.SQRT2))),
        [7],
        1e-10,
      );
      expectClose(x.exp(), v.map(Math.exp), [7]);
      expectClose(
        x.abs().log(),
        v.map((a) => Math.log(Math.abs(a))),
        [7],
      );
      expectClose(
        x.abs().sqrt(),
        v.map((a) => Math.sqrt(Math.abs(a))),
        [7],
      );
      expectClose(
        x.neg(),
        v.map((a) => -a),
        [7],
      );
      expectClose(x.sign(), v.map(Math.sign), [7]);
    });

    test('reductions', () => {
      backend.use(name);
      const x = L([2, 3, 4]);
      const at = (i: number, j: number, k: number): number => x.data[i * 12 + j * 4 + k];
      const sum1: number[] = [];
      for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) sum1.push(at(i, 0, k) + at(i, 1, k) + at(i, 2, k));
      expectClose(x.sum(1), sum1, [2, 4]);
      expectClose(x.sum(-2, true), sum1, [2, 1, 4]);
      expectClose(
        x.mean(1),
        sum1.map((s) => s / 3),
        [2, 4],
      );
      const total = Array.from(x.data).reduce((a, b) => a + b, 0);
      expectClose(x.sum(), [total], []);
      expectClose(
        x.mean([0, 2]),
        [0, 1, 2].map((j) => {
          let s = 0;
          for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) s += at(i, j, k);
          return s / 8;
        }),
        [3],
      );
      const max2: number[] = [],
        arg2: number[] = [];
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          const row = [0, 1, 2, 3].map((k) => at(i, j, k));
          max2.push(Math.max(...row));
          arg2.push(row.indexOf(Math.max(...row)));
        }
      }
      expectClose(x.max(2), max2, [2, 3]);
      expectClose(x.argmax(2), arg2, [2, 3]);
      expectClose(x.max(), [Math.max(...x.data)], []);
      expectClose(x.min(), [Math.min(...x.data)], []);
      expectClose(x.argmax(), [Array.from(x.data).indexOf(Math.max(...x.data))], []);
    });

    test('matmul in every torch.matmul case', () => {
      backend.use(name);
      const a = L([3, 4]),
        b = L([4, 2]);
      expectClose(a.matmul(b), matmulRef(a.data, b.data, 1, 3, 4, 2), [3, 2]);
      const v = L([4]);
      expectClose(a.matmul(v), matmulRef(a.data, v.data, 1, 3, 4, 1), [3]);
      expectClose(v.matmul(b), matmulRef(v.data, b.data, 1, 1, 4, 2), [2]);
      expectClose(v.matmul(v), [Array.from(v.data).reduce((s, x) => s + x * x, 0)], []);
      const ba = L([2, 3, 4]),
        bb = L([2, 4, 2]);
      expectClose(ba.matmul(bb), matmulRef(ba.data, bb.data, 2, 3, 4, 2), [2, 3, 2]);
      expectClose(ba.matmul(b), matmulRef(ba.data, b.data, 2, 3, 4, 2, true, false), [2, 3, 2]);
      expectClose(a.matmul(bb), matmulRef(a.data, bb.data, 2, 3, 4, 2, false, true), [2, 3, 2]);
      // [2,1,3,4] @ [3,4,2] -> [2,3,3,2]: batch (i, j) uses a[i] and b[j].
      const c = L([2, 1, 3, 4]),
        d = L([3, 4, 2]);
      const ref: number[] = [];
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          ref.push(...matmulRef(c.data.subarray(i * 12, i * 12 + 12), d.data.subarray(j * 8, j * 8 + 8), 1, 3, 4, 2));
        }
      }
      expectClose(c.matmul(d), ref, [2, 3, 3, 2]);
      // linear = x Wᵀ + b
      const x = L([5, 4]),
        w = L([3, 4]),
        bias = L([3]);
      const lin = matmulRef(x.data, w.transpose(0, 1).data, 1, 5, 4, 3).map((s, i) => s + bias.data[i % 3]);
      expectClose(F.linear(x, w, bias), lin, [5, 3]);
      expectClose(F.linear(x.reshape(5, 1, 4), w, bias), lin, [5, 1, 3]);
    });

    test('softmax and logSoftmax', () => {
      backend.use(name);
      const x = L([3, 4]);
      const ref = (dimLast: boolean): number[] => {
        const out = new Array<number>(12);
        const groups = dimLast
          ? [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => r * 4 + c))
          : [0, 1, 2, 3].map((c) => [0, 1, 2].map((r) => r * 4 + c));
        for (const g of groups) {
          const m = Math.max(...g.map((i) => x.data[i]));
          const z = g.reduce((s, i) => s + Math.exp(x.data[i] - m), 0);
          for (const i of g) out[i] = Math.exp(x.data[i] - m) / z;
        }
        return out;
      };
      expectClose(F.softmax(x, 1), ref(true), [3, 4]);
      expectClose(F.softmax(x, 0), ref(false), [3, 4]);
      expectClose(F.logSoftmax(x, -1), ref(true).map(Math.log), [3, 4]);
    });

    test('losses against their formulas', () => {
      backend.use(name);
      const x = L([4, 3]),
        t = L([4, 3]);
      const xs = Array.from(x.data),
        ts = Array.from(t.data);
      const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
      const sq = xs.map((v, i) => (v - ts[i]) ** 2);
      expectClose(F.mseLoss(x, t), [mean(sq)], []);
      expectClose(F.mseLoss(x, t, { reduction: 'sum' }), [sq.reduce((s, v) => s + v)], []);
      expectClose(F.mseLoss(x, t, { reduction: 'none' }), sq, [4, 3]);
      expectClose(F.l1Loss(x, t), [mean(xs.map((v, i) => Math.abs(v - ts[i])))], []);
      const huber = xs.map((v, i) => {
        const d = Math.abs(v - ts[i]);
        return d < 0.8 ? 0.5 * d * d : 0.8 * (d - 0.4);
      });
      expectClose(F.huberLoss(x, t, { delta: 0.8, reduction: 'none' }), huber, [4, 3]);
      const y = [2, 0, 1, 2];
      const ce = y.map((c, r) => {
        const row = xs.slice(r * 3, r * 3 + 3);
        const m = Math.max(...row);
        return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[c];
      });
      expectClose(F.crossEntropy(x, y), [mean(ce)], []);
      expectClose(F.crossEntropy(x, tensor(y), { reduction: 'none' }), ce, [4]);
      expectClose(F.crossEntropy(x, new Int32Array(y), { reduction: 'sum' }), [ce.reduce((s, v) => s + v)], []);
      expectClose(
        F.nllLoss(x, y, { reduction: 'none' }),
        y.map((c, r) => -xs[r * 3 + c]),
        [4],
      );
      expectClose(F.nllLoss(F.logSoftmax(x, 1), y), [mean(ce)], []);
      const p = L([4, 3], { lo: 0, hi: 1 });
      const bce = xs.map(
        (v, i) =>
          -(p.data[i] * Math.log(1 / (1 + Math.exp(-v))) + (1 - p.data[i]) * Math.log(1 - 1 / (1 + Math.exp(-v)))),
      );
      expectClose(F.bceWithLogits(x, p, { reduction: 'none' }), bce, [4, 3], 1e-10);
      // Stable for large logits, where the naive formula overflows.
      const big = new Tensor(Float64Array.from([800, -800]), [2]);
      expectClose(
        F.bceWithLogits(big, new Tensor(Float64Array.from([0, 1]), [2]), { reduction: 'none' }),
        [800, 800],
        [2],
      );
    });

    test('large outputs, not zero-filled before the kernel runs, are written entirely', () => {
      backend.use(name);
      // Leave NaN-filled memory behind for the allocator to hand out again.
      for (let i = 0; i < 20; i++) Buffer.allocUnsafeSlow(1 << 16).fill(0xff);
      const a = L([48, 20]),
        b = L([20, 40]);
      expectClose(a.matmul(b), matmulRef(a.data, b.data, 1, 48, 20, 40), [48, 40]);
      expectClose(
        zeros([40, 0], { dtype: 'float64' }).matmul(zeros([0, 40], { dtype: 'float64' })),
        new Array(1600).fill(0),
        [40, 40],
      );
      const w = L([30, 20]),
        bias = L([30]);
      expectClose(
        F.linear(a, w, bias),
        matmulRef(a.data, w.transpose(0, 1).data, 1, 48, 20, 30).map((v, i) => v + bias.data[i % 30]),
        [48, 30],
      );
      const v = L([1500]);
      expectClose(v.tanh(), Array.from(v.data, Math.tanh), [1500]);
      expectClose(
        v.mul(3),
        Array.from(v.data, (e) => 3 * e),
        [1500],
      );
      const m = L([30, 50]),
        r = L([50]);
      expectClose(
        m.add(r),
        Array.from(m.data, (e, i) => e + r.data[i % 50]),
        [30, 50],
      );
      const t = L([3, 700]);
      expectClose(
        t.sum(0),
        Array.from({ length: 700 }, (_, i) => t.data[i] + t.data[700 + i] + t.data[1400 + i]),
        [700],
      );
      expectClose(
        m.transpose(0, 1),
        Array.from({ length: 1500 }, (_, i) => m.data[(i % 30) * 50 + Math.floor(i / 30)]),
        [50, 30],
      );
      expectClose(
        m.indexSelect(
          1,
          Array.from({ length: 50 }, (_, i) => 49 - i),
        ),
        Array.from({ length: 1500 }, (_, i) => m.data[Math.floor(i / 50) * 50 + 49 - (i % 50)]),
        [30, 50],
      );
      // Gradients through the fused kernels: relu (unaryBackward) and crossEntropy.
      const x = L([200, 8], { away: 0.01, requiresGrad: true });
      const y = Array.from({ length: 200 }, (_, i) => i % 8);
      x.relu().sum().backward();
      expectClose(
        x.grad!,
        Array.from(x.data, (e) => (e > 0 ? 1 : 0)),
        [200, 8],
      );
      x.grad = null;
      F.crossEntropy(x, y).backward();
      const expected: number[] = [];
      for (let i = 0; i < 200; i++) {
        const row = Array.from(x.data.subarray(i * 8, i * 8 + 8));
        const mx = Math.max(...row);
        const z = row.reduce((acc, e) => acc + Math.exp(e - mx), 0);
        row.forEach((e, c) => expected.push((Math.exp(e - mx) / z - (c === y[i] ? 1 : 0)) / 200));
      }
      expectClose(x.grad!, expected, [200, 8]);
    });

    test('shape-op values', () => {
      backend.use(name);
      const x = L([2, 3]);
      expectClose(
        x.transpose(0, 1),
        [0, 3, 1, 4, 2, 5].map((i) => x.data[i]),
        [3, 2],
      );
      expectClose(x.expand(2, 2, 3), [...x.data, ...x.data], [2, 2, 3]);
      expectClose(
        x.indexSelect(1, [2, 0]),
        [2, 0, 5, 3].map((i) => x.data[i]),
        [2, 2],
      );
    });
  });
}

describe('crossEntropy options: weight, ignoreIndex, labelSmoothing', () => {
  // Reference values from torch 1.13 (F.cross_entropy on the same float64 logits, targets
  // [3, -100, 1], weight [0.5, 2, 1, 1.5]); gradients of the summed loss.
  const logits = [0.2, -1.0, 0.5, 2.0, 1.5, 0.3, -0.7, 0.1, 0.0, 0.4, 0.9, -1.2];
  const weight = new Tensor(Float64Array.from([0.5, 2, 1, 1.5]), [4]);
  const cases: [string, object, number[], number[]][] = [
    [
      'mean, weight, smoothing 0.2',
      { weight, labelSmoothing: 0.2 },
      [0.9658802260137047],
      [
        0.040472356718632, -0.014230001757386, 0.049988101519832, -0.076230456481077, 0, 0, 0, 0, 0.093487157064778,
        -0.335591945195343, 0.233224181735154, 0.008880606395411,
      ],
    ],
    [
      'none, smoothing 0.2',
      { reduction: 'none', labelSmoothing: 0.2 },
      [0.678403537810285, 0, 1.3337273844448938],
      [
        0.064933274838077, -0.015382762862657, 0.105143693323732, -0.154694205299152, 0, 0, 0, 0, 0.140381107960391,
        -0.565984761180379, 0.418261965444886, 0.007341687775102,
      ],
    ],
    [
      'sum, weight',
      { reduction: 'sum', weight },
      [3.0625600756052145],
      [
        0.172399912257115, 0.051925855706015, 0.232715539985597, -0.457041307948728, 0, 0, 0, 0, 0.380762215920783,
        -1.431969522360758, 0.936523930889771, 0.114683375550204,
      ],
    ],
    [
      'mean, ignoreIndex only',
      {},
      [0.8110654611275893],
      [
        0.057466637419038, 0.017308618568672, 0.077571846661866, -0.152347102649576, 0, 0, 0, 0, 0.095190553980196,
        -0.35799238059019, 0.234130982722443, 0.028670843887551,
      ],
    ],
  ];
  for (const name of backendsHere()) {
    test.each(cases)(`%s matches torch on the ${name} backend`, (_label, opts, loss, g) => {
      backend.use(name);
      const x = new Tensor(Float64Array.from(logits), [3, 4], true);
      const l = F.crossEntropy(x, [3, -100, 1], opts);
      l.sum().backward();
      expectClose(l, loss, l.shape, 1e-12);
      expectClose(x.grad!, g, [3, 4], 1e-12);
    });
  }

  test('nllLoss with weight and ignoreIndex divides the mean by the kept weight', () => {
    const x = new Tensor(Float64Array.from([-1, -2, -3, -4, -5, -6]), [3, 2]);
    const w = new Tensor(Float64Array.from([2, 3]), [2]);
    // rows: target 1 (w 3, x -2), ignored (7), target 0 (w 2, x -5): (6 + 10) / 5
    expectClose(F.nllLoss(x, [1, 7, 0], { weight: w, ignoreIndex: 7 }), [16 / 5], []);
    expectClose(F.nllLoss(x, [1, 7, 0], { weight: w, ignoreIndex: 7, reduction: 'none' }), [6, 0, 10], [3]);
    expect(() => F.crossEntropy(x, [0, 1, 0], { weight: zeros([3], { dtype: 'float64' }) })).toThrow(
      /weight shape \[3\] does not match the 2 classes/,
    );
    expect(() => F.crossEntropy(x, [0, 1, 0], { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be in \[0, 1\]/);
  });
});

describe('errors', () => {
  test('shape mismatches name the op and both shapes', () => {
    const a = zeros([2, 3]);
    expect(() => a.add(zeros([4]))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => a.mul(zeros([3, 3]))).toThrow(/mul: shapes \[2, 3\] and \[3, 3\]/);
    expect(() => a.matmul(zeros([2, 3]))).toThrow(/matmul: shapes \[2, 3\] and \[2, 3\] cannot be multiplied/);
    expect(() => zeros([2, 2, 3]).matmul(zeros([2, 4, 2]))).toThrow(/matmul: shapes \[2, 2, 3\] and \[2, 4, 2\]/);
    expect(() => zeros([2, 2, 3]).matmul(zeros([3, 3, 2]))).toThrow(
      /matmul: shapes \[2\] and \[3\] cannot be broadcast/,
    );
    expect(() => F.linear(zeros([4, 5]), zeros([3, 4]))).toThrow(
      /linear: input shape \[4, 5\] does not match weight shape \[3, 4\]/,
    );
    expect(() => F.mseLoss(zeros([4, 1]), zeros([4]))).toThrow(
      /mseLoss: input shape \[4, 1\] and target shape \[4\] differ/,
    );
    expect(() => F.crossEntropy(zeros([4, 3]), [0, 1])).toThrow(
      /crossEntropy: target shape \[2\] does not match input batch size 4/,
    );
  });

  test('dtype mixes are refused', () => {
    expect(() => zeros([2]).mul(zeros([2], { dtype: 'float64' }))).toThrow(/mul: dtype mismatch, float32 and float64/);
    expect(() => zeros([2, 2]).matmul(zeros([2, 2], { dtype: 'float64' }))).toThrow(/matmul: dtype mismatch/);
    expect(() => F.linear(zeros([1, 2]), zeros([2, 2], { dtype: 'float64' }))).toThrow(/linear: dtype mismatch/);
  });

  test('out-of-range dims and indices', () => {
    const x = zeros([2, 3]);
    expect(() => x.sum(2)).toThrow(/sum: dim 2 is out of range for a tensor with 2 dimensions \(expected -2\.\.1\)/);
    expect(() => x.softmax(-3)).toThrow(/softmax: dim -3 is out of range/);
    expect(() => x.transpose(0, 5)).toThrow(/transpose: dim 5 is out of range/);
    expect(() => x.unsqueeze(4)).toThrow(/unsqueeze: dim 4 is out of range/);
    expect(() => x.max(1.5)).toThrow(/dim must be an integer/);
    expect(() => F.crossEntropy(x, [0, 3])).toThrow(/crossEntropy: index 3 at position 1 is out of range \[0, 3\)/);
    expect(() => F.crossEntropy(x, [0, -1])).toThrow(/out of range/);
    expect(() => F.nllLoss(x, tensor([0, 1.5]))).toThrow(/nllLoss: indices must be integers, got 1.5/);
    expect(() => F.mseLoss(x, x, { reduction: 'avg' as never })).toThrow(/reduction must be 'mean', 'sum' or 'none'/);
  });

  test('a number is accepted where a Tensor is, anything else is a TypeError', () => {
    expect(zeros([2]).add(1).toArray()).toEqual([1, 1]);
    expect(() => zeros([2]).add('1' as never)).toThrow(TypeError);
    expect(() => zeros([2]).matmul([1, 2] as never)).toThrow(/matmul: b must be a Tensor/);
  });
});
