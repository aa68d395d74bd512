// Fused backward kernels are an optimisation only: without createGraph the engine uses them
// (unaryBackward, softmaxBackward/logSoftmaxBackward, the gradient from softmaxCrossEntropy,
// biasGrad, the one-pass mseLoss gradient); with createGraph it uses the rules written in Tensor
// ops. Both must give the same gradients, on every backend.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, grad } from '../lib/index.js';
import * as F from '../lib/ops/functional.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

type Case = [name: string, inputs: (rng: Rng) => Tensor[], fn: (...xs: Tensor[]) => Tensor];

const away = { away: 0.05 };
const cases: Case[] = [
  ['relu', (r) => [leaf(r, [4, 5], away)], (x) => x.relu()],
  ['leakyRelu', (r) => [leaf(r, [4, 5], away)], (x) => x.leakyRelu(0.2)],
  ['sigmoid', (r) => [leaf(r, [4, 5])], (x) => x.sigmoid()],
  ['tanh', (r) => [leaf(r, [4, 5])], (x) => x.tanh()],
  ['gelu', (r) => [leaf(r, [4, 5])], (x) => x.gelu()],
  ['exp', (r) => [leaf(r, [6])], (x) => x.exp()],
  ['log', (r) => [leaf(r, [6], { lo: 0.2, hi: 3 })], (x) => x.log()],
  ['sqrt', (r) => [leaf(r, [6], { lo: 0.2, hi: 3 })], (x) => x.sqrt()],
  ['abs', (r) => [leaf(r, [6], away)], (x) => x.abs()],
  ['neg', (r) => [leaf(r, [6])], (x) => x.neg()],
  ['softmax', (r) => [leaf(r, [3, 7])], (x) => F.softmax(x, 1)],
  ['softmax over dim 0', (r) => [leaf(r, [3, 2, 2])], (x) => F.softmax(x, 0)],
  ['logSoftmax', (r) => [leaf(r, [3, 7])], (x) => F.logSoftmax(x, -1)],
  ['crossEntropy mean', (r) => [leaf(r, [5, 4])], (x) => F.crossEntropy(x, [0, 3, 1, 1, 2])],
  ['crossEntropy sum', (r) => [leaf(r, [5, 4])], (x) => F.crossEntropy(x, [0, 3, 1, 1, 2], { reduction: 'sum' })],
  ['crossEntropy none', (r) => [leaf(r, [5, 4])], (x) => F.crossEntropy(x, [0, 3, 1, 1, 2], { reduction: 'none' })],
  ['linear bias (biasGrad)', (r) => [leaf(r, [6, 3]), leaf(r, [4, 3]), leaf(r, [4])], (x, w, b) => F.linear(x, w, b)],
  ['mseLoss mean', (r) => [leaf(r, [5, 2]), leaf(r, [5, 2])], (a, b) => F.mseLoss(a, b)],
  ['mseLoss none', (r) => [leaf(r, [5, 2]), leaf(r, [5, 2])], (a, b) => F.mseLoss(a, b, { reduction: 'none' })],
];

for (const name of backendsHere()) {
  describe(`fused backward equals the composed rule on the ${name} backend`, () => {
    for (const [opName, inputs, fn] of cases) {
      for (const dtype of ['float64', 'float32'] as const) {
        test(`${opName} (${dtype})`, () => {
          backend.use(name);
          const rng = new Rng(31);
          const xs = inputs(rng).map((t) => (dtype === 'float64' ? t : t.detach().to(dtype).requiresGrad_()));
          const y = fn(...xs);
          const g = leaf(rng, [...y.shape], { requiresGrad: false }).to(dtype);
          const fused = grad(y, xs, { gradOutputs: g, retainGraph: true });
          const composed = grad(y, xs, { gradOutputs: g, createGraph: true });
          const tol = dtype === 'float64' ? 1e-12 : 2e-6;
          fused.forEach((f, i) => {
            const c = composed[i];
            expect(f.shape).toEqual(c.shape);
            for (let k = 0; k < f.size; k++) {
              if (Math.abs(f.data[k] - c.data[k]) > tol * (1 + Math.abs(c.data[k]))) {
                throw new Error(`${opName}: input ${i} element ${k}: fused ${f.data[k]} vs composed ${c.data[k]}`);
              }
            }
          });
        });
      }
    }
  });
}
