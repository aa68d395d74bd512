// Predictive coding (Whittington and Bogacz 2017) for MLPs: each layer's value node x_l predicts
// the next, μ_{l+1} = W_l f(x_l) + b_l, with prediction errors ε_l = x_l − μ_l. Learning has two
// phases. Inference clamps the input and the output (to the feedforward output moved against the
// loss gradient, so for a squared error it is the target) and relaxes the hidden nodes down the
// energy F = Σ ½‖ε_l‖²/σ²_l: x_l += γ(−ε_l + f'(x_l) ⊙ W_lᵀ ε_{l+1}/σ²_{l+1}). Learning then takes
// ΔW_l ∝ ε_{l+1} f(x_l)ᵀ, a local, Hebbian-like rule; the negated update is stored as the gradient,
// so any optimizer applies it. As inference converges and the output nudge is small, ε_l tends to
// backpropagation's δ_l and the updates to its gradients (the paper's result, checked in a test).

import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { willRecord } from '../ops/util.js';
import { linear } from '../ops/matmul.js';
import { localLearningTap } from '../ops/feedback.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers/linear.js';
import { Sequential } from '../nn/layers/container.js';
import { Flatten } from '../nn/layers/shape.js';
import { ReLU, Sigmoid, Tanh } from '../nn/layers/activation.js';

export interface PredictiveCodingOptions {
  /** Inference steps per batch (default 20). */
  iterations?: number;
  /** Inference step size γ (default 0.1). */
  stepSize?: number;
  /**
   * σ²_L, the output layer's variance relative to the hidden layers' (Whittington and Bogacz's
   * Σ; default 100). The energy weighs the output error by 1/σ²_L and the output is clamped
   * σ²_L·g away from its prediction, so the weighted output error starts at −g. The larger σ²_L,
   * the less the relaxed hidden nodes change the output error, and the closer the updates come to
   * backpropagation's (equal in the limit); 1 is the unweighted energy.
   */
  outputVariance?: number;
}

interface Activation {
  f: (x: Tensor) => Tensor;
  df: (x: Tensor) => Tensor;
}

const identity: Activation = { f: (x) => x, df: (x) => x.mul(0).add(1) };

function activationOf(m: Module): Activation | null {
  if (m instanceof Tanh) return { f: (x) => x.tanh(), df: (x) => x.tanh().pow(2).neg().add(1) };
  if (m instanceof Sigmoid)
    return {
      f: (x) => x.sigmoid(),
      df: (x) => {
        const s = x.sigmoid();
        return s.mul(s.neg().add(1));
      },
    };
  if (m instanceof ReLU) return { f: (x) => x.relu(), df: (x) => x.gt(0).to(x.dtype) };
  return null;
}

export class PredictiveCoding extends Module {
  readonly model: Sequential;
  readonly iterations: number;
  readonly stepSize: number;
  readonly outputVariance: number;
  readonly #prefix: Module[] = [];
  readonly #linears: Linear[] = [];
  /** #activations[l] is f of value node l + 1 (the one after linear l); identity if none. */
  readonly #activations: Activation[] = [];

