// The ops' errors: shape mismatches name the op and both shapes; dtype mixes and out-of-range dims
// and indices are clear errors; a number is accepted where a Tensor is, anything else is a
// TypeError.

import { describe, expect, test } from 'vitest';
import { tensor, zeros } from '../lib/index.js';
import * as F from '../lib/ops/index.js';

describe('errors', () => {
  test('shape mismatches name the op and both shapes', () => {
    const a = zeros([2, 3]);
    expect(() => a.add(zeros([4]))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
    expect(() => a.mul(zeros([3, 3]))).toThrow(/mul: shapes \[2, 3\] and \[3, 3\]/);
    expect(() => a.matmul(zeros([2, 3]))).toThrow(/matmul: shapes \[2, 3\] and \[2, 3\] cannot be multiplied/);
    expect(() => zeros([2, 2, 3]).matmul(zeros([2, 4, 2]))).toThrow(/matmul: shapes \[2, 2, 3\] and \[2, 4, 2\]/);
    expect(() => zeros([2, 2, 3]).matmul(zeros([3, 3, 2]))).toThrow(
      /matmul: shapes \[2\] and \[3\] cannot be broadcast/,
    );
    expect(() => F.linear(zeros([4, 5]), zeros([3, 4]))).toThrow(
      /linear: input shape \[4, 5\] does not match weight shape \[3, 4\]/,
    );
    expect(() => F.mseLoss(zeros([4, 1]), zeros([4]))).toThrow(
      /mseLoss: input shape \[4, 1\] and target shape \[4\] differ/,
    );
    expect(() => F.crossEntropy(zeros([4, 3]), [0, 1])).toThrow(
      /crossEntropy: target shape \[2\] does not match input batch size 4/,
    );
  });

  test('dtype mixes are refused', () => {
    expect(() => zeros([2]).mul(zeros([2], { dtype: 'float64' }))).toThrow(/mul: dtype mismatch, float32 and float64/);
    expect(() => zeros([2, 2]).matmul(zeros([2, 2], { dtype: 'float64' }))).toThrow(/matmul: dtype mismatch/);
    expect(() => F.linear(zeros([1, 2]), zeros([2, 2], { dtype: 'float64' }))).toThrow(/linear: dtype mismatch/);
  });

  test('out-of-range dims and indices', () => {
    const x = zeros([2, 3]);
    expect(() => x.sum(2)).toThrow(/sum: dim 2 is out of range for a tensor with 2 dimensions \(expected -2\.\.1\)/);
    expect(() => x.softmax(-3)).toThrow(/softmax: dim -3 is out of range/);
    expect(() => x.transpose(0, 5)).toThrow(/transpose: dim 5 is out of range/);
    expect(() => x.unsqueeze(4)).toThrow(/unsqueeze: dim 4 is out of range/);
    expect(() => x.max(1.5)).toThrow(/dim must be an integer/);
    expect(() => F.crossEntropy(x, [0, 3])).toThrow(/crossEntropy: index 3 at position 1 is out of range \[0, 3\)/);
    expect(() => F.crossEntropy(x, [0, -1])).toThrow(/out of range/);
    expect(() => F.nllLoss(x, tensor([0, 1.5]))).toThrow(/nllLoss: indices must be integers, got 1.5/);
    expect(() => F.mseLoss(x, x, { reduction: 'avg' as never })).toThrow(/reduction must be 'mean', 'sum' or 'none'/);
  });

  test('a number is accepted where a Tensor is, anything else is a TypeError', () => {
    expect(zeros([2]).add(1).toArray()).toEqual([1, 1]);
    expect(() => zeros([2]).add('1' as never)).toThrow(TypeError);
    expect(() => zeros([2]).matmul([1, 2] as never)).toThrow(/matmul: b must be a Tensor/);
  });
});
