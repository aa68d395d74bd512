// The addon is context-aware: it loads in several worker_threads at once (each with its own
// instance data and thread pool), keeps working while other workers run, survives their
// termination mid-GEMM, and loads again in new workers afterwards.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/backend/native.js';
import { tryLoadNative } from './support/native.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const nodeGypBuildPath = createRequire(import.meta.url).resolve('node-gyp-build');

const { loadError } = tryLoadNative();

// Runs in each worker (CommonJS, eval). Loads the addon the way loadNative() does (node-gyp-build
// from the package root), checks GEMMs of both dtypes, every transpose and both GEMM paths against
// a naive float64 product (shapes large enough for the built-in GEMM's threads: split by rows
// and, for a 5-row product, by columns), reports, then keeps computing until it is terminated.
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const addon = require(workerData.nodeGypBuildPath)(workerData.root);
let seed = workerData.id * 7919 + 17;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
function naive(tA, tB, m, n, k, alpha, a, b) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[tA ? p * m + i : i * k + p] * b[tB ? j * k + p : p * n + j];
      c[i * n + j] = alpha * s;
    }
  return c;
}
addon.setNumThreads(2);
// OpenBLAS whenever it loads (the default may be the built-in GEMM: an AVX-512 CPU).
let paths = ['builtin'];
try {
  addon._setBlas('openblas');
  paths = ['openblas', 'builtin'];
} catch {
  // not loaded: the built-in GEMM only
}
let worst = 0;
let checks = 0;
for (const path of paths) {
  addon._setBlas(path);
  for (const Arr of [Float32Array, Float64Array]) {
    // Every transpose at a small size, then about 200^3, large enough for the built-in GEMM to
    // use its thread pool.
    const shapes = [[false, false, 0], [true, false, 0], [false, true, 0], [true, true, 0]];
    if (path === 'builtin') shapes.push([false, false, 1]); // OpenBLAS's threads are not ours to test
    for (const [tA, tB, big] of shapes) {
      const m = big ? 196 + workerData.id : 37 + workerData.id, n = big ? 180 : 29, k = big ? 240 : 41;
      const a = Arr.from({ length: m * k }, rand), b = Arr.from({ length: k * n }, rand);
      const c = new Arr(m * n).fill(NaN); // beta = 0 must not read C
      addon.gemm(tA, tB, m, n, k, 1.5, a, b, 0, c);
      const ref = naive(tA, tB, m, n, k, 1.5, a, b);
      for (let i = 0; i < ref.length; i++) {
        const err = Math.abs(c[i] - ref[i]) / (1 + Math.abs(ref[i]));
        if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
      }
      checks++;
    }
    if (path !== 'builtin') continue;
    // Few rows, many columns: the built-in GEMM splits the columns across its threads.
    const m = 5, n = 640, k = 2600;
    const a = Arr.from({ length: m * k }, rand), b = Arr.from({ length: k * n }, rand);
    const c = new Arr(m * n).fill(NaN);
    addon.gemm(false, false, m, n, k, 1, a, b, 0, c);
    const ref = naive(false, false, m, n, k, 1, a, b);
    for (let i = 0; i < ref.length; i++) {
      const err = Math.abs(c[i] - ref[i]) / (1 + Math.abs(ref[i]));
      if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : Math.max(worst, err);
    }
    checks++;
  }
}
parentPort.postMessage({ id: workerData.id, info: addon.info(), worst, checks });
// Once told, busy until terminated, so termination lands while the addon (and its pool) is at work.
parentPort.once('message', () => {
  const m = 160, a = new Float32Array(m * m).fill(0.5), c = new Float32Array(m * m);
  for (;;) addon.gemm(false, false, m, m, m, 1, a, a, 0, c);
});
`;

interface Report {
  id: number;
  info: { name: string; blas: string };
  worst: number;
  checks: number;
}

function startWorkers(count: number): { workers: Worker[]; reports: Promise<Report[]> } {
  const workers: Worker[] = [];
  const reports: Promise<Report>[] = [];
  for (let id = 0; id < count; id++) {
    const w = new Worker(workerSource, { eval: true, workerData: { id, root, nodeGypBuildPath } });
    workers.push(w);
    reports.push(
      new Promise<Report>((resolve, reject) => {
        w.once('message', (r: Report) => resolve(r));
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker ${id} exited (code ${code}) before reporting`)));
      }),
    );
  }
  return { workers, reports: Promise.all(reports) };
}

describe.skipIf(loadError !== '')(
  `native addon in worker_threads${loadError ? ` (SKIPPED: ${loadError})` : ''}`,
  () => {
    it('runs GEMMs in 4 workers at once, survives their termination, and loads again in new workers', async () => {
      for (let round = 0; round < 2; round++) {
        const { workers, reports } = startWorkers(4);
        try {
          const rs = await reports;
          expect(rs.map((r) => r.id).sort()).toEqual([0, 1, 2, 3]);
          for (const r of rs) {
            expect(r.info.name).toBe('native');
            expect(r.checks).toBeGreaterThanOrEqual(r.info.blas === 'builtin' ? 12 : 20);
            // float32 accumulation over k <= 2600 terms of size <= 0.25: far below 1e-3.
            expect(r.worst).toBeLessThan(1e-3);
          }
          for (const w of workers) w.postMessage('spin');
          await new Promise((resolve) => setTimeout(resolve, 100));
        } finally {
          const codes = await Promise.all(workers.map((w) => w.terminate()));
          expect(codes).toEqual([1, 1, 1, 1]); // terminated, not crashed or exited on their own
        }
      }
      // The main thread's instance is unaffected by the workers' teardown.
      const b = loadNative();
      const c = new Float64Array(4).fill(NaN);
      b.gemm(false, false, 2, 2, 2, 1, Float64Array.of(1, 2, 3, 4), Float64Array.of(5, 6, 7, 8), 0, c);
      expect(Array.from(c)).toEqual([19, 22, 43, 50]);
    });
  },
);
