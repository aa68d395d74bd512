// The messages between the caller and its workers (trainer and predictor), and the helpers both
// sides share: where the compiled worker files are, and errors that keep the worker's stack.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BatchLogs, EpochLogs, History } from '../train/fit.js';
import type { PackedStateDict, PackedTensor } from './transfer.js';

/** An error as it crosses a thread: structured clone keeps name and message but not the class. */
export interface WorkerErrorInfo {
  name: string;
  message: string;
  stack: string;
}

export function errorInfo(e: unknown): WorkerErrorInfo {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack ?? `${e.name}: ${e.message}` };
  return { name: 'Error', message: String(e), stack: String(e) };
}

/**
 * An error raised in a worker and rethrown in the caller: its message says where it came from, its
 * stack is the caller's followed by the worker's, and `workerStack` / `cause` keep the original.
 */
export class WorkerError extends Error {
  readonly workerStack: string;
  constructor(message: string, info?: WorkerErrorInfo) {
    super(info ? `${message}: ${info.name}: ${info.message}` : message);
    this.name = 'WorkerError';
    this.workerStack = info?.stack ?? '';
    if (info) {
      const cause = new Error(info.message);
      cause.name = info.name;
      cause.stack = info.stack;
      this.cause = cause;
      this.stack = `${this.stack ?? ''}\n    --- in the worker ---\n${info.stack}`;
    }
  }
}

/**
 * The URL of a compiled worker entry point (dist/workers/<name>.js). Beside this module when it
 * runs compiled; from the TypeScript sources (the tests run them through vitest, and a worker
 * cannot load .ts files) the compiled copy in dist/, which `npm test` builds first.
 */
export function workerFile(name: string): URL {
  const here = new URL(`./${name}.js`, import.meta.url);
  if (existsSync(here)) return here;
  const dist = new URL(`../../dist/workers/${name}.js`, import.meta.url);
  if (existsSync(dist)) return dist;
  throw new Error(
    `backprop workers: the worker entry point ${fileURLToPath(here)} is missing (run \`npm run build:ts\` to compile it)`,
  );
}

/** A module to load in a worker: a URL, a file path, or a file: URL string. */
export function moduleHref(op: string, spec: URL | string): string {
  if (spec instanceof URL) return spec.href;
  if (typeof spec !== 'string' || spec === '') throw new TypeError(`${op}: the module must be a URL or a path`);
  if (/^(file|data):/.test(spec)) return spec;
  if (spec.startsWith('/')) return new URL(`file://${spec}`).href;
  throw new TypeError(
    `${op}: '${spec}' is neither a URL nor an absolute path (use new URL('./job.js', import.meta.url))`,
  );
}

// --- trainer ---------------------------------------------------------------------------------

export interface TrainerWorkerData {
  jobUrl: string;
  args: unknown;
  publishEvery: number;
  progressEvery: number;
  checkpoint: string | null;
  /** The caller's signal was aborted before the worker started: train no batch. */
  stopped: boolean;
}

/** A batch's progress, as fit's onBatchEnd reports it, plus the throughput of the epoch so far. */
export interface BatchProgress extends BatchLogs {
  /** Batches completed since training started (over all epochs). */
  step: number;
  /** Training samples per second in this epoch so far. */
  samplesPerSecond: number;
}

export type TrainerMessage =
  | { type: 'ready'; parameters: number }
  | { type: 'batch'; progress: BatchProgress }
  | { type: 'epoch'; logs: EpochLogs }
  | { type: 'weights'; version: number; epoch: number; step: number; stateDict: PackedStateDict }
  | {
      type: 'done';
      history: History;
      stateDict: PackedStateDict;
      optimizerState: unknown;
      epoch: number;
      step: number;
      checkpoint: string | null;
    }
  | { type: 'error'; error: WorkerErrorInfo };

export type TrainerCommand = { type: 'stop' } | { type: 'publish' };

// --- predictor -------------------------------------------------------------------------------

export interface PredictorWorkerData {
  /** A module URL, or the source of a self-contained builder function. */
  builder: { url: string } | { source: string };
  args: unknown;
  threads: number;
}

export interface PredictTask {
  x: PackedTensor;
  version: number;
  weights: PackedStateDict;
}
