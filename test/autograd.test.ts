// The engine: accumulation, retainGraph, createGraph, noGrad, grad(), a 100,000-op chain,
// detectAnomaly, hvp against closed forms and finite differences, and the engine's errors.

import { describe, expect, test } from 'vitest';
import { Tensor, backend, detectAnomaly, grad, hvp, noGrad, ones, tensor, zeros } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';

const initial = backend.current();

const f64 = (values: number[], shape = [values.length], requiresGrad = true): Tensor =>
  new Tensor(Float64Array.from(values), shape, requiresGrad);
const arr = (t: Tensor | null): number[] => Array.from(t!.data);

describe('backward', () => {
  test.each(backendsHere())(
    'accumulates into leaves (in place, on the %s backend) and keeps non-leaves without .grad',
    (name) => {
      backend.use(name);
      const x = f64([1, 2, 3]);
      const h = x.mul(x); // non-leaf
      h.add(x).sum().backward(); // d/dx (x^2 + x) = 2x + 1: x reaches the sum along two paths
      expect(arr(x.grad)).toEqual([3, 5, 7]);
      expect(h.grad).toBeNull();
      expect(x.isLeaf).toBe(true);
      expect(h.isLeaf).toBe(false);
      // A second graph accumulates on top.
      const buffer = x.grad!.data;
      x.mul(2).sum().backward();
      expect(arr(x.grad)).toEqual([5, 7, 9]);
      expect(x.grad!.data).toBe(buffer);
      backend.use(initial);
    },
  );

  test('leaves reached with one shared gradient get separate buffers', () => {
    // add passes g through to both inputs; in-place accumulation later must not mix them.
    const a = f64([1, 1]);
    const b = f64([1, 1]);
    a.add(b).sum().backward();
    expect(a.grad!.data).not.toBe(b.grad!.data);
    a.add(b).sum().backward();
    a.mul(5).sum().backward();
    expect(arr(a.grad)).toEqual([7, 7]);
    expect(arr(b.grad)).toEqual([2, 2]);
  });

  test('the user gradient is not modified and not aliased by .grad', () => {
    const x = f64([1, 2]);
    const g = f64([10, 20], [2], false);
    x.mul(1).backward(g);
    x.mul(1).backward(g);
    expect(arr(g)).toEqual([10, 20]);
    expect(arr(x.grad)).toEqual([20, 40]);
  });

  test('retainGraph allows a second backward; without it the second one throws a clear error', () => {
    const x = f64([2]);
    const y = x.tanh().mul(3);
    y.backward(undefined, { retainGraph: true });
    y.backward();
    const d = 3 * (1 - Math.tanh(2) ** 2);
    expect(x.grad!.data[0]).toBeCloseTo(2 * d, 12);
    expect(() => y.backward()).toThrow(/backward through the graph a second time.*'mul'.*retainGraph: true/s);
  });

  test('backward frees the graph: a kept loss no longer holds the activations', () => {
    const x = f64([1, 2]);
    const h = x.mul(3);
    const loss = h.tanh().sum();
    loss.backward();
    expect(loss.gradFn!.inputs).toEqual([]);
    expect(h.gradFn!.inputs).toEqual([]);
    // Building on a freed part of the graph and going back through it is the clear error.
    expect(() => h.mul(2).sum().backward()).toThrow(/backward through the graph a second time.*'mul'/s);
  });

  test.each(backendsHere())('recycled gradient buffers give the same gradients over many steps (%s)', (name) => {
    // Activations of 64x96 floats are large enough for the engine to recycle their gradients;
    // the createGraph path (no recycling, composed rules) is the reference, step after step.
    backend.use(name);
    const rng = new Rng(77);
    const x = leaf(rng, [64, 40], { dtype: 'float32', requiresGrad: false });
    const w1 = leaf(rng, [96, 40], { dtype: 'float32', lo: -0.2, hi: 0.2 });
    const w2 = leaf(rng, [96, 96], { dtype: 'float32', lo: -0.2, hi: 0.2 });
    const w3 = leaf(rng, [10, 96], { dtype: 'float32', lo: -0.2, hi: 0.2 });
    const targets = Array.from({ length: 64 }, (_, i) => i % 10);
    const loss = (): Tensor => {
      const h = F.linear(F.linear(x, w1).relu(), w2).tanh().mul(x.sum(1, true));
      // add passes its gradient through to both inputs: that buffer must outlive add's node.
      return F.crossEntropy(F.linear(h.add(h.mul(0.5)).reshape(64, 96), w3), targets);
    };
    for (let step = 0; step < 4; step++) {
      const reference = grad(loss(), [w1, w2, w3], { createGraph: true }).map((g) => Array.from(g.data));
      for (const w of [w1, w2, w3]) w.grad = null;
      loss().backward();
      [w1, w2, w3].forEach((w, i) => {
        const got = w.grad!.data;
        for (let k = 0; k < got.length; k++) {
          if (Math.abs(got[k] - reference[i][k]) > 1e-6 + 1e-4 * Math.abs(reference[i][k])) {
            throw new Error(`step ${step}, weight ${i}, element ${k}: ${got[k]} vs ${reference[i][k]}`);
          }
        }
        for (let k = 0; k < w.size; k++) w.data[k] -= 0.5 * got[k];
      });
    }
    backend.use(initial);
  });

  test('a non-scalar output needs a gradient of its shape', () => {
    const x = f64([1, 2, 3]);
    const y = x.mul(3);
    expect(() => y.backward()).toThrow(/only for a scalar.*shape \[3\]/);
    expect(() => y.backward(f64([1, 1], [2], false))).toThrow(/gradient shape \[2\] does not match output shape \[3\]/);
    expect(() => y.backward(new Tensor(new Float32Array(3), [3]))).toThrow(
      /dtype float32 does not match output dtype float64/,
    );
    y.backward(f64([1, 10, 100], [3], false));
    expect(arr(x.grad)).toEqual([3, 30, 300]);
  });

  test('backward on a tensor that does not require grad throws', () => {
    expect(() => ones([1]).mul(2).backward()).toThrow(/does not require grad/);
  });

  test('a chain of 100,000 ops backpropagates without overflowing the stack', () => {
    const x = f64([0.5]);
    let y = x;
    const n = 100_000;
    for (let i = 0; i < n; i += 2) y = y.mul(1.00001).add(1e-3);
    y.backward();
    expect(x.grad!.data[0]).toBeCloseTo(1.00001 ** (n / 2), 9);
  });

  test('max sends the gradient to the first maximum over a dim, and splits it between ties over all', () => {
    const x = f64([3, 1, 3, 2], [2, 2]);
    x.max(1).sum().backward();
    expect(arr(x.grad)).toEqual([1, 0, 1, 0]);
    x.grad = null;
    const y = f64([3, 1, 3, 2]);
    y.max().backward();
    expect(arr(y.grad)).toEqual([0.5, 0, 0.5, 0]);
  });

  test('the exponent gradient of pow is 0 where the base is 0', () => {
    const a = f64([0, 2]);
    const b = f64([3, 3]);
    a.pow(b).sum().backward();
    expect(arr(b.grad)).toEqual([0, 8 * Math.log(2)]);
    expect(arr(a.grad)).toEqual([0, 12]);
  });

  test('requiresGrad propagates only from inputs that require it', () => {
    const a = f64([1], [1], false);
    const b = f64([1]);
    expect(a.mul(2).requiresGrad).toBe(false);
    expect(a.mul(2).gradFn).toBeNull();
    expect(a.mul(b).requiresGrad).toBe(true);
    expect(a.mul(b).gradFn!.name).toBe('mul');
  });
});

