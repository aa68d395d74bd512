// Tensor creation, properties, reading, views and copies, printing, and the seeded generator.

import { describe, expect, test } from 'vitest';
import { inspect } from 'node:util';
import {
  Tensor,
  arange,
  cat,
  eye,
  full,
  manualSeed,
  ones,
  rand,
  randn,
  stack,
  tensor,
  zeros,
  getRngState,
  setRngState,
} from '../lib/index.js';
import { dropout } from '../lib/ops/activation.js';
import { randomPermutation, randomUniform } from '../lib/random.js';

describe('creation', () => {
  test('tensor() from a number, nested arrays and typed arrays', () => {
    const s = tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(s.item()).toBe(3.5);
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.shape).toEqual([2, 3]);
    expect(t.dtype).toBe('float32');
    expect(t.data).toBeInstanceOf(Float32Array);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.ndim).toBe(2);
    expect(t.size).toBe(6);
    expect(tensor([[1, 2]], { dtype: 'float64' }).data).toBeInstanceOf(Float64Array);

    const raw = new Float64Array([1, 2, 3, 4]);
    const r = tensor(raw, { shape: [2, 2] });
    expect(r.dtype).toBe('float64');
    expect(r.data).toBe(raw); // same dtype: the array is the storage
    const c = tensor(raw, { shape: [4], dtype: 'float32' });
    expect(c.data).toBeInstanceOf(Float32Array);
    expect(Array.from(c.data)).toEqual([1, 2, 3, 4]);
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2] }).toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(tensor([1, 2], { requiresGrad: true }).requiresGrad).toBe(true);
    const labels = tensor(new Uint8Array([3, 255]));
    expect(labels.dtype).toBe('float32');
    expect(labels.toArray()).toEqual([3, 255]);
    expect(tensor(new Int32Array([-1, 2, 3, 4]), { shape: [2, 2], dtype: 'float64' }).toArray()).toEqual([
      [-1, 2],
      [3, 4],
    ]);
  });

  test('tensor() rejects ragged arrays, bad shapes and bad dtypes', () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => tensor(new Float32Array(5), { shape: [2, 2] })).toThrow(/shape \[2, 2\] does not match 5 values/);
    expect(() => tensor([1], { dtype: 'int8' as never })).toThrow(
      /dtype must be one of 'float32', 'float64', 'bfloat16'/,
    );
    expect(() => zeros([2, -1])).toThrow(/invalid size -1/);
  });

  test('zeros, ones, full, arange, eye', () => {
    expect(zeros([2, 2]).toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(ones(3, { dtype: 'float64' }).toArray()).toEqual([1, 1, 1]);
    expect(full([2], 7).toArray()).toEqual([7, 7]);
    expect(arange(4).toArray()).toEqual([0, 1, 2, 3]);
    expect(arange(1, 2, 0.25, { dtype: 'float64' }).toArray()).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    expect(eye(3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(eye(2, 3).toArray()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(() => arange(0, 1, 0)).toThrow(/non-zero step/);
  });

  test('cat and stack', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([[5, 6]]);
    expect(cat([a, b], 0).toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(cat([a, tensor([[9], [8]])], 1).toArray()).toEqual([
      [1, 2, 9],
      [3, 4, 8],
    ]);
    expect(stack([a, a], 2).shape).toEqual([2, 2, 2]);
    expect(stack([tensor([1, 2]), tensor([3, 4])], 1).toArray()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(() => cat([a, tensor([[1, 2, 3]])], 0)).toThrow(/cat: shapes \[2, 2\] and \[1, 3\] differ outside dim 0/);
    expect(() => stack([a, b])).toThrow(/stack: all tensors must have the same shape, got \[2, 2\] and \[1, 2\]/);
  });
});

describe('reading, views and copies', () => {
  test('toArray and item', () => {
    expect(tensor([[[1], [2]]]).toArray()).toEqual([[[1], [2]]]);
    expect(tensor(2).toArray()).toBe(2);
    expect(() => tensor([1, 2]).item()).toThrow(/one-element tensors.*\[2\]/);
  });

  test('reshape/view/squeeze/unsqueeze/flatten share storage; in-place writes are visible', () => {
    const t = arange(6);
    const v = t.reshape(2, -1);
    expect(v.shape).toEqual([2, 3]);
    expect(v.data).toBe(t.data);
    t.data[0] = 42;
    expect(v.toArray()).toEqual([
      [42, 1, 2],
      [3, 4, 5],
    ]);
    expect(t.reshape([3, 2]).unsqueeze(0).shape).toEqual([1, 3, 2]);
    expect(zeros([1, 3, 1]).squeeze().shape).toEqual([3]);
    expect(zeros([1, 3, 1]).squeeze(2).shape).toEqual([1, 3]);
    expect(zeros([2, 3, 4]).flatten(1).shape).toEqual([2, 12]);
    expect(tensor([1, 2]).expand(2, -1).toArray()).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(() => t.reshape(4, -1)).toThrow(/reshape: shape \[4, -1\] is invalid for input of shape \[6\]/);
  });

  test('clone copies, detach shares, to() converts', () => {
    const t = tensor([1.5, 2.5], { requiresGrad: true });
    const c = t.clone();
    c.data[0] = 0;
    expect(t.data[0]).toBe(1.5);
    const d = t.detach();
    expect(d.data).toBe(t.data);
    expect(d.requiresGrad).toBe(false);
    const f = t.to('float64');
    expect(f.dtype).toBe('float64');
    expect(Array.from(f.data)).toEqual([1.5, 2.5]);
    expect(t.to('float32')).toBe(t);
    f.sum().backward();
    expect(t.grad!.dtype).toBe('float32');
    expect(Array.from(t.grad!.data)).toEqual([1, 1]);
  });

  test('transpose and permute copy in the new order', () => {
    const t = arange(6).reshape(2, 3);
    expect(t.transpose(0, 1).toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    expect(t.t().toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    const p = arange(24).reshape(2, 3, 4).permute(2, 0, 1);
    expect(p.shape).toEqual([4, 2, 3]);
    // p[k, i, j] = original[i, j, k] = 12 i + 4 j + k
    expect((p.toArray() as number[][][])[3][1][2]).toBe(12 + 8 + 3);
    expect(() => t.permute(0, 0)).toThrow(/repeat a dimension/);
  });

  test('narrow and indexSelect', () => {
    const t = arange(12).reshape(3, 4);
    expect(t.narrow(1, 1, 2).toArray()).toEqual([
      [1, 2],
      [5, 6],
      [9, 10],
    ]);
    expect(t.narrow(0, -1, 1).toArray()).toEqual([[8, 9, 10, 11]]);
    expect(t.indexSelect(0, tensor([2, 0])).toArray()).toEqual([
      [8, 9, 10, 11],
      [0, 1, 2, 3],
    ]);
    expect(t.indexSelect(1, [3, 3]).toArray()).toEqual([
      [3, 3],
      [7, 7],
      [11, 11],
    ]);
    expect(() => t.narrow(1, 3, 2)).toThrow(/narrow: start 3 and length 2 do not fit dim 1 of size 4/);
    expect(() => t.indexSelect(0, [3])).toThrow(/index 3 at position 0 is out of range \[0, 3\)/);
    expect(() => t.indexSelect(0, [0.5])).toThrow(/indices must be integers/);
  });
});

test('small op results are independent zeroed arrays (slab pieces do not overlap)', () => {
  const outs: Tensor[] = [];
  for (let i = 0; i < 200; i++) outs.push(arange(3 + (i % 300)).add(i));
  outs.forEach((t, i) => t.data.fill(-i));
  outs.forEach((t, i) => expect(t.data.every((v) => v === -i)).toBe(true));
  // A fresh piece starts zeroed: scatter-add (the gradient of indexSelect) adds into it.
  const x = ones([50], { requiresGrad: true });
  x.indexSelect(0, [1, 1, 49]).sum().backward();
  expect(Array.from(x.grad!.data)).toEqual(Array.from({ length: 50 }, (_, i) => (i === 1 ? 2 : i === 49 ? 1 : 0)));
});

describe('printing', () => {
  test('shows values, shape, dtype and autograd state like torch', () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(inspect(t)).toBe('tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)');
    const g = tensor([0.5, -1.25], { dtype: 'float64', requiresGrad: true });
    expect(inspect(g)).toBe('tensor([ 0.5000, -1.2500], shape=[2], dtype=float64, requiresGrad=true)');
    expect(inspect(g.mul(2))).toContain('gradFn=<mul>');
    expect(String(tensor(3))).toBe('tensor(3., shape=[], dtype=float32)');
  });

  test('elides large tensors', () => {
    const s = inspect(arange(2000).reshape(40, 50));
    expect(s).toContain('...');
    expect(s).toContain('1999.');
    expect(s).not.toContain('1000.');
    expect(s.split('\n').length).toBe(7);
  });
});

describe('seeded generator', () => {
  test('manualSeed makes rand, randn and dropout reproducible', () => {
    manualSeed(123);
    const a = [rand([5]).toArray(), randn([5]).toArray(), dropout(ones([20]), 0.5).toArray()];
    manualSeed(123);
    const b = [rand([5]).toArray(), randn([5]).toArray(), dropout(ones([20]), 0.5).toArray()];
    expect(b).toEqual(a);
    manualSeed(124);
    expect(rand([5]).toArray()).not.toEqual(a[0]);
  });

  test('getRngState/setRngState resume the same stream', () => {
    manualSeed(7);
    rand([3]);
    const s = getRngState();
    const next = randn([4]).toArray();
    setRngState(s);
    expect(randn([4]).toArray()).toEqual(next);
  });

  test('draws have the right distribution', () => {
    manualSeed(1);
    const n = 20000;
    const u = randomUniform(n);
    const z = randn([n], { dtype: 'float64' }).data;
    const mean = (a: ArrayLike<number>): number => Array.from(a).reduce((s, v) => s + v, 0) / a.length;
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 1);
    expect(mean(z)).toBeCloseTo(0, 1);
    expect(mean(Array.from(z, (v) => v * v))).toBeCloseTo(1, 1);
    // Dropout keeps about 1 - p of the elements, scaled by 1 / (1 - p).
    const d = dropout(ones([n]), 0.25).data;
    const kept = Array.from(d).filter((v) => v !== 0);
    expect(kept.length / n).toBeCloseTo(0.75, 1);
    expect(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6)).toBe(true);
  });

  test('randomPermutation is a permutation', () => {
    manualSeed(3);
    const p = randomPermutation(100);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(p)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});

test('Tensor is a plain class with the documented properties', () => {
  const t = new Tensor(new Float32Array(6), [2, 3]);
  expect(t.grad).toBeNull();
  expect(t.requiresGrad).toBe(false);
  expect(t.isLeaf).toBe(true);
  expect(t.requiresGrad_().requiresGrad).toBe(true);
});
