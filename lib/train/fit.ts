// fit(): the training loop. Async, and it hands the event loop back between batches (and
// between forward, backward and update: setImmediate), so a server running it keeps answering
// requests while it trains.
import { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { createMetrics, type Metric, type MetricSpec } from './metrics.js';
import { memoryStats, resetPeakMemoryStats } from '../backend/memory.js';
import { withCheckpointSegments } from '../nn/utils/checkpoint.js';
import { Sequential } from '../nn/layers/container.js';

/** What fit needs of a model (an nn.Module fits). */
export interface Trainable {
  forward(...args: never[]): unknown;
  train(mode?: boolean): unknown;
  eval(): unknown;
  readonly training: boolean;
}

/** What fit needs of an optimizer (every optim.* fits). */
export interface OptimizerLike {
  step(): unknown;
  zeroGrad(): unknown;
  readonly paramGroups?: readonly { lr: number }[];
}

/**
 * An lr scheduler, stepped once per epoch: with no argument, or, for ReduceLROnPlateau-style
 * schedulers (those with a `mode`), with the monitored loss.
 */
export type SchedulerLike = { step(): unknown } | { readonly mode: string; step(metric: number): unknown };

export type LossFunction =
  ((output: Tensor, target: Tensor) => Tensor) | { forward(output: Tensor, target: Tensor): Tensor };

export type Batches = Iterable<[Tensor, Tensor]> | AsyncIterable<[Tensor, Tensor]>;

export interface EpochLogs {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean training loss over the epoch's samples. */
  loss: number;
  /** Validation loss, when validation data is given. */
  valLoss?: number;
  /** Learning rate of the first parameter group during the epoch. */
  lr?: number;
  /** Training samples seen and seconds spent in the epoch (training + validation). */
  samples: number;
  seconds: number;
  /** The most bytes the autograd graph kept for backward during the epoch (backend.memoryStats()). */
  peakSavedBytes?: number;
  /** Metric values by name (accuracy, valAccuracy, ...). */
  [metric: string]: number | undefined;
}

export interface BatchLogs {
  epoch: number;
  /** 1-based batch number within the epoch. */
  batch: number;
  /** Batches per epoch when the data knows its length (a DataLoader does). */
  batches?: number;
  /** This batch's loss, and the mean loss of the epoch so far. */
  loss: number;
  runningLoss: number;
  /** Samples seen in this epoch so far. */
  samples: number;
  /** The most bytes the autograd graph kept for backward in this epoch so far. */
  peakSavedBytes?: number;
}

export interface FitOptions {
  train: Batches;
  validation?: Batches;
  epochs: number;
  optimizer: OptimizerLike;
  loss: LossFunction;
  /** Extra metrics, computed on training and validation data ('accuracy' or Metric objects). */
  metrics?: readonly MetricSpec[];
  scheduler?: SchedulerLike;
  /** Epochs already done (when resuming from a checkpoint): training runs epochs initialEpoch+1 .. epochs. */
  initialEpoch?: number;
  /** Stops training cleanly after the current batch. */
  signal?: AbortSignal;
  onBatchEnd?: (logs: BatchLogs) => void | Promise<void>;
  onEpochEnd?: (logs: EpochLogs) => void | Promise<void>;
  /**
   * Activation checkpointing for a Sequential model: its modules run in this many segments
   * (nn.utils.checkpointSequential), all but the last keeping only their input for backward.
   */
  checkpointSegments?: number;
}

export interface History {
  /** Logs of every completed epoch. */
  epochs: EpochLogs[];
  /** True when the signal stopped training early. */
  aborted: boolean;
}

const nextTick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function asLossFn(loss: LossFunction): (output: Tensor, target: Tensor) => Tensor {
  if (typeof loss === 'function') return loss;
  if (loss && typeof loss.forward === 'function') return (o, t) => loss.forward(o, t);
  throw new TypeError('fit: loss must be a function (output, target) => Tensor or a module with forward');
}

/** Batches one at a time, sync iterables preferred (no promise per batch). */
async function* batchesOf(data: Batches): AsyncGenerator<[Tensor, Tensor]> {
  if (typeof (data as Iterable<[Tensor, Tensor]>)[Symbol.iterator] === 'function') {
    // not `yield*`: in an async generator it would pick the async iterator when there is one
    for (const batch of data as Iterable<[Tensor, Tensor]>) yield batch;
  } else if (typeof (data as AsyncIterable<[Tensor, Tensor]>)[Symbol.asyncIterator] === 'function') {
    yield* data as AsyncIterable<[Tensor, Tensor]>;
  } else {
    throw new TypeError('fit: train and validation must be iterables of [input, target] batches (e.g. a DataLoader)');
  }
}

function checkBatch(batch: unknown, where: string): [Tensor, Tensor] {
  if (!Array.isArray(batch) || !(batch[0] instanceof Tensor) || !(batch[1] instanceof Tensor)) {
    throw new TypeError(`fit: ${where} must yield [input, target] pairs of Tensors`);
  }
  return batch as [Tensor, Tensor];
}

function forward(model: Trainable, x: Tensor): Tensor {
  const out = (model.forward as (x: Tensor) => unknown)(x);
  if (!(out instanceof Tensor)) throw new TypeError('fit: model.forward must return a Tensor');
  return out;
}

export async function fit(model: Trainable, options: FitOptions): Promise<History> {
  const { train, validation, epochs, optimizer, scheduler, signal, onBatchEnd, onEpochEnd, initialEpoch = 0 } = options;
  if (!Number.isInteger(epochs) || epochs < 0)
    throw new RangeError(`fit: epochs must be a non-negative integer, got ${String(epochs)}`);
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0)
    throw new RangeError(`fit: initialEpoch must be a non-negative integer, got ${String(initialEpoch)}`);
  if (!optimizer || typeof optimizer.step !== 'function' || typeof optimizer.zeroGrad !== 'function') {
    throw new TypeError('fit: optimizer must have step() and zeroGrad()');
  }
  const lossFn = asLossFn(options.loss);
  const segments = options.checkpointSegments;
  if (segments !== undefined) {
    if (!(model instanceof Sequential)) {
      throw new TypeError('fit: checkpointSegments needs an nn.Sequential model (its modules run in segments)');
    }
    const { checkpointSegments, ...rest } = options;
    return withCheckpointSegments(model, checkpointSegments!, () => fit(model, rest));
  }
  const trainMetrics = createMetrics(options.metrics ?? []);
  const history: History = { epochs: [], aborted: false };
  const trainLength = (train as unknown as { length?: unknown }).length;
  const batchesPerEpoch = typeof trainLength === 'number' ? trainLength : undefined;

  for (let epoch = initialEpoch + 1; epoch <= epochs; epoch++) {
    if (signal?.aborted) {
      history.aborted = true;
      break;
    }
    const started = performance.now();
    const lr = optimizer.paramGroups?.[0]?.lr;
    model.train(true);
    resetPeakMemoryStats();
    for (const m of trainMetrics) m.reset();
    let lossSum = 0;
    let samples = 0;
    let batch = 0;
    for await (const item of batchesOf(train)) {
      const [x, y] = checkBatch(item, 'train');
      batch++;
      optimizer.zeroGrad();
      const output = forward(model, x);
      const loss = lossFn(output, y);
      const value = loss.item();
      if (!Number.isFinite(value)) {
        throw new Error(
          `fit: the loss is ${value} at epoch ${epoch}, batch ${batch}; training stopped before applying that batch (lower the learning rate, or check the data)`,
        );
      }
      // Forward, backward and the update each run in their own turn of the event loop, so
      // the longest stretch a server waits is a third of a batch, not a whole one.
      await nextTick();
      loss.backward();
      await nextTick();
      optimizer.step();
      const n = x.shape[0];
      lossSum += value * n;
      samples += n;
      for (const m of trainMetrics) m.update(output, y);
      if (onBatchEnd)
        await onBatchEnd({
          epoch,
          batch,
          batches: batchesPerEpoch,
          loss: value,
          runningLoss: lossSum / samples,
          samples,
          peakSavedBytes: memoryStats().peakSavedBytes,
        });
      await nextTick();
      if (signal?.aborted) {
        history.aborted = true;
        break;
      }
    }
    if (history.aborted) break;

    const logs: EpochLogs = {
      epoch,
      loss: samples > 0 ? lossSum / samples : NaN,
      samples,
      seconds: 0,
      peakSavedBytes: memoryStats().peakSavedBytes,
    };
    if (lr !== undefined) logs.lr = lr;
    for (const m of trainMetrics) logs[m.name] = m.compute();
    if (validation) {
      const v = await evaluate(model, validation, { loss: options.loss, metrics: trainMetrics });
      logs.valLoss = v.loss;
      for (const m of trainMetrics) logs[`val${m.name[0].toUpperCase()}${m.name.slice(1)}`] = v[m.name];
    }
    if (scheduler) {
      if ('mode' in scheduler) scheduler.step(logs.valLoss ?? logs.loss);
      else scheduler.step();
    }
    logs.seconds = (performance.now() - started) / 1000;
    history.epochs.push(logs);
    if (onEpochEnd) await onEpochEnd(logs);
  }
  model.train(true);
  return history;
}

