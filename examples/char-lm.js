#!/usr/bin/env node
// A character-level language model: Embedding -> LSTM -> Linear, trained with truncated
// backpropagation through time on the Book of Genesis (King James Version, public domain,
// data/text/genesis-kjv.txt). The text is cut into `batch` parallel streams; each update sees
// `bptt` characters of every stream, and the LSTM state is carried to the next chunk detached
// (state.detach()): the forward pass continues the sequence, the gradient stops at the chunk.
//
// It prints the unigram entropy of the text (the loss of the best model that ignores context)
// next to the training and held-out cross-entropy, then samples some text.
//
//   npm run compile && node examples/char-lm.js [--epochs 3] [--backend native|js] [--hidden 256]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { manualSeed, tensor, noGrad, nn, optim, F, backend } from '../dist/index.js';

/** @typedef {import('../dist/index.js').Tensor} Tensor */
/** @typedef {[Tensor, Tensor]} LstmState the LSTM's (h, c) */

const { values: opts } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    backend: { type: 'string' },
    hidden: { type: 'string', default: '256' },
    embed: { type: 'string', default: '48' },
    batch: { type: 'string', default: '32' },
    bptt: { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.003' },
    seed: { type: 'string', default: '1' },
    sample: { type: 'string', default: '300' },
  },
});
// backend.use checks the name and says which ones exist.
if (opts.backend) backend.use(/** @type {'native' | 'js'} */ (opts.backend));
const epochs = Number(opts.epochs);
const hidden = Number(opts.hidden);
const embedDim = Number(opts.embed);
const batch = Number(opts.batch);
const bptt = Number(opts.bptt);
manualSeed(Number(opts.seed));

// ---- data -----------------------------------------------------------------------------------
const file = fileURLToPath(new URL('../data/text/genesis-kjv.txt', import.meta.url));
const text = readFileSync(file, 'utf8');
const vocab = [...new Set(text)].sort();
const index = new Map(vocab.map((ch, i) => [ch, i]));
const codes = Int32Array.from(text, (ch) => /** @type {number} every character is in vocab */ (index.get(ch)));
const V = vocab.length;

// The unigram entropy: the cross-entropy of predicting every character from its frequency alone.
const counts = new Float64Array(V);
for (const c of codes) counts[c]++;
let unigram = 0;
for (const n of counts) if (n > 0) unigram -= (n / codes.length) * Math.log(n / codes.length);

// 90% for training, the last 10% held out.
const split = Math.floor(codes.length * 0.9);
const trainCodes = codes.subarray(0, split);
const validCodes = codes.subarray(split);

/**
 * The text as `batch` streams: stream b is the b-th contiguous slice, read in lockstep.
 * @param {Int32Array} src
 */
function streams(src) {
  const len = Math.floor(src.length / batch);
  return { len, at: (/** @type {number} */ b, /** @type {number} */ t) => src[b * len + t] };
}

/**
 * Inputs [T, B] and next-character targets (T*B, time-major) for the chunk starting at t0.
 * @param {ReturnType<typeof streams>} s
 * @param {number} t0
 * @param {number} T
 */
function chunk(s, t0, T) {
  const x = new Float32Array(T * batch);
  const y = new Int32Array(T * batch);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) {
      x[t * batch + b] = s.at(b, t0 + t);
      y[t * batch + b] = s.at(b, t0 + t + 1);
    }
  }
  return { x: tensor(x, { shape: [T, batch] }), y };
}

// ---- model ----------------------------------------------------------------------------------
const embed = new nn.Embedding(V, embedDim);
const lstm = new nn.LSTM(embedDim, hidden);
const head = new nn.Linear(hidden, V);
const params = [...embed.parameters(), ...lstm.parameters(), ...head.parameters()];
const opt = new optim.Adam(params, { lr: Number(opts.lr) });

/**
 * @param {Tensor} x
 * @param {LstmState | null} state
 */
function forward(x, state) {
  const [out, next] = lstm.forward(embed.forward(x), state);
  const [T, B] = x.shape;
  return { logits: head.forward(out.reshape([T * B, hidden])), state: next };
}

