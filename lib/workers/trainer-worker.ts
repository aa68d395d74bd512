// The background trainer's worker thread: loads the user's job module, lets it build model, data
// and optimizer, runs fit() on them and reports to the caller (lib/workers/trainer.ts). The
// caller's stop() aborts fit's signal, so training stops after a whole batch; the final state
// (and a checkpoint file, when asked) follows.
import { parentPort, workerData } from 'node:worker_threads';
import { fit, type FitOptions, type Trainable } from '../train/fit.js';
import { saveCheckpoint, type Stateful } from '../io/checkpoint.js';
import { Tensor } from '../tensor.js';
import { packStateDict, packValue, transferListOf } from './transfer.js';
import type { TrainerCommand, TrainerMessage, TrainerWorkerData } from './protocol.js';
import { errorInfo } from './protocol.js';

/** What a job module's default export returns: fit's options plus the model. */
export type TrainerJob = Omit<FitOptions, 'signal'> & { model: Trainable & Stateful };

const port = parentPort!;
const data = workerData as TrainerWorkerData;

function post(message: TrainerMessage): void {
  port.postMessage(message, transferListOf(message));
}

function stateDictOf(model: Stateful): Record<string, Tensor> {
  const sd = model.stateDict();
  if (sd === null || typeof sd !== 'object') throw new TypeError('trainer: model.stateDict() must return an object');
  for (const [k, v] of Object.entries(sd)) {
    if (!(v instanceof Tensor)) throw new TypeError(`trainer: model.stateDict()['${k}'] is not a Tensor`);
  }
  return sd as Record<string, Tensor>;
}

const controller = new AbortController();
let publishRequested = false;
function onCommand(command: TrainerCommand): void {
  if (command.type === 'stop') controller.abort();
  else if (command.type === 'publish') publishRequested = true;
}

async function run(): Promise<void> {
  const mod = (await import(data.jobUrl)) as { default?: unknown; setup?: unknown };
  const setup = mod.default ?? mod.setup;
  if (typeof setup !== 'function')
    throw new TypeError(
      `trainer: ${data.jobUrl} must export a default function (args) => { model, train, optimizer, loss, epochs }`,
    );
  const job = (await (setup as (args: unknown) => unknown)(data.args)) as TrainerJob;
  if (job === null || typeof job !== 'object' || !job.model || typeof job.model.stateDict !== 'function')
    throw new TypeError(
      'trainer: the job must return { model, train, optimizer, loss, epochs, ... } with an nn.Module model',
    );
  const { model } = job;

  if (data.stopped) controller.abort();
  port.on('message', onCommand);

  let version = 0;
  let step = 0;
  let epoch = job.initialEpoch ?? 0;
  const publish = (): void => {
    publishRequested = false;
    version++;
    post({ type: 'weights', version, epoch, step, stateDict: packStateDict(stateDictOf(model)) });
  };
  let parameters = 0;
  for (const t of Object.values(stateDictOf(model))) parameters += t.numel();
  post({ type: 'ready', parameters });
  if (data.publishEvery > 0) publish();

  let epochStarted = performance.now();
  const history = await fit(model, {
    ...job,
    signal: controller.signal,
    onBatchEnd: async (logs) => {
      if (logs.batch === 1) epochStarted = performance.now();
      step++;
      epoch = logs.epoch - 1;
      if (job.onBatchEnd) await job.onBatchEnd(logs);
      const seconds = (performance.now() - epochStarted) / 1000;
      if (step % data.progressEvery === 0 || logs.batch === logs.batches)
        post({
          type: 'batch',
          progress: { ...logs, step, samplesPerSecond: seconds > 0 ? logs.samples / seconds : 0 },
        });
      if (publishRequested || (data.publishEvery > 0 && step % data.publishEvery === 0)) publish();
    },
    onEpochEnd: async (logs) => {
      epoch = logs.epoch;
      if (job.onEpochEnd) await job.onEpochEnd(logs);
      post({ type: 'epoch', logs });
    },
  });
  epoch = (job.initialEpoch ?? 0) + history.epochs.length;
  // The last version of the weights, so a reader of live weights ends on the final ones.
  if (data.publishEvery > 0 || publishRequested) publish();
  if (data.checkpoint !== null) {
    const optimizer = job.optimizer as unknown as Partial<Stateful>;
    const scheduler = job.scheduler as unknown as Partial<Stateful> | undefined;
    saveCheckpoint(data.checkpoint, {
      model,
      optimizer: typeof optimizer.stateDict === 'function' ? (optimizer as Stateful) : undefined,
      scheduler: scheduler && typeof scheduler.stateDict === 'function' ? (scheduler as Stateful) : undefined,
      epoch,
    });
  }
  const optimizer = job.optimizer as unknown as Partial<Stateful>;
  post({
    type: 'done',
    history,
    stateDict: packStateDict(stateDictOf(model)),
    optimizerState: typeof optimizer.stateDict === 'function' ? packValue(optimizer.stateDict()) : null,
    epoch,
    step,
    checkpoint: data.checkpoint,
  });
  port.off('message', onCommand); // let the thread end
}

run().catch((e: unknown) => {
  post({ type: 'error', error: errorInfo(e) });
  port.off('message', onCommand);
});
