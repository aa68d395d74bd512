// Copies: clone and dtype conversion (both differentiable).

import type { DType } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import { alloc, checkTensor, record } from './util.js';

export function clone(x: Tensor): Tensor {
  checkTensor('clone', 'input', x);
  return record(new Tensor(x.data.slice(), x.shape), cloneOp, [x], null);
}

function cloneBackward(g: Tensor): Grads {
  return [g];
}

const cloneOp = defineOp<null>({ name: 'clone', kernels: [], arity: 1, rule: cloneBackward });

export function toDtype(x: Tensor, dtype: DType): Tensor {
  checkTensor('to', 'input', x);
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new TypeError(`to: dtype must be 'float32' or 'float64', got ${String(dtype)}`);
  }
  if (x.dtype === dtype) return x;
  const data = alloc(dtype, x.data.length);
  data.set(x.data);
  return record(new Tensor(data, x.shape), toOp, [x], null);
}

function toBackward(g: Tensor, node: Node<null>): Grads {
  return [toDtype(g, node.inputs[0].dtype)];
}

const toOp = defineOp<null>({ name: 'to', kernels: [], arity: 1, rule: toBackward });
