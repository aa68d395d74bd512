// Elementwise ops: unary functions and binary arithmetic with NumPy broadcasting.
// Forward: one backend kernel call. Backward: the rules below, written in Tensor ops; when no
// graph is being created (grad mode off during backward) unary rules use the fused
// unaryBackward kernel instead. test/ops-fused.test.ts compares the two (grad() without and
// with createGraph).

import { kernels } from '../backend/index.js';
import { BinaryOp, UnaryOp } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import { isGradEnabled } from '../autograd/mode.js';
import type { Grads, Node } from '../autograd/node.js';
import {
  allocLike, allocOut, broadcastShapes, checkSameDtype, checkTensor, describe, numel, record, sameShape,
  type TensorLike,
} from './util.js';
import { sumToShape } from './reduce.js';

// ---------------------------------------------------------------------------------------------
// Unary ops

const UNARY_NAMES: Record<number, string> = {
  [UnaryOp.relu]: 'relu',
  [UnaryOp.leakyRelu]: 'leakyRelu',
  [UnaryOp.sigmoid]: 'sigmoid',
  [UnaryOp.tanh]: 'tanh',
  [UnaryOp.gelu]: 'gelu',
  [UnaryOp.exp]: 'exp',
  [UnaryOp.log]: 'log',
  [UnaryOp.sqrt]: 'sqrt',
  [UnaryOp.abs]: 'abs',
  [UnaryOp.neg]: 'neg',
  [UnaryOp.sign]: 'sign',
};

interface UnarySaved {
  op: UnaryOp;
  alpha: number;
  /** The op's output (kept for rules written in terms of y, e.g. tanh: 1 - y^2). */
  y: Tensor;
}

/** y = f(x) for one of the backend's unary ops. */
export function unary(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  checkTensor(UNARY_NAMES[op] ?? 'unary', 'input', x);
  const y = new Tensor(allocOut(x.data, x.data.length), x.shape);
  kernels().unary(op, x.data, y.data, alpha, 0);
  if (op === UnaryOp.sign) return record(y, 'sign', noGradBackward, [], null);
  return record<UnarySaved>(y, UNARY_NAMES[op], unaryBackward, [x], { op, alpha, y });
}

function noGradBackward(): Grads {
  return [];
}

/** The composed rules: the gradient of x given g = dL/dy. */
const UNARY_RULES: Record<number, (g: Tensor, x: Tensor, y: Tensor, alpha: number) => Tensor> = {
  [UnaryOp.relu]: (g, x) => g.mul(x.gt(0)),
  [UnaryOp.leakyRelu]: (g, x, _y, alpha) => g.mul(x.gt(0).mul(1 - alpha).add(alpha)),
  [UnaryOp.sigmoid]: (g, _x, y) => g.mul(y.mul(y.rsub(1))),
  [UnaryOp.tanh]: (g, _x, y) => g.mul(y.mul(y).rsub(1)),
  [UnaryOp.gelu]: (g, x, y) => g.mul(geluDerivative(x, y)),
  [UnaryOp.exp]: (g, _x, y) => g.mul(y),
  [UnaryOp.log]: (g, x) => g.div(x),
  [UnaryOp.sqrt]: (g, _x, y) => g.div(y.mul(2)),
  [UnaryOp.abs]: (g, x) => g.mul(x.sign()),
  [UnaryOp.neg]: (g) => g.neg(),
};

function unaryBackward(g: Tensor, node: Node<UnarySaved>): Grads {
  const x = node.inputs[0];
  const { op, alpha, y } = node.saved;
  if (!isGradEnabled() && g.data.constructor === x.data.constructor) {
    const gx = new Tensor(allocOut(x.data, x.data.length), x.shape);
    kernels().unaryBackward(op, x.data, y.data, g.data, gx.data, alpha, 0);
    return [gx];
  }
  return [UNARY_RULES[op](g, x, y, alpha)];
}

/**
 * gelu'(x) = Phi(x) + x phi(x), as a differentiable op of its own (forward: the fused
 * unaryBackward kernel with gy = 1) so that gelu supports double backward without an erf op:
 * gelu''(x) = phi(x) (2 - x^2).
 */
function geluDerivative(x: Tensor, y: Tensor): Tensor {
  const n = x.data.length;
  const ones = allocLike(x.data, n).fill(1);
  const out = new Tensor(allocOut(x.data, n), x.shape);
  kernels().unaryBackward(UnaryOp.gelu, x.data, y.data, ones, out.data, 0, 0);
  return record(out, 'geluDerivative', geluDerivativeBackward, [x], null);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

function geluDerivativeBackward(g: Tensor, node: Node<null>): Grads {
  const x = node.inputs[0];
  const x2 = x.mul(x);
  const phi = x2.mul(-0.5).exp().mul(INV_SQRT_2PI);
  return [g.mul(phi.mul(x2.rsub(2)))];
}

// ---------------------------------------------------------------------------------------------
// Binary ops, tensor (op) tensor with broadcasting

const BINARY_NAMES: Record<number, string> = {
  [BinaryOp.add]: 'add',
  [BinaryOp.sub]: 'sub',
  [BinaryOp.mul]: 'mul',
  [BinaryOp.div]: 'div',
  [BinaryOp.pow]: 'pow',
  [BinaryOp.maximum]: 'maximum',
  [BinaryOp.minimum]: 'minimum',
  [BinaryOp.gt]: 'gt',
  [BinaryOp.lt]: 'lt',
  [BinaryOp.ge]: 'ge',
  [BinaryOp.le]: 'le',
  [BinaryOp.eq]: 'eq',
};

function isComparison(op: BinaryOp): boolean {
  return op >= BinaryOp.gt;
}

/** a (op) b where either may be a number; broadcasting as NumPy. */
export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  if (a instanceof Tensor) {
    if (b instanceof Tensor) return binaryTensors(op, a, b);
    if (typeof b === 'number') return binaryScalar(op, a, b, false);
  } else if (typeof a === 'number' && b instanceof Tensor) {
    return binaryScalar(op, b, a, true);
  }
  throw new TypeError(`${BINARY_NAMES[op]}: operands must be Tensors or numbers, got ${describe(a)} and ${describe(b)}`);
}

