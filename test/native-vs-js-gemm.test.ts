// Native GEMM against the js backend on both paths (OpenBLAS and the built-in one, the built-in
// one on every SIMD level), with the default thread count and with one, both dtypes: sizes from
// 0 up, non-square and large shapes, every transpose, alpha/beta, batches with gaps, a shared
// (stride 0) operand and offsets; and beta = 0 ignoring NaN in C.
//
// The js reference in float64 and the tolerances: test/support/native-vs-js.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import type { NativeBackend } from '../lib/backend/native.js';
import type { Backend, FloatArray, SimdLevel } from '../lib/backend/types.js';
import { requireNativeOrSkip } from './support/native.js';
import { Rng } from './support/random.js';
import {
  alloc,
  defaultSimd,
  DTYPES,
  type Dtype,
  expectClose,
  hooks,
  native,
  randomArray,
  simdLevels,
  skipReason,
  tol,
  widen,
} from './support/native-vs-js.js';

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
  // A few rows times Bᵀ past the small-product size (a linear layer at batch <= 8: one
  // matrix-vector product per row in the built-in GEMM), and the first row count past that path.
  plain(8, 700, 1000, false, true, 0.5, 0.25);
  plain(9, 700, 1000, false, true);
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
