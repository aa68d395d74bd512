// Training checkpoints: model, optimizer and scheduler state, the epoch and the random
// generator's state in one safetensors file, so that a run restored from it continues exactly
// as if it had never stopped (same shuffles, same dropout masks, same updates).
//
// State dicts are nested objects mixing tensors and plain values (step counts, hyperparameters).
// Tensors (and float typed arrays) go into the file's tensors under their path in the object;
// the rest is JSON in the metadata, with {"$tensor": name} where a tensor was.
import { Tensor, tensor } from '../tensor.js';
import { getRngState, setRngState } from '../random.js';
import { readSafetensors, writeSafetensors, type DecodedTensor, type RawTensor } from './safetensors.js';
import { checkPath } from './read-file.js';

/** Anything with torch's stateDict/loadStateDict pair: modules, optimizers, schedulers. */
export interface Stateful {
  stateDict(): unknown;
  loadStateDict(state: never): unknown;
}

export interface CheckpointParts {
  model: Stateful;
  optimizer?: Stateful;
  scheduler?: Stateful;
}

export interface CheckpointInfo {
  /** Epochs completed when the checkpoint was written. */
  epoch: number;
  /** Extra string metadata given to saveCheckpoint. */
  extra: Record<string, string>;
}

const KEY = 'backprop.checkpoint';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function pack(value: unknown, path: string, tensors: Record<string, RawTensor>): Json {
  if (value instanceof Tensor) {
    tensors[path] = value;
    return { $tensor: path };
  }
  if (value instanceof Float32Array || value instanceof Float64Array) {
    tensors[path] = {
      dtype: value instanceof Float32Array ? 'float32' : 'float64',
      shape: [value.length],
      data: value,
    };
    return { $array: path };
  }
  if (value instanceof Int32Array) return { $int32: Array.from(value) };
  if (typeof value === 'number') {
    if (Number.isFinite(value) && !Object.is(value, -0)) return value;
    return { $number: Object.is(value, -0) ? '-0' : String(value) };
  }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v, i) => pack(v, `${path}.${i}`, tensors));
  if (typeof value === 'object') {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v !== undefined) out[k] = pack(v, `${path}.${k}`, tensors);
    }
    return out;
  }
  throw new TypeError(`saveCheckpoint: cannot store ${typeof value} at ${path}`);
}

function unpack(value: Json, tensors: Record<string, DecodedTensor>, file: string): unknown {
  if (Array.isArray(value)) return value.map((v) => unpack(v, tensors, file));
  if (value === null || typeof value !== 'object') return value;
  if (typeof value.$tensor === 'string' || typeof value.$array === 'string') {
    const name = (value.$tensor ?? value.$array) as string;
    const t = tensors[name];
    if (!t) throw new Error(`loadCheckpoint: ${file} lacks tensor '${name}' named in its metadata`);
    return typeof value.$tensor === 'string' ? tensor(t.data, { dtype: t.dtype, shape: t.shape }) : t.data;
  }
  if (Array.isArray(value.$int32)) return Int32Array.from(value.$int32 as number[]);
  if (typeof value.$number === 'string') return value.$number === '-0' ? -0 : Number(value.$number);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = unpack(v, tensors, file);
  return out;
}

/** A deep copy of a state dict (tensors and arrays copied), to restore it after a failed load. */
function snapshot(value: unknown): unknown {
  if (value instanceof Tensor) return new Tensor(value.data.slice(), value.shape.slice());
  if (value instanceof Float32Array || value instanceof Float64Array || value instanceof Int32Array)
    return value.slice();
  if (Array.isArray(value)) return value.map(snapshot);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = snapshot(v);
    return out;
  }
  return value;
}

