// Responsiveness while training: fit() trains the MLP on the bundled Fashion-MNIST sample while
// an HTTP server in the same process answers a client loop (also in this process). Reports the
// event loop delay (perf_hooks.monitorEventLoopDelay) and the request latency.
//
//   npm run bench -- fit [epochs=10] [batchSize=64] [threads]        (needs `npm run compile` first)
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { manualSeed, nn, optim, data, fit, backend } from '../dist/index.js';
import { machineLine } from './_common.js';

const MAX_REQUESTS = 5000;
const PAUSE_MS = 2;

const ms = (/** @type {number} */ ns) => ns / 1e6;
/** @type {(sorted: number[], p: number) => number} */
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** @param {string[]} [args] */
export async function main(args = []) {
  const epochs = Number(args[0] ?? 10);
  const batchSize = Number(args[1] ?? 64);
  if (args[2] !== undefined) backend.setNumThreads(Number(args[2]));
  console.log(machineLine());
  manualSeed(0);
  const train = data.loadMnist(undefined, { split: 'train' });
  const loader = new data.DataLoader(new data.TensorDataset(train.images, train.labels), { batchSize, shuffle: true });
  const model = new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 512),
    new nn.ReLU(),
    new nn.Linear(512, 256),
    new nn.ReLU(),
    new nn.Linear(256, 10),
  );
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });

  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  /** @type {number[]} */
  const latencies = [];
  let training = true;
  /** @type {() => Promise<number>} */
  const get = () =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      http
        .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(performance.now() - t0));
        })
        .on('error', reject);
    });
  await get(); // connect before measuring: the latencies below are of a kept-alive connection
  const client = (async () => {
    while (training && latencies.length < MAX_REQUESTS) {
      latencies.push(await get());
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
  })();

  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const t0 = performance.now();
  const history = await fit(model, {
    train: loader,
    epochs,
    optimizer,
    loss: new nn.CrossEntropyLoss(),
    metrics: ['accuracy'],
  });
  const seconds = (performance.now() - t0) / 1000;
  delay.disable();
  training = false;
  await client;
  agent.destroy();
  server.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  const samples = history.epochs.reduce((s, e) => s + e.samples, 0);
  const info = backend.info();
  const p99 = ms(delay.percentile(99));
  console.log(
    `fit: MLP 784-512-256-10, ${epochs} epochs x ${train.images.shape[0]} samples, batch ${batchSize}, backend ${info.name} (${info.blas}, ${info.simd}, ${info.threads} threads)`,
  );
  const last = history.epochs[history.epochs.length - 1];
  console.log(
    `  training: ${seconds.toFixed(2)} s, ${Math.round(samples / seconds)} samples/s, final loss ${last.loss.toFixed(4)}, accuracy ${last.accuracy?.toFixed(4)}`,
  );
  console.log(
    `  event loop delay: p50 ${ms(delay.percentile(50)).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${ms(delay.max).toFixed(2)} ms`,
  );
  console.log(
    `  http (same process, ${sorted.length} requests): p50 ${percentile(sorted, 50).toFixed(2)} ms, p99 ${percentile(sorted, 99).toFixed(2)} ms, max ${sorted[sorted.length - 1].toFixed(2)} ms`,
  );
  console.log(`  target event loop p99 < 20 ms: ${p99 < 20 ? 'met' : 'NOT met'}`);
}
