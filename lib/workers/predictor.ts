// The inference pool: predict(x) calls from many requests are gathered into batches (dynamic
// batching, as Triton and TorchServe do: up to maxBatch samples, waiting at most maxDelayMs for
// the batch to fill) and run on a piscina pool of worker threads. Weights live in a
// SharedArrayBuffer per version: updateWeights() packs a new one (never writes an old one), each
// batch names the version it runs with, so a batch sees exactly one whole version.
import type { ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Tensor } from '../tensor.js';
import { DTYPES } from '../dtype.js';
import type { Module } from '../nn/module.js';
import { packStateDict, unpackTensor, type PackedStateDict, type PackedTensor } from './transfer.js';
import { moduleHref, WorkerError, workerFile, errorInfo } from './protocol.js';
import type { PredictorWorkerData, PredictTask } from './protocol.js';

/**
 * Builds the model in each worker: a module (URL or absolute path) whose default export (or
 * `buildModel` export) does it, or a self-contained function, sent as source. Either is called as
 * `(backprop, args)`, with the library itself (a function cannot capture variables: it is
 * re-created from its source in the worker).
 */
export type ModelBuilder =
  URL | string | ((backprop: typeof import('../index.js'), args: never) => Module | Promise<Module>);

export interface PredictorOptions {
  /** Worker threads (default 1). */
  workers?: number;
  /** Most samples in one batch (default 32; 1 turns batching off). */
  maxBatch?: number;
  /**
   * Longest a request waits for its batch to fill before the batch runs (default 2 ms). 0: no
   * waiting; batches then form only from calls that arrive while every worker is busy (best for
   * a lone caller, whose request would otherwise wait the whole delay for company).
   */
  maxDelayMs?: number;
  /** Most requests waiting for a batch; beyond it predict() rejects with PredictorQueueFullError (default 1024). */
  maxQueue?: number;
  /** GEMM threads in each worker (default 1: the workers are the parallelism). */
  threadsPerWorker?: number;
  /** Passed (structured-cloned) to the model builder. */
  args?: unknown;
  /** Each worker's V8 heap limits (node:worker_threads). */
  resourceLimits?: ResourceLimits;
}

export interface PredictOptions {
  /** Aborting it rejects this call (with the signal's reason); the others of its batch go on. */
  signal?: AbortSignal;
}

export interface PredictorStats {
  /** Batches run, samples in them, and the largest batch. */
  batches: number;
  samples: number;
  largestBatch: number;
  /** Requests waiting for a batch, and batches running. */
  queued: number;
  running: number;
  /** The weights version batches now run with (1 for the initial weights). */
  version: number;
}

/** predict() refused because maxQueue requests are already waiting. */
export class PredictorQueueFullError extends Error {
  constructor(maxQueue: number) {
    super(
      `predictor: the queue is full (${maxQueue} requests waiting, maxQueue ${maxQueue}); retry later or raise maxQueue`,
    );
    this.name = 'PredictorQueueFullError';
  }
}

interface Pending {
  x: Tensor;
  key: string;
  queuedAt: number;
  resolve(t: Tensor): void;
  reject(e: Error): void;
  settled: boolean;
  cleanup(): void;
}

function positiveInt(op: string, name: string, v: unknown, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new RangeError(`${op}: ${name} must be an integer >= 1, got ${typeof v === 'number' ? v : typeof v}`);
  return v;
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('predict: aborted', 'AbortError');
}

export class Predictor {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  readonly workers: number;
  readonly #pool: Piscina<PredictTask, PackedTensor>;
  #weights: PackedStateDict;
  #version = 1;
  readonly #queue: Pending[] = [];
  #running = 0;
  readonly #inflight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #batches = 0;
  #samples = 0;
  #largest = 0;