/**
 * Mean cross-entropy (nats/char) over a whole token array, state carried, no graph.
 * @param {Int32Array} src
 */
function evaluate(src) {
  const s = streams(src);
  return noGrad(() => {
    /** @type {LstmState | null} */
    let state = null;
    let total = 0;
    let n = 0;
    for (let t0 = 0; t0 + 1 < s.len; t0 += bptt) {
      const T = Math.min(bptt, s.len - 1 - t0);
      const { x, y } = chunk(s, t0, T);
      const r = forward(x, state);
      state = r.state;
      total += F.crossEntropy(r.logits, y).item() * T;
      n += T;
    }
    return total / n;
  });
}

const bits = (/** @type {number} */ nats) => nats / Math.LN2;
console.log(`text: ${file} (${codes.length.toLocaleString('en-US')} chars, ${V} distinct)`);
console.log(`backend: ${JSON.stringify(backend.info())}`);
console.log(
  `model: Embedding(${V}, ${embedDim}) -> LSTM(${embedDim}, ${hidden}) -> Linear(${hidden}, ${V}); batch ${batch}, bptt ${bptt}, Adam lr ${opts.lr}`,
);
console.log(`unigram entropy of the text: ${unigram.toFixed(3)} nats/char (${bits(unigram).toFixed(3)} bits/char)`);
console.log(`held-out loss before training: ${evaluate(validCodes).toFixed(3)} nats/char`);

const train = streams(trainCodes);
const t0 = Date.now();
let seen = 0;
for (let epoch = 1; epoch <= epochs; epoch++) {
  /** @type {LstmState | null} */
  let state = null;
  let running = 0;
  let steps = 0;
  for (let start = 0; start + 1 < train.len; start += bptt) {
    const T = Math.min(bptt, train.len - 1 - start);
    const { x, y } = chunk(train, start, T);
    opt.zeroGrad();
    const r = forward(x, state);
    const loss = F.crossEntropy(r.logits, y);
    loss.backward();
    optim.clipGradNorm(params, 1);
    opt.step();
    // Truncated BPTT: keep the values of the state, cut its graph.
    state = [r.state[0].detach(), r.state[1].detach()];
    running += loss.item();
    steps++;
    seen += T * batch;
  }
  const valid = evaluate(validCodes);
  const secs = (Date.now() - t0) / 1000;
  console.log(
    `epoch ${epoch}: train ${(running / steps).toFixed(3)} nats/char, held-out ${valid.toFixed(3)} nats/char ` +
      `(${bits(valid).toFixed(3)} bits/char, ${((valid / unigram) * 100).toFixed(0)}% of the unigram entropy); ` +
      `${Math.round(seen / secs).toLocaleString('en-US')} chars/s, ${secs.toFixed(1)} s`,
  );
}

// ---- sampling -------------------------------------------------------------------------------
// A seeded generator for the sampling, so that a run is reproducible.
let seed = Number(opts.seed) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * @param {string} prompt
 * @param {number} n
 */
function sample(prompt, n, temperature = 0.7) {
  return noGrad(() => {
    /** @type {LstmState | null} */
    let state = null;
    let out = prompt;
    /** @type {(c: number) => Tensor} */
    const feed = (c) => {
      const r = forward(tensor([[c]]), state); // one step of one stream: x is [1, 1]
      state = r.state;
      return r.logits.reshape([V]);
    };
    if (prompt.length === 0) throw new RangeError('sample: the prompt must not be empty');
    let last = feed(index.get(prompt[0]) ?? 0);
    for (const ch of prompt.slice(1)) last = feed(index.get(ch) ?? 0);
    for (let i = 0; i < n; i++) {
      const p = F.softmax(last.div(temperature), 0).data;
      let u = random();
      let c = 0;
      while (c < V - 1 && (u -= p[c]) > 0) c++;
      out += vocab[c];
      last = feed(c);
    }
    return out;
  });
}
if (Number(opts.sample) > 0) {
  console.log('\nsample (temperature 0.7):');
  console.log(sample('And God said', Number(opts.sample)));
}
