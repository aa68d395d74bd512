// torch.optim.LBFGS: limited-memory BFGS (two-loop recursion) over all parameters flattened
// into one vector, with an optional strong-Wolfe line search (cubic interpolation, bracketing
// and zoom), following torch's algorithm step for step. Vectors are kept in float64.

import { Tensor, tensor } from '../tensor.js';
import { floatData } from '../ops/util.js';
import { Optimizer, lossValue, type Closure, type ParamGroup, type Params } from './optimizer.js';
import { bumpVersion } from '../autograd/version.js';

export interface LBFGSOptions {
  lr: number;
  maxIter: number;
  /** Defaults to floor(maxIter * 5 / 4). */
  maxEval: number | null;
  toleranceGrad: number;
  toleranceChange: number;
  historySize: number;
  lineSearchFn: 'strong_wolfe' | null;
}

type Vec = Float64Array;

function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function absMax(a: Vec): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]);
    if (v > m || Number.isNaN(v)) m = v;
  }
  return m;
}

function absSum(a: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]);
  return s;
}

/**
 * Minimiser of the cubic interpolating (x1, f1, g1) and (x2, f2, g2), clamped to bounds
 * (by default the interval between x1 and x2); the midpoint when the cubic has no minimum.
 */
export function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [lo, hi] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2Square = d1 * d1 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPos =
      x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return Math.min(Math.max(minPos, lo), hi);
  }
  return (lo + hi) / 2;
}

type Objective = (t: number) => [number, Vec];

/**
 * Strong-Wolfe line search along d from the current point (loss f, gradient g, slope gtd),
 * starting at step t. Returns [loss, gradient, step, evaluations].
 */
function strongWolfe(
  obj: Objective,
  t: number,
  d: Vec,
  f: number,
  g: Vec,
  gtd: number,
  c1 = 1e-4,
  c2 = 0.9,
  toleranceChange = 1e-9,
  maxLs = 25,
): [number, Vec, number, number] {
  const dNorm = absMax(d);
  let [fNew, gNew] = obj(t);
  let evals = 1;
  let gtdNew = dot(gNew, d);

  let tPrev = 0,
    fPrev = f,
    gPrev: Vec = g.slice(),
    gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketG: Vec[] = [];
  let bracketGtd: number[] = [];
  while (lsIter < maxLs) {
    // the step went too far (Armijo fails, or the loss stopped decreasing): a bracket
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew.slice()];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      bracket = [t];
      bracketF = [fNew];
      bracketG = [gNew];
      done = true;
      break;
    }
    if (gtdNew >= 0) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew.slice()];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    // extrapolate
    const minStep = t + 0.01 * (t - tPrev);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
    tPrev = tmp;
    fPrev = fNew;
    gPrev = gNew.slice();
    gtdPrev = gtdNew;
    [fNew, gNew] = obj(t);
    evals += 1;
    gtdNew = dot(gNew, d);
    lsIter += 1;
  }
  if (lsIter === maxLs) {
    bracket = [0, t];
    bracketF = [f, fNew];
    bracketG = [g, gNew];
  }

  // zoom: shrink the bracket until a point satisfies the strong Wolfe conditions
  let insufProgress = false;
  let [lowPos, highPos] = bracketF[0] <= bracketF[bracketF.length - 1] ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    if (Math.abs(bracket[1] - bracket[0]) * dNorm < toleranceChange) break;
    t = cubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
    // keep away from the ends of the bracket unless that repeatedly fails to make progress
    const bMax = Math.max(bracket[0], bracket[1]);
    const bMin = Math.min(bracket[0], bracket[1]);
    const eps = 0.1 * (bMax - bMin);
    if (Math.min(bMax - t, t - bMin) < eps) {
      if (insufProgress || t >= bMax || t <= bMin) {
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufProgress = false;
      } else {
        insufProgress = true;
      }
    } else {
      insufProgress = false;
    }
    [fNew, gNew] = obj(t);
    evals += 1;
    gtdNew = dot(gNew, d);
    lsIter += 1;

    if (fNew > f + c1 * t * gtd || fNew >= bracketF[lowPos]) {
      bracket[highPos] = t;
      bracketF[highPos] = fNew;
      bracketG[highPos] = gNew.slice();
      bracketGtd[highPos] = gtdNew;
      [lowPos, highPos] = bracketF[0] <= bracketF[1] ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        done = true;
      } else if (gtdNew * (bracket[highPos] - bracket[lowPos]) >= 0) {
        bracket[highPos] = bracket[lowPos];
        bracketF[highPos] = bracketF[lowPos];
        bracketG[highPos] = bracketG[lowPos];
        bracketGtd[highPos] = bracketGtd[lowPos];
      }
      bracket[lowPos] = t;
      bracketF[lowPos] = fNew;
      bracketG[lowPos] = gNew.slice();
      bracketGtd[lowPos] = gtdNew;
    }
  }
  return [bracketF[lowPos], bracketG[lowPos], bracket[lowPos], evals];
}

