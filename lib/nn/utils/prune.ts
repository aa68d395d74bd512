// nn.utils.prune: torch.nn.utils.prune's unstructured methods with its semantics and names.
// Pruning `name` of a module moves the parameter to `${name}_orig`, adds the buffer
// `${name}_mask` (1 keeps, 0 prunes) and makes `module[name]` the plain tensor orig * mask,
// recomputed by a forward pre-hook before every forward, so gradients reach orig through the
// mask. Pruning again prunes among the entries the mask still keeps (torch's PruningContainer);
// remove() makes the pruned tensor the parameter again and drops the reparametrisation.

import { noGrad } from '../../autograd/mode.js';
import { ones, Tensor } from '../../tensor.js';
import { Module, type HookHandle } from '../module.js';
import { isArray } from '../../ops/util.js';

/** torch's `amount`: an integer >= 1 is a number of weights, anything else a fraction in [0, 1]. */
export interface PruneOptions {
  amount: number;
}

export interface GlobalPruneOptions extends PruneOptions {
  /** How to rank the pooled weights: by magnitude ('l1', the default) or at random. */
  pruningMethod?: 'l1' | 'random';
}

interface PruneState {
  hook: HookHandle;
}

const pruned = new WeakMap<Module, Map<string, PruneState>>();

function slots(m: Module): Record<string, unknown> {
  return m as unknown as Record<string, unknown>;
}

function tensorAttr(op: string, m: Module, name: string): Tensor {
  if (!(m instanceof Module)) throw new TypeError(`${op}: module must be an nn.Module`);
  const t = slots(m)[name];
  if (!(t instanceof Tensor)) throw new Error(`${op}: module ${m.constructor.name} has no tensor '${name}'`);
  return t;
}

/** Python's round(): halves go to the even neighbour (torch's _compute_nparams_toprune uses it). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** How many of `size` entries to prune, checked as torch checks it. */
export function nparamsToPrune(op: string, amount: number, size: number): number {
  if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
    throw new RangeError(
      `${op}: amount=${String(amount)} should either be a float in the range [0, 1] or a non-negative integer`,
    );
  }
  if (Number.isInteger(amount) && amount >= 1) {
    if (amount > size)
      throw new RangeError(`${op}: amount=${amount} should be smaller than the number of parameters to prune=${size}`);
    return amount;
  }
  if (amount > 1)
    throw new RangeError(
      `${op}: amount=${amount} should either be a float in the range [0, 1] or a non-negative integer`,
    );
  return roundHalfEven(amount * size);
}

/**
 * Indices of the k smallest |scores| among `candidates` (ties: the lower index first). A typed
 * array sort finds the k-th magnitude; one pass takes everything below it and the first ones
 * equal to it (a sort of [value, index] pairs is ten times slower on a layer's weights).
 */
function smallestK(scores: ArrayLike<number>, candidates: number[], k: number): number[] {
  if (k === 0) return [];
  const mags = Float64Array.from(candidates, (i) => Math.abs(scores[i]));
  const kth = mags.slice().sort()[k - 1];
  let below = 0;
  for (const m of mags) if (m < kth) below++;
  let equal = k - below;
  const out: number[] = [];
  candidates.forEach((i, j) => {
    if (mags[j] < kth) out.push(i);
    else if (mags[j] === kth && equal > 0) {
      out.push(i);
      equal--;
    }
  });
  return out;
}

/** k of the candidates chosen uniformly at random (Math.random through a partial shuffle). */
function randomK(candidates: number[], k: number): number[] {
  const c = candidates.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(Math.random() * (c.length - i));
    [c[i], c[j]] = [c[j], c[i]];
  }
  return c.slice(0, k);
}

/**
 * The new mask: the old one with `amount` more of its kept entries set to 0, chosen by |scores|
 * or at random. amount counts (or is a fraction of) the entries the old mask keeps.
 */
function nextMask(
  op: string,
  scores: ArrayLike<number>,
  old: ArrayLike<number>,
  amount: number,
  method: 'l1' | 'random',
): Float64Array {
  const kept: number[] = [];
  for (let i = 0; i < old.length; i++) if (old[i] === 1) kept.push(i);
  const k = nparamsToPrune(op, amount, kept.length);
  const mask = Float64Array.from(old);
  for (const i of method === 'l1' ? smallestK(scores, kept, k) : randomK(kept, k)) mask[i] = 0;
  return mask;
}

