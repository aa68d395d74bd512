// Every fused backward in the registry against its rule, on every backend and in both dtypes.
// The list of ops comes from the registry: an op that gains a fused backward without a case here
// fails the first test. Unary ops need no case (one is made from the op's name); the others
// build their forward below. Both backwards run on the same recorded node with the same g.

import { isKernelDType } from '../lib/dtype.js';
import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, noGrad } from '../lib/index.js';
import * as F from '../lib/nn/functional.js';
import { registeredOps, type OpDef } from '../lib/ops/registry.js';
import { recurrence, rows } from '../lib/ops/rnn.js';
import { conv2dFeedback, linearFeedback } from '../lib/ops/feedback.js';
import { UNARY_OPS } from '../lib/backend/types.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

type Dtype = 'float32' | 'float64';
/** Builds an output of the op under test from seeded leaves of the given dtype. */
type Case = (rng: Rng, dtype: Dtype) => Tensor;

const x = (r: Rng, d: Dtype, shape: number[], opts: { lo?: number; hi?: number; away?: number } = {}): Tensor =>
  leaf(r, shape, { ...opts, dtype: d });

/** Inputs that keep unary ops off their kinks and inside their domains. */
const unaryDomain: Partial<Record<(typeof UNARY_OPS)[number], { lo: number; hi: number }>> = {
  log: { lo: 0.2, hi: 3 },
  sqrt: { lo: 0.2, hi: 3 },
};

function unaryCase(name: (typeof UNARY_OPS)[number]): Case {
  // p0/p1 where the op reads them: a slope, alpha, or softplus's beta and a threshold the inputs cross.
  const params: Record<string, (t: Tensor) => Tensor> = {
    leakyRelu: (t) => F.leakyRelu(t, 0.2),
    softplus: (t) => F.softplus(t, { beta: 2, threshold: 1.5 }),
    elu: (t) => F.elu(t, { alpha: 0.7 }),
  };
  return (r, d) => {
    const t = x(r, d, [4, 5], unaryDomain[name] ?? { away: 0.05 });
    const call = params[name] ?? ((u: Tensor) => (u as unknown as Record<string, () => Tensor>)[name]());
    return call(t);
  };
}

const cases: Record<string, Case[]> = {
  softmax: [(r, d) => F.softmax(x(r, d, [3, 7]), 1)],
  logSoftmax: [(r, d) => F.logSoftmax(x(r, d, [3, 7]), -1)],
  linear: [
    (r, d) => F.linear(x(r, d, [6, 3]), x(r, d, [4, 3]), x(r, d, [4])),
    (r, d) => F.linear(x(r, d, [6, 3]), x(r, d, [4, 3])),
  ],
  conv2d: [
    (r, d) => F.conv2d(x(r, d, [2, 3, 6, 5]), x(r, d, [4, 3, 3, 3]), x(r, d, [4]), { padding: 1 }),
    (r, d) => F.conv2d(x(r, d, [2, 2, 7, 7]), x(r, d, [3, 2, 3, 2]), null, { stride: 2, dilation: [1, 2] }),
  ],
  mseLoss: [
    (r, d) => F.mseLoss(x(r, d, [5, 2]), x(r, d, [5, 2])),
    (r, d) => F.mseLoss(x(r, d, [5, 2]), x(r, d, [5, 2]), { reduction: 'sum' }),
    (r, d) => F.mseLoss(x(r, d, [5, 2]), x(r, d, [5, 2]), { reduction: 'none' }),
  ],
  crossEntropy: ['mean', 'sum', 'none'].map(
    (reduction) => (r: Rng, d: Dtype) =>
      F.crossEntropy(x(r, d, [5, 4]), [0, 3, 1, 1, 2], { reduction: reduction as 'mean' }),
  ),
  batchNorm: [
    (r, d) => F.batchNorm(x(r, d, [4, 3, 2]), null, null, x(r, d, [3]), x(r, d, [3]), true),
    (r, d) => {
      const mean = x(r, d, [3]).detach();
      const variance = x(r, d, [3], { lo: 0.5, hi: 2 }).detach();
      return F.batchNorm(x(r, d, [4, 3]), mean, variance, x(r, d, [3]), null, false);
    },
  ],
  rows: [(r, d) => rows(x(r, d, [5, 2, 3]), 1, 3)],
  scaledDotProductAttention: [
    (r, d) => F.scaledDotProductAttention(x(r, d, [2, 2, 5, 3]), x(r, d, [2, 2, 7, 3]), x(r, d, [2, 2, 7, 4])),
    (r, d) =>
      F.scaledDotProductAttention(x(r, d, [1, 6, 3]), x(r, d, [1, 6, 3]), x(r, d, [1, 6, 2]), { isCausal: true }),
    (r, d) =>
      F.scaledDotProductAttention(x(r, d, [2, 3, 4]), x(r, d, [2, 5, 4]), x(r, d, [2, 5, 4]), {
        attnMask: x(r, d, [3, 5]).detach(),
      }),
    (r, d) =>
      F.scaledDotProductAttention(x(r, d, [2, 4, 3]), x(r, d, [2, 6, 3]), x(r, d, [2, 6, 2]), {
        dropoutP: 0.3,
        isCausal: true,
      }),
  ],
  // bio feedback modes: the input gradient goes through a feedback matrix instead of the weight
  linearFeedback: [
    (r, d) => linearFeedback(x(r, d, [6, 3]), x(r, d, [4, 3]), x(r, d, [4]), x(r, d, [4, 3])),
    (r, d) => linearFeedback(x(r, d, [5, 3]), x(r, d, [4, 3]), null, x(r, d, [4, 3])),
  ],
  conv2dFeedback: [
    (r, d) =>
      conv2dFeedback(x(r, d, [2, 3, 6, 5]), x(r, d, [4, 3, 3, 3]), x(r, d, [4]), x(r, d, [4, 3, 3, 3]), { padding: 1 }),
    (r, d) => conv2dFeedback(x(r, d, [2, 2, 7, 7]), x(r, d, [3, 2, 3, 2]), null, x(r, d, [3, 2, 3, 2]), { stride: 2 }),
  ],
};
for (const [cell, G] of [
  ['rnnTanh', 1],
  ['rnnRelu', 1],
  ['lstm', 4],
  ['gru', 3],
] as const) {
  cases[`recurrence(${cell})`] = [
    (r, d) =>
      recurrence(
        cell,
        x(r, d, [3, 2, G * 4]),
        x(r, d, [2, 4]),
        cell === 'lstm' ? x(r, d, [2, 4]) : null,
        x(r, d, [G * 4, 4]),
        x(r, d, [G * 4]),
      ),
    (r, d) =>
      recurrence(
        cell,
        x(r, d, [2, 3, G * 2]),
        x(r, d, [3, 2]),
        cell === 'lstm' ? x(r, d, [3, 2]) : null,
        x(r, d, [G * 2, 2]),
        null,
        true,
        cell === 'gru' ? null : x(r, d, [G * 2]),
      ),
  ];
}

