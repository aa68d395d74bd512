// Sparse backpropagation (SparseProp): SparseLinear / SparseConv2d against our dense layers and
// PyTorch (dense, and torch.sparse.mm for the linear layer) in the same run, then end-to-end
// gradual magnitude pruning on Fashion-MNIST.
//
//  1. SparseProp's layer setting: Linear 512->256, batch 128, densities 20/10/5/2/1%: median
//     forward, backward and total ms. Ours and PyTorch alternate in rounds (PyTorch in a child
//     process per round), and within a round our dense and sparse layers alternate rep by rep,
//     so machine load hits both sides alike; the table gives ratios.
//  2. Conv 64->64, 3x3, padding 1, 32x32, batch 32, same densities: our dense conv, the sparse
//     one in both layouts and as chosen ('auto'), PyTorch's dense conv.
//  3. The 784-512-256-10 MLP on Fashion-MNIST (SGD, momentum 0.9, batch 128): dense for E
//     epochs, and pruned gradually (Zhu-Gupta cubic) to 95% over the first E-2 epochs, then
//     swapped to sparse layers by nn.utils.sparsify (SparseProp's rule): epoch times and test
//     accuracy.
//
//   npm run compile && npm run bench -- sparse [epochs=5] [rounds=3] [--no-e2e] [--no-conv] [--no-layers] [--threads=N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { fmt, machineLine, table } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const DENSITIES = [0.2, 0.1, 0.05, 0.02, 0.01];
const PYTHON = process.env.BACKPROP_PYTHON || '/usr/bin/python3';
const FASHION = process.env.FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist';

/** @param {number[]} xs */
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * @param {typeof import('../dist/index.js')} bp
 * @param {number[]} shape
 * @param {number} density
 */
function maskedWeight(bp, shape, density) {
  const w = bp.randn(shape);
  const u = bp.rand(shape);
  for (let i = 0; i < w.size; i++) if (u.data[i] >= density) w.data[i] = 0;
  return w;
}

/**
 * One forward + backward of `layer` on x: [forward ms, backward ms].
 * @param {any} layer
 * @param {any} x
 * @param {any} gy
 */
function fwdBwd(layer, x, gy) {
  const t0 = performance.now();
  const y = layer.forward(x);
  const t1 = performance.now();
  y.backward(gy);
  const t2 = performance.now();
  for (const p of layer.parameters()) p.grad = null;
  x.grad = null;
  return [t1 - t0, t2 - t1];
}

/**
 * Interleaved medians: each rep runs every layer once, in order.
 * @param {Record<string, any>} layers
 * @param {any} x
 * @param {any} gy
 * @param {number} reps
 */
function measure(layers, x, gy, reps) {
  /** @type {Record<string, number[][]>} */
  const runs = {};
  for (const [k, l] of Object.entries(layers)) {
    fwdBwd(l, x, gy); // warm-up: workspace growth, first-call costs
    runs[k] = [];
  }
  for (let r = 0; r < reps; r++) for (const [k, l] of Object.entries(layers)) runs[k].push(fwdBwd(l, x, gy));
  /** @type {Record<string, { fwd: number, bwd: number }>} */
  const out = {};
  for (const [k, rs] of Object.entries(runs))
    out[k] = { fwd: median(rs.map((r) => r[0])), bwd: median(rs.map((r) => r[1])) };
  return out;
}

