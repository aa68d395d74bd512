// Every differentiable op against central finite differences in float64, on every backend that
// loads here; the ops an MLP uses also against finite differences of their first derivatives
// (gradgradcheck).

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, cat, gradcheck, gradgradcheck, manualSeed, stack } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { binary } from '../lib/ops/binary.js';
import { defineOp } from '../lib/ops/registry.js';
import { expand } from '../lib/ops/reduce.js';
import { BinaryOp } from '../lib/backend/types.js';
import { record } from '../lib/ops/util.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';

type Case = [name: string, fn: (...xs: Tensor[]) => Tensor | Tensor[], inputs: (rng: Rng) => Tensor[]];

const L = leaf;
const pos = { lo: 0.5, hi: 2 };
const away = { away: 0.2 };

/** First-order cases: every differentiable op, several shapes, broadcasting. */
const firstOrder: Case[] = [
  // unary
  ['relu', (x) => x.relu(), (r) => [L(r, [3, 4], away)]],
  ['leakyRelu', (x) => x.leakyRelu(0.1), (r) => [L(r, [2, 3, 2], away)]],
  ['gelu', (x) => x.gelu(), (r) => [L(r, [7])]],
  ['sigmoid', (x) => x.sigmoid(), (r) => [L(r, [3, 4])]],
  ['tanh', (x) => x.tanh(), (r) => [L(r, [2, 2, 3])]],
  ['exp', (x) => x.exp(), (r) => [L(r, [5])]],
  ['log', (x) => x.log(), (r) => [L(r, [2, 3], pos)]],
  ['sqrt', (x) => x.sqrt(), (r) => [L(r, [4], pos)]],
  ['abs', (x) => x.abs(), (r) => [L(r, [3, 3], away)]],
  ['neg', (x) => x.neg(), (r) => [L(r, [3])]],
  // binary, same shape and broadcast
  ['add', (a, b) => a.add(b), (r) => [L(r, [3, 4]), L(r, [3, 4])]],
  ['add broadcast [3,4]+[4]', (a, b) => a.add(b), (r) => [L(r, [3, 4]), L(r, [4])]],
  ['add broadcast [2,1,4]+[3,1]', (a, b) => a.add(b), (r) => [L(r, [2, 1, 4]), L(r, [3, 1])]],
  ['sub broadcast [3,1]-[1,4]', (a, b) => a.sub(b), (r) => [L(r, [3, 1]), L(r, [1, 4])]],
  ['mul', (a, b) => a.mul(b), (r) => [L(r, [2, 3]), L(r, [2, 3])]],
  ['mul broadcast with 0-d', (a, b) => a.mul(b), (r) => [L(r, [2, 3]), L(r, [])]],
  ['div broadcast', (a, b) => a.div(b), (r) => [L(r, [2, 3]), L(r, [3], { away: 0.5 })]],
  ['pow tensor exponent', (a, b) => a.pow(b), (r) => [L(r, [2, 3], pos), L(r, [2, 3])]],
  ['maximum', (a, b) => a.maximum(b), (r) => [L(r, [4, 3]), L(r, [3])]],
  ['minimum', (a, b) => a.minimum(b), (r) => [L(r, [4, 3]), L(r, [4, 3])]],
  // with a number
  ['add number', (a) => a.add(2.5), (r) => [L(r, [3])]],
  ['rsub number', (a) => a.rsub(1), (r) => [L(r, [3])]],
  ['mul number', (a) => a.mul(-3), (r) => [L(r, [2, 2])]],
  ['div number', (a) => a.div(4), (r) => [L(r, [2, 2])]],
  ['rdiv number', (a) => a.rdiv(2), (r) => [L(r, [2, 2], { away: 0.5 })]],
  ['pow 3', (a) => a.pow(3), (r) => [L(r, [5])]],
  ['pow 2', (a) => a.pow(2), (r) => [L(r, [5])]],
  ['pow 0.5', (a) => a.pow(0.5), (r) => [L(r, [5], pos)]],
  ['number ** tensor', (a) => binary(BinaryOp.pow, 1.7, a), (r) => [L(r, [4])]],
  ['maximum number', (a) => a.maximum(0.1), (r) => [L(r, [6], away)]],
  // reductions
  ['sum all', (x) => x.sum(), (r) => [L(r, [3, 4])]],
  ['sum dim', (x) => x.sum(1), (r) => [L(r, [3, 4])]],
  ['sum dims keepdim', (x) => x.sum([0, 2], true), (r) => [L(r, [2, 3, 4])]],
  ['mean all', (x) => x.mean(), (r) => [L(r, [3, 4])]],
  ['mean dim -1', (x) => x.mean(-1), (r) => [L(r, [2, 3, 2])]],
  ['mean dims', (x) => x.mean([0, 1]), (r) => [L(r, [2, 3, 2])]],
  ['max all', (x) => x.max(), (r) => [L(r, [3, 4])]],
  ['max dim', (x) => x.max(1), (r) => [L(r, [3, 4])]],
  ['max dim 0 keepdim', (x) => x.max(0, true), (r) => [L(r, [3, 2, 2])]],
  ['min dim', (x) => x.min(-1), (r) => [L(r, [2, 5])]],
  // matmul, every torch.matmul case
  ['matmul 1-D.1-D', (a, b) => a.matmul(b), (r) => [L(r, [4]), L(r, [4])]],
  ['matmul 2-D.1-D', (a, b) => a.matmul(b), (r) => [L(r, [3, 4]), L(r, [4])]],
  ['matmul 1-D.2-D', (a, b) => a.matmul(b), (r) => [L(r, [3]), L(r, [3, 4])]],
  ['matmul 2-D.2-D', (a, b) => a.matmul(b), (r) => [L(r, [3, 4]), L(r, [4, 2])]],
  ['matmul 3-D.2-D', (a, b) => a.matmul(b), (r) => [L(r, [2, 3, 4]), L(r, [4, 2])]],
  ['matmul 3-D.1-D', (a, b) => a.matmul(b), (r) => [L(r, [2, 3, 4]), L(r, [4])]],
  ['matmul 2-D.3-D', (a, b) => a.matmul(b), (r) => [L(r, [3, 4]), L(r, [2, 4, 2])]],
  ['matmul 1-D.3-D', (a, b) => a.matmul(b), (r) => [L(r, [4]), L(r, [2, 4, 3])]],
  ['matmul 3-D.3-D', (a, b) => a.matmul(b), (r) => [L(r, [2, 3, 4]), L(r, [2, 4, 2])]],
  ['matmul broadcast [2,1,3,4].[3,4,2]', (a, b) => a.matmul(b), (r) => [L(r, [2, 1, 3, 4]), L(r, [3, 4, 2])]],
  ['matmul broadcast [1,3,2].[2,2,4]', (a, b) => a.matmul(b), (r) => [L(r, [1, 3, 2]), L(r, [2, 2, 4])]],
  ['linear', (x, w, b) => F.linear(x, w, b), (r) => [L(r, [4, 3]), L(r, [2, 3]), L(r, [2])]],
  ['linear no bias, 3-D input', (x, w) => F.linear(x, w), (r) => [L(r, [2, 2, 3]), L(r, [4, 3])]],
  ['linear 1-D input', (x, w, b) => F.linear(x, w, b), (r) => [L(r, [3]), L(r, [2, 3]), L(r, [2])]],
  // shape ops
  ['reshape -1', (x) => x.reshape(-1, 2).mul(x.reshape(-1, 2)), (r) => [L(r, [2, 3])]],
  ['transpose', (x) => x.transpose(0, 2), (r) => [L(r, [2, 3, 2])]],
  ['permute', (x) => x.permute(2, 0, 1), (r) => [L(r, [2, 3, 2])]],
  ['flatten', (x) => x.flatten(1).mul(2), (r) => [L(r, [2, 2, 3])]],
  ['squeeze/unsqueeze', (x) => x.squeeze(1).unsqueeze(0).mul(3), (r) => [L(r, [3, 1, 2])]],
  ['narrow', (x) => x.narrow(1, 1, 2), (r) => [L(r, [3, 4])]],
  ['indexSelect with repeats', (x) => x.indexSelect(0, [2, 0, 2]), (r) => [L(r, [3, 2])]],
  ['indexSelect inner dim', (x) => x.indexSelect(1, new Int32Array([1, 1, 0])), (r) => [L(r, [2, 3, 2])]],
  ['cat', (a, b) => cat([a, b], 1), (r) => [L(r, [2, 3]), L(r, [2, 1])]],
  ['stack', (a, b) => stack([a, b], 1), (r) => [L(r, [2, 3]), L(r, [2, 3])]],
  ['expand', (x) => expand(x, [2, 3, 4]), (r) => [L(r, [3, 1])]],
  ['clone', (x) => x.clone().mul(x), (r) => [L(r, [3])]],
  // softmax family
  ['softmax last dim', (x) => F.softmax(x, -1), (r) => [L(r, [3, 4])]],
  ['softmax dim 0', (x) => F.softmax(x, 0), (r) => [L(r, [3, 2, 2])]],
  ['logSoftmax', (x) => F.logSoftmax(x, 1), (r) => [L(r, [2, 5])]],
  ['logSoftmax dim 1 of 3-D', (x) => F.logSoftmax(x, 1), (r) => [L(r, [2, 3, 2])]],
  [
    'dropout (seeded mask)',
    (x) => {
      manualSeed(3);
      return F.dropout(x, 0.4);
    },
    (r) => [L(r, [4, 5])],
  ],
  // losses, every reduction
  ['mseLoss mean', (a, b) => F.mseLoss(a, b), (r) => [L(r, [4, 2]), L(r, [4, 2])]],
  ['mseLoss sum', (a, b) => F.mseLoss(a, b, { reduction: 'sum' }), (r) => [L(r, [3]), L(r, [3])]],
  ['mseLoss none', (a, b) => F.mseLoss(a, b, { reduction: 'none' }), (r) => [L(r, [2, 2]), L(r, [2, 2])]],
  ['l1Loss', (a, b) => F.l1Loss(a, b), (r) => [L(r, [5]), L(r, [5]).add(3).detach().requiresGrad_()]],
  [
    'huberLoss both regimes',
    (a, b) => F.huberLoss(a, b, { delta: 0.7 }),
    (r) => [L(r, [6]), L(r, [6]).mul(0.1).detach().requiresGrad_()],
  ],
  ['huberLoss none', (a, b) => F.huberLoss(a, b, { reduction: 'none' }), (r) => [L(r, [4]), L(r, [4])]],
  ['crossEntropy mean', (x) => F.crossEntropy(x, [1, 0, 3]), (r) => [L(r, [3, 4])]],
  ['crossEntropy sum', (x) => F.crossEntropy(x, new Int32Array([2, 2]), { reduction: 'sum' }), (r) => [L(r, [2, 3])]],
  ['crossEntropy none', (x) => F.crossEntropy(x, [0, 4, 1], { reduction: 'none' }), (r) => [L(r, [3, 5])]],
  ['crossEntropy 1-D input', (x) => F.crossEntropy(x, [2]), (r) => [L(r, [4])]],
  [
    'crossEntropy weight, ignoreIndex, labelSmoothing',
    (x, w) => F.crossEntropy(x, [1, 5, 0], { weight: w, ignoreIndex: 5, labelSmoothing: 0.1 }),
    (r) => [L(r, [3, 4]), L(r, [4], { lo: 0.5, hi: 2, requiresGrad: false })],
  ],
  ['nllLoss', (x) => F.nllLoss(F.logSoftmax(x, 1), [1, 2]), (r) => [L(r, [2, 3])]],
  [
    'nllLoss weight',
    (x, w) => F.nllLoss(x, [1, 2, 2], { weight: w }),
    (r) => [L(r, [3, 3]), L(r, [3], { lo: 0.5, hi: 2, requiresGrad: false })],
  ],
  ['nllLoss none', (x) => F.nllLoss(x, [0, 2], { reduction: 'none' }), (r) => [L(r, [2, 3])]],
  ['bceWithLogits', (x, y) => F.bceWithLogits(x, y), (r) => [L(r, [3, 2]), L(r, [3, 2], { lo: 0, hi: 1 })]],
  [
    'bceWithLogits sum',
    (x, y) => F.bceWithLogits(x, y, { reduction: 'sum' }),
    (r) => [L(r, [4]), L(r, [4], { lo: 0, hi: 1 })],
  ],
];

