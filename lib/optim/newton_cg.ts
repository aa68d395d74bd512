// NewtonCG: Hessian-free (truncated Newton) optimisation after Martens 2010, "Deep learning via
// Hessian-free optimization". Each step:
//   1. evaluates the loss f and its gradient g at θ with the graph kept;
//   2. solves (C + λI) p = -g approximately by preconditioned conjugate gradients, where C is the
//      Hessian (Pearlmutter's R-operator, i.e. a double backward) or the Gauss-Newton matrix
//      Jᵀ H_L J (Schraudolph 2002), applied as matrix-vector products only;
//      - the start is the previous step's final CG iterate decayed by ζ (warm start, §4.5);
//      - the preconditioner is diag(g⊙g + λ)^ξ, ξ = 0.75 (§4.7; Martens sums per-example squared
//        gradients, which would need per-example backward passes: we square the batch gradient);
//      - CG stops on the residual (cgTol), on maxCgIter, on negative curvature, or on Martens'
//        relative-progress test of the quadratic model φ (§4.4: i > k, φ_i < 0 and
//        (φ_i - φ_{i-k}) / φ_i < kε with k = max(10, 0.1 i), ε = 5e-4);
//   3. CG-iterate backtracking (§4.6): of the iterates saved at i = ⌈1.3^j⌉ and the last, it walks
//      back from the last while the loss keeps decreasing;
//   4. Levenberg-Marquardt damping from the reduction ratio ρ = (f(θ+p) - f(θ)) / (q(p) - q(0)),
//      q the undamped quadratic model: λ ← 3/2 λ when ρ < 1/4, λ ← 2/3 λ when ρ > 3/4 (§4.1);
//   5. an Armijo backtracking line search on the step length (Martens and Sutskever 2012, §8.8),
//      starting from lr and shrinking by 0.8 until f(θ + αp) ≤ f(θ) + 0.01 α gᵀp.
// Vectors are flat float64 arrays over all parameters, as LBFGS keeps them.

import { Tensor, tensor } from '../tensor.js';
import { grad } from '../autograd/engine.js';
import { enableGrad, noGrad } from '../autograd/mode.js';
import { gaussNewtonOperator } from '../autograd/gauss_newton.js';
import { Optimizer, type ParamGroup, type Params } from './optimizer.js';
import { floatData } from '../ops/util.js';

export interface NewtonCGOptions {
  /** The first step length the line search tries (1: the CG solution itself). */
  lr: number;
  /** The initial Levenberg-Marquardt damping λ (adapted from the reduction ratio afterwards). */
  damping: number;
  /** Upper bound on CG iterations per step. */
  maxCgIter: number;
  /** CG stops when ‖r‖ ≤ cgTol ‖g‖ (r the residual of the damped system). */
  cgTol: number;
  /** 'gaussNewton' needs the closure to return { output, loss } (see NewtonCGClosure). */
  curvature: 'hessian' | 'gaussNewton';
  /** Adapt λ from the reduction ratio (Levenberg-Marquardt); false keeps it fixed. */
  adaptDamping: boolean;
  /** Exponent ξ of the diagonal preconditioner diag(g⊙g + λ)^ξ; 0 turns preconditioning off. */
  preconditionerExponent: number;
  /** Decay ζ of the previous step's CG solution used as the start of the next CG run; 0: start at 0. */
  warmStart: number;
  /** ε of Martens' relative-progress stopping test; 0 turns the test off. */
  cgProgressTol: number;
  /** Backtrack over the saved CG iterates (Martens §4.6). */
  cgBacktracking: boolean;
  /** Armijo backtracking line search on the step length. */
  lineSearch: boolean;
  /** No step is taken when max |g| ≤ toleranceGrad. */
  toleranceGrad: number;
}

/**
 * What NewtonCG's closure returns: the loss as a Tensor recorded from the parameters (it must
 * not call backward: the optimizer differentiates it itself, twice), or, for the Gauss-Newton
 * curvature, the model's output with the loss as a function of it.
 */
export type NewtonCGClosure = () => Tensor | number | { output: Tensor; loss: (output: Tensor) => Tensor };

/** A number returned by a closure cannot be differentiated: reject it with a message that says so. */
function checkResult(r: ReturnType<NewtonCGClosure>): Tensor | { output: Tensor; loss: (output: Tensor) => Tensor } {
  if (r instanceof Tensor) return r;
  if (r !== null && typeof r === 'object' && r.output instanceof Tensor && typeof r.loss === 'function') return r;
  throw new TypeError(
    'NewtonCG: the closure must return the loss as a Tensor (not a number: it is differentiated twice) or { output, loss }',
  );
}