  constructor(buildModel: ModelBuilder, stateDict: Record<string, Tensor>, options: PredictorOptions = {}) {
    const op = 'createPredictor';
    this.workers = positiveInt(op, 'workers', options.workers, 1);
    this.maxBatch = positiveInt(op, 'maxBatch', options.maxBatch, 32);
    this.maxQueue = positiveInt(op, 'maxQueue', options.maxQueue, 1024);
    const threads = positiveInt(op, 'threadsPerWorker', options.threadsPerWorker, 1);
    const delay = options.maxDelayMs ?? 2;
    if (typeof delay !== 'number' || !(delay >= 0) || !Number.isFinite(delay))
      throw new RangeError(`${op}: maxDelayMs must be a finite number >= 0, got ${String(delay)}`);
    this.maxDelayMs = delay;
    const builder: PredictorWorkerData['builder'] =
      typeof buildModel === 'function' ? { source: buildModel.toString() } : { url: moduleHref(op, buildModel) };
    this.#weights = packStateDict(stateDict, { shared: true });
    const workerData: PredictorWorkerData = { builder, args: options.args, threads };
    this.#pool = new Piscina<PredictTask, PackedTensor>({
      filename: workerFile('predictor-worker').href,
      minThreads: this.workers,
      maxThreads: this.workers,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      resourceLimits: options.resourceLimits,
      workerData,
    });
  }

  /**
   * One sample in (no batch dimension), its output out (no batch dimension). Samples of the same
   * shape and dtype share batches.
   */
  predict(x: Tensor, options: PredictOptions = {}): Promise<Tensor> {
    if (!(x instanceof Tensor)) return Promise.reject(new TypeError('predict: x must be a Tensor (one sample)'));
    if (this.#closed) return Promise.reject(new Error('predict: the predictor is closed'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#queue.length >= this.maxQueue) return Promise.reject(new PredictorQueueFullError(this.maxQueue));
    return new Promise<Tensor>((resolve, reject) => {
      const p: Pending = {
        x,
        key: `${x.dtype}:${x.shape.join(',')}`,
        queuedAt: performance.now(),
        resolve: (t) => {
          if (p.settled) return;
          p.settled = true;
          p.cleanup();
          resolve(t);
        },
        reject: (e) => {
          if (p.settled) return;
          p.settled = true;
          p.cleanup();
          reject(e);
        },
        settled: false,
        cleanup: () => undefined,
      };
      if (signal) {
        const onAbort = (): void => {
          const i = this.#queue.indexOf(p);
          if (i >= 0) this.#queue.splice(i, 1);
          p.reject(abortReason(signal)); // a running batch finishes for the others
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.cleanup = () => signal.removeEventListener('abort', onAbort);
      }
      this.#queue.push(p);
      this.#schedule();
    });
  }

  /** Batches from now on run with these weights (batches already running finish with theirs). */
  updateWeights(stateDict: Record<string, Tensor>): void {
    if (this.#closed) throw new Error('updateWeights: the predictor is closed');
    this.#weights = packStateDict(stateDict, { shared: true });
    this.#version++;
  }

  get stats(): PredictorStats {
    return {
      batches: this.#batches,
      samples: this.#samples,
      largestBatch: this.#largest,
      queued: this.#queue.length,
      running: this.#running,
      version: this.#version,
    };
  }

  /** The pool's worker threads (empty after close()). */
  get threads(): readonly { threadId: number }[] {
    return this.#pool.threads;
  }

  // A batch runs when a worker is free and either maxBatch requests wait or the oldest has
  // waited maxDelayMs. While every worker is busy requests keep gathering, so batches grow with
  // the load.
  #schedule(): void {
    while (this.#running < this.workers && this.#queue.length > 0) {
      const waited = performance.now() - this.#queue[0].queuedAt;
      if (this.#queue.length < this.maxBatch && waited < this.maxDelayMs) {
        if (this.#timer === null) {
          this.#timer = setTimeout(() => {
            this.#timer = null;
            this.#schedule();
          }, this.maxDelayMs - waited);
        }
        return;
      }
      this.#dispatch(this.#takeBatch());
    }
  }

  #takeBatch(): Pending[] {
    const key = this.#queue[0].key;
    const batch: Pending[] = [];
    for (let i = 0; i < this.#queue.length && batch.length < this.maxBatch;) {
      if (this.#queue[i].key === key) batch.push(...this.#queue.splice(i, 1));
      else i++;
    }
    return batch;
  }

  #dispatch(batch: Pending[]): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const sample = batch[0].x;
    const per = sample.numel();
    const data = new DTYPES[sample.dtype].storage(per * batch.length);
    for (let i = 0; i < batch.length; i++) data.set(batch[i].x.data, i * per);
    const x: PackedTensor = {
      kind: 'backprop.tensor',
      dtype: sample.dtype,
      shape: [batch.length, ...sample.shape],
      data,
    };
    this.#running++;
    this.#batches++;
    this.#samples += batch.length;
    this.#largest = Math.max(this.#largest, batch.length);
    const task: PredictTask = { x, version: this.#version, weights: this.#weights };
    const run = this.#pool.run(task, { transferList: [data.buffer] }).then(
      (packed) => {
        this.#running--;
        try {
          const out = unpackTensor(packed);
          if (out.shape[0] !== batch.length)
            throw new Error(
              `predict: the model returned shape [${out.shape.join(', ')}] for a batch of ${batch.length}`,
            );
          const k = out.numel() / batch.length;
          const shape = out.shape.slice(1);
          for (let i = 0; i < batch.length; i++)
            batch[i].resolve(new Tensor(out.data.slice(i * k, (i + 1) * k), shape, false, out.dtype));
        } catch (e) {
          for (const p of batch) p.reject(e instanceof Error ? e : new Error(String(e)));
        }
        this.#schedule();
      },
      (e: unknown) => {
        this.#running--;
        const err = new WorkerError('predictor: the batch failed in its worker', errorInfo(e));
        for (const p of batch) p.reject(err);
        this.#schedule();
      },
    );
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }

  /** Rejects waiting requests, lets running batches finish, and ends every worker thread. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const p of this.#queue.splice(0))
      p.reject(new Error('predict: the predictor was closed before this request ran'));
    // Running batches finish (piscina's close() could cut one off under load), then the threads end.
    await Promise.allSettled([...this.#inflight]);
    await this.#pool.destroy();
  }
}

/** An inference pool over `workers` threads with dynamic batching (see Predictor). */
export function createPredictor(
  buildModel: ModelBuilder,
  stateDict: Record<string, Tensor>,
  options: PredictorOptions = {},
): Predictor {
  return new Predictor(buildModel, stateDict, options);
}
