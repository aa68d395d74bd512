// jacobian, hessian, vjp, jvp, vhp and gnvp on both backends in float64, against central finite
// differences (of outputs for J, of gradients for H) and, for the Gauss-Newton product, against
// Jᵀ H_L J formed explicitly from a finite-difference J and the loss Hessian in closed form.

import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  Tensor,
  backend,
  grad,
  gnvp,
  hessian,
  hvp,
  jacobian,
  jvp,
  tensor,
  vhp,
  vjp,
  zeros,
  F,
  nn,
} from '../lib/index.js';
import { backendsHere, leaf } from './support/autograd.js';
import { Rng } from './support/random.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

const EPS = 1e-6;

/** fn with several outputs of different shapes, nonlinear in both inputs. */
function fn2(a: Tensor, B: Tensor): Tensor[] {
  return [B.matmul(a.tanh()).mul(a.narrow(0, 0, 2).exp()), a.mul(a).sum().mul(B.sum()).sigmoid()];
}

/** A scalar function of two inputs with cross terms, so the off-diagonal Hessian blocks are not 0. */
function scalar2(a: Tensor, B: Tensor): Tensor {
  return B.matmul(a.tanh())
    .exp()
    .sum()
    .add(a.mul(a).sum().mul(B.mul(B).sum()));
}

const values = (t: Tensor): number[] => Array.from(t.data);

/** J[o][x] (rows: the concatenated outputs' elements, columns: the inputs' elements) by central differences. */
function fdJacobian(f: (...xs: Tensor[]) => Tensor[], xs: Tensor[]): number[][] {
  const cols: number[][] = [];
  for (const x of xs) {
    for (let k = 0; k < x.size; k++) {
      const orig = x.data[k];
      x.data[k] = orig + EPS;
      const plus = f(...xs).flatMap(values);
      x.data[k] = orig - EPS;
      const minus = f(...xs).flatMap(values);
      x.data[k] = orig;
      cols.push(plus.map((p, i) => (p - minus[i]) / (2 * EPS)));
    }
  }
  return cols[0].map((_, i) => cols.map((c) => c[i]));
}

/** The flat gradient of a scalar function (exact, by backward). */
function flatGrad(f: (...xs: Tensor[]) => Tensor, xs: Tensor[]): Tensor[] {
  const ls = xs.map((x) => x.detach().requiresGrad_());
  return grad(f(...ls), ls);
}

