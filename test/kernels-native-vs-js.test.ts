// Every native kernel against the js backend, on seeded random inputs of many shapes: sizes 0
// and 1, sizes around the SIMD widths, large sizes that take the threaded paths, non-square and
// large GEMMs with transposes, alpha/beta, batches (stride 0 broadcast) and offsets; both dtypes;
// every SIMD path this CPU has; both GEMM paths (OpenBLAS and the built-in one).
//
// References are computed by the js backend in float64 from the very same inputs (float32 inputs
// are widened exactly), so a float32 comparison measures the native kernel's error alone.
//
// Tolerances (|native - reference| <= atol + rtol*|reference| unless said otherwise):
//   unary forward/backward: float32 rtol 2e-6, atol 1e-6 (the vectorised exp/tanh/sigmoid/gelu
//     must be accurate to 1e-6 relative; the rest is the float32 rounding of both sides);
//     float64 rtol 1e-12, atol 1e-14.
//   add/sub/mul/div, maximum/minimum, comparisons, biasAdd, permute, gather: exact in float64,
//     float32 within one rounding (rtol 2^-23); pow: float32 rtol 1e-5, float64 rtol 1e-13.
//   reductions, softmax family, cross-entropy, biasGrad, scatterAdd: error relative to the sum of
//     magnitudes that entered each result: float32 1e-5, float64 1e-12.
//   GEMM: |C - Cref| <= tol * (|alpha| * sum_p |a_ip||b_pj| + |beta||c_ij|), float32 tol 1e-5,
//     float64 tol 1e-13.
//   sgdStep/adamStep: float32 rtol 1e-5, atol 1e-6; float64 rtol 1e-12, atol 1e-14.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import type { NativeBackend } from '../lib/backend/native.js';
import { requireNativeOrSkip, tryLoadNative } from './support/native.js';
import { BinaryOp, ReduceOp, UnaryOp, type Backend, type FloatArray, type SimdLevel } from '../lib/backend/types.js';
import { Rng } from './support/random.js';

// ---------------------------------------------------------------------------------------------
// Loading the addon and its test hooks

// The addon object is the Backend, with test hooks next to the kernels (_setSimd, _simdLevels, _setBlas).
const { native, loadError } = tryLoadNative();
const hooks = native;

const skipReason = native ? '' : ` (SKIPPED: the native addon cannot load: ${loadError})`;
if (!native) console.warn(`kernels-native-vs-js: native tests skipped, the addon cannot load: ${loadError}`);

// ---------------------------------------------------------------------------------------------
// Helpers

type Dtype = 'float32' | 'float64';
const DTYPES: Dtype[] = ['float32', 'float64'];
const SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 33, 63, 65, 1000, 1031, 100_003];
const F32_ULP = 2 ** -23;

function alloc(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}
function widen(a: FloatArray): Float64Array {
  return Float64Array.from(a);
}
function randomArray(rng: Rng, dtype: Dtype, n: number, lo?: number, hi?: number): FloatArray {
  return rng.fill(alloc(dtype, n), lo, hi);
}

/** Compares elementwise; `scale[i]` (when given) replaces |expected[i]| as the relative scale. */
function expectClose(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  atol: number,
  scale?: ArrayLike<number>,
): void {
  if (actual.length !== expected.length)
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (Number.isNaN(e) !== Number.isNaN(a)) throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) throw new Error(`${what}: element ${i} is ${a}, expected ${e}`);
      continue;
    }
    const tol = atol + rtol * (scale ? scale[i] : Math.abs(e));
    if (!(Math.abs(a - e) <= tol)) {
      throw new Error(
        `${what}: element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e).toExponential(3)} > tol ${tol.toExponential(3)})`,
      );
    }
  }
}

type Pair = [rtol: number, atol: number];
const tol: Record<'unary' | 'exact' | 'pow' | 'optim', Record<Dtype, Pair>> &
  Record<'sum' | 'gemm', Record<Dtype, number>> = {
  unary: { float32: [2e-6, 1e-6], float64: [1e-12, 1e-14] },
  exact: { float32: [F32_ULP, 0], float64: [0, 0] },
  pow: { float32: [1e-5, 1e-30], float64: [1e-13, 1e-300] },
  sum: { float32: 1e-5, float64: 1e-12 },
  gemm: { float32: 1e-5, float64: 1e-13 },
  optim: { float32: [1e-5, 1e-6], float64: [1e-12, 1e-14] },
};

// Input domain per unary op: [lo, hi] uniform, or normal * spread when lo is undefined.
const UNARY_CASES: [string, UnaryOp, number | undefined, number][] = [
  ['relu', UnaryOp.relu, undefined, 3],
  ['leakyRelu', UnaryOp.leakyRelu, undefined, 3],
  ['sigmoid', UnaryOp.sigmoid, -30, 30],
  ['tanh', UnaryOp.tanh, -12, 12],
  ['gelu', UnaryOp.gelu, -9, 9],
  ['exp', UnaryOp.exp, -80, 80],
  ['log', UnaryOp.log, 1e-3, 1e3],
  ['sqrt', UnaryOp.sqrt, 0, 1e3],
  ['abs', UnaryOp.abs, undefined, 3],
  ['neg', UnaryOp.neg, undefined, 3],
  ['sign', UnaryOp.sign, undefined, 3],
  ['softplus', UnaryOp.softplus, -30, 30],
  ['silu', UnaryOp.silu, -30, 30],
  ['elu', UnaryOp.elu, undefined, 3],
];

function unaryInput(rng: Rng, dtype: Dtype, n: number, lo: number | undefined, hi: number): FloatArray {
  const x = alloc(dtype, n);
  for (let i = 0; i < n; i++) x[i] = lo === undefined ? hi * rng.normal() : rng.uniform(lo, hi);
  if (lo === undefined && n > 4) x[n - 1] = 0; // the kink
  return x;
}

