// Empty tensors (a zero-size dim) and 0-d tensors, issue 19: the regressions it lists, then a sweep
// of the ops over a [2, 0, 3] input and a 0-d input, forward and backward, on every backend.
// Expected shapes and values are torch 1.13's (written here by hand from it, and checked against
// a live torch run in float64 whenever /usr/bin/python3 imports torch).
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Tensor, backend, gradcheck, F, tensor, zeros, ones } from '../lib/index.js';
import { backendsHere } from './support/autograd.js';
import { PYTHON, torchHere } from './support/torch.js';

const f64 = { dtype: 'float64' as const };

/** The data of a tensor as plain numbers, NaN kept (toEqual treats NaN as equal to NaN). */
const values = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>, Number);

// [name, our op, torch's expression in x (for the live cross-check), torch's output shape]
type Case = [string, (x: Tensor) => Tensor, string, number[]];

// Over x of shape [2, 0, 3].
const EMPTY_CASES: Case[] = [
  ['neg', (x) => x.neg(), 'x.neg()', [2, 0, 3]],
  ['exp', (x) => x.exp(), 'x.exp()', [2, 0, 3]],
  ['tanh', (x) => x.tanh(), 'x.tanh()', [2, 0, 3]],
  ['relu', (x) => x.relu(), 'x.relu()', [2, 0, 3]],
  ['gelu', (x) => F.gelu(x), 'F.gelu(x)', [2, 0, 3]],
  ['add self', (x) => x.add(x), 'x + x', [2, 0, 3]],
  ['mul broadcast [3]', (x) => x.mul(ones([3], f64)), 'x * torch.ones(3, dtype=torch.float64)', [2, 0, 3]],
  ['sum()', (x) => x.sum(), 'x.sum()', []],
  ['sum(1)', (x) => x.sum(1), 'x.sum(1)', [2, 3]],
  ['sum(2)', (x) => x.sum(2), 'x.sum(2)', [2, 0]],
  ['mean(1)', (x) => x.mean(1), 'x.mean(1)', [2, 3]],
  ['mean(2, keepdim)', (x) => x.mean(2, true), 'x.mean(2, keepdim=True)', [2, 0, 1]],
  ['mean()', (x) => x.mean(), 'x.mean()', []],
  ['max(2)', (x) => x.max(2), 'x.max(2)[0]', [2, 0]],
  ['max(0, keepdim)', (x) => x.max(0, true), 'x.max(0, keepdim=True)[0]', [1, 0, 3]],
  ['min(2)', (x) => x.min(2), 'x.min(2)[0]', [2, 0]],
  ['softmax(2)', (x) => x.softmax(2), 'x.softmax(2)', [2, 0, 3]],
  ['logSoftmax(1)', (x) => x.logSoftmax(1), 'x.log_softmax(1)', [2, 0, 3]],
  ['matmul [3, 4]', (x) => x.matmul(ones([3, 4], f64)), 'x @ torch.ones(3, 4, dtype=torch.float64)', [2, 0, 4]],
  [
    'linear',
    (x) => F.linear(x, ones([4, 3], f64), ones([4], f64)),
    'F.linear(x, torch.ones(4, 3, dtype=torch.float64), torch.ones(4, dtype=torch.float64))',
    [2, 0, 4],
  ],
  ['transpose(0, 1)', (x) => x.transpose(0, 1), 'x.transpose(0, 1)', [0, 2, 3]],
  ['permute', (x) => x.permute([2, 0, 1]), 'x.permute(2, 0, 1)', [3, 2, 0]],
  ['flatten', (x) => x.flatten(), 'x.flatten()', [0]],
  ['reshape [0, 6]', (x) => x.reshape([0, 6]), 'x.reshape(0, 6)', [0, 6]],
  ['unsqueeze(1)', (x) => x.unsqueeze(1), 'x.unsqueeze(1)', [2, 1, 0, 3]],
  ['narrow(2, 1, 2)', (x) => x.narrow(2, 1, 2), 'x.narrow(2, 1, 2)', [2, 0, 2]],
  ['indexSelect(2, [0, 2])', (x) => x.indexSelect(2, [0, 2]), 'x.index_select(2, torch.tensor([0, 2]))', [2, 0, 2]],
  ['layerNorm [3]', (x) => F.layerNorm(x, [3]), 'F.layer_norm(x, [3])', [2, 0, 3]],
  [
    'mseLoss sum',
    (x) => F.mseLoss(x, x.detach(), { reduction: 'sum' }),
    "F.mse_loss(x, x.detach(), reduction='sum')",
    [],
  ],
];

