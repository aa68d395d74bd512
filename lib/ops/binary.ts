// Elementwise binary ops with NumPy broadcasting: tensor (op) tensor through the `binary` kernel,
// tensor (op) number and number (op) tensor through `binaryScalar`. Each op of BINARY_OPS is
// declared once in BINARY_RULES: its gradients in Tensor ops for both operands and for both
// scalar forms, or null for the comparisons (no gradient). None has a fused backward.

import { kernels } from '../backend/index.js';
import { BINARY_OPS, BinaryOp, type BinaryName } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp, type OpDef } from './registry.js';
import {
  allocOut,
  broadcastShapes,
  checkSameDtype,
  checkTensor,
  describe,
  floatData,
  numel,
  record,
  sameShape,
  type TensorLike,
} from './util.js';
import { sumToShape } from './reduce.js';

/** Gradients of one binary op, before broadcasting is summed away. */
interface BinaryRules {
  /** d(a op b)/da, times g. */
  left(g: Tensor, a: Tensor, b: Tensor): Tensor;
  /** d(a op b)/db, times g. */
  right(g: Tensor, a: Tensor, b: Tensor): Tensor;
  /** d(a op s)/da, times g. */
  tensorScalar(g: Tensor, a: Tensor, s: number): Tensor;
  /** d(s op b)/db, times g. */
  scalarTensor(g: Tensor, s: number, b: Tensor): Tensor;
}

/** maximum/minimum: the winner takes the gradient; ties split it evenly, as torch does. */
function extremumRules(max: boolean): BinaryRules {
  const share = (a: Tensor, b: TensorLike): Tensor => (max ? a.gt(b) : a.lt(b)).add(a.eq(b).mul(0.5));
  return {
    left: (g, a, b) => g.mul(share(a, b)),
    right: (g, a, b) => g.mul(share(a, b).rsub(1)),
    tensorScalar: (g, a, s) => g.mul(share(a, s)),
    scalarTensor: (g, s, b) => g.mul(share(b, s)),
  };
}

const BINARY_RULES: { readonly [K in BinaryName]: BinaryRules | null } = {
  add: { left: (g) => g, right: (g) => g, tensorScalar: (g) => g, scalarTensor: (g) => g },
  sub: { left: (g) => g, right: (g) => g.neg(), tensorScalar: (g) => g, scalarTensor: (g) => g.neg() },
  mul: {
    left: (g, _a, b) => g.mul(b),
    right: (g, a) => g.mul(a),
    tensorScalar: (g, _a, s) => g.mul(s),
    scalarTensor: (g, s) => g.mul(s),
  },
  div: {
    left: (g, _a, b) => g.div(b),
    right: (g, a, b) => g.mul(a).div(b.mul(b)).neg(),
    tensorScalar: (g, _a, s) => g.div(s),
    scalarTensor: (g, s, b) => g.div(b.mul(b)).mul(-s), // d(s/b)/db = -s / b^2
  },
  pow: {
    left: (g, a, b) => g.mul(b).mul(a.pow(b.sub(1))),
    // d(a^b)/db = a^b log a, taken as 0 where a = 0 (as torch does) instead of 0 * -inf.
    right: (g, a, b) => g.mul(a.pow(b)).mul(a.add(a.eq(0)).log()),
    tensorScalar: (g, a, s) => (s === 2 ? g.mul(a).mul(2) : s === 1 ? g : g.mul(a.pow(s - 1)).mul(s)),
    scalarTensor: (g, s, b) => g.mul(binary(BinaryOp.pow, s, b)).mul(Math.log(s)),
  },
  maximum: extremumRules(true),
  minimum: extremumRules(false),
  gt: null,
  lt: null,
  ge: null,
  le: null,
  eq: null,
};

/** The tensor-tensor op and the scalar op of each binary op, in code order. */
const tensorOps: OpDef<null>[] = [];
const scalarOps: OpDef<ScalarSaved>[] = [];

interface ScalarSaved {
  s: number;
  /** Whether the scalar is the left operand (s - x, s / x, s ** x). */
  first: boolean;
}

for (const name of BINARY_OPS) {
  const rules = BINARY_RULES[name];
  tensorOps.push(
    defineOp<null>({
      name,
      kernels: ['binary'],
      code: BinaryOp[name],
      arity: 2,
      rule:
        rules === null
          ? null
          : (g, node) => {
              const [a, b] = node.inputs;
              return [
                a.requiresGrad ? sumToShape(rules.left(g, a, b), a.shape) : null,
                b.requiresGrad ? sumToShape(rules.right(g, a, b), b.shape) : null,
              ];
            },
    }),
  );
  scalarOps.push(
    defineOp<ScalarSaved>({
      id: `${name}Scalar`,
      name,
      kernels: ['binaryScalar'],
      code: BinaryOp[name],
      arity: 1,
      rule:
        rules === null
          ? null
          : (g: Tensor, node: Node<ScalarSaved>): Grads => {
              const { s, first } = node.saved;
              const a = node.inputs[0];
              return [first ? rules.scalarTensor(g, s, a) : rules.tensorScalar(g, a, s)];
            },
    }),
  );
}

/** a (op) b where either may be a number; broadcasting as NumPy. */
export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (a instanceof Tensor) {
    if (b instanceof Tensor) return binaryTensors(op, a, b);
    if (typeof b === 'number') return binaryScalar(op, a, b, false);
  } else if (typeof a === 'number' && b instanceof Tensor) {
    return binaryScalar(op, b, a, true);
  }
  throw new TypeError(`${BINARY_OPS[op]}: operands must be Tensors or numbers, got ${describe(a)} and ${describe(b)}`);
}

function binaryTensors(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const def = tensorOps[op];
  checkSameDtype(def.name, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(def.name, a.shape, b.shape);
  const out = new Tensor(allocOut(floatData(a), numel(shape)), shape);
  kernels().binary(op, floatData(a), a.shape, floatData(b), b.shape, floatData(out));
  return record(out, def, [a, b], null);
}

export function binaryScalar(op: BinaryOp, a: Tensor, s: number, scalarFirst: boolean): Tensor {
  const def = scalarOps[op];
  checkTensor(BINARY_OPS[op], 'input', a);
  const out = new Tensor(allocOut(a.data, a.data.length), a.shape);
  kernels().binaryScalar(op, a.data, s, floatData(out), scalarFirst);
  return record<ScalarSaved>(out, def, [a], { s, first: scalarFirst });
}

// ---------------------------------------------------------------------------------------------
// Functional forms (also used by the Tensor methods)

export const add = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.add, a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.sub, a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.mul, a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.div, a, b);
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.pow, a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.maximum, a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.minimum, a, b);