/** @param {number} threads @param {number} reps @param {boolean} conv */
function torchRound(threads, reps, conv) {
  const r = spawnSync(
    PYTHON,
    [join(here, 'torch', 'sparse.py'), String(threads), String(reps), conv ? '1' : '0', ...DENSITIES.map(String)],
    {
      encoding: 'utf8',
      cwd: join(here, 'torch'),
    },
  );
  if (r.status !== 0) return { error: (r.stderr || r.error?.message || 'failed').trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
}

/** Median over rounds of {fwd, bwd} records. @param {{ fwd: number, bwd: number }[]} rs */
const medianRec = (rs) => ({ fwd: median(rs.map((r) => r.fwd)), bwd: median(rs.map((r) => r.bwd)) });
/** @param {{ fwd: number, bwd: number } | undefined} r */
const total = (r) => (r ? r.fwd + r.bwd : NaN);

/** @param {typeof import('../dist/index.js')} bp @param {number} rounds @param {boolean} withConv @param {boolean} torch */
function layerTables(bp, rounds, withConv, torch) {
  const { nn } = bp;
  const threads = bp.backend.info().threads;
  /** @type {Record<string, Record<string, { fwd: number, bwd: number }[]>>} */
  const lin = {};
  /** @type {Record<string, Record<string, { fwd: number, bwd: number }[]>>} */
  const cnv = {};
  const push = (/** @type {any} */ store, /** @type {string} */ d, /** @type {string} */ k, /** @type {any} */ v) => {
    store[d] ??= {};
    (store[d][k] ??= []).push(v);
  };
  bp.manualSeed(0);
  const x = bp.randn([128, 512], { requiresGrad: true });
  const gy = bp.ones([128, 256]);
  const xc = bp.randn([32, 64, 32, 32], { requiresGrad: true });
  const gyc = bp.ones([32, 64, 32, 32]);
  let torchError = '';
  for (let round = 0; round < rounds; round++) {
    for (const d of DENSITIES) {
      const dense = new nn.Linear(512, 256);
      dense.weight.data.set(maskedWeight(bp, [256, 512], d).data);
      const sparse = nn.SparseLinear.fromDense(dense);
      const m = measure({ dense, sparse }, x, gy, 20);
      push(lin, String(d), 'dense', m.dense);
      push(lin, String(d), 'sparse', m.sparse);
      if (withConv) {
        const conv = new nn.Conv2d(64, 64, 3, { padding: 1 });
        conv.weight.data.set(maskedWeight(bp, [64, 64, 3, 3], d).data);
        const layers = {
          dense: conv,
          auto: nn.SparseConv2d.fromDense(conv),
          batch: nn.SparseConv2d.fromDense(conv, { layout: 'batch' }),
          width: nn.SparseConv2d.fromDense(conv, { layout: 'width' }),
        };
        const mc = measure(layers, xc, gyc, 2);
        for (const [k, v] of Object.entries(mc)) push(cnv, String(d), k, v);
      }
    }
    if (torch) {
      const t = torchRound(threads, withConv ? 5 : 20, withConv);
      if (t.error) torchError = t.error;
      else
        for (const d of DENSITIES) {
          const tl = t.linear[String(d)];
          push(lin, String(d), 'torch', tl.dense);
          push(lin, String(d), 'torchSparse', tl.sparse_mm);
          if (withConv) push(cnv, String(d), 'torch', t.conv[String(d)].dense);
        }
    }
  }
  if (torchError) console.log(`PyTorch failed: ${torchError}`);
  console.log(`\n### Linear 512->256, batch 128, float32, ${threads} threads (median ms; ${rounds} rounds)\n`);
  const rows = DENSITIES.map((d) => {
    const r = lin[String(d)];
    const [de, sp, to, ts] = ['dense', 'sparse', 'torch', 'torchSparse'].map((k) =>
      r[k] ? medianRec(r[k]) : undefined,
    );
    return [
      `${d * 100}%`,
      `${fmt(de?.fwd, 3)} / ${fmt(de?.bwd, 3)} / ${fmt(total(de), 3)}`,
      `${fmt(sp?.fwd, 3)} / ${fmt(sp?.bwd, 3)} / ${fmt(total(sp), 3)}`,
      `${fmt(total(de) / total(sp), 2)}x`,
      `${fmt(to?.fwd, 3)} / ${fmt(to?.bwd, 3)} / ${fmt(total(to), 3)}`,
      `${fmt(ts?.fwd, 3)} / ${fmt(ts?.bwd, 3)} / ${fmt(total(ts), 3)}`,
      `${fmt(total(to) / total(sp), 2)}x`,
      `${fmt(total(ts) / total(sp), 2)}x`,
    ];
  });
  console.log(
    table(
      [
        'density',
        'our dense fwd/bwd/total',
        'SparseLinear fwd/bwd/total',
        'dense/sparse',
        'PyTorch dense',
        'torch.sparse.mm',
        'PyTorch dense/ours sparse',
        'torch.sparse/ours sparse',
      ],
      rows,
    ),
  );
  if (withConv) {
    console.log(
      `\n### Conv 64->64 3x3 pad 1, 32x32, batch 32, float32, ${threads} threads (median total fwd+bwd ms)\n`,
    );
    const crow = DENSITIES.map((d) => {
      const r = cnv[String(d)];
      const t = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, total(medianRec(v))]));
      return [
        `${d * 100}%`,
        fmt(t.dense, 1),
        fmt(t.batch, 1),
        fmt(t.width, 1),
        fmt(t.auto, 1),
        `${fmt(t.dense / t.auto, 2)}x`,
        fmt(t.torch, 1),
        `${fmt(t.torch / t.auto, 2)}x`,
      ];
    });
    console.log(
      table(
        [
          'density',
          'our dense',
          'sparse batch layout',
          'sparse width layout',
          'sparse auto',
          'dense/auto',
          'PyTorch dense',
          'PyTorch/auto',
        ],
        crow,
      ),
    );
  }
}

