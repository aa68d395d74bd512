// torch.autograd.functional: vjp, jvp, vhp, jacobian, hessian (hvp is in hvp.ts).
//
// Structure of results, as torch: a single Tensor in gives a Tensor out, an array in gives an
// array; vjp and vhp are shaped like the inputs, jvp like the outputs; the Jacobian of output i
// with respect to input j has shape output_i.shape ++ input_j.shape and nests as
// J[i][j] (dropping the level of whichever side was a single Tensor); the Hessian of inputs
// [a, b] is [[Haa, Hab], [Hba, Hbb]].
//
// jvp uses the double-vjp trick (as torch.autograd.functional.jvp does), not forward mode: with
// a dummy cotangent u, g(u) = Jᵀu is linear in u, so the gradient of <g(u), v> with respect to u
// is exactly J v. It costs about two backward passes instead of one forward-mode pass, but it
// needs nothing beyond the reverse-mode rules every op already has (they are written in Tensor
// ops, so they can be differentiated again); true forward mode would need a second, tangent rule
// for each of the registry's ops, a new engine and its own tests, for a constant factor.

import { Tensor } from '../tensor.js';
import { stack } from '../tensor.js';
import { grad } from './engine.js';
import { enableGrad } from './mode.js';
import { allocLike, floatData, sameShape, shapeStr } from '../ops/util.js';

/** A function of one or several tensors, returning one tensor or several. */
export type TensorFn = (...inputs: Tensor[]) => Tensor | Tensor[];
/** A function of one or several tensors returning a one-element tensor. */
export type ScalarFn = (...inputs: Tensor[]) => Tensor;

export interface FunctionalOptions {
  /** Record the computation so the results can be differentiated again (results then require grad). */
  createGraph?: boolean;
  /**
   * Throw when an output does not depend on some input (instead of returning zeros for it), and,
   * with createGraph, when a result would not depend on the inputs at all.
   */
  strict?: boolean;
}

/** One Tensor or an array of them, or for nested results, arrays of those. */
export type Tensors = Tensor | Tensor[];

export interface VjpResult<I extends Tensors, O extends Tensors> {
  /** fn(inputs) (detached unless createGraph). */
  value: O;
  /** vᵀ J, shaped like the inputs. */
  vjp: I;
}

export interface JvpResult<O extends Tensors> {
  /** fn(inputs) (detached unless createGraph). */
  value: O;
  /** J v, shaped like the outputs. */
  jvp: O;
}

export interface VhpResult<I extends Tensors> {
  /** fn(inputs) (detached unless createGraph). */
  value: Tensor;
  /** vᵀ H, shaped like the inputs (H is symmetric, so it equals H v up to rounding). */
  vhp: I;
}

function asList(name: string, what: string, x: Tensors): Tensor[] {
  const list = x instanceof Tensor ? [x] : x;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(`${name}: ${what} must be a Tensor or a non-empty array of Tensors`);
  }
  list.forEach((t, i) => {
    if (!(t instanceof Tensor)) {
      throw new TypeError(`${name}: ${what}${x instanceof Tensor ? '' : `[${i}]`} must be a Tensor`);
    }
  });
  return list;
}

/**
 * The tensors fn is called with: fresh leaves requiring grad that share the inputs' values, or,
 * with createGraph, for an input that itself requires grad, a recorded copy of it, so that the
 * results stay differentiable with respect to the caller's input (torch's view_as).
 */
function prepareInputs(name: string, inputs: Tensors, createGraph = false): Tensor[] {
  return asList(name, 'inputs', inputs).map((x) => {
    const dtype: string = x.dtype; // integer dtypes cannot be differentiated
    if (dtype !== 'float32' && dtype !== 'float64') {
      throw new TypeError(`${name}: inputs must be float32 or float64, got ${dtype}`);
    }
    return createGraph && x.requiresGrad ? x.clone() : x.detach().requiresGrad_(true);
  });
}

function callFn(name: string, fn: TensorFn, xs: Tensor[]): Tensor[] {
  if (typeof fn !== 'function') throw new TypeError(`${name}: fn must be a function`);
  const out = fn(...xs);
  const outs = out instanceof Tensor ? [out] : out;
  if (!Array.isArray(outs) || outs.length === 0 || !outs.every((o) => o instanceof Tensor)) {
    throw new TypeError(`${name}: fn must return a Tensor or a non-empty array of Tensors`);
  }
  return outs;
}