/** Saves model, optimizer and scheduler state, the epoch count and the RNG state, atomically. */
export function saveCheckpoint(
  path: string,
  parts: CheckpointParts & { epoch: number; extra?: Record<string, string> },
): void {
  checkPath('saveCheckpoint', path);
  if (parts === null || typeof parts !== 'object' || parts.model == null)
    throw new TypeError('saveCheckpoint: parts must be { model, optimizer?, scheduler?, epoch }');
  if (!Number.isInteger(parts.epoch) || parts.epoch < 0)
    throw new RangeError(`saveCheckpoint: epoch must be a non-negative integer, got ${parts.epoch}`);
  const tensors: Record<string, RawTensor> = {};
  const record = {
    version: 1,
    epoch: parts.epoch,
    rng: getRngState(),
    model: pack(parts.model.stateDict(), 'model', tensors),
    optimizer: parts.optimizer ? pack(parts.optimizer.stateDict(), 'optimizer', tensors) : null,
    scheduler: parts.scheduler ? pack(parts.scheduler.stateDict(), 'scheduler', tensors) : null,
  };
  writeSafetensors(path, tensors, { ...parts.extra, [KEY]: JSON.stringify(record) });
}

/**
 * Restores a checkpoint into the given (freshly built) objects and the random generator;
 * returns the epoch count and extra metadata. Call it after building the objects, since building
 * them draws from the generator.
 */
export function loadCheckpoint(path: string, parts: CheckpointParts): CheckpointInfo {
  checkPath('loadCheckpoint', path);
  if (parts === null || typeof parts !== 'object' || parts.model == null)
    throw new TypeError('loadCheckpoint: parts must be { model, optimizer?, scheduler? }');
  const { tensors, metadata } = readSafetensors(path);
  const text = metadata[KEY];
  if (text === undefined)
    throw new Error(
      `loadCheckpoint: ${path} is a safetensors file but not a backprop checkpoint (no '${KEY}' metadata)`,
    );
  let record: { version: number; epoch: number; rng: number[]; model: Json; optimizer: Json; scheduler: Json };
  try {
    record = JSON.parse(text) as typeof record;
  } catch (e) {
    throw new Error(`loadCheckpoint: ${path} has corrupt checkpoint metadata (${(e as Error).message})`, { cause: e });
  }
  if (record.version !== 1)
    throw new Error(`loadCheckpoint: ${path} has unknown checkpoint version ${String(record.version)}`);
  if (parts.optimizer && record.optimizer === null) throw new Error(`loadCheckpoint: ${path} holds no optimizer state`);
  if (parts.scheduler && record.scheduler === null) throw new Error(`loadCheckpoint: ${path} holds no scheduler state`);
  if (typeof record.epoch !== 'number' || !Number.isInteger(record.epoch) || record.epoch < 0)
    throw new Error(
      `loadCheckpoint: ${path} has an invalid epoch ${JSON.stringify(record.epoch)} (a non-negative integer is needed)`,
    );
  if (!Array.isArray(record.rng) || record.rng.length !== 7 || !record.rng.every((v) => Number.isFinite(v)))
    throw new Error(`loadCheckpoint: ${path} has an invalid random generator state`);
  // All or nothing: unpack every part first (a missing tensor throws here, before any change),
  // then load them in order; when one refuses its state, the parts already loaded get their
  // previous state back, so the objects are as they were before the call.
  const states = {
    model: unpack(record.model, tensors, path),
    optimizer: parts.optimizer ? unpack(record.optimizer, tensors, path) : null,
    scheduler: parts.scheduler ? unpack(record.scheduler, tensors, path) : null,
  };
  const order = (['model', 'optimizer', 'scheduler'] as const).filter((k) => parts[k] !== undefined);
  const backups = order.map((k) => snapshot(parts[k]!.stateDict()));
  let loaded = 0;
  try {
    for (const k of order) {
      parts[k]!.loadStateDict(states[k] as never);
      loaded++;
    }
  } catch (e) {
    for (let i = 0; i <= Math.min(loaded, order.length - 1); i++) {
      try {
        parts[order[i]]!.loadStateDict(backups[i] as never);
      } catch {
        // the backup is the object's own state: restoring it does not fail in practice
      }
    }
    throw new Error(
      `loadCheckpoint: ${path}: the ${order[loaded]} state was refused, nothing was changed: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  setRngState(record.rng);
  const extra = { ...metadata };
  delete extra[KEY];
  return { epoch: record.epoch, extra };
}
