// Attention and Transformer training, against the composed formula and PyTorch 1.13.
//
//   npm run compile && npm run bench -- transformer [steps=30] [lengths=128,512,2048]
//
// 1. Scaled-dot-product attention forward + backward at B=8, H=8, E=64, float32, one thread,
//    L = 128, 512, 2048: the fused kernel (F.scaledDotProductAttention) against the composed
//    formula in this library's ops (matmul, softmax, matmul), timed interleaved in one process
//    (best of each, and the median of the per-pair ratios), and PyTorch's composed attention
//    (/usr/bin/python3 bench/torch/transformer.py) in its own process. Memory: the bytes the
//    autograd graph keeps after the forward, beyond the output (measured with gc, arrayBuffers).
// 2. Training samples/s of a 2-layer TransformerEncoder (d_model 128, 4 heads, ff 512, dropout
//    0.1, L 64, batch 32, batchFirst, MSE, Adam) with 1 and 2 threads, and PyTorch's.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { f0, fmt, machineLine, runWorker as run, table } from './_common.js';

const here = dirname(fileURLToPath(import.meta.url));
const self = fileURLToPath(import.meta.url);
const B = 8,
  H = 8,
  E = 64;
const LENGTHS = [128, 512, 2048];
const reps = (/** @type {number} */ L) => (L <= 128 ? 10 : L <= 512 ? 3 : 1);

/** @param {number} L @param {number} threads @param {number} n */
async function attentionWorker(L, threads, n) {
  const { manualSeed, randn, F, backend } = await import('../dist/index.js');
  backend.use('native');
  backend.setNumThreads(threads);
  manualSeed(0);
  const [q, k, v] = [0, 1, 2].map(() => randn([B, H, L, E], { requiresGrad: true }));
  const g = randn([B, H, L, E]);
  const scale = 1 / Math.sqrt(E);
  /** @type {Record<string, () => import('../dist/tensor.js').Tensor>} */
  const impls = {
    fused: () => F.scaledDotProductAttention(q, k, v),
    composed: () => F.softmax(q.matmul(k.transpose(-2, -1)).mul(scale), -1).matmul(v),
  };
  const gc = /** @type {() => void} */ (globalThis.gc);
  /** @type {Record<string, number>} */
  const saved = {};
  // The bytes the graph holds beyond the output, while the output (and so the graph) is alive;
  // both are garbage once held() returns.
  const held = (/** @type {() => import('../dist/tensor.js').Tensor} */ f) => {
    const before = process.memoryUsage().arrayBuffers;
    const out = f();
    gc();
    return process.memoryUsage().arrayBuffers - before - out.data.byteLength;
  };
  for (const [name, f] of Object.entries(impls)) {
    gc();
    saved[name] = held(f);
    gc();
  }
  const clear = () => {
    for (const t of [q, k, v]) t.grad = null;
  };
  /** @type {Record<string, number>} */
  const best = { fused: Infinity, composed: Infinity };
  const ratios = [];
  const time = (/** @type {string} */ name) => {
    clear();
    const t0 = process.hrtime.bigint();
    impls[name]().backward(g);
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best[name] = Math.min(best[name], dt);
    return dt;
  };
  time('fused');
  time('composed'); // warm-up
  for (let i = 0; i < n; i++) {
    // Alternate which goes first, so that neither always runs right after the other's garbage.
    const [a, b] = i % 2 === 0 ? ['fused', 'composed'] : ['composed', 'fused'];
    const ta = time(a);
    const tb = time(b);
    ratios.push(a === 'fused' ? tb / ta : ta / tb);
  }
  ratios.sort((x, y) => x - y);
  console.log(
    JSON.stringify({
      fused: best.fused,
      composed: best.composed,
      ratio: ratios[ratios.length >> 1],
      saved,
      info: backend.info(),
    }),
  );
}

