// Memory-efficient backpropagation: what activation checkpointing and memory-budgeted BPTT save
// and what they cost, in one run.
//
//   npm run compile && npm run bench -- memory [rounds=3]
//
// 1. tanh MLPs, batch 256: 32 layers of width 1024 and 128 layers of width 512, trained (forward,
//    backward, SGD) plainly, with nn.utils.checkpointSequential in round(√L) segments and in 2.
//    Peak saved bytes (backend.memoryStats(): each buffer the graph keeps counted once, parameters
//    not counted) and samples/s; PyTorch 1.13's checkpoint_sequential on the same MLP beside it
//    (time and peak RSS; torch has no saved-bytes counter on CPU).
// 2. LSTM, input 64, hidden 256, batch 32, length 1000, loss on the final h and c: full BPTT and
//    { memoryBudget } of 50%, 10% and 5% of full BPTT's peak saved bytes.
// Every configuration runs in its own process (so its peak RSS, process.resourceUsage().maxRSS,
// is its own), one after the other in rounds (A B C, A B C, ...): time ratios are the median of
// the per-round ratios to the plain run of the same round. Byte counts are exact and the same in
// every round; times are not (the machine may be shared: the load average is printed).
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { machineLine, runWorker as run } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;

/**
 * One training step's peak saved bytes, and the best time of `steps` steps after a warm-up.
 * @param {Record<string, string>} args
 */
async function worker(args) {
  const lib = await import('../dist/index.js');
  const { manualSeed, randn, nn, optim, backend } = lib;
  backend.use('native');
  backend.setNumThreads(Number(args.threads));
  manualSeed(0);
  const steps = Number(args.steps);
  let params;
  let forwardLoss;
  if (args.kind === 'mlp') {
    const L = Number(args.layers);
    const W = Number(args.width);
    const model = new nn.Sequential();
    for (let i = 0; i < L; i++) model.append(new nn.Linear(W, W)).append(new nn.Tanh());
    const x = randn([Number(args.batch), W]);
    const segments = Number(args.segments);
    params = model.parameters();
    forwardLoss = () => {
      const out = segments > 0 ? nn.utils.checkpointSequential(model, segments, x) : model.call(x);
      return out.pow(2).mean();
    };
  } else {
    const budget = Number(args.budget);
    const lstm = new nn.LSTM(Number(args.input), Number(args.hidden), budget > 0 ? { memoryBudget: budget } : {});
    const x = randn([Number(args.length), Number(args.batch), Number(args.input)]);
    params = lstm.parameters();
    // A sequence-level loss on the final state (as a sequence classifier's): the output sequence
    // is not kept by the loss, so what the recurrence keeps is what is measured.
    forwardLoss = () => {
      const [, [h, c]] = lstm.forward(x);
      return h.pow(2).mean().add(c.pow(2).mean());
    };
  }
  const opt = new optim.SGD(params, { lr: 1e-3 });
  const step = () => {
    opt.zeroGrad();
    forwardLoss().backward();
    opt.step();
  };
  step(); // warm-up (and the memoryBudget policy's dynamic program, memoised)
  backend.resetPeakMemoryStats();
  const base = backend.memoryStats().savedBytes;
  let best = Infinity;
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    step();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const stats = backend.memoryStats();
  console.log(
    JSON.stringify({
      msPerStep: best * 1e3,
      peakSavedBytes: stats.peakSavedBytes - base,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
    }),
  );
}