export interface EvaluateOptions {
  loss?: LossFunction;
  metrics?: readonly MetricSpec[] | readonly Metric[];
}

/**
 * Runs the model in eval mode without recording gradients over the data; returns the mean loss
 * (when a loss is given), the metrics by name and the sample count. Restores the model's mode.
 */
export async function evaluate(
  model: Trainable,
  data: Batches,
  options: EvaluateOptions = {},
): Promise<{ loss: number; samples: number; [metric: string]: number }> {
  const lossFn = options.loss ? asLossFn(options.loss) : undefined;
  const metrics = createMetrics(options.metrics ?? []);
  const wasTraining = model.training;
  model.eval();
  for (const m of metrics) m.reset();
  let lossSum = 0;
  let samples = 0;
  try {
    for await (const item of batchesOf(data)) {
      const [x, y] = checkBatch(item, 'validation');
      noGrad(() => {
        const output = forward(model, x);
        if (lossFn) lossSum += lossFn(output, y).item() * x.shape[0];
        for (const m of metrics) m.update(output, y);
      });
      samples += x.shape[0];
      await nextTick();
    }
  } finally {
    model.train(wasTraining);
  }
  const result: { loss: number; samples: number; [metric: string]: number } = {
    loss: lossFn && samples > 0 ? lossSum / samples : NaN,
    samples,
  };
  for (const m of metrics) result[m.name] = m.compute();
  return result;
}
