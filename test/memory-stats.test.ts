// backend.memoryStats(): saved and allocated bytes against counts derived by hand from the ops'
// contracts (what each node keeps: unary ops their output, mul its inputs, sum its input; leaves
// not counted), for a small graph of slab-carved tensors and one of large buffers, and the
// release points: the engine frees a node after its backward, a dropped graph is released at
// garbage collection, a recycled gradient buffer is no longer allocated.

import { describe, expect, it } from 'vitest';
import v8 from 'node:v8';
import vm from 'node:vm';
import { randn } from '../lib/tensor.js';
import { backend } from '../lib/backend/index.js';
import { memoryStats, resetPeakMemoryStats } from '../lib/backend/memory.js';
import { noGrad } from '../lib/autograd/index.js';
import { dropout } from '../lib/nn/functional.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/** A full collection, then a task for the FinalizationRegistry callbacks to run in. */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 0));
  }
}

describe('memoryStats', () => {
  it('counts the saved bytes of a small graph of slab-carved tensors, each buffer once', () => {
    // a: [4, 8] float64 = 256 bytes, a leaf (not counted). tanh keeps its output b (256);
    // mul(b, b) holds b twice, the buffer tanh keeps already: nothing new; sum holds c (256).
    const a = randn([4, 8], { dtype: 'float64', requiresGrad: true });
    const before = memoryStats().savedBytes;
    const b = a.tanh();
    expect(memoryStats().savedBytes - before).toBe(256);
    const c = b.mul(b);
    expect(memoryStats().savedBytes - before).toBe(256);
    const d = c.sum();
    expect(memoryStats().savedBytes - before).toBe(512);
    resetPeakMemoryStats();
    d.backward();
    // Every node was freed by the backward: back to where we started, the peak unchanged.
    expect(memoryStats().savedBytes).toBe(before);
    expect(memoryStats().peakSavedBytes).toBe(before + 512);
  });

  it('counts large buffers by their storage (a view is the same buffer) and not under noGrad', () => {
    const x = randn([256, 64], { requiresGrad: true }); // 64 KiB float32, a leaf
    const before = memoryStats().savedBytes;
    noGrad(() => x.tanh().relu());
    expect(memoryStats().savedBytes).toBe(before);
    const y = x.tanh(); // keeps y: 65536
    const v = y.reshape([64, 256]); // a view of y's storage, holding y: nothing new
    expect(memoryStats().savedBytes - before).toBe(65536);
    const z = v.relu(); // keeps z: 65536 more
    expect(memoryStats().savedBytes - before).toBe(131072);
    z.sum().backward();
    expect(memoryStats().savedBytes).toBe(before);
  });

  it('counts a dropout mask (a leaf the op made) and leaves parameters out', () => {
    const w = randn([32, 32], { requiresGrad: true }); // 4096 bytes: a slab piece, a parameter
    const before = memoryStats().savedBytes;
    const y = dropout(w, 0.5, true); // mul(w, mask): w is a leaf, the mask is internal (4096)
    expect(memoryStats().savedBytes - before).toBe(4096);
    y.sum().backward();
    expect(memoryStats().savedBytes).toBe(before);
  });

  it('allocatedBytes: exact bytes of new storage; a dropped graph is released at collection', async () => {
    await collect();
    const base = memoryStats();
    // A graph made and dropped inside a function: nothing refers to it once the call returns.
    (() => {
      const x = randn([100, 100], { requiresGrad: true }); // 40000 bytes
      const y = x.tanh(); // 40000 bytes, kept by its node
      expect(memoryStats().allocatedBytes - base.allocatedBytes).toBe(80000);
      expect(memoryStats().savedBytes - base.savedBytes).toBe(40000);
      expect(y.gradFn).not.toBeNull();
    })();
    // Dropped without a backward: released when the collector finds the graph dead.
    await collect();
    expect(memoryStats().savedBytes).toBe(base.savedBytes);
    expect(memoryStats().allocatedBytes).toBe(base.allocatedBytes);
  });

  it('slab pieces count their own bytes, not the 32 KiB slab', async () => {
    await collect();
    const base = memoryStats().allocatedBytes;
    const t = randn([10, 10]); // 400 bytes, under the 4 KiB slab limit
    const u = t.exp(); // an op output: carved from a slab, 400 bytes
    expect(memoryStats().allocatedBytes - base).toBe(800);
    expect(u.data.buffer.byteLength).toBe(32768);
  });

  it('a gradient buffer the engine recycles stops counting, and counts again when reused', () => {
    for (const name of backend.available()) {
      backend.use(name);
      const x = randn([128, 128], { requiresGrad: true }); // 64 KiB
      // Warm the pool's size class, then measure one step: tanh's output gradient buffer is
      // recycled after tanh's backward ran and handed out again to the next allocOut of that size.
      const step = (): void => x.tanh().tanh().sum().backward();
      step();
      const a0 = memoryStats().allocatedBytes;
      step();
      step();
      // A step allocates 5 buffers of 64 KiB: two forward outputs, the gradient sum() sends, the
      // gradients of the two tanh inputs. The first two gradients die inside the backward and are
      // recycled (no longer allocated, then reused); the outputs and x's new gradient (added into
      // x.grad in place) die only at collection. Two steps: 2 x 3 x 65536 plus a few scalars.
      const grew = memoryStats().allocatedBytes - a0;
      expect(grew).toBeGreaterThanOrEqual(6 * 65536);
      expect(grew).toBeLessThan(6 * 65536 + 4096);
    }
  });
});
