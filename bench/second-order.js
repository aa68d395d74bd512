// Second-order methods: what curvature products cost, and what Hessian-free buys.
//
// Part 1 (cost): seconds per call of one gradient, hvp, vjp, jvp and gnvp on the
// 784-512-256-10 tanh MLP (batch 64, float32, cross-entropy; the products are with respect to
// all 535,818 parameters), as a ratio to one gradient, for backprop (native backend) and for
// PyTorch 1.13's torch.autograd.functional (bench/torch/second_order.py) in the same run: 5
// alternating rounds of 8 calls each, best time per op. Both on 1 thread.
//
// Part 2 (optimisation): three full-batch problems, each optimizer from the same initial
// weights: SGD with momentum, Adam, LBFGS (strong Wolfe, one iteration per step), NewtonCG with
// the Hessian and with the Gauss-Newton curvature. Reported: the loss after equal wall time,
// after an equal number of iterations (full batch: one iteration = one epoch for SGD and Adam;
// an LBFGS or NewtonCG iteration costs several passes), and the iterations and seconds to reach
// a target loss. The loss is evaluated after every iteration with the clock stopped.
//   - regression: least-squares MLP 4-32-32-1 tanh on 256 points of a smooth function, float64;
//   - autoencoder: Fashion-MNIST 784-500-250-30-250-500-784 (logistic units, linear code layer,
//     logistic output with cross-entropy reconstruction, as Martens 2010's), float32, on the
//     first N training images (default 500; Martens used all 60,000 with mini-batches);
//   - xor: the 2-2-1 sigmoid net with squared error of Rumelhart, Hinton and Williams 1986, float64.
//
//   npm run compile && npm run bench -- second-order [all|cost|optim|xor|regression|autoencoder] [aeImages=500] [aeSeconds=40]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { machineLine, table } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.BACKPROP_PYTHON || '/usr/bin/python3';
const lib = await import('../dist/index.js');
const { backend, manualSeed, randn, rand, tensor, zeros, nn, optim, F, hvp, vjp, jvp, gnvp, noGrad, grad } = lib;

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** @typedef {import('../dist/index.js').Tensor} Tensor */
/** @typedef {import('../dist/nn/index.js').Module} Module */
/** @typedef {{ t: number, it: number, loss: number }} Point */
/** @typedef {{ seconds: number, iters: number, target: number, sgd: number, adam: number, damping: number, maxCgIter: number }} Config */
/** @typedef {Record<string, number>} Times */

