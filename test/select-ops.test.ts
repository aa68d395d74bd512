// where, maskedFill, clamp, cumsum and logsumexp (issue 19): gradcheck and gradgradcheck in float64
// on every backend, values by hand, and values and gradients against PyTorch 1.13 in float64
// whenever /usr/bin/python3 imports torch.
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Tensor, backend, grad, gradcheck, gradgradcheck, tensor, where } from '../lib/index.js';
import { backendsHere } from './support/autograd.js';
import { PYTHON, torchHere } from './support/torch.js';

const f64 = { dtype: 'float64' as const };
const X = [
  [1.1, -3.2, 0.3, -0.45],
  [0.52, -1.7, 2.3, 2.05],
  [3.3, 0.1, -4.25, 1.5],
];
const Y = [0.7, -1.3, 2.2, -0.4];
const C = [
  [true, false, false, true],
  [false, false, true, true],
  [true, true, false, false],
];
const cond = (): Tensor => tensor(C, { dtype: 'bool' });
const row = (): Tensor => tensor([true, false, true, false], { dtype: 'bool' });
const values = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>, Number);

// [name, ours, torch's expression in x, y, c (bool [3, 4]) and r (bool [4])]
type Case = [string, (x: Tensor, y: Tensor) => Tensor, string];
const CASES: Case[] = [
  ['where(c, x, y)', (x, y) => where(cond(), x, y), 'torch.where(c, x, y)'],
  ['x.where(r, y)', (x, y) => x.where(row(), y.mul(2)), 'torch.where(r, x, y * 2)'],
  ['where(c, x, 2.5)', (x) => where(cond(), x, 2.5), 'torch.where(c, x, torch.tensor(2.5, dtype=torch.float64))'],
  ['maskedFill(r, -1)', (x) => x.maskedFill(row(), -1), 'x.masked_fill(r, -1)'],
  ['maskedFill(c, 0)', (x) => x.mul(x).maskedFill(cond(), 0), '(x * x).masked_fill(c, 0)'],
  ['clamp(-1, 1)', (x) => x.clamp(-1, 1), 'x.clamp(-1, 1)'],
  ['clamp(null, 0.5)', (x) => x.clamp(null, 0.5), 'x.clamp(max=0.5)'],
  ['clamp(0.2)', (x) => x.clamp(0.2), 'x.clamp(min=0.2)'],
  ['cumsum(1)', (x) => x.cumsum(1), 'x.cumsum(1)'],
  ['cumsum(-2) squared', (x) => x.cumsum(-2).mul(x), 'x.cumsum(-2) * x'],
  ['logsumexp(1)', (x) => x.logsumexp(1), 'x.logsumexp(1)'],
  ['logsumexp([0, 1], keepdim)', (x) => x.logsumexp([0, 1], true), 'x.logsumexp([0, 1], keepdim=True)'],
  ['logsumexp(0) of x*y', (x, y) => x.mul(y).logsumexp(0), '(x * y).logsumexp(0)'],
];
const weights = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.cos(i + 1));
const contract = (out: Tensor): Tensor =>
  out
    .flatten()
    .mul(tensor(weights(out.size), f64))
    .sum();

