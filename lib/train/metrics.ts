// Metrics accumulated over the batches of an epoch. They read the output values directly
// (no autograd), after the step, so they cost nothing in the graph.
import type { Tensor } from '../tensor.js';

export interface Metric {
  /** Key in the epoch logs (validation values get a `val` prefix: valAccuracy). */
  readonly name: string;
  reset(): void;
  update(output: Tensor, target: Tensor): void;
  compute(): number;
}

/**
 * Classification accuracy: for [N, C] outputs (C > 1) the predicted class is the argmax of
 * each row; for [N] or [N, 1] outputs (binary logits) it is output > 0.
 */
export class Accuracy implements Metric {
  readonly name = 'accuracy';
  #correct = 0;
  #total = 0;

  reset(): void {
    this.#correct = 0;
    this.#total = 0;
  }

  update(output: Tensor, target: Tensor): void {
    const n = output.shape[0];
    const classes = output.ndim === 2 ? output.shape[1] : 1;
    if (output.ndim > 2 || output.ndim === 0 || target.size !== n) {
      throw new Error(
        `accuracy: expects outputs [N, C] or [N] and N targets, got shapes [${output.shape.join(', ')}] and [${target.shape.join(', ')}]`,
      );
    }
    const o = output.data;
    const t = target.data;
    for (let i = 0; i < n; i++) {
      let predicted: number;
      if (classes === 1) {
        predicted = o[i] > 0 ? 1 : 0;
      } else {
        predicted = 0;
        let best = o[i * classes];
        for (let c = 1; c < classes; c++) {
          const v = o[i * classes + c];
          if (v > best) {
            best = v;
            predicted = c;
          }
        }
      }
      if (predicted === t[i]) this.#correct++;
    }
    this.#total += n;
  }

  compute(): number {
    return this.#total === 0 ? NaN : this.#correct / this.#total;
  }
}

/** 'loss' is accepted for familiarity (Keras) but always reported anyway. */
export type MetricSpec = 'loss' | 'accuracy' | Metric;

/** Metric objects for the given specs: a fresh Accuracy per 'accuracy', Metric objects as given. */
export function createMetrics(specs: readonly MetricSpec[]): Metric[] {
  return specs
    .filter((s) => s !== 'loss')
    .map((s) => {
      if (s === 'accuracy') return new Accuracy();
      if (typeof s === 'object' && s !== null && typeof s.update === 'function') return s;
      const spec: unknown = s; // what a JavaScript caller passed
      const what = typeof spec === 'string' ? `'${spec}'` : `of type ${spec === null ? 'null' : typeof spec}`;
      throw new TypeError(`fit: unknown metric ${what} (use 'loss', 'accuracy' or an object implementing Metric)`);
    });
}
