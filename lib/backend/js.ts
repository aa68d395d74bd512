// The pure-TypeScript backend: the reference the native kernels are tested against, the fallback
// where the addon cannot load, and the baseline of the benchmarks. Plain loops, written to be read,
// one file per kernel family (js-*.ts); this file only assembles them. `jsBackend` is typed as the
// Backend interface, so a kernel missing from the families below is a compile error.
//
// Precision: JS arithmetic is float64; for Float32Array every value and running sum is rounded to
// float32 where it is stored (typed-array stores, or fround), so results accumulate in the array's
// own precision as the native kernels do.
//
// Arguments are checked by js-checks.ts, as the native bindings check them (TypeError for a wrong
// kind of value, RangeError for a wrong size, length, code or index).

import type { Backend, BackendInfo } from './types.js';
import { checkNumber } from './js-checks.js';
import { attentionKernels } from './js-attention.js';
import { binaryKernels } from './js-binary.js';
import { convKernels } from './js-conv.js';
import { sparseKernels } from './js-sparse.js';
import { gemmKernels } from './js-gemm.js';
import { movementKernels } from './js-movement.js';
import { optimKernels } from './js-optim.js';
import { reduceKernels } from './js-reduce.js';
import { rnnKernels } from './js-rnn.js';
import { softmaxKernels } from './js-softmax.js';
import { unaryKernels } from './js-unary.js';

function info(): BackendInfo {
  return { name: 'js', blas: 'js', simd: 'scalar', threads: 1 };
}

function setNumThreads(n: number): void {
  checkNumber('setNumThreads', 'n', n);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new RangeError(`setNumThreads: n must be an integer in [1, 256], got ${n}`);
  // The js backend is single-threaded; the count only matters to the native backend.
}

/** The pure-TypeScript backend. */
export const jsBackend: Backend = {
  name: 'js',
  info,
  setNumThreads,
  ...gemmKernels,
  ...unaryKernels,
  ...binaryKernels,
  ...reduceKernels,
  ...softmaxKernels,
  ...movementKernels,
  ...optimKernels,
  ...convKernels,
  ...rnnKernels,
  ...attentionKernels,
  ...sparseKernels,
};
