// Recurrent layers' options and shapes (state_dict names, shapes and order as torch's, the
// initialisation bounds, batchFirst and unbatched inputs, an empty batch, dropout between layers,
// float32 against float64), clear Errors for bad input, and nn.Embedding feeding a layer through
// the gather and scatterAdd kernels.

import { afterAll, describe, expect, it, vi } from 'vitest';
import { randn, tensor, zeros } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { backend, jsBackend } from '../lib/backend/index.js';
import * as nn from '../lib/nn/index.js';
import { expectClose, f64 } from './support/rnn.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

describe('layer options and shapes', () => {
  it("state_dict names, shapes and order are torch's", () => {
    const lstm = new nn.LSTM(5, 7, { numLayers: 2, bidirectional: true });
    const sd = lstm.stateDict();
    const names = Object.keys(sd);
    const expected: string[] = [];
    for (const l of [0, 1])
      for (const sfx of ['', '_reverse']) {
        for (const p of ['weight_ih', 'weight_hh', 'bias_ih', 'bias_hh']) expected.push(`${p}_l${l}${sfx}`);
      }
    expect(names).toEqual(expected);
    expect(sd.weight_ih_l0.shape).toEqual([28, 5]);
    expect(sd.weight_hh_l0.shape).toEqual([28, 7]);
    expect(sd.weight_ih_l1_reverse.shape).toEqual([28, 14]);
    expect(sd.bias_hh_l1.shape).toEqual([28]);
    expect(Object.keys(new nn.GRU(2, 3, { bias: false }).stateDict())).toEqual(['weight_ih_l0', 'weight_hh_l0']);
    expect(new nn.GRU(2, 3).stateDict().weight_hh_l0.shape).toEqual([9, 3]);
  });

  it('initialisation is U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter', () => {
    manualSeed(15);
    const rnn = new nn.RNN(10, 16, { numLayers: 2 });
    for (const p of rnn.parameters()) {
      let max = 0;
      for (const v of p.data) max = Math.max(max, Math.abs(v));
      expect(max).toBeLessThanOrEqual(0.25);
      expect(max).toBeGreaterThan(0.2); // spread over the whole interval
    }
  });

  it('batchFirst and unbatched inputs give the same numbers as the [seq, batch, input] layout', () => {
    manualSeed(16);
    const a = new nn.GRU(3, 4, { dtype: f64 });
    const b = new nn.GRU(3, 4, { dtype: f64, batchFirst: true });
    b.loadStateDict(a.stateDict());
    const x = randn([5, 2, 3], { dtype: f64 });
    const [oa, ha] = a.forward(x);
    const [ob, hb] = b.forward(x.transpose(0, 1));
    expect(ob.shape).toEqual([2, 5, 4]);
    expectClose(ob.transpose(0, 1), oa.toArray() as number[][][], 0, 'batchFirst output');
    expectClose(hb, ha.toArray() as number[][][], 0, 'batchFirst h');
    const [ou, hu] = a.forward(x.narrow(1, 1, 1).squeeze(1));
    expect(ou.shape).toEqual([5, 4]);
    expect(hu.shape).toEqual([1, 4]);
    expectClose(ou, oa.narrow(1, 1, 1).squeeze(1).toArray() as number[][], 0, 'unbatched output');
  });

  it('an empty batch gives empty outputs of the right shapes', () => {
    const m = new nn.LSTM(3, 4, { numLayers: 2, bidirectional: true });
    const [out, [h, c]] = m.forward(zeros([5, 0, 3]));
    expect([out.shape, h.shape, c.shape]).toEqual([
      [5, 0, 8],
      [4, 0, 4],
      [4, 0, 4],
    ]);
  });

  it('dropout between layers only in training mode', () => {
    manualSeed(17);
    const m = new nn.LSTM(2, 3, { numLayers: 2, dropout: 0.5, dtype: f64 });
    const x = randn([4, 2, 2], { dtype: f64 });
    m.eval();
    const [e1] = m.forward(x);
    const [e2] = m.forward(x);
    expect(e1.toArray()).toEqual(e2.toArray());
    m.train();
    const [t1] = m.forward(x);
    expect(t1.toArray()).not.toEqual(e1.toArray());
  });

  it('float32 layers run and agree with float64 ones', () => {
    manualSeed(18);
    const m64 = new nn.LSTM(3, 5, { dtype: f64 });
    const m32 = new nn.LSTM(3, 5);
    m32.loadStateDict(Object.fromEntries(Object.entries(m64.stateDict()).map(([k, v]) => [k, v.to('float32')])));
    const x = randn([6, 2, 3], { dtype: f64 });
    const [o64] = m64.forward(x);
    const [o32] = m32.forward(x.to('float32'));
    expect(o32.dtype).toBe('float32');
    expectClose(o32, o64.toArray() as number[][][], 1e-5, 'float32 vs float64');
  });
});