/** Installs or updates the reparametrisation of module[name] with `mask` (a flat 0/1 array). */
function applyMask(op: string, module: Module, name: string, mask: ArrayLike<number>): Module {
  const s = slots(module);
  let states = pruned.get(module);
  if (states === undefined) {
    states = new Map();
    pruned.set(module, states);
  }
  const state = states.get(name);
  if (state === undefined) {
    const orig = module.unregisterParameter(name);
    if (orig === null) throw new Error(`${op}: '${name}' is not a parameter of ${module.constructor.name}`);
    module.registerParameter(`${name}_orig`, orig);
    const m = ones([...orig.shape], { dtype: orig.dtype });
    m.data.set(mask);
    module.registerBuffer(`${name}_mask`, m);
    const hook = module.registerForwardPreHook((mod) => {
      const o = slots(mod)[`${name}_orig`] as Tensor;
      const b = slots(mod)[`${name}_mask`] as Tensor;
      slots(mod)[name] = o.mul(b);
    });
    states.set(name, { hook });
  } else {
    const b = s[`${name}_mask`] as Tensor;
    b.data.set(mask);
  }
  const o = s[`${name}_orig`] as Tensor;
  const b = s[`${name}_mask`] as Tensor;
  s[name] = o.mul(b);
  return module;
}

/** The tensor to rank and the current mask (all ones when not pruned yet). */
function current(op: string, module: Module, name: string): { scores: Tensor; mask: ArrayLike<number> } {
  const t = tensorAttr(op, module, name);
  const m = slots(module)[`${name}_mask`];
  const mask = isPruned(module, name) && m instanceof Tensor ? m.data : new Float64Array(t.size).fill(1);
  return { scores: t, mask };
}

function unstructured(op: string, module: Module, name: string, opts: PruneOptions, method: 'l1' | 'random'): Module {
  const { scores, mask } = current(op, module, name);
  const next = noGrad(() => nextMask(op, scores.data, mask, optionsAmount(op, opts), method));
  return applyMask(op, module, name, next);
}

function optionsAmount(op: string, opts: PruneOptions): number {
  if (opts === null || typeof opts !== 'object' || !('amount' in opts))
    throw new TypeError(`${op}: expected options { amount }`);
  return opts.amount;
}

/** Prunes the `amount` entries of module[name] of smallest magnitude (torch's l1_unstructured). */
export function l1Unstructured(module: Module, name: string, opts: PruneOptions): Module {
  return unstructured('prune.l1Unstructured', module, name, opts, 'l1');
}

/** Prunes `amount` entries of module[name] chosen at random (torch's random_unstructured). */
export function randomUnstructured(module: Module, name: string, opts: PruneOptions): Module {
  return unstructured('prune.randomUnstructured', module, name, opts, 'random');
}

/**
 * Pools the tensors of every [module, name] and prunes `amount` of them (counted over the entries
 * not pruned yet) by magnitude or at random (torch's global_unstructured).
 */
export function globalUnstructured(
  parameters: ReadonlyArray<readonly [Module, string]>,
  opts: GlobalPruneOptions,
): void {
  const op = 'prune.globalUnstructured';
  if (!isArray(parameters) || parameters.length === 0)
    throw new TypeError(`${op}: parameters must be a non-empty list of [module, name] pairs`);
  const method = opts.pruningMethod ?? 'l1';
  if (method !== 'l1' && method !== 'random')
    throw new RangeError(`${op}: pruningMethod must be 'l1' or 'random', got ${String(method)}`);
  const parts = parameters.map(([m, name]) => current(op, m, name));
  const total = parts.reduce((a, p) => a + p.scores.size, 0);
  const scores = new Float64Array(total);
  const mask = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    scores.set(p.scores.data, at);
    mask.set(p.mask, at);
    at += p.scores.size;
  }
  const next = nextMask(op, scores, mask, optionsAmount(op, opts), method);
  at = 0;
  parameters.forEach(([m, name], i) => {
    const n = parts[i].scores.size;
    applyMask(op, m, name, next.subarray(at, at + n));
    at += n;
  });
}

/** Whether module[name] (or, without a name, any tensor of module) is pruned (torch's is_pruned). */
export function isPruned(module: Module, name?: string): boolean {
  const states = pruned.get(module);
  if (states === undefined) return false;
  return name === undefined ? states.size > 0 : states.has(name);
}

/**
 * Makes the pruning permanent (torch's prune.remove): module[name] becomes a parameter again
 * holding orig * mask, and `${name}_orig`, `${name}_mask` and the hook go away.
 */
export function remove(module: Module, name: string): Module {
  const states = pruned.get(module);
  const state = states?.get(name);
  if (states === undefined || state === undefined) {
    throw new Error(
      `prune.remove: parameter '${name}' of module ${module.constructor.name} has to be pruned before pruning can be removed`,
    );
  }
  const s = slots(module);
  const orig = s[`${name}_orig`] as Tensor;
  const mask = s[`${name}_mask`] as Tensor;
  noGrad(() => {
    for (let i = 0; i < orig.size; i++) orig.data[i] *= mask.data[i];
  });
  state.hook.remove();
  states.delete(name);
  module.unregisterParameter(`${name}_orig`);
  module.unregisterBuffer(`${name}_mask`);
  // re-added last, as torch re-adds it to _parameters
  delete s[name];
  module.registerParameter(name, orig);
  return module;
}
