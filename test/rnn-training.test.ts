// Training recurrent layers: truncated backpropagation through time (chunks with detached state),
// vanishing gradients of a tanh RNN and exploding ones of a relu RNN bounded by clipGradNorm, and
// a character-level LSTM language model on the bundled text that learns beyond the unigram entropy.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor, cat, randn, tensor } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { backend } from '../lib/backend/index.js';
import * as nn from '../lib/nn/index.js';
import { clipGradNorm } from '../lib/optim/clip.js';
import { Adam } from '../lib/optim/index.js';
import { crossEntropy } from '../lib/ops/loss.js';
import { expectClose, f64 } from './support/rnn.js';

const initial = backend.current();

describe('truncated backpropagation through time', () => {
  it('chunks with detached state continue the sequence exactly and stop the gradient at the chunk boundary', () => {
    manualSeed(19);
    const lstm = new nn.LSTM(2, 3, { dtype: f64 });
    const x = randn([6, 2, 2], { dtype: f64 });
    const [full] = lstm.forward(x);
    const x1 = x.narrow(0, 0, 3).detach();
    x1.requiresGrad = true;
    const x2 = x.narrow(0, 3, 3).detach();
    x2.requiresGrad = true;
    const [o1, [h1, c1]] = lstm.forward(x1);
    const [o2] = lstm.forward(x2, [h1.detach(), c1.detach()]);
    expectClose(cat([o1, o2], 0), full.toArray() as number[][][], 1e-14, 'chunked output');
    o2.sum().backward();
    expect(x2.grad).not.toBeNull();
    expect(x1.grad).toBeNull();
  });
});

describe('vanishing and exploding gradients', () => {
  it('the gradient of a tanh RNN with respect to early inputs vanishes over a long sequence', () => {
    manualSeed(20);
    const T = 120;
    const rnn = new nn.RNN(4, 16, { dtype: f64 });
    const x = randn([T, 1, 4], { dtype: f64, requiresGrad: true });
    const [out] = rnn.forward(x);
    out
      .narrow(0, T - 1, 1)
      .sum()
      .backward();
    const norms = Array.from({ length: T }, (_, t) => Math.hypot(...x.grad!.narrow(0, t, 1).data));
    expect(norms[T - 1]).toBeGreaterThan(1e-2);
    // The norm shrinks geometrically going back in time.
    expect(norms[T - 21]).toBeLessThan(1e-2 * norms[T - 1]);
    expect(norms[0]).toBeLessThan(1e-10 * norms[T - 1]);
  });

  it('clipGradNorm bounds the exploding gradient of a relu RNN with large recurrent weights', () => {
    manualSeed(21);
    const T = 60;
    const rnn = new nn.RNN(2, 8, { nonlinearity: 'relu', dtype: f64 });
    // W_hh = 1.3 I: every step multiplies the gradient by 1.3 where units are active.
    const w = Object.fromEntries(rnn.namedParameters()).weight_hh_l0;
    w.data.fill(0);
    for (let i = 0; i < 8; i++) w.data[i * 8 + i] = 1.3;
    const x = randn([T, 3, 2], { dtype: f64 }).abs();
    const [out] = rnn.forward(x);
    out
      .narrow(0, T - 1, 1)
      .sum()
      .backward();
    const total = clipGradNorm(rnn.parameters(), 1);
    expect(total).toBeGreaterThan(1e6);
    let after = 0;
    for (const p of rnn.parameters()) for (const v of p.grad!.data) after += v * v;
    expect(Math.sqrt(after)).toBeLessThanOrEqual(1 + 1e-6);
    expect(Math.sqrt(after)).toBeGreaterThan(0.999);
  });
});

describe('a character-level language model on the bundled text', () => {
  it('learns beyond the unigram entropy within a few dozen truncated-BPTT updates', () => {
    backend.use(initial);
    manualSeed(23);
    const text = readFileSync(new URL('../data/text/genesis-kjv.txt', import.meta.url), 'utf8').slice(0, 20000);
    const vocab = [...new Set(text)].sort();
    const codes = Int32Array.from(text, (ch) => vocab.indexOf(ch));
    const V = vocab.length;
    const counts = new Float64Array(V);
    for (const c of codes) counts[c]++;
    let unigram = 0;
    for (const n of counts) if (n > 0) unigram -= (n / codes.length) * Math.log(n / codes.length);
    const B = 16,
      T = 32,
      len = Math.floor(codes.length / B);
    const emb = new nn.Embedding(V, 16);
    const lstm = new nn.LSTM(16, 64);
    const head = new nn.Linear(64, V);
    const params = [...emb.parameters(), ...lstm.parameters(), ...head.parameters()];
    const opt = new Adam(params, { lr: 0.01 });
    let state: [Tensor, Tensor] | null = null;
    const losses: number[] = [];
    for (let step = 0, t0 = 0; step < 60; step++, t0 = (t0 + T) % (len - T - 1)) {
      if (t0 === 0) state = null;
      const x = new Float32Array(T * B);
      const y = new Int32Array(T * B);
      for (let t = 0; t < T; t++)
        for (let b = 0; b < B; b++) {
          x[t * B + b] = codes[b * len + t0 + t];
          y[t * B + b] = codes[b * len + t0 + t + 1];
        }
      opt.zeroGrad();
      const [out, [h, c]] = lstm.forward(emb.forward(tensor(x, { shape: [T, B] })), state);
      const loss = crossEntropy(head.forward(out.reshape([T * B, 64])), y);
      loss.backward();
      clipGradNorm(params, 1);
      opt.step();
      state = [h.detach(), c.detach()];
      losses.push(loss.item());
    }
    const last = losses.slice(-10).reduce((a, b) => a + b) / 10;
    expect(losses[0]).toBeGreaterThan(unigram); // starts near log(V), above the unigram entropy
    expect(last).toBeLessThan(0.85 * unigram);
  });
});