function expectClose(got: number[], want: number[], tol: number): void {
  expect(got.length).toBe(want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  got.forEach((g, i) => {
    if (Math.abs(g - want[i]) > tol * scale) expect(g).toBeCloseTo(want[i], 12); // fails with both values shown
  });
}

const matVec = (M: number[][], v: number[]): number[] => M.map((row) => row.reduce((s, m, j) => s + m * v[j], 0));
const vecMat = (v: number[], M: number[][]): number[] =>
  M[0].map((_, j) => M.reduce((s, row, i) => s + v[i] * row[j], 0));

for (const name of backendsHere()) {
  describe(`second order on ${name}, float64`, () => {
    beforeAll(() => backend.use(name));

    const rng = new Rng(17);
    const a = leaf(rng, [3], { requiresGrad: false });
    const B = leaf(rng, [2, 3], { requiresGrad: false });
    const Jfd = fdJacobian(fn2, [a, B]); // rows: out0 (2) + out1 (1); cols: a (3) + B (6)

    test('jacobian nests as torch and matches finite differences', () => {
      const J = jacobian(fn2, [a, B]) as Tensor[][];
      expect(J.length).toBe(2);
      expect(J[0][0].shape).toEqual([2, 3]);
      expect(J[0][1].shape).toEqual([2, 2, 3]);
      expect(J[1][0].shape).toEqual([3]);
      expect(J[1][1].shape).toEqual([2, 3]);
      const rowsOf = (o: number): number[][] =>
        o === 0
          ? [0, 1].map((r) => [...values(J[0][0]).slice(3 * r, 3 * r + 3), ...values(J[0][1]).slice(6 * r, 6 * r + 6)])
          : [[...values(J[1][0]), ...values(J[1][1])]];
      expectClose([...rowsOf(0), ...rowsOf(1)].flat(), Jfd.flat(), 1e-7);
      // One input and one output: a single Tensor; one output and several inputs: a flat array.
      const single = jacobian((x) => fn2(x, B)[0], a) as Tensor;
      expect(single).toBeInstanceOf(Tensor);
      expectClose(
        values(single),
        Jfd.slice(0, 2).flatMap((r) => r.slice(0, 3)),
        1e-7,
      );
      const oneOut = jacobian((x, y) => fn2(x, y)[1], [a, B]) as Tensor[];
      expect(oneOut.map((t) => t.shape)).toEqual([[3], [2, 3]]);
      const oneIn = jacobian((x) => fn2(x, B), a) as Tensor[];
      expect(oneIn.map((t) => t.shape)).toEqual([[2, 3], [3]]);
    });

    test('vjp is vᵀJ shaped like the inputs; jvp is J v shaped like the outputs', () => {
      const v = [leaf(rng, [2], { requiresGrad: false }), leaf(rng, [], { requiresGrad: false })];
      const { value, vjp: g } = vjp(fn2, [a, B], v);
      expect(value.map((t) => t.shape)).toEqual([[2], []]);
      expect(g.map((t) => t.shape)).toEqual([[3], [2, 3]]);
      expectClose(g.flatMap(values), vecMat(v.flatMap(values), Jfd), 1e-7);

      const u = [leaf(rng, [3], { requiresGrad: false }), leaf(rng, [2, 3], { requiresGrad: false })];
      const { jvp: jv } = jvp(fn2, [a, B], u);
      expect(jv.map((t) => t.shape)).toEqual([[2], []]);
      expectClose(jv.flatMap(values), matVec(Jfd, u.flatMap(values)), 1e-7);
      // a single Tensor in gives a Tensor out
      const one = jvp((x: Tensor) => x.tanh().mul(3), a, u[0]);
      expect(one.jvp).toBeInstanceOf(Tensor);
      expectClose(
        values(one.jvp),
        values(a).map((x, i) => 3 * (1 - Math.tanh(x) ** 2) * u[0].data[i]),
        1e-12,
      );
      // v may be omitted for a one-element output (vjp) or input (jvp)
      expectClose(
        values(vjp((x: Tensor) => x.mul(x).sum(), a).vjp),
        values(a).map((x) => 2 * x),
        1e-12,
      );
      const s = tensor([0.3], { dtype: 'float64' });
      expectClose(
        values(jvp((x: Tensor) => x.exp().mul(tensor([1, 2], { dtype: 'float64' })), s).jvp),
        [Math.exp(0.3), 2 * Math.exp(0.3)],
        1e-12,
      );
    });

    test('hessian and vhp match finite differences of gradients; hessian nests [[Haa, Hab], [Hba, Hbb]]', () => {
      const Hfd = fdJacobian((x, y) => flatGrad(scalar2, [x, y]), [a, B]);
      const H = hessian(scalar2, [a, B]) as Tensor[][];
      expect(H.map((r) => r.map((h) => h.shape))).toEqual([
        [
          [3, 3],
          [3, 2, 3],
        ],
        [
          [2, 3, 3],
          [2, 3, 2, 3],
        ],
      ]);
      const row = (i: number): number[] => {
        if (i < 3) return [...values(H[0][0]).slice(3 * i, 3 * i + 3), ...values(H[0][1]).slice(6 * i, 6 * i + 6)];
        const k = i - 3;
        return [...values(H[1][0]).slice(3 * k, 3 * k + 3), ...values(H[1][1]).slice(6 * k, 6 * k + 6)];
      };
      const Hflat = Array.from({ length: 9 }, (_, i) => row(i));
      expectClose(Hflat.flat(), Hfd.flat(), 1e-6);
      // symmetric, as a Hessian is
      for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) expect(Hflat[i][j]).toBeCloseTo(Hflat[j][i], 10);

      const v = [leaf(rng, [3], { requiresGrad: false }), leaf(rng, [2, 3], { requiresGrad: false })];
      const { value, vhp: hv } = vhp(scalar2, [a, B], v);
      expect(value.item()).toBeCloseTo(scalar2(a, B).item(), 12);
      expectClose(hv.flatMap(values), vecMat(v.flatMap(values), Hfd), 1e-6);
      const single = hessian((x) => scalar2(x, B), a) as Tensor;
      expect(single.shape).toEqual([3, 3]);
      expectClose(values(single), values(H[0][0]), 1e-12);
    });

    test('the Hessian of a small MLP assembled column by column from hvp equals hessian', () => {
      const r = new Rng(3);
      const x = leaf(r, [4, 2], { requiresGrad: false });
      const y = leaf(r, [4, 1], { requiresGrad: false });
      const params = [leaf(r, [3, 2]), leaf(r, [3]), leaf(r, [1, 3]), leaf(r, [1])];
      const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor =>
        F.mseLoss(F.linear(F.linear(x, w1, b1).tanh(), w2, b2), y);
      const H = hessian(loss, params) as Tensor[][];
      const sizes = params.map((p) => p.size);
      const total = sizes.reduce((s, n) => s + n, 0);
      let col = 0;
      params.forEach((p, j) => {
        for (let k = 0; k < p.size; k++, col++) {
          const e = params.map((q) => zeros([...q.shape], { dtype: 'float64' }));
          e[j].data[k] = 1;
          const column = hvp(loss, params, e).hvp.flatMap(values);
          // column `col` of H: block (i, j), entries [.., k] of every row of block row i
          const fromH = params.flatMap((q, i) =>
            Array.from({ length: q.size }, (_, rI) => H[i][j].data[rI * p.size + k]),
          );
          expectClose(fromH, column, 1e-12);
        }
      });
      expect(col).toBe(total);
    });

    test('createGraph: results are differentiable with respect to the caller’s inputs', () => {
      const x = tensor([0.5, -1, 2], { dtype: 'float64', requiresGrad: true });
      const v = tensor([1, 2, 3], { dtype: 'float64' });
      // vjp of x³ is 3x²v; its sum differentiates to 6xv
      const { vjp: g } = vjp((t: Tensor) => t.pow(3), x, v, { createGraph: true });
      expect(g.requiresGrad).toBe(true);
      const [dg] = grad(g.sum(), [x]);
      expectClose(
        values(dg),
        [0.5, -1, 2].map((t, i) => 6 * t * (i + 1)),
        1e-12,
      );
      // without createGraph the result is detached
      expect(vjp((t: Tensor) => t.pow(3), x, v).vjp.requiresGrad).toBe(false);
      const J = jacobian((t) => t.pow(3), x, { createGraph: true }) as Tensor;
      const [dJ] = grad(J.sum(), [x]); // d/dx Σ diag(3x²) = 6x
      expectClose(values(dJ), [3, -6, 12], 1e-12);
      const Hs = hessian((t) => t.pow(4).sum(), x, { createGraph: true }) as Tensor;
      const [dH] = grad(Hs.sum(), [x]); // d/dx Σ 12x² = 24x
      expectClose(values(dH), [12, -24, 48], 1e-12);
      const { jvp: jv } = jvp((t: Tensor) => t.pow(3), x, v, { createGraph: true });
      const [djv] = grad(jv.sum(), [x]);
      expectClose(
        values(djv),
        [0.5, -1, 2].map((t, i) => 6 * t * (i + 1)),
        1e-12,
      );
    });

    test('strict: an output independent of an input is an error; otherwise zeros', () => {
      const b = tensor([1, 2], { dtype: 'float64' });
      const f = (x: Tensor, _y: Tensor): Tensor => x.mul(x).sum();
      const J = jacobian(f, [a, b]) as Tensor[];
      expect(values(J[1])).toEqual([0, 0]);
      expect(() => jacobian(f, [a, b], { strict: true })).toThrow(
        /jacobian: the output of fn is independent of input 1/,
      );
      expect(() => vjp(f, [a, b], undefined, { strict: true })).toThrow(/vjp: .*independent of input 1/);
      expect(values(vhp(f, [a, b], [a, b]).vhp[1])).toEqual([0, 0]);
      expect(() => hessian(f, [a, b], { strict: true })).toThrow(/hessian/);
      // a constant output: zeros, or an error in strict mode
      expect(values(jvp((x: Tensor) => zeros([2], { dtype: 'float64' }).add(x.sum().detach()), a, a).jvp)).toEqual([
        0, 0,
      ]);
      expect(() => jvp((x: Tensor) => x.sum().detach(), a, a, { strict: true })).toThrow(
        /jvp: output 0 of fn does not depend/,
      );
    });

    test('bad input: clear errors naming the function and the argument', () => {
      const notTensor = ((): unknown => 3) as unknown as (x: Tensor) => Tensor;
      expect(() => jacobian(notTensor, a)).toThrow(/jacobian: fn must return a Tensor/);
      expect(() => vjp(notTensor, a, a)).toThrow(/vjp: fn must return a Tensor/);
      expect(() => hessian(notTensor, a)).toThrow(/hessian: fn must return a Tensor/);
      expect(() => hessian((x) => x.mul(2), a)).toThrow(
        /hessian: fn must return a one-element Tensor, got shape \[3\]/,
      );
      expect(() => vhp((x) => x.mul(2), a, a)).toThrow(/vhp: fn must return a one-element Tensor/);
      expect(() => vjp((x: Tensor) => x.mul(2), a, zeros([4], { dtype: 'float64' }))).toThrow(
        /vjp: v has shape \[4\], the output \[3\]/,
      );
      expect(() => jvp((x: Tensor) => x.mul(2), a, zeros([2], { dtype: 'float64' }))).toThrow(
        /jvp: v has shape \[2\], the input \[3\]/,
      );
      expect(() => vhp(scalar2, [a, B], [a])).toThrow(/vhp: got 1 tensors in v for 2 inputs/);
      expect(() => vjp((x: Tensor) => x.mul(2), a)).toThrow(
        /vjp: v can be omitted only when fn has a single one-element output/,
      );
      expect(() => jacobian((x) => x, [] as Tensor[])).toThrow(
        /jacobian: inputs must be a Tensor or a non-empty array/,
      );
      expect(() => jacobian((x) => x, [a, 3 as unknown as Tensor])).toThrow(/jacobian: inputs\[1\] must be a Tensor/);
    });

    describe('gnvp equals Jᵀ H_L J v with J by finite differences and H_L in closed form', () => {
      const r = new Rng(23);
      const N = 3;
      const model = new nn.Sequential(new nn.Linear(2, 3), new nn.Tanh(), new nn.Linear(3, 2));
      model.to('float64');
      for (const p of model.parameters()) p.data.set(Array.from({ length: p.size }, () => r.normal()));
      const params = [...model.parameters()];
      const x = leaf(r, [N, 2], { requiresGrad: false });
      const v = params.map((p) => leaf(r, [...p.shape], { requiresGrad: false }));
      const vFlat = v.flatMap(values);
      const Jz = fdJacobian(() => [model.forward(x)], params); // [N*2][#θ]
      const z = values(model.forward(x));
      const check = (HL: number[][], got: Tensor[]): void => {
        const Jv = matVec(Jz, vFlat);
        expectClose(got.flatMap(values), vecMat(matVec(HL, Jv), Jz), 1e-7);
      };
      const K = N * 2;
      const eye = (s: number): number[][] =>
        Array.from({ length: K }, (_, i) => Array.from({ length: K }, (_, j) => (i === j ? s : 0)));

      test('mseLoss (mean): H_L = 2/(N·2) I', () => {
        const y = leaf(r, [N, 2], { requiresGrad: false });
        const { value, gnvp: gv } = gnvp(model, F.mseLoss, x, y, v);
        expect(value.item()).toBeCloseTo(F.mseLoss(model.forward(x), y).item(), 12);
        check(eye(2 / K), gv);
      });

      test('crossEntropy (mean): H_L = (diag(p) - ppᵀ)/N per row', () => {
        const { gnvp: gv } = gnvp(model, (o, t: number[]) => F.crossEntropy(o, t), x, [1, 0, 1], v);
        const HL = eye(0);
        for (let n = 0; n < N; n++) {
          const m = Math.max(z[2 * n], z[2 * n + 1]);
          const e = [Math.exp(z[2 * n] - m), Math.exp(z[2 * n + 1] - m)];
          const p = e.map((t) => t / (e[0] + e[1]));
          for (let i = 0; i < 2; i++)
            for (let j = 0; j < 2; j++) HL[2 * n + i][2 * n + j] = ((i === j ? p[i] : 0) - p[i] * p[j]) / N;
        }
        check(HL, gv);
      });

      test('bceWithLogits (mean): H_L = diag(σ(1-σ))/(N·2)', () => {
        const y = tensor(
          [
            [1, 0],
            [0, 0],
            [1, 1],
          ],
          { dtype: 'float64' },
        );
        const { gnvp: gv } = gnvp(model, F.bceWithLogits, x, y, v);
        const HL = eye(0);
        z.forEach((t, i) => {
          const s = 1 / (1 + Math.exp(-t));
          HL[i][i] = (s * (1 - s)) / K;
        });
        check(HL, gv);
      });

      test('a plain function needs params; v must match the parameters', () => {
        const y = leaf(r, [N, 2], { requiresGrad: false });
        expect(() => gnvp((t) => model.forward(t), F.mseLoss, x, y, v)).toThrow(/gnvp: pass options.params/);
        const same = gnvp((t) => model.forward(t), F.mseLoss, x, y, v, { params });
        expectClose(same.gnvp.flatMap(values), gnvp(model, F.mseLoss, x, y, v).gnvp.flatMap(values), 1e-14);
        expect(() => gnvp(model, F.mseLoss, x, y, v.slice(1))).toThrow(/gnvp: got 3 tensors in v for 4 parameters/);
        const bad = [...v];
        bad[0] = zeros([2, 3], { dtype: 'float64' });
        expect(() => gnvp(model, F.mseLoss, x, y, bad)).toThrow(
          /gnvp: v\[0\] must be a Tensor of the parameter's shape \[3, 2\], got \[2, 3\]/,
        );
        const frozen = tensor([1, 2], { dtype: 'float64' });
        expect(() => gnvp((t) => t.mul(frozen).sum(1), F.mseLoss, x, y, [frozen], { params: [frozen] })).toThrow(
          /gnvp: params\[0\] does not require grad/,
        );
      });
    });
  });
}
