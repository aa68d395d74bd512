// The `out` option of matmul and linear (torch's out=): the result is written into a tensor the
// caller owns, so a loop that reuses it allocates nothing and touches no fresh page per call.

import type { Tensor } from '../tensor.js';
import { isGradEnabled } from '../autograd/mode.js';
import { checkTensor, shapeStr } from './util.js';

/** Options of ops that can write their result into a given tensor. */
export interface OutOptions {
  /** The tensor to write into: its shape and dtype must be the result's; it is returned. */
  out?: Tensor | null;
}

/**
 * Checks `out` against the result's shape and dtype and the inputs, and returns its storage.
 * As in torch, an op that autograd would record cannot write into out (the result would have
 * no history), and out must not share storage with an input (the product reads its inputs while
 * writing the output).
 */
export function outStorage(op: string, out: unknown, shape: readonly number[], inputs: readonly Tensor[]): Tensor {
  checkTensor(op, 'out', out);
  const dtype = inputs[0].dtype;
  if (out.dtype !== dtype) throw new TypeError(`${op}: out has dtype ${out.dtype}, expected ${dtype}`);
  if (out.shape.length !== shape.length || out.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: out has shape ${shapeStr(out.shape)}, expected ${shapeStr(shape)}`);
  }
  if (isGradEnabled() && (out.requiresGrad || inputs.some((t) => t.requiresGrad))) {
    throw new Error(
      `${op}: out= does not support automatic differentiation (an argument requires grad); call it under noGrad or without out`,
    );
  }
  const o = out.data;
  for (const t of inputs) {
    const d = t.data;
    if (
      d.buffer === o.buffer &&
      d.byteOffset < o.byteOffset + o.byteLength &&
      o.byteOffset < d.byteOffset + d.byteLength
    ) {
      throw new Error(`${op}: out shares storage with an input (shape ${shapeStr(t.shape)})`);
    }
  }
  return out;
}
