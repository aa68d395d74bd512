// What the recurrent-layer tests (test/rnn-values-and-gradients, rnn-options, rnn-training and
// rnn-torch) share: the four layer kinds, building a float64 layer of a kind, running it, and
// comparing a result with nested arrays.

import { expect } from 'vitest';
import type { Tensor } from '../../lib/tensor.js';
import * as nn from '../../lib/nn/index.js';

export type Kind = 'rnnTanh' | 'rnnRelu' | 'lstm' | 'gru';
export const KINDS: Kind[] = ['rnnTanh', 'rnnRelu', 'lstm', 'gru'];
export const f64 = 'float64' as const;

export interface Config {
  numLayers: number;
  bidirectional: boolean;
  batchFirst?: boolean;
  bias?: boolean;
}

export function makeLayer(kind: Kind, input: number, hidden: number, cfg: Config): nn.RNNBase {
  const opts = { ...cfg, dtype: f64 };
  if (kind === 'lstm') return new nn.LSTM(input, hidden, opts);
  if (kind === 'gru') return new nn.GRU(input, hidden, opts);
  return new nn.RNN(input, hidden, { ...opts, nonlinearity: kind === 'rnnTanh' ? 'tanh' : 'relu' });
}

/** Runs the layer, returning [output, h_n] or [output, h_n, c_n]. */
export function runLayer(layer: nn.RNNBase, x: Tensor, h0: Tensor | null, c0: Tensor | null): Tensor[] {
  if (layer instanceof nn.LSTM) {
    const [out, [h, c]] = layer.forward(x, h0 === null ? null : [h0, c0!]);
    return [out, h, c];
  }
  const [out, h] = (layer as nn.RNN).forward(x, h0);
  return [out, h];
}

export function expectClose(actual: Tensor, expected: number[][][] | number[][], tol: number, what: string): void {
  const flat = (expected as unknown[]).flat(2) as number[];
  expect(actual.size, `${what}: size`).toBe(flat.length);
  for (let i = 0; i < flat.length; i++) {
    if (!(Math.abs(actual.data[i] - flat[i]) <= tol * (1 + Math.abs(flat[i])))) {
      throw new Error(`${what}: element ${i} is ${actual.data[i]}, expected ${flat[i]}`);
    }
  }
}
