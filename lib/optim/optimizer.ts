// The Optimizer base: parameter groups, per-parameter state, zeroGrad, and torch-shaped state
// dicts ({ state: { [paramIndex]: {...} }, param_groups: [{ ...hyperparameters, params: [indices] }] }).

import { Tensor, zeros } from '../tensor.js';

/** Hyperparameters every optimizer has; schedulers change `lr`. */
export interface BaseOptions {
  lr: number;
}

/** A parameter group as given by the user: its params plus overrides of the defaults. */
export type ParamGroupInput<O extends BaseOptions> = Partial<O> & { params: Iterable<Tensor> };

/** A live parameter group: its params and a full set of hyperparameters. */
export type ParamGroup<O extends BaseOptions> = O & {
  params: Tensor[];
  /** The lr a scheduler started from (torch's group['initial_lr']). */
  initialLr?: number;
};

export type Params<O extends BaseOptions> = Iterable<Tensor> | Iterable<ParamGroupInput<O>>;

/** A value of optimizer state: tensors (moment buffers), numbers (step counts), and lists of them. */
export type StateValue = Tensor | number | boolean | string | null | StateValue[];
export type ParamState = Record<string, StateValue>;

export interface OptimizerStateDict {
  /** Per-parameter state, keyed by the parameter's index across all groups. */
  state: Record<number, ParamState>;
  /** Hyperparameters of each group (snake_case names, as torch), params as indices. */
  param_groups: Array<Record<string, StateValue> & { params: number[] }>;
}

/** What a closure may return: a scalar loss tensor or a number. */
export type Closure = () => Tensor | number;

export function lossValue(loss: Tensor | number): number {
  return typeof loss === 'number' ? loss : loss.item();
}

function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function copyState(value: StateValue, like?: Tensor): StateValue {
  if (value instanceof Tensor) {
    const dtype = like?.dtype ?? value.dtype;
    return value.dtype === dtype ? value.detach().clone() : value.detach().to(dtype);
  }
  if (Array.isArray(value)) return value.map((v) => copyState(v));
  return value;
}

export abstract class Optimizer<O extends BaseOptions> {
  readonly defaults: O;
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state (momentum buffers, moment estimates, step counts). */
  readonly state = new Map<Tensor, ParamState>();

