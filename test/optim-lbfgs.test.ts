// LBFGS: without line search against a dense BFGS reference (the inverse-Hessian recursion of
// Nocedal & Wright, eq. 7.19, formed as matrices, instead of the two-loop recursion); with the
// strong-Wolfe line search on problems whose minimum is known.

import { describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor.js';
import { LBFGS } from '../lib/optim/index.js';
import { cubicInterpolate } from '../lib/optim/lbfgs.js';

type Vec = number[];
type Mat = number[][];

// f(x) = 0.5 xᵀ A x - bᵀ x + 0.05 sum x⁴ (smooth, strictly convex)
const A: Mat = [
  [4, 1, 0, 0.5],
  [1, 3, 0.5, 0],
  [0, 0.5, 2, 0.3],
  [0.5, 0, 0.3, 1],
];
const B: Vec = [1, -2, 0.5, 1.5];
const X0: Vec = [1, 1, -1, 2];

const matVec = (m: Mat, v: Vec): Vec => m.map((row) => row.reduce((s, a, j) => s + a * v[j], 0));
const dotv = (a: Vec, b: Vec): number => a.reduce((s, v, i) => s + v * b[i], 0);

function f(x: Vec): number {
  return 0.5 * dotv(x, matVec(A, x)) - dotv(B, x) + 0.05 * x.reduce((s, v) => s + v ** 4, 0);
}
function grad(x: Vec): Vec {
  const ax = matVec(A, x);
  return x.map((v, i) => ax[i] - B[i] + 0.2 * v ** 3);
}

/** A closure evaluating f at the parameter's values and setting its gradient by hand. */
function closureFor(p: Tensor, counter: { n: number }, fn = f, gr = grad): () => number {
  return () => {
    counter.n++;
    const x = Array.from(p.data);
    p.grad = tensor(gr(x), { dtype: 'float64' });
    return fn(x);
  };
}

/** Dense L-BFGS direction -H g with H = γI updated by every stored (s, y) pair, oldest first. */
function denseDirection(g: Vec, pairs: { s: Vec; y: Vec }[], gamma: number): Vec {
  const n = g.length;
  let H: Mat = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? gamma : 0)));
  for (const { s, y } of pairs) {
    const rho = 1 / dotv(y, s);
    // V = I - rho y sᵀ ; H = Vᵀ H V + rho s sᵀ
    const V: Mat = Array.from({ length: n }, (_, i) =>
      Array.from({ length: n }, (_, j) => (i === j ? 1 : 0) - rho * y[i] * s[j]),
    );
    const HV = H.map((row) => V[0].map((_, j) => row.reduce((acc, h, k) => acc + h * V[k][j], 0)));
    H = V[0].map((_, i) =>
      V[0].map((__, j) => V.reduce((acc, row, k) => acc + row[i] * HV[k][j], 0) + rho * s[i] * s[j]),
    );
  }
  return matVec(H, g).map((v) => -v);
}

