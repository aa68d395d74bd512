// Activation checkpointing (torch.utils.checkpoint, non-reentrant semantics): a segment keeps only
// its inputs for backward; its backward runs the segment again, under the random state its forward
// saw, and backpropagates through the recomputed graph.
//
// How it is built on this engine. The forward runs fn once with grad mode on, on leaf copies of the
// tensor arguments, with every recorded node collected (setRecordSink). That graph tells which
// tensors from outside the segment require grad (parameters, captured tensors): they become inputs
// of the checkpoint's one node, besides the tensor arguments, so the engine routes their gradients
// as for any op and grad() works (torch's reentrant variant cannot do that). The collected graph
// is then dropped: its accounting released at once, its references cut.
//
// The backward (the node's rule) restores the saved random state, runs fn on the real arguments,
// and calls grad() from the recomputed output with the incoming gradient, the node's inputs as
// targets. For that inner pass the inputs' own gradFns are hidden (set to null, restored after), so
// the pass stops at the segment's boundary instead of running into the outer graph. With
// createGraph the inner pass records its backward, and since the recomputed graph hangs on the
// real arguments, double backward through a checkpoint is exact (gradgradcheck holds).
//
// Equal gradients, bit for bit, to the plain call: the same rules run on the same values in the
// same order (the forward is deterministic and the random state is restored). BatchNorm in
// training mode updates its running statistics in the recomputation too, as torch 1.13 does (both
// its reentrant and non-reentrant checkpoint): twice per checkpointed forward and backward.

import { Tensor } from '../../tensor.js';
import type { Node } from '../../autograd/node.js';
import { grad } from '../../autograd/engine.js';
import { enableGrad, isGradEnabled } from '../../autograd/mode.js';
import { defineOp } from '../../ops/registry.js';
import { describe, record, setRecordSink } from '../../ops/util.js';
import { noteNodeFreed } from '../../backend/memory.js';
import { getRngState, setRngState } from '../../random.js';
import type { Module } from '../module.js';

interface CheckpointSaved {
  fn: (...args: unknown[]) => unknown;
  /** The arguments as given (tensors and anything else). */
  args: unknown[];
  /** The random generator's state before the forward. */
  rng: number[];
}

const checkpointOp = defineOp<CheckpointSaved>({
  name: 'checkpoint',
  kernels: [],
  arity: 'variadic', // the tensor arguments, then the outside tensors fn reads that require grad
  rule: recompute,
});

function recompute(g: Tensor, node: Node<CheckpointSaved>): (Tensor | null)[] {
  const { fn, args, rng } = node.saved;
  const inputs = node.inputs;
  const createGraph = isGradEnabled(); // the engine runs rules in grad mode exactly with createGraph
  const current = getRngState();
  setRngState(rng);
  let out: unknown;
  try {
    out = enableGrad(() => fn(...args));
  } finally {
    setRngState(current);
  }
  if (!(out instanceof Tensor)) throw new Error('checkpoint: fn returned a Tensor in the forward but not in backward');
  const targets: Tensor[] = [];
  const where: number[] = [];
  inputs.forEach((t, i) => {
    if (t.requiresGrad) {
      targets.push(t);
      where.push(i);
    }
  });
  const result: (Tensor | null)[] = inputs.map(() => null);
  if (!out.requiresGrad || targets.length === 0) return result;
  // Stop the inner pass at the boundary: the inputs look like leaves while it runs.
  const hidden = targets.map((t) => t.gradFn);
  for (const t of targets) t.gradFn = null;
  let grads: (Tensor | null)[];
  try {
    grads = grad([out], targets, { gradOutputs: [g], allowUnused: true, createGraph, retainGraph: createGraph });
  } finally {
    targets.forEach((t, i) => (t.gradFn = hidden[i]));
  }
  where.forEach((i, k) => (result[i] = grads[k]));
  return result;
}

/** Drops a graph a checkpoint recorded only to find its boundary. */
function discard(nodes: readonly Node[]): void {
  for (const n of nodes) {
    noteNodeFreed(n);
    n.freed = true;
    n.saved = null;
    n.inputs = [];
  }
}

/**
 * Runs `fn(...args)` keeping only its arguments for backward; the backward runs fn again (with the
 * random state the forward saw, so dropout masks match) and backpropagates through it. Gradients
 * equal those of `fn(...args)`. Under noGrad it is the plain call. fn must return one Tensor and
 * must compute the same thing when called again (no side effects other than BatchNorm's running
 * statistics, which the recomputation updates again, as torch's checkpoint does).
 */