/** Sum over the axis of |x|: the scale of the rounding error of a reduction. */
function absSums(x: FloatArray, outer: number, n: number, inner: number): Float64Array {
  const abs = widen(x).map(Math.abs);
  const out = new Float64Array(outer * inner);
  js.reduce(ReduceOp.sum, abs, outer, n, inner, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Kernels that depend on the SIMD path: run once per level this CPU has.

const simdLevels: SimdLevel[] = hooks ? hooks._simdLevels() : [];
const defaultSimd: SimdLevel = native ? native.info().simd : 'scalar';

describe.skipIf(!native)(`native vs js: SIMD kernels${skipReason}`, () => {
  const nb = native as Backend;
  const h = hooks as NativeBackend;

  it('this x86-64 CPU offers avx512, avx2 and scalar paths', () => {
    // The test machine has AVX-512; on other machines the loop below covers what they have.
    expect(simdLevels).toContain('scalar');
    if (process.arch === 'x64') expect(simdLevels).toContain('avx2');
  });

  for (const level of simdLevels) {
    describe(`simd=${level}`, () => {
      beforeAll(() => {
        h._setSimd(level);
        expect(nb.info().simd).toBe(level);
      });
      afterAll(() => h._setSimd(defaultSimd));

      for (const dtype of DTYPES) {
        it(`unary forward and backward, every op, ${dtype}`, () => {
          const rng = new Rng(11);
          const [rtol, atol] = tol.unary[dtype];
          for (const [name, op, lo, hi] of UNARY_CASES) {
            for (const n of SIZES) {
              const x = unaryInput(rng, dtype, n, lo, hi);
              const alpha = 0.01 + rng.next();
              const y = alloc(dtype, n);
              nb.unary(op, x, y, alpha, 20);
              const yRef = new Float64Array(n);
              js.unary(op, widen(x), yRef, alpha, 20);
              expectClose(`${name} n=${n}`, y, yRef, rtol, atol);

              // Backward takes y = f(x) as the forward of the same dtype produced it.
              const gy = randomArray(rng, dtype, n);
              const gx = alloc(dtype, n);
              nb.unaryBackward(op, x, y, gy, gx, alpha, 20);
              const gxRef = new Float64Array(n);
              js.unaryBackward(op, widen(x), widen(y), widen(gy), gxRef, alpha, 20);
              expectClose(`${name} backward n=${n}`, gx, gxRef, rtol, atol);
            }
          }
        });

        it(`unary at edge values (saturation, zeros, overflow, infinities), ${dtype}`, () => {
          const finite = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 20, -20, 50, -50, 100, -100, 700, -700, 1e30, -1e30, 3];
          for (const [name, op] of UNARY_CASES) {
            if (op === UnaryOp.log || op === UnaryOp.sqrt) continue; // their domains are checked below
            // gelu(-inf) is 0 * inf = NaN in torch's formula; not worth pinning down, so no infinities for gelu.
            const values = op === UnaryOp.gelu ? finite : [...finite, Infinity, -Infinity];
            const x = alloc(dtype, values.length);
            x.set(values);
            const y = alloc(dtype, x.length);
            nb.unary(op, x, y, 0.1, 20);
            const yRef = new Float64Array(x.length);
            js.unary(op, widen(x), yRef, 0.1, 20);
            if (dtype === 'float32') yRef.set(Float32Array.from(yRef)); // overflow to Inf as float32 does
            expectClose(`${name} at edges`, y, yRef, ...tol.unary[dtype]);
          }
          for (const op of [UnaryOp.log, UnaryOp.sqrt]) {
            const x = alloc(dtype, 6);
            x.set([0, -1, Infinity, 1e-30, 4, 1e30]);
            const y = alloc(dtype, x.length);
            nb.unary(op, x, y, 0, 0);
            const yRef = new Float64Array(x.length);
            js.unary(op, widen(x), yRef, 0, 0);
            expectClose(`op ${op} at edges`, y, yRef, ...tol.unary[dtype]);
          }
        });

        it(`unary in place (y aliases x, gx aliases gy), ${dtype}`, () => {
          const rng = new Rng(12);
          for (const [name, op, lo, hi] of UNARY_CASES) {
            const x = unaryInput(rng, dtype, 37, lo, hi);
            const yRef = new Float64Array(37);
            js.unary(op, widen(x), yRef, 0.2, 20);
            const y = x.slice();
            nb.unary(op, y, y, 0.2, 20);
            expectClose(`${name} in place`, y, yRef, ...tol.unary[dtype]);
            const gy = randomArray(rng, dtype, 37);
            const gxRef = new Float64Array(37);
            js.unaryBackward(op, widen(x), widen(y), widen(gy), gxRef, 0.2, 20);
            nb.unaryBackward(op, x, y, gy, gy, 0.2, 20);
            expectClose(`${name} backward in place`, gy, gxRef, ...tol.unary[dtype]);
          }
        });

        it(`binary with and without broadcasting, every op, ${dtype}`, () => {
          const rng = new Rng(13);
          const shapes: [number[], number[]][] = [
            ...SIZES.map((n): [number[], number[]] => [[n], [n]]),
            [[], []],
            [[1], [7]],
            [[7], []],
            [[], [33]],
            [[3, 17], [17]],
            [
              [3, 17],
              [3, 1],
            ],
            [
              [65, 1],
              [1, 9],
            ],
            [
              [2, 1, 33],
              [5, 1],
            ],
            [
              [4, 3, 1, 5],
              [3, 6, 1],
            ],
            [
              [1, 1, 1, 1, 1, 1, 1, 17],
              [2, 1, 1, 1, 1, 1, 1, 1],
            ],
            [[0, 5], [5]],
            [[300, 257], [257]],
            [
              [2, 3, 1000],
              [3, 1],
            ],
          ];
          for (const [name, op] of Object.entries(BinaryOp)) {
            for (const [as, bs] of shapes) {
              const an = as.reduce((p, s) => p * s, 1);
              const bn = bs.reduce((p, s) => p * s, 1);
              const a = op === BinaryOp.pow ? randomArray(rng, dtype, an, 0.1, 3) : randomArray(rng, dtype, an);
              const b = randomArray(rng, dtype, bn);
              // Equal elements exercise eq/ge/le (same-shape cases only).
              if (an === bn) for (let i = 0; i < an; i += 3) b[i] = a[i];
              const refLen = countBroadcast(as, bs);
              const out = alloc(dtype, refLen);
              nb.binary(op, a, as, b, bs, out);
              const ref = new Float64Array(refLen);
              js.binary(op, widen(a), as, widen(b), bs, ref);
              const [rtol, atol] = op === BinaryOp.pow ? tol.pow[dtype] : tol.exact[dtype];
              expectClose(`${name} [${as}] [${bs}]`, out, ref, rtol, atol);
            }
          }
        });

        it(`binaryScalar, both sides, every op, ${dtype}`, () => {
          const rng = new Rng(14);
          for (const [name, op] of Object.entries(BinaryOp)) {
            for (const n of SIZES) {
              const a = op === BinaryOp.pow ? randomArray(rng, dtype, n, 0.1, 3) : randomArray(rng, dtype, n);
              if (n > 2) a[1] = 0.5;
              for (const scalarFirst of [false, true]) {
                const s = op === BinaryOp.pow && scalarFirst ? 1.7 : 0.5;
                const out = alloc(dtype, n);
                nb.binaryScalar(op, a, s, out, scalarFirst);
                const ref = alloc(dtype, n); // in the array's dtype: the scalar is rounded to it first
                js.binaryScalar(op, a, s, ref, scalarFirst);
                const [rtol, atol] = op === BinaryOp.pow ? tol.pow[dtype] : tol.exact[dtype];
                expectClose(`${name} scalarFirst=${scalarFirst} n=${n}`, out, ref, rtol, atol);
              }
            }
          }
        });

        it(`reduce, maxAxis, argmax over [outer, n, inner], ${dtype}`, () => {
          const rng = new Rng(15);
          const shapes = [
            [1, 1, 1],
            [1, 17, 1],
            [3, 5, 1],
            [1, 5, 3],
            [2, 33, 7],
            [4, 1, 9],
            [1, 1000, 1],
            [7, 65, 3],
            [1, 1031, 17],
            [64, 300, 1],
            [2, 0, 3],
            [0, 4, 2],
            [3, 4, 0],
            [1, 100_003, 1],
          ];
          for (const [outer, n, inner] of shapes) {
            const x = randomArray(rng, dtype, outer * n * inner);
            if (n > 3 && inner === 1) x[2] = x[1]; // a possible tie for the first-index rule
            const scale = absSums(x, outer, n, inner);
            for (const [name, op] of Object.entries(ReduceOp)) {
              if ((op === ReduceOp.max || op === ReduceOp.min) && n === 0) continue;
              const out = alloc(dtype, outer * inner);
              nb.reduce(op, x, outer, n, inner, out);
              const ref = new Float64Array(outer * inner);
              js.reduce(op, widen(x), outer, n, inner, ref);
              const relScale = op === ReduceOp.mean ? scale.map((s) => s / n) : scale;
              expectClose(`reduce ${name} [${outer},${n},${inner}]`, out, ref, tol.sum[dtype], 0, relScale);
            }
            if (n === 0) continue;
            const out = alloc(dtype, outer * inner);
            const idx = new Int32Array(outer * inner);
            nb.maxAxis(x, outer, n, inner, out, idx);
            const refOut = new Float64Array(outer * inner);
            const refIdx = new Int32Array(outer * inner);
            js.maxAxis(widen(x), outer, n, inner, refOut, refIdx);
            expectClose(`maxAxis [${outer},${n},${inner}]`, out, refOut, 0, 0);
            expect([...idx], `maxAxis indices [${outer},${n},${inner}]`).toEqual([...refIdx]);
            const idx2 = new Int32Array(outer * inner);
            nb.argmax(x, outer, n, inner, idx2);
            expect([...idx2], `argmax [${outer},${n},${inner}]`).toEqual([...refIdx]);
          }
        });

        it(`softmax, logSoftmax, their backward and fused cross-entropy, ${dtype}`, () => {
          const rng = new Rng(16);
          const shapes = [
            [1, 1],
            [3, 1],
            [1, 17],
            [4, 10],
            [5, 31],
            [2, 33],
            [7, 63],
            [3, 65],
            [2, 1000],
            [1, 1031],
            [130, 257],
            [0, 5],
          ];
          for (const [rows, cols] of shapes) {
            const x = randomArray(rng, dtype, rows * cols);
            for (let i = 0; i < x.length; i += 7) x[i] *= 20; // some large logits
            const X = widen(x);
            const sm = alloc(dtype, rows * cols);
            const lsm = alloc(dtype, rows * cols);
            nb.softmax(x, rows, cols, sm);
            nb.logSoftmax(x, rows, cols, lsm);
            const smRef = new Float64Array(rows * cols);
            const lsmRef = new Float64Array(rows * cols);
            js.softmax(X, rows, cols, smRef);
            js.logSoftmax(X, rows, cols, lsmRef);
            const t = tol.sum[dtype];
            // softmax is within [0, 1]; logSoftmax errors scale with |x - max| and log(cols).
            expectClose(`softmax [${rows},${cols}]`, sm, smRef, t, t);
            expectClose(`logSoftmax [${rows},${cols}]`, lsm, lsmRef, t, t * (1 + Math.log(cols + 1)));

            const gy = randomArray(rng, dtype, rows * cols);
            const gyAbs = new Float64Array(rows); // per-row sum |gy|: the scale of the row sums
            for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) gyAbs[r] += Math.abs(gy[r * cols + c]);
            const rowScale = new Float64Array(rows * cols).map((_, i) => Math.abs(gy[i]) + gyAbs[Math.floor(i / cols)]);
            const gx = alloc(dtype, rows * cols);
            const gxRef = new Float64Array(rows * cols);
            nb.softmaxBackward(sm, gy, rows, cols, gx);
            js.softmaxBackward(widen(sm), widen(gy), rows, cols, gxRef);
            expectClose(`softmaxBackward [${rows},${cols}]`, gx, gxRef, t, 0, rowScale);
            nb.logSoftmaxBackward(lsm, gy, rows, cols, gx);
            js.logSoftmaxBackward(widen(lsm), widen(gy), rows, cols, gxRef);
            expectClose(`logSoftmaxBackward [${rows},${cols}]`, gx, gxRef, t, 0, rowScale);

            const targets = Int32Array.from({ length: rows }, () => rng.int(0, cols));
            const scale = 1 / Math.max(rows, 1);
            const losses = alloc(dtype, rows);
            const grad = alloc(dtype, rows * cols);
            nb.softmaxCrossEntropy(x, rows, cols, targets, losses, grad, scale);
            const lossRef = new Float64Array(rows);
            const gradRef = new Float64Array(rows * cols);
            js.softmaxCrossEntropy(X, rows, cols, targets, lossRef, gradRef, scale);
            const lossScale = lossRef.map((_, r) => {
              let m = 0;
              for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(X[r * cols + c]));
              return 2 * m + Math.log(cols + 1);
            });
            expectClose(`softmaxCrossEntropy losses [${rows},${cols}]`, losses, lossRef, t, 0, lossScale);
            expectClose(`softmaxCrossEntropy grad [${rows},${cols}]`, grad, gradRef, t, t * scale);
            const losses2 = alloc(dtype, rows);
            nb.softmaxCrossEntropy(x, rows, cols, targets, losses2, null, scale);
            expectClose(`softmaxCrossEntropy without grad [${rows},${cols}]`, losses2, lossRef, t, 0, lossScale);
          }
        });

        it(`logSoftmax and cross-entropy losses near +-1000 keep the accuracy of x - max, ${dtype}`, () => {
          // Rows shifted to +-1000, spread (normal * 3) or with a dominant maximum (the others 18 to
          // 30 below it, so log(sum) is 1e-13..1e-6). The reference is float64 from the stored
          // values, (x - max) - log(sum(exp(x - max))), and the loss (max - x[t]) + log(sum).
          // Shifting by max + log(sum) instead would cost half an ulp of |max| (5.7e-14) in every
          // result, far above these bounds near the maximum. Bounds: float32 one rounding
          // (rtol 2^-23), float64 4 ulps; plus 4 * cols * 2^-52 absolute for log(sum), whose sum
          // of cols terms >= 1 rounds in its own order in the kernel and here.
          const rng = new Rng(18);
          const rtol = dtype === 'float32' ? F32_ULP : 4 * 2 ** -52;
          for (const cols of [2, 3, 5, 8, 16, 17, 33]) {
            const shifts = [1000, -1000, 1000, -1000];
            const rows = shifts.length;
            const x = alloc(dtype, rows * cols);
            const targets = new Int32Array(rows);
            for (let r = 0; r < rows; r++) {
              const dominant = r >= 2;
              const top = rng.int(0, cols);
              for (let c = 0; c < cols; c++) {
                const offset = c === top ? 0 : dominant ? -rng.uniform(18, 30) : 3 * rng.normal();
                x[r * cols + c] = shifts[r] + offset;
              }
              targets[r] = r % 2 === 0 ? top : rng.int(0, cols); // the maximum (loss = log(sum)) or any class
            }
            const lsmRef = new Float64Array(rows * cols);
            const lossRef = new Float64Array(rows);
            for (let r = 0; r < rows; r++) {
              let m = -Infinity;
              for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]);
              let sum = 0;
              for (let c = 0; c < cols; c++) sum += Math.exp(x[r * cols + c] - m);
              const logSum = Math.log(sum);
              for (let c = 0; c < cols; c++) lsmRef[r * cols + c] = x[r * cols + c] - m - logSum;
              lossRef[r] = m - x[r * cols + targets[r]] + logSum;
            }
            const atol = 4 * cols * 2 ** -52;
            const lsm = alloc(dtype, rows * cols);
            nb.logSoftmax(x, rows, cols, lsm);
            expectClose(`logSoftmax near +-1000 [${rows},${cols}]`, lsm, lsmRef, rtol, atol);
            for (const grad of [alloc(dtype, rows * cols), null]) {
              const losses = alloc(dtype, rows);
              nb.softmaxCrossEntropy(x, rows, cols, targets, losses, grad, 1);
              const what = `softmaxCrossEntropy losses near +-1000 ${grad ? 'with' : 'without'} grad [${rows},${cols}]`;
              expectClose(what, losses, lossRef, rtol, atol);
            }
          }
        });

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
  }
});