// Over the 0-d x = 0.7.
const SCALAR_CASES: Case[] = [
  ['exp', (x) => x.exp(), 'x.exp()', []],
  ['sum(0)', (x) => x.sum(0), 'x.sum(0)', []],
  ['mean(0, keepdim)', (x) => x.mean(0, true), 'x.mean(0, keepdim=True)', []],
  ['max(0)', (x) => x.max(0), 'x.max(0)[0]', []],
  ['max(0, keepdim)', (x) => x.max(0, true), 'x.max(0, keepdim=True)[0]', []],
  ['softmax(0)', (x) => x.softmax(0), 'x.softmax(0)', []],
  ['logSoftmax(0)', (x) => x.logSoftmax(0), 'x.log_softmax(0)', []],
  ['indexSelect(0, [0])', (x) => x.indexSelect(0, [0]).mul(3), 'x.index_select(0, torch.tensor([0])) * 3', []],
  ['unsqueeze(0)', (x) => x.unsqueeze(0).mul(2), 'x.unsqueeze(0) * 2', [1]],
  ['flatten', (x) => x.flatten().mul(2), 'x.flatten() * 2', [1]],
  ['mul broadcast [2]', (x) => x.mul(tensor([1, 2], f64)), 'x * torch.tensor([1., 2.], dtype=torch.float64)', [2]],
];

