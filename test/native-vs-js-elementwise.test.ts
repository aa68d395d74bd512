// Native elementwise kernels against the js backend, on every SIMD path this CPU has and both
// dtypes, on seeded random inputs of sizes 0 and 1, sizes around the SIMD widths and large sizes
// that take the threaded paths: every unary op forward and backward (also at edge values and in
// place), every binary op with and without broadcasting, and binaryScalar on either side.
//
// The js reference in float64 and the tolerances: test/support/native-vs-js.ts.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { BinaryOp, UNARY_OPS, UnaryOp, type Backend, type FloatArray, type UnaryName } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import {
  alloc,
  DTYPES,
  describeEachSimdLevel,
  type Dtype,
  expectClose,
  native,
  randomArray,
  simdLevels,
  skipReason,
  tol,
  widen,
} from './support/native-vs-js.js';

const SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 33, 63, 65, 1000, 1031, 100_003];

// Input domain per unary op: [lo, hi] uniform; an op not listed gets normal * 3 with a 0 at the
// kink. The cases are every op of UNARY_OPS, so a new op is compared with no edit here.
const UNARY_DOMAINS: Partial<Record<UnaryName, [number, number]>> = {
  sigmoid: [-30, 30],
  tanh: [-12, 12],
  gelu: [-9, 9],
  exp: [-80, 80],
  log: [1e-3, 1e3],
  sqrt: [0, 1e3],
  softplus: [-30, 30],
  silu: [-30, 30],
};
const UNARY_CASES: [string, UnaryOp, number | undefined, number][] = UNARY_OPS.map((name) => {
  const domain = UNARY_DOMAINS[name];
  return [name, UnaryOp[name], domain?.[0], domain?.[1] ?? 3];
});

function unaryInput(rng: Rng, dtype: Dtype, n: number, lo: number | undefined, hi: number): FloatArray {
  const x = alloc(dtype, n);
  for (let i = 0; i < n; i++) x[i] = lo === undefined ? hi * rng.normal() : rng.uniform(lo, hi);
  if (lo === undefined && n > 4) x[n - 1] = 0; // the kink
  return x;
}

describe.skipIf(!native)(`native vs js: elementwise kernels on every SIMD level${skipReason}`, () => {
  const nb = native as Backend;

  it('this x86-64 CPU offers avx512, avx2 and scalar paths', () => {
    // The test machine has AVX-512; on other machines the loop below covers what they have.
    expect(simdLevels).toContain('scalar');
    if (process.arch === 'x64') expect(simdLevels).toContain('avx2');
  });

  describeEachSimdLevel(() => {
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
    }
  });
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
