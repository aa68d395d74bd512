// nn.init against torch.nn.init's formulas: gains, fans, the bounds of the uniform initialisers
// and the standard deviation of the normal ones, reproducibility under manualSeed.

import { describe, expect, it } from 'vitest';
import { ones } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import * as nn from '../lib/nn/index.js';

describe('nn.init', () => {
  it('gains follow torch.nn.init.calculate_gain', () => {
    expect(nn.init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 15);
    expect(nn.init.calculateGain('tanh')).toBeCloseTo(5 / 3, 15);
    expect(nn.init.calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.0001)), 15);
    expect(nn.init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(nn.init.calculateGain('sigmoid')).toBe(1);
    expect(nn.init.calculateGain('selu')).toBe(0.75);
  });

  it('fans use the receptive field and need 2 dims', () => {
    expect(nn.init.calculateFanInAndFanOut(ones([8, 3, 5, 5]))).toEqual([75, 200]);
    expect(() => nn.init.xavierUniform(ones([4]))).toThrow(/at least 2 dimensions/);
  });

  it('uniform initialisers stay inside their bounds and fill them', () => {
    const w = ones([50, 80], { dtype: 'float64' });
    const check = (bound: number): void => {
      const m = Math.max(...Array.from(w.data).map(Math.abs));
      expect(m).toBeLessThanOrEqual(bound);
      expect(m).toBeGreaterThan(0.99 * bound);
    };
    nn.init.xavierUniform(w, 2);
    check(2 * Math.sqrt(6 / 130));
    nn.init.kaimingUniform(w, { nonlinearity: 'relu' });
    check(Math.SQRT2 * Math.sqrt(3 / 80));
    nn.init.kaimingUniform(w, { mode: 'fan_out', nonlinearity: 'relu' });
    check(Math.SQRT2 * Math.sqrt(3 / 50));
    nn.init.uniform(w, -0.3, 0.3);
    check(0.3);
  });

  it('normal initialisers have the right standard deviation', () => {
    const w = ones([200, 300], { dtype: 'float64' });
    const sd = (): number => {
      const v = Array.from(w.data);
      const m = v.reduce((s, a) => s + a, 0) / v.length;
      return Math.sqrt(v.reduce((s, a) => s + (a - m) ** 2, 0) / v.length);
    };
    nn.init.xavierNormal(w);
    expect(sd() / Math.sqrt(2 / 500)).toBeCloseTo(1, 1);
    nn.init.kaimingNormal(w, { mode: 'fan_out', nonlinearity: 'relu' });
    expect(sd() / (Math.SQRT2 / Math.sqrt(200))).toBeCloseTo(1, 1);
    nn.init.normal(w, 3, 0.5);
    expect(sd()).toBeCloseTo(0.5, 1);
    nn.init.zeros(w);
    expect(Array.from(w.data).every((v) => v === 0)).toBe(true);
    nn.init.ones(w);
    expect(Array.from(w.data).every((v) => v === 1)).toBe(true);
  });

  it('manualSeed makes every initialiser reproducible', () => {
    const a = ones([3, 4]);
    const b = ones([3, 4]);
    manualSeed(5);
    nn.init.kaimingNormal(a);
    manualSeed(5);
    nn.init.kaimingNormal(b);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
  });
});