function checkVectors(name: string, vs: Tensors, like: Tensor[], against: 'inputs' | 'outputs'): Tensor[] {
  const list = asList(name, 'v', vs);
  if (list.length !== like.length) {
    throw new Error(`${name}: got ${list.length} tensors in v for ${like.length} ${against}`);
  }
  list.forEach((vi, i) => {
    if (!sameShape(vi.shape, like[i].shape)) {
      throw new Error(
        `${name}: v${like.length > 1 || Array.isArray(vs) ? `[${i}]` : ''} has shape ${shapeStr(vi.shape)}, ` +
          `the ${against === 'inputs' ? 'input' : 'output'} ${shapeStr(like[i].shape)}`,
      );
    }
  });
  return list.map((vi, i) => (vi.dtype === like[i].dtype ? vi.detach() : vi.detach().to(like[i].dtype)));
}

/** v when given; otherwise ones for a one-element tensor (torch's rule), else an error. */
function defaultVectors(name: string, v: Tensors | undefined, like: Tensor[], against: 'inputs' | 'outputs'): Tensor[] {
  if (v !== undefined && v !== null) return checkVectors(name, v, like, against);
  if (like.length === 1 && like[0].size === 1) {
    const d = allocLike(floatData(like[0]), 1);
    d[0] = 1;
    return [new Tensor(d, like[0].shape)];
  }
  throw new Error(
    `${name}: v can be omitted only when fn has a single one-element ${against === 'inputs' ? 'input' : 'output'}`,
  );
}

function zerosOf(t: Tensor): Tensor {
  return new Tensor(allocLike(floatData(t), t.data.length), t.shape);
}

/**
 * Gradients of Σ <outputs_i, gradOutputs_i> with respect to xs; unused inputs get zeros (or, in
 * strict mode, an error). Outputs that do not require grad contribute nothing.
 */
function vjpList(
  name: string,
  outputs: Tensor[],
  gradOutputs: Tensor[],
  xs: Tensor[],
  createGraph: boolean,
  retainGraph: boolean,
  strict: boolean,
): Tensor[] {
  const roots: Tensor[] = [];
  const seeds: Tensor[] = [];
  outputs.forEach((o, i) => {
    if (o.requiresGrad) {
      roots.push(o);
      seeds.push(gradOutputs[i]);
    }
  });
  const gs: (Tensor | null)[] =
    roots.length === 0
      ? xs.map(() => null)
      : grad(roots, xs, { gradOutputs: seeds, createGraph, retainGraph, allowUnused: true });
  return gs.map((g, i) => {
    if (g === null) {
      if (strict) {
        throw new Error(`${name}: the output of fn is independent of input ${i}; this is not allowed in strict mode`);
      }
      return zerosOf(xs[i]);
    }
    if (strict && createGraph && !g.requiresGrad) {
      throw new Error(
        `${name}: the derivative with respect to input ${i} does not depend on the inputs; this is not allowed in strict mode with createGraph`,
      );
    }
    return createGraph ? g : g.detach();
  });
}

function shapeLike<T extends Tensors>(single: boolean, list: Tensor[]): T {
  return (single ? list[0] : list) as T;
}

/**
 * vᵀ J for fn at inputs: the vector-Jacobian product by one backward pass
 * (torch.autograd.functional.vjp). v is shaped like fn's output(s); it may be omitted when fn
 * returns a single one-element tensor.
 */
export function vjp<I extends Tensors, O extends Tensors>(
  fn: (...inputs: Tensor[]) => O,
  inputs: I,
  v?: O,
  options: FunctionalOptions = {},
): VjpResult<I, O> {
  const name = 'vjp';
  const { createGraph = false, strict = false } = options;
  return enableGrad(() => {
    const xs = prepareInputs(name, inputs, createGraph);
    const result = fn(...xs);
    const outs = callFn(name, () => result, xs);
    const vs = defaultVectors(name, v, outs, 'outputs');
    if (strict) outs.forEach((o, i) => checkConnected(name, o, i));
    const g = vjpList(name, outs, vs, xs, createGraph, createGraph, strict);
    const value = outs.map((o) => (createGraph ? o : o.detach()));
    return { value: shapeLike<O>(result instanceof Tensor, value), vjp: shapeLike<I>(inputs instanceof Tensor, g) };
  });
}

