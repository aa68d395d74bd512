// The background trainer: runs a job module's fit() in a worker thread, so that a service's event
// loop never waits for a batch. The caller gets progress (events and an async iterator), live
// weights (whole versions, one message each: a version is never updated in place, so no reader
// can see half of one), stop() after a whole batch, the final state, and the worker's errors.
import { EventEmitter } from 'node:events';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { Tensor } from '../tensor.js';
import type { EpochLogs, History } from '../train/fit.js';
import { unpackStateDict, unpackValue } from './transfer.js';
import {
  moduleHref,
  WorkerError,
  workerFile,
  type BatchProgress,
  type TrainerCommand,
  type TrainerMessage,
  type TrainerWorkerData,
} from './protocol.js';

export type { BatchProgress };

export interface SpawnTrainerOptions {
  /** Passed (structured-cloned) to the job module's default export. */
  args?: unknown;
  /** Publish the weights every this many batches (0: only on publish() and at the end; default 0). */
  publishEvery?: number;
  /** Report every this many batches (default 1; the last batch of an epoch is always reported). */
  progressEvery?: number;
  /** A path: the worker writes a checkpoint (io.saveCheckpoint) there when training ends or stops. */
  checkpoint?: string;
  /** Aborting it stops training after the current batch, as stop() does. */
  signal?: AbortSignal;
  /** The worker's V8 heap limits (node:worker_threads). */
  resourceLimits?: ResourceLimits;
}

/** One published version of the weights: a state dict nothing will change afterwards. */
export interface LiveWeights {
  /** 1, 2, 3... in publishing order (version 1: the weights before the first batch). */
  version: number;
  /** Epochs completed and batches completed (over all epochs) when the version was taken. */
  epoch: number;
  step: number;
  stateDict: Record<string, Tensor>;
}

export interface TrainResult {
  history: History;
  /** The model's final state dict. */
  stateDict: Record<string, Tensor>;
  /** The optimizer's stateDict() (tensors included), or null if it has none. */
  optimizerState: unknown;
  /** Epochs completed (an epoch cut short by stop() does not count) and batches completed. */
  epoch: number;
  step: number;
  /** True when stop() or the signal ended training early. */
  aborted: boolean;
  /** The checkpoint file written, if one was asked for. */
  checkpoint: string | null;
}

export type TrainerEvent =
  | { type: 'batch'; progress: BatchProgress }
  | { type: 'epoch'; logs: EpochLogs }
  | { type: 'weights'; weights: LiveWeights };

type Listener = { push(e: TrainerEvent): void; end(error?: Error): void };

/**
 * A training job running in a worker thread. Events: 'batch' (BatchProgress), 'epoch'
 * (EpochLogs), 'weights' (LiveWeights); or iterate it with `for await`. `done` resolves with the
 * final state, or rejects with a WorkerError carrying the worker's stack.
 */
export class Trainer extends EventEmitter {
  /** Resolves when training ends (finished or stopped), rejects when the job fails. */
  readonly done: Promise<TrainResult>;
  /** The latest batch's progress, the completed epochs' logs and the latest published weights. */
  progress: BatchProgress | null = null;
  readonly epochs: EpochLogs[] = [];
  weights: LiveWeights | null = null;
  /** Parameters and buffers in the model (known once the job has built it). */
  parameters = 0;
  state: 'starting' | 'training' | 'stopping' | 'done' | 'failed' = 'starting';
  /** The error that ended the job, when it failed. */
  error: Error | null = null;

  readonly #worker: Worker;
  readonly #listeners = new Set<Listener>();
  #stopRequested = false;

