// Helpers for the tensor/autograd tests: seeded float64 inputs and the list of backends to run on.

import { Tensor, backend, grad } from '../../lib/index.js';
import { Rng } from './random.js';

export { backendsHere } from './native.js';
export type { BackendName } from '../../lib/backend/index.js';

/** A float64 leaf with requiresGrad, values normal (or uniform in [lo, hi)), kept at least `away` from 0. */
export function leaf(
  rng: Rng,
  shape: number[],
  opts: { lo?: number; hi?: number; away?: number; dtype?: 'float32' | 'float64'; requiresGrad?: boolean } = {},
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = opts.dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = opts.lo === undefined ? rng.normal() : rng.uniform(opts.lo, opts.hi ?? 1);
    if (opts.away !== undefined && Math.abs(v) < opts.away) v = v < 0 ? v - opts.away : v + opts.away;
    data[i] = v;
  }
  return new Tensor(data, shape, opts.requiresGrad ?? true);
}

/** Runs `run` on the js backend, then on native (left selected): the reference and the result to compare. */
export function onJsThenNative<T>(run: () => T): { ref: T; got: T } {
  backend.use('js');
  const ref = run();
  backend.use('native');
  const got = run();
  return { ref, got };
}

/** y and the gradients of `inputs` for the float32 upstream gradient sin(i) at element i (no two alike). */
export function outputAndGrads(y: Tensor, inputs: Tensor[]): Tensor[] {
  const gy = new Tensor(
    Float32Array.from(y.data, (_, i) => Math.sin(i)),
    y.shape,
  );
  return [y, ...grad(y, inputs, { gradOutputs: [gy] })];
}
