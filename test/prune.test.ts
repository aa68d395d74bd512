// nn.utils.prune against torch.nn.utils.prune (masks, state dict names and order, repeated and
// global pruning, remove) where PyTorch is installed, and against values derived by hand
// everywhere: the forward pre-hook recomputes weight = weight_orig * weight_mask, gradients reach
// weight_orig through the mask, amount as an integer count or a fraction, the errors.

import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { Tensor, grad, nn, tensor } from '../lib/index.js';
import { PYTHON, torchHere } from './support/torch.js';

const { prune } = nn.utils;
const hasTorch = torchHere();

/** A Linear with weights ±(0.01 i + 0.0001 seed) in a shuffled order (no ties, none across seeds), bias 0. */
function linear(inF: number, outF: number, seed: number): nn.Linear {
  const l = new nn.Linear(inF, outF, { dtype: 'float64' });
  const n = inF * outF;
  const vals = Array.from({ length: n }, (_, i) => ((i + 1) * 0.01 + seed * 0.0001) * (i % 3 === 0 ? -1 : 1));
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  l.weight.data.set(vals);
  l.bias?.data.fill(0);
  return l;
}

const slot = (m: nn.Module, name: string): Tensor => (m as unknown as Record<string, Tensor>)[name];

describe('prune by hand', () => {
  test('l1Unstructured: names, mask, the hook and gradients through the mask', () => {
    const l = linear(4, 3, 1);
    const orig = l.weight;
    prune.l1Unstructured(l, 'weight', { amount: 5 });
    expect(Object.keys(l.stateDict())).toEqual(['bias', 'weight_orig', 'weight_mask']);
    expect(l.parameters()).toContain(orig);
    expect(slot(l, 'weight_orig')).toBe(orig);
    const mask = slot(l, 'weight_mask');
    // the 5 smallest |w| are 0.01..0.05 in magnitude
    const pruned = Array.from(orig.data)
      .map((v, i) => [Math.abs(v), i] as const)
      .sort((a, b) => a[0] - b[0])
      .slice(0, 5)
      .map(([, i]) => i);
    for (let i = 0; i < 12; i++) expect(mask.data[i]).toBe(pruned.includes(i) ? 0 : 1);
    // the hook uses the current orig: change it and the next forward sees the change
    orig.data[pruned[0]] = 100;
    orig.data[(pruned[0] + 1) % 12] = 7;
    const x = tensor([[1, 0, 0, 0]], { dtype: 'float64' });
    const y = l.forward(x);
    const w = slot(l, 'weight');
    for (let i = 0; i < 12; i++) expect(w.data[i]).toBe(orig.data[i] * mask.data[i]);
    expect(y.data[0]).toBe(w.data[0]);
    const [g] = grad(y.sum(), [orig]);
    for (let i = 0; i < 12; i++) expect(g.data[i]).toBe(i % 4 === 0 ? mask.data[i] : 0);
  });

  test('amount: a fraction rounds half to even, an integer counts, repeated pruning prunes the kept ones', () => {
    const l = linear(5, 2, 2); // 10 weights
    prune.l1Unstructured(l, 'weight', { amount: 0.25 }); // round(2.5) = 2
    expect(Array.from(slot(l, 'weight_mask').data).filter((v) => v === 0).length).toBe(2);
    prune.l1Unstructured(l, 'weight', { amount: 0.5 }); // half of the 8 kept
    expect(Array.from(slot(l, 'weight_mask').data).filter((v) => v === 0).length).toBe(6);
    prune.l1Unstructured(l, 'weight', { amount: 1 }); // one more weight
    expect(Array.from(slot(l, 'weight_mask').data).filter((v) => v === 0).length).toBe(7);
    const l2 = linear(5, 2, 2);
    prune.randomUnstructured(l2, 'weight', { amount: 3 });
    expect(Array.from(slot(l2, 'weight_mask').data).filter((v) => v === 0).length).toBe(3);
    for (let i = 0; i < 10; i++) {
      const kept = slot(l2, 'weight_mask').data[i] === 1;
      expect(slot(l2, 'weight').data[i] === (kept ? slot(l2, 'weight_orig').data[i] : 0)).toBe(true);
    }
  });

  test('remove makes the pruned tensor the parameter again', () => {
    const l = linear(3, 2, 3);
    prune.l1Unstructured(l, 'weight', { amount: 2 });
    const masked = Array.from(slot(l, 'weight').data);
    prune.remove(l, 'weight');
    expect(prune.isPruned(l)).toBe(false);
    expect(Object.keys(l.stateDict())).toEqual(['bias', 'weight']);
    expect(Array.from(l.weight.data)).toEqual(masked);
    expect(l.parameters()).toContain(l.weight);
    expect(l.forwardPreHooks()).toHaveLength(0);
  });

  test('errors', () => {
    const l = linear(3, 2, 4);
    expect(() => prune.l1Unstructured(l, 'weight', { amount: 7 })).toThrow(
      /amount=7 should be smaller than the number of parameters to prune=6/,
    );
    expect(() => prune.l1Unstructured(l, 'weight', { amount: 1.5 })).toThrow(
      /amount=1.5 should either be a float in the range \[0, 1\] or a non-negative integer/,
    );
    expect(() => prune.l1Unstructured(l, 'weight', { amount: -0.1 })).toThrow(/should either be a float/);
    expect(() => prune.l1Unstructured(l, 'nope', { amount: 1 })).toThrow(/has no tensor 'nope'/);
    expect(() => prune.remove(l, 'weight')).toThrow(/has to be pruned before pruning can be removed/);
    expect(() => prune.globalUnstructured([], { amount: 1 })).toThrow(/non-empty list/);
  });
});

