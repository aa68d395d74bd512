// crossEntropy's options (weight, ignoreIndex, labelSmoothing, each reduction) against torch 1.13's
// values and gradients on every backend that loads; nllLoss with weight and ignoreIndex, and the
// errors for a weight of the wrong shape and labelSmoothing out of range.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, zeros } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { backendsHere } from './support/autograd.js';
import { expectClose } from './support/ops.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

describe('crossEntropy options: weight, ignoreIndex, labelSmoothing', () => {
  // Reference values from torch 1.13 (F.cross_entropy on the same float64 logits, targets
  // [3, -100, 1], weight [0.5, 2, 1, 1.5]); gradients of the summed loss.
  const logits = [0.2, -1.0, 0.5, 2.0, 1.5, 0.3, -0.7, 0.1, 0.0, 0.4, 0.9, -1.2];
  const weight = new Tensor(Float64Array.from([0.5, 2, 1, 1.5]), [4]);
  const cases: [string, object, number[], number[]][] = [
    [
      'mean, weight, smoothing 0.2',
      { weight, labelSmoothing: 0.2 },
      [0.9658802260137047],
      [
        0.040472356718632, -0.014230001757386, 0.049988101519832, -0.076230456481077, 0, 0, 0, 0, 0.093487157064778,
        -0.335591945195343, 0.233224181735154, 0.008880606395411,
      ],
    ],
    [
      'none, smoothing 0.2',
      { reduction: 'none', labelSmoothing: 0.2 },
      [0.678403537810285, 0, 1.3337273844448938],
      [
        0.064933274838077, -0.015382762862657, 0.105143693323732, -0.154694205299152, 0, 0, 0, 0, 0.140381107960391,
        -0.565984761180379, 0.418261965444886, 0.007341687775102,
      ],
    ],
    [
      'sum, weight',
      { reduction: 'sum', weight },
      [3.0625600756052145],
      [
        0.172399912257115, 0.051925855706015, 0.232715539985597, -0.457041307948728, 0, 0, 0, 0, 0.380762215920783,
        -1.431969522360758, 0.936523930889771, 0.114683375550204,
      ],
    ],
    [
      'mean, ignoreIndex only',
      {},
      [0.8110654611275893],
      [
        0.057466637419038, 0.017308618568672, 0.077571846661866, -0.152347102649576, 0, 0, 0, 0, 0.095190553980196,
        -0.35799238059019, 0.234130982722443, 0.028670843887551,
      ],
    ],
  ];
  for (const name of backendsHere()) {
    test.each(cases)(`%s matches torch on the ${name} backend`, (_label, opts, loss, g) => {
      backend.use(name);
      const x = new Tensor(Float64Array.from(logits), [3, 4], true);
      const l = F.crossEntropy(x, [3, -100, 1], opts);
      l.sum().backward();
      expectClose(l, loss, l.shape, 1e-12);
      expectClose(x.grad!, g, [3, 4], 1e-12);
    });
  }

  test('nllLoss with weight and ignoreIndex divides the mean by the kept weight', () => {
    const x = new Tensor(Float64Array.from([-1, -2, -3, -4, -5, -6]), [3, 2]);
    const w = new Tensor(Float64Array.from([2, 3]), [2]);
    // rows: target 1 (w 3, x -2), ignored (7), target 0 (w 2, x -5): (6 + 10) / 5
    expectClose(F.nllLoss(x, [1, 7, 0], { weight: w, ignoreIndex: 7 }), [16 / 5], []);
    expectClose(F.nllLoss(x, [1, 7, 0], { weight: w, ignoreIndex: 7, reduction: 'none' }), [6, 0, 10], [3]);
    expect(() => F.crossEntropy(x, [0, 1, 0], { weight: zeros([3], { dtype: 'float64' }) })).toThrow(
      /weight shape \[3\] does not match the 2 classes/,
    );
    expect(() => F.crossEntropy(x, [0, 1, 0], { labelSmoothing: 1.5 })).toThrow(/labelSmoothing must be in \[0, 1\]/);
  });
});