function vecTensor(v: Vec): Tensor {
  return tensor(v, { dtype: 'float64', shape: [v.length] });
}

/**
 * The float64 values of a state tensor, shared rather than copied: step() never writes into a
 * history vector (every update makes a new one), so the saved state can hold the same arrays.
 */
function vecOf(value: unknown): Vec | null {
  if (!(value instanceof Tensor)) return null;
  return value.data instanceof Float64Array ? value.data : Float64Array.from(value.data);
}

export class LBFGS extends Optimizer<LBFGSOptions> {
  constructor(params: Params<LBFGSOptions>, options: Partial<LBFGSOptions> = {}) {
    const maxIter = options.maxIter ?? 20;
    super(params, {
      lr: 1,
      maxIter,
      maxEval: null,
      toleranceGrad: 1e-7,
      toleranceChange: 1e-9,
      historySize: 100,
      lineSearchFn: null,
      ...options,
    });
    if (this.paramGroups.length !== 1) {
      throw new Error("LBFGS doesn't support per-parameter options (parameter groups)");
    }
    const group = this.paramGroups[0];
    if (group.maxEval === null || group.maxEval === undefined) group.maxEval = Math.floor((group.maxIter * 5) / 4);
  }

  protected override validate(group: ParamGroup<LBFGSOptions>): void {
    super.validate(group);
    if (!(Number.isInteger(group.maxIter) && group.maxIter > 0))
      throw new RangeError(`LBFGS: maxIter must be a positive integer, got ${group.maxIter}`);
    if (!(Number.isInteger(group.historySize) && group.historySize > 0))
      throw new RangeError(`LBFGS: historySize must be a positive integer, got ${group.historySize}`);
    if (group.lineSearchFn !== null && group.lineSearchFn !== 'strong_wolfe') {
      throw new RangeError(
        `LBFGS: only 'strong_wolfe' is supported as lineSearchFn, got '${String(group.lineSearchFn)}'`,
      );
    }
  }

  protected override stateIsPerElement(): boolean {
    return false; // the state holds flat vectors over all parameters
  }

