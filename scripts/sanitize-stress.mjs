// Valid addon calls with random geometry and values (NaN and infinities included), for
// scripts/sanitize.sh (run under ASan/UBSan). Every array is grown to exactly the length the
// addon demands (read back from its "must have at least N elements" RangeError), so a read or
// write one past the end lands in ASan's redzone; the guard arrays of test/native-fuzz.test.ts
// only see writes, and only at the sizes the test chose.
// Each round runs every kernel once per SIMD level and GEMM path the machine has.
// Usage: node scripts/sanitize-stress.mjs <path/to/backprop.node> [seed] [rounds]
// Exits non-zero when a call throws anything but a TypeError/RangeError (a sanitizer report
// aborts the process on its own).
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

/** @typedef {Float32ArrayConstructor | Float64ArrayConstructor} FloatCtor */
/** @typedef {Record<string, number>} Lens lens[name]: the length to give array `name` */
/** @typedef {(T: FloatCtor, lens: Lens) => unknown[]} Build */

/** @type {Record<string, (...args: unknown[]) => unknown>} */
const addon = createRequire(import.meta.url)(resolve(process.argv[2]));
let seed = Number(process.argv[3] ?? 1);
const rounds = Number(process.argv[4] ?? 100);

const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
/** The addon's op-code lists: every code of each family is drawn, new ops included. */
const opNames = /** @type {{ unary: string[], binary: string[], reduce: string[] }} */ (addon._opNames());
const lastCode = (/** @type {keyof typeof opNames} */ family) => opNames[family].length - 1;
const ri = (/** @type {number} */ lo, /** @type {number} */ hi) => lo + Math.floor(rnd() * (hi - lo + 1));
// One element in ten is special: NaN or an infinity once reached undefined float-to-int
// conversions that finite inputs never did.
const SPECIAL = [NaN, Infinity, -Infinity, 1e308, -1e308, 0, -0, 1e-310];
/** @type {<A extends Float32Array | Float64Array>(a: A) => A} */
const fill = (a) => {
  for (let i = 0; i < a.length; i++) a[i] = rnd() < 0.1 ? SPECIAL[ri(0, SPECIAL.length - 1)] : rnd() * 4 - 2;
  return a;
};

/** @type {Record<string, Record<'ran' | 'rejected' | 'gave up', number>>} */
const counts = {};
/**
 * @param {string} fn
 * @param {Build} build
 */
function call(fn, build) {
  // build(T, lens) returns the argument list; lens[name] is the length to give array `name`.
  const T = rnd() < 0.5 ? Float32Array : Float64Array;
  /** @type {Lens} */
  const lens = {};
  /** @type {'ran' | 'rejected' | 'gave up'} */
  let outcome = 'gave up';
  for (let attempt = 0; attempt < 40; attempt++) {
    try {
      addon[fn](...build(T, lens));
      outcome = 'ran';
      break;
    } catch (e) {
      if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
      const m = /argument \d+ \((\w+)\) must have (?:at least )?(\d+) elements/.exec(e.message);
      if (m && lens[m[1]] !== Number(m[2])) {
        lens[m[1]] = Number(m[2]);
        continue;
      }
      outcome = 'rejected'; // an invalid random geometry (e.g. a kernel larger than the input)
      break;
    }
  }
  counts[fn] ??= { ran: 0, rejected: 0, 'gave up': 0 };
  counts[fn][outcome]++;
}
/** @type {(T: FloatCtor, lens: Lens, name: string) => Float32Array | Float64Array} */
const arr = (T, lens, name) => fill(new T(lens[name] ?? 0));
/** @type {(T: FloatCtor, lens: Lens, name: string) => Float32Array | Float64Array | null} */
const orNull = (T, lens, name) => (rnd() < 0.3 ? null : arr(T, lens, name));
/** @type {(lens: Lens, name: string, bound: number) => Int32Array} */
const ints = (lens, name, bound) => Int32Array.from({ length: lens[name] ?? 0 }, () => ri(0, Math.max(bound, 1) - 1));
/** @type {(T: FloatCtor, n: number) => Float32Array | Float64Array} */
const vec = (T, n) => fill(new T(n));

