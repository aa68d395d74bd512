// A predictor's worker (a piscina task module): builds the model once, loads a weights version
// when a task brings a newer one, and runs batches in eval mode without recording gradients.
import { workerData } from 'node:worker_threads';
import { noGrad } from '../autograd/mode.js';
import { Tensor } from '../tensor.js';
import { backend } from '../backend/index.js';
import type { Module } from '../nn/module.js';
import { packTensor, unpackStateDict, unpackTensor, type PackedTensor } from './transfer.js';
import type { PredictorWorkerData, PredictTask } from './protocol.js';

const data = workerData as PredictorWorkerData;
backend.setNumThreads(data.threads);

let model: Module | null = null;
let version = -1;

async function build(): Promise<Module> {
  let make: unknown;
  if ('url' in data.builder) {
    const mod = (await import(data.builder.url)) as { default?: unknown; buildModel?: unknown };
    make = mod.default ?? mod.buildModel;
  } else {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the caller's self-contained builder, by contract
    make = (new Function(`return (${data.builder.source});`) as () => unknown)();
  }
  if (typeof make !== 'function') throw new TypeError('predictor: the model builder is not a function');
  const lib: unknown = await import('../index.js');
  const m = (await (make as (lib: unknown, args: unknown) => unknown)(lib, data.args)) as Module;
  if (m === null || typeof m !== 'object' || typeof m.forward !== 'function' || typeof m.loadStateDict !== 'function')
    throw new TypeError('predictor: the model builder must return an nn.Module');
  m.eval();
  return m;
}

export default async function predict(task: PredictTask): Promise<PackedTensor> {
  model ??= await build();
  if (task.version !== version) {
    model.loadStateDict(unpackStateDict(task.weights)); // copies out of the shared buffer
    version = task.version;
  }
  const m = model;
  const x = unpackTensor(task.x);
  const out: unknown = noGrad(() => m.forward(x));
  if (!(out instanceof Tensor)) throw new TypeError('predictor: model.forward must return a Tensor');
  return packTensor(out);
}