function binaryTensors(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const name = BINARY_NAMES[op];
  checkSameDtype(name, a, b);
  const shape = sameShape(a.shape, b.shape) ? a.shape : broadcastShapes(name, a.shape, b.shape);
  const out = new Tensor(allocOut(a.data, numel(shape)), shape);
  kernels().binary(op, a.data, a.shape, b.data, b.shape, out.data);
  if (isComparison(op)) return record(out, name, noGradBackward, [], null);
  return record<BinaryOp>(out, name, binaryBackward, [a, b], op);
}

function binaryBackward(g: Tensor, node: Node<BinaryOp>): Grads {
  const a = node.inputs[0];
  const b = node.inputs[1];
  const ra = a.requiresGrad;
  const rb = b.requiresGrad;
  switch (node.saved) {
    case BinaryOp.add:
      return [ra ? sumToShape(g, a.shape) : null, rb ? sumToShape(g, b.shape) : null];
    case BinaryOp.sub:
      return [ra ? sumToShape(g, a.shape) : null, rb ? sumToShape(g, b.shape).neg() : null];
    case BinaryOp.mul:
      return [ra ? sumToShape(g.mul(b), a.shape) : null, rb ? sumToShape(g.mul(a), b.shape) : null];
    case BinaryOp.div:
      return [
        ra ? sumToShape(g.div(b), a.shape) : null,
        rb ? sumToShape(g.mul(a).div(b.mul(b)), b.shape).neg() : null,
      ];
    case BinaryOp.pow:
      return [
        ra ? sumToShape(g.mul(b).mul(a.pow(b.sub(1))), a.shape) : null,
        // d(a^b)/db = a^b log a, taken as 0 where a = 0 (as torch does) instead of 0 * -inf.
        rb ? sumToShape(g.mul(a.pow(b)).mul(a.add(a.eq(0)).log()), b.shape) : null,
      ];
    case BinaryOp.maximum:
    case BinaryOp.minimum: {
      // Ties split the gradient evenly, as torch does.
      const wins = node.saved === BinaryOp.maximum ? a.gt(b) : a.lt(b);
      const maskA = wins.add(a.eq(b).mul(0.5));
      return [
        ra ? sumToShape(g.mul(maskA), a.shape) : null,
        rb ? sumToShape(g.mul(maskA.rsub(1)), b.shape) : null,
      ];
    }
    default:
      throw new Error(`backward: no rule for binary op ${node.name}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Binary ops with a number operand

interface ScalarSaved {
  op: BinaryOp;
  s: number;
  /** Whether the scalar is the left operand (s - x, s / x, s ** x). */
  first: boolean;
}

export function binaryScalar(op: BinaryOp, a: Tensor, s: number, scalarFirst: boolean): Tensor {
  const name = BINARY_NAMES[op];
  checkTensor(name, 'input', a);
  const out = new Tensor(allocOut(a.data, a.data.length), a.shape);
  kernels().binaryScalar(op, a.data, s, out.data, scalarFirst);
  if (isComparison(op)) return record(out, name, noGradBackward, [], null);
  return record<ScalarSaved>(out, name, scalarBackward, [a], { op, s, first: scalarFirst });
}

function scalarBackward(g: Tensor, node: Node<ScalarSaved>): Grads {
  const a = node.inputs[0];
  const { op, s, first } = node.saved;
  switch (op) {
    case BinaryOp.add:
      return [g];
    case BinaryOp.sub:
      return [first ? g.neg() : g];
    case BinaryOp.mul:
      return [g.mul(s)];
    case BinaryOp.div:
      // d(s/a)/da = -s / a^2
      return [first ? g.div(a.mul(a)).mul(-s) : g.div(s)];
    case BinaryOp.pow:
      if (first) return [g.mul(binaryScalar(BinaryOp.pow, a, s, true)).mul(Math.log(s))];
      if (s === 2) return [g.mul(a).mul(2)];
      if (s === 1) return [g];
      return [g.mul(a.pow(s - 1)).mul(s)];
    case BinaryOp.maximum:
    case BinaryOp.minimum: {
      const wins = op === BinaryOp.maximum ? a.gt(s) : a.lt(s);
      return [g.mul(wins.add(a.eq(s).mul(0.5)))];
    }
    default:
      throw new Error(`backward: no rule for scalar op ${node.name}`);
  }
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
export const neg = (x: Tensor): Tensor => unary(UnaryOp.neg, x);
export const exp = (x: Tensor): Tensor => unary(UnaryOp.exp, x);
export const log = (x: Tensor): Tensor => unary(UnaryOp.log, x);
export const sqrt = (x: Tensor): Tensor => unary(UnaryOp.sqrt, x);
export const abs = (x: Tensor): Tensor => unary(UnaryOp.abs, x);
export const sign = (x: Tensor): Tensor => unary(UnaryOp.sign, x);
