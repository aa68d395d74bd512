// A NaN in the input of a recurrent layer must come out as NaN (never a number, never a crash) on
// every backend: the fused native cells clamp before exp, and a NaN slips past any clamp.
import { afterAll, describe, expect, it } from 'vitest';
import { tensor } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { backend } from '../lib/backend/index.js';
import * as nn from '../lib/nn/index.js';
import { backendsHere } from './support/native.js';

const initial = backend.current();
afterAll(() => backend.use(initial));
const backends = backendsHere();

describe.each(backends)('non-finite inputs through recurrent cells (%s)', (name) => {
  it.each(['lstm', 'gru', 'rnn'] as const)(
    '%s: NaN in step 0 of sample 0 gives NaN there, finite values elsewhere',
    (kind) => {
      backend.use(name);
      manualSeed(7);
      const layer = kind === 'lstm' ? new nn.LSTM(3, 4) : kind === 'gru' ? new nn.GRU(3, 4) : new nn.RNN(3, 4);
      // [seq 2, batch 2, input 3]; only sample 0 sees the NaN.
      const x = tensor([
        [
          [Number.NaN, 0.5, -1],
          [0.1, 0.2, 0.3],
        ],
        [
          [0.4, -0.5, 0.6],
          [1, 2, 3],
        ],
      ]);
      const [out] = layer.forward(x);
      const y = out.toArray() as number[][][];
      for (const t of [0, 1]) {
        expect(y[t][0].every(Number.isNaN)).toBe(true);
        expect(y[t][1].every(Number.isFinite)).toBe(true);
      }
    },
  );
});
