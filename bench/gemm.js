// `npm run bench -- gemm [n...]`: SGEMM GFLOP/s for n = 64 ... 2048 through the addon with
// OpenBLAS, through the addon with its built-in GEMM, through the js backend (n <= 512 only: it
// is slow), and through OpenBLAS called directly from C (bench/c/sgemm.c, compiled here), with
// 1 and 2 threads, each figure also as a share of the FMA peak measured in the same run (see
// measureFmaPeak in _common.js); then the activation kernels (see activations.js). Needs
// `npm run compile` first.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  bestTime,
  fmt,
  loadBackends,
  machineLine,
  measureFmaPeak,
  ofPeak,
  peakFor,
  randomFloat32,
  table,
} from './_common.js';
import { runActivations } from './activations.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_SIZES = [64, 128, 256, 512, 1024, 2048];
const JS_MAX_N = 512;
const THREADS = [1, 2];
const ROUNDS = 3;

/** Compiles bench/c/sgemm.c against OpenBLAS into a temporary folder; returns { run(threads, n), cleanup } or an Error. */
function compileDirect() {
  const dir = mkdtempSync(join(tmpdir(), 'backprop-sgemm-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const exe = join(dir, 'sgemm');
  try {
    execFileSync('cc', ['-O2', join(here, 'c', 'sgemm.c'), '-o', exe, '-lopenblas'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    cleanup();
    const e = /** @type {Error & { stderr?: Buffer }} */ (err);
    return new Error(
      `cannot compile bench/c/sgemm.c with -lopenblas: ${e.stderr ? String(e.stderr).trim() : e.message}`,
    );
  }
  /** @type {(threads: number, n: number) => number} */
  const run = (threads, n) =>
    Number(
      execFileSync(exe, [String(threads), String(n)], { encoding: 'utf8' })
        .trim()
        .split(' ')[1],
    );
  return { run, cleanup };
}

/**
 * @param {import('./_common.js').Backend} backend
 * @param {number} n
 */
function gflops(backend, n) {
  const a = randomFloat32(n * n, 1);
  const b = randomFloat32(n * n, 2);
  const c = new Float32Array(n * n);
  const seconds = bestTime(() => backend.gemm(false, false, n, n, n, 1, a, b, 0, c), {
    minSeconds: backend.name === 'js' ? 0.2 : 0.4,
  });
  return (2 * n ** 3) / seconds / 1e9;
}

/** @param {string[]} [args] */
export async function main(args = []) {
  const sizes = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const ns = sizes.length ? sizes : DEFAULT_SIZES;
  // First, while nothing else of this bench is running.
  const peak = measureFmaPeak();
  console.log(machineLine(peak));
  const backends = await loadBackends();
  const { js, native, hooks, nativeError } = backends;
  if (!native) console.log(`(the native addon did not load: ${nativeError}; addon columns are empty)\n`);
  const info = native?.info();
  console.log(
    `# SGEMM, C = A·B, square n×n float32, GFLOP/s = 2n³ / best time (best of ${ROUNDS} interleaved rounds)\n`,
  );
  if (info) console.log(`addon: simd ${info.simd}, blas ${info.blas}`);
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`machine: ${cpus().length} CPUs, load average at start ${load()} (other processes skew the figures)`);
  console.log(`js backend measured for n <= ${JS_MAX_N} only (it is a plain i-k-j loop, single-threaded).`);
  console.log(
    'In parentheses: the share of the measured FMA peak for as many threads (the 1-core peak for 1 thread, the all-core peak for as many threads as cores).\n',
  );

  const jsResults = new Map(ns.filter((n) => n <= JS_MAX_N).map((n) => [n, gflops(js, n)]));
  const direct = compileDirect();
  if (direct instanceof Error) console.log(`(${direct.message})\n`);
  const verdicts = [];
  for (const threads of THREADS) {
    const rows = [];
    for (const n of ns) {
      // The machine is shared: direct OpenBLAS, the addon with OpenBLAS and the built-in GEMM are
      // measured in turn for ROUNDS rounds and each keeps its best, so that a load change during
      // one measurement favours none of them.
      /** @type {number | null} */
      let d = null;
      /** @type {number | null} */
      let viaBlas = null;
      /** @type {number | null} */
      let builtin = null;
      /** @type {(prev: number | null, x: number) => number} */
      const best = (prev, x) => (prev === null ? x : Math.max(prev, x));
      for (let round = 0; round < ROUNDS; round++) {
        if (!(direct instanceof Error)) d = best(d, direct.run(threads, n));
        if (native && hooks) {
          native.setNumThreads(threads);
          hooks._setBlas('openblas');
          viaBlas = best(viaBlas, gflops(native, n));
          hooks._setBlas('builtin');
          builtin = best(builtin, gflops(native, n));
          hooks._setBlas('openblas');
        }
      }
      const ratio = (/** @type {number | null} */ x) => (x === null || !d ? null : x / d);
      const threadsPeak = peakFor(peak, threads);
      /** @type {(x: number | null) => string} */
      const rate = (x) => `${fmt(x)}${ofPeak(x, threadsPeak)}`;
      const jsRate = jsResults.get(n);
      rows.push([
        n,
        rate(d),
        rate(viaBlas),
        fmt(ratio(viaBlas), 3),
        rate(builtin),
        fmt(ratio(builtin), 3),
        // The js backend is single-threaded: its share is of the 1-core peak in both tables.
        jsRate === undefined ? 'skipped' : `${fmt(jsRate, 2)}${ofPeak(jsRate, peakFor(peak, 1))}`,
      ]);
      const blasRatio = ratio(viaBlas);
      const builtinRatio = ratio(builtin);
      if (n >= 256 && blasRatio !== null)
        verdicts.push({ threads, n, what: 'addon/direct', value: blasRatio, target: 0.95 });
      if (n === 1024 && builtinRatio !== null)
        verdicts.push({ threads, n, what: 'builtin/direct', value: builtinRatio, target: 0.5 });
    }
    console.log(`## ${threads} thread${threads > 1 ? 's' : ''}\n`);
    console.log(
      table(
        [
          'n',
          'OpenBLAS direct (C)',
          'addon + OpenBLAS',
          'addon/direct',
          'addon built-in',
          'built-in/direct',
          'js backend',
        ],
        rows,
      ),
    );
    console.log('');
  }
  if (!(direct instanceof Error)) direct.cleanup();
  console.log(`load average after GEMM: ${load()}`);
  console.log(
    'Targets: addon + OpenBLAS within 5% of direct OpenBLAS at n >= 256; built-in >= 50% of OpenBLAS at n = 1024.',
  );
  for (const v of verdicts) {
    console.log(
      `  ${v.value >= v.target ? 'MET ' : 'MISS'} ${v.what} = ${v.value.toFixed(3)} at n=${v.n}, ${v.threads} thread(s) (target >= ${v.target})`,
    );
  }
  console.log('');
  if (!args.includes('--no-activations')) await runActivations(backends);
}
