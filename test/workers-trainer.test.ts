// The background trainer (lib/workers/trainer.ts): a job module trains in a worker thread. Its
// final weights must equal those of the same job trained in this thread, bit for bit; stop() and
// an AbortSignal end it after a whole batch with a final checkpoint; failures in the job (an
// exception, process.exit, an error from the addon) reject with the worker's stack; published
// weight versions are never torn. Workers run the compiled library (dist/, built by `npm test`).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnTrainer, WorkerError, type LiveWeights, type TrainerEvent } from '../lib/workers/index.js';
import type { Tensor } from '../lib/tensor.js';

const dist = resolve('dist/workers/trainer-worker.js');
const job = new URL('./fixtures/trainer-job.js', import.meta.url);
const constantJob = new URL('./fixtures/constant-job.js', import.meta.url);

type Dist = typeof import('../lib/index.js');
type JobModule = { default: (args: object) => { model: any; [k: string]: any } };

function arrays(sd: Record<string, Tensor>): Record<string, number[]> {
  return Object.fromEntries(Object.entries(sd).map(([k, t]) => [k, Array.from(t.data)]));
}

/** The job run in this thread with the compiled library, as the worker runs it. */
async function inThread(args: object, steps?: number): Promise<Record<string, number[]>> {
  const b = (await import(resolve('dist/index.js'))) as Dist;
  const mod = (await import(job.href)) as JobModule;
  const j = mod.default(args);
  const controller = new AbortController();
  let seen = 0;
  await b.fit(j.model, {
    ...j,
    signal: controller.signal,
    onBatchEnd: () => {
      if (++seen === steps) controller.abort();
    },
  } as any);
  return arrays(j.model.stateDict());
}

