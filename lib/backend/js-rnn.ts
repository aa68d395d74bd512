// The js backend's fused recurrent-cell kernels (merged into jsBackend in js.ts): one time step
// of an RNN, LSTM or GRU cell, forward and backward, in plain loops. The native kernels in
// native/rnn.cc compute the same thing and are tested against these.

import { RnnCell, type Backend, type FloatArray } from './types.js';
import { checkAtLeast, checkFloatArray, describe } from './js-checks.js';

// ---------------------------------------------------------------------------------------------
// Argument checks: TypeError for a wrong kind of value, RangeError for a wrong size or length,
// as on the native side.

class Checker {
  private dtype: FloatArray | undefined;
  constructor(private readonly op: string) {}

  size(name: string, v: unknown): number {
    if (typeof v !== 'number') throw new TypeError(`${this.op}: ${name} must be a number, got ${describe(v)}`);
    if (!Number.isSafeInteger(v) || v < 0 || v > 2147483647) {
      throw new RangeError(`${this.op}: ${name} must be an integer in [0, 2147483647], got ${v}`);
    }
    return v;
  }

  cell(v: unknown): RnnCell {
    if (typeof v !== 'number') throw new TypeError(`${this.op}: cell must be a number, got ${describe(v)}`);
    if (!Number.isInteger(v) || v < RnnCell.rnnTanh || v > RnnCell.gru) {
      throw new RangeError(`${this.op}: cell must be an RnnCell code in [0, 3], got ${v}`);
    }
    return v as RnnCell;
  }

  /** A float array of the call's dtype holding at least `need` elements. */
  floats(name: string, v: unknown, need: number): FloatArray {
    checkFloatArray(this.op, name, v);
    if (this.dtype === undefined) this.dtype = v;
    else if (v.constructor !== this.dtype.constructor) {
      throw new TypeError(`${this.op}: ${name} is a ${v.constructor.name} but the other arrays are ${this.dtype.constructor.name}s; all arrays must share one dtype`);
    }
    checkAtLeast(this.op, name, v, need);
    return v;
  }

  /** Required when `needed`; otherwise checked when given, and ignored. */
  maybe(name: string, v: unknown, need: number, needed: boolean, why: string): FloatArray | null {
    if (needed) {
      if (v === null || v === undefined) throw new TypeError(`${this.op}: ${name} is required ${why}, got ${describe(v)}`);
      return this.floats(name, v, need);
    }
    if (v !== null && v !== undefined) this.floats(name, v, need);
    return null;
  }

  /** Optional (null allowed); checked when given. */
  optional(name: string, v: unknown, need: number): FloatArray | null {
    if (v === null || v === undefined) return null;
    return this.floats(name, v, need);
  }

  mustBeNull(name: string, v: unknown, why: string): void {
    if (v !== null && v !== undefined) throw new TypeError(`${this.op}: ${name} must be null ${why}, got ${describe(v)}`);
  }
}