function checkConnected(name: string, o: Tensor, i: number): void {
  if (!o.requiresGrad) {
    throw new Error(`${name}: output ${i} of fn does not depend on the inputs; this is not allowed in strict mode`);
  }
}

/**
 * J v for fn at inputs: the Jacobian-vector product (torch.autograd.functional.jvp), by the
 * double-vjp trick (see the top of this file). v is shaped like the inputs; it may be omitted
 * when there is a single one-element input.
 */
export function jvp<I extends Tensors, O extends Tensors>(
  fn: (...inputs: Tensor[]) => O,
  inputs: I,
  v?: I,
  options: FunctionalOptions = {},
): JvpResult<O> {
  const name = 'jvp';
  const { createGraph = false, strict = false } = options;
  return enableGrad(() => {
    const xs = prepareInputs(name, inputs, createGraph);
    const vs = defaultVectors(name, v, xs, 'inputs');
    const result = fn(...xs);
    const outs = callFn(name, () => result, xs);
    if (strict) outs.forEach((o, i) => checkConnected(name, o, i));
    const out = jvpList(name, outs, xs, vs, createGraph, strict);
    const value = outs.map((o) => (createGraph ? o : o.detach()));
    return { value: shapeLike<O>(result instanceof Tensor, value), jvp: shapeLike<O>(result instanceof Tensor, out) };
  });
}

/**
 * J v for outputs already computed from xs (graph kept): u ↦ Jᵀu is recorded with a dummy
 * cotangent u, then differentiated with respect to u along v. Shared with the Gauss-Newton product.
 */
export function jvpList(
  name: string,
  outs: Tensor[],
  xs: Tensor[],
  vs: Tensor[],
  createGraph: boolean,
  strict: boolean,
): Tensor[] {
  const us = outs.map((o) => zerosOf(o).requiresGrad_(true));
  const gu = vjpList(name, outs, us, xs, true, true, strict);
  let dot: Tensor | null = null;
  gu.forEach((g, i) => {
    if (!g.requiresGrad) return;
    const term = g.mul(vs[i]).sum();
    dot = dot === null ? term : dot.add(term);
  });
  if (dot === null) return outs.map((o, i) => zerosWithCheck(name, o, i, strict));
  const ju = grad(dot, us, { createGraph, retainGraph: createGraph, allowUnused: true });
  return ju.map((j, i) => {
    if (j === null) return zerosWithCheck(name, outs[i], i, strict);
    return createGraph ? j : j.detach();
  });
}

function zerosWithCheck(name: string, o: Tensor, i: number, strict: boolean): Tensor {
  if (strict) {
    throw new Error(`${name}: output ${i} of fn is independent of the inputs; this is not allowed in strict mode`);
  }
  return zerosOf(o);
}

function scalarOutput(name: string, fn: ScalarFn, xs: Tensor[]): Tensor {
  if (typeof fn !== 'function') throw new TypeError(`${name}: fn must be a function`);
  const out = fn(...xs);
  if (!(out instanceof Tensor)) throw new TypeError(`${name}: fn must return a Tensor`);
  if (out.size !== 1) {
    throw new Error(`${name}: fn must return a one-element Tensor, got shape ${shapeStr(out.shape)}`);
  }
  return out;
}

/**
 * vᵀ H for a scalar fn at inputs (torch.autograd.functional.vhp): the gradient of <∇fn, v> by a
 * second backward through the first.
 */
export function vhp<I extends Tensors>(fn: ScalarFn, inputs: I, v?: I, options: FunctionalOptions = {}): VhpResult<I> {
  const name = 'vhp';
  const { createGraph = false, strict = false } = options;
  return enableGrad(() => {
    const xs = prepareInputs(name, inputs, createGraph);
    const vs = defaultVectors(name, v, xs, 'inputs');
    const out = scalarOutput(name, fn, xs);
    if (strict) checkConnected(name, out, 0);
    const one = defaultVectors(name, undefined, [out], 'outputs');
    const gs = vjpList(name, [out], one, xs, true, true, strict);
    let dot: Tensor | null = null;
    gs.forEach((g, i) => {
      if (!g.requiresGrad) return;
      const term = g.mul(vs[i]).sum();
      dot = dot === null ? term : dot.add(term);
    });
    const res: Tensor[] =
      dot === null
        ? xs.map((x, i) => {
            if (strict)
              throw new Error(`${name}: the gradient of fn does not depend on input ${i}; not allowed in strict mode`);
            return zerosOf(x);
          })
        : vjpList(name, [dot], one, xs, createGraph, createGraph, strict);
    return { value: createGraph ? out : out.detach(), vhp: shapeLike<I>(inputs instanceof Tensor, res) };
  });
}

