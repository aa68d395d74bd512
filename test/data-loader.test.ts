import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tensor } from '../lib/tensor.js';
import { manualSeed, randomPermutation } from '../lib/random.js';
import { DataLoader, TensorDataset, loadMnist, sampleDir } from '../lib/data/index.js';

// x[i] = [i, 10 + i], y[i] = i: every batch says which samples it holds.
function numbered(n: number): TensorDataset {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = 10 + i;
  }
  return new TensorDataset(
    tensor(x, { shape: [n, 2] }),
    tensor(
      Float32Array.from({ length: n }, (_, i) => i),
      { shape: [n] },
    ),
  );
}

const ids = (batches: Iterable<[{ data: ArrayLike<number> }, unknown]>): number[][] =>
  Array.from(batches, ([, y]) => Array.from((y as { data: ArrayLike<number> }).data));

describe('TensorDataset', () => {
  it('pairs rows and rejects different lengths', () => {
    const ds = numbered(5);
    expect(ds.length).toBe(5);
    const [x, y] = ds.get(3);
    expect(x.shape).toEqual([2]);
    expect(Array.from(x.data)).toEqual([3, 13]);
    expect(y.item()).toBe(3);
    expect(() => ds.get(5)).toThrow(/out of range/);
    expect(
      () =>
        new TensorDataset(tensor(new Float32Array(6), { shape: [3, 2] }), tensor(new Float32Array(4), { shape: [4] })),
    ).toThrow(/\[3, 2\] and \[4\]/);
  });
});

describe('DataLoader', () => {
  it('batches in order, keeping or dropping the last partial batch', () => {
    const ds = numbered(10);
    const keep = new DataLoader(ds, { batchSize: 4 });
    expect(keep.length).toBe(3);
    expect(ids(keep)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    const [firstX] = [...keep][0];
    expect(firstX.shape).toEqual([4, 2]);
    expect(Array.from(firstX.data)).toEqual([0, 10, 1, 11, 2, 12, 3, 13]);
    const drop = new DataLoader(ds, { batchSize: 4, dropLast: true });
    expect(drop.length).toBe(2);
    expect(ids(drop)).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
    ]);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(/batchSize/);
  });

  it('shuffles with the seeded generator: a fresh permutation per epoch, reproducible', () => {
    const ds = numbered(10);
    const loader = new DataLoader(ds, { batchSize: 3, shuffle: true });
    manualSeed(42);
    const epoch1 = ids(loader).flat();
    const epoch2 = ids(loader).flat();
    manualSeed(42);
    expect(Array.from(randomPermutation(10))).toEqual(epoch1);
    expect(Array.from(randomPermutation(10))).toEqual(epoch2);
    expect([...epoch1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(epoch1).not.toEqual(epoch2);
    // rows travel with their labels
    manualSeed(7);
    for (const [x, y] of loader) {
      for (let j = 0; j < y.size; j++) expect(x.data[2 * j + 1]).toBe(10 + y.data[j]);
    }
  });

  it('iterates asynchronously, yielding to the event loop between batches', async () => {
    const loader = new DataLoader(numbered(10), { batchSize: 2 });
    let ticks = 0;
    let stop = false;
    const tick = (): void => {
      ticks++;
      if (!stop) setImmediate(tick);
    };
    setImmediate(tick);
    const seen: number[][] = [];
    const ticksAtBatch: number[] = [];
    for await (const [, y] of loader) {
      seen.push(Array.from(y.data));
      ticksAtBatch.push(ticks);
    }
    stop = true;
    expect(seen).toEqual(ids(loader));
    expect(ticksAtBatch[4]).toBeGreaterThan(ticksAtBatch[0]);
  });

  it('collates samples of a plain map-style data set', () => {
    const base = numbered(5);
    const plain = { length: 5, get: (i: number) => base.get(i) };
    expect(ids(new DataLoader(plain, { batchSize: 2 }))).toEqual([[0, 1], [2, 3], [4]]);
  });
});

describe('loadMnist', () => {
  it('loads the bundled sample: balanced, [N, 1, 28, 28] in [0, 1], pixels equal to the raw bytes / 255', () => {
    const train = loadMnist(undefined, { split: 'train' });
    const test = loadMnist(sampleDir(), { split: 'test' });
    expect(train.images.shape).toEqual([3000, 1, 28, 28]);
    expect(test.images.shape).toEqual([1000, 1, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const c of train.labels.data) counts[c]++;
    expect(counts).toEqual(new Array(10).fill(300));
    const raw = gunzipSync(readFileSync(join(sampleDir(), 'train-images-idx3-ubyte.gz')));
    for (const i of [0, 1234, 3000 * 784 - 1]) expect(train.images.data[i]).toBe(Math.fround(raw[16 + i] / 255));
    const rawLabels = gunzipSync(readFileSync(join(sampleDir(), 't10k-labels-idx1-ubyte.gz')));
    expect(test.labels.data[999]).toBe(rawLabels[8 + 999]);
  });

  it('names missing files and out-of-range labels', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-mnist-'));
    expect(() => loadMnist(dir)).toThrow(/no images file in .*train-images-idx3-ubyte\[\.gz\]/);
    expect(() => loadMnist(join(dir, 'nope'))).toThrow(/does not exist/);
    copyFileSync(join(sampleDir(), 't10k-images-idx3-ubyte.gz'), join(dir, 't10k-images-idx3-ubyte.gz'));
    const labels = gunzipSync(readFileSync(join(sampleDir(), 't10k-labels-idx1-ubyte.gz')));
    labels[8 + 17] = 12;
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels);
    expect(() => loadMnist(dir, { split: 'test' })).toThrow(
      /t10k-labels-idx1-ubyte: label 12 at index 17 is out of range for 10 classes/,
    );
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), gzipSync(labels.subarray(0, 100)));
    expect(() => loadMnist(dir, { split: 'test' })).toThrow(/t10k-labels-idx1-ubyte.*truncated/);
  });
});
