// torch's elementwise options (issue 19): add/sub alpha, div roundingMode, gelu's tanh
// approximation, softmax/logSoftmax dtype, amax/amin over several dims, sign's zero gradient.
// gradcheck (and gradgradcheck where the op is smooth) in float64 on every backend; values and
// gradients against PyTorch 1.13 in float64 whenever /usr/bin/python3 imports torch.
import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Tensor, backend, grad, gradcheck, gradgradcheck, nn, F, tensor } from '../lib/index.js';
import { backendsHere } from './support/autograd.js';
import { PYTHON, torchHere } from './support/torch.js';

const f64 = { dtype: 'float64' as const };
// x has ties along both dims (for amax/amin's shared gradient) and negatives (for the roundings).
const X = [
  [1, 3, 3, -2],
  [0.5, -1, 2, 2],
  [3, 0, -4.25, 1.5],
];
const Y = [0.7, -1.3, 2, -0.4];
const leafX = (): Tensor => tensor(X, { ...f64, requiresGrad: true });
const leafY = (): Tensor => tensor(Y, { ...f64, requiresGrad: true });
const values = (t: Tensor): number[] => Array.from(t.data as ArrayLike<number>, Number);

// [name, our op of (x, y), torch's expression in x and y, smooth (gradgradcheck)]
type Case = [string, (x: Tensor, y: Tensor) => Tensor, string, boolean];
const CASES: Case[] = [
  ['add alpha tensor', (x, y) => x.add(y, { alpha: -2.5 }), 'torch.add(x, y, alpha=-2.5)', true],
  ['add alpha number', (x) => x.add(3, { alpha: 0.5 }), 'torch.add(x, 3, alpha=0.5)', true],
  ['sub alpha tensor', (x, y) => x.sub(y, { alpha: 3 }), 'torch.sub(x, y, alpha=3)', true],
  ['sub alpha, y first', (x, y) => y.sub(x, { alpha: 0.25 }), 'torch.sub(y, x, alpha=0.25)', true],
  ['div trunc', (x, y) => x.div(y, { roundingMode: 'trunc' }), "torch.div(x, y, rounding_mode='trunc')", false],
  ['div floor', (x, y) => x.div(y, { roundingMode: 'floor' }), "torch.div(x, y, rounding_mode='floor')", false],
  [
    'div floor number',
    (x) => x.div(-0.3, { roundingMode: 'floor' }),
    "torch.div(x, -0.3, rounding_mode='floor')",
    false,
  ],
  ['div null', (x, y) => x.div(y, { roundingMode: null }), 'torch.div(x, y, rounding_mode=None)', true],
  ['gelu tanh', (x) => F.gelu(x.mul(0.7), { approximate: 'tanh' }), "F.gelu(x * 0.7, approximate='tanh')", true],
  ['gelu none', (x) => x.gelu({ approximate: 'none' }), "F.gelu(x, approximate='none')", true],
  ['softmax dtype', (x) => x.softmax(1, { dtype: 'float64' }), 'x.softmax(1, dtype=torch.float64)', true],
  [
    'logSoftmax dtype',
    (x) => F.logSoftmax(x, 0, { dtype: 'float64' }),
    'F.log_softmax(x, 0, dtype=torch.float64)',
    true,
  ],
  ['amax [0, 1]', (x) => x.amax([0, 1]), 'x.amax([0, 1])', false],
  ['amax 1 keepdim', (x) => x.amax(1, true), 'x.amax(1, keepdim=True)', false],
  ['amin [1, 0]', (x) => x.amin([1, 0]), 'x.amin([1, 0])', false],
  ['amin 0', (x) => x.amin(0), 'x.amin(0)', false],
  ['amax all', (x) => x.amax(), 'x.amax()', false],
  ['sign', (x, y) => x.sign().mul(y), 'x.sign() * y', false],
];

/** The weights the tests contract the output with (so that every output element counts). */
const weights = (n: number): number[] => Array.from({ length: n }, (_, i) => Math.cos(i + 1));
const contract = (out: Tensor): Tensor =>
  out
    .flatten()
    .mul(tensor(weights(out.size), f64))
    .sum();