  constructor(job: URL | string, options: SpawnTrainerOptions = {}) {
    super();
    const publishEvery = options.publishEvery ?? 0;
    const progressEvery = options.progressEvery ?? 1;
    if (!Number.isInteger(publishEvery) || publishEvery < 0)
      throw new RangeError(`spawnTrainer: publishEvery must be an integer >= 0, got ${String(publishEvery)}`);
    if (!Number.isInteger(progressEvery) || progressEvery < 1)
      throw new RangeError(`spawnTrainer: progressEvery must be an integer >= 1, got ${String(progressEvery)}`);
    if (options.checkpoint !== undefined && typeof options.checkpoint !== 'string')
      throw new TypeError('spawnTrainer: checkpoint must be a file path');
    const workerData: TrainerWorkerData = {
      jobUrl: moduleHref('spawnTrainer', job),
      args: options.args,
      publishEvery,
      progressEvery,
      checkpoint: options.checkpoint ?? null,
      stopped: options.signal?.aborted === true,
    };
    if (workerData.stopped) {
      this.#stopRequested = true;
      this.state = 'stopping';
    }
    this.#worker = new Worker(workerFile('trainer-worker'), { workerData, resourceLimits: options.resourceLimits });

    let resolveDone!: (r: TrainResult) => void;
    let rejectDone!: (e: Error) => void;
    this.done = new Promise<TrainResult>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    // A failed job must not become an unhandled rejection that ends a service: whoever awaits
    // `done` (or iterates) still gets the error.
    this.done.catch(() => undefined);

    let settled = false;
    let finished: TrainResult | null = null;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      this.state = 'failed';
      this.error = e;
      for (const l of this.#listeners) l.end(e);
      this.#listeners.clear();
      rejectDone(e);
      void this.#worker.terminate();
    };

    this.#worker.on('message', (m: TrainerMessage) => {
      switch (m.type) {
        case 'ready':
          this.parameters = m.parameters;
          if (this.state === 'starting') this.state = 'training';
          break;
        case 'batch':
          this.progress = m.progress;
          this.emit('batch', m.progress);
          this.#broadcast({ type: 'batch', progress: m.progress });
          break;
        case 'epoch':
          this.epochs.push(m.logs);
          this.emit('epoch', m.logs);
          this.#broadcast({ type: 'epoch', logs: m.logs });
          break;
        case 'weights': {
          const w: LiveWeights = {
            version: m.version,
            epoch: m.epoch,
            step: m.step,
            stateDict: unpackStateDict(m.stateDict),
          };
          this.weights = w;
          this.emit('weights', w);
          this.#broadcast({ type: 'weights', weights: w });
          break;
        }
        case 'done': {
          if (settled) return;
          finished = {
            history: m.history,
            stateDict: unpackStateDict(m.stateDict),
            optimizerState: unpackValue(m.optimizerState),
            epoch: m.epoch,
            step: m.step,
            aborted: m.history.aborted,
            checkpoint: m.checkpoint,
          };
          break;
        }
        case 'error':
          fail(new WorkerError('trainer: the job failed in its worker', m.error));
          break;
      }
    });
    this.#worker.on('error', (e: Error) =>
      fail(new WorkerError('trainer: the worker threw', { name: e.name, message: e.message, stack: e.stack ?? '' })),
    );
    // `done` settles once the thread has ended, so no thread outlives it.
    this.#worker.on('exit', (code) => {
      if (settled) return;
      if (finished) {
        settled = true;
        this.state = 'done';
        for (const l of this.#listeners) l.end();
        this.#listeners.clear();
        resolveDone(finished);
      } else
        fail(
          new WorkerError(
            `trainer: the worker exited with code ${code} before training finished (process.exit() in the job, or terminate())`,
          ),
        );
    });

    if (options.signal && !options.signal.aborted) {
      const signal = options.signal;
      {
        const onAbort = (): void => this.#requestStop();
        signal.addEventListener('abort', onAbort, { once: true });
        void this.done.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
      }
    }
  }

  /** The worker's thread id. */
  get threadId(): number {
    return this.#worker.threadId;
  }

  #requestStop(): void {
    if (this.#stopRequested || this.state === 'done' || this.state === 'failed') return;
    this.#stopRequested = true;
    this.state = 'stopping';
    this.#send({ type: 'stop' });
  }

  #send(command: TrainerCommand): void {
    try {
      this.#worker.postMessage(command);
    } catch {
      // the worker is gone; `done` reports why
    }
  }

  #broadcast(e: TrainerEvent): void {
    for (const l of this.#listeners) l.push(e);
  }

  /** Stops after the current batch; resolves with the final state (and checkpoint, if asked). */
  stop(): Promise<TrainResult> {
    this.#requestStop();
    return this.done;
  }

  /** Asks for a version of the weights after the current batch (a 'weights' event follows). */
  publish(): void {
    if (this.state === 'training' || this.state === 'starting') this.#send({ type: 'publish' });
  }

  /** Ends the worker at once, without a final state: `done` rejects. Prefer stop(). */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  /** Events from now on, until training ends; throws the job's error if it fails. */
  [Symbol.asyncIterator](): AsyncIterator<TrainerEvent> {
    const queue: TrainerEvent[] = [];
    let ended = false;
    let failure: Error | undefined;
    let wake: (() => void) | null = null;
    const listener: Listener = {
      push: (e) => {
        queue.push(e);
        wake?.();
      },
      end: (error) => {
        ended = true;
        failure = error;
        wake?.();
      },
    };
    if (this.state === 'done') ended = true;
    else if (this.state === 'failed') {
      ended = true;
      failure = this.error ?? undefined;
    } else this.#listeners.add(listener);
    return {
      next: async (): Promise<IteratorResult<TrainerEvent>> => {
        while (queue.length === 0 && !ended) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (failure) throw failure;
        return { value: undefined, done: true };
      },
      return: (): Promise<IteratorResult<TrainerEvent>> => {
        this.#listeners.delete(listener);
        ended = true;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/**
 * Starts `job` (a module URL or absolute path) in a worker thread. The module's default export
 * receives `options.args` and returns fit()'s options with the model:
 * `{ model, train, optimizer, loss, epochs, validation?, metrics?, scheduler?, ... }`.
 */
export function spawnTrainer(job: URL | string, options: SpawnTrainerOptions = {}): Trainer {
  return new Trainer(job, options);
}