describe('bad input gives a clear Error', () => {
  const lstm = new nn.LSTM(3, 4, { numLayers: 2 });
  const gru = new nn.GRU(3, 4, { batchFirst: true });
  it('wrong input rank', () => {
    expect(() => lstm.forward(zeros([5]))).toThrow(/LSTM: expected an input of 3 dims.*got shape \[5\]/);
    expect(() => lstm.forward(zeros([1, 2, 3, 4]))).toThrow(/LSTM.*got shape \[1, 2, 3, 4\]/);
  });
  it('wrong input size', () => {
    expect(() => lstm.forward(zeros([5, 2, 7]))).toThrow(
      /LSTM: input shape \[5, 2, 7\] has 7 features, expected inputSize 3/,
    );
    expect(() => gru.forward(zeros([2, 5, 2]))).toThrow(
      /GRU: input shape \[2, 5, 2\] has 2 features, expected inputSize 3/,
    );
  });
  it('a state of the wrong shape', () => {
    expect(() => lstm.forward(zeros([5, 2, 3]), [zeros([1, 2, 4]), zeros([2, 2, 4])])).toThrow(
      /LSTM: expected h0 \(state\[0\]\) of shape \[2, 2, 4\] for input of shape \[5, 2, 3\], got \[1, 2, 4\]/,
    );
    expect(() => lstm.forward(zeros([5, 2, 3]), [zeros([2, 2, 4]), zeros([2, 3, 4])])).toThrow(
      /LSTM: expected c0 \(state\[1\]\) of shape \[2, 2, 4\].*got \[2, 3, 4\]/,
    );
    expect(() => gru.forward(zeros([2, 5, 3]), zeros([1, 5, 4]))).toThrow(
      /GRU: expected h0 of shape \[1, 2, 4\].*got \[1, 5, 4\]/,
    );
  });
  it('a dtype mismatch and bad options', () => {
    expect(() => lstm.forward(zeros([5, 2, 3], { dtype: f64 }))).toThrow(
      /LSTM: input is float64 but the parameters are float32/,
    );
    expect(() => new nn.RNN(3, 4, { nonlinearity: 'sigmoid' as 'tanh' })).toThrow(/nonlinearity/);
    expect(() => new nn.LSTM(3, 0)).toThrow(/hiddenSize must be a positive integer/);
  });
});

describe('nn.Embedding feeding a recurrent layer', () => {
  it('looks rows up with the gather kernel and accumulates its gradient with scatterAdd (no one-hot GEMM)', () => {
    backend.use('js');
    const gather = vi.spyOn(jsBackend, 'gather');
    const scatterAdd = vi.spyOn(jsBackend, 'scatterAdd');
    const gemm = vi.spyOn(jsBackend, 'gemm');
    try {
      const emb = new nn.Embedding(5, 2, { dtype: f64 });
      emb.weight.data.set([0, 1, 10, 11, 20, 21, 30, 31, 40, 41]);
      const idx = tensor([
        [3, 1],
        [3, 0],
      ]);
      const e = emb.forward(idx);
      expect(e.shape).toEqual([2, 2, 2]);
      expect(e.toArray()).toEqual([
        [
          [30, 31],
          [10, 11],
        ],
        [
          [30, 31],
          [0, 1],
        ],
      ]);
      e.mul(
        tensor(
          [
            [
              [1, 2],
              [3, 4],
            ],
            [
              [5, 6],
              [7, 8],
            ],
          ],
          { dtype: f64 },
        ),
      )
        .sum()
        .backward();
      // Row 3 is used twice: its gradient is the sum of both uses.
      expect(emb.weight.grad!.toArray()).toEqual([
        [7, 8],
        [3, 4],
        [0, 0],
        [6, 8],
        [0, 0],
      ]);
      expect(gather).toHaveBeenCalled();
      expect(scatterAdd).toHaveBeenCalled();
      expect(gemm).not.toHaveBeenCalled();
      // And into an LSTM, end to end.
      const lstm = new nn.LSTM(2, 3, { dtype: f64 });
      const [out] = lstm.forward(emb.forward(idx));
      expect(out.shape).toEqual([2, 2, 3]);
    } finally {
      gather.mockRestore();
      scatterAdd.mockRestore();
      gemm.mockRestore();
    }
  });
});