const median = (/** @type {number[]} */ xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (/** @type {number} */ b) => (b / MiB).toFixed(1);

/**
 * Runs configs in rounds; returns per config: results of every round.
 * @param {{ label: string, run: () => import('./_common.js').WorkerResult }[]} configs
 * @param {number} n
 * @returns {import('./_common.js').WorkerResult[][]}
 */
function rounds(configs, n) {
  /** @type {import('./_common.js').WorkerResult[][]} */
  const out = configs.map(() => []);
  for (let r = 0; r < n; r++) {
    configs.forEach((c, i) => out[i].push(c.run()));
  }
  return out;
}

const nodeWorker = (/** @type {Record<string, string | number>} */ args) => () =>
  run(process.execPath, [self, '--worker', ...Object.entries(args).map(([k, v]) => `${k}=${v}`)]);

/** @param {string[]} [argv] */
export async function main(argv = []) {
  const n = Number(argv[0] ?? 3);
  const threads = 2;
  console.log(machineLine());
  const loadBefore = loadavg()[0];

  // --- MLPs ---------------------------------------------------------------------------------
  for (const [L, W] of [
    [32, 1024],
    [128, 512],
  ]) {
    const B = 256;
    const sqrt = Math.round(Math.sqrt(L));
    const segs = [0, sqrt, 2];
    const configs = [];
    for (const s of segs) {
      configs.push({
        label: s === 0 ? 'backprop, plain' : `backprop, ${s} segments`,
        run: nodeWorker({ kind: 'mlp', layers: L, width: W, batch: B, segments: s, steps: 2, threads }),
      });
    }
    for (const s of segs) {
      const torchArgs = [
        join(here, 'torch', 'memory.py'),
        String(L),
        String(W),
        String(B),
        String(s),
        '2',
        String(threads),
      ];
      configs.push({
        label: s === 0 ? 'PyTorch, plain' : `PyTorch, checkpoint_sequential ${s}`,
        run: () => run('/usr/bin/python3', torchArgs),
      });
    }
    const res = rounds(configs, n);
    console.log('');
    console.log(
      `tanh MLP, ${L} layers of width ${W}, batch ${B}, forward + backward + SGD, ${threads} threads (${n} rounds)`,
    );
    console.log('');
    console.log(
      '| | peak saved MiB | share of plain | samples/s (best) | time / plain (median of rounds) | peak RSS MiB |',
    );
    console.log('| --- | --- | --- | --- | --- | --- |');
    for (const [base, from, to] of [
      [0, 0, 3],
      [3, 3, 6],
    ]) {
      const plain = res[base];
      for (let i = from; i < to; i++) {
        const rs = res[i];
        const ok = rs.filter((r) => !r.error);
        if (ok.length === 0) {
          console.log(`| ${configs[i].label} | failed: ${rs[0].error} | | | | |`);
          continue;
        }
        const saved = ok[0].peakSavedBytes;
        const plainSaved = plain.find((r) => !r.error)?.peakSavedBytes;
        const ratio = median(
          rs
            .map((r, k) => (r.error || plain[k].error ? NaN : r.msPerStep / plain[k].msPerStep))
            .filter((v) => !Number.isNaN(v)),
        );
        const best = Math.min(...ok.map((r) => r.msPerStep));
        console.log(
          `| ${configs[i].label} | ${saved === undefined ? '—' : mib(saved)} | ${saved === undefined || !plainSaved ? '—' : `${((100 * saved) / plainSaved).toFixed(1)}%`} | ${Math.round((B * 1000) / best).toLocaleString('en-US')} | ${ratio.toFixed(2)}x | ${mib(Math.max(...ok.map((r) => r.maxRssBytes)))} |`,
        );
      }
    }
  }

  // --- LSTM ---------------------------------------------------------------------------------
  const lstmArgs = { kind: 'lstm', input: 64, hidden: 256, batch: 32, length: 1000, steps: 2, threads };
  const full = nodeWorker({ ...lstmArgs, budget: 0 })();
  if (full.error) {
    console.log(`\nLSTM: full BPTT failed: ${full.error}`);
  } else {
    const fractions = [0.5, 0.1, 0.05];
    const configs = [{ label: 'full BPTT', run: nodeWorker({ ...lstmArgs, budget: 0 }) }];
    for (const f of fractions) {
      const budget = Math.floor(full.peakSavedBytes * f);
      configs.push({
        label: `memoryBudget ${f * 100}% (${mib(budget)} MiB)`,
        run: nodeWorker({ ...lstmArgs, budget }),
      });
    }
    const res = rounds(configs, n);
    console.log('');
    console.log(
      `LSTM, input 64, hidden 256, batch 32, length 1000, loss on h_n and c_n, SGD, ${threads} threads (${n} rounds)`,
    );
    console.log('');
    console.log(
      '| | peak saved MiB | share of full | ms per step (best) | time / full (median of rounds) | peak RSS MiB |',
    );
    console.log('| --- | --- | --- | --- | --- | --- |');
    res.forEach((rs, i) => {
      const ok = rs.filter((r) => !r.error);
      if (ok.length === 0) {
        console.log(`| ${configs[i].label} | failed: ${rs[0].error} | | | | |`);
        return;
      }
      const ratio = median(
        rs
          .map((r, k) => (r.error || res[0][k].error ? NaN : r.msPerStep / res[0][k].msPerStep))
          .filter((v) => !Number.isNaN(v)),
      );
      console.log(
        `| ${configs[i].label} | ${mib(ok[0].peakSavedBytes)} | ${((100 * ok[0].peakSavedBytes) / full.peakSavedBytes).toFixed(1)}% | ${Math.min(...ok.map((r) => r.msPerStep)).toFixed(0)} | ${ratio.toFixed(2)}x | ${mib(Math.max(...ok.map((r) => r.maxRssBytes)))} |`,
      );
    });
  }
  console.log(
    `\n1-minute load average: ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after (the machine is shared: times are noisy, byte counts are exact)`,
  );
}

if (process.argv[2] === '--worker') {
  await worker(Object.fromEntries(process.argv.slice(3).map((a) => a.split('='))));
}
