// Per-step overhead and throughput of a training step (forward, backward, SGD update):
//   - µs per step of a 2-16-16-1 tanh MLP at batch 32 (MSE, SGD): framework overhead dominates;
//   - samples/s of a 784-512-256-10 ReLU MLP at batch 128 (softmax cross-entropy, SGD momentum
//     0.9) with 1 and 2 threads: GEMM-bound.
// native and js backends, and PyTorch (/usr/bin/python3 bench/torch/overhead.py) in the same run.
// Rounds of the three alternate, and each keeps its best round, so that load from other
// processes during the run does not favour whichever was measured at a quiet moment.
//
//   npm run compile && npm run bench -- overhead [rounds=5]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { f0, machineLine, measureFmaPeak } from './_common.js';
import { manualSeed, randn, tensor, nn, optim, F, backend } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Steps per round: enough for ~0.2-0.5 s on each side. */
const STEPS = {
  small: { native: 4000, js: 600, torch: 1000 },
  large: { native: 60, js: 2, torch: 60 },
};

function smallStep() {
  manualSeed(0);
  const model = new nn.Sequential(
    new nn.Linear(2, 16),
    new nn.Tanh(),
    new nn.Linear(16, 16),
    new nn.Tanh(),
    new nn.Linear(16, 1),
  );
  const x = randn([32, 2]);
  const y = randn([32, 1]);
  const opt = new optim.SGD(model.parameters(), { lr: 0.01 });
  return () => {
    opt.zeroGrad();
    const loss = F.mseLoss(model.forward(x), y);
    loss.backward();
    opt.step();
  };
}

function largeStep() {
  manualSeed(0);
  const model = new nn.Sequential(
    new nn.Linear(784, 512),
    new nn.ReLU(),
    new nn.Linear(512, 256),
    new nn.ReLU(),
    new nn.Linear(256, 10),
  );
  const x = randn([128, 784]);
  const y = tensor(Int32Array.from({ length: 128 }, (_, i) => (i * 7) % 10));
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  return () => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
  };
}

/**
 * Seconds per step over one round of `steps` steps (after one untimed step).
 * @param {() => void} step
 * @param {number} steps
 */
function round(step, steps) {
  step();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) step();
  return Number(process.hrtime.bigint() - t0) / 1e9 / steps;
}