  constructor(params: Params<O>, defaults: O) {
    this.defaults = defaults;
    if (
      params === null ||
      typeof params !== 'object' ||
      typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function'
    ) {
      throw new TypeError(
        `${this.constructor.name}: params must be an iterable of Tensors or parameter groups (e.g. model.parameters())`,
      );
    }
    const list = [...(params as Iterable<Tensor | ParamGroupInput<O>>)];
    if (list.length === 0) throw new Error(`${this.constructor.name}: got an empty parameter list`);
    const groups: ParamGroupInput<O>[] =
      list[0] instanceof Tensor
        ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>]
        : (list as ParamGroupInput<O>[]);
    for (const group of groups) this.addParamGroup(group);
  }

  /** Adds a group; options it leaves out take the optimizer's defaults. */
  addParamGroup(group: ParamGroupInput<O>): void {
    if (group === null || typeof group !== 'object' || !('params' in group)) {
      throw new TypeError(`${this.constructor.name}: a parameter group must be an object with a params list`);
    }
    const params = [...group.params];
    for (const p of params) {
      if (!(p instanceof Tensor)) throw new TypeError(`${this.constructor.name}: params must be Tensors`);
      if (!p.isLeaf) throw new Error(`${this.constructor.name}: can't optimize a non-leaf Tensor`);
    }
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) for (const p of g.params) seen.add(p);
    for (const p of params) {
      if (seen.has(p))
        throw new Error(`${this.constructor.name}: some parameters appear in more than one parameter group`);
      seen.add(p);
    }
    const full = { ...this.defaults, ...group, params } as ParamGroup<O>;
    this.validate(full);
    this.paramGroups.push(full);
  }

  /** Checks a group's hyperparameters; subclasses add their own rules. */
  protected validate(group: ParamGroup<O>): void {
    // Finite as well as non-negative: an infinite rate turns every parameter into NaN at once.
    if (!(typeof group.lr === 'number' && group.lr >= 0 && group.lr !== Infinity)) {
      throw new RangeError(`${this.constructor.name}: invalid learning rate ${String(group.lr)}`);
    }
  }

  /** Drops every gradient (torch's zero_grad(set_to_none=True)), or zeroes them in place. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad === null) continue;
        if (setToNone) p.grad = null;
        else p.grad.data.fill(0);
      }
    }
  }

  /** The state of a parameter, created empty on first use. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (s === undefined) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /** Entry `key` of a parameter's state: a buffer of zeros shaped like p, made on first use. */
  protected zerosState(s: ParamState, key: string, p: Tensor): Tensor {
    let t = s[key] as Tensor | undefined;
    if (t === undefined) {
      t = zeros([...p.shape], { dtype: p.dtype });
      s[key] = t;
    }
    return t;
  }

  abstract step(closure?: Closure): number | undefined;

  /** A deep copy of the optimizer's state, torch-shaped (parameters referred to by index). */
  stateDict(): OptimizerStateDict {
    const state: Record<number, ParamState> = {};
    const param_groups: OptimizerStateDict['param_groups'] = [];
    let index = 0;
    for (const group of this.paramGroups) {
      const saved: Record<string, StateValue> = {};
      for (const [key, value] of Object.entries(group)) {
        if (key === 'params') continue;
        saved[snakeCase(key)] = copyState(value as StateValue);
      }
      const indices: number[] = [];
      for (const p of group.params) {
        const s = this.state.get(p);
        if (s !== undefined) {
          const copy: ParamState = {};
          for (const [k, v] of Object.entries(s)) copy[k] = copyState(v);
          state[index] = copy;
        }
        indices.push(index++);
      }
      param_groups.push({ ...saved, params: indices });
    }
    return { state, param_groups };
  }

  /** Restores hyperparameters and state saved by stateDict() into an optimizer over the same parameters. */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const name = this.constructor.name;
    if (
      stateDict === null ||
      typeof stateDict !== 'object' ||
      !Array.isArray(stateDict.param_groups) ||
      stateDict.state === null ||
      typeof stateDict.state !== 'object'
    ) {
      throw new TypeError(`${name}.loadStateDict: expected { state, param_groups }`);
    }
    const saved = stateDict.param_groups;
    if (saved.length !== this.paramGroups.length) {
      throw new Error(
        `${name}.loadStateDict: the state dict has ${saved.length} parameter groups, the optimizer ${this.paramGroups.length}`,
      );
    }
    saved.forEach((g, i) => {
      const own = this.paramGroups[i].params.length;
      if (!Array.isArray(g.params) || g.params.length !== own) {
        throw new Error(
          `${name}.loadStateDict: parameter group ${i} has ${Array.isArray(g.params) ? g.params.length : 'no'} params in the state dict, ${own} in the optimizer`,
        );
      }
    });
    const byIndex = new Map<number, Tensor>();
    saved.forEach((g, i) => g.params.forEach((index, j) => byIndex.set(index, this.paramGroups[i].params[j])));
    for (const [key, s] of Object.entries(stateDict.state)) {
      const p = byIndex.get(Number(key));
      if (p === undefined) throw new Error(`${name}.loadStateDict: state for parameter ${key}, which no group lists`);
      for (const [k, v] of Object.entries(s)) {
        if (v instanceof Tensor && v.size !== p.size && this.stateIsPerElement(k)) {
          throw new Error(
            `${name}.loadStateDict: state '${k}' of parameter ${key} has shape [${v.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`,
          );
        }
      }
    }
    // Every group's hyperparameters pass the constructor's rules before anything is changed.
    const merged = saved.map((g, i) => {
      const group = { ...this.paramGroups[i] } as unknown as Record<string, unknown>;
      for (const [key, value] of Object.entries(g)) {
        if (key !== 'params') group[camelCase(key)] = copyState(value);
      }
      try {
        this.validate(group as unknown as ParamGroup<O>);
      } catch (e) {
        const err = e as Error;
        const Ctor = err instanceof TypeError ? TypeError : err instanceof RangeError ? RangeError : Error;
        throw new Ctor(`${name}.loadStateDict: parameter group ${i}: ${err.message}`, { cause: e });
      }
      return group;
    });
    merged.forEach((g, i) => Object.assign(this.paramGroups[i], g));
    this.state.clear();
    for (const [key, s] of Object.entries(stateDict.state)) {
      const p = byIndex.get(Number(key)) as Tensor;
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) copy[k] = copyState(v, this.stateIsPerElement(k) ? p : undefined);
      this.state.set(p, copy);
    }
  }

  /** True for state entries shaped like their parameter (moment buffers), cast to its dtype on load. */
  protected stateIsPerElement(key: string): boolean {
    return key !== 'step';
  }
}
