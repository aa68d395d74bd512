// Shared by the benchmarks: loading the compiled backends, timing, worker subprocesses, tables.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @typedef {import('../dist/backend/types.js').Backend} Backend */
/** @typedef {import('../dist/backend/native.js').NativeBackend} NativeBackend */
/** @typedef {'native' | 'js'} BackendName */
/** What a worker process printed as JSON (its figures, or `error`), with the row's label and threads. */
/** @typedef {Record<string, any>} WorkerResult */

/**
 * The js backend, the native backend (or null) with its test hooks, why it did not load, and the
 * unary op codes of this build.
 * @returns {Promise<{ js: Backend, native: NativeBackend | null, hooks: NativeBackend | null, nativeError: string,
 *   UnaryOp: typeof import('../dist/backend/types.js').UnaryOp }>}
 */
export async function loadBackends() {
  const dist = join(root, 'dist', 'backend');
  if (!existsSync(join(dist, 'js.js'))) {
    throw new Error('dist/ is missing: run `npm run compile` before `npm run bench`');
  }
  const { UnaryOp } = /** @type {typeof import('../dist/backend/types.js')} */ (
    await import(pathToFileURL(join(dist, 'types.js')).href)
  );
  const { jsBackend } = /** @type {typeof import('../dist/backend/js.js')} */ (
    await import(pathToFileURL(join(dist, 'js.js')).href)
  );
  /** @type {NativeBackend | null} */
  let native = null;
  let nativeError = '';
  try {
    const mod = /** @type {typeof import('../dist/backend/native.js')} */ (
      await import(pathToFileURL(join(dist, 'native.js')).href)
    );
    native = mod.loadNative();
  } catch (e) {
    nativeError = e instanceof Error ? e.message : String(e);
  }
  // The addon object is the backend and carries the hooks (_setSimd, _simdLevels, _setBlas).
  return { js: jsBackend, native, hooks: native, nativeError, UnaryOp };
}

/**
 * Best wall time in seconds of fn() over repetitions filling about minSeconds (at least minReps), after one warm-up.
 * @param {() => unknown} fn
 * @param {{ minSeconds?: number, minReps?: number }} [options]
 * @returns {number}
 */
export function bestTime(fn, { minSeconds = 0.4, minReps = 2 } = {}) {
  fn();
  let best = Infinity;
  let total = 0;
  for (let rep = 0; rep < minReps || total < minSeconds; rep++) {
    const t0 = process.hrtime.bigint();
    fn();
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    total += dt;
    best = Math.min(best, dt);
  }
  return best;
}

/**
 * A seeded uniform [-1, 1) Float32Array (mulberry32), so every run multiplies the same data.
 * @param {number} n
 * @param {number} [seed]
 * @returns {Float32Array}
 */