export function gatesOf(cell: RnnCell): number {
  return cell === RnnCell.lstm ? 4 : cell === RnnCell.gru ? 3 : 1;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

// ---------------------------------------------------------------------------------------------

function rnnCellForward(
  cell: RnnCell, batch: number, hidden: number, xp: FloatArray, hh: FloatArray,
  bHh: FloatArray | null, hPrev: FloatArray | null, cPrev: FloatArray | null, h: FloatArray,
  c: FloatArray | null, saved: FloatArray | null,
): void {
  const ck = new Checker('rnnCellForward');
  cell = ck.cell(cell);
  batch = ck.size('batch', batch);
  hidden = ck.size('hidden', hidden);
  const G = gatesOf(cell);
  const gh = G * hidden;
  const bh = batch * hidden;
  xp = ck.floats('xp', xp, batch * gh);
  hh = ck.floats('hh', hh, batch * gh);
  const b = ck.optional('bHh', bHh, gh);
  const isLstm = cell === RnnCell.lstm;
  const isGru = cell === RnnCell.gru;
  const hp = ck.maybe('hPrev', hPrev, bh, isGru, 'for a GRU cell');
  const cp = ck.maybe('cPrev', cPrev, bh, isLstm, 'for an LSTM cell');
  h = ck.floats('h', h, bh);
  const co = ck.maybe('c', c, bh, isLstm, 'for an LSTM cell');
  const sv = ck.maybe('saved', saved, batch * 4 * hidden, isLstm || isGru, 'for LSTM and GRU cells');

  const H = hidden;
  for (let r = 0; r < batch; r++) {
    const g0 = r * gh;
    const s0 = r * 4 * H;
    const h0 = r * H;
    for (let j = 0; j < H; j++) {
      if (isLstm) {
        const pre = (k: number): number => xp[g0 + k * H + j] + hh[g0 + k * H + j] + (b ? b[k * H + j] : 0);
        const i = sigmoid(pre(0));
        const f = sigmoid(pre(1));
        const g = Math.tanh(pre(2));
        const o = sigmoid(pre(3));
        const cNew = f * cp![h0 + j] + i * g;
        co![h0 + j] = cNew;
        h[h0 + j] = o * Math.tanh(co![h0 + j]); // tanh of the stored (dtype-rounded) c, as the native kernel
        sv![s0 + j] = i;
        sv![s0 + H + j] = f;
        sv![s0 + 2 * H + j] = g;
        sv![s0 + 3 * H + j] = o;
      } else if (isGru) {
        const rr = sigmoid(xp[g0 + j] + hh[g0 + j] + (b ? b[j] : 0));
        const z = sigmoid(xp[g0 + H + j] + hh[g0 + H + j] + (b ? b[H + j] : 0));
        const hn = hh[g0 + 2 * H + j] + (b ? b[2 * H + j] : 0);
        const n = Math.tanh(xp[g0 + 2 * H + j] + rr * hn);
        h[h0 + j] = (1 - z) * n + z * hp![h0 + j];
        sv![s0 + j] = rr;
        sv![s0 + H + j] = z;
        sv![s0 + 2 * H + j] = n;
        sv![s0 + 3 * H + j] = hn;
      } else {
        const pre = xp[g0 + j] + hh[g0 + j] + (b ? b[j] : 0);
        h[h0 + j] = cell === RnnCell.rnnTanh ? Math.tanh(pre) : pre > 0 ? pre : 0;
      }
    }
  }
}

function rnnCellBackward(
  cell: RnnCell, batch: number, hidden: number, saved: FloatArray | null, hPrev: FloatArray | null,
  cPrev: FloatArray | null, c: FloatArray | null, h: FloatArray | null, gh: FloatArray,
  ghNext: FloatArray | null, gcNext: FloatArray | null, gxp: FloatArray, ghh: FloatArray | null,
  ghPrev: FloatArray, gcPrev: FloatArray | null,
): void {
  const ck = new Checker('rnnCellBackward');
  cell = ck.cell(cell);
  batch = ck.size('batch', batch);
  hidden = ck.size('hidden', hidden);
  const G = gatesOf(cell);
  const H = hidden;
  const gw = G * H;
  const bh = batch * H;
  const isLstm = cell === RnnCell.lstm;
  const isGru = cell === RnnCell.gru;
  const isRnn = !isLstm && !isGru;
  const sv = ck.maybe('saved', saved, batch * 4 * H, isLstm || isGru, 'for LSTM and GRU cells');
  const hp = ck.maybe('hPrev', hPrev, bh, isGru, 'for a GRU cell');
  const cp = ck.maybe('cPrev', cPrev, bh, isLstm, 'for an LSTM cell');
  const cc = ck.maybe('c', c, bh, isLstm, 'for an LSTM cell');
  const hh = ck.maybe('h', h, bh, isRnn, 'for an RNN cell');
  gh = ck.floats('gh', gh, bh);
  const ghn = ck.optional('ghNext', ghNext, bh);
  const gcn = ck.optional('gcNext', gcNext, bh);
  gxp = ck.floats('gxp', gxp, batch * gw);
  const ghhOut = ck.maybe('ghh', ghh, batch * gw, isGru, 'for a GRU cell');
  if (!isGru) ck.mustBeNull('ghh', ghh, 'for RNN and LSTM cells (their ghh equals gxp)');
  ghPrev = ck.floats('ghPrev', ghPrev, bh);
  const gcp = ck.maybe('gcPrev', gcPrev, bh, isLstm, 'for an LSTM cell');

  for (let r = 0; r < batch; r++) {
    const g0 = r * gw;
    const s0 = r * 4 * H;
    const h0 = r * H;
    for (let j = 0; j < H; j++) {
      const gt = gh[h0 + j] + (ghn ? ghn[h0 + j] : 0);
      if (isLstm) {
        const i = sv![s0 + j], f = sv![s0 + H + j], g = sv![s0 + 2 * H + j], o = sv![s0 + 3 * H + j];
        const tc = Math.tanh(cc![h0 + j]);
        const gc = (gcn ? gcn[h0 + j] : 0) + gt * o * (1 - tc * tc);
        gxp[g0 + j] = gc * g * i * (1 - i);
        gxp[g0 + H + j] = gc * cp![h0 + j] * f * (1 - f);
        gxp[g0 + 2 * H + j] = gc * i * (1 - g * g);
        gxp[g0 + 3 * H + j] = gt * tc * o * (1 - o);
        gcp![h0 + j] = gc * f;
        ghPrev[h0 + j] = 0;
      } else if (isGru) {
        const rr = sv![s0 + j], z = sv![s0 + H + j], n = sv![s0 + 2 * H + j], hn = sv![s0 + 3 * H + j];
        const gnp = gt * (1 - z) * (1 - n * n);
        const grp = gnp * hn * rr * (1 - rr);
        const gzp = gt * (hp![h0 + j] - n) * z * (1 - z);
        gxp[g0 + j] = grp;
        gxp[g0 + H + j] = gzp;
        gxp[g0 + 2 * H + j] = gnp;
        ghhOut![g0 + j] = grp;
        ghhOut![g0 + H + j] = gzp;
        ghhOut![g0 + 2 * H + j] = gnp * rr;
        ghPrev[h0 + j] = gt * z;
      } else {
        const y = hh![h0 + j];
        gxp[g0 + j] = cell === RnnCell.rnnTanh ? gt * (1 - y * y) : y > 0 ? gt : 0;
        ghPrev[h0 + j] = 0;
      }
    }
  }
}

export const rnnKernels: Pick<Backend, 'rnnCellForward' | 'rnnCellBackward'> = {
  rnnCellForward,
  rnnCellBackward,
};
