// Forward-forward (Hinton 2022): a forward-only method. Each layer is trained by its own local
// objective, with no backward pass between layers: its "goodness" G (the mean square of its
// activities) should exceed a threshold θ on positive data (an image with its true label written
// into the first `classes` inputs) and stay below it on negative data (the same image with a
// wrong label). Each layer sees the previous layer's activities divided by their length, so only
// their direction, not the goodness, passes upward. A label is predicted by trying each one and
// taking the label with the most goodness summed over the layers.
//
// Chosen over difference target propagation because it needs no learned inverses and trains the
// same Linear layers with the same kernels; a trailing Linear with no activation after it (the
// classifier of a backprop-trained MLP) has no role in forward-forward and is left untouched.

import { Tensor, zeros } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { nextUint32 } from '../random.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers/linear.js';
import { Sequential } from '../nn/layers/container.js';
import { Flatten } from '../nn/layers/shape.js';
import type { OptimizerLike } from '../train/index.js';

export interface ForwardForwardOptions {
  /** Number of classes, written one-hot into the first `classes` inputs (default 10). */
  classes?: number;
  /** Goodness threshold θ (default 2, Hinton's setting for ReLU layers; lower it for tanh). */
  threshold?: number;
}

interface Layer {
  linear: Linear;
  activation: Module;
}

export class ForwardForward {
  readonly model: Sequential;
  readonly classes: number;
  readonly threshold: number;
  readonly #prefix: Module[] = [];
  readonly #layers: Layer[] = [];

  /** `model`: a Sequential of [Flatten], then Linear + activation pairs (a trailing Linear is unused). */
  constructor(model: Sequential, options: ForwardForwardOptions = {}) {
    const name = 'bio.ForwardForward';
    if (!(model instanceof Sequential)) throw new TypeError(`${name}: model must be an nn.Sequential`);
    const { classes = 10, threshold = 2 } = options;
    if (!Number.isInteger(classes) || classes < 2)
      throw new RangeError(`${name}: classes must be an integer >= 2, got ${String(classes)}`);
    if (!(typeof threshold === 'number' && threshold > 0 && Number.isFinite(threshold)))
      throw new RangeError(`${name}: threshold must be a positive number, got ${String(threshold)}`);
    this.model = model;
    this.classes = classes;
    this.threshold = threshold;
    const children = model.children();
    let pending: Linear | null = null;
    for (const m of children) {
      if (m instanceof Flatten && this.#layers.length === 0 && pending === null) this.#prefix.push(m);
      else if (m instanceof Linear && pending === null) pending = m;
      else if (pending !== null && !(m instanceof Linear)) {
        this.#layers.push({ linear: pending, activation: m });
        pending = null;
      } else
        throw new Error(
          `${name}: unsupported layout at ${m.constructor.name}: expected [Flatten], (Linear, activation)+, [Linear]`,
        );
    }
    if (this.#layers.length === 0) throw new Error(`${name}: the model has no Linear + activation pair`);
    if (this.#layers[0].linear.inFeatures < classes)
      throw new Error(
        `${name}: the first layer has ${this.#layers[0].linear.inFeatures} inputs, fewer than ${classes} classes`,
      );
  }

  /** The parameters forward-forward trains (every Linear + activation pair's). */
  parameters(): Tensor[] {
    return this.#layers.flatMap(({ linear }) => linear.parameters());
  }

  /**
   * x (flattened) with labels[i] written one-hot into the first `classes` inputs of row i. The hot
   * input is set to the length of the rest of the row (at least 1), not to 1: every layer divides
   * its input by its length, and a label of 1 next to an image of length ~10 all but vanishes
   * (measured: on the Fashion-MNIST sample, a label of 1 left the test accuracy at chance after 5
   * epochs, a label as long as the image reached 55%).
   */
  embed(x: Tensor, labels: ArrayLike<number>): Tensor {
    let flat = x;
    for (const m of this.#prefix) flat = m.forward(flat) as Tensor;
    const [n, d] = flat.shape;
    const out = zeros([n, d], { dtype: flat.dtype });
    out.data.set(flat.data);
    for (let i = 0; i < n; i++) {
      let norm = 0;
      for (let j = this.classes; j < d; j++) norm += out.data[i * d + j] ** 2;
      const label = labels[i];
      if (!Number.isInteger(label) || label < 0 || label >= this.classes)
        throw new RangeError(`bio.ForwardForward: label ${label} of row ${i} is outside [0, ${this.classes})`);
      out.data.fill(0, i * d, i * d + this.classes);
      out.data[i * d + label] = Math.max(1, Math.sqrt(norm));
    }
    return out;
  }

  /** Each layer's goodness (mean square of its activities), [layers] tensors of shape [N]. */
  goodness(input: Tensor, local: boolean): Tensor[] {
    const out: Tensor[] = [];
    let h = input;
    for (const { linear, activation } of this.#layers) {
      // Only the direction of the layer below passes up; `local` cuts the graph between layers.
      const dir = h.div(h.pow(2).sum(1, true).sqrt().add(1e-8));
      const a = activation.forward(linear.forward(local ? dir.detach() : dir)) as Tensor;
      out.push(a.pow(2).mean(1));
      h = a;
    }
    return out;
  }

  /** The sum over layers of the local losses softplus(θ − G⁺) + softplus(G⁻ − θ), batch means. */
  loss(x: Tensor, target: Tensor): Tensor {
    const labels = Array.from(target.data, Number);
    const wrong = labels.map((y) => (y + 1 + (nextUint32() % (this.classes - 1))) % this.classes);
    const pos = this.goodness(this.embed(x, labels), true);
    const neg = this.goodness(this.embed(x, wrong), true);
    let total: Tensor | null = null;
    for (let l = 0; l < pos.length; l++) {
      const term = pos[l].neg().add(this.threshold).softplus().add(neg[l].sub(this.threshold).softplus()).mean();
      total = total === null ? term : total.add(term);
    }
    return total as Tensor;
  }

  /** One training step on a batch: local losses, local gradients, optimizer step; returns the loss. */
  step(x: Tensor, target: Tensor, optimizer: OptimizerLike): number {
    optimizer.zeroGrad();
    const loss = this.loss(x, target);
    loss.backward();
    optimizer.step();
    return loss.item();
  }

  /** The predicted class of each row: the label whose embedding gives the most total goodness. */
  predict(x: Tensor): Int32Array {
    return noGrad(() => {
      const n = x.shape[0];
      const best = new Float64Array(n).fill(-Infinity);
      const pred = new Int32Array(n);
      for (let c = 0; c < this.classes; c++) {
        const g = this.goodness(this.embed(x, new Int32Array(n).fill(c)), true);
        const total = g.reduce((s, t) => s.add(t));
        for (let i = 0; i < n; i++) {
          if (total.data[i] > best[i]) {
            best[i] = total.data[i];
            pred[i] = c;
          }
        }
      }
      return pred;
    });
  }
}
