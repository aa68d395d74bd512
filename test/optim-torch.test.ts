// Optional cross-check against PyTorch itself (skipped where python3 lacks torch: test/support/torch.ts):
// optimizer trajectories, LBFGS with and without strong-Wolfe, schedulers, BatchNorm1d and
// state_dict names. The main tests do not need python.

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../lib/tensor.js';
import * as nn from '../lib/nn/index.js';
import { SGD, Adam, AdamW, RMSprop, LBFGS, lrScheduler, type Optimizer, type BaseOptions } from '../lib/optim/index.js';
import { PYTHON, torchHere } from './support/torch.js';

const SCRIPT = String.raw`
import json, torch
torch.set_default_dtype(torch.float64)
C = [1.5, 0.5, 2.0, 1.0, 0.25]; D = [-1.0, 0.3, 0.7, -0.2, 0.05]
def objective(ps):
    total = 0
    for k, p in enumerate(ps):
        c = torch.tensor([C[(i + 3 * k) % 5] for i in range(p.numel())])
        d = torch.tensor([D[(i + 3 * k) % 5] for i in range(p.numel())])
        total = total + (0.5 * c * p * p + d * p + 0.1 * p ** 4).sum()
    return total
def start():
    return [torch.tensor([0.5, -1.2, 2.0], requires_grad=True), torch.tensor([1.0, 0.1, -0.4, 0.8], requires_grad=True)]
configs = {
  'sgd': lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
  'nesterov': lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05),
  'adam': lambda ps: torch.optim.Adam(ps, lr=0.1, weight_decay=0.1, amsgrad=True),
  'adamw': lambda ps: torch.optim.AdamW(ps, lr=0.1, betas=(0.8, 0.95)),
  'rmsprop': lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.7, centered=True, weight_decay=0.02),
}
out = {}
for name, make in configs.items():
    ps = start(); opt = make(ps)
    for _ in range(7):
        opt.zero_grad(); objective(ps).backward(); opt.step()
    out[name] = [p.detach().tolist() for p in ps]
def rosen(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
for ls in ['strong_wolfe', None]:
    p = torch.tensor([-1.5, 2.0], requires_grad=True)
    opt = torch.optim.LBFGS([p], lr=1 if ls else 0.0015, max_iter=25, history_size=5, line_search_fn=ls)
    evals = [0]
    def closure():
        evals[0] += 1
        opt.zero_grad(); l = rosen(p); l.backward(); return l
    for _ in range(2): opt.step(closure)
    out['lbfgs_' + str(ls)] = {'p': p.detach().tolist(), 'evals': evals[0]}
opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.001)
lrs = [opt.param_groups[0]['lr']]
for _ in range(11): opt.step(); s.step(); lrs.append(opt.param_groups[0]['lr'])
out['cosine'] = lrs
opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1, threshold=0.01)
lrs = []
for m in [5, 4, 4, 4, 3.99, 3.98, 3, 3, 3, 3, 3]:
    s.step(m); lrs.append(opt.param_groups[0]['lr'])
out['plateau'] = lrs
bn = torch.nn.BatchNorm1d(3)
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, -0.5, 2.0])); bn.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
x = torch.tensor([[1.0, 2, 3], [0, -1, 5], [2, 2, 2], [4, 0, 1]])
y1 = bn(x); y2 = bn(x * 2)
bn.eval(); y3 = bn(x)
out['bn'] = {'y1': y1.flatten().tolist(), 'y3': y3.flatten().tolist(), 'rm': bn.running_mean.tolist(), 'rv': bn.running_var.tolist(), 'n': int(bn.num_batches_tracked)}
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.BatchNorm1d(4))
        self.head = torch.nn.Linear(4, 2, bias=False)
        self.scale = torch.nn.Parameter(torch.ones(2))
out['names'] = {
  'net': [[k, list(v.shape)] for k, v in Net().state_dict().items()],
  'ln': [[k, list(v.shape)] for k, v in torch.nn.LayerNorm([2, 3]).state_dict().items()],
  'emb': [[k, list(v.shape)] for k, v in torch.nn.Embedding(5, 2).state_dict().items()],
}
print(json.dumps(out))
`;

