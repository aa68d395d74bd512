#!/usr/bin/env node
// A causal character-level Transformer language model on the Book of Genesis (King James
// Version, data/text/genesis-kjv.txt), trained next to the LSTM of examples/char-lm.js with the
// same number of parameters, printing the held-out loss of both after every epoch.
//
// Transformer: Embedding + a learned positional Embedding -> TransformerEncoder (pre-norm,
// causal mask, the fused attention kernel) -> LayerNorm -> Linear, on windows of `ctx`
// characters; every position predicts the next character from the ones before it in its window.
// LSTM: Embedding -> LSTM -> Linear with truncated BPTT as in char-lm.js (state carried between
// chunks), its hidden size chosen so that its parameter count matches the Transformer's.
// Both see the same characters per epoch (batch streams of the first 90% of the text) and are
// evaluated on the last 10%: the LSTM with its state carried through the held-out text, the
// Transformer window by window (so the first positions of a window see little context).
//
//   npm run compile && node examples/char-transformer.js [--epochs 3] [--model both|transformer|lstm]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { manualSeed, tensor, noGrad, nn, optim, F, backend } from '../dist/index.js';

/** @typedef {import('../dist/index.js').Tensor} Tensor */

const { values: opts } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    model: { type: 'string', default: 'both' },
    backend: { type: 'string' },
    dmodel: { type: 'string', default: '128' },
    heads: { type: 'string', default: '4' },
    layers: { type: 'string', default: '2' },
    ff: { type: 'string', default: '512' },
    ctx: { type: 'string', default: '64' },
    batch: { type: 'string', default: '32' },
    lr: { type: 'string', default: '0.001' },
    dropout: { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '1' },
    sample: { type: 'string', default: '200' },
  },
});
if (opts.backend) backend.use(/** @type {'native' | 'js'} */ (opts.backend));
const epochs = Number(opts.epochs);
const dModel = Number(opts.dmodel);
const ctx = Number(opts.ctx);
const batch = Number(opts.batch);

// ---- data -----------------------------------------------------------------------------------
const file = fileURLToPath(new URL('../data/text/genesis-kjv.txt', import.meta.url));
const text = readFileSync(file, 'utf8');
const vocab = [...new Set(text)].sort();
const index = new Map(vocab.map((ch, i) => [ch, i]));
const codes = Int32Array.from(text, (ch) => /** @type {number} */ (index.get(ch)));
const V = vocab.length;
const split = Math.floor(codes.length * 0.9);
const trainCodes = codes.subarray(0, split);
const validCodes = codes.subarray(split);

/** `batch` contiguous streams of src, read in lockstep. @param {Int32Array} src */
function streams(src) {
  const len = Math.floor(src.length / batch);
  return { len, at: (/** @type {number} */ b, /** @type {number} */ t) => src[b * len + t] };
}

/**
 * Inputs and next-character targets of chunk [t0, t0 + T) of every stream, time-major ([T, B])
 * or batch-major ([B, T]).
 * @param {ReturnType<typeof streams>} s @param {number} t0 @param {number} T @param {boolean} batchMajor
 */
function chunk(s, t0, T, batchMajor) {
  const x = new Float32Array(T * batch);
  const y = new Int32Array(T * batch);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < batch; b++) {
      const at = batchMajor ? b * T + t : t * batch + b;
      x[at] = s.at(b, t0 + t);
      y[at] = s.at(b, t0 + t + 1);
    }
  }
  return { x: tensor(x, { shape: batchMajor ? [batch, T] : [T, batch] }), y };
}

const count = (/** @type {nn.Module} */ m) => m.parameters().reduce((n, p) => n + p.numel(), 0);

// ---- the Transformer --------------------------------------------------------------------------
class CharTransformer extends nn.Module {
  constructor() {
    super();
    this.tok = new nn.Embedding(V, dModel);
    this.pos = new nn.Embedding(ctx, dModel);
    const layer = new nn.TransformerEncoderLayer(dModel, Number(opts.heads), {
      dimFeedforward: Number(opts.ff),
      dropout: Number(opts.dropout),
      batchFirst: true,
      normFirst: true,
    });
    this.encoder = new nn.TransformerEncoder(layer, Number(opts.layers), { norm: new nn.LayerNorm(dModel) });
    this.head = new nn.Linear(dModel, V);
  }

  /** x [B, T] character codes -> logits [B*T, V]. @param {Tensor} x */
  forward(x) {
    const [B, T] = x.shape;
    const positions = Array.from({ length: T }, (_, i) => i);
    const h = this.tok.forward(x).add(this.pos.forward(positions));
    const out = this.encoder.forward(h, { isCausal: true });
    return this.head.forward(out.reshape([B * T, dModel]));
  }
}

// ---- the LSTM ---------------------------------------------------------------------------------
class CharLstm extends nn.Module {
  /** @param {number} hidden */
  constructor(hidden) {
    super();
    this.hidden = hidden;
    this.embed = new nn.Embedding(V, 48);
    this.lstm = new nn.LSTM(48, hidden);
    this.head = new nn.Linear(hidden, V);
  }

  /** @param {Tensor} x [T, B] @param {[Tensor, Tensor] | null} state */
  forward(x, state) {
    const [out, next] = this.lstm.forward(this.embed.forward(x), state);
    const [T, B] = x.shape;
    return { logits: this.head.forward(out.reshape([T * B, this.hidden])), state: next };
  }
}

