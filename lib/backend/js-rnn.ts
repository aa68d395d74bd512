// The js backend's fused recurrent-cell kernels (assembled into jsBackend in js.ts): one time step
// of an RNN, LSTM or GRU cell, forward and backward, in plain loops. The native kernels in
// native/rnn.cc compute the same thing and are tested against these.

import { RNN_CELLS, RnnCell, type Backend, type FloatArray } from './types.js';
import {
  checkAtLeast,
  checkCode,
  checkFloatArray,
  checkLike,
  checkNull,
  checkOptional,
  checkRequiredIf,
  checkSize,
} from './js-checks.js';

function gatesOf(cell: RnnCell): number {
  return cell === RnnCell.lstm ? 4 : cell === RnnCell.gru ? 3 : 1;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

// ---------------------------------------------------------------------------------------------

function rnnCellForward(
  cell: RnnCell,
  batch: number,
  hidden: number,
  xp: FloatArray,
  hh: FloatArray,
  bHh: FloatArray | null,
  hPrev: FloatArray | null,
  cPrev: FloatArray | null,
  h: FloatArray,
  c: FloatArray | null,
  saved: FloatArray | null,
): void {
  const op = 'rnnCellForward';
  checkCode(op, 'cell', RNN_CELLS, cell);
  checkSize(op, 'batch', batch);
  checkSize(op, 'hidden', hidden);
  const G = gatesOf(cell);
  const gh = G * hidden;
  const bh = batch * hidden;
  checkFloatArray(op, 'xp', xp);
  checkAtLeast(op, 'xp', xp, batch * gh);
  checkLike(op, 'hh', hh, xp);
  checkAtLeast(op, 'hh', hh, batch * gh);
  const b = checkOptional(op, 'bHh', bHh, xp, gh);
  const isLstm = cell === RnnCell.lstm;
  const isGru = cell === RnnCell.gru;
  const hp = checkRequiredIf(op, 'hPrev', hPrev, isGru, 'for a GRU cell', xp, bh);
  const cp = checkRequiredIf(op, 'cPrev', cPrev, isLstm, 'for an LSTM cell', xp, bh);
  checkLike(op, 'h', h, xp);
  checkAtLeast(op, 'h', h, bh);
  const co = checkRequiredIf(op, 'c', c, isLstm, 'for an LSTM cell', xp, bh);
  const sv = checkRequiredIf(op, 'saved', saved, isLstm || isGru, 'for LSTM and GRU cells', xp, batch * 4 * hidden);

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
  cell: RnnCell,
  batch: number,
  hidden: number,
  saved: FloatArray | null,
  hPrev: FloatArray | null,
  cPrev: FloatArray | null,
  c: FloatArray | null,
  h: FloatArray | null,
  gh: FloatArray,
  ghNext: FloatArray | null,
  gcNext: FloatArray | null,
  gxp: FloatArray,
  ghh: FloatArray | null,
  ghPrev: FloatArray,
  gcPrev: FloatArray | null,
): void {
  const op = 'rnnCellBackward';
  checkCode(op, 'cell', RNN_CELLS, cell);
  checkSize(op, 'batch', batch);
  checkSize(op, 'hidden', hidden);
  const G = gatesOf(cell);
  const H = hidden;
  const gw = G * H;
  const bh = batch * H;
  const isLstm = cell === RnnCell.lstm;
  const isGru = cell === RnnCell.gru;
  const isRnn = !isLstm && !isGru;
  // Arrays are checked in argument order; gh, always required, sets the dtype.
  checkFloatArray(op, 'gh', gh);
  const sv = checkRequiredIf(op, 'saved', saved, isLstm || isGru, 'for LSTM and GRU cells', gh, batch * 4 * H);
  const hp = checkRequiredIf(op, 'hPrev', hPrev, isGru, 'for a GRU cell', gh, bh);
  const cp = checkRequiredIf(op, 'cPrev', cPrev, isLstm, 'for an LSTM cell', gh, bh);
  const cc = checkRequiredIf(op, 'c', c, isLstm, 'for an LSTM cell', gh, bh);
  const hh = checkRequiredIf(op, 'h', h, isRnn, 'for an RNN cell', gh, bh);
  checkAtLeast(op, 'gh', gh, bh);
  const ghn = checkOptional(op, 'ghNext', ghNext, gh, bh);
  const gcn = checkOptional(op, 'gcNext', gcNext, gh, bh);
  checkLike(op, 'gxp', gxp, gh);
  checkAtLeast(op, 'gxp', gxp, batch * gw);
  const ghhOut = checkRequiredIf(op, 'ghh', ghh, isGru, 'for a GRU cell', gh, batch * gw);
  if (!isGru) checkNull(op, 'ghh', ghh, 'for RNN and LSTM cells (their ghh equals gxp)');
  checkLike(op, 'ghPrev', ghPrev, gh);
  checkAtLeast(op, 'ghPrev', ghPrev, bh);
  const gcp = checkRequiredIf(op, 'gcPrev', gcPrev, isLstm, 'for an LSTM cell', gh, bh);

  for (let r = 0; r < batch; r++) {
    const g0 = r * gw;
    const s0 = r * 4 * H;
    const h0 = r * H;
    for (let j = 0; j < H; j++) {
      const gt = gh[h0 + j] + (ghn ? ghn[h0 + j] : 0);
      if (isLstm) {
        const i = sv![s0 + j],
          f = sv![s0 + H + j],
          g = sv![s0 + 2 * H + j],
          o = sv![s0 + 3 * H + j];
        const tc = Math.tanh(cc![h0 + j]);
        const gc = (gcn ? gcn[h0 + j] : 0) + gt * o * (1 - tc * tc);
        gxp[g0 + j] = gc * g * i * (1 - i);
        gxp[g0 + H + j] = gc * cp![h0 + j] * f * (1 - f);
        gxp[g0 + 2 * H + j] = gc * i * (1 - g * g);
        gxp[g0 + 3 * H + j] = gt * tc * o * (1 - o);
        gcp![h0 + j] = gc * f;
        ghPrev[h0 + j] = 0;
      } else if (isGru) {
        const rr = sv![s0 + j],
          z = sv![s0 + H + j],
          n = sv![s0 + 2 * H + j],
          hn = sv![s0 + 3 * H + j];
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
