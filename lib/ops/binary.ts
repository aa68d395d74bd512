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
  allocLike,
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
import { expand, sumToShape } from './reduce.js';

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
  const share = (a: Tensor, b: TensorLike): Tensor =>
    compareMask(max ? 'gt' : 'lt', a, b).add(compareMask('eq', a, b).mul(0.5));
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
    right: (g, a, b) => g.mul(a.pow(b)).mul(a.add(compareMask('eq', a, 0)).log()),
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

/** torch.add/sub's `alpha`: a ± alpha * b. */
export interface AlphaOptions {
  alpha?: number;
}

/** b scaled by alpha (no op for alpha 1, so the common call records no extra node). */
function scaled(op: string, b: TensorLike, opts: AlphaOptions | undefined): TensorLike {
  const alpha = opts?.alpha ?? 1;
  if (typeof alpha !== 'number') throw new TypeError(`${op}: alpha must be a number, got ${String(alpha)}`);
  if (alpha === 1) return b;
  return typeof b === 'number' ? b * alpha : binary(BinaryOp.mul, b, alpha);
}

export const add = (a: TensorLike, b: TensorLike, opts?: AlphaOptions): Tensor =>
  binary(BinaryOp.add, a, scaled('add', b, opts));
export const sub = (a: TensorLike, b: TensorLike, opts?: AlphaOptions): Tensor =>
  binary(BinaryOp.sub, a, scaled('sub', b, opts));
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.mul, a, b);
/** torch.div's `roundingMode`: none (true division), 'trunc' (toward 0) or 'floor' (toward -inf). */
export interface DivOptions {
  roundingMode?: 'trunc' | 'floor' | null;
}

export function div(a: TensorLike, b: TensorLike, opts?: DivOptions): Tensor {
  const mode = opts?.roundingMode ?? null;
  if (mode === null) return binary(BinaryOp.div, a, b);
  if (mode !== 'trunc' && mode !== 'floor') {
    throw new TypeError(`div: roundingMode must be 'trunc', 'floor' or null, got ${String(mode)}`);
  }
  return divRounded(a, b, mode);
}

/**
 * a / b rounded, with torch's zero gradient (a step function). trunc rounds the quotient of the
 * dtype, as torch's trunc(a / b); floor follows torch's div_floor_floating (through fmod, so that
 * e.g. floor(-0.3 / 0.1) is -3 although -0.3 / 0.1 rounds to -2.9999999999999996).
 */
function divRounded(a: TensorLike, b: TensorLike, mode: 'trunc' | 'floor'): Tensor {
  const ta = a instanceof Tensor ? a.detach() : a;
  const tb = b instanceof Tensor ? b.detach() : b;
  const q = binary(BinaryOp.div, ta, tb); // checks the operands, broadcasts, rounds to the dtype
  const out = new Tensor(allocOut(floatData(q), q.data.length), q.shape);
  const y = floatData(out);
  if (mode === 'trunc') {
    for (let i = 0; i < y.length; i++) y[i] = Math.trunc(q.data[i]);
  } else {
    const av = typeof ta === 'number' ? null : expandTo(ta, q.shape);
    const bv = typeof tb === 'number' ? null : expandTo(tb, q.shape);
    const f32 = y instanceof Float32Array;
    const r = f32 ? Math.fround : (v: number) => v;
    for (let i = 0; i < y.length; i++) {
      const x = av === null ? (ta as number) : av[i];
      const d = bv === null ? (tb as number) : bv[i];
      if (d === 0) {
        y[i] = q.data[i];
        continue;
      }
      const mod = r(x % d);
      let v = r(r(x - mod) / d);
      if (mod !== 0 && d < 0 !== mod < 0) v = r(v - 1);
      let fl: number;
      if (v !== 0) {
        fl = Math.floor(v);
        if (v - fl > 0.5) fl += 1;
      } else {
        fl = q.data[i] < 0 || Object.is(q.data[i], -0) ? -0 : 0;
      }
      y[i] = fl;
    }
  }
  const inputs = [a, b].filter((t): t is Tensor => t instanceof Tensor);
  return record(out, divRoundedOp, inputs, null);
}

/** x's values broadcast to shape (x's own array when the shapes agree). */
function expandTo(x: Tensor, shape: readonly number[]): ArrayLike<number> {
  return sameShape(x.shape, shape) ? x.data : expand(x, shape).data;
}

const divRoundedOp = defineOp<null>({
  name: 'divRounded',
  kernels: ['binary'],
  arity: 'variadic', // a and b, or the one tensor of a tensor-number pair
  // A step function: zero gradients, constants (torch gives zeros too).
  rule: (_g, node) => node.inputs.map((t) => new Tensor(allocLike(floatData(t), t.data.length), t.shape)),
});
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.pow, a, b);
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.maximum, a, b);
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp.minimum, a, b);

type CompareName = 'gt' | 'lt' | 'ge' | 'le' | 'eq';

/**
 * A comparison as a 0/1 mask in the operands' float dtype: the form gradient rules multiply by
 * (bool tensors take no arithmetic). Not differentiable.
 */
export const compareMask = (op: CompareName, a: TensorLike, b: TensorLike): Tensor => binary(BinaryOp[op], a, b);

/** torch's comparisons (gt lt ge le eq ne): a bool tensor of the broadcast shape. */
export function compare(op: CompareName | 'ne', a: TensorLike, b: TensorLike): Tensor {
  const out = binary(BinaryOp[op === 'ne' ? 'eq' : op], a, b).to('bool');
  if (op === 'ne') {
    const d = out.data;
    for (let i = 0; i < d.length; i++) d[i] = d[i] === 0 ? 1 : 0; // NaN != NaN: eq gave 0, so true
  }
  return out;
}