/** The LSTM hidden size whose parameter count is closest to `target`. @param {number} target */
function lstmHiddenFor(target) {
  const params = (/** @type {number} */ h) => V * 48 + 4 * h * (48 + h) + 8 * h + h * V + V;
  let h = 1;
  while (params(h + 1) <= target) h++;
  return Math.abs(params(h + 1) - target) < Math.abs(params(h) - target) ? h + 1 : h;
}

manualSeed(Number(opts.seed));
const transformer = new CharTransformer();
const lstmModel = new CharLstm(lstmHiddenFor(count(transformer)));
console.log(`text: ${file} (${codes.length.toLocaleString('en-US')} chars, ${V} distinct)`);
console.log(`backend: ${JSON.stringify(backend.info())}`);
console.log(
  `Transformer: d_model ${dModel}, ${opts.heads} heads, ${opts.layers} layers, ff ${opts.ff}, context ${ctx}, pre-norm, dropout ${opts.dropout}: ${count(transformer).toLocaleString('en-US')} parameters`,
);
console.log(
  `LSTM: embedding 48, hidden ${lstmModel.hidden}, bptt ${ctx}: ${count(lstmModel).toLocaleString('en-US')} parameters`,
);
console.log(`batch ${batch} streams, Adam lr ${opts.lr}, gradient norm clipped at 1`);

/** Held-out loss of the Transformer: every window of ctx characters, nats/char. */
function evalTransformer() {
  transformer.eval();
  const s = streams(validCodes);
  const r = noGrad(() => {
    let total = 0;
    let n = 0;
    for (let t0 = 0; t0 + ctx < s.len; t0 += ctx) {
      const { x, y } = chunk(s, t0, ctx, true);
      total += F.crossEntropy(transformer.forward(x), y).item();
      n++;
    }
    return total / n;
  });
  transformer.train();
  return r;
}

/** Held-out loss of the LSTM, its state carried through the text, nats/char. */
function evalLstm() {
  const s = streams(validCodes);
  return noGrad(() => {
    /** @type {[Tensor, Tensor] | null} */
    let state = null;
    let total = 0;
    let n = 0;
    for (let t0 = 0; t0 + ctx < s.len; t0 += ctx) {
      const { x, y } = chunk(s, t0, ctx, false);
      const r = lstmModel.forward(x, state);
      state = r.state;
      total += F.crossEntropy(r.logits, y).item();
      n++;
    }
    return total / n;
  });
}

const which = opts.model;
const runs = [
  { name: 'Transformer', on: which !== 'lstm', model: transformer, evaluate: evalTransformer },
  { name: 'LSTM', on: which !== 'transformer', model: lstmModel, evaluate: evalLstm },
].filter((r) => r.on);
const optimizers = new Map(runs.map((r) => [r.name, new optim.Adam(r.model.parameters(), { lr: Number(opts.lr) })]));
for (const r of runs) console.log(`${r.name} held-out loss before training: ${r.evaluate().toFixed(3)} nats/char`);

const train = streams(trainCodes);
for (let epoch = 1; epoch <= epochs; epoch++) {
  for (const r of runs) {
    const opt = /** @type {import('../dist/index.js').optim.Adam} */ (optimizers.get(r.name));
    const params = r.model.parameters();
    const t0 = Date.now();
    /** @type {[Tensor, Tensor] | null} */
    let state = null;
    let running = 0;
    let steps = 0;
    for (let start = 0; start + ctx < train.len; start += ctx) {
      opt.zeroGrad();
      let loss;
      if (r.model === transformer) {
        const { x, y } = chunk(train, start, ctx, true);
        loss = F.crossEntropy(transformer.forward(x), y);
      } else {
        const { x, y } = chunk(train, start, ctx, false);
        const out = lstmModel.forward(x, state);
        loss = F.crossEntropy(out.logits, y);
        state = [out.state[0].detach(), out.state[1].detach()];
      }
      loss.backward();
      optim.clipGradNorm(params, 1);
      opt.step();
      running += loss.item();
      steps++;
    }
    const secs = (Date.now() - t0) / 1000;
    const valid = r.evaluate();
    console.log(
      `epoch ${epoch} ${r.name.padEnd(11)}: train ${(running / steps).toFixed(3)}, held-out ${valid.toFixed(3)} nats/char ` +
        `(${(valid / Math.LN2).toFixed(3)} bits/char); ${Math.round((steps * ctx * batch) / secs).toLocaleString('en-US')} chars/s`,
    );
  }
}

// ---- sampling from the Transformer: the last ctx characters predict the next -----------------
let seed = Number(opts.seed) >>> 0;
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
if (which !== 'lstm' && Number(opts.sample) > 0) {
  transformer.eval();
  let out = 'And God said';
  noGrad(() => {
    for (let i = 0; i < Number(opts.sample); i++) {
      const window = [...out.slice(-ctx)].map((ch) => index.get(ch) ?? 0);
      const logits = transformer.forward(tensor([window])).reshape([window.length, V]);
      const p = F.softmax(
        logits
          .narrow(0, window.length - 1, 1)
          .reshape([V])
          .div(0.7),
        0,
      ).data;
      let u = random();
      let c = 0;
      while (c < V - 1 && (u -= p[c]) > 0) c++;
      out += vocab[c];
    }
  });
  console.log('\nTransformer sample (temperature 0.7):');
  console.log(out);
}