function torchAvailable() {
  return spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

// ---------------------------------------------------------------------------------------------
// Part 1: cost of curvature products relative to one gradient

/** @param {number} reps @returns {Times} */
function costBackprop(reps) {
  manualSeed(0);
  const sizes = [784, 512, 256, 10];
  /** @type {Tensor[]} */
  const params = [];
  for (let i = 0; i < 3; i++) {
    params.push(randn([sizes[i + 1], sizes[i]]).mul(Math.sqrt(1 / sizes[i])), zeros([sizes[i + 1]]));
  }
  const x = rand([64, 784]);
  const y = Array.from({ length: 64 }, (_, i) => i % 10);
  const v = params.map((p) => randn([...p.shape]));
  const u = randn([64, 10]);
  const logits = (/** @type {Tensor[]} */ ...ps) => {
    let h = x;
    for (let i = 0; i < 3; i++) {
      h = F.linear(h, ps[2 * i], ps[2 * i + 1]);
      if (i < 2) h = h.tanh();
    }
    return h;
  };
  const loss = (/** @type {Tensor[]} */ ...ps) => F.crossEntropy(logits(...ps), y);
  const leaves = params.map((p) => p.detach().requiresGrad_(true));
  const model = (/** @type {Tensor} */ inp) => {
    let h = inp;
    for (let i = 0; i < 3; i++) {
      h = F.linear(h, leaves[2 * i], leaves[2 * i + 1]);
      if (i < 2) h = h.tanh();
    }
    return h;
  };
  const ops = {
    grad: () => {
      const ps = params.map((p) => p.detach().requiresGrad_(true));
      return grad(loss(...ps), ps);
    },
    hvp: () => hvp(loss, params, v),
    vjp: () => vjp(logits, params, u),
    jvp: () => jvp(logits, params, v),
    gnvp: () => gnvp(model, (o, t) => F.crossEntropy(o, t), x, y, v, { params: leaves }),
  };
  /** @type {Times} */
  const best = {};
  for (const fn of Object.values(ops)) fn();
  for (let r = 0; r < reps; r++) {
    for (const [name, fn] of Object.entries(ops)) {
      const t0 = now();
      fn();
      best[name] = Math.min(best[name] ?? Infinity, now() - t0);
    }
  }
  return best;
}

/** @param {number} reps @returns {Times} */
function costTorch(reps) {
  const r = spawnSync(PYTHON, [join(here, 'torch', 'second_order.py'), '1', String(reps)], {
    encoding: 'utf8',
    cwd: join(here, 'torch'),
  });
  if (r.status !== 0) throw new Error(`bench/torch/second_order.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function costPart() {
  backend.use('native');
  backend.setNumThreads(1);
  const withTorch = torchAvailable();
  /** @type {Times} */
  const ours = {};
  /** @type {Times} */
  const theirs = {};
  const keep = (/** @type {Times} */ acc, /** @type {Times} */ got) => {
    for (const [k, t] of Object.entries(got)) acc[k] = Math.min(acc[k] ?? Infinity, t);
  };
  for (let round = 0; round < 5; round++) {
    keep(ours, costBackprop(8));
    if (withTorch) keep(theirs, costTorch(8));
  }
  const rows = Object.keys(ours).map((k) => [
    k,
    (ours[k] * 1e3).toFixed(1),
    (ours[k] / ours.grad).toFixed(2),
    withTorch ? (theirs[k] * 1e3).toFixed(1) : '—',
    withTorch ? (theirs[k] / theirs.grad).toFixed(2) : '—',
    withTorch ? (ours[k] / theirs[k]).toFixed(2) : '—',
  ]);
  console.log('\n## Cost of curvature products, 784-512-256-10 tanh MLP, batch 64, float32, 1 thread\n');
  console.log(
    table(['op', 'backprop ms', 'backprop ÷ grad', 'PyTorch ms', 'PyTorch ÷ grad', 'backprop ÷ PyTorch'], rows),
  );
  if (!withTorch) console.log(`\n(PyTorch not found at ${PYTHON}: its columns are empty)`);
}

// ---------------------------------------------------------------------------------------------
// Part 2: optimisation

/** A function returning fresh models with the weights `build()` gave the first time, one per optimizer. */
const copier = (/** @type {() => Module} */ build) => {
  const weights = Object.fromEntries(Object.entries(build().stateDict()).map(([k, t]) => [k, t.clone()]));
  return () => {
    const m = build();
    m.loadStateDict(weights);
    return m;
  };
};

/** An optimizer of `kind` over the model's parameters and its one-iteration step. */
/**
 * @param {string} kind @param {Module} model @param {() => Tensor} output @param {(o: Tensor) => Tensor} lossOf
 * @param {Config} cfg @returns {() => unknown}
 */
function makeStepper(kind, model, output, lossOf, { sgd, adam, damping, maxCgIter }) {
  const params = [...model.parameters()];
  let opt;
  if (kind === 'SGD+momentum') opt = new optim.SGD(params, { lr: sgd, momentum: 0.9 });
  else if (kind === 'Adam') opt = new optim.Adam(params, { lr: adam });
  else if (kind === 'LBFGS')
    opt = new optim.LBFGS(params, { lr: 1, maxIter: 1, historySize: 20, lineSearchFn: 'strong_wolfe' });
  else
    opt = new optim.NewtonCG(params, {
      curvature: kind === 'NewtonCG (H)' ? 'hessian' : 'gaussNewton',
      damping,
      maxCgIter,
    });
  const gradClosure = () => {
    opt.zeroGrad();
    const l = lossOf(output());
    l.backward();
    return l;
  };
  const hfClosure = () => ({ output: output(), loss: lossOf });
  if (opt instanceof optim.NewtonCG) return () => opt.step(hfClosure);
  if (opt instanceof optim.LBFGS) return () => opt.step(gradClosure);
  return () => {
    gradClosure();
    opt.step();
  };
}

/**
 * Runs every optimizer from the same initial weights, round-robin (one iteration each per round,
 * so that the load of a shared machine falls on all of them alike), until each has had `seconds`
 * of its own time and `iters` iterations (at most 4× the seconds). The loss is evaluated after
 * every iteration with that optimizer's clock stopped. Returns the traces [{ t, it, loss }].
 */
/**
 * @param {() => Module} makeModel @param {(m: Module) => Tensor} forward @param {(o: Tensor) => Tensor} lossOf
 * @param {Config} cfg @returns {Record<string, Point[]>}
 */
function race(makeModel, forward, lossOf, cfg) {
  const runs = KINDS.map((kind) => {
    const model = makeModel();
    const output = () => forward(model);
    const evalLoss = () => noGrad(() => lossOf(output()).item());
    return {
      kind,
      step: makeStepper(kind, model, output, lossOf, cfg),
      evalLoss,
      t: 0,
      it: 0,
      trace: [{ t: 0, it: 0, loss: evalLoss() }],
    };
  });
  const going = (/** @type {(typeof runs)[number]} */ r) =>
    (r.t < cfg.seconds || r.it < cfg.iters) &&
    r.t < 4 * cfg.seconds &&
    Number.isFinite(r.trace[r.trace.length - 1].loss);
  while (runs.some(going)) {
    for (const r of runs) {
      if (!going(r)) continue;
      const t0 = now();
      r.step();
      r.t += now() - t0;
      r.it++;
      r.trace.push({ t: r.t, it: r.it, loss: r.evalLoss() });
    }
  }
  return Object.fromEntries(runs.map((r) => [r.kind, r.trace]));
}

const KINDS = ['SGD+momentum', 'Adam', 'LBFGS', 'NewtonCG (H)', 'NewtonCG (GN)'];

/** @param {string} title @param {Record<string, Point[]>} traces @param {Config} cfg */
function report(title, traces, { seconds, iters, target }) {
  const at = (/** @type {Point[]} */ trace, /** @type {(e: Point) => boolean} */ pred) => {
    let last = trace[0];
    for (const e of trace) if (pred(e)) last = e;
    return last;
  };
  const rows = KINDS.map((k) => {
    const tr = traces[k];
    const byTime = at(tr, (e) => e.t <= seconds);
    const byIt = tr.find((e) => e.it === iters);
    const hit = tr.find((e) => e.loss <= target);
    const fmtLoss = (/** @type {number | undefined} */ x) => (x === undefined ? '—' : x.toExponential(3));
    return [
      k,
      fmtLoss(byTime.loss),
      byIt ? fmtLoss(byIt.loss) : `— (${tr[tr.length - 1].it} done)`,
      hit ? String(hit.it) : 'not reached',
      hit ? hit.t.toFixed(2) : '—',
      String(tr[tr.length - 1].it),
      `${fmtLoss(tr[tr.length - 1].loss)} (${tr[tr.length - 1].t.toFixed(1)} s)`,
    ];
  });
  console.log(`\n## ${title}\n`);
  console.log(
    table(
      [
        'optimizer',
        `loss after ${seconds} s`,
        `loss after ${iters} iterations`,
        `iterations to ${target}`,
        'seconds to target',
        'iterations run',
        'last loss (own seconds)',
      ],
      rows,
    ),
  );
}

function regression() {
  backend.use('native');
  manualSeed(1);
  const N = 256;
  const X = randn([N, 4], { dtype: 'float64' });
  const xs = /** @type {number[][]} */ (X.toArray());
  const Y = tensor(
    xs.map((r) => [Math.sin(r[0]) + 0.5 * Math.cos(2 * r[1]) * r[2] - 0.3 * r[3] * r[0]]),
    { dtype: 'float64' },
  );
  const model = () =>
    new nn.Sequential(
      new nn.Linear(4, 32),
      new nn.Tanh(),
      new nn.Linear(32, 32),
      new nn.Tanh(),
      new nn.Linear(32, 1),
    ).to('float64');
  const cfg = { seconds: 8, iters: 100, target: 1e-3, sgd: 0.05, adam: 1e-2, damping: 1, maxCgIter: 100 };
  const traces = race(
    copier(model),
    (m) => /** @type {Tensor} */ (m.forward(X)),
    (o) => F.mseLoss(o, Y),
    cfg,
  );
  report('Least-squares MLP regression 4-32-32-1 tanh, 256 points, full batch, float64', traces, cfg);
}

/** @param {number} images @param {number} seconds */
function autoencoder(images, seconds) {
  backend.use('native');
  const dir = '/usr/share/datasets/fashion-mnist';
  const split = existsSync(dir) ? lib.data.loadMnist(dir) : lib.data.loadMnist();
  const X = split.images.narrow(0, 0, images).reshape([images, 784]).clone();
  manualSeed(2);
  const sizes = [784, 500, 250, 30, 250, 500, 784];
  const model = () => {
    const layers = [];
    for (let i = 0; i < sizes.length - 1; i++) {
      layers.push(new nn.Linear(sizes[i], sizes[i + 1]));
      // logistic units everywhere except the code layer (linear) and the output (logits here)
      if (i !== 2 && i !== sizes.length - 2) layers.push(new nn.Sigmoid());
    }
    return new nn.Sequential(...layers);
  };
  const cfg = { seconds, iters: 15, target: 0.4, sgd: 0.5, adam: 1e-3, damping: 0.01, maxCgIter: 50 };
  const traces = race(
    copier(model),
    (m) => /** @type {Tensor} */ (m.forward(X)),
    (o) => F.bceWithLogits(o, X),
    cfg,
  );
  report(
    `Fashion-MNIST deep autoencoder 784-500-250-30-250-500-784, first ${images} training images, full batch, float32 (mean cross-entropy per pixel)`,
    traces,
    cfg,
  );
}

function xor() {
  backend.use('native');
  const X = tensor(
    [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ],
    { dtype: 'float64' },
  );
  const Y = tensor([[0], [1], [1], [0]], { dtype: 'float64' });
  manualSeed(3);
  const model = () =>
    new nn.Sequential(new nn.Linear(2, 2), new nn.Sigmoid(), new nn.Linear(2, 1), new nn.Sigmoid()).to('float64');
  const cfg = { seconds: 3, iters: 200, target: 1e-2, sgd: 0.5, adam: 0.05, damping: 1, maxCgIter: 20 };
  const traces = race(
    copier(model),
    (m) => /** @type {Tensor} */ (m.forward(X)),
    (o) => F.mseLoss(o, Y),
    cfg,
  );
  report('XOR, 2-2-1 sigmoid net, squared error (mean over 4 patterns), float64', traces, cfg);
}

/** @param {number} aeImages @param {number} aeSeconds */
function optimPart(aeImages, aeSeconds) {
  backend.setNumThreads(1);
  xor();
  regression();
  autoencoder(aeImages, aeSeconds);
}

/** @param {string[]} [args] */
export async function main(args = []) {
  const part = args[0] ?? 'all';
  const aeImages = Number(args[1] ?? 500);
  const aeSeconds = Number(args[2] ?? 40);
  console.log(machineLine());
  console.log(
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} (shared machine: other jobs may run)`,
  );
  if (part === 'cost' || part === 'all') costPart();
  if (part === 'optim' || part === 'all') optimPart(aeImages, aeSeconds);
  if (part === 'xor') xor();
  if (part === 'regression') regression();
  if (part === 'autoencoder') autoencoder(aeImages, aeSeconds);
}
