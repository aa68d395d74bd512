#!/usr/bin/env node
// A Node service that trains while it serves, and never stalls: a Fashion-MNIST classifier trains
// in a worker thread (workers.spawnTrainer, job in examples/service-job.js) and publishes its
// weights every few batches; an inference pool (workers.createPredictor) answers predictions from
// the latest version, batching concurrent requests. This thread only routes HTTP.
//
//   npm run compile && node examples/service.js [--port 8080] [--epochs 5] [--data DIR]
//   curl 127.0.0.1:8080/status
//   curl -X POST 127.0.0.1:8080/predict -H 'content-type: application/json' -d '{"image": [0, 0.5, ... 784 values in [0, 1]]}'
//
// GET /status: training state, the latest batch (epoch, batch, loss, samples/s), the completed
// epochs' logs (test accuracy), the weights version served, the predictor's counters.
// POST /predict: {"image": [784 numbers]} (a 28x28 image, row by row, in [0, 1]) → {"class",
// "label", "probabilities", "weightsVersion"}. 503 while no weights exist yet or when the
// predictor's queue is full (with Retry-After), 400 for a malformed request.
// Ctrl-C stops training after the current batch, writes the checkpoint and exits.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { tensor, workers } from '../dist/index.js';

const LABELS = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];
const MAX_BODY = 64 * 1024;

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string', default: '8080' },
    epochs: { type: 'string', default: '5' },
    data: { type: 'string' },
    'publish-every': { type: 'string', default: '50' },
    workers: { type: 'string', default: '1' },
    checkpoint: { type: 'string', default: 'service-checkpoint.safetensors' },
  },
});

const trainer = workers.spawnTrainer(new URL('./service-job.js', import.meta.url), {
  args: { data: opts.data, epochs: Number(opts.epochs) },
  publishEvery: Number(opts['publish-every']),
  progressEvery: 10,
  checkpoint: opts.checkpoint,
});

// The predictor's workers build the model from this function's source and load the weights.
/** @param {typeof import('../dist/index.js')} b */
const buildModel = (b) =>
  new b.nn.Sequential(
    new b.nn.Flatten(),
    new b.nn.Linear(784, 512),
    new b.nn.ReLU(),
    new b.nn.Linear(512, 256),
    new b.nn.ReLU(),
    new b.nn.Linear(256, 10),
  );

/** @type {import('../dist/index.js').workers.Predictor | null} */
let predictor = null;
let servedVersion = 0;
trainer.on('weights', (/** @type {import('../dist/index.js').workers.LiveWeights} */ w) => {
  if (predictor === null)
    predictor = workers.createPredictor(buildModel, w.stateDict, {
      workers: Number(opts.workers),
      maxBatch: 64,
      maxDelayMs: 2,
    });
  else predictor.updateWeights(w.stateDict);
  servedVersion = w.version;
});
trainer.done.then(
  (r) =>
    console.log(`training ${r.aborted ? 'stopped' : 'finished'} after ${r.step} batches; checkpoint ${r.checkpoint}`),
  (e) => console.error(`training failed (the service goes on with the last weights): ${e.message}`),
);

/**
 * @param {http.ServerResponse} res
 * @param {number} code
 * @param {unknown} body
 * @param {Record<string, string>} [headers]
 */
function send(res, code, body, headers = {}) {
  res.writeHead(code, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function status() {
  return {
    state: trainer.state,
    error: trainer.error?.message ?? null,
    progress: trainer.progress,
    epochs: trainer.epochs,
    weightsVersion: servedVersion,
    predictor: predictor?.stats ?? null,
  };
}

/** @param {http.IncomingMessage} req */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (/** @type {Buffer} */ c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error(`request body over ${MAX_BODY} bytes`), { status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** @param {string} text */
function parseImage(text) {
  /** @type {unknown} */
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  const image = /** @type {{ image?: unknown }} */ (body)?.image;
  if (!Array.isArray(image) || image.length !== 784) return null;
  const x = new Float32Array(784);
  for (let i = 0; i < 784; i++) {
    const v = image[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) return null;
    x[i] = v;
  }
  return tensor(x, { shape: [1, 28, 28] });
}

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
async function predict(req, res) {
  const x = parseImage(await readBody(req));
  if (x === null) return send(res, 400, { error: 'expected {"image": [784 finite numbers]}' });
  if (predictor === null)
    return send(res, 503, { error: 'no weights yet: training is starting' }, { 'retry-after': '1' });
  // The client going away aborts its prediction.
  const controller = new AbortController();
  res.on('close', () => controller.abort());
  const version = servedVersion;
  try {
    const logits = await predictor.predict(x, { signal: controller.signal });
    const probs = logits.softmax(0).data;
    let best = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
    send(res, 200, { class: best, label: LABELS[best], probabilities: Array.from(probs), weightsVersion: version });
  } catch (e) {
    if (e instanceof workers.PredictorQueueFullError) send(res, 503, { error: e.message }, { 'retry-after': '1' });
    else if (!controller.signal.aborted) send(res, 500, { error: e instanceof Error ? e.message : String(e) });
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/status') return send(res, 200, status());
  if (req.method === 'POST' && req.url === '/predict')
    return void predict(req, res).catch((/** @type {{ status?: number, message: string }} */ e) => {
      if (!res.headersSent) send(res, e.status ?? 500, { error: e.message });
    });
  send(res, 404, { error: 'GET /status or POST /predict' });
});

server.listen(Number(opts.port), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`listening on http://127.0.0.1:${port} (GET /status, POST /predict)`);
});

let closing = false;
process.on('SIGINT', () => {
  if (closing) process.exit(1);
  closing = true;
  console.log('stopping: training ends after the current batch');
  server.close();
  void trainer
    .stop()
    .catch(() => undefined)
    .then(() => predictor?.close());
});
