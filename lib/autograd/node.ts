// A node of the autograd graph: the op that produced one tensor, its inputs (the graph's edges)
// and what its backward rule saved. Rules are plain module-level functions shared by all nodes
// of an op, so recording an op allocates one small object and no closure.

import type { Tensor } from '../tensor.js';

/** Gradients for each input of a node, in input order; null where an input needs none. */
export type Grads = (Tensor | null)[];

/**
 * A backward rule: given the gradient of the node's output, the gradients of its inputs.
 * Written in Tensor ops so that, with createGraph, the rule itself is recorded and can be
 * differentiated again. It may use fused kernels when grad mode is off (no graph being created).
 * Each returned tensor must either use g's own data array (g passed through, or a reshape-like
 * view of it) or storage of its own that nothing else references (a subarray of g or of a saved
 * array is not allowed): without createGraph the engine sums into such fresh buffers in place.
 */
export type BackwardFn<S> = (g: Tensor, node: Node<S>) => Grads;

export class Node<S = unknown> {
  /** Engine bookkeeping: the backward pass that last visited this node. */
  epoch = 0;
  /** Engine bookkeeping: consumers in the current pass that have not yet sent their gradient. */
  deps = 0;
  /** Engine bookkeeping: the gradient of this node's output accumulated so far. */
  grad: Tensor | null = null;
  /** Whether `grad` is a buffer the engine owns (may add into in place). */
  gradOwned = false;
  /** Set once a backward without retainGraph has run through this node. */
  freed = false;

  constructor(
    /** The op's name, used in error messages (anomaly detection, freed graphs). */
    readonly name: string,
    readonly backward: BackwardFn<S>,
    /** The graph's edges; emptied when the node is freed, so a kept output holds no activations. */
    public inputs: Tensor[],
    /** What the rule needs besides the inputs (output, masks, dims...); dropped when freed. */
    public saved: S,
  ) {}
}