function runTorch(): Record<string, unknown> {
  const r = spawnSync(PYTHON, ['-c', SCRIPT], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`torch reference script failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const ref = torchHere() ? runTorch() : null;

const C = [1.5, 0.5, 2.0, 1.0, 0.25];
const D = [-1.0, 0.3, 0.7, -0.2, 0.05];

function start(): Tensor[] {
  return [
    tensor([0.5, -1.2, 2.0], { dtype: 'float64', requiresGrad: true }),
    tensor([1.0, 0.1, -0.4, 0.8], { dtype: 'float64', requiresGrad: true }),
  ];
}

function expectNear(actual: ArrayLike<number>, expected: number[], tol: number): void {
  expect(actual.length).toBe(expected.length);
  Array.from(actual).forEach((v, i) => {
    if (!(Math.abs(v - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`element ${i}: backprop ${v}, torch ${expected[i]}`);
    }
  });
}

describe.skipIf(ref === null)('agreement with PyTorch', () => {
  const torchOut = ref as Record<string, unknown>;

  const configs: Record<string, (ps: Tensor[]) => Optimizer<BaseOptions>> = {
    sgd: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }),
    nesterov: (ps) => new SGD(ps, { lr: 0.05, momentum: 0.8, nesterov: true, weightDecay: 0.05 }),
    adam: (ps) => new Adam(ps, { lr: 0.1, weightDecay: 0.1, amsgrad: true }),
    adamw: (ps) => new AdamW(ps, { lr: 0.1, betas: [0.8, 0.95] }),
    rmsprop: (ps) => new RMSprop(ps, { lr: 0.01, alpha: 0.9, momentum: 0.7, centered: true, weightDecay: 0.02 }),
  };
  for (const [name, make] of Object.entries(configs)) {
    it(`${name}: 7 steps equal torch.optim's`, () => {
      const ps = start();
      const opt = make(ps);
      for (let s = 0; s < 7; s++) {
        opt.zeroGrad();
        ps.forEach((p, k) => {
          const x = Array.from(p.data);
          p.grad = tensor(
            x.map((v, i) => C[(i + 3 * k) % 5] * v + D[(i + 3 * k) % 5] + 0.4 * v ** 3),
            { dtype: 'float64' },
          );
        });
        opt.step();
      }
      const expected = torchOut[name] as number[][];
      ps.forEach((p, k) => expectNear(p.data, expected[k], 1e-12));
    });
  }

  for (const ls of ['strong_wolfe', null] as const) {
    it(`LBFGS (lineSearchFn ${ls}) on Rosenbrock equals torch's, evaluations included`, () => {
      const p = tensor([-1.5, 2.0], { dtype: 'float64', requiresGrad: true });
      const opt = new LBFGS([p], { lr: ls ? 1 : 0.0015, maxIter: 25, historySize: 5, lineSearchFn: ls });
      let evals = 0;
      const closure = (): number => {
        evals++;
        const [a, b] = Array.from(p.data);
        p.grad = tensor([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], { dtype: 'float64' });
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      };
      opt.step(closure);
      opt.step(closure);
      const expected = torchOut[`lbfgs_${ls ?? 'None'}`] as { p: number[]; evals: number };
      expectNear(p.data, expected.p, 1e-9);
      expect(evals).toBe(expected.evals);
    });
  }

  it("CosineAnnealingLR and ReduceLROnPlateau sequences equal torch's", () => {
    const opt = new SGD([tensor([0], { requiresGrad: true })], { lr: 0.1 });
    const s = new lrScheduler.CosineAnnealingLR(opt, { tMax: 4, etaMin: 0.001 });
    const lrs = [opt.paramGroups[0].lr];
    for (let i = 0; i < 11; i++) {
      s.step();
      lrs.push(opt.paramGroups[0].lr);
    }
    expectNear(lrs, torchOut.cosine as number[], 1e-14);
    const opt2 = new SGD([tensor([0], { requiresGrad: true })], { lr: 1 });
    const plateau = new lrScheduler.ReduceLROnPlateau(opt2, { patience: 1, factor: 0.5, cooldown: 1, threshold: 0.01 });
    const lrs2 = [5, 4, 4, 4, 3.99, 3.98, 3, 3, 3, 3, 3].map((m) => {
      plateau.step(m);
      return opt2.paramGroups[0].lr;
    });
    expect(lrs2).toEqual(torchOut.plateau);
  });

  it("BatchNorm1d outputs and running statistics equal torch's", () => {
    const bn = new nn.BatchNorm1d(3, { dtype: 'float64' });
    bn.weight?.data.set([1.5, -0.5, 2.0]);
    bn.bias?.data.set([0.1, 0.2, -0.3]);
    const x = tensor(
      [
        [1, 2, 3],
        [0, -1, 5],
        [2, 2, 2],
        [4, 0, 1],
      ],
      { dtype: 'float64' },
    );
    const y1 = bn.call(x);
    bn.call(x.mul(2));
    bn.eval();
    const y3 = bn.call(x);
    const e = torchOut.bn as { y1: number[]; y3: number[]; rm: number[]; rv: number[]; n: number };
    expectNear(y1.data, e.y1, 1e-12);
    expectNear(y3.data, e.y3, 1e-12);
    expectNear((bn.running_mean as Tensor).data, e.rm, 1e-12);
    expectNear((bn.running_var as Tensor).data, e.rv, 1e-12);
    expect((bn.num_batches_tracked as Tensor).data[0]).toBe(e.n);
  });

  it("state_dict names and shapes equal torch's", () => {
    class Net extends nn.Module {
      encoder = new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.BatchNorm1d(4));
      head = new nn.Linear(4, 2, { bias: false });
      scale = nn.parameter(tensor([1, 1]));
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const names = (m: nn.Module): [string, number[]][] =>
      Object.entries(m.stateDict()).map(([k, v]) => [k, [...v.shape]]);
    const e = torchOut.names as Record<string, [string, number[]][]>;
    expect(names(new Net())).toEqual(e.net);
    expect(names(new nn.LayerNorm([2, 3]))).toEqual(e.ln);
    expect(names(new nn.Embedding(5, 2))).toEqual(e.emb);
  });
});