/** Second-order cases: the ops an MLP uses (and a few more). */
const secondOrder: Case[] = [
  ['matmul', (a, b) => a.matmul(b), (r) => [L(r, [2, 3]), L(r, [3, 2])]],
  ['batched matmul', (a, b) => a.matmul(b), (r) => [L(r, [2, 2, 3]), L(r, [3, 2])]],
  ['linear', (x, w, b) => F.linear(x, w, b), (r) => [L(r, [3, 2]), L(r, [2, 2]), L(r, [2])]],
  ['add broadcast', (a, b) => a.add(b).mul(a), (r) => [L(r, [2, 3]), L(r, [3])]],
  ['mul', (a, b) => a.mul(b), (r) => [L(r, [2, 3]), L(r, [2, 3])]],
  ['div', (a, b) => a.div(b), (r) => [L(r, [3]), L(r, [3], { away: 0.5 })]],
  ['tanh', (x) => x.tanh(), (r) => [L(r, [2, 3])]],
  ['sigmoid', (x) => x.sigmoid(), (r) => [L(r, [2, 3])]],
  ['relu', (x) => x.relu().mul(x), (r) => [L(r, [2, 3], away)]],
  ['gelu', (x) => x.gelu(), (r) => [L(r, [5])]],
  ['exp/log', (x) => x.exp().add(x.log()), (r) => [L(r, [4], pos)]],
  ['pow', (x) => x.pow(3), (r) => [L(r, [4])]],
  ['softmax', (x) => F.softmax(x, 1), (r) => [L(r, [2, 3])]],
  ['logSoftmax', (x) => F.logSoftmax(x, 1), (r) => [L(r, [2, 3])]],
  ['crossEntropy', (x) => F.crossEntropy(x, [2, 0]), (r) => [L(r, [2, 3])]],
  ['crossEntropy none', (x) => F.crossEntropy(x, [1, 1], { reduction: 'none' }), (r) => [L(r, [2, 3])]],
  ['crossEntropy labelSmoothing', (x) => F.crossEntropy(x, [1, 0], { labelSmoothing: 0.2 }), (r) => [L(r, [2, 3])]],
  ['sum', (x) => x.mul(x).sum(0), (r) => [L(r, [3, 2])]],
  ['mean', (x) => x.mul(x).mean(), (r) => [L(r, [3, 2])]],
  ['mseLoss', (a, b) => F.mseLoss(a.tanh(), b), (r) => [L(r, [3]), L(r, [3])]],
  ['bceWithLogits', (x, y) => F.bceWithLogits(x, y), (r) => [L(r, [3]), L(r, [3], { lo: 0, hi: 1 })]],
  [
    'mlp',
    (x, w1, b1, w2, b2) => F.crossEntropy(F.linear(F.linear(x, w1, b1).tanh(), w2, b2), [1, 0]),
    (r) => [L(r, [2, 3]), L(r, [4, 3]), L(r, [4]), L(r, [2, 4]), L(r, [2])],
  ],
];

