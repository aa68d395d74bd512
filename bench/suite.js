// The user's view: the workloads of bench/_suite-workloads.js (matmul, MLP training and
// inference, a strided conv net, LeNet) through the public API only, against PyTorch
// (/usr/bin/python3 bench/torch/suite.py) in the same run, at 1 and 2 threads.
//
//   npm run compile && npm run bench -- suite [rounds=3] [secondsPerMeasurement=0.4] [workload,...]
//
// Every configuration is one long-lived process (backprop at 1 and 2 threads; PyTorch at 1
// thread, and at 2 threads both ways that do not oversubscribe the 2 cores: 2 ATen/OpenMP
// threads with 1 OpenBLAS thread, and 1 with 2). The driver sends one workload at a time to each
// process in turn, so that the configurations of one workload are measured back to back, round
// after round (the order rotated each round): load from other processes lands on all of them.
// Ratios are per round (PyTorch's time / backprop's, above 1 when backprop is faster; at 2
// threads against the faster PyTorch configuration of that round), reported as the median over
// rounds with the range.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { fmt, machineLine, measureFmaPeak, ofPeak, peakFor, table } from './_common.js';
import { WORKLOADS } from './_suite-workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const PYTHON = '/usr/bin/python3';
const PAUSE_MS = 300;

/**
 * Best mean seconds per iteration over batches of iterations (each ~1/8 of minSeconds), after a
 * warm-up, and the minor page faults per iteration (fresh pages touched: getrusage); the same
 * rules as measure() in bench/torch/suite.py.
 * @param {() => void} it
 * @param {number} minSeconds
 */
function measure(it, minSeconds) {
  const now = () => Number(process.hrtime.bigint()) / 1e9;
  const faults0 = process.resourceUsage().minorPageFault;
  let iterations = 2;
  let t0 = now();
  it();
  it();
  const once = Math.max((now() - t0) / 2, 1e-7);
  const reps = Math.max(1, Math.floor(minSeconds / 8 / once));
  let best = Infinity,
    total = 0,
    batches = 0;
  while (batches < 4 || total < minSeconds) {
    t0 = now();
    for (let i = 0; i < reps; i++) it();
    iterations += reps;
    const dt = now() - t0;
    total += dt;
    batches++;
    best = Math.min(best, dt / reps);
  }
  return { seconds: best, faults: (process.resourceUsage().minorPageFault - faults0) / iterations };
}

/** The backprop side: one process per thread count, serving requests like suite.py. */
async function worker(/** @type {number} */ threads) {
  const api = await import('../dist/index.js');
  api.backend.setNumThreads(threads);
  /** @type {Map<string, () => void>} */
  const cache = new Map();
  console.log(JSON.stringify({ ready: true, info: api.backend.info() }));
  for await (const line of createInterface({ input: process.stdin })) {
    const { name, minSeconds } = JSON.parse(line);
    try {
      let it = cache.get(name);
      if (!it) {
        const w = WORKLOADS.find((x) => x.name === name);
        if (!w) throw new Error(`no workload ${name}`);
        it = w.setup(api);
        cache.set(name, it);
        measure(it, minSeconds / 2); // first use: JIT and buffers warm before any figure counts
      }
      console.log(JSON.stringify({ name, ...measure(it, minSeconds) }));
    } catch (e) {
      console.log(JSON.stringify({ name, error: e instanceof Error ? e.message : String(e) }));
    }
  }
}

/**
 * A long-lived worker process answering one JSON line per request line.
 * @param {string} label @param {string} cmd @param {string[]} args @param {NodeJS.ProcessEnv} env
 */
function startWorker(label, cmd, args, env) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += String(d)));
  let dead = false;
  child.on('exit', () => (dead = true));
  /** @returns {Promise<Record<string, any>>} */
  const next = async () => {
    const r = await lines.next();
    if (r.done) return { error: stderr.trim().split('\n').pop() || 'exited' };
    return JSON.parse(r.value);
  };
  return {
    label,
    ready: next(),
    /** @param {string} name @param {number} minSeconds */
    async ask(name, minSeconds) {
      if (dead) return { error: stderr.trim().split('\n').pop() || 'exited' };
      child.stdin.write(JSON.stringify({ name, minSeconds }) + '\n');
      return next();
    },
    stop() {
      child.stdin.end();
    },
  };
}