/** @param {number} threads @param {number} steps */
async function trainWorker(threads, steps) {
  const { manualSeed, randn, nn, optim, F, backend } = await import('../dist/index.js');
  backend.use('native');
  backend.setNumThreads(threads);
  manualSeed(0);
  const Bt = 32,
    L = 64,
    D = 128;
  const layer = new nn.TransformerEncoderLayer(D, 4, { dimFeedforward: 512, batchFirst: true });
  const model = new nn.TransformerEncoder(layer, 2);
  const x = randn([Bt, L, D]);
  const y = randn([Bt, L, D]);
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  const step = () => {
    opt.zeroGrad();
    F.mseLoss(model.forward(x), y).backward();
    opt.step();
  };
  for (let i = 0; i < Math.max(Math.floor(steps / 10), 2); i++) step();
  const group = Math.max(1, Math.floor(steps / 10));
  let best = Infinity;
  for (let done = 0; done < steps; done += group) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < group; i++) step();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9 / group);
  }
  console.log(JSON.stringify({ sps: Bt / best, msPerStep: best * 1e3 }));
}

const kib = (/** @type {number | undefined} */ b) => (b === undefined ? '—' : f0(b / 1024));

/** @param {string[]} [args] */
export async function main(args = []) {
  const steps = Number(args[0] ?? 30);
  const lengths = (args[1] ?? LENGTHS.join(',')).split(',').map(Number);
  console.log(machineLine());
  console.log('The machine may be shared with other jobs: compare the ratios, not the absolute figures.');
  const loadBefore = loadavg()[0];
  const py = join(here, 'torch', 'transformer.py');

  console.log(`\nAttention forward + backward, B=${B}, H=${H}, E=${E}, float32, 1 thread (seconds, best of runs)\n`);
  const rows = [];
  for (const L of lengths) {
    const ours = run(process.execPath, ['--expose-gc', self, '--attention', String(L), '1', String(reps(L))]);
    const torch = run('/usr/bin/python3', [py, 'attention', String(L), '1', String(reps(L))]);
    rows.push([
      L,
      ours.error ? `failed: ${ours.error}` : fmt(ours.fused, 4),
      ours.error ? '—' : fmt(ours.composed, 4),
      torch.error ? `failed: ${torch.error}` : fmt(torch.seconds, 4),
      ours.error ? '—' : `${fmt(ours.ratio, 2)}x`,
      ours.error || torch.error ? '—' : `${fmt(torch.seconds / ours.fused, 2)}x`,
      kib(ours.saved?.fused),
      kib(ours.saved?.composed),
      kib(torch.savedBytes),
    ]);
  }
  console.log(
    table(
      [
        'L',
        'fused s',
        'composed s',
        'PyTorch composed s',
        'composed/fused (median pair)',
        'PyTorch/fused',
        'fused saved KiB',
        'composed saved KiB',
        'PyTorch saved KiB',
      ],
      rows,
    ),
  );

  console.log(
    `\nTraining: 2-layer TransformerEncoder, d_model 128, 4 heads, ff 512, dropout 0.1, L 64, batch 32, MSE, Adam (samples/s)\n`,
  );
  const trainRows = [];
  for (const threads of [1, 2]) {
    const ours = run(process.execPath, [self, '--train', String(threads), String(steps)]);
    const torch = run('/usr/bin/python3', [py, 'train', String(threads), String(steps)]);
    trainRows.push([
      threads,
      ours.error ? `failed: ${ours.error}` : f0(ours.sps),
      torch.error ? `failed: ${torch.error}` : f0(torch.sps),
      ours.error || torch.error ? '—' : `${fmt(ours.sps / torch.sps, 2)}x`,
    ]);
  }
  console.log(table(['threads', 'backprop native', `PyTorch`, 'backprop/PyTorch'], trainRows));
  console.log(`\n1-minute load average: ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after`);
}

if (process.argv[2] === '--attention') {
  await attentionWorker(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else if (process.argv[2] === '--train') {
  await trainWorker(Number(process.argv[3]), Number(process.argv[4]));
}
