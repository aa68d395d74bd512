// A node of the autograd graph: the op that produced one tensor (its registry entry, which holds
// the backward rule and the optional fused backward), its inputs (the graph's edges) and what the
// backward needs saved. Rules are module-level functions shared by all nodes of an op, so
// recording an op allocates one small object and no closure.

import type { Tensor } from '../tensor.js';
import type { BackwardFn, OpDef } from '../ops/registry.js';
import type { SavedVersions } from './version.js';

export type { BackwardFn };

/**
 * Gradients for each input of a node, in input order; null where an input needs none.
 * Each returned tensor must either use g's own data array (g passed through, or a reshape-like
 * view of it) or storage of its own that nothing else references (a subarray of g or of a saved
 * array is not allowed): without createGraph the engine sums into such fresh buffers in place.
 */
export type Grads = (Tensor | null)[];

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
  /** The storage the backward may read and its versions when the op ran (autograd/version.ts). */
  versions: SavedVersions | null = null;

  constructor(
    /** The op's registry entry: its name, backward rule and fused backward. */
    readonly op: OpDef<S>,
    /** The graph's edges; emptied when the node is freed, so a kept output holds no activations. */
    public inputs: Tensor[],
    /** What the backward needs besides the inputs (output, masks, dims...); dropped when freed. */
    public saved: S,
  ) {}

  /** The op's name, used in error messages (anomaly detection, freed graphs). */
  get name(): string {
    return this.op.name;
  }
}
