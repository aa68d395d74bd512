// Learning-rate schedulers, torch.optim.lr_scheduler's rules. Each step() computes the next lr
// from the current one (torch's chainable form), so schedulers compose like torch's do.

import { Tensor } from '../tensor.js';
import type { BaseOptions, Optimizer } from './optimizer.js';

/** Any optimizer a scheduler can drive. */
export type AnyOptimizer = Optimizer<BaseOptions>;

/** A scheduler's state: plain numbers and lists, safe to JSON-encode. */
export type SchedulerStateDict = Record<string, number | number[] | string | boolean | null>;

/** Python's % (the sign of the divisor), which torch's cosine rule relies on. */
function pyMod(a: number, m: number): number {
  return ((a % m) + m) % m;
}

export abstract class LRScheduler {
  readonly optimizer: AnyOptimizer;
  baseLrs: number[];
  lastEpoch: number;
  protected stepCount = 0;
  protected lastLr: number[] = [];

  constructor(optimizer: AnyOptimizer, lastEpoch = -1) {
    this.optimizer = optimizer;
    if (lastEpoch === -1) {
      for (const group of optimizer.paramGroups) group.initialLr ??= group.lr;
    } else {
      optimizer.paramGroups.forEach((group, i) => {
        if (group.initialLr === undefined) {
          throw new Error(
            `${this.constructor.name}: param group ${i} has no initialLr, needed when resuming with lastEpoch=${lastEpoch}`,
          );
        }
      });
    }
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** Subclasses call this at the end of their constructor (torch's _initial_step). */
  protected initialStep(): void {
    this.step();
  }

  /** The lr of each group for the current lastEpoch, from the groups' current lrs. */
  protected abstract computeLr(): number[];

  /** Advances one epoch and writes the new lr into every group. */
  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const values = this.computeLr();
    this.optimizer.paramGroups.forEach((group, i) => {
      group.lr = values[i];
    });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lr of each group as set by the last step(). */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Everything but the optimizer (torch's state_dict), with torch's names. */
  stateDict(): SchedulerStateDict {
    return {
      last_epoch: this.lastEpoch,
      base_lrs: [...this.baseLrs],
      _step_count: this.stepCount,
      _last_lr: [...this.lastLr],
      ...this.hyperparameters(),
    };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const num = (key: string): number => readNumber(this.constructor.name, sd, key);
    const list = (key: string): number[] => {
      const v = sd[key];
      if (!Array.isArray(v) || v.length !== this.optimizer.paramGroups.length) {
        throw new TypeError(`${this.constructor.name}.loadStateDict: '${key}' must list one number per param group`);
      }
      return [...v];
    };
    this.lastEpoch = num('last_epoch');
    this.baseLrs = list('base_lrs');
    this.stepCount = num('_step_count');
    this.lastLr = list('_last_lr');
    this.loadHyperparameters(sd);
  }

  protected abstract hyperparameters(): SchedulerStateDict;
  protected abstract loadHyperparameters(sd: SchedulerStateDict): void;
}

function readNumber(owner: string, sd: SchedulerStateDict, key: string): number {
  const v = sd[key];
  if (typeof v !== 'number') throw new TypeError(`${owner}.loadStateDict: '${key}' must be a number`);
  return v;
}

/** A decay factor must be a finite number >= 0 (NaN or Infinity would poison every lr). */
function checkGamma(owner: string, gamma: unknown): number {
  if (typeof gamma !== 'number' || !(gamma >= 0 && gamma < Infinity))
    throw new RangeError(`${owner}: gamma must be a finite number >= 0, got ${String(gamma)}`);
  return gamma;
}

/** Multiplies the lr by gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;

  constructor(optimizer: AnyOptimizer, options: { stepSize: number; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    if (!(Number.isInteger(options.stepSize) && options.stepSize > 0)) {
      throw new RangeError(`StepLR: stepSize must be a positive integer, got ${options.stepSize}`);
    }
    this.stepSize = options.stepSize;
    this.gamma = checkGamma(this.constructor.name, options.gamma ?? 0.1);
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.optimizer.paramGroups.map((g) => g.lr);
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected hyperparameters(): SchedulerStateDict {
    return { step_size: this.stepSize, gamma: this.gamma };
  }

  protected loadHyperparameters(sd: SchedulerStateDict): void {
    this.stepSize = readNumber('StepLR', sd, 'step_size');
    this.gamma = checkGamma('StepLR.loadStateDict', readNumber('StepLR', sd, 'gamma'));
  }
}

/** Multiplies the lr by gamma at each epoch listed in milestones. */
export class MultiStepLR extends LRScheduler {
  milestones: number[];
  gamma: number;

  constructor(optimizer: AnyOptimizer, options: { milestones: readonly number[]; gamma?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    const milestones: unknown = options.milestones; // checked as JavaScript callers may pass anything
    if (!Array.isArray(milestones) || !milestones.every((m) => Number.isInteger(m))) {
      throw new TypeError('MultiStepLR: milestones must be a list of integers');
    }
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = checkGamma(this.constructor.name, options.gamma ?? 0.1);
    this.initialStep();
  }

  protected computeLr(): number[] {
    // a milestone listed twice decays twice, as torch's Counter does
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    return this.optimizer.paramGroups.map((g) => g.lr * this.gamma ** hits);
  }

  protected hyperparameters(): SchedulerStateDict {
    return { milestones: [...this.milestones], gamma: this.gamma };
  }

  protected loadHyperparameters(sd: SchedulerStateDict): void {
    const m = sd.milestones;
    if (!Array.isArray(m)) throw new TypeError("MultiStepLR.loadStateDict: 'milestones' must be a list of numbers");
    this.milestones = [...m];
    this.gamma = checkGamma('MultiStepLR.loadStateDict', readNumber('MultiStepLR', sd, 'gamma'));
  }
}

/** Multiplies the lr by gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  gamma: number;

  constructor(optimizer: AnyOptimizer, options: { gamma: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    this.gamma = checkGamma('ExponentialLR', options.gamma);
    this.initialStep();
  }

  protected computeLr(): number[] {
    const lrs = this.optimizer.paramGroups.map((g) => g.lr);
    if (this.lastEpoch === 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected hyperparameters(): SchedulerStateDict {
    return { gamma: this.gamma };
  }

  protected loadHyperparameters(sd: SchedulerStateDict): void {
    this.gamma = checkGamma('ExponentialLR.loadStateDict', readNumber('ExponentialLR', sd, 'gamma'));
  }
}

/**
 * Cosine annealing from the base lr to etaMin over tMax epochs (and back up, periodically,
 * past tMax, as torch does): lr_t = etaMin + (base - etaMin) * (1 + cos(pi t / tMax)) / 2.
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;

  constructor(optimizer: AnyOptimizer, options: { tMax: number; etaMin?: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch ?? -1);
    if (!(options.tMax > 0)) throw new RangeError(`CosineAnnealingLR: tMax must be positive, got ${options.tMax}`);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialStep();
  }

  protected computeLr(): number[] {
    const groups = this.optimizer.paramGroups;
    const { tMax, etaMin, lastEpoch: e } = this;
    if (e === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((base) => etaMin + ((base - etaMin) * (1 + Math.cos((e * Math.PI) / tMax))) / 2);
    }
    if (pyMod(e - 1 - tMax, 2 * tMax) === 0) {
      // the recursive ratio below would divide by zero at the bottom of the cosine
      return groups.map((g, i) => g.lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    return groups.map(
      (g) =>
        ((1 + Math.cos((Math.PI * e) / tMax)) / (1 + Math.cos((Math.PI * (e - 1)) / tMax))) * (g.lr - etaMin) + etaMin,
    );
  }

  protected hyperparameters(): SchedulerStateDict {
    return { T_max: this.tMax, eta_min: this.etaMin };
  }

  protected loadHyperparameters(sd: SchedulerStateDict): void {
    this.tMax = readNumber('CosineAnnealingLR', sd, 'T_max');
    this.etaMin = readNumber('CosineAnnealingLR', sd, 'eta_min');
  }
}

export interface ReduceLROnPlateauOptions {
  /** 'min' (default): lower is better; 'max': higher is better. */
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number | number[];
  eps?: number;
}

/** Cuts the lr by factor when a metric has not improved for more than patience epochs. */
export class ReduceLROnPlateau {
  readonly optimizer: AnyOptimizer;
  mode: 'min' | 'max';
  factor: number;
  patience: number;
  threshold: number;
  thresholdMode: 'rel' | 'abs';
  cooldown: number;
  minLrs: number[];
  eps: number;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;
  #lastLr: number[];

  constructor(optimizer: AnyOptimizer, options: ReduceLROnPlateauOptions = {}) {
    this.optimizer = optimizer;
    this.mode = options.mode ?? 'min';
    this.factor = options.factor ?? 0.1;
    this.patience = options.patience ?? 10;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    if (!(this.factor < 1)) throw new RangeError(`ReduceLROnPlateau: factor should be < 1.0, got ${this.factor}`);
    if (this.mode !== 'min' && this.mode !== 'max')
      throw new RangeError(`ReduceLROnPlateau: mode '${String(this.mode)}' is unknown`);
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') {
      throw new RangeError(`ReduceLROnPlateau: thresholdMode '${String(this.thresholdMode)}' is unknown`);
    }
    const groups = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    if (Array.isArray(minLr)) {
      if (minLr.length !== groups)
        throw new RangeError(`ReduceLROnPlateau: expected ${groups} minLr values, got ${minLr.length}`);
      this.minLrs = [...minLr];
    } else {
      this.minLrs = new Array<number>(groups).fill(minLr);
    }
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.#lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1 - this.threshold);
    if (this.mode === 'min') return a < best - this.threshold;
    if (this.thresholdMode === 'rel') return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /** Records one epoch's metric (e.g. the validation loss; a scalar Tensor is read with item()). */
  step(value: number | Tensor): void {
    const metric = value instanceof Tensor ? value.item() : value;
    if (typeof metric !== 'number')
      throw new TypeError('ReduceLROnPlateau.step: metric must be a number or a scalar Tensor');
    this.lastEpoch += 1;
    if (this.isBetter(metric, this.best)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // no bad epochs counted during cooldown
    }
    if (this.numBadEpochs > this.patience) {
      this.optimizer.paramGroups.forEach((group, i) => {
        const newLr = Math.max(group.lr * this.factor, this.minLrs[i]);
        if (group.lr - newLr > this.eps) group.lr = newLr;
      });
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.#lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  getLastLr(): number[] {
    return [...this.#lastLr];
  }

  stateDict(): SchedulerStateDict {
    return {
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      threshold_mode: this.thresholdMode,
      cooldown: this.cooldown,
      min_lrs: [...this.minLrs],
      eps: this.eps,
      best: this.best,
      num_bad_epochs: this.numBadEpochs,
      cooldown_counter: this.cooldownCounter,
      last_epoch: this.lastEpoch,
      _last_lr: [...this.#lastLr],
    };
  }

  loadStateDict(sd: SchedulerStateDict): void {
    const owner = 'ReduceLROnPlateau';
    if (sd.mode !== 'min' && sd.mode !== 'max')
      throw new TypeError(`${owner}.loadStateDict: 'mode' must be 'min' or 'max'`);
    if (sd.threshold_mode !== 'rel' && sd.threshold_mode !== 'abs')
      throw new TypeError(`${owner}.loadStateDict: 'threshold_mode' must be 'rel' or 'abs'`);
    const lists = (key: string): number[] => {
      const v = sd[key];
      if (!Array.isArray(v)) throw new TypeError(`${owner}.loadStateDict: '${key}' must be a list of numbers`);
      return [...v];
    };
    this.mode = sd.mode;
    this.thresholdMode = sd.threshold_mode;
    this.factor = readNumber(owner, sd, 'factor');
    this.patience = readNumber(owner, sd, 'patience');
    this.threshold = readNumber(owner, sd, 'threshold');
    this.cooldown = readNumber(owner, sd, 'cooldown');
    this.eps = readNumber(owner, sd, 'eps');
    // JSON turns ±Infinity into null: the initial best of a fresh scheduler
    this.best = sd.best === null ? (this.mode === 'min' ? Infinity : -Infinity) : readNumber(owner, sd, 'best');
    this.numBadEpochs = readNumber(owner, sd, 'num_bad_epochs');
    this.cooldownCounter = readNumber(owner, sd, 'cooldown_counter');
    this.lastEpoch = readNumber(owner, sd, 'last_epoch');
    this.minLrs = lists('min_lrs');
    this.#lastLr = lists('_last_lr');
  }
}
