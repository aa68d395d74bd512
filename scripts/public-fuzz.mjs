// Malformed calls through the public API (issue 10's "≥ 99% give an error that names the op or
// file"): each entry is a valid call; every argument in turn is replaced by each junk value, and
// the outcome is classified: an Error whose message names the function (or the class, or the
// file), an error that does not (V8's "Cannot read properties of null" and the like), a crash of
// the process (not caught here: it ends the run), or no error at all (which may be correct: a
// junk value the function legitimately accepts, such as undefined for an optional argument).
// Usage: node scripts/public-fuzz.mjs [--list]   (uses dist/: npm run compile first)
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bp = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
const { tensor, randn, zeros, nn, F, optim, io, data } = bp;
const list = process.argv.includes('--list');

const JUNK = [null, NaN, -1, 1.5, 1e12, 'x', {}, [], Symbol('j'), 10n, () => 1, [[1, 2], [3]], new Float32Array(2)];
const x4 = () => randn([2, 3, 8, 8]);
const x2 = () => randn([4, 3]);
const p = () => [zeros([3], { requiresGrad: true })];

/** @type {[string, string[], (a: any[]) => unknown, () => any[]][]} name, words that name it, call, valid args */
const CASES = [
  ['tensor', ['tensor'], (a) => tensor(a[0], a[1]), () => [[1, 2, 3], { dtype: 'float32' }]],
  ['zeros', ['zeros'], (a) => zeros(a[0], a[1]), () => [[2, 3], {}]],
  ['randn', ['randn'], (a) => randn(a[0], a[1]), () => [[2, 3], {}]],
  ['full', ['full'], (a) => bp.full(a[0], a[1], a[2]), () => [[2], 1, {}]],
  ['arange', ['arange'], (a) => bp.arange(a[0], a[1], a[2]), () => [0, 5, 1]],
  ['eye', ['eye'], (a) => bp.eye(a[0], a[1]), () => [3, 3]],
  ['Tensor', ['Tensor'], (a) => new bp.Tensor(a[0], a[1]), () => [new Float32Array(6), [2, 3]]],
  ['add', ['add'], (a) => a[0].add(a[1]), () => [x2(), x2()]],
  ['matmul', ['matmul'], (a) => a[0].matmul(a[1]), () => [x2(), randn([3, 2])]],
  ['reshape', ['reshape'], (a) => a[0].reshape(a[1]), () => [x2(), [3, 4]]],
  ['permute', ['permute'], (a) => a[0].permute(a[1]), () => [x2(), [1, 0]]],
  ['sum', ['sum'], (a) => a[0].sum(a[1], a[2]), () => [x2(), 0, false]],
  ['mean', ['mean'], (a) => a[0].mean(a[1], a[2]), () => [x2(), 1, true]],
  ['narrow', ['narrow'], (a) => a[0].narrow(a[1], a[2], a[3]), () => [x2(), 0, 1, 2]],
  ['indexSelect', ['indexSelect'], (a) => a[0].indexSelect(a[1], a[2]), () => [x2(), 0, [0, 3]]],
  ['cat', ['cat'], (a) => bp.cat(a[0], a[1]), () => [[x2(), x2()], 0]],
  ['softmax', ['softmax'], (a) => F.softmax(a[0], a[1]), () => [x2(), 1]],
  ['crossEntropy', ['crossEntropy'], (a) => F.crossEntropy(a[0], a[1]), () => [x2(), tensor([0, 1, 2, 0])]],
  ['mseLoss', ['mseLoss'], (a) => F.mseLoss(a[0], a[1]), () => [x2(), x2()]],
  [
    'conv2d',
    ['conv2d'],
    (a) => F.conv2d(a[0], a[1], a[2], a[3]),
    () => [x4(), randn([4, 3, 3, 3]), null, { padding: 1 }],
  ],
  ['maxPool2d', ['maxPool2d'], (a) => F.maxPool2d(a[0], a[1], a[2]), () => [x4(), 2, {}]],
  ['avgPool2d', ['avgPool2d'], (a) => F.avgPool2d(a[0], a[1], a[2]), () => [x4(), 2, {}]],
  [
    'batchNorm',
    ['batchNorm'],
    (a) => F.batchNorm(a[0], a[1], a[2], null, null, a[3], a[4], a[5]),
    () => [x4(), zeros([3]), bp.ones([3]), true, 0.1, 1e-5],
  ],
  ['layerNorm', ['layerNorm'], (a) => F.layerNorm(a[0], a[1], null, null, a[2]), () => [x2(), 3, 1e-5]],
  ['embedding', ['embedding'], (a) => F.embedding(a[0], a[1]), () => [[0, 2], randn([5, 4])]],
  ['dropout', ['dropout'], (a) => F.dropout(a[0], a[1], a[2]), () => [x2(), 0.5, true]],
  ['Linear', ['Linear'], (a) => new nn.Linear(a[0], a[1], a[2]), () => [3, 2, {}]],
  ['Conv2d', ['Conv2d'], (a) => new nn.Conv2d(a[0], a[1], a[2], a[3]), () => [3, 4, 3, {}]],
  ['LSTM', ['LSTM'], (a) => new nn.LSTM(a[0], a[1], a[2]), () => [4, 8, {}]],
  ['BatchNorm2d', ['BatchNorm'], (a) => new nn.BatchNorm2d(a[0], a[1]), () => [3, {}]],
  ['LayerNorm', ['LayerNorm'], (a) => new nn.LayerNorm(a[0], a[1]), () => [3, {}]],
  ['Dropout', ['Dropout'], (a) => new nn.Dropout(a[0]), () => [0.5]],
  ['Embedding', ['Embedding'], (a) => new nn.Embedding(a[0], a[1]), () => [5, 4]],
  ['Linear.forward', ['Linear', 'linear', 'matmul'], (a) => new nn.Linear(3, 2).forward(a[0]), () => [x2()]],
  [
    'loadStateDict',
    ['loadStateDict', 'state dict'],
    (a) => new nn.Linear(3, 2).loadStateDict(a[0], a[1]),
    () => [new nn.Linear(3, 2).stateDict(), {}],
  ],
  ['SGD', ['SGD'], (a) => new optim.SGD(a[0], a[1]), () => [p(), { lr: 0.1, momentum: 0.9 }]],
  ['Adam', ['Adam'], (a) => new optim.Adam(a[0], a[1]), () => [p(), { lr: 0.1, betas: [0.9, 0.999] }]],
  ['RMSprop', ['RMSprop'], (a) => new optim.RMSprop(a[0], a[1]), () => [p(), { lr: 0.1 }]],
  [
    'Optimizer.loadStateDict',
    ['loadStateDict'],
    (a) => new optim.SGD(p(), { lr: 0.1 }).loadStateDict(a[0]),
    () => [new optim.SGD(p(), { lr: 0.1 }).stateDict()],
  ],
  [
    'StepLR',
    ['StepLR'],
    (a) => new optim.lrScheduler.StepLR(new optim.SGD(p(), { lr: 0.1 }), a[0]),
    () => [{ stepSize: 2, gamma: 0.5 }],
  ],
  [
    'ExponentialLR',
    ['ExponentialLR'],
    (a) => new optim.lrScheduler.ExponentialLR(new optim.SGD(p(), { lr: 0.1 }), a[0]),
    () => [{ gamma: 0.5 }],
  ],
  [
    'CosineAnnealingLR',
    ['CosineAnnealingLR'],
    (a) => new optim.lrScheduler.CosineAnnealingLR(new optim.SGD(p(), { lr: 0.1 }), a[0]),
    () => [{ tMax: 5 }],
  ],
  [
    'DataLoader',
    ['DataLoader'],
    (a) => new data.DataLoader(a[0], a[1]),
    () => [new data.TensorDataset(x2(), x2()), { batchSize: 2 }],
  ],
  ['TensorDataset', ['TensorDataset'], (a) => new data.TensorDataset(a[0], a[1]), () => [x2(), x2()]],
  ['io.load', ['io.load', 'load'], (a) => io.load(a[0]), () => ['/nonexistent.safetensors']],
  [
    'io.save',
    ['io.save', 'save'],
    (a) => io.save(a[0], a[1]),
    () => [join(root, 'build', 'public-fuzz.safetensors'), { w: x2() }],
  ],
  ['loadIdx', ['loadIdx'], (a) => data.loadIdx(a[0]), () => ['/nonexistent-idx']],
  ['manualSeed', ['manualSeed'], (a) => bp.manualSeed(a[0]), () => [1]],
  ['setNumThreads', ['setNumThreads'], (a) => bp.backend.setNumThreads(a[0]), () => [1]],
  ['Generator', ['Generator'], (a) => new bp.Generator(a[0]), () => [1]],
];

const counts = { named: 0, unnamed: 0, accepted: 0 };
/** @type {string[]} */
const unnamed = [];
for (const [name, words, call, valid] of CASES) {
  const n = valid().length;
  for (let i = 0; i < n; i++) {
    for (const j of JUNK) {
      const args = valid();
      args[i] = j;
      try {
        call(args);
        counts.accepted++;
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        if (words.some((w) => msg.includes(w)) || /\.safetensors|idx/.test(msg)) counts.named++;
        else {
          counts.unnamed++;
          unnamed.push(
            `${name} arg ${i} = ${typeof j === 'symbol' ? 'Symbol' : typeof j === 'bigint' ? `${j}n` : (JSON.stringify(j) ?? String(j))}: ${msg}`,
          );
        }
      }
    }
  }
}
const errors = counts.named + counts.unnamed;
console.log(
  `${errors + counts.accepted} malformed public calls: ${errors} errors, ${counts.named} of them name the op or file ` +
    `(${((100 * counts.named) / errors).toFixed(1)}%); ${counts.accepted} accepted (junk a function may legitimately take)`,
);
if (list) for (const u of unnamed) console.log(`  unnamed: ${u}`);