/** The PyTorch side as a child process answering one round per request, or an Error. */
async function startTorch() {
  const child = spawn('/usr/bin/python3', [join(here, 'torch', 'overhead.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const failed = new Promise((resolve) => {
    child.on('error', (e) => resolve(new Error(e.message)));
    child.on('exit', () => resolve(new Error(stderr.trim().split('\n').pop() || 'PyTorch exited')));
  });
  const next = async () => {
    const r = await Promise.race([lines.next(), failed]);
    if (r instanceof Error) throw r;
    if (r.done) throw new Error(stderr.trim().split('\n').pop() || 'PyTorch exited');
    return JSON.parse(r.value);
  };
  try {
    const { torch: version, blas } = await next();
    return {
      version,
      blas,
      /**
       * One round; with 2 threads, the faster of torch's two ways to use them (see below).
       * @param {'small' | 'large'} kind
       * @param {number} threads
       * @param {number} steps
       * @returns {Promise<number>}
       */
      async round(kind, threads, steps) {
        /** @type {(intraOp: number, blasThreads: number) => Promise<number>} */
        const ask = async (intraOp, blasThreads) => {
          child.stdin.write(`${kind} ${intraOp} ${blasThreads} ${steps}\n`);
          return (await next()).seconds;
        };
        if (threads === 1) return ask(1, 1);
        // Intra-op threads and BLAS threads both, or only the BLAS's (its OpenMP pool otherwise
        // spins against the BLAS threads on 2 cores).
        return Math.min(await ask(threads, threads), await ask(1, threads));
      },
      stop: () => child.stdin.end(),
    };
  } catch (e) {
    child.kill();
    return e instanceof Error ? e : new Error(String(e));
  }
}

const f1 = (/** @type {number | undefined} */ x) => (x === undefined ? '—' : x.toFixed(1));

/** @param {string[]} [args] */
export async function main(args = []) {
  const rounds = Number(args[0] ?? 5);
  const loadBefore = loadavg()[0];
  // Measured before PyTorch starts, so that its start-up does not share the CPUs with the measurement.
  const peak = measureFmaPeak();
  const names = backend.available();
  const torch = await startTorch();
  /** @type {('native' | 'js' | 'torch')[]} */
  const libs = [...names, ...(torch instanceof Error ? [] : /** @type {const} */ (['torch']))];
  /** @type {['small' | 'large', number][]} */
  const configs = [
    ['small', 1],
    ['large', 1],
    ['large', 2],
  ];
  /** @type {Record<string, Record<string, number>>} */
  const best = {}; // best[lib][config] = seconds per step
  for (const lib of libs) best[lib] = {};
  for (const [kind, threads] of configs) {
    const key = `${kind}${threads}`;
    /** @type {Record<string, () => void>} */
    const fns = {};
    for (const n of names) {
      backend.use(n);
      fns[n] = (kind === 'small' ? smallStep : largeStep)();
    }
    for (let r = 0; r < rounds; r++) {
      for (const lib of libs) {
        let s;
        if (lib === 'torch') {
          if (torch instanceof Error) continue; // then 'torch' is not in libs
          s = await torch.round(kind, threads, STEPS[kind].torch);
        } else {
          backend.use(lib);
          backend.setNumThreads(threads);
          // js is slow: fewer rounds of the large model.
          if (lib === 'js' && kind === 'large' && r >= 2) continue;
          s = round(fns[lib], STEPS[kind][lib]);
        }
        best[lib][key] = Math.min(best[lib][key] ?? Infinity, s);
      }
    }
  }
  if (!(torch instanceof Error)) torch.stop();

  if (names.includes('native')) backend.use('native');
  backend.setNumThreads(1);
  const info = backend.info();
  console.log(machineLine(peak));
  console.log(
    `backprop ${names.join('/')} (${info.name}: blas ${info.blas}, simd ${info.simd}), ${torch instanceof Error ? `PyTorch unavailable: ${torch.message}` : `torch ${torch.version} (BLAS: ${torch.blas}; its threads set with the intra-op threads)`}`,
  );
  console.log(
    `${rounds} alternating rounds, best of each; load average (1 min) before: ${loadBefore.toFixed(2)}, after: ${loadavg()[0].toFixed(2)}`,
  );
  console.log('');
  console.log(
    '| | µs / step, 2-16-16-1 tanh MLP, batch 32 | samples/s, 784-512-256-10 ReLU MLP, batch 128, 1 thread | same, 2 threads |',
  );
  console.log('| --- | --- | --- | --- |');
  /** @type {(label: string, b: Record<string, number>) => string} */
  const row = (label, b) => `| ${label} | ${f1(b.small1 * 1e6)} | ${f0(128 / b.large1)} | ${f0(128 / b.large2)} |`;
  for (const n of names) console.log(row(n, best[n]));
  if (!(torch instanceof Error)) console.log(row(`PyTorch ${torch.version}`, best.torch));
  const nat = best.native;
  if (nat && best.torch) {
    console.log('');
    console.log(
      `native vs PyTorch: step time ${(nat.small1 / best.torch.small1).toFixed(2)}x, throughput ${(best.torch.large1 / nat.large1).toFixed(2)}x (1 thread), ${(best.torch.large2 / nat.large2).toFixed(2)}x (2 threads)`,
    );
  }
  if (nat && best.js)
    console.log(
      `native vs js throughput: ${(best.js.large1 / nat.large1).toFixed(1)}x (1 thread), ${(best.js.large2 / nat.large2).toFixed(1)}x (2 threads)`,
    );
}
