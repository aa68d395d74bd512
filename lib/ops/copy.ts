// Copies: clone and dtype conversion (both differentiable between floating-point dtypes).

import { DTYPES, allocStorage, convertStorage, dtypeList, isDType, isKernelDType, type DType } from '../dtype.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import { alloc, checkAnyTensor, record, showValue } from './util.js';

export function clone(x: Tensor): Tensor {
  checkAnyTensor('clone', 'input', x);
  return record(new Tensor(x.data.slice(), x.shape, false, x.dtype), cloneOp, [x], null);
}

function cloneBackward(g: Tensor): Grads {
  return [g];
}

const ALL_DTYPES = Object.keys(DTYPES) as DType[];

const cloneOp = defineOp<null>({ name: 'clone', kernels: [], arity: 1, dtypes: ALL_DTYPES, rule: cloneBackward });

/**
 * x in another dtype (x itself when it has it already), rounded as PyTorch rounds: to nearest
 * even, through float32 from float64 to the 16-bit floats, "not zero" to bool. Differentiable
 * between floating-point dtypes (the gradient is converted back); a bool result records nothing.
 */
export function toDtype(x: Tensor, dtype: DType): Tensor {
  checkAnyTensor('to', 'input', x);
  if (!isDType(dtype)) throw new TypeError(`to: dtype must be one of ${dtypeList()}, got ${showValue(dtype)}`);
  if (x.dtype === dtype) return x;
  const data = isKernelDType(dtype) ? alloc(dtype, x.data.length) : allocStorage(dtype, x.data.length);
  convertStorage(x.data, x.dtype, data, dtype);
  const out = new Tensor(data, x.shape, false, dtype);
  return DTYPES[dtype].kind === 'float' ? record(out, toOp, [x], null) : out;
}

function toBackward(g: Tensor, node: Node<null>): Grads {
  return [toDtype(g, node.inputs[0].dtype)];
}

const toOp = defineOp<null>({ name: 'to', kernels: [], arity: 1, dtypes: ALL_DTYPES, rule: toBackward });
