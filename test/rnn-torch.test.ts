// Recurrent layers against PyTorch itself: outputs, final state and gradients of every layer kind,
// 2 layers, bidirectional, batchFirst (skipped where python3 or its torch is missing:
// test/support/torch.ts).

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { randn } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { PYTHON as PY, torchHere } from './support/torch.js';
import { KINDS, f64, makeLayer, runLayer } from './support/rnn.js';

const hasTorch = torchHere();

const TORCH_SCRIPT = `
import json, sys, torch
req = json.load(sys.stdin)
torch.set_default_dtype(torch.float64)
res = {}
for case in req:
    cls = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU, 'rnnTanh': torch.nn.RNN, 'rnnRelu': torch.nn.RNN}[case['kind']]
    kw = dict(num_layers=case['numLayers'], bidirectional=case['bidirectional'], batch_first=True)
    if case['kind'].startswith('rnn'):
        kw['nonlinearity'] = 'tanh' if case['kind'] == 'rnnTanh' else 'relu'
    m = cls(case['input'], case['hidden'], **kw)
    m.load_state_dict({k: torch.tensor(v['data']).reshape(v['shape']) for k, v in case['sd'].items()})
    x = torch.tensor(case['x']['data']).reshape(case['x']['shape']).requires_grad_()
    out, st = m(x)
    h = st[0] if case['kind'] == 'lstm' else st
    (out.pow(2).sum() + h.sum()).backward()
    res[case['name']] = {'out': out.detach().flatten().tolist(), 'h': h.detach().flatten().tolist(),
        'gx': x.grad.flatten().tolist(), 'gw': m.weight_hh_l0.grad.flatten().tolist()}
print(json.dumps(res))
`;

describe.skipIf(!hasTorch)(`against PyTorch (${PY})`, () => {
  it('outputs and gradients of every layer kind, 2 layers, bidirectional, batchFirst', () => {
    manualSeed(22);
    const cases = KINDS.map((kind) => {
      const layer = makeLayer(kind, 3, 4, { numLayers: 2, bidirectional: true, batchFirst: true });
      const x = randn([2, 5, 3], { dtype: f64, requiresGrad: true });
      const sd = Object.fromEntries(
        Object.entries(layer.stateDict()).map(([k, v]) => [k, { data: [...v.data], shape: v.shape }]),
      );
      return {
        kind,
        layer,
        xT: x,
        req: {
          name: kind,
          kind,
          input: 3,
          hidden: 4,
          numLayers: 2,
          bidirectional: true,
          sd,
          x: { data: [...x.data], shape: x.shape },
        },
      };
    });
    const r = spawnSync(PY, ['-c', TORCH_SCRIPT], {
      input: JSON.stringify(cases.map((c) => c.req)),
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    expect(r.status, r.stderr).toBe(0);
    const torchRes = JSON.parse(r.stdout) as Record<string, { out: number[]; h: number[]; gx: number[]; gw: number[] }>;
    for (const c of cases) {
      const [out, h] = runLayer(c.layer, c.xT, null, null);
      out.pow(2).sum().add(h.sum()).backward();
      const t = torchRes[c.kind];
      const cmp = (a: ArrayLike<number>, b: number[], what: string): void => {
        expect(a.length, what).toBe(b.length);
        for (let i = 0; i < b.length; i++)
          expect(Math.abs(a[i] - b[i]), `${c.kind} ${what} [${i}]`).toBeLessThan(1e-10);
      };
      cmp(out.data, t.out, 'output');
      cmp(h.data, t.h, 'h_n');
      cmp(c.xT.grad!.data, t.gx, 'input gradient');
      cmp(Object.fromEntries(c.layer.namedParameters()).weight_hh_l0.grad!.data, t.gw, 'weight_hh_l0 gradient');
    }
  });
});
