// Per-step overhead and throughput of a training step (forward, backward, SGD update):
//   - µs per step of a 2-16-16-1 tanh MLP at batch 32 (MSE, SGD): framework overhead dominates;
//   - samples/s of a 784-512-256-10 ReLU MLP at batch 128 (softmax cross-entropy, SGD momentum
//     0.9) with 1 and 2 threads: GEMM-bound.
// native and js backends, and PyTorch (/usr/bin/python3 bench/torch/overhead.py) in the same run.
//
//   npm run build && npm run bench -- overhead [smallSteps=2000] [largeSteps=20]
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { manualSeed, randn, tensor, nn, optim, F, backend } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));

function bestOf(fn, steps, rounds = 5) {
  for (let i = 0; i < Math.max(Math.floor(steps / 10), 3); i++) fn(); // warm-up (JIT, allocator)
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < steps; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9 / steps);
  }
  return best;
}

function smallStep() {
  manualSeed(0);
  const model = new nn.Sequential(new nn.Linear(2, 16), new nn.Tanh(), new nn.Linear(16, 16), new nn.Tanh(), new nn.Linear(16, 1));
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
  const model = new nn.Sequential(new nn.Linear(784, 512), new nn.ReLU(), new nn.Linear(512, 256), new nn.ReLU(), new nn.Linear(256, 10));
  const x = randn([128, 784]);
  const labels = new Int32Array(128).map((_, i) => (i * 7) % 10);
  const y = tensor(Float32Array.from(labels));
  const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
  return () => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
  };
}

function torchRun(threads, smallSteps, largeSteps) {
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch', 'overhead.py'), String(threads), String(smallSteps), String(largeSteps)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const f1 = (x) => (x === undefined ? '—' : x.toFixed(1));
const f0 = (x) => (x === undefined ? '—' : Math.round(x).toLocaleString('en-US'));

export async function main(args = []) {
  const smallSteps = Number(args[0] ?? 2000);
  const largeSteps = Number(args[1] ?? 20);
  // Other processes on the machine distort every figure (2 threads most): say how busy it was.
  const loadBefore = loadavg()[0];
  const names = backend.available();
  const results = {};
  for (const name of names) {
    backend.use(name);
    const res = (results[name] = {});
    for (const threads of [1, 2]) {
      backend.setNumThreads(threads);
      if (threads === 1) res.small = bestOf(smallStep(), name === 'js' ? Math.min(smallSteps, 500) : smallSteps) * 1e6;
      const steps = name === 'js' ? Math.max(2, Math.floor(largeSteps / 10)) : largeSteps;
      res[`large${threads}`] = 128 / bestOf(largeStep(), steps, name === 'js' ? 2 : 3);
    }
  }
  const t1 = torchRun(1, smallSteps, largeSteps);
  const t2 = torchRun(2, Math.floor(smallSteps / 4), largeSteps);
  const torch = t1.error ? undefined : { small: t1.small_us, large1: t1.large_sps, large2: t2.error ? undefined : t2.large_sps };
  if (names.includes('native')) backend.use('native');
  const info = backend.info();
  console.log(`backprop ${names.join('/')} (${JSON.stringify(info)}), ${torch ? `torch ${t1.torch}` : `PyTorch unavailable: ${t1.error}`}`);
  console.log(`load average (1 min) before: ${loadBefore.toFixed(2)}, after: ${loadavg()[0].toFixed(2)}; best of several rounds each`);
  console.log('');
  console.log('| | µs / step, 2-16-16-1 tanh MLP, batch 32 | samples/s, 784-512-256-10 ReLU MLP, batch 128, 1 thread | same, 2 threads |');
  console.log('| --- | --- | --- | --- |');
  for (const name of names) {
    const r = results[name];
    console.log(`| ${name} | ${f1(r.small)} | ${f0(r.large1)} | ${f0(r.large2)} |`);
  }
  if (torch) {
    console.log(`| PyTorch ${t1.torch} | ${f1(torch.small)} | ${f0(torch.large1)} | ${f0(torch.large2)} |`);
    const n = results.native;
    if (n) {
      console.log('');
      console.log(`native / PyTorch: step time ${(n.small / torch.small).toFixed(2)}x, throughput ${(n.large1 / torch.large1).toFixed(2)}x (1 thread), ${torch.large2 ? (n.large2 / torch.large2).toFixed(2) : '—'}x (2 threads)`);
      if (results.js) console.log(`native / js throughput: ${(n.large1 / results.js.large1).toFixed(1)}x (1 thread)`);
    }
  }
}
