// The library keeps no state that breaks worker threads: the seeded generator, grad mode and the
// allocation slabs are per worker. Two workers train the same seeded MLP step concurrently with
// the compiled library (dist/, which `npm test` builds through `npm run compile`) and must both
// get the values the main thread gets from the sources.

import { expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as lib from '../lib/index.js';
import { requireNativeOrSkip } from './support/native.js';

const dist = resolve('dist/index.js');

type Lib = typeof lib;

// One seeded training step, as plain JS source so that the main thread and the workers run the
// very same code: returns the loss and the first layer's gradient.
const stepSource = `(b, backendName) => {
  b.backend.use(backendName);
  b.manualSeed(5);
  const x = b.randn([8, 3], { dtype: 'float64' });
  const w1 = b.randn([4, 3], { dtype: 'float64', requiresGrad: true });
  const w2 = b.randn([2, 4], { dtype: 'float64', requiresGrad: true });
  const h = x.matmul(w1.t()).tanh();
  const loss = h.matmul(w2.t()).logSoftmax(1).mean().neg();
  loss.backward();
  return [loss.item(), ...Array.from(w1.grad.data)];
}`;
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the very source the workers run
const step = new Function(`return ${stepSource}`)() as (b: Lib, backendName: string) => number[];

const workerSource = `
  const { parentPort, workerData } = require('node:worker_threads');
  import(workerData.url).then((b) => {
    const step = new Function('return ' + workerData.step)();
    parentPort.postMessage(step(b, workerData.backend));
  }, (e) => parentPort.postMessage({ error: String(e) }));
`;

function inWorker(backendName: string): Promise<number[]> {
  return new Promise((resolveResult, reject) => {
    const w = new Worker(workerSource, {
      eval: true,
      workerData: { url: pathToFileURL(dist).href, step: stepSource, backend: backendName },
    });
    w.once('message', (m: number[] | { error: string }) => {
      void w.terminate();
      if ('error' in m) reject(new Error(m.error));
      else resolveResult(m);
    });
    w.once('error', reject);
  });
}

test.skipIf(!existsSync(dist))('workers train the same seeded step as the main thread', async () => {
  const names = lib.backend.available();
  if (!names.includes('native')) requireNativeOrSkip('the native worker run', lib.backend.nativeError() ?? '');
  for (const name of names) {
    const expected = step(lib, name);
    const [a, b] = await Promise.all([inWorker(name), inWorker(name)]);
    expect(a).toEqual(expected);
    expect(b).toEqual(expected);
  }
  lib.backend.use(lib.backend.available()[0]);
});
