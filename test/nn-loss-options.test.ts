// Loss modules forward torch's class-loss options (weight, ignoreIndex, labelSmoothing) to F;
// expected values are computed by hand from the definitions.
import { describe, expect, it } from 'vitest';
import { tensor, nn } from '../lib/index.js';

const logits = [
  [1, 2, 0.5],
  [0.1, -1, 2],
  [0.3, 0.3, 0.3],
];
const targets = [1, 2, 0];
const logSoftmaxRow = (row: number[]): number[] => {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
};
const logp = logits.map(logSoftmaxRow);

describe('CrossEntropyLoss and NLLLoss options', () => {
  it('class weights: weighted mean over the weights of the targets, and weight is a buffer', () => {
    const w = [0.2, 1.5, 3];
    const loss = new nn.CrossEntropyLoss({ weight: tensor(w, { dtype: 'float64' }) });
    const got = loss.forward(tensor(logits, { dtype: 'float64' }), targets).item();
    const num = targets.reduce((s, t, i) => s - w[t] * logp[i][t], 0);
    const den = targets.reduce((s, t) => s + w[t], 0);
    expect(got).toBeCloseTo(num / den, 12);
    expect(Object.keys(loss.stateDict())).toEqual(['weight']);
    expect(Object.keys(new nn.CrossEntropyLoss().stateDict())).toEqual([]);
  });

  it('ignoreIndex drops those rows from the sum and the count', () => {
    const loss = new nn.NLLLoss({ ignoreIndex: 2 });
    const got = loss.forward(tensor(logp, { dtype: 'float64' }), targets).item();
    expect(got).toBeCloseTo(-(logp[0][1] + logp[2][0]) / 2, 12);
  });

  it('labelSmoothing mixes the one-hot target with the uniform distribution', () => {
    const s = 0.1;
    const loss = new nn.CrossEntropyLoss({ labelSmoothing: s, reduction: 'sum' });
    const got = loss.forward(tensor(logits, { dtype: 'float64' }), targets).item();
    const want = targets.reduce(
      (acc, t, i) => acc - logp[i].reduce((r, lp, c) => r + ((c === t ? 1 - s : 0) + s / 3) * lp, 0),
      0,
    );
    expect(got).toBeCloseTo(want, 12);
  });
});