for (const name of backendsHere()) {
  describe(`where, maskedFill, clamp, cumsum, logsumexp on the ${name} backend`, () => {
    for (const [title, fn] of CASES) {
      test(`${title}: gradcheck and gradgradcheck in float64`, () => {
        backend.use(name);
        const x = tensor(X, { ...f64, requiresGrad: true });
        const y = tensor(Y, { ...f64, requiresGrad: fn.length === 2 });
        expect(gradcheck(fn, [x, y])).toBe(true);
        expect(gradgradcheck(fn, [x, y])).toBe(true);
      });
    }

    test('values by hand', () => {
      backend.use(name);
      const a = tensor([-2, -1, 0, 1, 2, NaN], { ...f64, requiresGrad: true });
      const c = a.clamp(-1, 1);
      expect(values(c)).toEqual([-1, -1, 0, 1, 1, NaN]);
      // torch: the gradient passes where min <= x <= max, bounds included.
      expect(values(grad(c.sum(), [a])[0])).toEqual([0, 1, 1, 1, 0, 0]);
      expect(values(tensor([1, 2, 3, 4], f64).reshape([2, 2]).cumsum(0))).toEqual([1, 2, 4, 6]);
      expect(values(tensor([1, 2, 3, 4], f64).reshape([2, 2]).cumsum(1))).toEqual([1, 3, 3, 7]);
      // logsumexp shifts by the maximum: no overflow at 1000, and -inf rows give -inf, not NaN.
      const big = tensor([1000, 1000], f64).logsumexp(0);
      expect(big.item()).toBeCloseTo(1000 + Math.log(2), 10);
      expect(tensor([-Infinity, -Infinity], f64).logsumexp(0).item()).toBe(-Infinity);
      const w = where(tensor([true, false], { dtype: 'bool' }), tensor([1, 2], f64), tensor([Infinity, 5], f64));
      expect(values(w)).toEqual([1, 5]);
    });

    test('comparisons give bool tensors, broadcast, NaN as IEEE', () => {
      backend.use(name);
      const a = tensor([[1, 2, NaN]], f64);
      const b = tensor([[2], [NaN], [1]], f64);
      const table: [string, (p: Tensor, q: Tensor) => Tensor, (x: number, y: number) => boolean][] = [
        ['gt', (p, q) => p.gt(q), (x, y) => x > y],
        ['lt', (p, q) => p.lt(q), (x, y) => x < y],
        ['ge', (p, q) => p.ge(q), (x, y) => x >= y],
        ['le', (p, q) => p.le(q), (x, y) => x <= y],
        ['eq', (p, q) => p.eq(q), (x, y) => x === y],
        ['ne', (p, q) => p.ne(q), (x, y) => x !== y],
      ];
      for (const [op, fn, ref] of table) {
        const r = fn(a, b);
        expect(r.dtype, op).toBe('bool');
        expect(r.shape, op).toEqual([3, 3]);
        const want = [2, NaN, 1].flatMap((y) => [1, 2, NaN].map((x) => ref(x, y)));
        expect(r.toArray(), op).toEqual([want.slice(0, 3), want.slice(3, 6), want.slice(6)]);
      }
      // A comparison is a mask where and maskedFill take directly.
      const x = tensor([-1, 2, -3], f64);
      expect(values(x.maskedFill(x.lt(0), 0))).toEqual([0, 2, 0]);
      expect(values(where(x.gt(0), x, x.neg()))).toEqual([1, 2, 3]);
      expect(x.ne(2).requiresGrad).toBe(false);
    });

    test('errors name the op', () => {
      backend.use(name);
      const x = tensor(X, f64);
      expect(() => where(x, x, x)).toThrow(/where: condition must be a bool tensor, got dtype 'float64'/);
      expect(() => x.maskedFill(tensor([true, false], { dtype: 'bool' }), 0)).toThrow(/maskedFill/);
      expect(() => x.clamp()).toThrow(/clamp: at least one of min and max/);
      expect(() => x.cumsum(2)).toThrow(/cumsum: dim 2 is out of range/);
    });
  });
}

describe.skipIf(!torchHere())('where, maskedFill, clamp, cumsum, logsumexp equal PyTorch 1.13 (float64)', () => {
  test('values and gradients on every backend', () => {
    const script = `
import json, math, torch
d = json.loads(input())
c = torch.tensor(d['c'])
r = torch.tensor(d['r'])
out = []
for e in d['cases']:
    x = torch.tensor(d['x'], dtype=torch.float64, requires_grad=True)
    y = torch.tensor(d['y'], dtype=torch.float64, requires_grad=True)
    o = eval(e)
    w = torch.tensor([math.cos(i + 1) for i in range(o.numel())], dtype=torch.float64)
    (o.flatten() * w).sum().backward()
    gy = y.grad if y.grad is not None else torch.zeros_like(y)
    out.append([[str(v) for v in t.detach().flatten().tolist()] for t in (o, x.grad, gy)] + [list(o.shape)])
print(json.dumps(out))
`;
    const r = spawnSync(PYTHON, ['-c', script], {
      input: JSON.stringify({ x: X, y: Y, c: C, r: [true, false, true, false], cases: CASES.map((k) => k[2]) }) + '\n',
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const ref = JSON.parse(r.stdout) as [string[], string[], string[], number[]][];
    for (const name of backendsHere()) {
      backend.use(name);
      CASES.forEach(([title, fn], i) => {
        const x = tensor(X, { ...f64, requiresGrad: true });
        const y = tensor(Y, { ...f64, requiresGrad: true });
        const out = fn(x, y);
        const [gx, gy] = grad(contract(out), [x, y], { allowUnused: true });
        expect(out.shape, `${name} ${title} shape`).toEqual(ref[i][3]);
        const got = [values(out), values(gx!), gy === null ? [0, 0, 0, 0] : values(gy)];
        got.forEach((have, k) => {
          const want = ref[i][k].map(Number);
          expect(have.length, `${name} ${title} [${k}]`).toBe(want.length);
          want.forEach((v, j) => {
            expect(Math.abs(have[j] - v), `${name} ${title} [${k}][${j}]: ${have[j]} vs ${v}`).toBeLessThanOrEqual(
              1e-12 * (1 + Math.abs(v)),
            );
          });
        });
      });
    }
  });
});