type Vec = Float64Array;

function dot(a: Vec, b: Vec): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function axpy(alpha: number, x: Vec, y: Vec): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

interface Curvature {
  loss: number;
  gradient: Vec;
  /** C v for a flat v (undamped). */
  apply(v: Vec): Vec;
}

export class NewtonCG extends Optimizer<NewtonCGOptions> {
  constructor(params: Params<NewtonCGOptions>, options: Partial<NewtonCGOptions> = {}) {
    super(params, {
      lr: 1,
      damping: 1,
      maxCgIter: 250,
      cgTol: 1e-10,
      curvature: 'gaussNewton',
      adaptDamping: true,
      preconditionerExponent: 0.75,
      warmStart: 0.95,
      cgProgressTol: 5e-4,
      cgBacktracking: true,
      lineSearch: true,
      toleranceGrad: 0,
      ...options,
    });
    if (this.paramGroups.length !== 1) {
      throw new Error("NewtonCG doesn't support per-parameter options (parameter groups)");
    }
  }

  protected override validate(group: ParamGroup<NewtonCGOptions>): void {
    super.validate(group);
    const n = 'NewtonCG';
    if (!(typeof group.damping === 'number' && group.damping >= 0))
      throw new RangeError(`${n}: damping must be a number ≥ 0, got ${String(group.damping)}`);
    if (!(Number.isInteger(group.maxCgIter) && group.maxCgIter > 0))
      throw new RangeError(`${n}: maxCgIter must be a positive integer, got ${String(group.maxCgIter)}`);
    if (!(typeof group.cgTol === 'number' && group.cgTol >= 0))
      throw new RangeError(`${n}: cgTol must be a number ≥ 0, got ${String(group.cgTol)}`);
    if (group.curvature !== 'hessian' && group.curvature !== 'gaussNewton')
      throw new RangeError(`${n}: curvature must be 'hessian' or 'gaussNewton', got '${String(group.curvature)}'`);
    if (!(group.warmStart >= 0 && group.warmStart <= 1))
      throw new RangeError(`${n}: warmStart must be in [0, 1], got ${String(group.warmStart)}`);
    if (!(group.preconditionerExponent >= 0 && group.preconditionerExponent <= 1))
      throw new RangeError(
        `${n}: preconditionerExponent must be in [0, 1], got ${String(group.preconditionerExponent)}`,
      );
    if (!(group.cgProgressTol >= 0))
      throw new RangeError(`${n}: cgProgressTol must be ≥ 0, got ${String(group.cgProgressTol)}`);
  }

  protected override stateIsPerElement(): boolean {
    return false; // the state holds flat vectors over all parameters
  }

