// Training throughput of a 1-layer LSTM (input 64, hidden 128, sequence length 32, batch 32)
// with a linear head to 64 classes and cross-entropy at every step, Adam: sequences/s of the
// native and js backends with 1 and 2 threads, and of PyTorch (/usr/bin/python3
// bench/torch/lstm.py) in the same run. Every configuration runs in its own process.
//
//   npm run compile && npm run bench -- lstm [steps=60]
//
// Each figure is the best of runs of steps/10 training steps (after a warm-up).
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { f0, machineLine, printSpeedups, runWorker as run } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const T = 32,
  B = 32,
  I = 64,
  H = 128,
  C = 64;

/**
 * @param {import('./_common.js').BackendName} name
 * @param {number} threads
 * @param {number} steps
 */
async function worker(name, threads, steps) {
  const { manualSeed, randn, tensor, nn, optim, F, backend } = await import('../dist/index.js');
  backend.use(name);
  backend.setNumThreads(threads);
  manualSeed(0);
  const lstm = new nn.LSTM(I, H);
  const head = new nn.Linear(H, C);
  const x = randn([T, B, I]);
  const y = tensor(Float32Array.from({ length: T * B }, (_, i) => (i * 7 + (i >> 5)) % C));
  const opt = new optim.Adam([...lstm.parameters(), ...head.parameters()], { lr: 1e-3 });
  const step = () => {
    opt.zeroGrad();
    const [out] = lstm.forward(x);
    const loss = F.crossEntropy(head.forward(out.reshape([T * B, H])), y);
    loss.backward();
    opt.step();
  };
  for (let i = 0; i < Math.max(Math.floor(steps / 10), 2); i++) step(); // warm-up
  // Best of short runs of `group` steps: on a shared machine the best run is the one least
  // disturbed by other processes, while each run still averages over several steps.
  const group = Math.max(1, Math.floor(steps / 10));
  let best = Infinity;
  for (let done = 0; done < steps; done += group) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < group; i++) step();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9 / group);
  }
  console.log(JSON.stringify({ seqps: B / best, msPerStep: best * 1e3, info: backend.info() }));
}

/** @param {string[]} [args] */
export async function main(args = []) {
  const steps = Number(args[0] ?? 60);
  console.log(machineLine());
  const loadBefore = loadavg()[0];
  /** @type {import('./_common.js').WorkerResult[]} */
  const rows = [];
  for (const name of ['native', 'js']) {
    for (const threads of [1, 2]) {
      const n = name === 'js' ? Math.max(3, Math.floor(steps / 20)) : steps;
      rows.push({
        label: name,
        threads,
        ...run(process.execPath, [self, '--worker', name, String(threads), String(n)]),
      });
    }
  }
  for (const threads of [1, 2]) {
    const t = run('/usr/bin/python3', [join(here, 'torch', 'lstm.py'), String(threads), String(steps)]);
    rows.push({ label: t.torch ? `PyTorch ${t.torch}` : 'PyTorch', threads, ...t });
  }
  const native = rows.find((r) => r.label === 'native' && r.threads === 1 && !r.error);
  if (native) console.log(`backend info: ${JSON.stringify(native.info)}`);
  console.log('');
  console.log(
    `LSTM training: 1 layer, input ${I}, hidden ${H}, length ${T}, batch ${B}, linear head to ${C} classes, cross-entropy at every step, Adam`,
  );
  console.log('');
  console.log('| | threads | sequences/s | ms per batch |');
  console.log('| --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${r.threads} | ${r.error ? `failed: ${r.error}` : f0(r.seqps)} | ${r.error ? '—' : r.msPerStep.toFixed(2)} |`,
    );
  }
  // Other processes on the machine skew every figure (most of all the 2-thread ones): say how busy it was.
  console.log(`\n1-minute load average: ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
  console.log('');
  printSpeedups(rows, 'seqps');
}

if (process.argv[2] === '--worker') {
  await worker(
    /** @type {import('./_common.js').BackendName} */ (process.argv[3]),
    Number(process.argv[4]),
    Number(process.argv[5]),
  );
}