  #params(): Tensor[] {
    return this.paramGroups[0].params;
  }

  #numel(): number {
    return this.#params().reduce((n, p) => n + p.size, 0);
  }

  #gatherFlatGrad(): Vec {
    const out = new Float64Array(this.#numel());
    let offset = 0;
    for (const p of this.#params()) {
      if (p.grad !== null) out.set(p.grad.data, offset);
      offset += p.size;
    }
    return out;
  }

  #addGrad(stepSize: number, update: Vec): void {
    let offset = 0;
    for (const p of this.#params()) {
      const data = p.data;
      for (let i = 0; i < data.length; i++) data[i] += stepSize * update[offset + i];
      offset += p.size;
    }
  }

  #cloneParams(): FloatArrayLike[] {
    return this.#params().map((p) => floatData(p).slice());
  }

  #setParams(values: FloatArrayLike[]): void {
    this.#params().forEach((p, i) => {
      p.data.set(values[i]);
      bumpVersion(p.data);
    });
  }

  /**
   * Runs up to maxIter iterations; closure must zero the gradients, compute the loss, call
   * backward and return the loss. Returns the loss of the first evaluation.
   */
  step(closure?: Closure): number {
    if (closure === undefined) throw new TypeError('LBFGS.step requires a closure that re-evaluates the loss');
    const group = this.paramGroups[0];
    const { lr, maxIter, toleranceGrad, toleranceChange, lineSearchFn, historySize } = group;
    const maxEval = group.maxEval ?? Math.floor((maxIter * 5) / 4);
    const state = this.stateOf(this.#params()[0]);
    state.func_evals ??= 0;
    state.n_iter ??= 0;

    const origLoss = lossValue(closure());
    let loss = origLoss;
    let currentEvals = 1;
    state.func_evals = (state.func_evals as number) + 1;

    let flatGrad = this.#gatherFlatGrad();
    let optCond = absMax(flatGrad) <= toleranceGrad;
    if (optCond) return origLoss;

    let d = vecOf(state.d);
    let t = (state.t as number | undefined) ?? 0;
    const oldDirs = ((state.old_dirs as Tensor[] | undefined) ?? []).map((v) => vecOf(v) as Vec);
    const oldStps = ((state.old_stps as Tensor[] | undefined) ?? []).map((v) => vecOf(v) as Vec);
    const ro: number[] = [...((state.ro as number[] | undefined) ?? [])];
    let hDiag = (state.H_diag as number | undefined) ?? 1;
    let prevFlatGrad = vecOf(state.prev_flat_grad);
    let prevLoss = (state.prev_loss as number | undefined) ?? loss;

    let nIter = 0;
    while (nIter < maxIter) {
      nIter += 1;
      state.n_iter = (state.n_iter as number) + 1;

      // direction: steepest descent first, then the two-loop recursion over the history
      if (state.n_iter === 1 || d === null || prevFlatGrad === null) {
        d = flatGrad.map((v) => -v);
        oldDirs.length = 0;
        oldStps.length = 0;
        ro.length = 0;
        hDiag = 1;
      } else {
        const prev = prevFlatGrad;
        const y = flatGrad.map((v, i) => v - prev[i]);
        const s = d.map((v) => v * t);
        const ys = dot(y, s);
        if (ys > 1e-10) {
          if (oldDirs.length === historySize) {
            oldDirs.shift();
            oldStps.shift();
            ro.shift();
          }
          oldDirs.push(y);
          oldStps.push(s);
          ro.push(1 / ys);
          hDiag = ys / dot(y, y);
        }
        const numOld = oldDirs.length;
        const al = new Array<number>(numOld);
        const q = flatGrad.map((v) => -v);
        for (let i = numOld - 1; i >= 0; i--) {
          al[i] = dot(oldStps[i], q) * ro[i];
          const dir = oldDirs[i];
          for (let j = 0; j < q.length; j++) q[j] -= al[i] * dir[j];
        }
        const r = q.map((v) => v * hDiag);
        for (let i = 0; i < numOld; i++) {
          const be = dot(oldDirs[i], r) * ro[i];
          const stp = oldStps[i];
          for (let j = 0; j < r.length; j++) r[j] += (al[i] - be) * stp[j];
        }
        d = r;
      }
      prevFlatGrad = flatGrad.slice();
      prevLoss = loss;

      // step length: scaled down on the very first iteration, lr afterwards
      t = state.n_iter === 1 ? Math.min(1, 1 / absSum(flatGrad)) * lr : lr;

      const gtd = dot(flatGrad, d);
      if (gtd > -toleranceChange) break; // not a descent direction

      let lsEvals = 0;
      if (lineSearchFn === 'strong_wolfe') {
        const xInit = this.#cloneParams();
        const dir = d;
        const objective: Objective = (step) => {
          this.#addGrad(step, dir);
          const value = lossValue(closure());
          const g = this.#gatherFlatGrad();
          this.#setParams(xInit);
          return [value, g];
        };
        [loss, flatGrad, t, lsEvals] = strongWolfe(objective, t, d, loss, flatGrad, gtd);
        this.#addGrad(t, d);
        optCond = absMax(flatGrad) <= toleranceGrad;
      } else {
        this.#addGrad(t, d);
        if (nIter !== maxIter) {
          // re-evaluate unless this is the last iteration (the caller's next step does it)
          loss = lossValue(closure());
          flatGrad = this.#gatherFlatGrad();
          optCond = absMax(flatGrad) <= toleranceGrad;
          lsEvals = 1;
        }
      }
      currentEvals += lsEvals;
      state.func_evals = state.func_evals + lsEvals;

      if (nIter === maxIter) break;
      if (currentEvals >= maxEval) break;
      if (optCond) break;
      if (absMax(d) * Math.abs(t) <= toleranceChange) break;
      if (Math.abs(loss - prevLoss) < toleranceChange) break;
    }

    state.d = d === null ? null : vecTensor(d);
    state.t = t;
    state.old_dirs = oldDirs.map(vecTensor);
    state.old_stps = oldStps.map(vecTensor);
    state.ro = ro;
    state.H_diag = hDiag;
    state.prev_flat_grad = prevFlatGrad === null ? null : vecTensor(prevFlatGrad);
    state.prev_loss = prevLoss;
    return origLoss;
  }
}

type FloatArrayLike = Float32Array | Float64Array;
