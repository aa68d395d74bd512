// The reverse-mode engine. Two iterative passes, so that graph depth never touches the JS stack
// (a chain of 100,000 ops is fine):
//   1. walk the graph from the roots, counting for each node how many consumers will send it a
//      gradient in this pass;
//   2. process nodes whose consumers are all done (Kahn's order), calling each node's rule and
//      routing the input gradients to producer nodes or, for leaves, into .grad.
// Each node's op (lib/ops/registry.ts) has a rule written in Tensor ops and may have a fused
// backward. With createGraph the rules run in grad mode, so the backward is itself recorded;
// without it the engine runs the fused backward where there is one, in no-grad mode, and sums
// the gradients it owns in place.

import { kernels } from '../backend/index.js';
import { BinaryOp } from '../backend/types.js';
import { Tensor, full } from '../tensor.js';
import { isKernelDType } from '../dtype.js';
import type { Node } from './node.js';
import { isAnomalyEnabled, setGradEnabled } from './mode.js';
import { noteNodeFreed } from '../backend/memory.js';
import { allocLike, checkFinite, floatData, recycle, sameShape, shapeStr } from '../ops/util.js';
import { checkVersions } from './version.js';

export interface BackwardOptions {
  /** Keep the graph's saved values so that backward can run through it again. */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order derivatives. */
  createGraph?: boolean;
}

export interface GradOptions {
  /** Gradients of the outputs (required for outputs with more than one element). */
  gradOutputs?: Tensor | readonly (Tensor | null | undefined)[] | null;
  /** Keep the graph for another backward; default: createGraph. */
  retainGraph?: boolean;
  /** Record the backward pass, so the result can be differentiated again. */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on, instead of throwing. */
  allowUnused?: boolean;
}

let passCounter = 0;
const NO_INPUTS: Tensor[] = [];

function freedError(node: Node): Error {
  return new Error(
    `backward: trying to backward through the graph a second time: the saved values of '${node.name}' ` +
      'were freed by the first backward. Pass { retainGraph: true } to the first backward (or grad) call ' +
      'to backward through the same graph again.',
  );
}

/** The gradient to seed a root with: given, or ones for a one-element root. */
function rootGradient(op: string, root: Tensor, given: Tensor | null | undefined): Tensor {
  if (given == null) {
    if (root.data.length !== 1) {
      throw new Error(
        `${op}: a gradient can be created implicitly only for a scalar (one-element) output; this output has shape ` +
          `${shapeStr(root.shape)}. Pass a gradient of that shape.`,
      );
    }
    if (isKernelDType(root.dtype)) {
      const d = allocLike(floatData(root), 1);
      d[0] = 1;
      return new Tensor(d, root.shape);
    }
    return full(root.shape, 1, { dtype: root.dtype });
  }
  if (!(given instanceof Tensor)) throw new TypeError(`${op}: the gradient must be a Tensor`);
  if (!sameShape(given.shape, root.shape)) {
    throw new Error(
      `${op}: gradient shape ${shapeStr(given.shape)} does not match output shape ${shapeStr(root.shape)}`,
    );
  }
  if (given.dtype !== root.dtype) {
    throw new TypeError(`${op}: gradient dtype ${given.dtype} does not match output dtype ${root.dtype}`);
  }
  return given;
}

