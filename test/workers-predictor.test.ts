// The inference pool (lib/workers/predictor.ts): predictions equal the model's output in this
// thread; concurrent calls are batched (batches counted); the queue has a limit with a clear
// error; a call's AbortSignal drops it alone; weight updates are whole versions under load;
// failures in a worker reject with a clear error; close() leaves no thread behind. Workers run the
// compiled library (dist/, built by `npm test`).
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualSeed } from '../lib/random.js';
import { ones, stack, tensor, type Tensor } from '../lib/tensor.js';
import * as nn from '../lib/nn/index.js';
import { noGrad } from '../lib/autograd/mode.js';
import { createPredictor, PredictorQueueFullError, WorkerError, type Predictor } from '../lib/workers/index.js';

const dist = resolve('dist/workers/predictor-worker.js');
const builderModule = new URL('./fixtures/predictor-model.js', import.meta.url);

// Self-contained: re-created from its source in each worker, called with the library.
const buildMlp = (b: typeof import('../lib/index.js')) =>
  new b.nn.Sequential(new b.nn.Linear(6, 4), new b.nn.Tanh(), new b.nn.Linear(4, 3));

function samples(n: number): Tensor[] {
  return Array.from({ length: n }, (_, i) => tensor(Float32Array.from({ length: 6 }, (_, j) => Math.sin(i * 7 + j))));
}

function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