describe('noGrad', () => {
  test('records nothing inside and restores the mode after, even on a throw', () => {
    const x = f64([1, 2]);
    const y = noGrad(() => x.mul(2).exp());
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(x.mul(2).requiresGrad).toBe(true);
  });
});

describe('grad()', () => {
  test('returns gradients without touching .grad, for leaves and intermediate tensors', () => {
    const x = f64([1, 2]);
    const h = x.mul(x);
    const y = h.mul(3).sum();
    const [gx, gh] = grad(y, [x, h]);
    expect(arr(gx)).toEqual([6, 12]); // 6x
    expect(arr(gh)).toEqual([3, 3]);
    expect(x.grad).toBeNull();
  });

  test('gradOutputs weight the outputs', () => {
    const x = f64([1, 2]);
    const [gx] = grad([x.mul(2), x.mul(x)], x, { gradOutputs: [f64([1, 1], [2], false), f64([10, 100], [2], false)] });
    expect(arr(gx)).toEqual([2 + 20, 2 + 400]);
  });

  test('allowUnused gives null; without it an unused input is an error', () => {
    const x = f64([1]);
    const unused = f64([1]);
    const y = x.mul(2).sum();
    expect(() => grad(y, [x, unused], { retainGraph: true })).toThrow(/input 1 was not used.*allowUnused/);
    const [gx, gu] = grad(y, [x, unused], { allowUnused: true });
    expect(arr(gx)).toEqual([2]);
    expect(gu).toBeNull();
  });

  test('createGraph gives differentiable gradients (third derivative of x^4)', () => {
    const x = f64([1.5]);
    const y = x.pow(4);
    const [g1] = grad(y, x, { createGraph: true });
    const [g2] = grad(g1, x, { createGraph: true });
    const [g3] = grad(g2, x);
    expect(g1.data[0]).toBeCloseTo(4 * 1.5 ** 3, 12);
    expect(g2.data[0]).toBeCloseTo(12 * 1.5 ** 2, 12);
    expect(g3.data[0]).toBeCloseTo(24 * 1.5, 12);
  });

  test('backward with createGraph leaves a differentiable .grad', () => {
    const x = f64([0.3, -0.7]);
    x.tanh().sum().backward(undefined, { createGraph: true });
    expect(x.grad!.requiresGrad).toBe(true);
    const [gg] = grad(x.grad!.sum(), x); // d/dx (1 - tanh^2) = -2 tanh (1 - tanh^2)
    const t = [0.3, -0.7].map(Math.tanh);
    expect(arr(gg)).toEqual(t.map((v) => expect.closeTo(-2 * v * (1 - v * v), 12)));
  });
});

