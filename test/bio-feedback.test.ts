// The bio feedback modes against hand-derived formulas on a tiny tanh MLP (plain JS arithmetic,
// no library op), on every backend, in float64:
//   backprop δ_l = (δ_{l+1} W_{l+1}) ⊙ f'(a_l)   FA δ_l = (δ_{l+1} B_{l+1}) ⊙ f'(a_l)
//   sign symmetry: B = sign(W)                    DFA δ_l = (e D_l) ⊙ f'(a_l)
// with weight gradients δ_lᵀ h_{l-1} in every case; and bit-for-bit identities with backprop.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, bio, fit, manualSeed, nn, optim } from '../lib/index.js';
import * as F from '../lib/nn/functional.js';
import { backendsHere } from './support/autograd.js';
import { Rng } from './support/random.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

type Mat = number[][];
const matOf = (t: Tensor): Mat => {
  const [r, c] = t.shape;
  return Array.from({ length: r }, (_, i) => Array.from(t.data.subarray(i * c, (i + 1) * c), Number));
};
const mul = (a: Mat, b: Mat): Mat => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const tr = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
const had = (a: Mat, b: Mat): Mat => a.map((row, i) => row.map((v, j) => v * b[i][j]));
const map = (a: Mat, f: (v: number) => number): Mat => a.map((row) => row.map(f));
const addRow = (a: Mat, b: number[]): Mat => a.map((row) => row.map((v, j) => v + b[j]));
const colSums = (a: Mat): number[] => a[0].map((_, j) => a.reduce((s, row) => s + row[j], 0));

function tinyMlp(): nn.Sequential {
  return new nn.Sequential(
    new nn.Linear(3, 4, { dtype: 'float64' }),
    new nn.Tanh(),
    new nn.Linear(4, 5, { dtype: 'float64' }),
    new nn.Tanh(),
    new nn.Linear(5, 2, { dtype: 'float64' }),
  );
}

function batch(rng: Rng): [Tensor, Tensor] {
  const x = new Tensor(
    Float64Array.from({ length: 6 * 3 }, () => rng.normal()),
    [6, 3],
  );
  const y = new Tensor(
    Float64Array.from({ length: 6 * 2 }, () => rng.normal()),
    [6, 2],
  );
  return [x, y];
}

/**
 * The hand-derived weight and bias gradients of mean squared error for the tiny MLP, where the
 * error reaches hidden layer l through `toHidden(l, δ above, e)` (backprop, FA, sign or DFA).
 */
function handGradients(
  model: nn.Sequential,
  x: Tensor,
  y: Tensor,
  toHidden: (l: number, above: Mat, e: Mat) => Mat,
): Mat[] {
  const lin = [0, 2, 4].map((i) => model.at(i) as nn.Linear);
  const W = lin.map((l) => matOf(l.weight));
  const b = lin.map((l) => Array.from((l.bias as Tensor).data, Number));
  const h0 = matOf(x);
  const h1 = map(addRow(mul(h0, tr(W[0])), b[0]), Math.tanh);
  const h2 = map(addRow(mul(h1, tr(W[1])), b[1]), Math.tanh);
  const out = addRow(mul(h2, tr(W[2])), b[2]);
  const t = matOf(y);
  const count = out.length * out[0].length;
  const e = out.map((row, i) => row.map((v, j) => (2 * (v - t[i][j])) / count));
  const d2 = had(
    toHidden(2, e, e),
    map(h2, (v) => 1 - v * v),
  );
  const d1 = had(
    toHidden(1, d2, e),
    map(h1, (v) => 1 - v * v),
  );
  return [mul(tr(d1), h0), [colSums(d1)], mul(tr(d2), h1), [colSums(d2)], mul(tr(e), h2), [colSums(e)]];
}