  /**
   * Wraps `model`, a Sequential of Flatten (first), then Linear layers with one Tanh, Sigmoid or
   * ReLU (or none) between them, ending with a Linear. The forward is the model's; under grad,
   * backward runs inference and leaves predictive coding's updates in the parameters' `.grad`.
   */
  constructor(model: Sequential, options: PredictiveCodingOptions = {}) {
    super();
    const name = 'bio.PredictiveCoding';
    if (!(model instanceof Sequential)) throw new TypeError(`${name}: model must be an nn.Sequential`);
    const { iterations = 20, stepSize = 0.1, outputVariance = 100 } = options;
    if (!Number.isInteger(iterations) || iterations < 0)
      throw new RangeError(`${name}: iterations must be a non-negative integer, got ${String(iterations)}`);
    if (!(typeof stepSize === 'number' && stepSize > 0 && Number.isFinite(stepSize)))
      throw new RangeError(`${name}: stepSize must be a positive number, got ${String(stepSize)}`);
    if (!(typeof outputVariance === 'number' && outputVariance > 0 && Number.isFinite(outputVariance)))
      throw new RangeError(`${name}: outputVariance must be a positive number, got ${String(outputVariance)}`);
    this.outputVariance = outputVariance;
    this.iterations = iterations;
    this.stepSize = stepSize;
    for (const m of model.children()) {
      const act = activationOf(m);
      if (m instanceof Linear) {
        if (this.#activations.length < this.#linears.length) this.#activations.push(identity);
        this.#linears.push(m);
      } else if (m instanceof Flatten && this.#linears.length === 0) {
        this.#prefix.push(m);
      } else if (act !== null && this.#activations.length < this.#linears.length) {
        this.#activations.push(act);
      } else {
        throw new Error(
          `${name}: unsupported layout at ${m.constructor.name}: expected [Flatten], Linear, activation, Linear, ..., Linear`,
        );
      }
    }
    if (this.#linears.length === 0) throw new Error(`${name}: the model has no Linear layer`);
    if (this.#activations.length === this.#linears.length)
      throw new Error(`${name}: the model must end with a Linear layer (its output is the clamped node)`);
    this.model = this.registerModule('model', model) as Sequential;
  }

  forward(x: Tensor): Tensor {
    const params = this.#linears.flatMap((l) => (l.bias === null ? [l.weight] : [l.weight, l.bias]));
    if (!willRecord(params)) return this.model.forward(x);
    const mu = noGrad(() => {
      let x0 = x;
      for (const m of this.#prefix) x0 = m.forward(x0) as Tensor;
      const values: Tensor[] = [x0];
      for (let l = 0; l < this.#linears.length; l++) values.push(this.#predict(l, values[l]));
      return values;
    });
    return localLearningTap(mu[mu.length - 1], params, (g) => noGrad(() => this.#learn(mu, g)));
  }

  /** μ_{l+1} from value node l (node 0, the input, is used as is). */
  #predict(l: number, xl: Tensor): Tensor {
    const input = l === 0 ? xl : this.#activations[l - 1].f(xl);
    return linear(input, this.#linears[l].weight, this.#linears[l].bias);
  }

  /** Inference from the feedforward values, then each parameter's negated update. */
  #learn(mu: readonly Tensor[], g: Tensor): (Tensor | null)[] {
    const L = this.#linears.length;
    const x = [...mu];
    x[L] = mu[L].sub(g.mul(this.outputVariance)); // the clamped output, against the loss gradient
    // Precision-weighted errors ε_l / σ²_l: σ² = 1 for hidden layers, outputVariance at the output.
    const errors = (): Tensor[] => {
      const eps: Tensor[] = [x[0].mul(0)];
      for (let l = 1; l <= L; l++) {
        const e = x[l].sub(this.#predict(l - 1, x[l - 1]));
        eps.push(l === L ? e.div(this.outputVariance) : e);
      }
      return eps;
    };
    for (let t = 0; t < this.iterations; t++) {
      const eps = errors();
      for (let l = 1; l < L; l++) {
        const fromAbove = this.#activations[l - 1].df(x[l]).mul(eps[l + 1].matmul(this.#linears[l].weight));
        x[l] = x[l].add(fromAbove.sub(eps[l]).mul(this.stepSize));
      }
    }
    const eps = errors();
    const grads: (Tensor | null)[] = [];
    for (let l = 0; l < L; l++) {
      const input = l === 0 ? x[0] : this.#activations[l - 1].f(x[l]);
      const e = eps[l + 1].reshape([-1, eps[l + 1].shape[eps[l + 1].ndim - 1]]);
      grads.push(
        e
          .t()
          .matmul(input.reshape([e.shape[0], -1]))
          .neg(),
      );
      if (this.#linears[l].bias !== null) grads.push(e.sum(0).neg());
    }
    return grads;
  }
}