const fusedOps = registeredOps().filter((op) => op.fused !== undefined);
const casesOf = (op: OpDef): Case[] | undefined =>
  (UNARY_OPS as readonly string[]).includes(op.id) ? [unaryCase(op.id as (typeof UNARY_OPS)[number])] : cases[op.id];

test('every op with a fused backward has a case here, and every case an op', () => {
  expect(fusedOps.length).toBeGreaterThan(10);
  for (const op of fusedOps) expect(casesOf(op), `no sweep case for the fused backward of '${op.id}'`).toBeDefined();
  for (const id of Object.keys(cases))
    expect(
      fusedOps.map((o) => o.id),
      `case '${id}' names no fused op`,
    ).toContain(id);
});

for (const name of backendsHere()) {
  describe(`fused backward equals the rule on the ${name} backend`, () => {
    for (const op of fusedOps) {
      // In every kernel dtype the op declares.
      for (const dtype of op.dtypes.filter(isKernelDType)) {
        test(`${op.id} (${dtype})`, () => {
          backend.use(name);
          const rng = new Rng(31);
          (casesOf(op) ?? []).forEach((make, variant) => {
            const y = make(rng, dtype);
            const node = y.gradFn!;
            expect(node.op.id, `case ${variant} records '${node.op.id}'`).toBe(op.id);
            if (op.arity !== 'variadic')
              expect(node.inputs.length, `${op.id}: inputs recorded vs arity`).toBe(op.arity);
            const g = x(rng, dtype, [...y.shape]).detach();
            const fused = noGrad(() => op.fused!(g, node));
            const rule = noGrad(() => op.rule!(g, node));
            const tol = dtype === 'float64' ? 1e-12 : 3e-6;
            expect(fused.length).toBe(rule.length);
            fused.forEach((f, i) => {
              const c = rule[i];
              expect(f === null, `input ${i}: fused gave ${f === null ? 'no' : 'a'} gradient`).toBe(c === null);
              if (f === null || c === null) return;
              expect(f.shape).toEqual(c.shape);
              expect(f.dtype).toBe(c.dtype);
              for (let k = 0; k < f.numel(); k++) {
                if (!(Math.abs(f.data[k] - c.data[k]) <= tol * (1 + Math.abs(c.data[k])))) {
                  throw new Error(
                    `${op.id} case ${variant}: input ${i} element ${k}: fused ${f.data[k]} vs rule ${c.data[k]}`,
                  );
                }
              }
            });
          });
        });
      }
    }
  });
}