function libraryGradients(method: nn.Module, model: nn.Sequential, x: Tensor, y: Tensor): Mat[] {
  model.zeroGrad();
  F.mseLoss(method.forward(x) as Tensor, y).backward();
  return [0, 2, 4].flatMap((i) => {
    const l = model.at(i) as nn.Linear;
    return [matOf(l.weight.grad as Tensor), [Array.from((l.bias as Tensor).grad?.data ?? [], Number)]];
  });
}

function expectMatsClose(got: Mat[], want: Mat[], tol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((m, k) =>
    m.forEach((row, i) =>
      row.forEach((v, j) =>
        expect(Math.abs(v - want[k][i][j])).toBeLessThanOrEqual(tol * (1 + Math.abs(want[k][i][j]))),
      ),
    ),
  );
}

describe.each(backendsHere())('bio feedback modes on %s', (name) => {
  test('backprop (no mode set) equals the hand-derived gradients', () => {
    backend.use(name);
    manualSeed(1);
    const model = tinyMlp();
    const [x, y] = batch(new Rng(2));
    const W = (l: number): Mat => matOf((model.at(2 * l) as nn.Linear).weight);
    expectMatsClose(
      libraryGradients(model, model, x, y),
      handGradients(model, x, y, (l, above) => mul(above, W(l))),
      1e-12,
    );
  });

  test('feedback alignment: δ_l = (δ_{l+1} B_{l+1}) ⊙ f′(a_l) with the layers’ fixed random B', () => {
    backend.use(name);
    manualSeed(3);
    const model = bio.feedbackAlignment(tinyMlp());
    const [x, y] = batch(new Rng(4));
    const B = (l: number): Mat => matOf((model.at(2 * l) as unknown as { feedback_weight: Tensor }).feedback_weight);
    const W = (l: number): Mat => matOf((model.at(2 * l) as nn.Linear).weight);
    const want = handGradients(model, x, y, (l, above) => mul(above, B(l)));
    expectMatsClose(libraryGradients(model, model, x, y), want, 1e-12);
    // and it is not backprop: the first layer's gradient differs
    const bp = handGradients(model, x, y, (l, above) => mul(above, W(l)));
    expect(Math.abs(want[0][0][0] - bp[0][0][0])).toBeGreaterThan(1e-6);
  });

  test('sign symmetry: B = sign(W)', () => {
    backend.use(name);
    manualSeed(5);
    const model = bio.signSymmetry(tinyMlp());
    const [x, y] = batch(new Rng(6));
    const S = (l: number): Mat => map(matOf((model.at(2 * l) as nn.Linear).weight), Math.sign);
    expectMatsClose(
      libraryGradients(model, model, x, y),
      handGradients(model, x, y, (l, above) => mul(above, S(l))),
      1e-12,
    );
  });

  test('direct feedback alignment: δ_l = (e D_l) ⊙ f′(a_l)', () => {
    backend.use(name);
    manualSeed(7);
    const model = tinyMlp();
    const dfa = new bio.DirectFeedbackAlignment(model);
    const [x, y] = batch(new Rng(8));
    const D = (l: number): Mat =>
      matOf((model.at(2 * (l - 1)) as unknown as { direct_feedback_weight: Tensor }).direct_feedback_weight);
    expect(D(1).length).toBe(2);
    expect(D(1)[0].length).toBe(4);
    expectMatsClose(
      libraryGradients(dfa, model, x, y),
      handGradients(model, x, y, (l, _above, e) => mul(e, D(l))),
      1e-12,
    );
  });

  test('feedback alignment with B = W equals backprop bit for bit (MLP and conv net, float32)', () => {
    backend.use(name);
    const build = (): nn.Sequential => {
      manualSeed(9);
      return new nn.Sequential(
        new nn.Conv2d(2, 3, 3, { padding: 1, stride: 2 }),
        new nn.ReLU(),
        new nn.Flatten(),
        new nn.Linear(3 * 3 * 3, 5),
        new nn.Tanh(),
        new nn.Linear(5, 4),
      );
    };
    const rng = new Rng(10);
    const x = new Tensor(
      Float32Array.from({ length: 4 * 2 * 5 * 5 }, () => rng.normal()),
      [4, 2, 5, 5],
    );
    const target = new Tensor(Float32Array.from([0, 3, 1, 2]), [4]);
    const grads = (m: nn.Module): number[][] => {
      F.crossEntropy(m.forward(x) as Tensor, target).backward();
      return m.parameters().map((p) => Array.from(p.grad?.data ?? [], Number));
    };
    const plain = build();
    const fa = bio.feedbackAlignment(build());
    for (const [, layer] of bio.feedbackLayers(fa)) {
      (layer as unknown as { feedback_weight: Tensor }).feedback_weight.data.set(layer.weight.data);
    }
    const want = grads(plain);
    const got = grads(fa);
    expect(got).toEqual(want);
    // the input gradient too
    const xi = x.detach().requiresGrad_();
    F.crossEntropy(plain.forward(xi), target).backward();
    const xj = x.detach().requiresGrad_();
    F.crossEntropy(fa.forward(xj), target).backward();
    expect(Array.from(xj.grad?.data ?? [])).toEqual(Array.from(xi.grad?.data ?? []));
  });

  test('conv feedback: the input gradient is the transposed convolution with B, the weight gradient is conv2d’s', () => {
    backend.use(name);
    const rng = new Rng(11);
    const t = (shape: number[], req = true): Tensor =>
      new Tensor(
        Float64Array.from({ length: shape.reduce((a, b) => a * b) }, () => rng.normal()),
        shape,
        req,
      );
    const conv = new nn.Conv2d(2, 3, [3, 2], { stride: [2, 1], padding: 1, dilation: [1, 2], dtype: 'float64' });
    bio.feedbackAlignment(conv);
    const B = (conv as unknown as { feedback_weight: Tensor }).feedback_weight;
    const x = t([2, 2, 6, 5]);
    const y = conv.forward(x);
    const g = t([...y.shape], false);
    y.backward(g);
    // independent: the gradient w.r.t. x of <conv2d(x, B), g>, and w.r.t. W of <conv2d(x, W), g>
    const x2 = x.detach().requiresGrad_();
    const w2 = conv.weight.detach().requiresGrad_();
    const opts = { stride: conv.stride, padding: conv.padding, dilation: conv.dilation };
    F.conv2d(x2, B, null, opts).mul(g).sum().backward();
    F.conv2d(x.detach(), w2, null, opts).mul(g).sum().backward();
    const close = (a: Tensor | null, b: Tensor | null): void => {
      const av = Array.from(a?.data ?? []);
      const bv = Array.from(b?.data ?? []);
      expect(av.length).toBe(bv.length);
      av.forEach((v, i) => expect(v).toBeCloseTo(bv[i], 12));
    };
    close(x.grad, x2.grad);
    close(conv.weight.grad, w2.grad);
  });

  test('feedback matrices are saved and restored with the model: training resumes exactly', () => {
    backend.use(name);
    const [x, y] = batch(new Rng(12));
    const steps = (model: nn.Sequential, opt: optim.SGD, n: number): void => {
      for (let i = 0; i < n; i++) {
        opt.zeroGrad();
        F.mseLoss(model.forward(x), y).backward();
        opt.step();
      }
    };
    for (const setup of [
      (m: nn.Sequential): nn.Module => bio.feedbackAlignment(m),
      (m: nn.Sequential): nn.Module => new bio.DirectFeedbackAlignment(m),
    ]) {
      manualSeed(13);
      const a = tinyMlp();
      const wa = setup(a);
      const optA = new optim.SGD(a.parameters(), { lr: 0.1 });
      steps(wa as nn.Sequential, optA, 2);
      const saved = a.stateDict();
      const keys = Object.keys(saved).filter((k) => k.includes('feedback'));
      expect(keys.length).toBeGreaterThan(0);
      manualSeed(99); // a different draw, overwritten by the load
      const b = tinyMlp();
      const wb = setup(b);
      b.loadStateDict(saved);
      const optB = new optim.SGD(b.parameters(), { lr: 0.1 });
      steps(wa as nn.Sequential, optA, 2);
      steps(wb as nn.Sequential, optB, 2);
      expect(b.parameters().map((p) => Array.from(p.data))).toEqual(a.parameters().map((p) => Array.from(p.data)));
    }
  });
});

