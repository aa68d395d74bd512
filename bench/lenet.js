// Training throughput of LeNet-5 (conv 5x5 6 pad 2, ReLU, max-pool 2, conv 5x5 16, ReLU,
// max-pool 2, fc 120, ReLU, fc 84, ReLU, fc 10) at batch 64 on 1x28x28 inputs, cross-entropy,
// SGD with momentum 0.9: samples/s of the native and js backends with 1 and 2 threads, and of
// PyTorch (/usr/bin/python3 bench/torch/lenet.py) in the same run; peak RSS of each run. Every
// configuration runs in its own process, so each peak RSS is its own; native and PyTorch run
// 3 alternating rounds each and report their best.
//
//   npm run compile && npm run bench -- lenet [steps=50]
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { f0, machineLine, printSpeedups, runWorker as run } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);

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
  const model = new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(400, 120),
    new nn.ReLU(),
    new nn.Linear(120, 84),
    new nn.ReLU(),
    new nn.Linear(84, 10),
  );
  const x = randn([64, 1, 28, 28]);
  const y = tensor(Float32Array.from({ length: 64 }, (_, i) => (i * 7) % 10));
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  const step = () => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
  };
  for (let i = 0; i < Math.max(Math.floor(steps / 10), 3); i++) step(); // warm-up
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) step();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9 / steps);
  }
  const info = backend.info();
  console.log(JSON.stringify({ sps: 64 / best, peakRssMb: process.resourceUsage().maxRSS / 1024, info }));
}

/**
 * The faster of two runs (a failed run only when both failed).
 * @type {(a: import('./_common.js').WorkerResult | null, b: import('./_common.js').WorkerResult) => import('./_common.js').WorkerResult}
 */
const better = (a, b) => (!a || a.error ? b : b.error ? a : b.sps > a.sps ? b : a);

/** @param {string[]} [args] */
export async function main(args = []) {
  const steps = Number(args[0] ?? 50);
  console.log(machineLine());
  const loadBefore = loadavg()[0];
  /** @type {import('./_common.js').WorkerResult[]} */
  const rows = [];
  // Native and PyTorch alternate, round by round, and each keeps its best round, so that a
  // burst of load from other processes does not land on one side only.
  const rounds = 3;
  for (const threads of [1, 2]) {
    /** @type {import('./_common.js').WorkerResult | null} */
    let native = null;
    /** @type {import('./_common.js').WorkerResult | null} */
    let torch = null;
    for (let r = 0; r < rounds; r++) {
      native = better(native, run(process.execPath, [self, '--worker', 'native', String(threads), String(steps)]));
      torch = better(torch, run('/usr/bin/python3', [join(here, 'torch', 'lenet.py'), String(threads), String(steps)]));
    }
    rows.push({ label: 'native', threads, ...native });
    const j = run(process.execPath, [
      self,
      '--worker',
      'js',
      String(threads),
      String(Math.max(2, Math.floor(steps / 25))),
    ]);
    rows.push({ label: 'js', threads, ...j });
    const t = /** @type {import('./_common.js').WorkerResult} */ (torch); // set: rounds >= 1
    rows.push({ label: t.torch ? `PyTorch ${t.torch}` : 'PyTorch', threads, ...t, peakRssMb: t.peak_rss_mb });
  }
  const native = rows.find((r) => r.label === 'native' && r.threads === 1 && !r.error);
  if (native) console.log(`backend info: ${JSON.stringify(native.info)}`);
  console.log('');
  // Other processes on a shared machine skew every figure (PyTorch's threads spin-wait the most).
  console.log(
    `LeNet-5 training, batch 64, 1x28x28, SGD momentum 0.9; 1-minute load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after the run`,
  );
  console.log('');
  console.log('| | threads | samples/s | peak RSS (MB) |');
  console.log('| --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(
      `| ${r.label} | ${r.threads} | ${r.error ? `failed: ${r.error}` : f0(r.sps)} | ${r.error ? '—' : f0(r.peakRssMb)} |`,
    );
  }
  console.log('');
  printSpeedups(rows, 'sps');
}

if (process.argv[2] === '--worker') {
  await worker(
    /** @type {import('./_common.js').BackendName} */ (process.argv[3]),
    Number(process.argv[4]),
    Number(process.argv[5]),
  );
}