  #params(): Tensor[] {
    return this.paramGroups[0].params;
  }

  #flatten(ts: readonly (Tensor | null)[]): Vec {
    const params = this.#params();
    const out = new Float64Array(params.reduce((n, p) => n + p.size, 0));
    let o = 0;
    params.forEach((p, i) => {
      const t = ts[i];
      if (t != null) out.set(t.data, o);
      o += p.size;
    });
    return out;
  }

  #unflatten(v: Vec): Tensor[] {
    let o = 0;
    return this.#params().map((p) => {
      const t = tensor(v.subarray(o, o + p.size), { dtype: p.dtype, shape: [...p.shape] });
      o += p.size;
      return t;
    });
  }

  #addToParams(alpha: number, v: Vec): void {
    let o = 0;
    for (const p of this.#params()) {
      const d = floatData(p);
      for (let i = 0; i < d.length; i++) d[i] += alpha * v[o + i];
      o += p.size;
    }
  }

  #saveParams(): (Float32Array | Float64Array)[] {
    return this.#params().map((p) => floatData(p).slice());
  }

  #restoreParams(saved: (Float32Array | Float64Array)[]): void {
    this.#params().forEach((p, i) => floatData(p).set(saved[i]));
  }

  /** The loss at the current parameters, without recording a graph. */
  #lossAt(closure: NewtonCGClosure): number {
    return noGrad(() => {
      const r = checkResult(closure());
      const l = r instanceof Tensor ? r : r.loss(r.output);
      if (!(l instanceof Tensor)) throw new TypeError('NewtonCG: the closure must return a Tensor or { output, loss }');
      return l.item();
    });
  }

  #curvature(closure: NewtonCGClosure, kind: 'hessian' | 'gaussNewton'): Curvature {
    const params = this.#params();
    const r = checkResult(enableGrad(closure));
    if (kind === 'gaussNewton') {
      if (r instanceof Tensor) {
        throw new TypeError(
          "NewtonCG: curvature 'gaussNewton' needs the closure to return { output, loss: (output) => Tensor }",
        );
      }
      const op = gaussNewtonOperator('NewtonCG', r.output, r.loss, params);
      return {
        loss: op.value.item(),
        gradient: this.#flatten(op.gradient),
        apply: (v) => this.#flatten(op.apply(this.#unflatten(v))),
      };
    }
    const loss = enableGrad(() => (r instanceof Tensor ? r : r.loss(r.output)));
    if (!(loss instanceof Tensor))
      throw new TypeError('NewtonCG: the closure must return a Tensor or { output, loss }');
    if (loss.size !== 1) throw new Error(`NewtonCG: the closure's loss must have one element, got ${loss.size}`);
    if (!loss.requiresGrad)
      throw new Error(
        'NewtonCG: the loss does not depend on the parameters (did the closure call backward or run under noGrad?)',
      );
    const gs = enableGrad(() => grad(loss, params, { createGraph: true, allowUnused: true }));
    return {
      loss: loss.item(),
      gradient: this.#flatten(gs),
      apply: (v) =>
        enableGrad(() => {
          const vs = this.#unflatten(v);
          let s: Tensor | null = null;
          gs.forEach((g, i) => {
            if (g === null || !g.requiresGrad) return;
            const term = g.mul(vs[i]).sum();
            s = s === null ? term : s.add(term);
          });
          if (s === null) return new Float64Array(v.length);
          return this.#flatten(grad(s, params, { retainGraph: true, allowUnused: true }));
        }),
    };
  }

  /**
   * One Hessian-free step. The closure computes the loss (without calling backward); it is called
   * once with grad recording for the curvature, then without it for backtracking and the line
   * search. Returns the loss before the step.
   */
  step(closure?: NewtonCGClosure): number {
    if (typeof closure !== 'function') throw new TypeError('NewtonCG.step requires a closure that computes the loss');
    const group = this.paramGroups[0];
    const state = this.stateOf(this.#params()[0]);
    state.n_iter = ((state.n_iter as number | undefined) ?? 0) + 1;
    let lambda = (state.damping as number | undefined) ?? group.damping;

    const C = this.#curvature(closure, group.curvature);
    let evals = 1;
    const f0 = C.loss;
    const g = C.gradient;
    const n = g.length;
    let gMax = 0;
    for (let i = 0; i < n; i++) gMax = Math.max(gMax, Math.abs(g[i]));
    if (!Number.isFinite(f0) || gMax <= group.toleranceGrad) {
      state.func_evals = ((state.func_evals as number | undefined) ?? 0) + evals;
      state.cg_iters = 0;
      return f0;
    }
    const B = (v: Vec): Vec => {
      const out = C.apply(v);
      if (lambda !== 0) axpy(lambda, v, out);
      return out;
    };
    // Preconditioner: M = diag(g⊙g + λ)^ξ (ones when ξ = 0).
    const xi = group.preconditionerExponent;
    const minv = new Float64Array(n);
    for (let i = 0; i < n; i++) minv[i] = xi === 0 ? 1 : 1 / Math.pow(g[i] * g[i] + lambda, xi);
    if (!minv.every(Number.isFinite)) minv.fill(1); // λ = 0 and a zero gradient entry

    // φ(x) = ½ xᵀBx + gᵀx; with r = -g - Bx: φ = ½ (gᵀx - rᵀx).
    const phiOf = (x: Vec, r: Vec): number => 0.5 * (dot(g, x) - dot(r, x));
    let x = new Float64Array(n);
    let r = g.map((v) => -v);
    const prev = state.d instanceof Tensor && state.d.size === n ? Float64Array.from(state.d.data) : null;
    if (prev !== null && group.warmStart > 0) {
      const x0 = prev.map((v) => v * group.warmStart);
      const bx = B(x0);
      const r0 = new Float64Array(n);
      for (let i = 0; i < n; i++) r0[i] = -g[i] - bx[i];
      if (phiOf(x0, r0) < 0) {
        x = x0;
        r = r0;
      }
    }

    // Preconditioned CG, keeping iterates at i = ⌈1.3^j⌉ for backtracking.
    const gNorm = Math.sqrt(dot(g, g));
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) y[i] = r[i] * minv[i];
    const p = y.slice();
    let ry = dot(r, y);
    const phis: number[] = [phiOf(x, r)];
    const saved: { x: Vec; phi: number }[] = [];
    let nextSave = 1;
    let saveExp = 0;
    let iters = 0;
    for (let i = 1; i <= group.maxCgIter; i++) {
      if (Math.sqrt(dot(r, r)) <= group.cgTol * gNorm) break;
      const bp = B(p);
      const pbp = dot(p, bp);
      if (!(pbp > 0)) {
        // Negative (or zero) curvature along p: stop here; with nothing found yet, follow p
        // (the preconditioned residual, a descent direction) and let the line search scale it.
        if (i === 1 && dot(x, x) === 0) {
          x = p.slice();
          phis.push(dot(g, x)); // not φ (pᵀBp ≤ 0 is dropped), but negative, enough for ρ's sign
          iters = i;
        }
        break;
      }
      iters = i;
      const alpha = ry / pbp;
      axpy(alpha, p, x);
      axpy(-alpha, bp, r);
      for (let j = 0; j < n; j++) y[j] = r[j] * minv[j];
      const ryNew = dot(r, y);
      const beta = ryNew / ry;
      ry = ryNew;
      for (let j = 0; j < n; j++) p[j] = y[j] + beta * p[j];
      const phi = phiOf(x, r);
      phis.push(phi);
      if (i === nextSave) {
        saved.push({ x: x.slice(), phi });
        while (nextSave <= i) nextSave = Math.ceil(Math.pow(1.3, ++saveExp));
      }
      const k = Math.max(10, Math.ceil(0.1 * i));
      if (group.cgProgressTol > 0 && i > k && phi < 0 && (phi - phis[i - k]) / phi < k * group.cgProgressTol) break;
    }
    const phiLast = phis[phis.length - 1];
    if (saved.length === 0 || saved[saved.length - 1].x.some((v, j) => v !== x[j]))
      saved.push({ x: x.slice(), phi: phiLast });
    state.d = tensor(x.slice(), { dtype: 'float64', shape: [n] });
    state.cg_iters = iters;

    // CG-iterate backtracking: from the last iterate back while the loss keeps decreasing.
    const theta = this.#saveParams();
    const lossWith = (v: Vec, alpha: number): number => {
      this.#addToParams(alpha, v);
      const l = this.#lossAt(closure);
      this.#restoreParams(theta);
      evals++;
      return l;
    };
    let j = saved.length - 1;
    let best = saved[j];
    let fBest = lossWith(best.x, 1);
    if (group.cgBacktracking) {
      while (j > 0) {
        const fPrev = lossWith(saved[j - 1].x, 1);
        if (!(fPrev < fBest)) break;
        j--;
        best = saved[j];
        fBest = fPrev;
      }
    }

    // Reduction ratio against the undamped model q(p) - q(0) = φ_damped(p) - ½λ‖p‖².
    const q = best.phi - 0.5 * lambda * dot(best.x, best.x);
    const rho = q < 0 ? (fBest - f0) / q : -Infinity;
    if (group.adaptDamping) {
      if (!(rho >= 0.25)) lambda *= 1.5;
      else if (rho > 0.75) lambda *= 2 / 3;
    }

    // Line search on the step length.
    const slope = dot(g, best.x);
    let alpha = group.lr;
    let fNew = alpha === 1 ? fBest : lossWith(best.x, alpha);
    if (group.lineSearch) {
      const c = 1e-2;
      let tries = 0;
      while (!(fNew <= f0 + c * alpha * slope) && tries < 60) {
        alpha *= 0.8;
        fNew = lossWith(best.x, alpha);
        tries++;
      }
      if (!(fNew <= f0 + c * alpha * slope)) alpha = 0;
    }
    if (alpha !== 0) this.#addToParams(alpha, best.x);

    state.damping = lambda;
    state.rho = Number.isFinite(rho) ? rho : -1;
    state.step_size = alpha;
    state.func_evals = ((state.func_evals as number | undefined) ?? 0) + evals;
    return f0;
  }
}
