// Gauss-Newton-vector products (Schraudolph 2002): G v = Jᵀ H_L J v, where J is the Jacobian
// of the model's output z with respect to the parameters and H_L the Hessian of the loss with
// respect to z. For a loss convex in z (mse, crossEntropy on logits, bceWithLogits) H_L is
// positive semidefinite, so G is too, unlike the full Hessian, which adds the term
// Σ_k (∂L/∂z_k) ∇²z_k; that is why Hessian-free optimisation (Martens 2010) runs CG on G.
//
// Exact and matrix-free, with three products per v:
//   J v     by the double-vjp trick (see functional.ts) on a recorded u ↦ Jᵀu;
//   H_L w   by a double backward through the loss alone (the loss is evaluated on a detached
//           copy of z, so that this backward stops at z instead of running through the model);
//   Jᵀ w    by one backward through the model.
// The graphs are built once and kept, so that CG can apply G many times at one point.

import { Tensor } from '../tensor.js';
import { grad } from './engine.js';
import { enableGrad } from './mode.js';
import { allocLike, floatData, sameShape, shapeStr } from '../ops/util.js';

/** The Gauss-Newton operator of a model output and a loss at one point of parameter space. */
export interface GaussNewtonOperator {
  /** The loss L(z) (detached). */
  value: Tensor;
  /** ∇_θ L, shaped like the parameters (detached). */
  gradient: Tensor[];
  /** G v = Jᵀ H_L J v, shaped like the parameters (detached); may be called many times. */
  apply(v: readonly Tensor[]): Tensor[];
}

function zerosOf(t: Tensor): Tensor {
  return new Tensor(allocLike(floatData(t), t.data.length), t.shape);
}

/**
 * Builds the Gauss-Newton operator from a model output `output` (recorded from `params`) and a
 * loss function of that output. `name` prefixes error messages.
 */
export function gaussNewtonOperator(
  name: string,
  output: Tensor,
  lossFn: (output: Tensor) => Tensor,
  params: readonly Tensor[],
): GaussNewtonOperator {
  return enableGrad(() => {
    if (!(output instanceof Tensor)) throw new TypeError(`${name}: the model must return a Tensor`);
    if (!output.requiresGrad) {
      throw new Error(`${name}: the model's output does not depend on the parameters (no parameter requires grad?)`);
    }
    const z = output.detach().requiresGrad_(true);
    const loss = lossFn(z);
    if (!(loss instanceof Tensor)) throw new TypeError(`${name}: the loss must return a Tensor`);
    if (loss.size !== 1)
      throw new Error(`${name}: the loss must return a one-element Tensor, got shape ${shapeStr(loss.shape)}`);
    // ∇_z L with its graph (for H_L products), and ∇_θ L = Jᵀ ∇_z L.
    const [gz] = loss.requiresGrad ? grad(loss, [z], { createGraph: true, allowUnused: true }) : [null];
    const gzValue = gz === null ? zerosOf(z) : gz.detach();
    const jt = (w: Tensor): Tensor[] =>
      grad(output, params as Tensor[], { gradOutputs: w, retainGraph: true, allowUnused: true }).map((g, i) =>
        g === null ? zerosOf(params[i]) : g,
      );
    const gradient = jt(gzValue);
    // u ↦ Jᵀu recorded once, for J v by differentiating with respect to u.
    const u = zerosOf(output).requiresGrad_(true);
    const ju = grad(output, params, {
      gradOutputs: u,
      createGraph: true,
      retainGraph: true,
      allowUnused: true,
    });
    const apply = (vIn: readonly Tensor[]): Tensor[] =>
      enableGrad(() => {
        const v: readonly unknown[] = vIn;
        if (!Array.isArray(v) || v.length !== params.length) {
          throw new Error(`${name}: v must be an array of ${params.length} Tensors, one per parameter`);
        }
        v.forEach((vi, i) => {
          if (!(vi instanceof Tensor) || !sameShape(vi.shape, params[i].shape)) {
            throw new Error(
              `${name}: v[${i}] must be a Tensor of the parameter's shape ${shapeStr(params[i].shape)}` +
                (vi instanceof Tensor ? `, got ${shapeStr(vi.shape)}` : ''),
            );
          }
        });
        let dot: Tensor | null = null;
        ju.forEach((g, i) => {
          if (g === null || !g.requiresGrad) return;
          const term = g.mul(vIn[i].detach()).sum();
          dot = dot === null ? term : dot.add(term);
        });
        if (dot === null || gz === null || !gz.requiresGrad) return params.map(zerosOf);
        const [jv] = grad(dot, [u], { retainGraph: true, allowUnused: true });
        if (jv === null) return params.map(zerosOf);
        const [hjv] = grad(gz.mul(jv.detach()).sum(), [z], { retainGraph: true, allowUnused: true });
        if (hjv === null) return params.map(zerosOf);
        return jt(hjv.detach());
      });
    return { value: loss.detach(), gradient, apply };
  });
}

/** A model: a function of the input, or a module (anything with forward and parameters). */
export type GaussNewtonModel =
  ((input: Tensor) => Tensor) | { forward(input: Tensor): Tensor; parameters(): Iterable<Tensor> };

export interface GnvpOptions {
  /** The parameters θ; default: the module's parameters() (required for a plain function). */
  params?: Iterable<Tensor>;
}

export interface GnvpResult {
  /** loss(model(input), target), detached. */
  value: Tensor;
  /** G v = Jᵀ H_L J v, an array shaped like the parameters. */
  gnvp: Tensor[];
}

/**
 * The Gauss-Newton-vector product of loss(model(input), target) with respect to the model's
 * parameters: G v = Jᵀ H_L J v, exact, without forming J, H_L or G. `loss` is e.g. F.mseLoss,
 * F.crossEntropy, F.bceWithLogits (taking the output first, the target second; the target is
 * passed through as given, so class indices work for crossEntropy).
 */
export function gnvp<Y = Tensor>(
  model: GaussNewtonModel,
  loss: (output: Tensor, target: Y) => Tensor,
  input: Tensor,
  target: Y,
  v: readonly Tensor[],
  options: GnvpOptions = {},
): GnvpResult {
  const name = 'gnvp';
  if (typeof loss !== 'function') throw new TypeError(`${name}: loss must be a function (output, target) => Tensor`);
  if (!(input instanceof Tensor)) throw new TypeError(`${name}: input must be a Tensor`);
  const forward: (x: Tensor) => Tensor = typeof model === 'function' ? model : (x) => model.forward(x);
  let params: Tensor[];
  if (options.params !== undefined) params = [...options.params];
  else if (typeof model !== 'function' && typeof model.parameters === 'function') params = [...model.parameters()];
  else throw new TypeError(`${name}: pass options.params when the model is a plain function`);
  if (params.length === 0) throw new Error(`${name}: there are no parameters`);
  params.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new TypeError(`${name}: params[${i}] must be a Tensor`);
    if (!p.requiresGrad) throw new Error(`${name}: params[${i}] does not require grad`);
  });
  if (!Array.isArray(v)) throw new TypeError(`${name}: v must be an array of Tensors, one per parameter`);
  if (v.length !== params.length)
    throw new Error(`${name}: got ${v.length} tensors in v for ${params.length} parameters`);
  const output = enableGrad(() => forward(input));
  const op = gaussNewtonOperator(name, output, (z) => loss(z, target), params);
  return { value: op.value, gnvp: op.apply(v) };
}