/** The Jacobian of outs with respect to xs, row by row with one backward per output element. */
function jacobianList(name: string, outs: Tensor[], xs: Tensor[], createGraph: boolean, strict: boolean): Tensor[][] {
  return outs.map((o, oi) => {
    if (strict) checkConnected(name, o, oi);
    const rows: Tensor[][] = xs.map(() => []);
    for (let k = 0; k < o.size; k++) {
      const e = zerosOf(o);
      e.data[k] = 1;
      const gs = vjpList(name, [o], [e], xs, createGraph, true, strict);
      gs.forEach((g, j) => rows[j].push(g.reshape(xs[j].size)));
    }
    return xs.map((x, j) => {
      const shape = [...o.shape, ...x.shape];
      if (o.size === 0 || x.size === 0) return new Tensor(allocLike(floatData(x), 0), shape);
      const J = stack(rows[j]).reshape(...shape);
      return createGraph ? J : J.detach();
    });
  });
}

function nest<T>(rows: T[][], singleOut: boolean, singleIn: boolean): T | T[] | T[][] {
  if (singleOut && singleIn) return rows[0][0];
  if (singleOut) return rows[0];
  if (singleIn) return rows.map((r) => r[0]);
  return rows;
}

/**
 * The Jacobian of fn at inputs (torch.autograd.functional.jacobian, reverse mode, one backward
 * per output element). For output i and input j it has shape output_i.shape ++ input_j.shape;
 * the result nests as torch's: a Tensor for one output and one input, [J_a, J_b] for one output
 * and inputs [a, b], [J_0, J_1] for outputs [o0, o1] and one input, [[J_0a, J_0b], ...] for both.
 */
export function jacobian(
  fn: TensorFn,
  inputs: Tensors,
  options: FunctionalOptions = {},
): Tensor | Tensor[] | Tensor[][] {
  const name = 'jacobian';
  const { createGraph = false, strict = false } = options;
  return enableGrad(() => {
    const xs = prepareInputs(name, inputs, createGraph);
    const result = typeof fn === 'function' ? fn(...xs) : undefined;
    const outs = callFn(name, () => result as Tensor | Tensor[], xs);
    return nest(jacobianList(name, outs, xs, createGraph, strict), result instanceof Tensor, inputs instanceof Tensor);
  });
}

/**
 * The Hessian of a scalar fn at inputs (torch.autograd.functional.hessian): the Jacobian of the
 * gradient, recorded with createGraph. For inputs [a, b] it is [[Haa, Hab], [Hba, Hbb]], block
 * (i, j) of shape input_i.shape ++ input_j.shape; for a single input, one Tensor.
 */
export function hessian(fn: ScalarFn, inputs: Tensors, options: FunctionalOptions = {}): Tensor | Tensor[][] {
  const name = 'hessian';
  const { createGraph = false, strict = false } = options;
  return enableGrad(() => {
    const xs = prepareInputs(name, inputs, createGraph);
    const out = scalarOutput(name, fn, xs);
    if (strict) checkConnected(name, out, 0);
    const one = defaultVectors(name, undefined, [out], 'outputs');
    const gs = vjpList(name, [out], one, xs, true, true, strict);
    // Block row i is the Jacobian of the gradient's i-th piece; a piece that does not depend on
    // the inputs (fn linear in input i) gives zero blocks.
    const blocks = gs.map((g, i) => {
      if (!g.requiresGrad) {
        if (strict)
          throw new Error(
            `${name}: the gradient of fn does not depend on the inputs (input ${i}); not allowed in strict mode`,
          );
        return xs.map((x) => new Tensor(allocLike(floatData(x), g.size * x.size), [...xs[i].shape, ...x.shape]));
      }
      return jacobianList(name, [g], xs, createGraph, strict)[0];
    });
    return inputs instanceof Tensor ? blocks[0][0] : blocks;
  });
}
