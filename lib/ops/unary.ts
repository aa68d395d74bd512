// Elementwise unary ops: one kernel pair (unary / unaryBackward) switched by op code. Each op is
// declared with defineUnary next to its public function: its code (its place in UNARY_OPS) and
// its backward rule in Tensor ops. Every unary op with a gradient has the same fused backward,
// the unaryBackward kernel; test/op-fused-sweep.test.ts checks it against each rule.

import { kernels } from '../backend/index.js';
import { UnaryOp, type UnaryName } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp, type OpDef } from './registry.js';
import { allocLike, allocOut, checkTensor, floatData, record } from './util.js';

export interface UnarySaved {
  /** The op's parameters (leakyRelu's slope, elu's alpha, softplus's beta and threshold). */
  p0: number;
  p1: number;
  /** The op's output (kept for rules written in terms of y, e.g. tanh: 1 - y^2). */
  y: Tensor;
}

/** The gradient of x given g = dL/dy, in Tensor ops. */
export type UnaryRule = (g: Tensor, x: Tensor, y: Tensor, p0: number, p1: number) => Tensor;

/** Declares the unary op `name` (a name of UNARY_OPS); rule null means no gradient (sign). */
export function defineUnary(name: UnaryName, rule: UnaryRule | null): OpDef<UnarySaved> {
  return defineOp<UnarySaved>({
    name,
    kernels: ['unary'],
    code: UnaryOp[name],
    arity: 1,
    rule: rule === null ? null : (g, node) => [rule(g, node.inputs[0], node.saved.y, node.saved.p0, node.saved.p1)],
    ...(rule === null ? {} : { fused: unaryFused, fusedKernels: ['unaryBackward'] as const }),
  });
}

/** y = f(x) for a unary op declared with defineUnary. */
export function unary(op: OpDef<UnarySaved>, x: Tensor, p0 = 0, p1 = 0): Tensor {
  checkTensor(op.name, 'input', x);
  const y = new Tensor(allocOut(x.data, x.data.length), x.shape);
  kernels().unary(op.code as UnaryOp, x.data, floatData(y), p0, p1);
  return record<UnarySaved>(y, op, [x], { p0, p1, y });
}

/** gx = gy * f'(x) in one kernel pass; a gradient of another dtype than x takes the rule. */
function unaryFused(g: Tensor, node: Node<UnarySaved>): Grads {
  const x = node.inputs[0];
  const { p0, p1, y } = node.saved;
  if (g.data.constructor !== x.data.constructor) return node.op.rule!(g, node);
  const gx = new Tensor(allocOut(floatData(x), x.data.length), x.shape);
  kernels().unaryBackward(node.op.code as UnaryOp, floatData(x), floatData(y), floatData(g), floatData(gx), p0, p1);
  return [gx];
}

// ---------------------------------------------------------------------------------------------
// The arithmetic unary ops (the activations are in activation.ts).

const expOp = defineUnary('exp', (g, _x, y) => g.mul(y));
const logOp = defineUnary('log', (g, x) => g.div(x));
const sqrtOp = defineUnary('sqrt', (g, _x, y) => g.div(y.mul(2)));
// torch: grad * sign(x), so 0 at x = 0.
const absOp = defineUnary('abs', (g, x) => g.mul(x.sign()));
const negOp = defineUnary('neg', (g) => g.neg());
// torch: sign is differentiable with a zero gradient (a constant, so the rule has no graph).
const signOp = defineUnary('sign', (g) => new Tensor(allocLike(floatData(g), g.data.length), g.shape));

export const exp = (x: Tensor): Tensor => unary(expOp, x);
export const log = (x: Tensor): Tensor => unary(logOp, x);
export const sqrt = (x: Tensor): Tensor => unary(sqrtOp, x);
export const abs = (x: Tensor): Tensor => unary(absOp, x);
export const neg = (x: Tensor): Tensor => unary(negOp, x);
export const sign = (x: Tensor): Tensor => unary(signOp, x);
