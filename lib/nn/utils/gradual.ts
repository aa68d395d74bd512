// Gradual magnitude pruning (Zhu and Gupta 2017, "To prune, or not to prune") as a fit()
// callback: every `frequency` batches from startStep to endStep each pruned tensor is cut back,
// by magnitude, to the cubic schedule
//   s_t = s_f + (s_i - s_f) (1 - (t - t0) / (t_end - t0))^3,
// which prunes fast early, while the weights are redundant, and slowly near the target. After the
// last step it can swap the layers for sparse ones where that is faster (sparsify, SparseProp's
// rule), replacing their parameters in the optimizer.

import { Module } from '../module.js';
import { Linear } from '../layers/linear.js';
import { Conv2d } from '../layers/conv.js';
import type { Tensor } from '../../tensor.js';
import { isPruned, l1Unstructured } from './prune.js';
import { sparsify, type OptimizerWithState, type SparsifyOptions, type SparsifyReport } from './sparsify.js';

export interface GradualPruningOptions {
  /** s_f: the fraction of zeros to reach, in [0, 1). */
  finalSparsity: number;
  /** s_i: the fraction at startStep (default 0). */
  initialSparsity?: number;
  /** t0: the batch (counted from 0 over the whole run) of the first pruning step (default 0). */
  startStep?: number;
  /** The batch of the last pruning step, where s_f is reached. */
  endStep: number;
  /** Δt: batches between pruning steps (default 1). */
  frequency?: number;
  /** The tensors to prune (default: the weight of every Linear and Conv2d in the model). */
  parameters?: ReadonlyArray<readonly [Module, string]>;
  /** After the last step, swap layers for sparse ones where faster (sparsify's options), or false (default). */
  sparsify?: Omit<SparsifyOptions, 'optimizer'> | false;
  /** The optimizer to update when layers are swapped. */
  optimizer?: OptimizerWithState;
}

export class GradualMagnitudePruning {
  readonly model: Module;
  readonly finalSparsity: number;
  readonly initialSparsity: number;
  readonly startStep: number;
  readonly endStep: number;
  readonly frequency: number;
  /** Batches seen so far. */
  step = 0;
  /** sparsify's report, once it has run. */
  report: SparsifyReport[] | null = null;
  readonly #targets: ReadonlyArray<readonly [Module, string]>;
  readonly #sparsify: GradualPruningOptions['sparsify'];
  readonly #optimizer?: OptimizerWithState;

  constructor(model: Module, opts: GradualPruningOptions) {
    const op = 'GradualMagnitudePruning';
    if (!(model instanceof Module)) throw new TypeError(`${op}: model must be an nn.Module`);
    this.model = model;
    this.finalSparsity = opts.finalSparsity;
    this.initialSparsity = opts.initialSparsity ?? 0;
    for (const [name, v] of [
      ['finalSparsity', this.finalSparsity],
      ['initialSparsity', this.initialSparsity],
    ] as const) {
      if (typeof v !== 'number' || !(v >= 0 && v < 1))
        throw new RangeError(`${op}: ${name} must be in [0, 1), got ${String(v)}`);
    }
    this.startStep = opts.startStep ?? 0;
    this.endStep = opts.endStep;
    this.frequency = opts.frequency ?? 1;
    if (!Number.isInteger(this.startStep) || this.startStep < 0)
      throw new RangeError(`${op}: startStep must be an integer >= 0`);
    if (!Number.isInteger(this.endStep) || this.endStep <= this.startStep)
      throw new RangeError(
        `${op}: endStep must be an integer > startStep (${this.startStep}), got ${String(this.endStep)}`,
      );
    if (!Number.isInteger(this.frequency) || this.frequency < 1)
      throw new RangeError(`${op}: frequency must be an integer >= 1`);
    this.#targets =
      opts.parameters ??
      model
        .modules()
        .filter((m) => m instanceof Linear || m instanceof Conv2d)
        .map((m) => [m, 'weight'] as const);
    this.#sparsify = opts.sparsify ?? false;
    this.#optimizer = opts.optimizer;
  }

  /** The schedule's sparsity at batch t. */
  sparsityAt(t: number): number {
    if (t < this.startStep) return 0;
    const f = Math.min(1, (t - this.startStep) / (this.endStep - this.startStep));
    return this.finalSparsity + (this.initialSparsity - this.finalSparsity) * (1 - f) ** 3;
  }

  /** Prunes every target tensor to the schedule's sparsity at batch t (only ever adds zeros). */
  pruneTo(sparsity: number): void {
    for (const [m, name] of this.#targets) {
      const t = (m as unknown as Record<string, Tensor>)[name];
      const goal = Math.round(sparsity * t.size);
      let zeros = 0;
      if (isPruned(m, name)) {
        const mask = (m as unknown as Record<string, Tensor>)[`${name}_mask`];
        for (let i = 0; i < mask.size; i++) if (mask.data[i] === 0) zeros++;
      }
      // prune `goal - zeros` more of the kept entries (an integer amount; 0 still installs the mask)
      l1Unstructured(m, name, { amount: Math.max(0, goal - zeros) });
    }
  }

  /** Call after every training batch: fit(model, { ..., onBatchEnd: gmp.onBatchEnd }). */
  readonly onBatchEnd = (): void => {
    const t = this.step++;
    if (this.report !== null || t < this.startStep || t > this.endStep) return;
    if ((t - this.startStep) % this.frequency !== 0 && t !== this.endStep) return;
    this.pruneTo(this.sparsityAt(t));
    if (t === this.endStep && this.#sparsify !== false && this.#sparsify !== undefined) {
      this.report = sparsify(this.model, { ...this.#sparsify, optimizer: this.#optimizer });
    }
  };
}
