// Datasets: indexable collections of [input, target] samples. TensorDataset also hands out whole
// batches by copying rows, so a DataLoader never builds a batch one sample at a time.
import { Tensor, tensor } from '../tensor.js';

/** A map-style data set (torch.utils.data.Dataset): `length` samples, `get(i)` returns one. */
export interface Dataset<T = [Tensor, Tensor]> {
  readonly length: number;
  get(index: number): T;
}

/** A data set that can gather many samples at once (the DataLoader's fast path). */
export interface BatchDataset extends Dataset<[Tensor, Tensor]> {
  getBatch(indices: Int32Array): [Tensor, Tensor];
}

export function isBatchDataset(ds: Dataset<unknown>): ds is BatchDataset {
  return typeof (ds as Partial<BatchDataset>).getBatch === 'function';
}

/** Rows indices[j] of t (along dim 0), as a new contiguous tensor. */
export function gatherRows(t: Tensor, indices: Int32Array): Tensor {
  const n = t.shape[0];
  const row = n === 0 ? 0 : t.size / n;
  const src = t.data;
  const out = t.dtype === 'float64' ? new Float64Array(indices.length * row) : new Float32Array(indices.length * row);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    if (!(i >= 0 && i < n)) throw new RangeError(`gatherRows: index ${i} out of range for ${n} rows`);
    out.set(src.subarray(i * row, (i + 1) * row), j * row);
  }
  return tensor(out, { dtype: t.dtype, shape: [indices.length, ...t.shape.slice(1)] });
}

/** Pairs inputs and targets along their first dimension (torch.utils.data.TensorDataset). */
export class TensorDataset implements BatchDataset {
  readonly x: Tensor;
  readonly y: Tensor;

  constructor(x: Tensor, y: Tensor) {
    if (!(x instanceof Tensor) || !(y instanceof Tensor)) throw new TypeError('TensorDataset: x and y must be Tensors');
    if (x.ndim === 0 || y.ndim === 0 || x.shape[0] !== y.shape[0]) {
      throw new Error(`TensorDataset: x and y need the same first dimension, got shapes [${x.shape.join(', ')}] and [${y.shape.join(', ')}]`);
    }
    this.x = x;
    this.y = y;
  }

  get length(): number {
    return this.x.shape[0];
  }

  /** Sample i: [x[i], y[i]]. */
  get(index: number): [Tensor, Tensor] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`TensorDataset.get: index ${index} out of range for ${this.length} samples`);
    }
    const one = Int32Array.of(index);
    const [x, y] = this.getBatch(one);
    return [x.reshape(...this.x.shape.slice(1)), y.reshape(...this.y.shape.slice(1))];
  }

  getBatch(indices: Int32Array): [Tensor, Tensor] {
    return [gatherRows(this.x, indices), gatherRows(this.y, indices)];
  }
}