export function checkpoint<A extends unknown[]>(fn: (...args: A) => Tensor, ...args: A): Tensor {
  if (typeof fn !== 'function') throw new TypeError(`checkpoint: fn must be a function, got ${describe(fn)}`);
  if (!isGradEnabled()) return fn(...args);
  const rng = getRngState();
  const copies = new Map<Tensor, Tensor>();
  const leafArgs = args.map((a) => {
    if (!(a instanceof Tensor)) return a;
    const c = new Tensor(a.data, a.shape, a.requiresGrad);
    copies.set(c, a);
    return c;
  }) as A;
  const sink: Node[] = [];
  const prevSink = setRecordSink(sink);
  let out: Tensor;
  try {
    out = fn(...leafArgs);
  } finally {
    setRecordSink(prevSink);
  }
  if (!(out instanceof Tensor)) {
    discard(sink);
    throw new TypeError(`checkpoint: fn must return a Tensor, got ${describe(out)}`);
  }
  // The segment's boundary: tensors from outside that its nodes read and that require grad.
  const own = new Set<Node>(sink);
  const outside: Tensor[] = [];
  const seen = new Set<Tensor>();
  for (const n of sink) {
    for (const t of n.inputs) {
      if (seen.has(t)) continue;
      seen.add(t);
      if (copies.has(t) || !t.requiresGrad) continue;
      if (t.gradFn === null || !own.has(t.gradFn)) outside.push(t);
    }
  }
  const original = copies.get(out);
  if (original !== undefined) {
    discard(sink);
    return original; // fn returned its argument
  }
  const result = new Tensor(out.data, out.shape);
  discard(sink);
  if (!out.requiresGrad) return result;
  const tensorArgs = args.filter((a): a is Tensor => a instanceof Tensor);
  return record<CheckpointSaved>(result, checkpointOp, [...tensorArgs, ...outside], {
    fn: fn as (...a: unknown[]) => unknown,
    args: args.slice(),
    rng,
  });
}

/**
 * torch.utils.checkpoint.checkpoint_sequential: the modules of `sequential` in `segments` runs of
 * floor(n / segments) modules; every run but the last is checkpointed, the last (with the
 * remainder) runs plainly, its graph kept.
 */
export function checkpointSequential(sequential: Iterable<Module>, segments: number, input: Tensor): Tensor {
  const modules = [...sequential];
  if (!Number.isInteger(segments) || segments < 1) {
    throw new RangeError(`checkpointSequential: segments must be an integer >= 1, got ${String(segments)}`);
  }
  if (segments > modules.length) {
    throw new RangeError(`checkpointSequential: ${segments} segments for ${modules.length} modules`);
  }
  const size = Math.floor(modules.length / segments);
  const run =
    (from: number, to: number) =>
    (x: Tensor): Tensor => {
      let y = x;
      for (let i = from; i < to; i++) y = modules[i].forward(y) as Tensor;
      return y;
    };
  let x = input;
  let start = 0;
  for (let s = 0; s < segments - 1; s++, start += size) x = checkpoint(run(start, start + size), x);
  return run(start, modules.length)(x);
}

// fit({ checkpointSegments }) runs a Sequential in segments through its own forward, so that a
// subclass that wraps it (the CLI's LeNet standardizes its input first) keeps its behaviour.
const segmentsOf = new WeakMap<object, number>();

/** Runs fn with `sequential`'s forward checkpointed in `segments` segments (checkpointSequential). */
export async function withCheckpointSegments<T>(
  sequential: object,
  segments: number,
  fn: () => Promise<T>,
): Promise<T> {
  if (!Number.isInteger(segments) || segments < 1) {
    throw new RangeError(`checkpointSegments must be an integer >= 1, got ${String(segments)}`);
  }
  const before = segmentsOf.get(sequential);
  segmentsOf.set(sequential, segments);
  try {
    return await fn();
  } finally {
    if (before === undefined) segmentsOf.delete(sequential);
    else segmentsOf.set(sequential, before);
  }
}

/** The segments Sequential.forward runs `sequential` in (undefined: a plain forward). */
export function checkpointSegmentsOf(sequential: object): number | undefined {
  return isGradEnabled() ? segmentsOf.get(sequential) : undefined;
}