describe('detectAnomaly', () => {
  test('throws naming the op whose forward produced NaN', () => {
    const x = f64([-1, 1]);
    expect(() => detectAnomaly(() => x.mul(2).log())).toThrow(/forward of 'log' produced NaN/);
    // Off by default: the same computation just yields NaN.
    expect(Number.isNaN(x.log().data[0])).toBe(true);
  });

  test('throws naming the op whose backward produced Inf', () => {
    const x = f64([0, 4]);
    const y = x.sqrt().sum(); // forward finite, d sqrt(x)/dx at 0 is Inf
    expect(() => detectAnomaly(() => y.backward())).toThrow(/backward of 'sqrt' produced Inf/);
  });

  test('returns the result when everything is finite', () => {
    expect(detectAnomaly(() => f64([1, 2]).exp().sum().item())).toBeCloseTo(Math.E + Math.E ** 2, 12);
  });
});

describe('hvp', () => {
  test('equals (A + Aᵀ) v for the quadratic xᵀ A x', () => {
    const rng = new Rng(5);
    const n = 4;
    const A = leaf(rng, [n, n], { requiresGrad: false });
    const x0 = leaf(rng, [n], { requiresGrad: false });
    const v = leaf(rng, [n], { requiresGrad: false });
    const { value, hvp: hv } = hvp((x) => x.matmul(A.matmul(x)), x0, v);
    const a = A.data,
      xv = x0.data,
      vv = v.data;
    let q = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) q += xv[i] * a[i * n + j] * xv[j];
    expect(value.item()).toBeCloseTo(q, 12);
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let j = 0; j < n; j++) e += (a[i * n + j] + a[j * n + i]) * vv[j];
      expect(hv.data[i]).toBeCloseTo(e, 12);
    }
  });

  test('equals the Hessian built from finite differences of gradients on a small MLP', () => {
    const rng = new Rng(9);
    const x = leaf(rng, [5, 2], { requiresGrad: false });
    const y = leaf(rng, [5, 1], { requiresGrad: false });
    const params = [leaf(rng, [3, 2]), leaf(rng, [3]), leaf(rng, [1, 3]), leaf(rng, [1])];
    const loss = (w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor): Tensor =>
      F.mseLoss(F.linear(F.linear(x, w1, b1).tanh(), w2, b2), y);
    const v = params.map((p) => leaf(rng, [...p.shape], { requiresGrad: false }));
    const { hvp: hv } = hvp(loss, params, v);

    // Flatten θ, build H column by column: H[:, j] = (∇L(θ + ε e_j) - ∇L(θ - ε e_j)) / 2ε.
    const sizes = params.map((p) => p.size);
    const total = sizes.reduce((s, n) => s + n, 0);
    const flatGrad = (): Float64Array => {
      const ps = params.map((p) => p.detach().requiresGrad_());
      const gs = grad(loss(ps[0], ps[1], ps[2], ps[3]), ps);
      const out = new Float64Array(total);
      let o = 0;
      for (const g of gs) {
        out.set(g.data, o);
        o += g.size;
      }
      return out;
    };
    const locate = (j: number): [Tensor, number] => {
      let p = 0;
      while (j >= sizes[p]) j -= sizes[p++];
      return [params[p], j];
    };
    const eps = 1e-5;
    const H: Float64Array[] = [];
    for (let j = 0; j < total; j++) {
      const [p, k] = locate(j);
      const orig = p.data[k];
      p.data[k] = orig + eps;
      const gp = flatGrad();
      p.data[k] = orig - eps;
      const gm = flatGrad();
      p.data[k] = orig;
      H.push(gp.map((g, i) => (g - gm[i]) / (2 * eps)));
    }
    const vFlat = new Float64Array(total);
    let o = 0;
    for (const t of v) {
      vFlat.set(t.data, o);
      o += t.size;
    }
    const hvFlat = new Float64Array(total);
    o = 0;
    for (const t of hv) {
      hvFlat.set(t.data, o);
      o += t.size;
    }
    for (let i = 0; i < total; i++) {
      let e = 0;
      for (let j = 0; j < total; j++) e += H[j][i] * vFlat[j];
      expect(hvFlat[i]).toBeCloseTo(e, 6);
    }
    // The inputs themselves are left alone.
    expect(params.every((p) => p.grad === null)).toBe(true);
  });

  test('checks its arguments', () => {
    expect(() => hvp((x) => x.sum(), zeros([2]), zeros([3]))).toThrow(
      /v\[0\] must be a Tensor of the input's shape \[2\]/,
    );
    expect(() => hvp((x) => x.mul(2), zeros([2]), zeros([2]))).toThrow(/scalar/);
  });
});

describe('errors name the op', () => {
  test('dtype mix', () => {
    expect(() => tensor([1, 2]).add(tensor([1, 2], { dtype: 'float64' }))).toThrow(
      /add: dtype mismatch, float32 and float64/,
    );
  });
});
