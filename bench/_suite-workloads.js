// The workloads of `npm run bench -- suite`, as a new user writes them: the public API of
// dist/index.js only (no backend kernels, no test hooks). bench/torch/suite.py defines the same
// workloads for PyTorch under the same names; the two must stay in step.

/**
 * One workload: its label, the floating-point operations of one iteration (0 when not counted)
 * and setup(api), which builds the data and returns the function one iteration calls.
 * @typedef {{ name: string, label: string, flops: number, setup: (api: typeof import('../dist/index.js')) => () => void }} Workload
 */

/** 2 * (multiply-adds) of a training step of an MLP: forward, weight gradients, input gradients past layer 1. */
function mlpStepFlops(/** @type {number[]} */ sizes, /** @type {number} */ batch) {
  let f = 0;
  for (let i = 0; i + 1 < sizes.length; i++) {
    const mac = batch * sizes[i] * sizes[i + 1];
    f += 2 * mac * (i === 0 ? 2 : 3);
  }
  return f;
}

/** @param {number} n @returns {Workload} */
function matmul(n) {
  return {
    name: `mm${n}`,
    label: `matmul ${n}×${n} float32`,
    flops: 2 * n * n * n,
    setup: ({ randn, noGrad, manualSeed }) => {
      manualSeed(0);
      const a = randn([n, n]);
      const b = randn([n, n]);
      return () => noGrad(() => a.matmul(b));
    },
  };
}

/**
 * A training step of an MLP with ReLUs, cross-entropy and SGD with momentum 0.9.
 * @param {string} name @param {string} label @param {number[]} sizes @param {number} batch
 * @param {'float32' | 'float64'} dtype
 * @returns {Workload}
 */
function mlpTrain(name, label, sizes, batch, dtype) {
  return {
    name,
    label,
    flops: mlpStepFlops(sizes, batch),
    setup: ({ nn, optim, F, randn, tensor, manualSeed }) => {
      manualSeed(0);
      /** @type {import('../dist/nn/index.js').Module[]} */
      const layers = [];
      for (let i = 0; i + 1 < sizes.length; i++) {
        if (i > 0) layers.push(new nn.ReLU());
        layers.push(new nn.Linear(sizes[i], sizes[i + 1]));
      }
      const model = new nn.Sequential(...layers).to(dtype);
      const x = randn([batch, sizes[0]], { dtype });
      const y = tensor(Float32Array.from({ length: batch }, (_, i) => (i * 7) % 10));
      const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
      return () => {
        opt.zeroGrad();
        F.crossEntropy(model.forward(x), y).backward();
        opt.step();
      };
    },
  };
}

/** @param {number} batch @returns {Workload} */
function inference(batch) {
  return {
    name: `infer${batch}`,
    label: `MLP 784-512-256-10 inference, batch ${batch}`,
    flops: 2 * batch * (784 * 512 + 512 * 256 + 256 * 10),
    setup: ({ nn, randn, noGrad, manualSeed }) => {
      manualSeed(0);
      const model = new nn.Sequential(
        new nn.Linear(784, 512),
        new nn.ReLU(),
        new nn.Linear(512, 256),
        new nn.ReLU(),
        new nn.Linear(256, 10),
      );
      model.eval();
      const x = randn([batch, 784]);
      return () => noGrad(() => model.forward(x));
    },
  };
}

/** The strided conv net of issue 11: 3x32x32, conv 3→32 s1, 32→64 s2, 64→128 s2 (k3 p1), ReLU, avg-pool 8, fc 10. */
const convStrided = {
  name: 'convStrided',
  label: 'strided conv net training, batch 64, 3×32×32',
  flops: 0,
  setup: (/** @type {typeof import('../dist/index.js')} */ { nn, optim, F, randn, tensor, manualSeed }) => {
    manualSeed(0);
    const model = new nn.Sequential(
      new nn.Conv2d(3, 32, 3, { padding: 1 }),
      new nn.ReLU(),
      new nn.Conv2d(32, 64, 3, { stride: 2, padding: 1 }),
      new nn.ReLU(),
      new nn.Conv2d(64, 128, 3, { stride: 2, padding: 1 }),
      new nn.ReLU(),
      new nn.AvgPool2d(8),
      new nn.Flatten(),
      new nn.Linear(128, 10),
    );
    const x = randn([64, 3, 32, 32]);
    const y = tensor(Float32Array.from({ length: 64 }, (_, i) => (i * 7) % 10));
    const opt = new optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    return () => {
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      opt.step();
    };
  },
};

/** LeNet-5 training at batch 64 (a workload where backprop leads: it must not lose ground). */
const lenet = {
  name: 'lenet',
  label: 'LeNet-5 training, batch 64, 1×28×28',
  flops: 0,
  setup: (/** @type {typeof import('../dist/index.js')} */ { nn, optim, F, randn, tensor, manualSeed }) => {
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
    return () => {
      opt.zeroGrad();
      F.crossEntropy(model.forward(x), y).backward();
      opt.step();
    };
  },
};

/** @type {Workload[]} */
export const WORKLOADS = [
  matmul(256),
  matmul(512),
  matmul(1024),
  matmul(2048),
  mlpTrain('mlp', 'MLP 784-512-256-10 training, batch 64', [784, 512, 256, 10], 64, 'float32'),
  mlpTrain('mlpWide', 'MLP 784-2048-2048-10 training, batch 256', [784, 2048, 2048, 10], 256, 'float32'),
  mlpTrain('mlp64', 'MLP 784-512-256-10 training, batch 64, float64', [784, 512, 256, 10], 64, 'float64'),
  inference(32),
  inference(1),
  convStrided,
  lenet,
];