function round() {
  const s = () => ri(0, 6);
  const p = () => ri(1, 6);
  {
    const big = rnd() < 0.2;
    const m = big ? ri(30, 70) : s(),
      n = big ? ri(30, 70) : s(),
      k = big ? ri(30, 70) : s();
    const tA = rnd() < 0.5,
      tB = rnd() < 0.5,
      batch = ri(1, 3);
    const gap = () => (big ? 0 : ri(0, 3));
    const strides = [m * k + gap(), k * n + gap(), m * n + gap()];
    call('gemm', (T, L) => [
      tA,
      tB,
      m,
      n,
      k,
      1.5,
      arr(T, L, 'a'),
      arr(T, L, 'b'),
      rnd() < 0.5 ? 0 : 0.5,
      arr(T, L, 'c'),
      batch,
      ...strides,
      gap(),
      gap(),
      gap(),
    ]);
  }
  {
    const n = ri(0, 40);
    call('unary', (T) => [ri(0, lastCode('unary')), vec(T, n), vec(T, n), 0.1, 2]);
    call('unaryBackward', (T) => [ri(0, lastCode('unary')), vec(T, n), vec(T, n), vec(T, n), vec(T, n), 0.1, 2]);
    call('binaryScalar', (T) => [ri(0, lastCode('binary')), vec(T, n), 2.5, vec(T, n), rnd() < 0.5]);
    call('sgdStep', (T) => {
      const momentum = rnd() < 0.5 ? 0 : 0.9;
      return [
        vec(T, n),
        vec(T, n),
        momentum === 0 && rnd() < 0.5 ? null : vec(T, n),
        0.1,
        momentum,
        0,
        rnd() < 0.5 ? 0 : 0.01,
        momentum !== 0 && rnd() < 0.5,
        rnd() < 0.5,
      ];
    });
    call('adamStep', (T) => [
      vec(T, n),
      vec(T, n),
      vec(T, n),
      vec(T, n).map(Math.abs),
      rnd() < 0.5 ? null : vec(T, n).map(Math.abs),
      ri(1, 5),
      1e-3,
      0.9,
      0.999,
      1e-8,
      0.01,
      rnd() < 0.5,
    ]);
  }
  {
    const dims = ri(0, 4);
    const shape = Array.from({ length: dims }, () => ri(1, 4));
    const other = shape.slice(ri(0, dims)).map((d) => (rnd() < 0.4 ? 1 : d));
    call('binary', (T, L) => [
      ri(0, lastCode('binary')),
      arr(T, L, 'a'),
      shape,
      arr(T, L, 'b'),
      other,
      arr(T, L, 'out'),
    ]);
    call('binary', (T, L) => [
      ri(0, lastCode('binary')),
      arr(T, L, 'a'),
      other,
      arr(T, L, 'b'),
      shape,
      arr(T, L, 'out'),
    ]);
    const perm = shape.map((_, i) => i).sort(() => rnd() - 0.5);
    call('permute', (T, L) => [arr(T, L, 'x'), shape, perm, arr(T, L, 'out')]);
  }
  {
    const outer = s(),
      n = p(),
      inner = s(),
      picks = ri(0, 5);
    call('reduce', (T, L) => [
      ri(0, lastCode('reduce')),
      arr(T, L, 'x'),
      outer,
      rnd() < 0.2 ? 0 : n,
      inner,
      arr(T, L, 'out'),
    ]);
    call('maxAxis', (T, L) => [arr(T, L, 'x'), outer, n, inner, arr(T, L, 'out'), ints(L, 'indices', 1)]);
    call('argmax', (T, L) => [arr(T, L, 'x'), outer, n, inner, ints(L, 'indices', 1)]);
    call('gather', (T, L) => [
      arr(T, L, 'x'),
      outer,
      n,
      inner,
      ints({ indices: picks }, 'indices', n),
      arr(T, L, 'out'),
    ]);
    call('scatterAdd', (T, L) => [
      arr(T, L, 'g'),
      outer,
      n,
      inner,
      ints({ indices: picks }, 'indices', n),
      arr(T, L, 'gx'),
    ]);
  }
  {
    const rows = s(),
      cols = rnd() < 0.3 ? ri(20, 70) : p();
    for (const fn of ['softmax', 'logSoftmax']) call(fn, (T, L) => [arr(T, L, 'x'), rows, cols, arr(T, L, 'y')]);
    for (const fn of ['softmaxBackward', 'logSoftmaxBackward'])
      call(fn, (T, L) => [arr(T, L, 'y'), arr(T, L, 'gy'), rows, cols, arr(T, L, 'gx')]);
    call('softmaxCrossEntropy', (T, L) => [
      arr(T, L, 'logits'),
      rows,
      cols,
      ints(L, 'targets', cols),
      arr(T, L, 'losses'),
      orNull(T, L, 'grad'),
      0.5,
    ]);
    call('biasAdd', (T, L) => [arr(T, L, 'x'), rows, cols, arr(T, L, 'bias'), arr(T, L, 'out')]);
    call('biasGrad', (T, L) => [arr(T, L, 'gy'), rows, cols, arr(T, L, 'gb')]);
  }
  {
    // n, cIn, h, w, cOut, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW
    const g =
      rnd() < 0.25
        ? [
            ri(1, 4),
            ri(1, 9),
            ri(8, 24),
            ri(8, 24),
            ri(1, 17),
            ri(1, 5),
            ri(1, 5),
            ri(1, 3),
            ri(1, 3),
            ri(0, 2),
            ri(0, 2),
            ri(1, 2),
            ri(1, 2),
          ]
        : [
            ri(1, 3),
            ri(1, 3),
            ri(1, 7),
            ri(1, 7),
            ri(1, 3),
            ri(1, 4),
            ri(1, 4),
            ri(1, 3),
            ri(1, 3),
            ri(0, 2),
            ri(0, 2),
            ri(1, 2),
            ri(1, 2),
          ];
    call('conv2d', (T, L) => [arr(T, L, 'x'), arr(T, L, 'weight'), orNull(T, L, 'bias'), arr(T, L, 'y'), ...g]);
    call('conv2dBackwardInput', (T, L) => [arr(T, L, 'gy'), arr(T, L, 'weight'), arr(T, L, 'gx'), ...g]);
    call('conv2dBackwardWeight', (T, L) => [
      arr(T, L, 'x'),
      arr(T, L, 'gy'),
      arr(T, L, 'gw'),
      orNull(T, L, 'gb'),
      ...g,
    ]);
  }
  {
    // planes, h, w, kH, kW, strideH, strideW, padH, padW
    const g =
      rnd() < 0.25
        ? [ri(1, 16), ri(8, 40), ri(8, 40), ri(1, 5), ri(1, 5), ri(1, 3), ri(1, 3), ri(0, 2), ri(0, 2)]
        : [ri(1, 4), ri(1, 8), ri(1, 8), ri(1, 4), ri(1, 4), ri(1, 3), ri(1, 3), ri(0, 2), ri(0, 2)];
    call('maxPool2d', (T, L) => [arr(T, L, 'x'), arr(T, L, 'y'), ints(L, 'indices', 1), ...g]);
    call('maxPool2dBackward', (T, L) => [arr(T, L, 'gy'), ints(L, 'indices', g[1] * g[2]), arr(T, L, 'gx'), ...g]);
    call('avgPool2d', (T, L) => [arr(T, L, 'x'), arr(T, L, 'y'), ...g]);
    call('avgPool2dBackward', (T, L) => [arr(T, L, 'gy'), arr(T, L, 'gx'), ...g]);
  }
  {
    const n = s(),
      c = s(),
      inner = s();
    call('batchNormStats', (T, L) => [arr(T, L, 'x'), n, c, inner, arr(T, L, 'mean'), arr(T, L, 'variance')]);
    call('channelAffine', (T, L) => [
      arr(T, L, 'x'),
      n,
      c,
      inner,
      arr(T, L, 'scale'),
      arr(T, L, 'shift'),
      arr(T, L, 'y'),
    ]);
  }
  {
    // cell: 0 RNN tanh, 1 RNN relu, 2 LSTM, 3 GRU; an array the cell needs is passed, one it
    // must not get is null, one it may get is passed or null at random.
    const cell = ri(0, 3),
      batch = s(),
      hidden = rnd() < 0.3 ? ri(16, 40) : s();
    const lstm = cell === 2,
      gru = cell === 3,
      rnn = cell < 2;
    /** @type {(T: FloatCtor, L: Lens, name: string, needed: boolean) => Float32Array | Float64Array | null} */
    const opt = (T, L, name, needed) => (needed ? arr(T, L, name) : orNull(T, L, name));
    call('rnnCellForward', (T, L) => [
      cell,
      batch,
      hidden,
      arr(T, L, 'xp'),
      arr(T, L, 'hh'),
      orNull(T, L, 'bHh'),
      opt(T, L, 'hPrev', gru),
      opt(T, L, 'cPrev', lstm),
      arr(T, L, 'h'),
      opt(T, L, 'c', lstm),
      opt(T, L, 'saved', lstm || gru),
    ]);
    call('rnnCellBackward', (T, L) => [
      cell,
      batch,
      hidden,
      opt(T, L, 'saved', lstm || gru),
      opt(T, L, 'hPrev', gru),
      opt(T, L, 'cPrev', lstm),
      opt(T, L, 'c', lstm),
      opt(T, L, 'h', rnn),
      arr(T, L, 'gh'),
      orNull(T, L, 'ghNext'),
      orNull(T, L, 'gcNext'),
      arr(T, L, 'gxp'),
      gru ? arr(T, L, 'ghh') : null,
      arr(T, L, 'ghPrev'),
      opt(T, L, 'gcPrev', lstm),
    ]);
  }
}

const paths = [];
for (const level of /** @type {string[]} */ (addon._simdLevels()))
  for (const blas of ['builtin', 'openblas']) {
    addon._setSimd(level);
    try {
      addon._setBlas(blas);
    } catch {
      continue;
    } // no OpenBLAS on this machine
    addon.setNumThreads(ri(1, 3));
    paths.push(`${level}/${blas}`);
    for (let r = 0; r < rounds; r++) round();
  }
const never = Object.keys(counts).filter((fn) => counts[fn].ran === 0);
console.log(`sanitize-stress: ${rounds} rounds on ${paths.join(', ')}`);
for (const [fn, c] of Object.entries(counts))
  console.log(`  ${fn}: ran ${c.ran}, rejected ${c.rejected}, gave up ${c['gave up']}`);
if (never.length) {
  console.log(`sanitize-stress: FAILED, never ran: ${never.join(', ')}`);
  process.exit(1);
}