describe.skipIf(!existsSync(dist))('background trainer', () => {
  it('reports progress and ends with the weights of an in-thread fit, bit for bit', async () => {
    const args = { seed: 3, epochs: 3, samples: 96, batchSize: 16 };
    const trainer = spawnTrainer(job, { args });
    const events: TrainerEvent[] = [];
    for await (const e of trainer) events.push(e);
    const result = await trainer.done;
    const batches = events.filter((e) => e.type === 'batch');
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(batches.map((e) => (e.type === 'batch' ? [e.progress.epoch, e.progress.batch] : []))).toEqual(
      [1, 2, 3].flatMap((ep) => [1, 2, 3, 4, 5, 6].map((bt) => [ep, bt])),
    );
    for (const e of batches) if (e.type === 'batch') expect(e.progress.samplesPerSecond).toBeGreaterThan(0);
    expect(epochs.map((e) => (e.type === 'epoch' ? e.logs.epoch : 0))).toEqual([1, 2, 3]);
    expect(trainer.epochs.map((l) => l.samples)).toEqual([96, 96, 96]);
    expect(result.aborted).toBe(false);
    expect(result.step).toBe(18);
    expect(result.epoch).toBe(3);
    expect(trainer.state).toBe('done');
    expect(arrays(result.stateDict)).toEqual(await inThread(args));
    // Adam's state came back with its tensors (one entry per parameter, step 18).
    const opt = result.optimizerState as { state: Record<string, { step: number }> };
    expect(Object.values(opt.state).map((s) => s.step)).toEqual([18, 18, 18, 18]);
  });

  it('stop() ends after a whole batch with a final checkpoint equal to an in-thread run of as many batches', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-trainer-'));
    try {
      const args = { seed: 4, epochs: 1000, samples: 64, batchSize: 8 };
      const checkpoint = join(dir, 'final.safetensors');
      const trainer = spawnTrainer(job, { args, checkpoint });
      await new Promise<void>((done) => trainer.on('batch', (p: { step: number }) => p.step === 5 && done()));
      const result = await trainer.stop();
      expect(result.aborted).toBe(true);
      expect(result.step).toBeGreaterThanOrEqual(5);
      expect(result.checkpoint).toBe(checkpoint);
      const expected = await inThread(args, result.step);
      expect(arrays(result.stateDict)).toEqual(expected);
      // The checkpoint file holds the same weights.
      const b = (await import(resolve('dist/index.js'))) as Dist;
      const mod = (await import(job.href)) as JobModule;
      const fresh = mod.default(args);
      const info = b.io.loadCheckpoint(checkpoint, { model: fresh.model, optimizer: fresh.optimizer });
      expect(info.epoch).toBe(Math.floor(result.step / 8));
      expect(arrays(fresh.model.stateDict())).toEqual(expected);
      expect(readdirSync(dir)).toEqual(['final.safetensors']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an AbortSignal stops it too, and a signal aborted before the start trains no batch', async () => {
    const controller = new AbortController();
    const trainer = spawnTrainer(job, { args: { epochs: 1000 }, signal: controller.signal });
    trainer.once('batch', () => controller.abort());
    const result = await trainer.done;
    expect(result.aborted).toBe(true);
    expect(result.step).toBeGreaterThanOrEqual(1);

    const early = spawnTrainer(job, { args: { epochs: 1000 }, signal: AbortSignal.abort() });
    const r2 = await early.done;
    expect(r2.aborted).toBe(true);
    expect(r2.step).toBe(0);
  });

  it.each([
    ['an exception in a batch', 'throw', /injected failure at batch 3/, /trainer-job\.js/],
    [
      'an exception while building the job',
      'setup-throw',
      /RangeError: the job could not build its data/,
      /trainer-job\.js/,
    ],
    ['process.exit in the job', 'exit', /exited with code 7 before training finished/, null],
    ['an error raised by the addon', 'addon', /gemm/i, null],
  ] as const)('%s rejects with a clear error, and this thread goes on', async (_name, mode, message, stack) => {
    const trainer = spawnTrainer(job, { args: { mode, epochs: 5 } });
    const seen: TrainerEvent[] = [];
    const iterated = (async () => {
      for await (const e of trainer) seen.push(e);
    })();
    const error = await trainer.done.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkerError);
    expect((error as Error).message).toMatch(message);
    if (stack) expect((error as Error).stack).toMatch(stack);
    await expect(iterated).rejects.toBe(error);
    expect(trainer.state).toBe('failed');
    // Batches before the failure were reported; this thread keeps running a new job.
    if (mode !== 'setup-throw') expect(seen.filter((e) => e.type === 'batch').length).toBe(2);
    const again = await spawnTrainer(job, { args: { epochs: 1 } }).done;
    expect(again.step).toBe(6);
  });

  it('published weights are whole versions: a stress reader never sees two values in one', async () => {
    const steps = 80;
    const trainer = spawnTrainer(constantJob, { args: { steps }, publishEvery: 1 });
    const versions: number[] = [];
    let torn = 0;
    let reads = 0;
    const check = (w: LiveWeights): void => {
      reads++;
      const want = w.step; // the job wrote `step` everywhere by the time it published
      for (const t of Object.values(w.stateDict)) {
        const d = t.data;
        if (d[0] !== want || d[d.length - 1] !== want || d[d.length >> 1] !== want) torn++;
        else for (let i = 0; i < d.length; i++) if (d[i] !== want) torn++;
      }
    };
    trainer.on('weights', (w: LiveWeights) => versions.push(w.version));
    // A reader polling the latest version while the worker publishes.
    const poll = setInterval(() => {
      if (trainer.weights) check(trainer.weights);
    }, 0);
    const result = await trainer.done;
    clearInterval(poll);
    expect(result.step).toBe(steps);
    expect(versions).toEqual(Array.from({ length: steps + 2 }, (_, i) => i + 1)); // initial, each step, final
    expect(trainer.weights?.step).toBe(steps);
    check(trainer.weights!);
    expect(reads).toBeGreaterThan(2);
    expect(torn).toBe(0);
  });

  it('publish() on demand, and refuses bad options', async () => {
    const trainer = spawnTrainer(job, { args: { epochs: 1000 } });
    await new Promise((r) => trainer.once('batch', r));
    trainer.publish();
    const w = await new Promise<LiveWeights>((r) => trainer.once('weights', r));
    expect(w.version).toBe(1);
    expect(Object.keys(w.stateDict)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    await trainer.stop();
    expect(() => spawnTrainer(job, { publishEvery: -1 })).toThrow(/publishEvery must be an integer >= 0/);
    expect(() => spawnTrainer('job.js')).toThrow(/neither a URL nor an absolute path/);
  });
});