function torchReference(cases: Case[], xExpr: string): { shape: number[]; y: number[]; g: number[] }[] {
  const script = `
import json, math, torch
import torch.nn.functional as F
out = []
for e in json.loads(input()):
    x = ${xExpr}
    y = eval(e)
    y.sum().backward()
    out.append({'shape': list(y.shape), 'y': [str(v) for v in y.detach().flatten().tolist()],
                'g': [str(v) for v in x.grad.flatten().tolist()]})
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', script], {
    input: JSON.stringify(cases.map((c) => c[2])) + '\n',
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`torch failed: ${r.stderr}`);
  const raw = JSON.parse(r.stdout) as { shape: number[]; y: string[]; g: string[] }[];
  return raw.map((o) => ({ shape: o.shape, y: o.y.map(Number), g: o.g.map(Number) }));
}

for (const name of backendsHere()) {
  describe(`empty and 0-d tensors on the ${name} backend`, () => {
    test('the regressions of issue 19', () => {
      backend.use(name);
      // [5, 5, 0] @ [0, 5]: the empty sum is 0, so zeros [5, 5, 5] (it threw in a reshape).
      const a = zeros([5, 5, 0], { ...f64, requiresGrad: true });
      const b = zeros([0, 5], { ...f64, requiresGrad: true });
      const c = a.matmul(b);
      expect(c.shape).toEqual([5, 5, 5]);
      expect(values(c)).toEqual(new Array(125).fill(0));
      c.sum().backward();
      expect(a.grad?.shape).toEqual([5, 5, 0]);
      expect(b.grad?.shape).toEqual([0, 5]);
      // The batched path (both operands 3-D) and the 2-D one give zeros too.
      expect(values(ones([2, 3, 0], f64).matmul(ones([2, 0, 4], f64)))).toEqual(new Array(24).fill(0));
      expect(values(ones([3, 0], f64).matmul(ones([0, 2], f64)))).toEqual(new Array(6).fill(0));
      // Reductions over a non-empty dim of an empty tensor give empty outputs.
      expect(zeros([0, 3]).max(1).shape).toEqual([0]);
      expect(zeros([0, 3]).argmax(1).shape).toEqual([0]);
      expect(zeros([0, 3]).mean(1).shape).toEqual([0]);
      // Over the empty dim: mean is 0 / 0 = NaN, sum 0 (torch); max has no value and throws as torch does.
      expect(values(zeros([0, 3]).mean(0))).toEqual([NaN, NaN, NaN]);
      expect(values(zeros([0, 3]).sum(0))).toEqual([0, 0, 0]);
      expect(() => zeros([0, 3]).max(0)).toThrow(/max: input of shape \[0, 3\] is empty and has no maximum over dim 0/);
      expect(() => zeros([0, 3]).argmax()).toThrow(/argmax: .* over all elements/);
      const ln = F.layerNorm(zeros([0, 1]), [1]);
      expect(ln.shape).toEqual([0, 1]);
      // 0-d: dim 0 is the tensor itself, and the result stays 0-d.
      const s = tensor(3, f64);
      expect(s.argmax(0, true).shape).toEqual([]);
      expect(s.argmax(0).shape).toEqual([]);
      expect(s.argmax(0).item()).toBe(0);
      const si = s.indexSelect(0, [0]);
      expect(si.shape).toEqual([]);
      expect(si.item()).toBe(3);
      expect(() => s.indexSelect(0, [0, 0])).toThrow(/indexSelect: a 0-d input takes exactly one index, got 2/);
    });

    test('linear with in = 0 gives the bias, and its gradients are zeros', () => {
      backend.use(name);
      const x = zeros([2, 0], { ...f64, requiresGrad: true });
      const w = zeros([3, 0], { ...f64, requiresGrad: true });
      const bias = tensor([1, 2, 3], { ...f64, requiresGrad: true });
      const y = F.linear(x, w, bias);
      expect(values(y)).toEqual([1, 2, 3, 1, 2, 3]);
      y.sum().backward();
      expect(values(bias.grad!)).toEqual([2, 2, 2]); // two rows of ones
      expect(w.grad?.shape).toEqual([3, 0]);
      // No rows: the bias gradient is zeros (the sum over no rows).
      const b2 = tensor([1, 2, 3], { ...f64, requiresGrad: true });
      F.linear(zeros([0, 4], f64), ones([3, 4], f64), b2)
        .sum()
        .backward();
      expect(values(b2.grad!)).toEqual([0, 0, 0]);
    });

    describe("sweep over a [2, 0, 3] input: shape as torch, gradient of the input's shape", () => {
      for (const [title, fn, , shape] of EMPTY_CASES) {
        test(title, () => {
          backend.use(name);
          const x = zeros([2, 0, 3], { ...f64, requiresGrad: true });
          const y = fn(x);
          expect(y.shape).toEqual(shape);
          y.sum().backward();
          expect(x.grad?.shape).toEqual([2, 0, 3]);
        });
      }
    });

    describe('sweep over a 0-d input: shape as torch, gradcheck in float64', () => {
      for (const [title, fn, , shape] of SCALAR_CASES) {
        test(title, () => {
          backend.use(name);
          const x = tensor(0.7, { ...f64, requiresGrad: true });
          expect(fn(x).shape).toEqual(shape);
          expect(gradcheck(fn, [x])).toBe(true);
        });
      }
    });
  });
}

// BACKPROP_REQUIRE_TORCH=1 makes torchHere() throw instead of skipping.
describe.skipIf(!torchHere())('empty and 0-d tensors equal PyTorch 1.13 (float64)', () => {
  const groups: [string, Case[], string, () => Tensor][] = [
    [
      '[2, 0, 3]',
      EMPTY_CASES,
      'torch.zeros(2, 0, 3, dtype=torch.float64, requires_grad=True)',
      () => zeros([2, 0, 3], { ...f64, requiresGrad: true }),
    ],
    [
      '0-d',
      SCALAR_CASES,
      'torch.tensor(0.7, dtype=torch.float64, requires_grad=True)',
      () => tensor(0.7, { ...f64, requiresGrad: true }),
    ],
  ];
  for (const [what, cases, xExpr, makeX] of groups) {
    test(`${what}: shapes, values and gradients on every backend`, () => {
      const ref = torchReference(cases, xExpr);
      for (const name of backendsHere()) {
        backend.use(name);
        cases.forEach(([title, fn], i) => {
          const x = makeX();
          const y = fn(x);
          y.sum().backward();
          const got = { shape: y.shape, y: values(y), g: values(x.grad!) };
          for (const [k, want] of Object.entries(ref[i])) {
            const have = got[k as keyof typeof got];
            expect(have.length, `${name} ${title} ${k}`).toBe(want.length);
            want.forEach((v: number, j: number) => {
              if (Number.isNaN(v)) expect(have[j], `${name} ${title} ${k}[${j}]`).toBeNaN();
              else expect(Math.abs(have[j] - v), `${name} ${title} ${k}[${j}]: ${have[j]} vs ${v}`).toBeLessThan(1e-12);
            });
          }
        });
      }
    });
  }
});
