// lr schedulers against closed forms and hand-traced sequences; gradient clipping by hand.

import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../lib/tensor.js';
import { SGD, lrScheduler, clipGradNorm, clipGradValue } from '../lib/optim/index.js';

function optimizer(lr = 0.1): SGD {
  return new SGD([tensor([1, 2], { dtype: 'float64', requiresGrad: true })], { lr });
}

/** lr after construction and after each of n steps. */
function sequence(s: { step(): void; getLastLr(): number[] }, n: number): number[] {
  const out = [s.getLastLr()[0]];
  for (let i = 0; i < n; i++) {
    s.step();
    out.push(s.getLastLr()[0]);
  }
  return out;
}

function expectSeq(actual: number[], expected: number[], tol = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    if (!(Math.abs(v - expected[i]) <= tol)) throw new Error(`epoch ${i}: lr ${v}, expected ${expected[i]}`);
  });
}

describe('lr schedulers', () => {
  it('StepLR: base * gamma^floor(epoch / stepSize), written into the optimizer', () => {
    const opt = optimizer(0.1);
    const s = new lrScheduler.StepLR(opt, { stepSize: 3, gamma: 0.5 });
    const seq = sequence(s, 10);
    expectSeq(
      seq,
      seq.map((_, e) => 0.1 * 0.5 ** Math.floor(e / 3)),
    );
    expect(opt.paramGroups[0].lr).toBe(seq[10]);
    expect(opt.paramGroups[0].initialLr).toBe(0.1);
  });

  it('StepLR defaults gamma to 0.1', () => {
    const s = new lrScheduler.StepLR(optimizer(1), { stepSize: 2 });
    expectSeq(sequence(s, 4), [1, 1, 0.1, 0.1, 0.01]);
  });

  it('MultiStepLR: base * gamma^(milestones passed)', () => {
    const s = new lrScheduler.MultiStepLR(optimizer(1), { milestones: [5, 2, 5], gamma: 0.5 });
    const seq = sequence(s, 7);
    expectSeq(
      seq,
      seq.map((_, e) => 0.5 ** [2, 5, 5].filter((m) => m <= e).length),
    );
  });

  it('ExponentialLR: base * gamma^epoch', () => {
    const s = new lrScheduler.ExponentialLR(optimizer(0.2), { gamma: 0.9 });
    const seq = sequence(s, 8);
    expectSeq(
      seq,
      seq.map((_, e) => 0.2 * 0.9 ** e),
    );
  });

  it('CosineAnnealingLR: etaMin + (base - etaMin)(1 + cos(pi e / tMax)) / 2, periodic past tMax', () => {
    const s = new lrScheduler.CosineAnnealingLR(optimizer(0.1), { tMax: 5, etaMin: 0.01 });
    const seq = sequence(s, 17);
    expectSeq(
      seq,
      seq.map((_, e) => 0.01 + ((0.1 - 0.01) * (1 + Math.cos((Math.PI * e) / 5))) / 2),
    );
  });

  it('schedulers chain on the same optimizer (torch semantics)', () => {
    const opt = optimizer(1);
    const a = new lrScheduler.ExponentialLR(opt, { gamma: 0.9 });
    const b = new lrScheduler.StepLR(opt, { stepSize: 2, gamma: 0.5 });
    const lrs: number[] = [];
    for (let e = 1; e <= 4; e++) {
      a.step();
      b.step();
      lrs.push(opt.paramGroups[0].lr);
    }
    expectSeq(
      lrs,
      [1, 2, 3, 4].map((e) => 0.9 ** e * 0.5 ** Math.floor(e / 2)),
    );
  });

  it('a scheduler restored from its state dict continues the same sequence', () => {
    const opt = optimizer(0.1);
    const s = new lrScheduler.CosineAnnealingLR(opt, { tMax: 6 });
    for (let i = 0; i < 3; i++) s.step();
    const saved = JSON.parse(JSON.stringify({ opt: opt.stateDict().param_groups, s: s.stateDict() }));
    const rest = sequence(s, 5).slice(1);

    const opt2 = optimizer(0.1);
    opt2.paramGroups[0].lr = saved.opt[0].lr;
    opt2.paramGroups[0].initialLr = saved.opt[0].initial_lr;
    const s2 = new lrScheduler.CosineAnnealingLR(opt2, { tMax: 6 });
    s2.loadStateDict(saved.s);
    opt2.paramGroups[0].lr = saved.opt[0].lr;
    expectSeq(sequence(s2, 5).slice(1), rest);
  });

  it('ReduceLROnPlateau: cuts by factor after more than patience bad epochs, with cooldown', () => {
    const opt = optimizer(1);
    const s = new lrScheduler.ReduceLROnPlateau(opt, { patience: 2, factor: 0.5, cooldown: 1 });
    const metrics = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.95, 0.5, 0.6];
    const lrs = metrics.map((m) => {
      s.step(m);
      return s.getLastLr()[0];
    });
    // bad epochs: 0.9 (2nd; not below 0.9*(1-1e-4)), 0.95, 0.91 -> 3 > 2: cut at epoch 5 (index 4),
    // cooldown swallows index 5, then 0.93, 0.94, 0.95 -> cut at index 8; 0.5 improves.
    expectSeq(lrs, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
  });

  it('ReduceLROnPlateau: max mode with absolute threshold, minLr and defaults', () => {
    const opt = optimizer(0.1);
    const d = new lrScheduler.ReduceLROnPlateau(opt);
    expect([d.mode, d.factor, d.patience, d.threshold, d.thresholdMode, d.cooldown, d.eps]).toEqual([
      'min',
      0.1,
      10,
      1e-4,
      'rel',
      0,
      1e-8,
    ]);
    const s = new lrScheduler.ReduceLROnPlateau(opt, {
      mode: 'max',
      patience: 0,
      thresholdMode: 'abs',
      threshold: 0.1,
      minLr: 0.03,
    });
    const lrs = [0.5, 0.55, 0.7, 0.7].map((m) => {
      s.step(m);
      return s.getLastLr()[0];
    });
    // 0.5 is the first best; 0.55 < 0.5 + 0.1 is bad -> 0.01 clamped to 0.03; 0.7 improves; 0.7 bad -> stays at minLr
    expectSeq(lrs, [0.1, 0.03, 0.03, 0.03]);
    expect(() => new lrScheduler.ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor/);
  });

  it('ReduceLROnPlateau state dict round trip (through JSON)', () => {
    const opt = optimizer(1);
    const s = new lrScheduler.ReduceLROnPlateau(opt, { patience: 1 });
    s.step(1);
    s.step(2);
    s.step(tensor(3)); // a scalar Tensor metric is read with item()
    expect(s.numBadEpochs).toBe(0); // the second bad epoch exceeded patience 1 and cut the lr
    expect(s.getLastLr()).toEqual([0.1]);
    const s2 = new lrScheduler.ReduceLROnPlateau(optimizer(1));
    s2.loadStateDict(JSON.parse(JSON.stringify(s.stateDict())));
    expect(s2.best).toBe(1);
    expect(s2.numBadEpochs).toBe(0);
    expect(s2.patience).toBe(1);
  });
});

