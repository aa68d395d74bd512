// Sparse training: the gradual magnitude pruning schedule (Zhu and Gupta's cubic, checked against
// values computed by hand), sparsify's swap (outputs unchanged, optimizer parameters and
// momentum carried over to the nonzeros), fit() with the callback end to end, and the state dict
// of sparse layers through safetensors (back into the same pattern, and toDense() into PyTorch).

import { describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { F, Tensor, fit, io, manualSeed, nn, noGrad, optim, randn, tensor } from '../lib/index.js';
import { PYTHON, torchHere } from './support/torch.js';

const { prune, sparsify, GradualMagnitudePruning } = nn.utils;

function mlp(): nn.Sequential {
  return new nn.Sequential(
    new nn.Linear(12, 20),
    new nn.ReLU(),
    new nn.Linear(20, 6),
    new nn.ReLU(),
    new nn.Linear(6, 3),
  );
}

const out = (m: nn.Module, x: Tensor): number[] =>
  Array.from(noGrad(() => (m.forward as (x: Tensor) => Tensor)(x)).data);

describe('gradual magnitude pruning', () => {
  test('the cubic schedule', () => {
    const g = new GradualMagnitudePruning(mlp(), {
      finalSparsity: 0.9,
      initialSparsity: 0.1,
      startStep: 10,
      endStep: 20,
    });
    expect(g.sparsityAt(0)).toBe(0);
    expect(g.sparsityAt(10)).toBeCloseTo(0.1, 15);
    // 0.9 + (0.1 - 0.9) * (1 - 0.5)^3 = 0.9 - 0.1
    expect(g.sparsityAt(15)).toBeCloseTo(0.8, 15);
    expect(g.sparsityAt(20)).toBeCloseTo(0.9, 15);
    expect(g.sparsityAt(99)).toBeCloseTo(0.9, 15);
    expect(() => new GradualMagnitudePruning(mlp(), { finalSparsity: 1, endStep: 3 })).toThrow(
      /finalSparsity must be in \[0, 1\)/,
    );
    expect(() => new GradualMagnitudePruning(mlp(), { finalSparsity: 0.5, startStep: 4, endStep: 4 })).toThrow(
      /endStep must be an integer > startStep/,
    );
  });

  test('fit with the callback prunes on schedule, then swaps to sparse layers and keeps training', async () => {
    manualSeed(3);
    const model = mlp();
    const opt = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    const gmp = new GradualMagnitudePruning(model, {
      finalSparsity: 0.85,
      endStep: 6,
      frequency: 2,
      optimizer: opt,
      sparsify: { inputShape: [4, 12], minSparsity: 0.8, measure: false },
    });
    const x = randn([8, 12]);
    const y = tensor(Float32Array.from({ length: 8 }, (_, i) => i % 3));
    const batches = [
      [x.narrow(0, 0, 4), y.narrow(0, 0, 4)],
      [x.narrow(0, 4, 4), y.narrow(0, 4, 4)],
    ] as [Tensor, Tensor][];
    const seen: number[] = [];
    await fit(model, {
      train: batches,
      epochs: 6,
      optimizer: opt,
      loss: (o, t) => F.crossEntropy(o, t),
      onBatchEnd: () => {
        gmp.onBatchEnd();
        const first = model.children()[0];
        seen.push(
          first instanceof nn.SparseLinear ? 1 - first.density : nn.utils.sparsityOf((first as nn.Linear).weight),
        );
      },
    });
    // steps 0, 2, 4 and 6 prune to the schedule; then the layers are sparse
    expect(seen[0]).toBeCloseTo(Math.round(gmp.sparsityAt(0) * 240) / 240, 12);
    expect(seen[2]).toBeCloseTo(Math.round(gmp.sparsityAt(2) * 240) / 240, 12);
    expect(seen[6]).toBeCloseTo(Math.round(0.85 * 240) / 240, 12);
    expect(gmp.report?.map((r) => r.swapped)).toEqual([true, true, true]);
    const layers = model.children().filter((m) => m instanceof nn.SparseLinear);
    expect(layers).toHaveLength(3);
    const params = opt.paramGroups[0].params;
    for (const l of layers) expect(params).toContain(l.weight);
    // training went on after the swap: the values moved and stayed finite
    const v0 = Array.from(layers[0].weight.data);
    await fit(model, { train: batches, epochs: 1, optimizer: opt, loss: (o, t) => F.crossEntropy(o, t) });
    expect(Array.from(layers[0].weight.data)).not.toEqual(v0);
    expect(layers[0].weight.data.every(Number.isFinite)).toBe(true);
  });
});

describe('sparsify', () => {
  test('swaps pruned layers past minSparsity, with equal outputs and the momentum at the nonzeros', () => {
    manualSeed(4);
    const model = mlp();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const first = model.children()[0] as nn.Linear;
    const second = model.children()[2] as nn.Linear;
    prune.l1Unstructured(first, 'weight', { amount: 0.9 });
    prune.l1Unstructured(second, 'weight', { amount: 0.5 });
    const x = randn([5, 12]);
    // one step, so that the optimizer has momentum buffers
    opt.zeroGrad();
    model.forward(x).sum().backward();
    opt.step();
    const orig = (first as unknown as Record<string, Tensor>).weight_orig;
    const momentum = (opt.state.get(orig) as Record<string, Tensor>).momentum_buffer;
    const y0 = out(model, x);
    const reports = sparsify(model, { inputShape: [5, 12], minSparsity: 0.8, measure: false, optimizer: opt });
    expect(reports.map((r) => [r.name, r.swapped])).toEqual([
      ['0', true],
      ['2', false],
      ['4', false],
    ]);
    expect(reports[0].sparsity).toBeCloseTo(216 / 240, 15);
    const sp = model.children()[0] as nn.SparseLinear;
    expect(sp).toBeInstanceOf(nn.SparseLinear);
    const y1 = out(model, x);
    y0.forEach((v, i) => expect(Math.abs(y1[i] - v)).toBeLessThan(1e-6));
    expect(opt.paramGroups[0].params).toContain(sp.weight);
    expect(opt.paramGroups[0].params).not.toContain(orig);
    const m2 = (opt.state.get(sp.weight) as Record<string, Tensor>).momentum_buffer;
    const p = sp.pattern;
    for (let r = 0; r < 20; r++)
      for (let k = p.rowPtr[r]; k < p.rowPtr[r + 1]; k++) expect(m2.data[k]).toBe(momentum.data[r * 12 + p.colIdx[k]]);
    expect(() => sparsify(model, { inputShape: [5, 12], minSparsity: 1.5 })).toThrow(
      /minSparsity must be a number in \[0, 1\]/,
    );
  });
});

describe('sparse state dicts through safetensors', () => {
  function sparseNet(): { model: nn.Sequential; x: Tensor } {
    manualSeed(9);
    const conv = new nn.Conv2d(2, 3, 3, { padding: 1 });
    const lin = new nn.Linear(3 * 5 * 5, 4);
    prune.l1Unstructured(conv, 'weight', { amount: 0.7 });
    prune.l1Unstructured(lin, 'weight', { amount: 0.8 });
    prune.remove(conv, 'weight');
    prune.remove(lin, 'weight');
    const model = new nn.Sequential(
      nn.SparseConv2d.fromDense(conv),
      new nn.ReLU(),
      new nn.Flatten(),
      nn.SparseLinear.fromDense(lin),
    );
    return { model, x: randn([2, 2, 5, 5]) };
  }

  test('a sparse model round-trips into a model of the same pattern', () => {
    const { model, x } = sparseNet();
    const dir = mkdtempSync(join(tmpdir(), 'backprop-sparse-'));
    io.save(join(dir, 'm.safetensors'), model.stateDict());
    const { model: fresh } = sparseNet();
    for (const p of fresh.parameters()) p.data.fill(0);
    const { tensors } = io.load(join(dir, 'm.safetensors'));
    expect(Object.keys(tensors).sort()).toEqual(['0.bias', '0.weight', '3.bias', '3.weight']);
    fresh.loadStateDict(tensors);
    expect(out(fresh, x)).toEqual(out(model, x));
  });

  test.skipIf(!torchHere())('toDense() weights load into PyTorch and give the same outputs', () => {
    const { model, x } = sparseNet();
    const dense = new nn.Sequential(
      (model.children()[0] as nn.SparseConv2d).toDense(),
      new nn.ReLU(),
      new nn.Flatten(),
      (model.children()[3] as nn.SparseLinear).toDense(),
    );
    const dir = mkdtempSync(join(tmpdir(), 'backprop-sparse-'));
    const path = join(dir, 'dense.safetensors');
    io.save(path, dense.stateDict(), { format: 'pt' });
    const script = `
import json, struct, sys, torch
b = open(sys.argv[1], 'rb').read(); n, = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8 + n]); h.pop('__metadata__', None)
sd = {k: torch.frombuffer(bytearray(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=torch.float32).reshape(v['shape']) for k, v in h.items()}
m = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(75, 4))
m.load_state_dict(sd, strict=True)
x = torch.tensor(json.loads(sys.argv[2]), dtype=torch.float32).reshape(2, 2, 5, 5)
print(json.dumps(m(x).flatten().tolist()))
`;
    const theirs = JSON.parse(
      execFileSync(PYTHON, ['-c', script, path, JSON.stringify(Array.from(x.data))], { encoding: 'utf8' }),
    ) as number[];
    const ours = out(model, x);
    theirs.forEach((v, i) => expect(Math.abs(ours[i] - v)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v))));
  });
});
