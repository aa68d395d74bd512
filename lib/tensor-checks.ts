// Checks of the Tensor constructor and the creation functions, kept out of tensor.ts: the data
// array must hold exactly as many elements as the shape says (ops read shape-many elements, so a
// short array would be read past its end, and a long one silently truncated), and a creation
// too large to allocate names the op and the bytes instead of V8's "Invalid typed array length".
import type { DType, TensorData } from './dtype.js';

/**
 * The storage of a graph edge: a tensor that stands for a non-leaf input in a node without keeping
 * its values (ops/rnn.ts edgeOf), so it holds no data whatever its shape.
 */
export const EDGE_STORAGE = new Float64Array(0);

export function checkDataLength(data: TensorData, shape: readonly number[]): void {
  if (data === EDGE_STORAGE) return;
  let n = 1;
  for (let i = 0; i < shape.length; i++) n *= shape[i];
  if (n !== data.length) {
    throw new RangeError(
      `Tensor: shape [${shape.join(', ')}] holds ${n} elements but data has ${data.length}; pass data of exactly that length (or reshape)`,
    );
  }
}

/** Largest tensor the creation functions allocate: 2^32 bytes (V8's typed-array limit on 64-bit). */
const MAX_BYTES = 2 ** 32;

/** Throws a RangeError naming `op` and the bytes when n elements of `itemsize` bytes are too many. */
export function checkAllocation(op: string, dtype: DType, n: number, itemsize: number): void {
  const bytes = n * itemsize;
  if (bytes > MAX_BYTES)
    throw new RangeError(
      `${op}: ${n} elements of ${dtype} would need ${bytes} bytes, more than the limit of ${MAX_BYTES} bytes for one tensor`,
    );
}
