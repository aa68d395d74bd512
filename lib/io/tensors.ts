// io.save / io.load: named Tensors in a safetensors file, loadable by PyTorch's safetensors.
import { Tensor } from '../tensor.js';
import {
  readSafetensors,
  readSafetensorsAsync,
  writeSafetensors,
  writeSafetensorsAsync,
  type DecodedFile,
} from './safetensors.js';
import { checkPath } from './read-file.js';

export interface Loaded {
  tensors: Record<string, Tensor>;
  /** The file's string metadata (`__metadata__`), {} when absent. */
  metadata: Record<string, string>;
}

/**
 * Writes tensors (e.g. `model.stateDict()`) and optional string metadata to `path` in the
 * safetensors format, atomically: a temporary file in the same folder, fsync, rename.
 */
export function save(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  checkPath('io.save', path);
  writeSafetensors(path, checkTensors(path, tensors), metadata);
}

/**
 * save() without blocking the event loop on writes and fsync (for servers). The values are
 * taken at the call: training may go on while the file is written.
 */
export async function saveAsync(
  path: string,
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  checkPath('io.saveAsync', path);
  await writeSafetensorsAsync(path, checkTensors(path, tensors), metadata);
}

/** Reads a safetensors file (F32, F64, BF16, F16, BOOL: each to its dtype). */
export function load(path: string): Loaded {
  return toTensors(readSafetensors(path));
}

/** load() reading the file without blocking the event loop. */
export async function loadAsync(path: string): Promise<Loaded> {
  return toTensors(await readSafetensorsAsync(path));
}

function checkTensors(path: string, tensors: Record<string, Tensor>): Record<string, Tensor> {
  if (typeof tensors !== 'object' || tensors === null)
    throw new TypeError(`io.save(${path}): tensors must be a Record<string, Tensor>`);
  for (const [name, t] of Object.entries(tensors)) {
    if (!(t instanceof Tensor)) throw new TypeError(`io.save(${path}): '${name}' is not a Tensor`);
  }
  return tensors;
}

function toTensors(file: DecodedFile): Loaded {
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(file.tensors)) {
    // defineProperty: a tensor named '__proto__' is an own entry, not the object's prototype.
    const value = new Tensor(t.data, t.shape, false, t.dtype);
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return { tensors: out, metadata: file.metadata };
}
