// nn.utils.sparsify: swaps a model's dense Linear and Conv2d layers for SparseLinear and
// SparseConv2d where that pays, by SparseProp's rule: a layer is swapped when it is at least
// minSparsity sparse (default 0.8) and its sparse forward + backward, timed on inputs of the
// shape it really sees, is faster than the dense one.

import { noGrad } from '../../autograd/mode.js';
import { randn, zeros, type Tensor } from '../../tensor.js';
import { Module } from '../module.js';
import { Linear } from '../layers/linear.js';
import { Conv2d } from '../layers/conv.js';
import { SparseConv2d, SparseLinear } from '../layers/sparse.js';
import { isPruned } from './prune.js';
import { isArray } from '../../ops/util.js';

/** What sparsify needs of an optimizer (every optim.* fits): its groups and per-parameter state. */
export interface OptimizerWithState {
  readonly paramGroups: readonly { params: Tensor[] }[];
  readonly state: Map<Tensor, Record<string, unknown>>;
}

export interface SparsifyOptions {
  /** The model's input shape, batch first: each layer is timed on inputs of the shape it sees. */
  inputShape: readonly number[];
  /** Swap only layers whose weight has at least this fraction of zeros (default 0.8). */
  minSparsity?: number;
  /** Time dense against sparse and swap only where sparse is faster (default true). */
  measure?: boolean;
  /** Timed forward + backward passes per layer and variant, interleaved (default 5; the median counts). */
  repeats?: number;
  /** An optimizer over the model: a swapped layer's parameters replace the old ones in it, with their state. */
  optimizer?: OptimizerWithState;
}

export interface SparsifyReport {
  /** The layer's name in the model (namedModules). */
  name: string;
  sparsity: number;
  /** Median milliseconds of one forward + backward, dense and sparse (NaN when not measured). */
  denseMs: number;
  sparseMs: number;
  swapped: boolean;
}

type Dense = Linear | Conv2d;

function checkOptions(opts: SparsifyOptions): { minSparsity: number; repeats: number; inputShape: number[] } {
  const op = 'nn.utils.sparsify';
  if (opts === null || typeof opts !== 'object')
    throw new TypeError(`${op}: expected options { inputShape, minSparsity }`);
  const minSparsity = opts.minSparsity ?? 0.8;
  if (typeof minSparsity !== 'number' || !(minSparsity >= 0 && minSparsity <= 1))
    throw new RangeError(`${op}: minSparsity must be a number in [0, 1], got ${String(minSparsity)}`);
  const repeats = opts.repeats ?? 5;
  if (!Number.isInteger(repeats) || repeats < 1)
    throw new RangeError(`${op}: repeats must be an integer >= 1, got ${repeats}`);
  if (!isArray(opts.inputShape) || !opts.inputShape.every((d) => Number.isInteger(d) && d >= 1))
    throw new TypeError(`${op}: inputShape must be an array of positive integers (batch first)`);
  return { minSparsity, repeats, inputShape: [...opts.inputShape] };
}

/** Fraction of exact zeros in a tensor. */
export function sparsityOf(t: Tensor): number {
  let z = 0;
  for (let i = 0; i < t.size; i++) if (t.data[i] === 0) z++;
  return t.size === 0 ? 0 : z / t.size;
}

/** Median milliseconds of fn over the runs it was given. */
function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** One forward + backward of m on x, leaving no gradient behind on m's parameters. */
function step(m: Module, x: Tensor): number {
  const t0 = performance.now();
  const y = (m.forward as (x: Tensor) => Tensor)(x);
  y.sum().backward();
  const ms = performance.now() - t0;
  for (const p of m.parameters()) p.grad = null;
  x.grad = null;
  return ms;
}

/** The effective parameter a dense layer trains its weight through (weight_orig when pruned). */
function trainedWeight(m: Dense): Tensor {
  const s = m as unknown as Record<string, unknown>;
  return (isPruned(m, 'weight') ? s.weight_orig : s.weight) as Tensor;
}

