// Checks of the Tensor constructor, kept out of tensor.ts: the data array must hold exactly as
// many elements as the shape says (ops read shape-many elements, so a short array would be read
// past its end as zeros or undefined, and a long one would be silently truncated).
import type { FloatArray } from './backend/types.js';

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