/** Runs backward from roots; accumulates into leaves' .grad (backward) or returns the gradients of `targets` (grad). */
function run(
  op: string,
  roots: readonly Tensor[],
  rootGrads: readonly (Tensor | null | undefined)[],
  retainGraph: boolean,
  createGraph: boolean,
  targets: readonly Tensor[] | null,
): (Tensor | null)[] {
  const seeds = roots.map((r, i) => {
    if (!(r instanceof Tensor)) throw new TypeError(`${op}: outputs must be Tensors`);
    if (!r.requiresGrad) {
      throw new Error(
        `${op}: output ${roots.length > 1 ? `${i} ` : ''}does not require grad and has no gradFn (was it computed under noGrad, or from tensors without requiresGrad?)`,
      );
    }
    return rootGradient(op, r, rootGrads[i]);
  });

  // Targets of grad(): leaves are captured as gradients reach them, non-leaves at their node.
  const captured: (Tensor | null)[] = targets ? targets.map(() => null) : [];
  const leafTarget = new Map<Tensor, number>();
  const nodeTarget = new Map<Node, number>();
  if (targets) {
    targets.forEach((t, i) => {
      if (!(t instanceof Tensor)) throw new TypeError(`${op}: inputs must be Tensors`);
      if (!t.requiresGrad) throw new Error(`${op}: input ${i} does not require grad`);
      if (t.gradFn !== null) nodeTarget.set(t.gradFn, i);
      else leafTarget.set(t, i);
    });
  }

  const epoch = ++passCounter;
  const prevMode = setGradEnabled(createGraph);
  try {
    // Pass 1: discover reachable nodes and count their consumers.
    const stack: Node[] = [];
    for (const r of roots) {
      const fn = r.gradFn;
      if (fn !== null && fn.epoch !== epoch) {
        fn.epoch = epoch;
        fn.deps = 0;
        fn.grad = null;
        fn.gradOwned = false;
        stack.push(fn);
      }
    }
    const discovered: Node[] = [];
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node.freed) throw freedError(node);
      if (targets) discovered.push(node);
      const inputs = node.inputs;
      for (let i = 0; i < inputs.length; i++) {
        const fn = inputs[i].gradFn;
        if (fn === null) continue;
        if (fn.epoch !== epoch) {
          fn.epoch = epoch;
          fn.deps = 0;
          fn.grad = null;
          fn.gradOwned = false;
          stack.push(fn);
        }
        fn.deps++;
      }
    }

    // Seed the roots.
    const ready: Node[] = [];
    for (let i = 0; i < roots.length; i++) {
      const r = roots[i];
      if (r.gradFn !== null) accumulateNode(r.gradFn, seeds[i], false, createGraph);
      else deliverToLeaf(r, seeds[i], false, createGraph, targets, leafTarget, captured);
    }
    for (const r of roots) {
      const fn = r.gradFn;
      if (fn !== null && fn.deps === 0) {
        fn.deps = -1; // queued
        ready.push(fn);
      }
    }

    // grad(): only nodes with a path to a target need their rule run (torch prunes the same way).
    // This matters for double backward: differentiating a recorded backward with respect to a
    // dummy cotangent (jvp's double-vjp trick) would otherwise also run every rule of the forward
    // graph the recorded backward refers to.
    const needed = targets ? neededNodes(discovered, nodeTarget, leafTarget) : null;

    // Pass 2: process in dependency order.
    const anomaly = isAnomalyEnabled();
    while (ready.length > 0) {
      const node = ready.pop()!;
      const g = node.grad;
      // A gradient the engine owns is dead once the rule has run, unless handed on or returned.
      let gDies = node.gradOwned && !createGraph;
      node.grad = null;
      const inputs = node.inputs;
      if (targets) {
        const ti = nodeTarget.get(node);
        if (ti !== undefined && g !== null) {
          captured[ti] = g;
          gDies = false;
        }
      }
      let grads: (Tensor | null)[] | null = null;
      if (g !== null && (needed === null || needed.has(node))) {
        const op = node.op;
        if (node.versions !== null) checkVersions(node.name, node.versions, inputs);
        grads = (createGraph || op.fused === undefined ? op.rule! : op.fused)(g, node);
        if (grads.length !== inputs.length && inputs.length > 0) {
          throw new Error(`backward of '${node.name}' returned ${grads.length} gradients for ${inputs.length} inputs`);
        }
        if (gDies) {
          for (let i = 0; i < grads.length; i++) if (grads[i] != null && grads[i]!.data === g.data) gDies = false;
          if (gDies) recycle(g.data);
        }
      }
      if (!retainGraph) {
        // Drop what the node holds (saved values and inputs, i.e. the activations) as torch
        // frees saved tensors: a loss kept after backward (a history of losses) holds no memory.
        // A later backward reaching this node throws at discovery, before any input is needed.
        node.freed = true;
        noteNodeFreed(node);
        node.saved = null;
        node.inputs = NO_INPUTS;
        node.versions = null;
      }
      for (let i = 0; i < inputs.length; i++) {
        const input = inputs[i];
        const gi = grads === null ? null : grads[i];
        if (gi != null) {
          if (!sameShape(gi.shape, input.shape)) {
            throw new Error(
              `backward of '${node.name}' produced a gradient of shape ${shapeStr(gi.shape)} for input ${i} of shape ${shapeStr(input.shape)}`,
            );
          }
          if (anomaly) checkFinite(gi, `backward of '${node.name}'`);
        }
        const fn = input.gradFn;
        if (fn !== null) {
          if (gi != null) accumulateNode(fn, gi, owns(gi, g!, grads!, i), createGraph);
          if (--fn.deps === 0) {
            fn.deps = -1;
            ready.push(fn);
          }
        } else if (gi != null && input.requiresGrad) {
          deliverToLeaf(input, gi, owns(gi, g!, grads!, i), createGraph, targets, leafTarget, captured);
        }
      }
    }
  } finally {
    setGradEnabled(prevMode);
  }
  return captured;
}

/** The discovered nodes from which some target (a target node, or a target leaf among the inputs) is reachable. */
function neededNodes(
  discovered: readonly Node[],
  nodeTarget: Map<Node, number>,
  leafTarget: Map<Tensor, number>,
): Set<Node> {
  const consumers = new Map<Node, Node[]>();
  const needed = new Set<Node>();
  const queue: Node[] = [];
  for (const node of discovered) {
    let seed = nodeTarget.has(node);
    for (const input of node.inputs) {
      const fn = input.gradFn;
      if (fn === null) {
        if (leafTarget.has(input)) seed = true;
        continue;
      }
      let list = consumers.get(fn);
      if (list === undefined) consumers.set(fn, (list = []));
      list.push(node);
    }
    if (seed && !needed.has(node)) {
      needed.add(node);
      queue.push(node);
    }
  }
  while (queue.length > 0) {
    const node = queue.pop()!;
    for (const c of consumers.get(node) ?? []) {
      if (!needed.has(c)) {
        needed.add(c);
        queue.push(c);
      }
    }
  }
  return needed;
}