/** Replaces `old` by `neu` in the optimizer, carrying over state tensors gathered at `index`. */
function replaceParameter(opt: OptimizerWithState, old: Tensor, neu: Tensor, index: Int32Array | null): void {
  for (const g of opt.paramGroups) {
    const i = g.params.indexOf(old);
    if (i >= 0) g.params[i] = neu;
  }
  const st = opt.state.get(old);
  if (st === undefined) return;
  const moved: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(st)) {
    const t = v as Tensor;
    if (v !== null && typeof v === 'object' && 'data' in t && t.size === old.size) {
      const d = zeros([...neu.shape], { dtype: t.dtype });
      for (let j = 0; j < neu.size; j++) d.data[j] = t.data[index === null ? j : index[j]];
      moved[k] = d;
    } else {
      moved[k] = v;
    }
  }
  opt.state.delete(old);
  opt.state.set(neu, moved);
}

/** Flat dense index of each nonzero of a sparse layer. */
function denseIndex(s: SparseLinear | SparseConv2d): Int32Array {
  const p = s.pattern;
  const cols = p.shape[1] * p.shape[2] * p.shape[3];
  const out = new Int32Array(p.colIdx.length);
  for (let r = 0; r < p.shape[0]; r++)
    for (let k = p.rowPtr[r]; k < p.rowPtr[r + 1]; k++) out[k] = r * cols + p.colIdx[k];
  return out;
}

/**
 * Swaps every Linear and Conv2d of `model` (pruned ones included: their masked weight counts) that
 * is at least minSparsity sparse and, when measured, faster sparse, for its sparse equivalent in
 * place. Returns one report per dense layer considered.
 */
export function sparsify(model: Module, opts: SparsifyOptions): SparsifyReport[] {
  const { minSparsity, repeats, inputShape } = checkOptions(opts);
  if (!(model instanceof Module)) throw new TypeError('nn.utils.sparsify: model must be an nn.Module');
  // every dense layer with its parent and attribute name
  const sites: { name: string; parent: Module; attr: string; layer: Dense }[] = [];
  for (const [prefix, parent] of model.namedModules()) {
    for (const [attr, child] of parent.namedChildren()) {
      if (child instanceof Linear || child instanceof Conv2d)
        sites.push({ name: prefix ? `${prefix}.${attr}` : attr, parent, attr, layer: child });
    }
  }
  // the input shape each layer sees, from one forward
  const shapes = new Map<Module, number[]>();
  const hooks = sites.map((s) =>
    s.layer.registerForwardPreHook((m, args) => {
      shapes.set(m, [...(args[0] as Tensor).shape]);
    }),
  );
  const dtype = sites.length > 0 ? sites[0].layer.weight.dtype : 'float32';
  try {
    noGrad(() => model.forward(zeros(inputShape, { dtype })));
  } finally {
    for (const h of hooks) h.remove();
  }
  const reports: SparsifyReport[] = [];
  for (const s of sites) {
    const sparsity = sparsityOf(s.layer.weight);
    const report: SparsifyReport = { name: s.name, sparsity, denseMs: NaN, sparseMs: NaN, swapped: false };
    reports.push(report);
    const shape = shapes.get(s.layer);
    if (sparsity < minSparsity || shape === undefined) continue;
    const sparse = s.layer instanceof Linear ? SparseLinear.fromDense(s.layer) : SparseConv2d.fromDense(s.layer);
    if (opts.measure ?? true) {
      const x = randn(shape, { dtype: s.layer.weight.dtype, requiresGrad: true });
      const saved = s.layer.parameters().map((p) => [p, p.grad] as const);
      const dense: number[] = [];
      const sp: number[] = [];
      step(s.layer, x); // warm-up of both (workspace growth, first-call costs)
      step(sparse, x);
      for (let r = 0; r < repeats; r++) {
        dense.push(step(s.layer, x));
        sp.push(step(sparse, x));
      }
      for (const [p, g] of saved) p.grad = g;
      report.denseMs = median(dense);
      report.sparseMs = median(sp);
      if (!(report.sparseMs < report.denseMs)) continue;
    }
    if (opts.optimizer !== undefined) {
      replaceParameter(opts.optimizer, trainedWeight(s.layer), sparse.weight, denseIndex(sparse));
      if (s.layer.bias !== null && sparse.bias !== null)
        replaceParameter(opts.optimizer, s.layer.bias, sparse.bias, null);
    }
    s.parent.registerModule(s.attr, sparse);
    report.swapped = true;
  }
  return reports;
}
