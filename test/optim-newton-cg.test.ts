// NewtonCG (Hessian-free): on a convex quadratic one step with CG to convergence lands on the
// minimiser A⁻¹b (solved here by Gaussian elimination) in at most n CG iterations; on
// Rosenbrock it reaches 1e-10 from the standard start (-1.2, 1), with the Hessian and with the
// Gauss-Newton curvature of the residuals; stateDict/loadStateDict resume exactly.

import { describe, expect, test } from 'vitest';
import { Tensor, tensor, F, nn } from '../lib/index.js';
import { NewtonCG } from '../lib/optim/index.js';
import { Rng } from './support/random.js';

function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[piv][c])) piv = r;
    [M[c], M[piv]] = [M[piv], M[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  return M.map((row, i) => row[n] / row[i]);
}

function spd(rng: Rng, n: number): number[][] {
  const R = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
  // RᵀR/n + I: well conditioned, so that rounding does not cost CG extra iterations
  return R.map((_, i) => R.map((__, j) => R.reduce((s, row) => s + row[i] * row[j], 0) / n + (i === j ? 1 : 0)));
}

const rosen = (p: Tensor): Tensor => {
  const x = p.narrow(0, 0, 1);
  const y = p.narrow(0, 1, 1);
  return x
    .rsub(1)
    .pow(2)
    .add(y.sub(x.mul(x)).pow(2).mul(100))
    .sum();
};
const rosenValue = (v: ArrayLike<number>): number => (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2;

describe('NewtonCG', () => {
  test('convex quadratic: one step reaches the exact minimiser in ≤ n CG iterations', () => {
    const n = 12;
    const rng = new Rng(4);
    const A = spd(rng, n);
    const b = Array.from({ length: n }, () => rng.normal());
    const At = tensor(A, { dtype: 'float64' });
    const bt = tensor(b, { dtype: 'float64' });
    for (const preconditionerExponent of [0, 0.75]) {
      const x = tensor(
        Array.from({ length: n }, () => rng.normal()),
        { dtype: 'float64', requiresGrad: true },
      );
      const opt = new NewtonCG([x], {
        curvature: 'hessian',
        damping: 0,
        cgTol: 1e-10,
        cgProgressTol: 0,
        preconditionerExponent,
      });
      opt.step(() => x.matmul(At.matmul(x)).mul(0.5).sub(bt.matmul(x)));
      const st = opt.state.get(x)!;
      // Unpreconditioned CG takes ≤ n iterations here as in exact arithmetic. With λ = 0 the
      // preconditioner diag(|g|^1.5) is itself badly conditioned (it spans the range of |g|), and
      // rounding then costs CG a few iterations beyond n (15 for n = 12 when measured).
      expect(st.cg_iters as number).toBeLessThanOrEqual(preconditionerExponent === 0 ? n : 2 * n);
      const want = solve(A, b);
      Array.from(x.data).forEach((v, i) => expect(v).toBeCloseTo(want[i], 8));
      expect(st.step_size).toBe(1);
    }
  });

  test('linear least squares with Gauss-Newton curvature: G is the Hessian, one step solves it', () => {
    const rng = new Rng(8);
    const X = tensor(
      Array.from({ length: 10 }, () => [rng.normal(), rng.normal(), rng.normal()]),
      { dtype: 'float64' },
    );
    const y = tensor(
      Array.from({ length: 10 }, () => [rng.normal()]),
      { dtype: 'float64' },
    );
    const w = tensor([[0.1], [0.2], [0.3]], { dtype: 'float64', requiresGrad: true });
    const opt = new NewtonCG([w], { damping: 0, cgTol: 1e-13, cgProgressTol: 0 });
    opt.step(() => ({ output: X.matmul(w), loss: (o: Tensor) => F.mseLoss(o, y) }));
    // normal equations XᵀX w = Xᵀy
    const Xa = X.toArray() as number[][];
    const ya = (y.toArray() as number[][]).map((r) => r[0]);
    const XtX = [0, 1, 2].map((i) => [0, 1, 2].map((j) => Xa.reduce((s, r) => s + r[i] * r[j], 0)));
    const Xty = [0, 1, 2].map((i) => Xa.reduce((s, r, k) => s + r[i] * ya[k], 0));
    const want = solve(XtX, Xty);
    Array.from(w.data).forEach((v, i) => expect(v).toBeCloseTo(want[i], 9));
    expect(opt.state.get(w)!.cg_iters as number).toBeLessThanOrEqual(3);
  });

  for (const curvature of ['hessian', 'gaussNewton'] as const) {
    test(`Rosenbrock from (-1.2, 1) reaches 1e-10 (${curvature})`, () => {
      const p = tensor([-1.2, 1], { dtype: 'float64', requiresGrad: true });
      const opt = new NewtonCG([p], { curvature, damping: 1 });
      // Gauss-Newton: the residuals r = (1 - x, 10 (y - x²)) with loss Σ r².
      const e0 = tensor([1, 0], { dtype: 'float64' });
      const e1 = tensor([0, 10], { dtype: 'float64' });
      const residuals = (q: Tensor): Tensor => {
        const x = q.narrow(0, 0, 1);
        return x
          .rsub(1)
          .mul(e0)
          .add(q.narrow(0, 1, 1).sub(x.mul(x)).mul(e1));
      };
      const closure =
        curvature === 'hessian'
          ? () => rosen(p)
          : () => ({ output: residuals(p), loss: (r: Tensor) => r.mul(r).sum() });
      let steps = 0;
      while (rosenValue(p.data) > 1e-10 && steps < 200) {
        opt.step(closure);
        steps++;
      }
      expect(rosenValue(p.data)).toBeLessThan(1e-10);
      expect(steps).toBeLessThan(200);
    });
  }

  test('stateDict/loadStateDict resume exactly', () => {
    const make = (): { model: nn.Sequential; opt: NewtonCG } => {
      const model = new nn.Sequential(new nn.Linear(2, 4), new nn.Tanh(), new nn.Linear(4, 1));
      model.to('float64');
      const r = new Rng(2);
      for (const q of model.parameters()) q.data.set(Array.from({ length: q.size }, () => r.normal()));
      return { model, opt: new NewtonCG(model.parameters(), { damping: 0.5, maxCgIter: 5 }) };
    };
    const rng = new Rng(6);
    const X = tensor(
      Array.from({ length: 8 }, () => [rng.normal(), rng.normal()]),
      { dtype: 'float64' },
    );
    const Y = tensor(
      Array.from({ length: 8 }, () => [rng.normal()]),
      { dtype: 'float64' },
    );
    const closureOf = (model: nn.Sequential) => () => ({
      output: model.forward(X),
      loss: (o: Tensor) => F.mseLoss(o, Y),
    });
    const a = make();
    for (let i = 0; i < 3; i++) a.opt.step(closureOf(a.model));
    const saved = a.opt.stateDict();
    const weights = Object.fromEntries(Object.entries(a.model.stateDict()).map(([k, t]) => [k, t.clone()]));
    for (let i = 0; i < 3; i++) a.opt.step(closureOf(a.model));

    const b = make();
    b.model.loadStateDict(weights);
    b.opt.loadStateDict(saved);
    expect(b.opt.state.get([...b.model.parameters()][0])!.damping).toBe(saved.state[0].damping);
    for (let i = 0; i < 3; i++) b.opt.step(closureOf(b.model));
    const pa = [...a.model.parameters()].flatMap((q) => Array.from(q.data));
    const pb = [...b.model.parameters()].flatMap((q) => Array.from(q.data));
    expect(pb).toEqual(pa);
    // the warm start matters: a fresh optimizer from the same weights goes elsewhere
    const c = make();
    c.model.loadStateDict(weights);
    for (let i = 0; i < 3; i++) c.opt.step(closureOf(c.model));
    expect([...c.model.parameters()].flatMap((q) => Array.from(q.data))).not.toEqual(pa);
  });

  test('errors', () => {
    const p = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    expect(() => new NewtonCG([p], { curvature: 'newton' as 'hessian' })).toThrow(
      /NewtonCG: curvature must be 'hessian' or 'gaussNewton'/,
    );
    expect(() => new NewtonCG([p], { maxCgIter: 0 })).toThrow(/maxCgIter/);
    expect(() => new NewtonCG([p], { damping: -1 })).toThrow(/damping/);
    expect(() => new NewtonCG([p]).step(() => p.mul(p).sum())).toThrow(
      /curvature 'gaussNewton' needs the closure to return \{ output, loss/,
    );
    expect(() => new NewtonCG([p], { curvature: 'hessian' }).step(() => 3)).toThrow(/not a number/);
    expect(() => new NewtonCG([p], { curvature: 'hessian' }).step(() => p.mul(p))).toThrow(/one element/);
    expect(() => new NewtonCG([p], { curvature: 'hessian' }).step(() => p.detach().sum())).toThrow(
      /does not depend on the parameters/,
    );
  });
});
