// Cross-check against torch.autograd.functional (skipped where python3 lacks torch:
// test/support/torch.ts): jacobian, hessian, vjp, jvp, vhp and hvp of the same functions at the
// same float64 points, on both backends, including the nesting of the results.

import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, hessian, hvp, jacobian, jvp, tensor, vhp, vjp } from '../lib/index.js';
import { backendsHere } from './support/autograd.js';
import { PYTHON, torchHere } from './support/torch.js';

const A = [0.3, -0.7, 1.1];
const B = [
  [0.5, -0.2, 0.9],
  [-1.3, 0.4, 0.25],
];
const V_OUT = [[0.6, -1.1], 0.8];
const V_IN = [
  [0.2, 0.5, -0.4],
  [
    [1.0, -0.3, 0.7],
    [0.1, 0.9, -0.6],
  ],
];

const SCRIPT = String.raw`
import json, torch
from torch.autograd import functional as AF
torch.set_default_dtype(torch.float64)
a = torch.tensor(${JSON.stringify(A)}); B = torch.tensor(${JSON.stringify(B)})
vo = (torch.tensor(${JSON.stringify(V_OUT[0])}), torch.tensor(${JSON.stringify(V_OUT[1])}))
vi = (torch.tensor(${JSON.stringify(V_IN[0])}), torch.tensor(${JSON.stringify(V_IN[1])}))
def f2(a, B):
    return (B @ a.tanh() * a[:2].exp(), ((a * a).sum() * B.sum()).sigmoid())
def s2(a, B):
    return (B @ a.tanh()).exp().sum() + (a * a).sum() * (B * B).sum()
L = lambda t: t.tolist()
out = {}
out['jac'] = [[L(j) for j in row] for row in AF.jacobian(f2, (a, B))]
out['jac1'] = L(AF.jacobian(lambda x: f2(x, B)[0], a))
out['hes'] = [[L(h) for h in row] for row in AF.hessian(s2, (a, B))]
out['vjp'] = [L(t) for t in AF.vjp(f2, (a, B), vo)[1]]
out['jvp'] = [L(t) for t in AF.jvp(f2, (a, B), vi)[1]]
out['vhp'] = [L(t) for t in AF.vhp(s2, (a, B), vi)[1]]
out['hvp'] = [L(t) for t in AF.hvp(s2, (a, B), vi)[1]]
print(json.dumps(out))
`;

type Nested = number | Nested[];

function runTorch(): Record<string, Nested> {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`torch reference script failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, Nested>;
}

const ref = torchHere() ? runTorch() : null;
const initial = backend.current();
afterAll(() => backend.use(initial));

const f64 = (v: Nested): Tensor => tensor(v, { dtype: 'float64' });
const f2 = (a: Tensor, b: Tensor): Tensor[] => [
  b.matmul(a.tanh()).mul(a.narrow(0, 0, 2).exp()),
  a.mul(a).sum().mul(b.sum()).sigmoid(),
];
const s2 = (a: Tensor, b: Tensor): Tensor =>
  b
    .matmul(a.tanh())
    .exp()
    .sum()
    .add(a.mul(a).sum().mul(b.mul(b).sum()));

function expectTorch(got: Tensor, want: Nested): void {
  const flatten = (v: Nested): number[] => (Array.isArray(v) ? v.flatMap(flatten) : [v]);
  const flat = flatten(want);
  const shapeOf = (v: Nested): number[] => (Array.isArray(v) ? [v.length, ...shapeOf(v[0])] : []);
  expect(got.shape).toEqual(shapeOf(want));
  Array.from(got.data).forEach((g, i) => {
    if (!(Math.abs(g - flat[i]) <= 1e-12 * Math.max(1, Math.abs(flat[i])))) {
      throw new Error(`element ${i}: backprop ${g}, torch ${flat[i]}`);
    }
  });
}

describe.skipIf(ref === null)('agreement with torch.autograd.functional', () => {
  for (const name of ref === null ? [] : backendsHere()) {
    test(`jacobian, hessian, vjp, jvp, vhp, hvp on ${name}, float64`, () => {
      backend.use(name);
      const r = ref as Record<string, Nested>;
      const a = f64(A);
      const b = f64(B);
      const J = jacobian(f2, [a, b]) as Tensor[][];
      (r.jac as Nested[][]).forEach((row, i) => row.forEach((want, j) => expectTorch(J[i][j], want)));
      expectTorch(jacobian((x) => f2(x, b)[0], a) as Tensor, r.jac1);
      const H = hessian(s2, [a, b]) as Tensor[][];
      (r.hes as Nested[][]).forEach((row, i) => row.forEach((want, j) => expectTorch(H[i][j], want)));
      const vo = [f64(V_OUT[0]), f64(V_OUT[1])];
      const vi = [f64(V_IN[0]), f64(V_IN[1])];
      vjp(f2, [a, b], vo).vjp.forEach((t, i) => expectTorch(t, (r.vjp as Nested[])[i]));
      jvp(f2, [a, b], vi).jvp.forEach((t, i) => expectTorch(t, (r.jvp as Nested[])[i]));
      vhp(s2, [a, b], vi).vhp.forEach((t, i) => expectTorch(t, (r.vhp as Nested[])[i]));
      hvp(s2, [a, b], vi).hvp.forEach((t, i) => expectTorch(t, (r.hvp as Nested[])[i]));
    });
  }
});