function withGrads(values: number[][]): Tensor[] {
  return values.map((v) => {
    const p = tensor(
      v.map(() => 0),
      { dtype: 'float64', requiresGrad: true },
    );
    p.grad = tensor(v, { dtype: 'float64' });
    return p;
  });
}

describe('gradient clipping', () => {
  it('clipGradNorm returns the joint 2-norm and scales all gradients to maxNorm', () => {
    const ps = withGrads([
      [3, 0],
      [0, 4, 12],
    ]); // norm 13
    const total = clipGradNorm(ps, 6.5);
    expect(total).toBeCloseTo(13, 12);
    const coef = 6.5 / (13 + 1e-6);
    expect(Array.from((ps[0].grad as Tensor).data)).toEqual([3 * coef, 0]);
    expect((ps[1].grad as Tensor).data[2]).toBeCloseTo(12 * coef, 14);
  });

  it('clipGradNorm leaves small gradients unchanged; supports the inf and 1 norms', () => {
    const ps = withGrads([[0.1, -0.2]]);
    expect(clipGradNorm(ps, 1)).toBeCloseTo(Math.sqrt(0.05), 14);
    expect(Array.from((ps[0].grad as Tensor).data)).toEqual([0.1, -0.2]);
    const qs = withGrads([[1, -5], [2]]);
    expect(clipGradNorm(qs, 2.5, Infinity)).toBe(5);
    expect((qs[0].grad as Tensor).data[1]).toBeCloseTo((-5 * 2.5) / (5 + 1e-6), 14);
    expect(clipGradNorm(withGrads([[1, -5], [2]]), 100, 1)).toBe(8);
  });

  it('clipGradNorm can refuse a non-finite norm', () => {
    const ps = withGrads([[NaN, 1]]);
    expect(() => clipGradNorm(ps, 1, 2, { errorIfNonfinite: true })).toThrow(/non-finite/);
  });

  it('clipGradValue clamps each element', () => {
    const ps = withGrads([[-3, 0.5, 2]]);
    clipGradValue(ps, 1);
    expect(Array.from((ps[0].grad as Tensor).data)).toEqual([-1, 0.5, 1]);
    expect(() => clipGradValue(ps, -1)).toThrow(RangeError);
  });
});