/**
 * Whether the engine may write into gi's storage: it must be a fresh buffer, not the incoming
 * gradient passed through (add, reshape...) nor shared with another input's gradient.
 */
function owns(gi: Tensor, g: Tensor, grads: readonly (Tensor | null)[], i: number): boolean {
  const d = gi.data;
  if (d === g.data) return false;
  for (let j = 0; j < grads.length; j++) {
    if (j !== i && grads[j] != null && grads[j]!.data === d) return false;
  }
  return true;
}

function addInPlace(acc: Tensor, g: Tensor): void {
  // The binary kernel reads a[i] and b[i] before writing out[i], so out may alias a of the same shape.
  kernels().binary(BinaryOp.add, floatData(acc), acc.shape, floatData(g), g.shape, floatData(acc));
}

function accumulateNode(node: Node, g: Tensor, owned: boolean, createGraph: boolean): void {
  if (node.grad === null) {
    node.grad = g;
    node.gradOwned = owned;
  } else if (!createGraph && node.gradOwned) {
    addInPlace(node.grad, g);
  } else {
    node.grad = node.grad.add(g);
    node.gradOwned = true;
  }
}

function deliverToLeaf(
  leaf: Tensor,
  g: Tensor,
  owned: boolean,
  createGraph: boolean,
  targets: readonly Tensor[] | null,
  leafTarget: Map<Tensor, number>,
  captured: (Tensor | null)[],
): void {
  if (targets) {
    const ti = leafTarget.get(leaf);
    if (ti !== undefined) captured[ti] = captured[ti] === null ? g : captured[ti].add(g);
    return;
  }
  if (!leaf.requiresGrad) return;
  const cur = leaf.grad;
  if (cur === null) {
    // The leaf keeps the buffer; copy it unless the engine owns it (it may be shared otherwise).
    // A gradient with a graph (createGraph) is kept as is: it is only ever accumulated out of place.
    leaf.grad = owned || (createGraph && g.requiresGrad) ? g : new Tensor(g.data.slice(), g.shape, false, g.dtype);
  } else if (
    !createGraph &&
    cur.gradFn === null &&
    !cur.requiresGrad &&
    sameShape(cur.shape, g.shape) &&
    cur.dtype === g.dtype &&
    isKernelDType(g.dtype)
  ) {
    addInPlace(cur, g);
  } else {
    leaf.grad = cur.add(g);
  }
}

/** Tensor.backward: accumulates gradients into the leaves' .grad. */
export function backward(
  roots: readonly Tensor[],
  grads: readonly (Tensor | null | undefined)[],
  opts: BackwardOptions = {},
): void {
  const createGraph = opts.createGraph ?? false;
  run('backward', roots, grads, opts.retainGraph ?? createGraph, createGraph, null);
}

/**
 * torch.autograd.grad: the gradients of outputs with respect to inputs, without touching .grad.
 * With allowUnused, inputs the outputs do not depend on get null.
 */
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  opts?: GradOptions & { allowUnused?: false },
): Tensor[];
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  opts: GradOptions & { allowUnused: true },
): (Tensor | null)[];
export function grad(
  outputs: Tensor | readonly Tensor[],
  inputs: Tensor | readonly Tensor[],
  opts: GradOptions = {},
): (Tensor | null)[] {
  const outs = outputs instanceof Tensor ? [outputs] : outputs;
  const ins = inputs instanceof Tensor ? [inputs] : inputs;
  if (!Array.isArray(outs) || outs.length === 0)
    throw new TypeError('grad: outputs must be a Tensor or a non-empty array of Tensors');
  if (!Array.isArray(ins) || ins.length === 0)
    throw new TypeError('grad: inputs must be a Tensor or a non-empty array of Tensors');
  const go = opts.gradOutputs;
  const gradOutputs = go == null ? [] : go instanceof Tensor ? [go] : go;
  if (gradOutputs.length !== 0 && gradOutputs.length !== outs.length) {
    throw new Error(`grad: got ${gradOutputs.length} gradOutputs for ${outs.length} outputs`);
  }
  const createGraph = opts.createGraph ?? false;
  const result = run('grad', outs, gradOutputs, opts.retainGraph ?? createGraph, createGraph, ins);
  if (!opts.allowUnused) {
    result.forEach((r, i) => {
      if (r === null) {
        throw new Error(
          `grad: input ${i} was not used to compute the outputs (pass allowUnused: true to get null for it)`,
        );
      }
    });
  }
  return result;
}
