// Version counters of tensor storage, as torch's: every in-place write the library performs
// (optimizer steps, init, loadStateDict, Tensor.markModified_) bumps the counter of the storage it
// writes, and recording an op notes the versions (and the identity) of the storage its backward
// may read: the inputs' and the output's. backward() compares before running a node's rule and
// refuses with torch's message when a saved storage was written in place (or a tensor's `data`
// was replaced) since the op ran: the gradient would silently be computed from the new values.
//
// Counters live in a WeakMap keyed by the typed array (views made by reshape share the array, so
// share the counter; arrays that share a slab's ArrayBuffer are distinct storages). Until the
// first bump nothing is looked up, so a program without in-place writes pays one array per node.
import type { TensorData as FloatArray } from '../dtype.js';
import type { Tensor } from '../tensor.js';

const versions = new WeakMap<FloatArray, number>();
let anyBumped = false;

/** The storage's version: how many in-place writes it has seen. */
export function versionOf(data: FloatArray): number {
  return anyBumped ? (versions.get(data) ?? 0) : 0;
}

/** Records an in-place write of `data` (every view of it sees the new version). */
export function bumpVersion(data: FloatArray): void {
  anyBumped = true;
  versions.set(data, (versions.get(data) ?? 0) + 1);
}

/** What a node saved when its op was recorded: each storage its backward may read, and its version. */
export interface SavedVersions {
  data: FloatArray[];
  versions: number[];
}

/** Notes the storage of the inputs and the output of an op being recorded. */
export function saveVersions(inputs: readonly Tensor[], out: Tensor): SavedVersions {
  const n = inputs.length;
  const data = new Array<FloatArray>(n + 1);
  const vs = new Array<number>(n + 1);
  for (let i = 0; i < n; i++) {
    data[i] = inputs[i].data;
    vs[i] = versionOf(inputs[i].data);
  }
  data[n] = out.data;
  vs[n] = versionOf(out.data);
  return { data, versions: vs };
}

/**
 * Throws torch's error when a storage saved by the node of op `opName` changed: an input or the
 * output (`out`: its current data, when the caller still has the tensor) written in place, or an
 * input tensor's `data` replaced.
 */
export function checkVersions(opName: string, saved: SavedVersions, inputs: readonly Tensor[]): void {
  const n = saved.data.length - 1;
  for (let i = 0; i <= n; i++) {
    const d = saved.data[i];
    const what = i === n ? `the output of ${opName}` : `input ${i} of ${opName}`;
    if (i < n && i < inputs.length && inputs[i].data !== d) {
      throw new Error(
        `backward: one of the variables needed for gradient computation has been modified: the data array of ${what} was replaced after the op ran; copy it (clone()) or detach() first`,
      );
    }
    const now = versionOf(d);
    if (now !== saved.versions[i]) {
      throw new Error(
        `backward: one of the variables needed for gradient computation has been modified by an inplace operation: [${d instanceof Float64Array ? 'float64' : 'float32'} [${d.length}]], which is ${what}, is at version ${now}; expected version ${saved.versions[i]} instead`,
      );
    }
  }
}
