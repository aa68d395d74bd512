// The two backends agree: float32 forward values and gradients of native and js, within a
// stated tolerance (|native - js| <= 1e-5 + 1e-4 |js|: both accumulate in float32, in different
// orders). And every kernel the ops use exists in both backends.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, grad } from '../lib/index.js';
import * as F from '../lib/ops/index.js';
import { jsBackend, kernels } from '../lib/backend/index.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf, onJsThenNative } from './support/autograd.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

const ATOL = 1e-5;
const RTOL = 1e-4;

/** A workload touching every op: forward value and gradients w.r.t. all float32 inputs. */
function workload(): Tensor[] {
  const rng = new Rng(41);
  const f32 = (shape: number[], o = {}): Tensor => leaf(rng, shape, { dtype: 'float32', ...o });
  const x = f32([16, 20]);
  const w1 = f32([24, 20], { lo: -0.3, hi: 0.3 });
  const b1 = f32([24]);
  const w2 = f32([10, 24], { lo: -0.3, hi: 0.3 });
  const b2 = f32([10]);
  const a = f32([2, 3, 40]);
  const m = f32([40, 33]);
  const p = f32([2, 3, 5], { lo: 0.1, hi: 2 });
  const h = F.linear(x, w1, b1);
  const acts = h.relu().add(h.gelu()).add(h.leakyRelu(0.1)).add(h.sigmoid()).add(h.tanh());
  const logits = F.linear(acts, w2, b2);
  const targets = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5];
  const losses = [
    F.crossEntropy(logits, targets),
    F.nllLoss(F.logSoftmax(logits, 1), targets, { reduction: 'sum' }),
    F.mseLoss(F.softmax(logits, 0), logits.sigmoid()),
    F.l1Loss(logits, logits.tanh()),
    F.huberLoss(logits, logits.mul(0.5)),
    F.bceWithLogits(logits, logits.sigmoid().detach()),
    a.matmul(m).sum(2).max(1).sum(),
    a
      .matmul(m.narrow(1, 0, 5))
      .div(p)
      .exp()
      .mean([0, 2])
      .sum(),
    p.log().abs().sqrt().pow(3).permute(2, 0, 1).indexSelect(0, [4, 0, 0]).sum(),
    a.transpose(1, 2).flatten(1).max().add(a.min()),
  ];
  const total = losses.reduce((s, l) => s.add(l));
  const gs = grad(total, [x, w1, b1, w2, b2, a, m, p]);
  return [logits, ...losses, ...gs];
}

describe('native and js backends agree in float32', () => {
  test.skipIf(!backendsHere().includes('native'))(`forward values and gradients within ${ATOL} + ${RTOL}|js|`, () => {
    const { ref, got } = onJsThenNative(workload);
    expect(got.length).toBe(ref.length);
    got.forEach((t, i) => {
      expect(t.shape).toEqual(ref[i].shape);
      expect(t.dtype).toBe('float32');
      for (let k = 0; k < t.size; k++) {
        const e = ref[i].data[k];
        if (!(Math.abs(t.data[k] - e) <= ATOL + RTOL * Math.abs(e))) {
          throw new Error(`result ${i} element ${k}: native ${t.data[k]} vs js ${e}`);
        }
      }
    });
  });
});

describe('kernel coverage', () => {
  test('every kernel the ops use exists in both backends', () => {
    backend.use('js');
    const used = new Set<string>();
    const target = jsBackend as unknown as Record<string, unknown>;
    const originals = new Map<string, unknown>();
    for (const [k, v] of Object.entries(target)) {
      if (typeof v !== 'function' || k === 'info' || k === 'setNumThreads') continue;
      originals.set(k, v);
      target[k] = (...args: unknown[]) => {
        used.add(k);
        return (v as (...a: unknown[]) => unknown).apply(jsBackend, args);
      };
    }
    try {
      workload();
      // The composed (createGraph) rules too.
      const rng = new Rng(1);
      const x = leaf(rng, [3, 4], { dtype: 'float32' });
      const [g] = grad(F.crossEntropy(x.tanh().sigmoid().gelu(), [0, 1, 2]), x, { createGraph: true });
      grad(g.sum(), x);
    } finally {
      for (const [k, v] of originals) target[k] = v;
    }
    // The ops must use the core kernels (a sanity check that the recording worked) ...
    for (const k of [
      'gemm',
      'unary',
      'unaryBackward',
      'binary',
      'binaryScalar',
      'reduce',
      'softmaxCrossEntropy',
      'biasAdd',
      'biasGrad',
      'gather',
      'scatterAdd',
      'permute',
    ]) {
      expect(used).toContain(k);
    }
    // ... and each must exist in every backend that loads.
    for (const name of backendsHere()) {
      backend.use(name);
      const k = kernels();
      for (const op of used)
        expect(typeof (k as unknown as Record<string, unknown>)[op], `${name}.${op}`).toBe('function');
    }
  });
});