function countBroadcast(as: number[], bs: number[]): number {
  const nd = Math.max(as.length, bs.length);
  let total = 1;
  for (let d = 0; d < nd; d++) {
    const sa = as[as.length - nd + d] ?? 1;
    const sb = bs[bs.length - nd + d] ?? 1;
    total *= sa === 1 ? sb : sa;
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Kernels with no SIMD dispatch (data movement, bias): run once per dtype.

describe.skipIf(!native)(`native vs js: data movement and bias${skipReason}`, () => {
  const nb = native as Backend;
  for (const dtype of DTYPES) {
    it(`biasAdd and biasGrad, ${dtype}`, () => {
      const rng = new Rng(21);
      for (const [rows, cols] of [
        [0, 3],
        [1, 1],
        [3, 17],
        [17, 3],
        [64, 33],
        [1000, 65],
        [5, 1031],
        [2000, 100],
      ]) {
        const x = randomArray(rng, dtype, rows * cols);
        const bias = randomArray(rng, dtype, cols);
        const out = alloc(dtype, rows * cols);
        nb.biasAdd(x, rows, cols, bias, out);
        const ref = new Float64Array(rows * cols);
        js.biasAdd(widen(x), rows, cols, widen(bias), ref);
        expectClose(`biasAdd [${rows},${cols}]`, out, ref, ...tol.exact[dtype]);
        nb.biasAdd(x, rows, cols, bias, x); // in place
        expectClose(`biasAdd in place [${rows},${cols}]`, x, ref, ...tol.exact[dtype]);

        const gy = randomArray(rng, dtype, rows * cols);
        const gb = randomArray(rng, dtype, cols); // overwritten, not accumulated
        nb.biasGrad(gy, rows, cols, gb);
        const gbRef = new Float64Array(cols);
        js.biasGrad(widen(gy), rows, cols, gbRef);
        expectClose(`biasGrad [${rows},${cols}]`, gb, gbRef, tol.sum[dtype], 0, absSums(gy, 1, rows, cols));
      }
    });

    it(`permute, ${dtype}`, () => {
      const rng = new Rng(22);
      const cases: [number[], number[]][] = [
        [[], []],
        [[5], [0]],
        [
          [0, 3],
          [1, 0],
        ],
        [
          [3, 17],
          [1, 0],
        ],
        [
          [33, 65],
          [1, 0],
        ],
        [
          [2, 3, 4],
          [2, 0, 1],
        ],
        [
          [4, 5, 6, 7],
          [3, 1, 0, 2],
        ],
        [
          [2, 3, 2, 3, 2, 3, 2, 3],
          [7, 6, 5, 4, 3, 2, 1, 0],
        ],
        [
          [64, 3, 28, 28],
          [0, 2, 3, 1],
        ],
      ];
      for (const [shape, perm] of cases) {
        const n = shape.reduce((p, s) => p * s, 1);
        const x = randomArray(rng, dtype, n);
        const out = alloc(dtype, n);
        nb.permute(x, shape, perm, out);
        const ref = alloc(dtype, n);
        js.permute(x, shape, perm, ref);
        expect([...out], `permute [${shape}] by [${perm}]`).toEqual([...ref]);
      }
    });

    it(`gather and scatterAdd (repeated indices), ${dtype}`, () => {
      const rng = new Rng(23);
      for (const [outer, n, inner, count] of [
        [1, 1, 1, 1],
        [1, 10, 1, 25],
        [3, 7, 5, 9],
        [2, 33, 17, 0],
        [4, 1000, 1, 300],
        [1, 60000, 64, 128],
      ]) {
        const x = randomArray(rng, dtype, outer * n * inner);
        const idx = Int32Array.from({ length: count }, () => rng.int(0, n));
        const out = alloc(dtype, outer * count * inner);
        nb.gather(x, outer, n, inner, idx, out);
        const ref = alloc(dtype, outer * count * inner);
        js.gather(x, outer, n, inner, idx, ref);
        expect([...out], `gather [${outer},${n},${inner}] count ${count}`).toEqual([...ref]);

        const g = randomArray(rng, dtype, outer * count * inner);
        const gx = randomArray(rng, dtype, outer * n * inner);
        const GX = widen(gx);
        nb.scatterAdd(g, outer, n, inner, idx, gx);
        js.scatterAdd(widen(g), outer, n, inner, idx, GX);
        const mag = widen(g).map(Math.abs);
        const scale = widen(gx).map(Math.abs);
        js.scatterAdd(mag, outer, n, inner, idx, scale);
        expectClose(`scatterAdd [${outer},${n},${inner}] count ${count}`, gx, GX, tol.sum[dtype], 0, scale);
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// GEMM: every SIMD level x both GEMM paths, against js in float64.

interface GemmCase {
  tA: boolean;
  tB: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  batch: number;
  strideA: number;
  strideB: number;
  strideC: number;
  aOff: number;
  bOff: number;
  cOff: number;
}

function gemmCases(): GemmCase[] {
  const cases: GemmCase[] = [];
  const plain = (m: number, n: number, k: number, tA = false, tB = false, alpha = 1, beta = 0): void => {
    cases.push({
      tA,
      tB,
      m,
      n,
      k,
      alpha,
      beta,
      batch: 1,
      strideA: m * k,
      strideB: k * n,
      strideC: m * n,
      aOff: 0,
      bOff: 0,
      cOff: 0,
    });
  };
  for (const [m, n, k] of [
    [0, 0, 0],
    [0, 5, 3],
    [4, 0, 3],
    [3, 4, 0],
    [1, 1, 1],
    [1, 17, 1],
    [17, 1, 33],
    [2, 3, 4],
    [7, 9, 11],
    [16, 16, 16],
    [31, 33, 17],
    [63, 65, 31],
    [64, 1, 128],
    [1, 300, 200],
    [100, 100, 100],
  ]) {
    for (const tA of [false, true]) for (const tB of [false, true]) plain(m, n, k, tA, tB);
  }
  for (const [alpha, beta] of [
    [0.5, 0],
    [-1.25, 1],
    [2, -0.5],
    [0, 1.5],
    [1, 1],
  ]) {
    plain(37, 29, 41, false, false, alpha, beta);
    plain(37, 29, 41, true, true, alpha, beta);
  }
  plain(300, 200, 250);
  plain(250, 300, 200, true, false, 0.75, 0.25);
  plain(200, 250, 300, false, true);
  plain(129, 257, 513, true, true, 1, 0.5);
  // Batches: strides with gaps, a shared (stride 0) operand on either side, offsets.
  cases.push({
    tA: false,
    tB: false,
    m: 5,
    n: 6,
    k: 7,
    alpha: 1,
    beta: 0,
    batch: 4,
    strideA: 35,
    strideB: 42,
    strideC: 30,
    aOff: 0,
    bOff: 0,
    cOff: 0,
  });
  cases.push({
    tA: false,
    tB: true,
    m: 13,
    n: 9,
    k: 17,
    alpha: 1,
    beta: 0.5,
    batch: 3,
    strideA: 13 * 17,
    strideB: 0,
    strideC: 13 * 9 + 5,
    aOff: 3,
    bOff: 1,
    cOff: 2,
  });
  cases.push({
    tA: true,
    tB: false,
    m: 33,
    n: 20,
    k: 10,
    alpha: -1,
    beta: 0,
    batch: 5,
    strideA: 0,
    strideB: 10 * 20 + 1,
    strideC: 33 * 20,
    aOff: 7,
    bOff: 0,
    cOff: 11,
  });
  cases.push({
    tA: false,
    tB: false,
    m: 64,
    n: 48,
    k: 80,
    alpha: 1,
    beta: 0,
    batch: 6,
    strideA: 64 * 80,
    strideB: 0,
    strideC: 64 * 48,
    aOff: 0,
    bOff: 0,
    cOff: 0,
  });
  cases.push({
    tA: false,
    tB: false,
    m: 3,
    n: 3,
    k: 3,
    alpha: 1,
    beta: 0,
    batch: 0,
    strideA: 9,
    strideB: 9,
    strideC: 9,
    aOff: 0,
    bOff: 0,
    cOff: 0,
  });
  return cases;
}

interface GemmData {
  a: FloatArray;
  b: FloatArray;
  c: FloatArray;
  ref: Float64Array;
  scale: Float64Array;
}

function extent(batch: number, off: number, stride: number, size: number): number {
  return batch === 0 || size === 0 ? off : off + (batch - 1) * stride + size;
}

/** Inputs, the float64 js result and the error scale alpha*|A||B| + |beta||C| of each case. */
function prepareGemm(c: GemmCase, dtype: Dtype, rng: Rng): GemmData {
  const a = randomArray(rng, dtype, extent(c.batch, c.aOff, c.strideA, c.m * c.k));
  const b = randomArray(rng, dtype, extent(c.batch, c.bOff, c.strideB, c.k * c.n));
  const cc = randomArray(rng, dtype, extent(c.batch, c.cOff, c.strideC, c.m * c.n));
  const ref = widen(cc);
  js.gemm(
    c.tA,
    c.tB,
    c.m,
    c.n,
    c.k,
    c.alpha,
    widen(a),
    widen(b),
    c.beta,
    ref,
    c.batch,
    c.strideA,
    c.strideB,
    c.strideC,
    c.aOff,
    c.bOff,
    c.cOff,
  );
  const scale = widen(cc).map(Math.abs);
  js.gemm(
    c.tA,
    c.tB,
    c.m,
    c.n,
    c.k,
    Math.abs(c.alpha),
    widen(a).map(Math.abs),
    widen(b).map(Math.abs),
    Math.abs(c.beta),
    scale,
    c.batch,
    c.strideA,
    c.strideB,
    c.strideC,
    c.aOff,
    c.bOff,
    c.cOff,
  );
  return { a, b, c: cc, ref, scale };
}

describe.skipIf(!native)(`native vs js: GEMM${skipReason}`, () => {
  const nb = native as Backend;
  const h = hooks as NativeBackend;
  const cases = gemmCases();
  const data: Record<Dtype, GemmData[]> = { float32: [], float64: [] };

  beforeAll(() => {
    const rng = new Rng(31);
    for (const dtype of DTYPES) data[dtype] = cases.map((c) => prepareGemm(c, dtype, rng));
  });
  const initialBlas = native?.info().blas.startsWith('openblas') ? 'openblas' : 'builtin';
  const defaultThreads = native?.info().threads ?? 1;
  afterAll(() => {
    h._setSimd(defaultSimd);
    h._setBlas(initialBlas);
  });

  let openblasError = '';
  try {
    h?._setBlas('openblas');
  } catch (e) {
    openblasError = e instanceof Error ? e.message : String(e);
  }
  // CI installs OpenBLAS: there, its absence is a failure rather than a skip.
  if (native && openblasError) requireNativeOrSkip('the OpenBLAS GEMM tests', openblasError);

  // OpenBLAS does not depend on our SIMD level; the built-in GEMM runs once per level. Both also
  // run with 1 thread (the default here is 2, so the large cases take the threaded paths).
  const paths: ['openblas' | 'builtin', SimdLevel, number][] = [
    ['openblas', defaultSimd, defaultThreads],
    ['openblas', defaultSimd, 1],
    ...simdLevels.map((level): ['builtin', SimdLevel, number] => ['builtin', level, defaultThreads]),
    ['builtin', defaultSimd, 1],
  ];
  for (const [blas, level, threads] of paths) {
    for (const dtype of DTYPES) {
      const title = `${blas} gemm, simd=${level}, ${threads} thread(s), ${dtype}: shapes, transposes, alpha/beta, batches, offsets`;
      it.skipIf(blas === 'openblas' && openblasError !== '')(
        `${title}${openblasError ? ` (SKIPPED: ${openblasError})` : ''}`,
        () => {
          h._setBlas(blas);
          h._setSimd(level);
          nb.setNumThreads(threads);
          try {
            expect(blas === 'builtin' ? nb.info().blas === 'builtin' : nb.info().blas.startsWith('openblas')).toBe(
              true,
            );
            cases.forEach((c, i) => {
              const d = data[dtype][i];
              const out = d.c.slice();
              nb.gemm(
                c.tA,
                c.tB,
                c.m,
                c.n,
                c.k,
                c.alpha,
                d.a,
                d.b,
                c.beta,
                out,
                c.batch,
                c.strideA,
                c.strideB,
                c.strideC,
                c.aOff,
                c.bOff,
                c.cOff,
              );
              const what = `gemm tA=${c.tA} tB=${c.tB} ${c.m}x${c.n}x${c.k} alpha=${c.alpha} beta=${c.beta} batch=${c.batch}`;
              expectClose(what, out, d.ref, tol.gemm[dtype], 1e-300, d.scale);
            });
          } finally {
            nb.setNumThreads(defaultThreads);
          }
        },
      );
    }
  }

  it('beta = 0 ignores NaN in C on both paths', () => {
    for (const blas of openblasError ? ['builtin' as const] : ['openblas' as const, 'builtin' as const]) {
      h._setBlas(blas);
      for (const dtype of DTYPES) {
        const a = alloc(dtype, 6);
        a.set([1, 2, 3, 4, 5, 6]);
        const c = alloc(dtype, 4).fill(NaN);
        nb.gemm(false, true, 2, 2, 3, 1, a, a, 0, c);
        expect([...c], `${blas} ${dtype}`).toEqual([14, 32, 32, 77]);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Bad arguments: the native side throws the same error class as the js reference.

describe.skipIf(!native)(`native vs js: argument errors${skipReason}`, () => {
  const nb = native as Backend;
  const f32 = (n: number): Float32Array => new Float32Array(n);
  const calls: [string, (b: Backend) => void][] = [
    ['gemm short C', (b) => b.gemm(false, false, 2, 2, 3, 1, f32(6), f32(6), 0, f32(3))],
    ['gemm negative m', (b) => b.gemm(false, false, -1, 2, 3, 1, f32(6), f32(6), 0, f32(4))],
    ['gemm mixed dtypes', (b) => b.gemm(false, false, 2, 2, 3, 1, f32(6), new Float64Array(6), 0, f32(4))],
    ['gemm batch past the end', (b) => b.gemm(false, false, 2, 2, 3, 1, f32(6), f32(6), 0, f32(8), 2, 6, 6, 4, 1)],
    ['unary unknown op', (b) => b.unary(99 as UnaryOp, f32(2), f32(2), 0, 0)],
    ['unary length mismatch', (b) => b.unary(UnaryOp.relu, f32(3), f32(2), 0, 0)],
    ['unary not a typed array', (b) => b.unary(UnaryOp.relu, [1, 2] as unknown as Float32Array, f32(2), 0, 0)],
    ['binary shapes do not broadcast', (b) => b.binary(BinaryOp.add, f32(6), [2, 3], f32(2), [2], f32(6))],
    ['binary wrong out length', (b) => b.binary(BinaryOp.add, f32(6), [2, 3], f32(3), [3], f32(5))],
    ['reduce wrong x length', (b) => b.reduce(ReduceOp.sum, f32(5), 2, 3, 1, f32(2))],
    ['argmax Float32Array indices', (b) => b.argmax(f32(6), 2, 3, 1, f32(2) as unknown as Int32Array)],
    [
      'cross-entropy target out of range',
      (b) => b.softmaxCrossEntropy(f32(6), 2, 3, new Int32Array([0, 3]), f32(2), null, 1),
    ],
    [
      'cross-entropy negative target',
      (b) => b.softmaxCrossEntropy(f32(6), 2, 3, new Int32Array([-1, 0]), f32(2), null, 1),
    ],
    ['gather index out of range', (b) => b.gather(f32(6), 1, 3, 2, new Int32Array([3]), f32(2))],
    ['scatterAdd negative index', (b) => b.scatterAdd(f32(2), 1, 3, 2, new Int32Array([-1]), f32(6))],
    ['permute not a permutation', (b) => b.permute(f32(6), [2, 3], [0, 0], f32(6))],
    ['biasAdd short bias', (b) => b.biasAdd(f32(6), 2, 3, f32(2), f32(6))],
    ['sgdStep momentum without buf', (b) => b.sgdStep(f32(2), f32(2), null, 0.1, 0.9, 0, 0, false, true)],
    [
      'adamStep short expAvg',
      (b) => b.adamStep(f32(2), f32(2), f32(1), f32(2), null, 1, 0.1, 0.9, 0.999, 1e-8, 0, false),
    ],
  ];
  for (const [name, call] of calls) {
    it(name, () => {
      let jsError: unknown;
      try {
        call(js);
      } catch (e) {
        jsError = e;
      }
      expect(jsError, 'the js backend throws').toBeInstanceOf(Error);
      expect(() => call(nb)).toThrow((jsError as Error).constructor);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Convolution, pooling and batch-norm statistics (NCHW).

/** Kernels the js backend has that the addon lacks: the Backend interface requires all of them. */
function missingNativeKernels(): string[] {
  if (!native) return [];
  const table = native as unknown as Record<string, unknown>;
  return Object.entries(js)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k)
    .filter((k) => typeof table[k] !== 'function');
}

describe.skipIf(!native)(`native vs js: every kernel exists in both${skipReason}`, () => {
  it('the addon implements every kernel of the js backend', () => {
    expect(missingNativeKernels(), 'kernels missing from the addon').toEqual([]);
  });
});

const hasNative = (kernel: string): boolean =>
  !!native && typeof (native as unknown as Record<string, unknown>)[kernel] === 'function';
const lacks = (kernel: string): string =>
  native && !hasNative(kernel) ? ` (SKIPPED: the addon has no ${kernel})` : '';

// n, cIn, h, w, cOut, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW
const CONV_GEOMETRIES: number[][] = [
  [1, 1, 5, 5, 1, 3, 3, 1, 1, 0, 0, 1, 1],
  [2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1],
  [2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1],
  [2, 3, 9, 7, 5, 3, 2, 2, 1, 1, 0, 1, 1],
  [1, 2, 10, 11, 3, 3, 3, 2, 3, 2, 1, 2, 2],
  [1, 17, 5, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1],
  [4, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1],
  [3, 16, 14, 14, 33, 3, 3, 1, 1, 1, 1, 1, 1],
  [0, 2, 4, 4, 2, 3, 3, 1, 1, 0, 0, 1, 1],
];

function convOut(g: number[]): [number, number] {
  const [, , h, w, , kH, kW, sH, sW, pH, pW, dH, dW] = g;
  return [Math.floor((h + 2 * pH - dH * (kH - 1) - 1) / sH) + 1, Math.floor((w + 2 * pW - dW * (kW - 1) - 1) / sW) + 1];
}

describe.skipIf(!native)(`native vs js: convolution${skipReason}`, () => {
  const nb = native as unknown as Backend;
  for (const dtype of DTYPES) {
    it.skipIf(!hasNative('conv2d') || !hasNative('conv2dBackwardInput') || !hasNative('conv2dBackwardWeight'))(
      `conv2d forward, backward input and weight, ${dtype}${lacks('conv2d')}`,
      () => {
        const rng = new Rng(41);
        const t = tol.gemm[dtype];
        for (const g of CONV_GEOMETRIES) {
          const [n, cIn, h, w, cOut, kH, kW] = g;
          const [oH, oW] = convOut(g);
          const geom = g as [
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
            number,
          ];
          const x = randomArray(rng, dtype, n * cIn * h * w);
          const wt = randomArray(rng, dtype, cOut * cIn * kH * kW);
          const gy = randomArray(rng, dtype, n * cOut * oH * oW);
          const abs = (a: FloatArray): Float64Array => widen(a).map(Math.abs);
          for (const withBias of [false, true]) {
            const bias = withBias ? randomArray(rng, dtype, cOut) : null;
            const y = randomArray(rng, dtype, n * cOut * oH * oW); // overwritten
            nb.conv2d(x, wt, bias, y, ...geom);
            const ref = new Float64Array(y.length);
            js.conv2d(widen(x), widen(wt), bias && widen(bias), ref, ...geom);
            const scale = new Float64Array(y.length);
            js.conv2d(abs(x), abs(wt), bias && abs(bias), scale, ...geom);
            expectClose(`conv2d [${g}] bias=${withBias}`, y, ref, t, 1e-300, scale);
          }
          const gx = randomArray(rng, dtype, x.length);
          nb.conv2dBackwardInput(gy, wt, gx, ...geom);
          const gxRef = new Float64Array(x.length);
          js.conv2dBackwardInput(widen(gy), widen(wt), gxRef, ...geom);
          const gxScale = new Float64Array(x.length);
          js.conv2dBackwardInput(abs(gy), abs(wt), gxScale, ...geom);
          expectClose(`conv2dBackwardInput [${g}]`, gx, gxRef, t, 1e-300, gxScale);

          for (const withBias of [false, true]) {
            const gw = randomArray(rng, dtype, wt.length);
            const gb = withBias ? randomArray(rng, dtype, cOut) : null;
            nb.conv2dBackwardWeight(x, gy, gw, gb, ...geom);
            const gwRef = new Float64Array(wt.length);
            const gbRef = withBias ? new Float64Array(cOut) : null;
            js.conv2dBackwardWeight(widen(x), widen(gy), gwRef, gbRef, ...geom);
            const gwScale = new Float64Array(wt.length);
            const gbScale = withBias ? new Float64Array(cOut) : null;
            js.conv2dBackwardWeight(abs(x), abs(gy), gwScale, gbScale, ...geom);
            expectClose(`conv2dBackwardWeight [${g}]`, gw, gwRef, t, 1e-300, gwScale);
            if (gb && gbRef && gbScale) expectClose(`conv2d bias gradient [${g}]`, gb, gbRef, t, 1e-300, gbScale);
          }
        }
      },
    );
  }
});

// planes, h, w, kH, kW, strideH, strideW, padH, padW
const POOL_GEOMETRIES: number[][] = [
  [1, 1, 1, 1, 1, 1, 1, 0, 0],
  [3, 4, 4, 2, 2, 2, 2, 0, 0],
  [2, 5, 7, 3, 3, 2, 2, 1, 1],
  [5, 28, 28, 2, 2, 2, 2, 0, 0],
  [4, 9, 9, 3, 3, 1, 1, 1, 1],
  [6, 17, 13, 3, 2, 2, 3, 1, 1],
  [64, 14, 14, 2, 2, 2, 2, 0, 0],
  [0, 4, 4, 2, 2, 2, 2, 0, 0],
];

function poolOut(g: number[]): [number, number] {
  const [, h, w, kH, kW, sH, sW, pH, pW] = g;
  return [Math.floor((h + 2 * pH - kH) / sH) + 1, Math.floor((w + 2 * pW - kW) / sW) + 1];
}

describe.skipIf(!native)(`native vs js: pooling and batch-norm statistics${skipReason}`, () => {
  const nb = native as unknown as Backend;
  type PoolGeom = [number, number, number, number, number, number, number, number, number];
  for (const dtype of DTYPES) {
    it.skipIf(!hasNative('maxPool2d') || !hasNative('maxPool2dBackward'))(
      `maxPool2d and its backward, ${dtype}${lacks('maxPool2d')}`,
      () => {
        const rng = new Rng(42);
        for (const g of POOL_GEOMETRIES) {
          const [planes, h, w] = g;
          const [oH, oW] = poolOut(g);
          const geom = g as PoolGeom;
          const x = randomArray(rng, dtype, planes * h * w);
          for (let i = 0; i + 1 < x.length; i += 5) x[i + 1] = x[i]; // ties: the first maximum wins
          const y = alloc(dtype, planes * oH * oW);
          const idx = new Int32Array(y.length);
          nb.maxPool2d(x, y, idx, ...geom);
          const yRef = alloc(dtype, y.length);
          const idxRef = new Int32Array(y.length);
          js.maxPool2d(x, yRef, idxRef, ...geom);
          expect([...y], `maxPool2d [${g}]`).toEqual([...yRef]);
          expect([...idx], `maxPool2d indices [${g}]`).toEqual([...idxRef]);
          const gy = randomArray(rng, dtype, y.length);
          const gx = randomArray(rng, dtype, x.length);
          nb.maxPool2dBackward(gy, idx, gx, ...geom);
          const gxRef = new Float64Array(x.length);
          js.maxPool2dBackward(widen(gy), idxRef, gxRef, ...geom);
          const scale = new Float64Array(x.length);
          js.maxPool2dBackward(widen(gy).map(Math.abs), idxRef, scale, ...geom);
          expectClose(`maxPool2dBackward [${g}]`, gx, gxRef, tol.sum[dtype], 0, scale);
        }
      },
    );

    it.skipIf(!hasNative('avgPool2d') || !hasNative('avgPool2dBackward'))(
      `avgPool2d and its backward, ${dtype}${lacks('avgPool2d')}`,
      () => {
        const rng = new Rng(43);
        for (const g of POOL_GEOMETRIES) {
          const [planes, h, w] = g;
          const [oH, oW] = poolOut(g);
          const geom = g as PoolGeom;
          const x = randomArray(rng, dtype, planes * h * w);
          const y = alloc(dtype, planes * oH * oW);
          nb.avgPool2d(x, y, ...geom);
          const yRef = new Float64Array(y.length);
          js.avgPool2d(widen(x), yRef, ...geom);
          const yScale = new Float64Array(y.length);
          js.avgPool2d(widen(x).map(Math.abs), yScale, ...geom);
          expectClose(`avgPool2d [${g}]`, y, yRef, tol.sum[dtype], 0, yScale);
          const gy = randomArray(rng, dtype, y.length);
          const gx = randomArray(rng, dtype, x.length);
          nb.avgPool2dBackward(gy, gx, ...geom);
          const gxRef = new Float64Array(x.length);
          js.avgPool2dBackward(widen(gy), gxRef, ...geom);
          const gxScale = new Float64Array(x.length);
          js.avgPool2dBackward(widen(gy).map(Math.abs), gxScale, ...geom);
          expectClose(`avgPool2dBackward [${g}]`, gx, gxRef, tol.sum[dtype], 0, gxScale);
        }
      },
    );

    it.skipIf(!hasNative('batchNormStats') || !hasNative('channelAffine'))(
      `batchNormStats and channelAffine, ${dtype}${lacks('batchNormStats')}`,
      () => {
        const rng = new Rng(44);
        for (const [n, c, inner] of [
          [1, 1, 1],
          [2, 3, 1],
          [4, 1, 17],
          [8, 16, 49],
          [64, 33, 1],
          [3, 5, 1031],
          [0, 2, 3],
        ]) {
          const x = randomArray(rng, dtype, n * c * inner);
          for (let i = 0; i < x.length; i++) x[i] = x[i] + 3; // an offset, so a one-pass variance would cancel
          const mean = alloc(dtype, c);
          const variance = alloc(dtype, c);
          nb.batchNormStats(x, n, c, inner, mean, variance);
          const meanRef = new Float64Array(c);
          const varRef = new Float64Array(c);
          js.batchNormStats(widen(x), n, c, inner, meanRef, varRef);
          const t = tol.sum[dtype];
          // mean: error relative to mean|x| (about 3 here); variance: relative to itself (about 1).
          expectClose(`batchNormStats mean [${n},${c},${inner}]`, mean, meanRef, t, t * 4);
          expectClose(`batchNormStats var [${n},${c},${inner}]`, variance, varRef, t * 10, t);

          const scale = randomArray(rng, dtype, c);
          const shift = randomArray(rng, dtype, c);
          const y = alloc(dtype, x.length);
          nb.channelAffine(x, n, c, inner, scale, shift, y);
          const yRef = new Float64Array(x.length);
          js.channelAffine(widen(x), n, c, inner, widen(scale), widen(shift), yRef);
          const ulp = dtype === 'float32' ? 2 * F32_ULP : 4e-16;
          const affineScale = yRef.map((_, i) => {
            const ch = Math.floor(i / inner) % c;
            return Math.abs(x[i] * scale[ch]) + Math.abs(shift[ch]);
          });
          expectClose(`channelAffine [${n},${c},${inner}]`, y, yRef, ulp, 0, affineScale);
          nb.channelAffine(x, n, c, inner, scale, shift, x); // in place
          expectClose(`channelAffine in place [${n},${c},${inner}]`, x, yRef, ulp, 0, affineScale);
        }
      },
    );
  }
});

// ---------------------------------------------------------------------------------------------
// Fused recurrent cells (one time step), on every SIMD level.

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

// ---------------------------------------------------------------------------------------------
// The environment variables that force a path at load time (BACKPROP_SIMD, BACKPROP_BLAS): a child
// process loads the addon with each, reports info(), and runs a GEMM and an exp for comparison.

describe.skipIf(!native)(`native vs js: paths forced by environment variables${skipReason}`, () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = `
    const addon = require('node-gyp-build')(${JSON.stringify(root)});
    const a = Float32Array.from({ length: 33 * 65 }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 65 * 17 }, (_, i) => Math.cos(i));
    const c = new Float32Array(33 * 17);
    addon.gemm(false, false, 33, 17, 65, 1, a, b, 0, c);
    const x = Float32Array.from({ length: 37 }, (_, i) => i / 3 - 6);
    const y = new Float32Array(37);
    addon.unary(5, x, y, 0, 0);
    process.stdout.write(JSON.stringify({ info: addon.info(), c: Array.from(c), y: Array.from(y) }));`;
  const run = (env: Record<string, string>): { info: { blas: string; simd: string }; c: number[]; y: number[] } => {
    const out = execFileSync(process.execPath, ['-e', child], {
      env: { ...process.env, BACKPROP_SIMD: '', BACKPROP_BLAS: '', ...env },
      encoding: 'utf8',
    });
    return JSON.parse(out);
  };
  const a = Float64Array.from({ length: 33 * 65 }, (_, i) => Math.fround(Math.sin(i)));
  const b = Float64Array.from({ length: 65 * 17 }, (_, i) => Math.fround(Math.cos(i)));
  const cRef = new Float64Array(33 * 17);
  js.gemm(false, false, 33, 17, 65, 1, a, b, 0, cRef);
  const cScale = new Float64Array(33 * 17);
  js.gemm(false, false, 33, 17, 65, 1, a.map(Math.abs), b.map(Math.abs), 0, cScale);
  const x = Float64Array.from({ length: 37 }, (_, i) => Math.fround(i / 3 - 6));
  const yRef = new Float64Array(37);
  js.unary(UnaryOp.exp, x, yRef, 0, 0);

  const cases: Record<string, string>[] = [
    ...simdLevels.map((level) => ({ BACKPROP_SIMD: level })),
    { BACKPROP_BLAS: 'builtin' },
    { BACKPROP_BLAS: 'builtin', BACKPROP_SIMD: 'scalar' },
  ];
  for (const env of cases) {
    it(
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      () => {
        const r = run(env);
        if (env.BACKPROP_SIMD) expect(r.info.simd).toBe(env.BACKPROP_SIMD);
        if (env.BACKPROP_BLAS === 'builtin') expect(r.info.blas).toBe('builtin');
        expectClose('gemm', r.c, cRef, tol.gemm.float32, 1e-300, cScale);
        expectClose('exp', r.y, yRef, ...tol.unary.float32);
      },
    );
  }
});