const initial = backend.current();
afterAll(() => backend.use(initial));

for (const name of backendsHere()) {
  describe(`gradcheck on the ${name} backend`, () => {
    for (const [opName, fn, inputs] of firstOrder) {
      test(opName, () => {
        backend.use(name);
        expect(gradcheck(fn, inputs(new Rng(11)))).toBe(true);
      });
    }
  });
  describe(`gradgradcheck on the ${name} backend`, () => {
    for (const [opName, fn, inputs] of secondOrder) {
      test(opName, () => {
        backend.use(name);
        manualSeed(1);
        expect(gradgradcheck(fn, inputs(new Rng(12)))).toBe(true);
      });
    }
  });
}

describe('gradcheck reports a wrong rule', () => {
  // x^2 with a deliberately wrong derivative 3x: the error must name input, element and both values.
  const badSquareOp = defineOp<null>({
    name: 'badSquare',
    kernels: [],
    arity: 1,
    rule: (g, n) => [g.mul(n.inputs[0]).mul(3)],
  });
  const badSquare = (x: Tensor): Tensor =>
    record(
      new Tensor(
        x.data.map((v) => v * v),
        x.shape,
      ),
      badSquareOp,
      [x],
      null,
    );

  test('names the input, the element, analytic and numeric', () => {
    const x = new Tensor(new Float64Array([0.5, -1]), [2], true);
    const y = new Tensor(new Float64Array([2]), [1], true);
    expect(() => gradcheck((a, b) => badSquare(a).mul(b), [x, y])).toThrow(
      /input 0 \(shape \[2\]\) at element \[0\].*analytic 3 vs numeric 1\.9999/,
    );
  });

  test('gradgradcheck catches a wrong second derivative', () => {
    // First derivative right (2x), but written with a constant copy of x, so d/dx of it is 0.
    const constSquareOp = defineOp<null>({
      name: 'constSquare',
      kernels: [],
      arity: 1,
      rule: (g, n) => [g.mul(n.inputs[0].detach()).mul(2)],
    });
    const square = (x: Tensor): Tensor =>
      record(
        new Tensor(
          x.data.map((v) => v * v),
          x.shape,
        ),
        constSquareOp,
        [x],
        null,
      );
    const x = new Tensor(new Float64Array([0.5, -1]), [2], true);
    expect(gradcheck(square, [x])).toBe(true);
    expect(() => gradgradcheck(square, [x])).toThrow(/gradcheck: Jacobian mismatch for input 0/);
  });

  test('rejects float32 inputs', () => {
    const x = new Tensor(new Float32Array([1]), [1], true);
    expect(() => gradcheck((a) => a.mul(2), [x])).toThrow(/float64/);
  });
});