for (const name of backendsHere()) {
  describe(`elementwise options on the ${name} backend`, () => {
    for (const [title, fn, , smooth] of CASES) {
      test(`${title}: gradcheck${smooth ? ' and gradgradcheck' : ''} in float64`, () => {
        backend.use(name);
        // Inputs away from the jumps and ties (the finite differences cross neither).
        const x = tensor(
          X.map((r, i) => r.map((v, j) => v + 0.01 * (i * 4 + j + 1))),
          { ...f64, requiresGrad: true },
        );
        // An op of x alone (fn.length 1) leaves y out of the check.
        const y = tensor(Y, { ...f64, requiresGrad: fn.length === 2 });
        expect(gradcheck(fn, [x, y])).toBe(true);
        if (smooth) expect(gradgradcheck(fn, [x, y])).toBe(true);
      });
    }

    test('values by hand: alpha, rounding modes, sign, amax ties', () => {
      backend.use(name);
      const a = tensor([7, -7, 7.5, -0.5], f64);
      const b = tensor([2, 2, -2, 4], f64);
      expect(values(a.add(b, { alpha: 2 }))).toEqual([11, -3, 3.5, 7.5]);
      expect(values(a.sub(b, { alpha: 0.5 }))).toEqual([6, -8, 8.5, -2.5]);
      expect(values(a.div(b, { roundingMode: 'trunc' }))).toEqual([3, -3, -3, -0]);
      expect(values(a.div(b, { roundingMode: 'floor' }))).toEqual([3, -4, -4, -1]);
      // -0.3 / 0.1 is -2.9999999999999996 in doubles; torch's floor division gives -3, not -4.
      expect(values(tensor([-0.3], f64).div(0.1, { roundingMode: 'floor' }))).toEqual([-3]);
      // Division by zero keeps the IEEE quotient, as torch.
      expect(values(tensor([1, -1, 0], f64).div(0, { roundingMode: 'floor' }))).toEqual([Infinity, -Infinity, NaN]);
      // Ties share amax's gradient: row 0 has two 3s, the whole tensor three.
      const x = leafX();
      const [g] = grad(x.amax(1).sum(), [x]);
      expect(values(g)).toEqual([0, 0.5, 0.5, 0, 0, 0, 0.5, 0.5, 1, 0, 0, 0]);
      const [gAll] = grad(x.amax(), [x]);
      expect(values(gAll)).toEqual([0, 1 / 3, 1 / 3, 0, 0, 0, 0, 0, 1 / 3, 0, 0, 0]);
      // sign: differentiable with a zero gradient (torch), even where x is 0.
      const s = tensor([-2, 0, 3], { ...f64, requiresGrad: true });
      const [gs] = grad(s.sign().sum(), [s]);
      expect(values(gs)).toEqual([0, 0, 0]);
      // softmax with a dtype casts first: a float32 input gives a float64 result.
      expect(tensor([1, 2], { dtype: 'float32' }).softmax(0, { dtype: 'float64' }).dtype).toBe('float64');
      // The GELU module takes the option too.
      const m = new nn.GELU({ approximate: 'tanh' });
      expect(values(m.forward(tensor([1], f64)))[0]).toBeCloseTo(0.8411919906082768, 14);
    });

    test('bad options name the op', () => {
      backend.use(name);
      const x = leafX();
      expect(() => x.add(1, { alpha: '2' as unknown as number })).toThrow(/add: alpha must be a number/);
      expect(() => x.div(2, { roundingMode: 'round' as 'floor' })).toThrow(/div: roundingMode must be/);
      expect(() => F.gelu(x, { approximate: 'erf' as 'tanh' })).toThrow(/gelu: approximate must be 'none' or 'tanh'/);
      expect(() => x.softmax(0, { dtype: 'int8' as 'float32' })).toThrow(/softmax: dtype must be/);
      expect(() => tensor([[]], f64).amax(1)).toThrow(/amax: input of shape \[1, 0\] is empty along dim 1/);
    });
  });
}

// BACKPROP_REQUIRE_TORCH=1 makes torchHere() throw instead of skipping.
describe.skipIf(!torchHere())('elementwise options equal PyTorch 1.13 (float64)', () => {
  test('values and gradients of x and y on every backend', () => {
    const script = `
import json, math, torch
import torch.nn.functional as F
d = json.loads(input())
out = []
for e in d['cases']:
    x = torch.tensor(d['x'], dtype=torch.float64, requires_grad=True)
    y = torch.tensor(d['y'], dtype=torch.float64, requires_grad=True)
    r = eval(e)
    w = torch.tensor([math.cos(i + 1) for i in range(r.numel())], dtype=torch.float64)
    (r.flatten() * w).sum().backward()
    gy = y.grad if y.grad is not None else torch.zeros_like(y)
    out.append([[str(v) for v in t.detach().flatten().tolist()] for t in (r, x.grad, gy)] + [list(r.shape)])
print(json.dumps(out))
`;
    const r = spawnSync(PYTHON, ['-c', script], {
      input: JSON.stringify({ x: X, y: Y, cases: CASES.map((c) => c[2]) }) + '\n',
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const ref = JSON.parse(r.stdout) as [string[], string[], string[], number[]][];
    for (const name of backendsHere()) {
      backend.use(name);
      CASES.forEach(([title, fn], i) => {
        const x = leafX();
        const y = leafY();
        const out = fn(x, y);
        const [gx, gy] = grad(contract(out), [x, y], { allowUnused: true });
        expect(out.shape, `${name} ${title} shape`).toEqual(ref[i][3]);
        const got = [values(out), values(gx!), gy === null ? [0, 0, 0, 0] : values(gy)];
        got.forEach((have, k) => {
          const want = ref[i][k].map(Number);
          expect(have.length, `${name} ${title} [${k}]`).toBe(want.length);
          want.forEach((v, j) => {
            if (Number.isNaN(v)) expect(have[j]).toBeNaN();
            else
              expect(Math.abs(have[j] - v), `${name} ${title} [${k}][${j}]: ${have[j]} vs ${v}`).toBeLessThanOrEqual(
                1e-12 * (1 + Math.abs(v)),
              );
          });
        });
      });
    }
  });
});
