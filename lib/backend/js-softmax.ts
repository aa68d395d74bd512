// The js backend's row-wise softmax family over the last axis of a rows×cols matrix: softmax,
// logSoftmax, their backwards, and the fused softmax cross-entropy.

import type { Backend, FloatArray } from './types.js';
import {
  checkAtLeast,
  checkFloatArrays,
  checkIndicesBelow,
  checkInt32Array,
  checkNumber,
  checkRowArrays,
  checkRowsCols,
} from './js-checks.js';
import { rounderFor } from './js-math.js';

function rowMax(x: FloatArray, start: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) if (x[start + j] > m) m = x[start + j];
  return m;
}

function softmax(x: FloatArray, rows: number, cols: number, y: FloatArray): void {
  const name = 'softmax';
  checkRowArrays(name, rows, cols, { x, y });
  const round = rounderFor(x);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    const m = rowMax(x, s, cols);
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      y[s + j] = Math.exp(x[s + j] - m);
      sum = round(sum + y[s + j]);
    }
    for (let j = 0; j < cols; j++) y[s + j] /= sum;
  }
}

function logSoftmax(x: FloatArray, rows: number, cols: number, y: FloatArray): void {
  const name = 'logSoftmax';
  checkRowArrays(name, rows, cols, { x, y });
  const round = rounderFor(x);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    const m = rowMax(x, s, cols);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum = round(sum + round(Math.exp(x[s + j] - m)));
    const logSum = round(Math.log(sum));
    for (let j = 0; j < cols; j++) y[s + j] = round(x[s + j] - m) - logSum;
  }
}

function softmaxBackward(y: FloatArray, gy: FloatArray, rows: number, cols: number, gx: FloatArray): void {
  const name = 'softmaxBackward';
  checkRowArrays(name, rows, cols, { y, gy, gx });
  const round = rounderFor(y);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot = round(dot + gy[s + j] * y[s + j]);
    for (let j = 0; j < cols; j++) gx[s + j] = y[s + j] * round(gy[s + j] - dot);
  }
}

function logSoftmaxBackward(y: FloatArray, gy: FloatArray, rows: number, cols: number, gx: FloatArray): void {
  const name = 'logSoftmaxBackward';
  checkRowArrays(name, rows, cols, { y, gy, gx });
  const round = rounderFor(y);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum = round(sum + gy[s + j]);
    for (let j = 0; j < cols; j++) gx[s + j] = gy[s + j] - round(Math.exp(y[s + j])) * sum;
  }
}

function softmaxCrossEntropy(
  logits: FloatArray,
  rows: number,
  cols: number,
  targets: Int32Array,
  losses: FloatArray,
  grad: FloatArray | null,
  scale: number,
): void {
  const name = 'softmaxCrossEntropy';
  grad ??= null; // undefined means "no gradient", as on the native side
  checkRowsCols(name, rows, cols);
  if (grad === null) checkFloatArrays(name, { logits, losses });
  else checkFloatArrays(name, { logits, losses, grad });
  checkInt32Array(name, 'targets', targets);
  checkAtLeast(name, 'logits', logits, rows * cols);
  checkAtLeast(name, 'targets', targets, rows);
  checkAtLeast(name, 'losses', losses, rows);
  if (grad !== null) checkAtLeast(name, 'grad', grad, rows * cols);
  checkNumber(name, 'scale', scale);
  // Every target is checked before anything is written.
  checkIndicesBelow(name, 'targets', targets, rows, cols, 'row ', 'the classes ');
  const round = rounderFor(logits);
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    const t = targets[r];
    const m = rowMax(logits, s, cols);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum = round(sum + round(Math.exp(logits[s + j] - m)));
    const logSum = round(Math.log(sum));
    losses[r] = logSum - round(logits[s + t] - m);
    if (grad !== null) {
      for (let j = 0; j < cols; j++) {
        const p = round(round(Math.exp(logits[s + j] - m)) / sum);
        grad[s + j] = scale * (j === t ? p - 1 : p);
      }
    }
  }
}

export const softmaxKernels: Pick<
  Backend,
  'softmax' | 'logSoftmax' | 'softmaxBackward' | 'logSoftmaxBackward' | 'softmaxCrossEntropy'
> = { softmax, logSoftmax, softmaxBackward, logSoftmaxBackward, softmaxCrossEntropy };