export function randomFloat32(n, seed = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * A markdown table from a header row and data rows.
 * @param {string[]} header
 * @param {(string | number)[][]} rows
 * @returns {string}
 */
export function table(header, rows) {
  const line = (/** @type {(string | number)[]} */ cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A number with `digits` decimals, '—' when missing. */
export const fmt = (/** @type {number | null | undefined} */ x, digits = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits);

/** Whole number with thousands separators, '—' when missing. */
export const f0 = (/** @type {number | undefined} */ x) =>
  x === undefined ? '—' : Math.round(x).toLocaleString('en-US');

/**
 * Runs a worker process and parses the JSON on the last line of its stdout ({ error } when it failed).
 * @param {string} cmd
 * @param {string[]} args
 * @returns {WorkerResult}
 */
export function runWorker(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
}

/**
 * Prints native/js and native/PyTorch ratios of rows[].[key] per thread count (rows labelled native, js, PyTorch...).
 * @param {WorkerResult[]} rows
 * @param {string} key
 */
export function printSpeedups(rows, key) {
  const get = (/** @type {string} */ label, /** @type {number} */ t) =>
    rows.find((r) => r.label.startsWith(label) && r.threads === t && !r.error);
  for (const t of [1, 2]) {
    const n = get('native', t),
      j = get('js', t),
      p = get('PyTorch', t);
    const parts = [];
    if (n && j) parts.push(`native/js ${(n[key] / j[key]).toFixed(1)}x`);
    if (n && p) parts.push(`native/PyTorch ${(n[key] / p[key]).toFixed(2)}x`);
    if (parts.length) console.log(`${t} thread${t > 1 ? 's' : ''}: ${parts.join(', ')}`);
  }
}

/**
 * The CPU and its float32 FMA peak in GFLOP/s, measured by bench/c/fma-peak.c in this process's
 * run: `peak1` on one core, `peakAll` on all `cores` together (the CPUs this process may use).
 * When it could not be measured, the peaks and isa are null and `error` says why.
 * @typedef {{ cpu: string, isa: string | null, peak1: number | null, peakAll: number | null, cores: number,
 *   error: string }} FmaPeak
 */

/** @type {FmaPeak | null} */
let fmaPeakCache = null;

/** The CPU's model name from /proc/cpuinfo (or what Node reports where there is none). */
function cpuModel() {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) return match[1].trim();
  } catch {
    // not Linux: fall back to Node's view below
  }
  return cpus()[0]?.model.trim() || 'unknown CPU';
}

/**
 * Compiles and runs bench/c/fma-peak.c once per process (later calls return the same figures):
 * benchmark figures mean little across machines, but their share of the peak measured in the
 * same run does. Never throws: without a C compiler the peaks are null and `error` says so.
 * @returns {FmaPeak}
 */
export function measureFmaPeak() {
  if (fmaPeakCache) return fmaPeakCache;
  const cpu = cpuModel();
  const dir = mkdtempSync(join(tmpdir(), 'backprop-fma-peak-'));
  const exe = join(dir, 'fma-peak');
  /** @type {(error: string) => FmaPeak} */
  const failed = (error) => ({ cpu, isa: null, peak1: null, peakAll: null, cores: cpus().length, error });
  /** @type {(err: unknown) => string} */
  const why = (err) => {
    const e = /** @type {Error & { code?: string, stderr?: Buffer | string }} */ (err);
    return (e.stderr ? String(e.stderr).trim().split('\n').pop() : '') || e.message;
  };
  try {
    try {
      execFileSync('cc', ['-O2', '-pthread', join(root, 'bench', 'c', 'fma-peak.c'), '-o', exe], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      const e = /** @type {Error & { code?: string }} */ (err);
      fmaPeakCache = failed(
        e.code === 'ENOENT'
          ? 'cc is missing (no C compiler on PATH)'
          : `cannot compile bench/c/fma-peak.c: ${why(err)}`,
      );
      return fmaPeakCache;
    }
    try {
      const out = execFileSync(exe, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const r = JSON.parse(out.trim().split('\n').pop() ?? '');
      fmaPeakCache = { cpu, isa: r.isa, peak1: r.peak1, peakAll: r.peakAll, cores: r.cores, error: '' };
    } catch (err) {
      fmaPeakCache = failed(`bench/c/fma-peak failed: ${why(err)}`);
    }
    return fmaPeakCache;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The line every benchmark prints above its tables, e.g. `CPU: AMD EPYC (avx512f), measured FMA
 * peak float32: 1 core 245 GFLOP/s, 2 cores 484 GFLOP/s`.
 * @param {FmaPeak} [peak]
 * @returns {string}
 */
export function machineLine(peak = measureFmaPeak()) {
  if (peak.peak1 === null || peak.peakAll === null) {
    return `CPU: ${peak.cpu}, ${peak.cores} core${peak.cores > 1 ? 's' : ''}; FMA peak not measured: ${peak.error}`;
  }
  const all = peak.cores > 1 ? `, ${peak.cores} cores ${Math.round(peak.peakAll)} GFLOP/s` : '';
  return `CPU: ${peak.cpu} (${peak.isa}), measured FMA peak float32: 1 core ${Math.round(peak.peak1)} GFLOP/s${all}`;
}

/**
 * The measured peak for `threads` threads: the 1-core peak for one, the all-core peak from as many
 * threads as cores on, and the all-core rate per core times threads in between. Null when unmeasured.
 * @param {FmaPeak} peak
 * @param {number} threads
 * @returns {number | null}
 */
export function peakFor(peak, threads) {
  if (peak.peak1 === null || peak.peakAll === null) return null;
  if (threads <= 1) return peak.peak1;
  return threads >= peak.cores ? peak.peakAll : (peak.peakAll / peak.cores) * threads;
}

/**
 * ` (43%)`: a rate's share of the peak, or '' when either is missing.
 * @param {number | null} gflops
 * @param {number | null} peak
 * @returns {string}
 */
export function ofPeak(gflops, peak) {
  if (gflops === null || peak === null || !(peak > 0)) return '';
  const pct = (100 * gflops) / peak;
  return ` (${pct >= 10 ? pct.toFixed(0) : pct.toFixed(1)}%)`;
}
