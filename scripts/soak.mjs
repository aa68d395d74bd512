// Memory soak (issue 10): trains an MLP, a LeNet and an LSTM for `steps` optimizer steps each
// (Adam, random data, fresh graph per step) and reports the resident set size after the first
// 10% of the steps (warm: workspaces, slabs and pools at their size) and at the end. A leak of
// even a few hundred bytes per step shows as growth over 10,000 steps; the bound is 5%.
// Usage: node --expose-gc scripts/soak.mjs [steps=10000] [mlp,lenet,lstm]  (dist/: npm run compile)
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { nn, optim, randn, tensor, manualSeed, backend } = await import(
  pathToFileURL(join(root, 'dist', 'index.js')).href
);
const steps = Number(process.argv[2] ?? 10000);
const which = (process.argv[3] ?? 'mlp,lenet,lstm').split(',');
const gc = globalThis.gc ?? (() => {});

/** @param {number} n @param {number} classes */
function labels(n, classes) {
  return tensor(Array.from({ length: n }, (_, i) => i % classes));
}

/** @type {Record<string, () => { model: any, step: () => any }>} */
const builds = {
  mlp: () => {
    const model = new nn.Sequential(new nn.Linear(784, 128), new nn.ReLU(), new nn.Linear(128, 10));
    const x = randn([32, 784]);
    const y = labels(32, 10);
    const loss = new nn.CrossEntropyLoss();
    return { model, step: () => loss.forward(model.forward(x), y) };
  },
  lenet: () => {
    const model = new nn.Sequential(
      new nn.Conv2d(1, 6, 5),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Conv2d(6, 16, 5),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Flatten(),
      new nn.Linear(256, 120),
      new nn.ReLU(),
      new nn.Linear(120, 10),
    );
    const x = randn([16, 1, 28, 28]);
    const y = labels(16, 10);
    const loss = new nn.CrossEntropyLoss();
    return { model, step: () => loss.forward(model.forward(x), y) };
  },
  lstm: () => {
    const lstm = new nn.LSTM(16, 32, { batchFirst: true });
    const head = new nn.Linear(32, 4);
    const model = new nn.ModuleList([lstm, head]);
    const x = randn([8, 20, 16]);
    const y = labels(8, 4);
    const loss = new nn.CrossEntropyLoss();
    return {
      model,
      step: () => {
        const [out] = lstm.forward(x);
        const last = out.narrow(1, 19, 1).reshape([8, 32]);
        return loss.forward(head.forward(last), y);
      },
    };
  },
};

const info = backend.info();
console.log(`backend ${info.name} (${info.blas}, ${info.simd}, ${info.threads} threads), ${steps} steps per model`);
let worst = 0;
for (const name of which) {
  manualSeed(1);
  const { model, step } = builds[name]();
  const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
  let warm = 0;
  const t0 = performance.now();
  let last = 0;
  for (let s = 1; s <= steps; s++) {
    opt.zeroGrad();
    const l = step();
    l.backward();
    opt.step();
    last = l.item();
    if (s === Math.max(1, Math.floor(steps / 10))) {
      gc();
      warm = process.memoryUsage().rss;
    }
  }
  gc();
  const end = process.memoryUsage().rss;
  const growth = (end - warm) / warm;
  worst = Math.max(worst, growth);
  console.log(
    `${name}: RSS ${(warm / 1e6).toFixed(1)} MB after ${Math.floor(steps / 10)} steps, ${(end / 1e6).toFixed(1)} MB after ${steps} ` +
      `(${(growth * 100).toFixed(2)}%), final loss ${last.toFixed(4)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}
process.exit(worst <= 0.05 ? 0 : 1);