describe('alignment angles', () => {
  test('angleBetween matches hand values', () => {
    const v = (a: number[]): Tensor => new Tensor(Float64Array.from(a), [a.length]);
    expect(bio.angleBetween(v([1, 0]), v([1, 1]))).toBeCloseTo(45, 12);
    expect(bio.angleBetween(v([1, 2]), v([-2, 1]))).toBeCloseTo(90, 12);
    expect(bio.angleBetween(v([1, 2]), v([-1, -2]))).toBeCloseTo(180, 12);
    expect(Number.isNaN(bio.angleBetween(v([0, 0]), v([1, 1])))).toBe(true);
  });

  test('feedback alignment: 0° at the output layer (its gradient needs no feedback), not 0° below; modes and grads restored', () => {
    manualSeed(14);
    const model = bio.feedbackAlignment(tinyMlp());
    const [x, y] = batch(new Rng(15));
    const before = (model.at(0) as nn.Linear).weight.grad;
    const angles = bio.alignmentAngles(model, model, F.mseLoss, x, y);
    expect(angles.map((a) => a.layer)).toEqual(['0', '2', '4']);
    expect(angles[2].angle).toBeLessThan(1e-5);
    expect(angles[0].angle).toBeGreaterThan(1);
    expect(angles[1].angle).toBeGreaterThan(1);
    expect((model.at(0) as nn.Linear).feedbackMode).toBe('random');
    expect((model.at(0) as nn.Linear).weight.grad).toBe(before);
  });
});

