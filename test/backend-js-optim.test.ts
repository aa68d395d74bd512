// The js backend's optimizer steps against torch.optim (torch 1.13, float64): sgdStep (plain,
// momentum with dampening and weight decay, Nesterov) and adamStep (Adam, weight decay with
// AMSGrad, AdamW) over three steps; a missing momentum buffer and a step below 1.
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { F64, expectClose } from './support/backend-js.js';

describe('js optimizer steps against torch.optim (torch 1.13, float64)', () => {
  const p0 = [1.0, -2.0, 3.0, 0.5];
  const grads = [
    [0.1, -0.2, 0.3, 0.0],
    [0.5, 0.4, -0.3, -1.0],
    [-0.2, 0.0, 0.7, 0.25],
  ];
  // Parameters after each of three steps, printed by torch.optim with these settings.
  const torchResults: Record<string, number[][]> = {
    sgd_plain: [
      [0.99, -1.98, 2.97, 0.5],
      [0.94, -2.02, 3.0, 0.6],
      [0.96, -2.02, 2.93, 0.575],
    ],
    sgd_mom: [
      [0.989, -1.978, 2.967, 0.4995],
      [0.9332099, -1.9924198, 2.9616297, 0.58860045],
      [0.9001589210900001, -2.00360444218, 2.89113096327, 0.6457611145950001],
    ],
    sgd_nesterov: [
      [0.9892, -1.9784, 2.9676, 0.4991],
      [0.9385794399999999, -2.00315888, 2.97773832, 0.58788162],
      [0.9351849090079999, -2.004943018016, 2.9078631270239996, 0.595748009084],
    ],
    adam: [
      [0.9900000009999999, -1.9900000005, 2.990000000333333, 0.5],
      [0.9813895386180784, -1.9936610356546038, 2.990526316105263, 0.5074413681304593],
      [0.9775273185242537, -1.9964910264197966, 2.985272930227276, 0.5114715765237968],
    ],
    adam_wd_ams: [
      [0.9800000999995, -1.980000049999875, 2.980000033333278, 0.48000039999200017],
      [0.961301344636151, -1.9758304209171385, 2.967639123606417, 0.49484483770660986],
      [0.9502406194372867, -1.9672554184059214, 2.9510112118140617, 0.5009444954921963],
    ],
    adamw: [
      [0.9890000009999999, -1.9880000005, 2.987000000333333, 0.4995],
      [0.9794005386170784, -1.989673035654104, 2.9845393161049296, 0.5064418681304593],
      [0.9745589179846366, -1.9905133533836425, 2.976301390910838, 0.5099656346556665],
    ],
  };

  const sgdCases: [string, number, number, number, number, boolean][] = [
    // name, lr, momentum, dampening, weightDecay, nesterov
    ['sgd_plain', 0.1, 0, 0, 0, false],
    ['sgd_mom', 0.1, 0.9, 0.1, 0.01, false],
    ['sgd_nesterov', 0.05, 0.8, 0, 0.02, true],
  ];
  for (const [name, lr, momentum, dampening, wd, nesterov] of sgdCases) {
    it(`sgdStep: ${name}`, () => {
      const p = new F64(p0);
      const buf = momentum === 0 ? null : new F64(4);
      grads.forEach((g, step) => {
        js.sgdStep(p, new F64(g), buf, lr, momentum, dampening, wd, nesterov, step === 0);
        expectClose(p, torchResults[name][step], 1e-14, 1e-15);
      });
    });
  }

  const adamCases: [string, number, number, number, number, number, boolean, boolean][] = [
    // name, lr, beta1, beta2, eps, weightDecay, amsgrad, decoupled
    ['adam', 0.01, 0.9, 0.999, 1e-8, 0, false, false],
    ['adam_wd_ams', 0.02, 0.8, 0.95, 1e-6, 0.1, true, false],
    ['adamw', 0.01, 0.9, 0.999, 1e-8, 0.1, false, true],
  ];
  for (const [name, lr, b1, b2, eps, wd, amsgrad, decoupled] of adamCases) {
    it(`adamStep: ${name}`, () => {
      const p = new F64(p0);
      const m = new F64(4);
      const v = new F64(4);
      const vmax = amsgrad ? new F64(4) : null;
      grads.forEach((g, step) => {
        js.adamStep(p, new F64(g), m, v, vmax, step + 1, lr, b1, b2, eps, wd, decoupled);
        expectClose(p, torchResults[name][step], 1e-13, 1e-15);
      });
    });
  }

  it('rejects a missing momentum buffer and a step below 1', () => {
    expect(() => js.sgdStep(new F64(2), new F64(2), null, 0.1, 0.9, 0, 0, false, true)).toThrow(TypeError);
    expect(() =>
      js.adamStep(new F64(2), new F64(2), new F64(2), new F64(2), null, 0, 0.1, 0.9, 0.999, 1e-8, 0, false),
    ).toThrow(RangeError);
    expect(() =>
      js.adamStep(new F64(2), new F64(2), new F64(1), new F64(2), null, 1, 0.1, 0.9, 0.999, 1e-8, 0, false),
    ).toThrow(RangeError);
  });
});
