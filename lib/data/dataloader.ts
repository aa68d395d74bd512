// DataLoader: batches of a data set, in order or shuffled by the library's seeded generator
// (manualSeed makes the order reproducible, and a checkpoint of the generator's state makes a
// resumed run draw the same orders). The permutation is drawn when an iteration starts, as
// torch's RandomSampler does, so each epoch (each for-of) gets a fresh order.
import { Tensor, tensor } from '../tensor.js';
import { randomPermutation } from '../random.js';
import { Generator } from '../generator.js';
import { isBatchDataset, type Dataset } from './dataset.js';

export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle at the start of every iteration (default false). */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /**
   * The generator shuffling draws from (torch's `generator`); default: the library's global one.
   * With its own generator a loader's orders do not depend on other random draws in the process.
   */
  generator?: Generator;
}

export class DataLoader implements Iterable<[Tensor, Tensor]>, AsyncIterable<[Tensor, Tensor]> {
  readonly dataset: Dataset<[Tensor, Tensor]>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly generator: Generator | null;

  constructor(dataset: Dataset<[Tensor, Tensor]>, options: DataLoaderOptions = {}) {
    if (options === null || typeof options !== 'object')
      throw new TypeError(`DataLoader: options must be an object, got ${options === null ? 'null' : typeof options}`);
    const { batchSize = 1, shuffle = false, dropLast = false, generator } = options;
    if (generator !== undefined && !(generator instanceof Generator))
      throw new TypeError('DataLoader: generator must be a Generator');
    if (typeof shuffle !== 'boolean' || typeof dropLast !== 'boolean')
      throw new TypeError('DataLoader: shuffle and dropLast must be booleans');
    if (!dataset || typeof dataset.get !== 'function' || !Number.isInteger(dataset.length)) {
      throw new TypeError('DataLoader: dataset must have an integer length and a get(index) method');
    }
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`DataLoader: batchSize must be an integer >= 1, got ${String(batchSize)}`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.generator = generator ?? null;
  }

  /** Number of batches per iteration. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  *[Symbol.iterator](): Iterator<[Tensor, Tensor]> {
    const n = this.dataset.length;
    const order = !this.shuffle ? null : this.generator ? this.generator.randperm(n) : randomPermutation(n);
    const batches = this.length;
    for (let b = 0; b < batches; b++) {
      const start = b * this.batchSize;
      const end = Math.min(start + this.batchSize, n);
      const indices = new Int32Array(end - start);
      for (let j = 0; j < indices.length; j++) indices[j] = order ? order[start + j] : start + j;
      yield this.#fetch(indices);
    }
  }

  /** The same batches, handing control back to the event loop between batches. */
  async *[Symbol.asyncIterator](): AsyncIterator<[Tensor, Tensor]> {
    for (const batch of this) {
      yield batch;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  #fetch(indices: Int32Array): [Tensor, Tensor] {
    const ds = this.dataset;
    if (isBatchDataset(ds)) return ds.getBatch(indices);
    const samples = Array.from(indices, (i) => ds.get(i));
    return [collate(samples.map((s) => s[0])), collate(samples.map((s) => s[1]))];
  }
}

/** Stacks same-shaped samples along a new first dimension. */
function collate(items: Tensor[]): Tensor {
  const first = items[0];
  const size = first.size;
  const out = first.dtype === 'float64' ? new Float64Array(items.length * size) : new Float32Array(items.length * size);
  items.forEach((t, j) => {
    if (t.size !== size || t.shape.join() !== first.shape.join() || t.dtype !== first.dtype) {
      throw new Error(`DataLoader: samples differ in shape or dtype: [${first.shape.join(', ')}] ${first.dtype} and [${t.shape.join(', ')}] ${t.dtype}`);
    }
    out.set(t.data, j * size);
  });
  return tensor(out, { dtype: first.dtype, shape: [items.length, ...first.shape] });
}
