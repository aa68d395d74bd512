// Output buffers for kernels that overwrite every element: allocated without the zero fill that
// `new Float32Array(n)` performs, which is most of the cost of a large allocation (a 1.2 MB
// array: ~160 µs zero-filled, ~25 µs not, measured on the CI machine). Small arrays keep the
// ordinary path, where the fill costs nothing.

import type { FloatArray } from '../backend/types.js';

const UNINIT_MIN_BYTES = 1 << 16;

/** n elements of like's dtype with unspecified contents; the caller must write all of them. */
export function allocOutput(like: FloatArray, n: number): FloatArray {
  const f64 = like instanceof Float64Array;
  const bytes = n * (f64 ? 8 : 4);
  if (bytes < UNINIT_MIN_BYTES) return f64 ? new Float64Array(n) : new Float32Array(n);
  // allocUnsafeSlow: an ArrayBuffer of its own (never a slice of Buffer's shared pool), so the
  // view starts at offset 0, aligned, and keeps nothing else alive.
  const buf = Buffer.allocUnsafeSlow(bytes).buffer;
  return f64 ? new Float64Array(buf, 0, n) : new Float32Array(buf, 0, n);
}

/** Int32 indices with unspecified contents, for kernels that write every one. */
export function allocIndices(n: number): Int32Array {
  if (n * 4 < UNINIT_MIN_BYTES) return new Int32Array(n);
  return new Int32Array(Buffer.allocUnsafeSlow(n * 4).buffer, 0, n);
}