async function withPredictor<T>(p: Predictor, fn: (p: Predictor) => Promise<T>): Promise<T> {
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

describe.skipIf(!existsSync(dist))('predictor', () => {
  manualSeed(11);
  const model = buildMlp({ nn } as any);
  const sd = model.stateDict();

  it('gives the outputs of the model in this thread, for a function builder and a module builder', async () => {
    const xs = samples(5);
    const expected = noGrad(() => model.forward(stack(xs)));
    for (const builder of [buildMlp, builderModule]) {
      await withPredictor(createPredictor(builder, sd, { maxBatch: 5, maxDelayMs: 1000 }), async (p) => {
        const outs = await Promise.all(xs.map((x) => p.predict(x)));
        expect(p.stats.batches).toBe(1); // five calls, one batch: the same GEMM as the batch above
        expect(outs.map((o) => o.shape)).toEqual(xs.map(() => [3]));
        expect(outs.map((o) => Array.from(o.data))).toEqual(
          xs.map((_, i) => Array.from(expected.data.subarray(i * 3, i * 3 + 3))),
        );
      });
    }
  });

  it('groups concurrent calls into batches of at most maxBatch, and waits at most maxDelayMs', async () => {
    const xs = samples(64);
    await withPredictor(createPredictor(buildMlp, sd, { maxBatch: 16, maxDelayMs: 50 }), async (p) => {
      await Promise.all(xs.map((x) => p.predict(x)));
      expect(p.stats).toMatchObject({ batches: 4, samples: 64, largestBatch: 16 });
      // Two calls never fill a batch: they run together once the delay is over.
      await Promise.all(xs.slice(0, 2).map((x) => p.predict(x)));
      expect(p.stats).toMatchObject({ batches: 5, samples: 66 });
    });
    await withPredictor(createPredictor(buildMlp, sd, { maxBatch: 1 }), async (p) => {
      await Promise.all(xs.map((x) => p.predict(x)));
      expect(p.stats).toMatchObject({ batches: 64, largestBatch: 1 });
    });
  });

  it('refuses calls beyond maxQueue with a clear error, and drops an aborted call alone', async () => {
    const xs = samples(8);
    await withPredictor(createPredictor(buildMlp, sd, { maxBatch: 1, maxQueue: 4 }), async (p) => {
      const running = p.predict(xs[0]); // dispatched at once
      const controller = new AbortController();
      const queued = [
        p.predict(xs[1]),
        p.predict(xs[2], { signal: controller.signal }),
        p.predict(xs[3]),
        p.predict(xs[4]),
      ];
      await expect(p.predict(xs[5])).rejects.toThrow(PredictorQueueFullError);
      await expect(p.predict(xs[5])).rejects.toThrow(/queue is full \(4 requests waiting/);
      controller.abort();
      await expect(queued[1]).rejects.toThrow(/abort/i);
      await expect(p.predict(xs[6], { signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
      const done = await Promise.all([running, queued[0], queued[2], queued[3]]);
      expect(done.every((t) => t.shape[0] === 3)).toBe(true);
      expect(p.stats.batches).toBe(4); // the aborted call never ran
    });
  });

  it('weight updates under load: every prediction sees one whole version', async () => {
    // y = W x with W all c and x all ones: every output is 256 c for the version c it ran with.
    const build = (b: typeof import('../lib/index.js')) => new b.nn.Linear(256, 64, { bias: false });
    const weights = (c: number) => ({ weight: tensor(new Float32Array(64 * 256).fill(c), { shape: [64, 256] }) });
    await withPredictor(createPredictor(build, weights(1), { workers: 2, maxBatch: 8, maxDelayMs: 1 }), async (p) => {
      let c = 1;
      const updater = setInterval(() => p.updateWeights(weights(++c)), 1);
      const outs: Tensor[] = [];
      for (let round = 0; round < 40; round++)
        outs.push(...(await Promise.all(samples(8).map(() => p.predict(ones([256]))))));
      clearInterval(updater);
      let torn = 0;
      const seen = new Set<number>();
      for (const o of outs) {
        const v = o.data[0] / 256;
        if (!Number.isInteger(v) || v < 1 || v > c || o.data.some((y) => y !== o.data[0])) torn++;
        seen.add(v);
      }
      expect(torn).toBe(0);
      expect(seen.size).toBeGreaterThan(3); // the versions did change under the load
      p.updateWeights(weights(1000));
      expect(Array.from((await p.predict(ones([256]))).data)).toEqual(new Array(64).fill(256000));
      expect(p.stats.version).toBe(c + 1);
    });
  });

  it.each([
    ['an exception in the builder', 'throw', /the builder could not make the model/],
    ['process.exit in the builder', 'exit', /exit/i],
    ['an error raised by the addon', 'addon', /gemm/i],
  ])('%s rejects the batch with a clear error, and this thread goes on', async (_name, mode, message) => {
    await withPredictor(createPredictor(builderModule, sd, { args: { mode } }), async (p) => {
      const error = await p.predict(samples(1)[0]).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(WorkerError);
      expect((error as Error).message).toMatch(/predictor: the batch failed in its worker/);
      expect((error as Error).message).toMatch(message);
    });
    await withPredictor(createPredictor(buildMlp, sd), async (p) => {
      expect((await p.predict(samples(1)[0])).shape).toEqual([3]);
    });
  });

  it('close() rejects waiting calls and ends every worker thread', async () => {
    // Warm up once: the first workers load OpenBLAS, whose own threads are the process's to keep.
    await withPredictor(createPredictor(buildMlp, sd, { workers: 3 }), (p) => p.predict(samples(1)[0]));
    const before = threadCount();
    const p = createPredictor(buildMlp, sd, { workers: 3, maxBatch: 1 });
    await Promise.all(samples(6).map((x) => p.predict(x)));
    expect(p.threads.length).toBe(3);
    expect(threadCount()).toBe(before + 3);
    const pending = Promise.allSettled(samples(8).map((x) => p.predict(x)));
    await p.close();
    const settled = await pending;
    expect(settled.filter((s) => s.status === 'rejected').length).toBeGreaterThan(0);
    for (const s of settled) if (s.status === 'rejected') expect(String(s.reason)).toMatch(/closed/);
    expect(p.threads.length).toBe(0);
    expect(threadCount()).toBe(before);
    await expect(p.predict(samples(1)[0])).rejects.toThrow(/the predictor is closed/);
    expect(() => createPredictor(buildMlp, sd, { maxBatch: 0 })).toThrow(/maxBatch must be an integer >= 1/);
  });
});