/** @param {typeof import('../dist/index.js')} bp @param {number} epochs */
async function endToEnd(bp, epochs) {
  const { nn, optim, F, data, fit, noGrad } = bp;
  if (!existsSync(FASHION)) {
    console.log(`\nEnd to end skipped: no Fashion-MNIST at ${FASHION} (Debian package dataset-fashion-mnist)`);
    return;
  }
  const train = data.loadMnist(FASHION, { split: 'train' });
  const test = data.loadMnist(FASHION, { split: 'test' });
  const flat = (/** @type {any} */ t) => t.reshape([t.shape[0], 784]);
  const xTrain = flat(train.images);
  const xTest = flat(test.images);
  const batch = 128;
  const steps = Math.ceil(xTrain.shape[0] / batch);
  const accuracy = (/** @type {any} */ model) =>
    noGrad(() => {
      let ok = 0;
      for (let i = 0; i < xTest.shape[0]; i += 1000) {
        const n = Math.min(1000, xTest.shape[0] - i);
        const pred = model.forward(xTest.narrow(0, i, n)).argmax(1);
        for (let j = 0; j < n; j++) if (pred.data[j] === test.labels.data[i + j]) ok++;
      }
      return ok / xTest.shape[0];
    });
  /** @param {boolean} sparse */
  const runOne = async (sparse) => {
    bp.manualSeed(1);
    const model = new nn.Sequential(
      new nn.Linear(784, 512),
      new nn.ReLU(),
      new nn.Linear(512, 256),
      new nn.ReLU(),
      new nn.Linear(256, 10),
    );
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const loader = new data.DataLoader(new data.TensorDataset(xTrain, train.labels), {
      batchSize: batch,
      shuffle: true,
    });
    const gmp = sparse
      ? new nn.utils.GradualMagnitudePruning(model, {
          finalSparsity: 0.95,
          endStep: (epochs - 2) * steps,
          frequency: Math.max(1, Math.floor(steps / 10)),
          optimizer: opt,
          sparsify: { inputShape: [batch, 784], minSparsity: 0.8 },
        })
      : null;
    const hist = await fit(model, {
      train: loader,
      epochs,
      optimizer: opt,
      loss: (o, t) => F.crossEntropy(o, t),
      onBatchEnd: gmp ? gmp.onBatchEnd : undefined,
    });
    return {
      seconds: hist.epochs.map((e) => e.seconds),
      acc: accuracy(model),
      report: gmp?.report ?? null,
      model: String(model),
    };
  };
  const dense = await runOne(false);
  const sparse = await runOne(true);
  console.log(
    `\n### Fashion-MNIST MLP 784-512-256-10, ${epochs} epochs, batch ${batch}, SGD(0.05, momentum 0.9), ${bp.backend.info().threads} threads\n`,
  );
  console.log(
    table(
      ['run', ...dense.seconds.map((_, i) => `epoch ${i + 1} s`), 'test accuracy'],
      [
        ['dense', ...dense.seconds.map((s) => fmt(s, 1)), fmt(dense.acc * 100, 2)],
        ['GMP to 95% + sparsify', ...sparse.seconds.map((s) => fmt(s, 1)), fmt(sparse.acc * 100, 2)],
        ['dense/sparse time', ...dense.seconds.map((s, i) => `${fmt(s / sparse.seconds[i], 2)}x`), ''],
      ],
    ),
  );
  if (sparse.report) {
    console.log('\nsparsify report (layer, sparsity, dense ms, sparse ms, swapped):');
    for (const r of sparse.report)
      console.log(`  ${r.name}: ${fmt(r.sparsity * 100, 1)}% ${fmt(r.denseMs, 3)} ${fmt(r.sparseMs, 3)} ${r.swapped}`);
  }
}

/** @param {string[]} args */
export async function main(args) {
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  flags.delete('--threads');
  const [epochs = 5, rounds = 3] = args.filter((a) => !a.startsWith('--')).map(Number);
  const bp = await import('../dist/index.js');
  bp.backend.use('native');
  const threads = args.find((a) => a.startsWith('--threads='));
  if (threads) bp.backend.setNumThreads(Number(threads.slice('--threads='.length)));
  console.log(machineLine());
  const torch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  if (!torch) console.log(`PyTorch not found at ${PYTHON}: its columns stay empty`);
  if (!flags.has('--no-layers')) layerTables(bp, rounds, !flags.has('--no-conv'), torch);
  if (!flags.has('--no-e2e')) await endToEnd(bp, epochs);
}