/** Median of the numbers (NaN when none). */
function median(/** @type {number[]} */ xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** `1.23× (1.10–1.31)`: median ratio over rounds and its range; '—' without pairs. */
function ratioCell(/** @type {number[]} */ rs) {
  if (rs.length === 0) return '—';
  const lo = Math.min(...rs),
    hi = Math.max(...rs);
  return `**${median(rs).toFixed(2)}×**${rs.length > 1 ? ` (${lo.toFixed(2)}–${hi.toFixed(2)})` : ''}`;
}

/** Time per iteration for the table: µs below 1 ms, else ms. */
function timeCell(/** @type {number} */ s) {
  if (!Number.isFinite(s)) return '—';
  return s < 1e-3 ? `${(s * 1e6).toFixed(0)} µs` : `${(s * 1e3).toFixed(2)} ms`;
}

/** @param {string[]} [args] */
export async function main(args = []) {
  const rounds = Number(args[0] ?? 3);
  const seconds = Number(args[1] ?? 0.4);
  const only = args[2] ? new Set(args[2].split(',')) : null;
  const workloads = WORKLOADS.filter((w) => !only || only.has(w.name));
  const peak = measureFmaPeak();
  console.log(machineLine(peak));
  const load0 = loadavg()[0];
  const torchEnv = (/** @type {number} */ omp, /** @type {number} */ blas) => ({
    OMP_NUM_THREADS: String(omp),
    OPENBLAS_NUM_THREADS: String(blas),
  });
  const py = join(here, 'torch', 'suite.py');
  const workers = [
    startWorker('bp1', process.execPath, [self, '--worker', '1'], {}),
    startWorker('bp2', process.execPath, [self, '--worker', '2'], {}),
    startWorker('pt1', PYTHON, [py, '1', '1'], torchEnv(1, 1)),
    startWorker('pt2omp', PYTHON, [py, '2', '1'], torchEnv(2, 1)),
    startWorker('pt2blas', PYTHON, [py, '1', '2'], torchEnv(1, 2)),
  ];
  /** @type {Record<string, Record<string, any>>} */
  const hello = {};
  for (const w of workers) hello[w.label] = await w.ready;
  const torchVersion = hello.pt1.torch ?? null;
  if (!torchVersion) console.log(`PyTorch not measured: ${hello.pt1.error}`);
  const live = workers.filter((w) => !hello[w.label].error);
  const info = hello.bp1.info;
  if (info) console.log(`backprop: ${info.name} backend, ${info.blas}, ${info.simd}; PyTorch ${torchVersion ?? '—'}`);

  // times[workload][config] = seconds per iteration, one entry per round
  /** @type {Record<string, Record<string, number[]>>} */
  const times = {};
  /** @type {Record<string, Record<string, number[]>>} */
  const faults = {};
  /** @type {Record<string, string>} */
  const errors = {};
  for (let r = 0; r < rounds; r++) {
    for (const w of workloads) {
      times[w.name] ??= {};
      faults[w.name] ??= {};
      // Rotate the order each round so that no configuration always runs first (or last).
      const order = live.map((_, i) => live[(i + r) % live.length]);
      for (const wk of order) {
        // An idle pause first: the previous configuration's threads (OpenMP's and OpenBLAS's
        // spin-wait for a while after their last job) get off the cores before this one runs.
        await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
        const res = await wk.ask(w.name, seconds);
        (times[w.name][wk.label] ??= []).push(res.error ? NaN : res.seconds);
        if (!res.error) (faults[w.name][wk.label] ??= []).push(res.faults);
        if (res.error) errors[`${w.name}/${wk.label}`] = res.error;
      }
    }
    process.stderr.write(`round ${r + 1}/${rounds} done\n`);
  }
  for (const w of workers) w.stop();

  /** Per-round ratios torch/backprop for a backprop config against the best of some torch configs. */
  const ratios = (/** @type {string} */ name, /** @type {string} */ bp, /** @type {string[]} */ pts) => {
    /** @type {number[]} */
    const out = [];
    const t = times[name];
    for (let r = 0; r < rounds; r++) {
      const b = t[bp]?.[r];
      const p = Math.min(...pts.map((c) => t[c]?.[r] ?? NaN).filter((x) => Number.isFinite(x)));
      if (Number.isFinite(b) && Number.isFinite(p)) out.push(p / b);
    }
    return out;
  };
  const best = (/** @type {string} */ name, /** @type {string[]} */ cs) =>
    Math.min(...cs.flatMap((c) => times[name][c] ?? []).filter((x) => Number.isFinite(x)));
  const whichTorch2 = (/** @type {string} */ name) => {
    const a = best(name, ['pt2omp']),
      b = best(name, ['pt2blas']);
    return !Number.isFinite(a) && !Number.isFinite(b) ? '' : a <= b ? 'OMP 2 + BLAS 1' : 'OMP 1 + BLAS 2';
  };
  console.log('');
  console.log(
    `Paired speed ratios, PyTorch time / backprop time (above 1: backprop faster), median over ${rounds} interleaved rounds (range); ` +
      `2 threads against PyTorch's faster non-oversubscribed setting of each round. Best time per iteration below.`,
  );
  console.log('');
  const rows = workloads.map((w) => [
    w.label,
    ratioCell(ratios(w.name, 'bp1', ['pt1'])),
    ratioCell(ratios(w.name, 'bp2', ['pt2omp', 'pt2blas'])),
    timeCell(best(w.name, ['bp1'])),
    timeCell(best(w.name, ['pt1'])),
    timeCell(best(w.name, ['bp2'])),
    `${timeCell(best(w.name, ['pt2omp', 'pt2blas']))}${whichTorch2(w.name) ? ` (${whichTorch2(w.name)})` : ''}`,
  ]);
  console.log(
    table(
      [
        'workload',
        'ratio 1 thread',
        'ratio 2 threads',
        'backprop 1t',
        'PyTorch 1t',
        'backprop 2t',
        'PyTorch 2t (best setting)',
      ],
      rows,
    ),
  );
  const counted = workloads.filter((w) => w.flops > 0);
  if (counted.length) {
    console.log('');
    console.log('GFLOP/s (best round) and share of the measured FMA peak (1 core for 1 thread, 2 cores for 2):');
    console.log('');
    const g = (/** @type {typeof counted[0]} */ w, /** @type {string[]} */ cs, /** @type {number} */ th) => {
      const s = best(w.name, cs);
      if (!Number.isFinite(s)) return '—';
      const gf = w.flops / s / 1e9;
      return `${fmt(gf, 0)}${ofPeak(gf, peakFor(peak, th))}`;
    };
    console.log(
      table(
        ['workload', 'backprop 1t', 'PyTorch 1t', 'backprop 2t', 'PyTorch 2t'],
        counted.map((w) => [
          w.label,
          g(w, ['bp1'], 1),
          g(w, ['pt1'], 1),
          g(w, ['bp2'], 2),
          g(w, ['pt2omp', 'pt2blas'], 2),
        ]),
      ),
    );
  }
  console.log('');
  console.log('Minor page faults per iteration (median over rounds; 1 per 4 KiB page touched fresh):');
  console.log('');
  const pf = (/** @type {string} */ name, /** @type {string} */ c) => {
    const m = median(faults[name][c] ?? []);
    return Number.isFinite(m) ? m.toFixed(m < 10 ? 1 : 0) : '—';
  };
  console.log(
    table(
      ['workload', 'backprop 1t', 'PyTorch 1t', 'backprop 2t', 'PyTorch 2t (OMP 2)', 'PyTorch 2t (BLAS 2)'],
      workloads.map((w) => [
        w.label,
        pf(w.name, 'bp1'),
        pf(w.name, 'pt1'),
        pf(w.name, 'bp2'),
        pf(w.name, 'pt2omp'),
        pf(w.name, 'pt2blas'),
      ]),
    ),
  );
  const errs = Object.entries(errors);
  if (errs.length) {
    console.log('');
    for (const [k, e] of errs) console.log(`- failed ${k}: ${e}`);
  }
  console.log('');
  console.log(
    `1-minute load average ${load0.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (other processes skew every figure; the ratios less).`,
  );
}

if (process.argv[2] === '--worker') await worker(Number(process.argv[3]));
