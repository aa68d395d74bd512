// The op registry: every differentiable (or deliberately non-differentiable) op declares its
// identity here once, next to its forward in its family's file:
//
//   const reluOp = defineOp({ name: 'relu', kernels: ['unary'], code: UnaryOp.relu, arity: 1,
//     rule: (g, node) => ..., fused: (g, node) => ... });
//
// `rule` is the backward written in Tensor ops: the definition, and what runs whenever the
// backward itself is recorded (createGraph), so double backward works. `fused` is an optional
// kernel-backed backward that must give the same gradients; the engine runs it when no graph is
// being created. Ops never ask the grad-mode flag which one to run: the engine chooses.
//
// The codes of kernel families (UnaryOp, BinaryOp, ...) come from the name lists in
// backend/types.ts (the backend may not import this layer); test/op-registry.test.ts checks that
// every listed name has an entry here with the matching code, that every kernel an entry names
// exists in both backends, and that the addon's own name lists are the same, in order.

import type { KernelName } from '../backend/types.js';
import type { DType } from '../dtype.js';
import type { Grads, Node } from '../autograd/node.js';
import type { Tensor } from '../tensor.js';

/** A backward: the gradients of a node's inputs (in order, null where none) given g = dL/d(output). */
export type BackwardFn<S> = (g: Tensor, node: Node<S>) => Grads;

export interface OpDef<S = unknown> {
  /** Unique key in the registry; the name unless two ops share a name (mul and mul by a number). */
  readonly id: string;
  /** Shown in error messages (anomaly detection, freed graphs) and as `gradFn.name`. */
  readonly name: string;
  /** The backend kernels the forward runs. */
  readonly kernels: readonly KernelName[];
  /** The op's code within its kernel family (UnaryOp.relu...), for ops that a kernel switches on. */
  readonly code?: number;
  /** How many tensor inputs the node records; 'variadic' for cat and the like. */
  readonly arity: number | 'variadic';
  /** The dtypes the forward accepts. */
  readonly dtypes: readonly DType[];
  /** The backward in Tensor ops; null for ops with no gradient (comparisons, sign), which record no node. */
  readonly rule: BackwardFn<S> | null;
  /** A kernel-backed backward equal to `rule`, used when no graph is being created. */
  readonly fused?: BackwardFn<S>;
  /** The kernels `fused` runs (checked to exist in both backends). */
  readonly fusedKernels?: readonly KernelName[];
}

/** Both float dtypes: the default of defineOp. */
const FLOAT_DTYPES: readonly DType[] = ['float32', 'float64'];

type OpSpec<S> = Omit<OpDef<S>, 'dtypes' | 'id'> & { readonly dtypes?: readonly DType[]; readonly id?: string };

const ops = new Map<string, OpDef>();

/** Declares an op; throws if its id is taken or a fused backward lacks a rule. */
export function defineOp<S>(spec: OpSpec<S>): OpDef<S> {
  const id = spec.id ?? spec.name;
  if (ops.has(id)) throw new Error(`defineOp: an op with id '${id}' is already registered`);
  if (spec.fused !== undefined && spec.rule === null) {
    throw new Error(`defineOp: '${spec.name}' has a fused backward but no rule; the rule is the definition`);
  }
  if (spec.fused === undefined && spec.fusedKernels !== undefined) {
    throw new Error(`defineOp: '${spec.name}' names fusedKernels but has no fused backward`);
  }
  const def: OpDef<S> = Object.freeze({ ...spec, id, dtypes: spec.dtypes ?? FLOAT_DTYPES });
  ops.set(id, def as OpDef);
  return def;
}

/** Every registered op, in registration order (import the library first: the op files register). */
export function registeredOps(): readonly OpDef[] {
  return [...ops.values()];
}