describe('LBFGS', () => {
  it('without line search equals the dense BFGS-matrix reference', () => {
    const lr = 0.5;
    const iters = 6;
    const p = tensor(X0, { dtype: 'float64', requiresGrad: true });
    const counter = { n: 0 };
    const opt = new LBFGS([p], { lr, maxIter: iters, toleranceGrad: 0, toleranceChange: 0 });
    expect(opt.paramGroups[0].maxEval).toBe(Math.floor((iters * 5) / 4));
    const loss = opt.step(closureFor(p, counter));
    expect(loss).toBeCloseTo(f(X0), 14);

    // reference
    let x = [...X0];
    let g = grad(x);
    const pairs: { s: Vec; y: Vec }[] = [];
    let gamma = 1;
    let prevG: Vec = [];
    let d: Vec = [];
    let t = 0;
    for (let k = 0; k < iters; k++) {
      if (k > 0) {
        const y = g.map((v, i) => v - prevG[i]);
        const s = d.map((v) => v * t);
        if (dotv(y, s) > 1e-10) {
          pairs.push({ s, y });
          gamma = dotv(y, s) / dotv(y, y);
        }
      }
      d = k === 0 ? g.map((v) => -v) : denseDirection(g, pairs, gamma);
      prevG = g;
      t = k === 0 ? Math.min(1, 1 / g.reduce((s, v) => s + Math.abs(v), 0)) * lr : lr;
      x = x.map((v, i) => v + t * d[i]);
      g = grad(x);
    }
    Array.from(p.data).forEach((v, i) => expect(v).toBeCloseTo(x[i], 10));
    // one evaluation per iteration except the last (the next step() would evaluate it)
    expect(counter.n).toBe(iters);
  });

  it('keeps its history across step() calls and respects historySize', () => {
    const p = tensor(X0, { dtype: 'float64', requiresGrad: true });
    const opt = new LBFGS([p], {
      lr: 0.5,
      maxIter: 3,
      maxEval: 10,
      historySize: 2,
      toleranceGrad: 0,
      toleranceChange: 0,
    });
    const counter = { n: 0 };
    opt.step(closureFor(p, counter));
    opt.step(closureFor(p, counter));
    const state = opt.state.get(p);
    expect(state?.n_iter).toBe(6);
    expect((state?.old_dirs as Tensor[]).length).toBe(2);
    expect(counter.n).toBe(6);
  });

  it('resumes from its state dict exactly', () => {
    const make = (p: Tensor): LBFGS => new LBFGS([p], { lineSearchFn: 'strong_wolfe', maxIter: 2, historySize: 3 });
    const p = tensor(X0, { dtype: 'float64', requiresGrad: true });
    const opt = make(p);
    opt.step(closureFor(p, { n: 0 }));
    const saved = opt.stateDict();
    const q = tensor(Array.from(p.data), { dtype: 'float64', requiresGrad: true });
    const resumed = make(q);
    resumed.loadStateDict(saved);
    for (let i = 0; i < 2; i++) {
      opt.step(closureFor(p, { n: 0 }));
      resumed.step(closureFor(q, { n: 0 }));
    }
    expect(Array.from(q.data)).toEqual(Array.from(p.data));
  });

  it('with strong-Wolfe line search reaches the minimum of the convex problem', () => {
    const p = tensor(X0, { dtype: 'float64', requiresGrad: true });
    const opt = new LBFGS([p], {
      lineSearchFn: 'strong_wolfe',
      maxIter: 50,
      toleranceGrad: 1e-12,
      toleranceChange: 1e-15,
    });
    opt.step(closureFor(p, { n: 0 }));
    const g = grad(Array.from(p.data));
    expect(Math.max(...g.map(Math.abs))).toBeLessThan(1e-6);
  });

  it('with strong-Wolfe line search minimises the Rosenbrock function', () => {
    const rosen = (x: Vec): number => (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2;
    const rosenGrad = (x: Vec): Vec => [-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)];
    const p = tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const opt = new LBFGS([p], {
      lineSearchFn: 'strong_wolfe',
      maxIter: 200,
      maxEval: 400,
      toleranceGrad: 1e-10,
      toleranceChange: 1e-14,
    });
    const counter = { n: 0 };
    opt.step(closureFor(p, counter, rosen, rosenGrad));
    expect(p.data[0]).toBeCloseTo(1, 6);
    expect(p.data[1]).toBeCloseTo(1, 6);
    expect(counter.n).toBeLessThanOrEqual(400 + 25);
  });

  it('cubic interpolation finds the exact minimiser of a cubic and clamps to bounds', () => {
    const c = (x: number): number => x ** 3 - 3 * x; // local minimum at 1
    const dc = (x: number): number => 3 * x * x - 3;
    expect(cubicInterpolate(0, c(0), dc(0), 2, c(2), dc(2))).toBeCloseTo(1, 12);
    expect(cubicInterpolate(2, c(2), dc(2), 0, c(0), dc(0))).toBeCloseTo(1, 12);
    const q = (x: number): number => (x - 0.3) ** 2;
    expect(cubicInterpolate(-1, q(-1), 2 * (-1 - 0.3), 1, q(1), 2 * (1 - 0.3))).toBeCloseTo(0.3, 12);
    expect(cubicInterpolate(0, c(0), dc(0), 2, c(2), dc(2), [1.5, 3])).toBe(1.5);
  });

  it('rejects parameter groups, a missing closure and an unknown line search', () => {
    const p = tensor([1], { dtype: 'float64', requiresGrad: true });
    const q = tensor([1], { dtype: 'float64', requiresGrad: true });
    expect(() => new LBFGS([{ params: [p] }, { params: [q] }])).toThrow(/groups/);
    expect(() => new LBFGS([p]).step()).toThrow(/closure/);
    expect(() => new LBFGS([p], { lineSearchFn: 'backtracking' as 'strong_wolfe' })).toThrow(/strong_wolfe/);
  });
});