test('alignmentMetrics: fit() logs each layer’s angle at the end of every epoch', async () => {
  manualSeed(22);
  const model = bio.feedbackAlignment(tinyMlp());
  const [x, y] = batch(new Rng(23));
  const metrics = bio.alignmentMetrics(model, model, { loss: F.mseLoss, batch: [x, y] });
  expect(metrics.map((m) => m.name)).toEqual(['angle[0]', 'angle[2]', 'angle[4]']);
  const history = await fit(model, {
    train: [[x, y]],
    epochs: 2,
    optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }),
    loss: F.mseLoss,
    metrics,
  });
  // after the last epoch the model is as it was when the metric ran: the angles agree
  const now = bio.alignmentAngles(model, model, F.mseLoss, x, y);
  expect(history.epochs[1]['angle[0]']).toBe(now[0].angle);
  expect(history.epochs[1]['angle[4]']).toBeLessThan(1e-5);
  expect(history.epochs[0]['angle[2]']).not.toBe(history.epochs[1]['angle[2]']);
});

describe('predictive coding', () => {
  test('with a small output nudge and converged inference, its updates approach backprop’s gradients (cosine > 0.999)', () => {
    manualSeed(16);
    const model = tinyMlp();
    const pc = new bio.PredictiveCoding(model, { iterations: 400, stepSize: 0.2 });
    const rng = new Rng(17);
    const [x] = batch(rng);
    const out = model.forward(x).detach();
    // targets a small step from the output: the nudge the inference relaxes from
    const y = out.add(
      new Tensor(
        Float64Array.from({ length: out.size }, () => 1e-3 * rng.normal()),
        out.shape,
      ),
    );
    const angles = bio.alignmentAngles(pc, model, F.mseLoss, x, y);
    for (const { angle } of angles) expect(Math.cos((angle * Math.PI) / 180)).toBeGreaterThan(0.999);
    // with no inference at all, the hidden errors stay zero: the lower layers get no update
    const none = new bio.PredictiveCoding(model, { iterations: 0 });
    model.zeroGrad();
    F.mseLoss(none.forward(x), y).backward();
    expect(Array.from((model.at(0) as nn.Linear).weight.grad?.data ?? []).every((v) => v === 0)).toBe(true);
  });

  test('refuses a model it cannot map to value nodes', () => {
    expect(
      () => new bio.PredictiveCoding(new nn.Sequential(new nn.Linear(2, 2), new nn.Dropout(0.5), new nn.Linear(2, 2))),
    ).toThrow(/bio.PredictiveCoding: unsupported layout at Dropout/);
    expect(() => new bio.PredictiveCoding(new nn.Sequential(new nn.Linear(2, 2), new nn.Tanh()))).toThrow(
      /must end with a Linear/,
    );
    expect(() => new bio.PredictiveCoding(new nn.Sequential(new nn.Linear(2, 2)), { iterations: -1 })).toThrow(
      /iterations/,
    );
  });
});

