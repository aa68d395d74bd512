// conv2d, the pools and batchNorm against PyTorch (test/support/torch.ts: skipped where python3
// lacks torch): the same float64 inputs, outputs and gradients (and batchNorm's running stats)
// equal to 1e-10, on every backend that loads.

import { describe, expect, test } from 'vitest';
import { spawnSync } from 'node:child_process';
import { Tensor, backend, grad, F } from '../lib/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';
import { PYTHON as python, torchHere } from './support/torch.js';

const hasTorch = torchHere();

const script = `
import json, sys, torch
import torch.nn.functional as F
d = json.load(sys.stdin)
t = lambda k, g=True: torch.tensor(d[k], dtype=torch.float64, requires_grad=g)
out = {}
x, w, b = t('x'), t('w'), t('b')
y = F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2))
gx, gw, gb = torch.autograd.grad(y, [x, w, b], torch.sin(torch.arange(y.numel(), dtype=torch.float64)).reshape(y.shape))
out['conv'] = [y.tolist(), gx.tolist(), gw.tolist(), gb.tolist()]
p = t('p')
m = F.max_pool2d(p, 3, stride=2, padding=1)
a = F.avg_pool2d(p, (3, 2), stride=(2, 1), padding=1)
gm, = torch.autograd.grad((m * m).sum(), [p])
ga, = torch.autograd.grad((a * a).sum(), [p])
out['pool'] = [m.tolist(), gm.tolist(), a.tolist(), ga.tolist()]
q, bw, bb = t('q'), t('bw'), t('bb')
rm, rv = t('rm', False), t('rv', False)
z = F.batch_norm(q, rm, rv, bw, bb, training=True, momentum=0.1, eps=1e-5)
gq, gbw, gbb = torch.autograd.grad((z * z * z).sum(), [q, bw, bb])
out['bn'] = [z.tolist(), gq.tolist(), gbw.tolist(), gbb.tolist(), rm.tolist(), rv.tolist()]
print(json.dumps(out))
`;

function flat(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [v as number];
}

function expectClose(got: Tensor, want: unknown, what: string): void {
  const w = flat(want);
  expect(got.size, what).toBe(w.length);
  w.forEach((e, i) => {
    if (!(Math.abs(got.data[i] - e) <= 1e-10 * (1 + Math.abs(e))))
      throw new Error(`${what} element ${i}: ${got.data[i]} vs torch ${e}`);
  });
}

describe.skipIf(!hasTorch)('conv2d, pools and batchNorm equal PyTorch in float64', () => {
  const rng = new Rng(21);
  const inputs = {
    x: leaf(rng, [2, 3, 7, 6]),
    w: leaf(rng, [4, 3, 3, 2]),
    b: leaf(rng, [4]),
    p: leaf(rng, [2, 2, 7, 6]),
    q: leaf(rng, [4, 3, 2, 3]),
    bw: leaf(rng, [3]),
    bb: leaf(rng, [3]),
    rm: leaf(rng, [3], { requiresGrad: false }),
    rv: leaf(rng, [3], { lo: 0.5, hi: 2, requiresGrad: false }),
  };
  const json = JSON.stringify(Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.toArray()])));
  const r = spawnSync(python, ['-c', script], { input: json, encoding: 'utf8' });
  const torch = r.status === 0 ? JSON.parse(r.stdout) : null;

  test.each(backendsHere())('on %s', (name) => {
    expect(torch, r.stderr).not.toBeNull();
    backend.use(name);
    const { x, w, b, p, q, bw, bb } = inputs;
    const y = F.conv2d(x, w, b, { stride: [2, 1], padding: [1, 0], dilation: [1, 2] });
    const gy = new Tensor(
      Float64Array.from({ length: y.size }, (_, i) => Math.sin(i)),
      y.shape,
    );
    const [gx, gw, gb] = grad(y, [x, w, b], { gradOutputs: [gy] });
    [y, gx, gw, gb].forEach((t, i) => expectClose(t, torch.conv[i], `conv2d result ${i}`));

    const m = F.maxPool2d(p, 3, { stride: 2, padding: 1 });
    const a = F.avgPool2d(p, [3, 2], { stride: [2, 1], padding: 1 });
    const [gm] = grad(m.mul(m).sum(), [p]);
    const [ga] = grad(a.mul(a).sum(), [p]);
    [m, gm, a, ga].forEach((t, i) => expectClose(t, torch.pool[i], `pool result ${i}`));

    const rm = new Tensor(Float64Array.from(inputs.rm.data), [3]);
    const rv = new Tensor(Float64Array.from(inputs.rv.data), [3]);
    const z = F.batchNorm(q, rm, rv, bw, bb, true, 0.1, 1e-5);
    const [gq, gbw, gbb] = grad(z.mul(z).mul(z).sum(), [q, bw, bb]);
    [z, gq, gbw, gbb, rm, rv].forEach((t, i) => expectClose(t, torch.bn[i], `batchNorm result ${i}`));
  });
});
