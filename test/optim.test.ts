// Optimizers against float64 reference implementations written here from the published update
// rules (torch.optim's documentation). Gradients are set by hand from an analytic formula, so
// these tests check the update rules alone, not autograd.

import { describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor.js';
import { SGD, Adam, AdamW, RMSprop, type Optimizer, type BaseOptions } from '../lib/optim/index.js';

type Vec = number[];

// f(x) = sum_i 0.5 c_i x_i² + d_i x_i + 0.1 x_i⁴, a smooth non-quadratic objective
const C = [1.5, 0.5, 2.0, 1.0, 0.25];
const D = [-1.0, 0.3, 0.7, -0.2, 0.05];
function gradient(x: Vec, offset: number): Vec {
  return x.map((v, i) => C[(i + offset) % 5] * v + D[(i + offset) % 5] + 0.4 * v * v * v);
}

const START_A = [0.5, -1.2, 2.0];
const START_B = [1.0, 0.1, -0.4, 0.8];

function params(dtype: 'float32' | 'float64' = 'float64'): [Tensor, Tensor] {
  return [tensor(START_A, { dtype, requiresGrad: true }), tensor(START_B, { dtype, requiresGrad: true })];
}

function setGrads(ps: Tensor[]): void {
  ps.forEach((p, k) => {
    p.grad = tensor(gradient(Array.from(p.data), k * 3), { dtype: p.dtype });
  });
}

function run(opt: Optimizer<BaseOptions>, ps: Tensor[], steps: number): void {
  for (let s = 0; s < steps; s++) {
    opt.zeroGrad();
    setGrads(ps);
    opt.step();
  }
}

/** Runs a per-element reference rule on both starting vectors; returns the final values. */
function reference(
  steps: number,
  lrs: [number, number],
  update: (x: Vec, g: Vec, st: Record<string, Vec | number>, lr: number) => void,
): [Vec, Vec] {
  const xs: [Vec, Vec] = [[...START_A], [...START_B]];
  const states: Record<string, Vec | number>[] = [{}, {}];
  for (let s = 0; s < steps; s++) {
    xs.forEach((x, k) => update(x, gradient(x, k * 3), states[k], lrs[k]));
  }
  return xs;
}

function expectClose(actual: Tensor, expected: Vec, rel = 1e-12): void {
  const a = Array.from(actual.data);
  expect(a.length).toBe(expected.length);
  a.forEach((v, i) => {
    const tol = rel * Math.max(1, Math.abs(expected[i]));
    if (!(Math.abs(v - expected[i]) <= tol)) {
      throw new Error(`element ${i}: got ${v}, expected ${expected[i]} (|diff| ${Math.abs(v - expected[i])} > ${tol})`);
    }
  });
}

const zerosLike = (x: Vec): Vec => x.map(() => 0);

function sgdReference(o: { momentum: number; dampening: number; weightDecay: number; nesterov: boolean }) {
  return (x: Vec, g0: Vec, st: Record<string, Vec | number>, lr: number): void => {
    let g = g0.map((v, i) => v + o.weightDecay * x[i]);
    if (o.momentum !== 0) {
      const buf = st.buf as Vec | undefined;
      const b = buf === undefined ? [...g] : buf.map((v, i) => o.momentum * v + (1 - o.dampening) * g[i]);
      st.buf = b;
      g = o.nesterov ? g.map((v, i) => v + o.momentum * b[i]) : b;
    }
    x.forEach((v, i) => {
      x[i] = v - lr * g[i];
    });
  };
}

function adamReference(o: {
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  decoupled: boolean;
}) {
  return (x: Vec, g0: Vec, st: Record<string, Vec | number>, lr: number): void => {
    const [b1, b2] = o.betas;
    const t = ((st.t as number | undefined) ?? 0) + 1;
    st.t = t;
    if (o.decoupled)
      x.forEach((v, i) => {
        x[i] = v * (1 - lr * o.weightDecay);
      });
    const g = o.decoupled ? g0 : g0.map((v, i) => v + o.weightDecay * x[i]);
    const m = ((st.m as Vec | undefined) ?? zerosLike(x)).map((v, i) => b1 * v + (1 - b1) * g[i]);
    const v2 = ((st.v as Vec | undefined) ?? zerosLike(x)).map((v, i) => b2 * v + (1 - b2) * g[i] * g[i]);
    st.m = m;
    st.v = v2;
    let vUsed = v2;
    if (o.amsgrad) {
      vUsed = ((st.vmax as Vec | undefined) ?? zerosLike(x)).map((v, i) => Math.max(v, v2[i]));
      st.vmax = vUsed;
    }
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    x.forEach((v, i) => {
      const mHat = m[i] / bc1;
      x[i] = v - (lr * mHat) / (Math.sqrt(vUsed[i]) / Math.sqrt(bc2) + o.eps);
    });
  };
}

function rmspropReference(o: { alpha: number; eps: number; weightDecay: number; momentum: number; centered: boolean }) {
  return (x: Vec, g0: Vec, st: Record<string, Vec | number>, lr: number): void => {
    const g = g0.map((v, i) => v + o.weightDecay * x[i]);
    const sq = ((st.sq as Vec | undefined) ?? zerosLike(x)).map((v, i) => o.alpha * v + (1 - o.alpha) * g[i] * g[i]);
    st.sq = sq;
    let avg = sq.map((v) => Math.sqrt(v) + o.eps);
    if (o.centered) {
      const ga = ((st.ga as Vec | undefined) ?? zerosLike(x)).map((v, i) => o.alpha * v + (1 - o.alpha) * g[i]);
      st.ga = ga;
      avg = sq.map((v, i) => Math.sqrt(v - ga[i] * ga[i]) + o.eps);
    }
    if (o.momentum > 0) {
      const buf = ((st.buf as Vec | undefined) ?? zerosLike(x)).map((v, i) => o.momentum * v + g[i] / avg[i]);
      st.buf = buf;
      x.forEach((v, i) => {
        x[i] = v - lr * buf[i];
      });
    } else {
      x.forEach((v, i) => {
        x[i] = v - (lr * g[i]) / avg[i];
      });
    }
  };
}

const STEPS = 6;

describe('SGD', () => {
  const cases = [
    { name: 'plain', momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
    { name: 'momentum, dampening, weight decay', momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
    { name: 'nesterov with weight decay', momentum: 0.8, dampening: 0, weightDecay: 0.05, nesterov: true },
  ];
  for (const c of cases) {
    it(`matches the reference rule: ${c.name}`, () => {
      const ps = params();
      const opt = new SGD(ps, { lr: 0.05, ...c });
      run(opt, ps, STEPS);
      const [a, b] = reference(STEPS, [0.05, 0.05], sgdReference(c));
      expectClose(ps[0], a);
      expectClose(ps[1], b);
    });
  }

  it('uses per-group learning rates and options', () => {
    const [pa, pb] = params();
    const opt = new SGD([{ params: [pa] }, { params: [pb], lr: 0.01, momentum: 0.5 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.01]);
    run(opt, [pa, pb], STEPS);
    const refA = reference(
      STEPS,
      [0.1, 0.1],
      sgdReference({ momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }),
    )[0];
    const refB = reference(
      STEPS,
      [0.01, 0.01],
      sgdReference({ momentum: 0.5, dampening: 0, weightDecay: 0, nesterov: false }),
    )[1];
    expectClose(pa, refA);
    expectClose(pb, refB);
  });

  it('works on float32 parameters (to float32 precision)', () => {
    const ps = params('float32');
    const c = { momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true };
    run(new SGD(ps, { lr: 0.05, ...c }), ps, STEPS);
    const [a, b] = reference(STEPS, [0.05, 0.05], sgdReference(c));
    expectClose(ps[0], a, 1e-5);
    expectClose(ps[1], b, 1e-5);
  });

  it('skips parameters without a gradient', () => {
    const [pa, pb] = params();
    const opt = new SGD([pa, pb], { lr: 0.1, momentum: 0.9 });
    pa.grad = tensor([1, 1, 1], { dtype: 'float64' });
    opt.step();
    expect(Array.from(pb.data)).toEqual(START_B);
    expectClose(
      pa,
      START_A.map((v) => v - 0.1),
    );
  });

  it('rejects invalid hyperparameters', () => {
    expect(() => new SGD(params(), { lr: -1 })).toThrow(/learning rate/);
    expect(() => new SGD(params(), { lr: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => new SGD(params(), { lr: 0.1, momentum: -0.5 })).toThrow(/momentum/);
    expect(() => new SGD([], { lr: 0.1 })).toThrow(/empty/);
    expect(() => new SGD({} as Tensor[], { lr: 0.1 })).toThrow(/model.parameters\(\)/);
    const [pa] = params();
    expect(() => new SGD([{ params: [pa] }, { params: [pa] }], { lr: 0.1 })).toThrow(/more than one/);
  });
});

describe('Adam and AdamW', () => {
  const defaults = { betas: [0.9, 0.999] as [number, number], eps: 1e-8 };
  it('Adam with default hyperparameters matches the reference', () => {
    const ps = params();
    const opt = new Adam(ps, { lr: 0.1 });
    expect(opt.paramGroups[0]).toMatchObject({ betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false });
    run(opt, ps, STEPS);
    const [a, b] = reference(
      STEPS,
      [0.1, 0.1],
      adamReference({ ...defaults, weightDecay: 0, amsgrad: false, decoupled: false }),
    );
    expectClose(ps[0], a);
    expectClose(ps[1], b);
  });

  it('Adam with L2 weight decay and amsgrad matches the reference', () => {
    const ps = params();
    const o = { betas: [0.8, 0.9] as [number, number], eps: 1e-6, weightDecay: 0.1, amsgrad: true };
    run(new Adam(ps, { lr: 0.2, ...o }), ps, 10);
    const [a, b] = reference(10, [0.2, 0.2], adamReference({ ...o, decoupled: false }));
    expectClose(ps[0], a);
    expectClose(ps[1], b);
  });

  it('AdamW decouples weight decay (default 1e-2) and matches the reference', () => {
    const ps = params();
    const opt = new AdamW(ps, { lr: 0.1 });
    expect(opt.paramGroups[0].weightDecay).toBe(1e-2);
    run(opt, ps, STEPS);
    const [a, b] = reference(
      STEPS,
      [0.1, 0.1],
      adamReference({ ...defaults, weightDecay: 1e-2, amsgrad: false, decoupled: true }),
    );
    expectClose(ps[0], a);
    expectClose(ps[1], b);
    // and differs from L2-coupled Adam with the same decay
    const ps2 = params();
    run(new Adam(ps2, { lr: 0.1, weightDecay: 1e-2 }), ps2, STEPS);
    expect(Math.abs(ps2[0].data[0] - ps[0].data[0])).toBeGreaterThan(1e-6);
  });

  it('AdamW with amsgrad on float32 parameters', () => {
    const ps = params('float32');
    const o = { betas: [0.9, 0.99] as [number, number], eps: 1e-8, weightDecay: 0.05, amsgrad: true };
    run(new AdamW(ps, { lr: 0.05, ...o }), ps, STEPS);
    const [a, b] = reference(STEPS, [0.05, 0.05], adamReference({ ...o, decoupled: true }));
    expectClose(ps[0], a, 2e-5);
    expectClose(ps[1], b, 2e-5);
  });

  it('rejects invalid betas and eps', () => {
    expect(() => new Adam(params(), { betas: [1, 0.9] })).toThrow(/beta/);
    expect(() => new Adam(params(), { eps: -1 })).toThrow(/epsilon/);
  });
});

describe('RMSprop', () => {
  it('defaults (lr 1e-2, alpha 0.99) match the reference', () => {
    const ps = params();
    const opt = new RMSprop(ps);
    expect(opt.paramGroups[0]).toMatchObject({
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
    });
    run(opt, ps, STEPS);
    const [a, b] = reference(
      STEPS,
      [1e-2, 1e-2],
      rmspropReference({ alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false }),
    );
    expectClose(ps[0], a);
    expectClose(ps[1], b);
  });

  it('centered with momentum and weight decay matches the reference', () => {
    const ps = params();
    const o = { alpha: 0.9, eps: 1e-6, weightDecay: 0.02, momentum: 0.7, centered: true };
    run(new RMSprop(ps, { lr: 0.01, ...o }), ps, 8);
    const [a, b] = reference(8, [0.01, 0.01], rmspropReference(o));
    expectClose(ps[0], a);
    expectClose(ps[1], b);
  });
});

describe('optimizer state dicts', () => {
  it('have torch-shaped state and param_groups', () => {
    const ps = params();
    const opt = new Adam(ps, { lr: 0.1, amsgrad: true });
    run(opt, ps, 2);
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(Object.keys(sd.state[0]).sort()).toEqual(['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    expect(sd.state[0].step).toBe(2);
    expect((sd.state[1].exp_avg as Tensor).shape).toEqual([4]);
    expect(sd.param_groups).toEqual([
      { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: true, params: [0, 1] },
    ]);
  });

  for (const make of [
    (ps: Tensor[]) => new SGD(ps, { lr: 0.05, momentum: 0.9 }),
    (ps: Tensor[]) => new Adam(ps, { lr: 0.1, amsgrad: true }),
    (ps: Tensor[]) => new RMSprop(ps, { lr: 0.01, momentum: 0.5, centered: true }),
  ]) {
    it(`resume from a state dict continues exactly (${make(params()).constructor.name})`, () => {
      const ps = params();
      const opt = make(ps);
      run(opt, ps, 3);
      const saved = opt.stateDict();
      const copies = ps.map((p) => tensor(Array.from(p.data), { dtype: 'float64', requiresGrad: true }));
      const resumed = make(copies);
      resumed.loadStateDict(saved);
      run(opt, ps, 3); // mutating the original must not affect the saved copy
      run(resumed, copies, 3);
      ps.forEach((p, i) => expect(Array.from(copies[i].data)).toEqual(Array.from(p.data)));
    });
  }

  it('restores hyperparameters and rejects mismatched groups', () => {
    const ps = params();
    const opt = new SGD(ps, { lr: 0.5 });
    const other = new SGD(params(), { lr: 0.1 });
    other.loadStateDict(opt.stateDict());
    expect(other.paramGroups[0].lr).toBe(0.5);
    const [pa, pb] = params();
    const twoGroups = new SGD([{ params: [pa] }, { params: [pb] }], { lr: 0.1 });
    expect(() => twoGroups.loadStateDict(opt.stateDict())).toThrow(/2 parameter groups|1 parameter groups/);
    const onlyOne = new SGD([params()[0]], { lr: 0.1 });
    expect(() => onlyOne.loadStateDict(opt.stateDict())).toThrow(/group 0/);
  });

  it('zeroGrad drops gradients, or zeroes them in place', () => {
    const ps = params();
    const opt = new SGD(ps, { lr: 0.1 });
    setGrads(ps);
    const g = ps[0].grad as Tensor;
    opt.zeroGrad(false);
    expect(ps[0].grad).toBe(g);
    expect(Array.from(g.data)).toEqual([0, 0, 0]);
    opt.zeroGrad();
    expect(ps[0].grad).toBeNull();
    expect(ps[1].grad).toBeNull();
  });

  it('step returns the closure loss', () => {
    const ps = params();
    const opt = new SGD(ps, { lr: 0.1 });
    const loss = opt.step(() => {
      setGrads(ps);
      return 3.5;
    });
    expect(loss).toBe(3.5);
  });
});