const pyPrune = (script: string): unknown => JSON.parse(execFileSync(PYTHON, ['-c', script], { encoding: 'utf8' }));

describe.skipIf(!hasTorch)('prune against torch.nn.utils.prune', () => {
  test('l1 (count, fraction, repeated), global, remove: masks and state dict keys equal torch', () => {
    const a = linear(7, 5, 11);
    const b = linear(6, 4, 12);
    const c = linear(5, 3, 13);
    prune.l1Unstructured(a, 'weight', { amount: 0.3 });
    prune.l1Unstructured(a, 'weight', { amount: 4 });
    b.bias?.data.set([0.5, -0.25, 0.125, 2]);
    prune.l1Unstructured(b, 'bias', { amount: 2 });
    prune.globalUnstructured(
      [
        [b, 'weight'],
        [c, 'weight'],
        [a, 'weight'],
      ],
      { amount: 0.45 },
    );
    prune.remove(c, 'weight');
    const fresh = [linear(7, 5, 11), linear(6, 4, 12), linear(5, 3, 13)];
    const script = `
import json, torch
import torch.nn.utils.prune as prune
def lin(i, o, w): 
    l = torch.nn.Linear(i, o).double(); l.weight.data = torch.tensor(w, dtype=torch.float64); l.bias.data.zero_(); return l
a = lin(7, 5, ${JSON.stringify(rows(fresh[0]))}); b = lin(6, 4, ${JSON.stringify(rows(fresh[1]))}); c = lin(5, 3, ${JSON.stringify(rows(fresh[2]))})
prune.l1_unstructured(a, 'weight', amount=0.3)
prune.l1_unstructured(a, 'weight', amount=4)
b.bias.data = torch.tensor([0.5, -0.25, 0.125, 2], dtype=torch.float64)
prune.l1_unstructured(b, 'bias', amount=2)
prune.global_unstructured([(b, 'weight'), (c, 'weight'), (a, 'weight')], pruning_method=prune.L1Unstructured, amount=0.45)
prune.remove(c, 'weight')
out = {}
for n, m in (('a', a), ('b', b), ('c', c)):
    sd = m.state_dict()
    out[n] = {'keys': list(sd.keys()), 'vals': {k: v.flatten().tolist() for k, v in sd.items()}}
print(json.dumps(out))
`;
    const theirs = pyPrune(script) as Record<string, { keys: string[]; vals: Record<string, number[]> }>;
    for (const [name, m] of [
      ['a', a],
      ['b', b],
      ['c', c],
    ] as const) {
      const sd = m.stateDict();
      expect(Object.keys(sd), name).toEqual(theirs[name].keys);
      for (const k of theirs[name].keys) expect(Array.from(sd[k].data), `${name}.${k}`).toEqual(theirs[name].vals[k]);
    }
  });
});

function rows(l: nn.Linear): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < l.outFeatures; r++)
    out.push(Array.from(l.weight.data.slice(r * l.inFeatures, (r + 1) * l.inFeatures)));
  return out;
}
