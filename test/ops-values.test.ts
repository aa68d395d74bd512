// Forward values of the ops against independent plain-JS references (float64, every backend that
// loads): binary ops broadcasting like NumPy, unary ops and activations, reductions, matmul in
// every torch.matmul case and linear, softmax and logSoftmax, the losses against their formulas,
// large outputs written entirely, shape ops.

import { afterAll, describe, test } from 'vitest';
import { Tensor, backend, tensor, zeros } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';
import { expectClose } from './support/ops.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

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