describe('forward-forward', () => {
  test('each layer learns only from its own goodness: no gradient crosses layers', () => {
    manualSeed(18);
    const model = new nn.Sequential(
      new nn.Linear(12, 8, { dtype: 'float64' }),
      new nn.ReLU(),
      new nn.Linear(8, 6, { dtype: 'float64' }),
      new nn.ReLU(),
    );
    const ff = new bio.ForwardForward(model, { classes: 3 });
    const rng = new Rng(19);
    const x = new Tensor(
      Float64Array.from({ length: 5 * 12 }, () => rng.normal()),
      [5, 12],
    );
    const input = ff.embed(x, [0, 1, 2, 0, 1]);
    // row 1: label 1, written as the length of the rest of the row
    let norm = 0;
    for (let j = 3; j < 12; j++) norm += x.data[12 + j] ** 2;
    expect(Array.from(input.data.subarray(12, 15))).toEqual([0, Math.max(1, Math.sqrt(norm)), 0]);
    expect(Array.from(input.data.subarray(15, 24))).toEqual(Array.from(x.data.subarray(15, 24)));
    const [, g2] = ff.goodness(input, true);
    g2.sum().backward();
    expect((model.at(0) as nn.Linear).weight.grad).toBeNull();
    expect((model.at(2) as nn.Linear).weight.grad).not.toBeNull();
  });

  test('learns a separable toy task above chance; refuses bad layouts', () => {
    manualSeed(20);
    const rng = new Rng(21);
    const n = 60;
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    // class c: a bump on features 3 + 3c .. 5 + 3c, plus noise
    const data = new Float32Array(n * 16);
    labels.forEach((c, i) => {
      for (let j = 3; j < 16; j++) data[i * 16 + j] = 0.2 * rng.normal() + (j >= 3 + 3 * c && j < 6 + 3 * c ? 1.5 : 0);
    });
    const x = new Tensor(data, [n, 16]);
    const y = new Tensor(Float32Array.from(labels), [n]);
    const model = new nn.Sequential(new nn.Linear(16, 32), new nn.ReLU(), new nn.Linear(32, 32), new nn.ReLU());
    const ff = new bio.ForwardForward(model, { classes: 3 });
    const opt = new optim.Adam(ff.parameters(), { lr: 0.03 });
    const accuracy = (): number => ff.predict(x).reduce((s, p, i) => s + (p === labels[i] ? 1 : 0), 0) / n;
    for (let i = 0; i < 60; i++) ff.step(x, y, opt);
    expect(accuracy()).toBeGreaterThan(0.9);
    expect(() => new bio.ForwardForward(new nn.Sequential(new nn.Linear(2, 2)))).toThrow(
      /no Linear \+ activation pair/,
    );
  });
});
