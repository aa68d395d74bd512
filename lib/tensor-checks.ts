// Checks of the Tensor constructor, kept out of tensor.ts: the data array must hold exactly as
// many elements as the shape says (ops read shape-many elements, so a short array would be read
// past its end as zeros or undefined, and a long one would be silently truncated).
import type { DType, FloatArray } from './backend/types.js';

export function checkDataLength(data: FloatArray, shape: readonly number[]): void {
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  if (n !== data.length) {
    if (!(data instanceof Float32Array || data instanceof Float64Array))
      throw new TypeError(`Tensor: data must be a Float32Array or Float64Array`);
    throw new RangeError(
      `Tensor: shape [${shape.join(', ')}] holds ${n} elements but data has ${data.length}; pass data of exactly that length (or reshape)`,
    );
  }
}

/** Largest tensor the creation functions allocate: 2^32 bytes (V8's typed-array limit on 64-bit). */
const MAX_BYTES = 2 ** 32;

/**
 * A zeroed float array of n elements for creation function `op`, or a RangeError naming the op
 * and the bytes (instead of V8's bare "Invalid typed array length").
 */
export function allocFloats(op: string, dtype: DType, n: number): FloatArray {
  const bytes = n * (dtype === 'float64' ? 8 : 4);
  const fail = (why: string): never => {
    throw new RangeError(`${op}: ${n} elements of ${dtype} would need ${bytes} bytes, ${why}`);
  };
  if (bytes > MAX_BYTES) fail(`more than the limit of ${MAX_BYTES} bytes for one tensor`);
  try {
    return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  } catch (e) {
    return fail(`which could not be allocated (${(e as Error).message})`);
  }
}
