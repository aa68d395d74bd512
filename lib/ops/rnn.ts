// Recurrence: one direction of one recurrent layer (RNN tanh/relu, LSTM, GRU) over a whole
// sequence, as one op.
//
// Forward: the input projection xp = x W_ihᵀ + b_ih of all time steps comes in precomputed (one
// GEMM, done by the layer through `linear`); each step is one recurrent GEMM (hPrev W_hhᵀ) and one
// fused cell kernel (rnnCellForward: bias, gate sigmoid/tanh and state update in one pass).
// Backward, fast path (no graph being created): backpropagation through time with one fused
// rnnCellBackward and one GEMM per step; the weight gradient of W_hh for all steps is one GEMM at
// the end, and the bias gradient one column sum.
// Backward, definition (createGraph): `recurrenceRule`, the same equations written in Tensor ops,
// so that double backward works; a test checks that both paths agree.

import { EDGE_STORAGE } from '../tensor-checks.js';
import { kernels } from '../backend/index.js';
import { compareMask } from './binary.js';
import { RnnCell, type FloatArray } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp, type OpDef } from './registry.js';
import { allocLike, allocOut, checkTensor, floatData, numel, record, sameShape, shapeStr, willRecord } from './util.js';
import { linear, mm } from './matmul.js';
import { cat, stack } from './shape.js';

export type RnnCellKind = 'rnnTanh' | 'rnnRelu' | 'lstm' | 'gru';

/** Gates per cell: 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n). */
export function gateCount(kind: RnnCellKind): number {
  return kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1;
}

interface RecurrenceSaved {
  cell: RnnCell;
  kind: RnnCellKind;
  reverse: boolean;
  T: number;
  B: number;
  H: number;
  hasBias: boolean;
  /** b_ih is an input (RNN/LSTM: added here instead of in the input projection). */
  hasBiasIh: boolean;
  /** The op's output data: h of every step by time, then (LSTM) the final c. */
  y: FloatArray;
  /** Per step (by time): what rnnCellBackward needs ([T, B, 4H]; null for RNN). */
  gates: FloatArray | null;
  /** LSTM: c after each step, by time ([T, B, H]). */
  cs: FloatArray | null;
}

function checkShapeIs(op: string, name: string, t: Tensor, expected: readonly number[]): void {
  if (!sameShape(t.shape, expected)) {
    throw new Error(`${op}: ${name} has shape ${shapeStr(t.shape)}, expected ${shapeStr(expected)}`);
  }
}

/**
 * Runs one recurrent layer direction over a sequence.
 * xp: [T, B, G*H], the input projection x W_ihᵀ + b_ih of every step; h0: [B, H]; c0: [B, H]
 * (LSTM only, else null); wHh: [G*H, H]; bHh: [G*H] or null; reverse: walk t = T-1 .. 0;
 * bIh: [G*H] or null, b_ih when xp was computed without it (RNN and LSTM only: their cell adds
 * it together with b_hh, which saves a pass over xp forward and a column sum backward).
 * Returns [T, B, H], the h of every step by time; for LSTM [T + 1, B, H], whose last slice is the
 * final c. The final h is slice T-1 (forward) or 0 (reverse).
 */
export function recurrence(
  kind: RnnCellKind,
  xp: Tensor,
  h0: Tensor,
  c0: Tensor | null,
  wHh: Tensor,
  bHh: Tensor | null,
  reverse = false,
  bIh: Tensor | null = null,
): Tensor {
  const op = 'recurrence';
  checkTensor(op, 'xp', xp);
  checkTensor(op, 'h0', h0);
  checkTensor(op, 'wHh', wHh);
  const G = gateCount(kind);
  if (wHh.shape.length !== 2 || wHh.shape[0] !== G * wHh.shape[1]) {
    throw new Error(`${op}: wHh must be [${G}*hidden, hidden] for a ${kind} cell, got shape ${shapeStr(wHh.shape)}`);
  }
  const H = wHh.shape[1];
  if (xp.shape.length !== 3 || xp.shape[2] !== G * H) {
    throw new Error(
      `${op}: xp must be [seq, batch, ${G * H}] for wHh of shape ${shapeStr(wHh.shape)}, got shape ${shapeStr(xp.shape)}`,
    );
  }
  const [T, B] = xp.shape;
  if (T < 1) throw new Error(`${op}: the sequence must have at least one step, got xp shape ${shapeStr(xp.shape)}`);
  checkShapeIs(op, 'h0', h0, [B, H]);
  const lstm = kind === 'lstm';
  if (lstm) {
    if (c0 === null) throw new Error(`${op}: an LSTM needs c0 of shape [${B}, ${H}]`);
    checkTensor(op, 'c0', c0);
    checkShapeIs(op, 'c0', c0, [B, H]);
  } else {
    c0 = null;
  }
  if (bHh !== null) {
    checkTensor(op, 'bHh', bHh);
    checkShapeIs(op, 'bHh', bHh, [G * H]);
  }
  if (bIh !== null) {
    if (kind === 'gru')
      throw new Error(`${op}: bIh cannot be folded into a GRU cell (b_in sits outside r * (...)); add it to xp`);
    checkTensor(op, 'bIh', bIh);
    checkShapeIs(op, 'bIh', bIh, [G * H]);
  }
  for (const [name, t] of [
    ['h0', h0],
    ['c0', c0],
    ['wHh', wHh],
    ['bHh', bHh],
    ['bIh', bIh],
  ] as const) {
    if (t !== null && t.data.constructor !== xp.data.constructor) {
      throw new TypeError(`${op}: ${name} is ${t.dtype} but xp is ${xp.dtype}; convert one with .to(dtype)`);
    }
  }

  const cell = RnnCell[kind];
  const K = kernels();
  const BH = B * H;
  const GW = G * H;
  const inputs = [xp, h0];
  if (c0 !== null) inputs.push(c0);
  inputs.push(wHh);
  if (bHh !== null) inputs.push(bHh);
  if (bIh !== null) inputs.push(bIh);
  const keep = willRecord(inputs);

  // Every buffer below is written in full by the kernels before it is read: allocOut (no zero fill).
  const y = allocOut(xp.data, (lstm ? T + 1 : T) * BH);
  const S = kind === 'lstm' || kind === 'gru' ? 4 * H : 0;
  // Saved per step when a backward may follow; otherwise one step's worth of scratch.
  const gates = S > 0 ? allocOut(xp.data, (keep ? T : 1) * B * S) : null;
  const cs = lstm ? allocOut(xp.data, T * BH) : null;
  const hh = allocOut(xp.data, B * GW);
  const x = xp.data;
  // W_hhᵀ once per call: the per-step product hPrev W_hhᵀ then runs as a plain (NN) GEMM, which
  // is about a third faster than the transposed-operand form at these sizes.
  const w = allocOut(wHh.data, GW * H);
  K.permute(wHh.data, [GW, H], [1, 0], w);
  let b = bHh === null ? null : bHh.data;
  if (bIh !== null) {
    const sum = allocLike(bIh.data, GW);
    for (let i = 0; i < GW; i++) sum[i] = bIh.data[i] + (b === null ? 0 : b[i]);
    b = sum;
  }
  let hPrev: FloatArray = h0.data;
  let cPrev: FloatArray | null = c0 === null ? null : c0.data;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    K.gemm(false, false, B, GW, H, 1, hPrev, w, 0, hh);
    const h = y.subarray(t * BH, (t + 1) * BH);
    const c = cs === null ? null : cs.subarray(t * BH, (t + 1) * BH);
    const g = gates === null ? null : keep ? gates.subarray(t * B * S, (t + 1) * B * S) : gates;
    K.rnnCellForward(cell, B, H, x.subarray(t * B * GW, (t + 1) * B * GW), hh, b, hPrev, cPrev, h, c, g);
    hPrev = h;
    cPrev = c;
  }
  if (lstm) y.set(cPrev!, T * BH);
  const out = new Tensor(y, [lstm ? T + 1 : T, B, H]);
  if (!keep) return out;
  return record<RecurrenceSaved>(out, recurrenceOps[kind], inputs, {
    cell,
    kind,
    reverse,
    T,
    B,
    H,
    hasBias: bHh !== null,
    hasBiasIh: bIh !== null,
    y,
    gates,
    cs,
  });
}

interface Unpacked {
  xp: Tensor;
  h0: Tensor;
  c0: Tensor | null;
  wHh: Tensor;
  bHh: Tensor | null;
  bIh: Tensor | null;
}

function unpack(node: Node<RecurrenceSaved>): Unpacked {
  const ins = node.inputs;
  const lstm = node.saved.kind === 'lstm';
  const wi = lstm ? 3 : 2;
  return {
    xp: ins[0],
    h0: ins[1],
    c0: lstm ? ins[2] : null,
    wHh: ins[wi],
    bHh: node.saved.hasBias ? ins[wi + 1] : null,
    bIh: node.saved.hasBiasIh ? ins[wi + (node.saved.hasBias ? 2 : 1)] : null,
  };
}

function pack(
  node: Node<RecurrenceSaved>,
  gxp: Tensor | null,
  gh0: Tensor | null,
  gc0: Tensor | null,
  gw: Tensor | null,
  gb: Tensor | null,
  gbIh: Tensor | null,
): Grads {
  const out: Grads = [gxp, gh0];
  if (node.saved.kind === 'lstm') out.push(gc0);
  out.push(gw);
  if (node.saved.hasBias) out.push(gb);
  if (node.saved.hasBiasIh) out.push(gbIh);
  return out;
}

/** What one backward pass through time needs besides the saved activations. */
export interface BpttSpec {
  cell: RnnCell;
  kind: RnnCellKind;
  reverse: boolean;
  T: number;
  B: number;
  H: number;
  /** The incoming gradient: [T, B, H] (LSTM: [T + 1, B, H], the last slice for the final c). */
  gy: FloatArray;
  h0: FloatArray;
  /** W_hh: [G*H, H]. */
  w: FloatArray;
  needH0: boolean;
  needW: boolean;
}

/**
 * Backpropagation through time, one step at a time in processing order (s = T-1 .. 0): the fused
 * cell backward, the GEMM into the previous state's gradient, and the step's share of dW_hh
 * accumulated into one buffer in that order. Full BPTT (recurrenceFused) and memory-budgeted BPTT
 * (rnn-budget.ts) both drive it, so they agree bit for bit whatever they recompute.
 */
export class Bptt {
  readonly gXp: FloatArray;
  readonly gHh: FloatArray;
  readonly gw: FloatArray | null;
  private ghIn: FloatArray | null = null;
  private ghOut: FloatArray;
  private ghSpare: FloatArray;
  private gcIn: FloatArray | null;
  private gcOut: FloatArray | null;
  private gcSpare: FloatArray | null;
  private stepsDone = 0;

  constructor(readonly spec: BpttSpec) {
    const { kind, T, B, H, gy } = spec;
    const GW = gateCount(kind) * H;
    const BH = B * H;
    const lstm = kind === 'lstm';
    // Written in full by the kernels (gemm with beta 0 included): allocOut, no zero fill.
    this.gXp = allocOut(gy, T * B * GW);
    this.gHh = kind === 'gru' ? allocOut(gy, T * B * GW) : this.gXp;
    this.gw = spec.needW ? allocOut(gy, GW * H) : null;
    // Two buffers per state, swapped each step: one holds the incoming gradient, one the outgoing.
    this.ghOut = allocLike(gy, BH);
    this.ghSpare = allocLike(gy, BH);
    this.gcIn = lstm ? gy.subarray(T * BH, (T + 1) * BH) : null;
    this.gcOut = lstm ? allocLike(gy, BH) : null;
    this.gcSpare = lstm ? allocLike(gy, BH) : null;
  }

  /**
   * Backward of processing step s (called for s = T-1 down to 0, in order): hPrev/cPrev the state
   * before it, gates/c/h what its forward produced.
   */
  step(
    s: number,
    hPrev: FloatArray,
    cPrev: FloatArray | null,
    gates: FloatArray | null,
    c: FloatArray | null,
    h: FloatArray,
  ): void {
    const { cell, kind, reverse, T, B, H, gy, w } = this.spec;
    if (s !== T - 1 - this.stepsDone) throw new Error(`Bptt: step ${s} out of order`);
    this.stepsDone++;
    const GW = gateCount(kind) * H;
    const BH = B * H;
    const t = reverse ? T - 1 - s : s;
    const gxp = this.gXp.subarray(t * B * GW, (t + 1) * B * GW);
    const ghh = kind === 'gru' ? this.gHh.subarray(t * B * GW, (t + 1) * B * GW) : null;
    const K = kernels();
    K.rnnCellBackward(
      cell,
      B,
      H,
      gates,
      hPrev,
      cPrev,
      c,
      h,
      gy.subarray(t * BH, (t + 1) * BH),
      this.ghIn,
      this.gcIn,
      gxp,
      ghh,
      this.ghOut,
      this.gcOut,
    );
    if (s > 0 || this.spec.needH0) K.gemm(false, false, B, H, GW, 1, ghh ?? gxp, w, 1, this.ghOut);
    // dW_hh = Σ_t ghh_tᵀ hPrev_t, summed in processing order.
    if (this.gw !== null) K.gemm(true, false, GW, H, B, 1, ghh ?? gxp, hPrev, s === T - 1 ? 0 : 1, this.gw);
    // The outgoing gradients become the next (earlier) step's incoming ones.
    const gh = this.ghOut;
    this.ghOut = this.ghSpare;
    this.ghSpare = gh;
    this.ghIn = gh;
    if (kind === 'lstm') {
      const gc = this.gcOut!;
      this.gcOut = this.gcSpare;
      this.gcSpare = gc;
      this.gcIn = gc;
    }
  }

  /** After step 0: the gradients of h0 and c0 (copies), and the bias gradient (column sums). */
  finish(needBias: boolean): { gh0: FloatArray | null; gc0: FloatArray | null; gb: FloatArray | null } {
    const { kind, T, B, H, gy } = this.spec;
    if (this.stepsDone !== T) throw new Error(`Bptt: finished after ${this.stepsDone} of ${T} steps`);
    let gb: FloatArray | null = null;
    if (needBias) {
      const GW = gateCount(kind) * H;
      gb = allocLike(gy, GW);
      kernels().biasGrad(this.gHh, T * B, GW, gb);
    }
    return {
      gh0: this.spec.needH0 ? this.ghIn!.slice() : null,
      gc0: kind === 'lstm' ? this.gcIn!.slice() : null,
      gb,
    };
  }
}

/** BPTT through the fused cell kernels, one GEMM pair per step, the saved activations as they are. */
function recurrenceFused(g: Tensor, node: Node<RecurrenceSaved>): Grads {
  const { cell, kind, reverse, T, B, H, y, gates, cs } = node.saved;
  const { xp, h0, c0, wHh, bHh, bIh } = unpack(node);
  const GW = gateCount(kind) * H;
  const BH = B * H;
  const S = gates === null ? 0 : 4 * H;
  const lstm = kind === 'lstm';
  const bptt = new Bptt({
    cell,
    kind,
    reverse,
    T,
    B,
    H,
    gy: floatData(g),
    h0: floatData(h0),
    w: floatData(wHh),
    needH0: h0.requiresGrad,
    needW: wHh.requiresGrad,
  });
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const prev = s === 0 ? -1 : reverse ? t + 1 : t - 1;
    const hPrev = prev < 0 ? floatData(h0) : y.subarray(prev * BH, (prev + 1) * BH);
    const cPrev = !lstm ? null : prev < 0 ? floatData(c0!) : cs!.subarray(prev * BH, (prev + 1) * BH);
    bptt.step(
      s,
      hPrev,
      cPrev,
      gates === null ? null : gates.subarray(t * B * S, (t + 1) * B * S),
      cs === null ? null : cs.subarray(t * BH, (t + 1) * BH),
      y.subarray(t * BH, (t + 1) * BH),
    );
  }
  // For RNN/LSTM (the only cells bIh comes with) the gradients of b_hh and b_ih are both the
  // column sums of gXp (= gHh).
  const needB = bHh !== null && bHh.requiresGrad;
  const needBIh = bIh !== null && bIh.requiresGrad;
  const { gh0, gc0, gb: d } = bptt.finish(needB || needBIh);
  return pack(
    node,
    xp.requiresGrad ? new Tensor(bptt.gXp, [T, B, GW]) : null,
    gh0 === null ? null : new Tensor(gh0, [B, H]),
    lstm && c0!.requiresGrad ? new Tensor(gc0!, [B, H]) : null,
    bptt.gw === null ? null : new Tensor(bptt.gw, [GW, H]),
    needB ? new Tensor(d!, [GW]) : null,
    needBIh ? new Tensor(needB ? d!.slice() : d!, [GW]) : null,
  );
}

// ---------------------------------------------------------------------------------------------
// The definition in Tensor ops: recompute the steps from the inputs, then walk back through time
// with each cell's backward equations: the recurrence's rule.

interface StepValues {
  hPrev: Tensor;
  cPrev: Tensor | null;
  /** Activations the backward equations read. */
  a: Tensor[];
  h: Tensor;
  c: Tensor | null;
}

function cellForwardComposed(
  kind: RnnCellKind,
  xt: Tensor,
  hh: Tensor,
  hPrev: Tensor,
  cPrev: Tensor | null,
  H: number,
): StepValues {
  if (kind === 'lstm') {
    const pre = xt.add(hh);
    const i = pre.narrow(1, 0, H).sigmoid();
    const f = pre.narrow(1, H, H).sigmoid();
    const g = pre.narrow(1, 2 * H, H).tanh();
    const o = pre.narrow(1, 3 * H, H).sigmoid();
    const c = f.mul(cPrev!).add(i.mul(g));
    const tc = c.tanh();
    return { hPrev, cPrev, a: [i, f, g, o, tc], h: o.mul(tc), c };
  }
  if (kind === 'gru') {
    const r = xt
      .narrow(1, 0, H)
      .add(hh.narrow(1, 0, H))
      .sigmoid();
    const z = xt
      .narrow(1, H, H)
      .add(hh.narrow(1, H, H))
      .sigmoid();
    const hn = hh.narrow(1, 2 * H, H);
    const n = xt
      .narrow(1, 2 * H, H)
      .add(r.mul(hn))
      .tanh();
    const h = z.rsub(1).mul(n).add(z.mul(hPrev));
    return { hPrev, cPrev: null, a: [r, z, n, hn], h, c: null };
  }
  const pre = xt.add(hh);
  const h = kind === 'rnnTanh' ? pre.tanh() : pre.relu();
  return { hPrev, cPrev: null, a: [], h, c: null };
}

/** d sigmoid = y (1 - y), d tanh = 1 - y², from the activation's value y. */
const dSigmoid = (y: Tensor): Tensor => y.mul(y.rsub(1));
const dTanh = (y: Tensor): Tensor => y.mul(y).rsub(1);

interface StepGrads {
  gxp: Tensor;
  ghh: Tensor;
  /** Gradient of hPrev not through hh (GRU), else null. */
  ghDirect: Tensor | null;
  gcPrev: Tensor | null;
}

function cellBackwardComposed(kind: RnnCellKind, st: StepValues, gt: Tensor, gcNext: Tensor | null): StepGrads {
  if (kind === 'lstm') {
    const [i, f, g, o, tc] = st.a;
    let gc = gt.mul(o).mul(dTanh(tc));
    if (gcNext !== null) gc = gc.add(gcNext);
    const gxp = cat(
      [
        gc.mul(g).mul(dSigmoid(i)),
        gc.mul(st.cPrev!).mul(dSigmoid(f)),
        gc.mul(i).mul(dTanh(g)),
        gt.mul(tc).mul(dSigmoid(o)),
      ],
      1,
    );
    return { gxp, ghh: gxp, ghDirect: null, gcPrev: gc.mul(f) };
  }
  if (kind === 'gru') {
    const [r, z, n, hn] = st.a;
    const gnp = gt.mul(z.rsub(1)).mul(dTanh(n));
    const grp = gnp.mul(hn).mul(dSigmoid(r));
    const gzp = gt.mul(st.hPrev.sub(n)).mul(dSigmoid(z));
    return {
      gxp: cat([grp, gzp, gnp], 1),
      ghh: cat([grp, gzp, gnp.mul(r)], 1),
      ghDirect: gt.mul(z),
      gcPrev: null,
    };
  }
  // relu' is a constant mask (h > 0), so the rule stays differentiable in gt and h elsewhere.
  const gpre = kind === 'rnnTanh' ? gt.mul(dTanh(st.h)) : gt.mul(compareMask('gt', st.h, 0));
  return { gxp: gpre, ghh: gpre, ghDirect: null, gcPrev: null };
}

/** The backward of `recurrence` in Tensor ops (differentiable again). */
function recurrenceRule(g: Tensor, node: Node<RecurrenceSaved>): Grads {
  const { kind, reverse, T, B, H } = node.saved;
  const { xp, h0, c0, wHh, bHh, bIh } = unpack(node);
  const lstm = kind === 'lstm';
  const steps: StepValues[] = [];
  let h = h0;
  let c = c0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    let xt = xp.narrow(0, t, 1).reshape([B, -1]);
    if (bIh !== null) xt = xt.add(bIh);
    const st = cellForwardComposed(kind, xt, linear(h, wHh, bHh), h, c, H);
    steps.push(st);
    h = st.h;
    c = st.c;
  }
  const gxs: Tensor[] = new Array<Tensor>(T);
  let ghNext: Tensor | null = null;
  let gcNext: Tensor | null = lstm ? g.narrow(0, T, 1).reshape([B, H]) : null;
  let gw: Tensor | null = null;
  let gb: Tensor | null = null;
  let gbIh: Tensor | null = null;
  for (let s = T - 1; s >= 0; s--) {
    const t = reverse ? T - 1 - s : s;
    const st = steps[s];
    let gt = g.narrow(0, t, 1).reshape([B, H]);
    if (ghNext !== null) gt = gt.add(ghNext);
    const sg = cellBackwardComposed(kind, st, gt, gcNext);
    gxs[t] = sg.gxp;
    let ghPrev = mm(sg.ghh, wHh);
    if (sg.ghDirect !== null) ghPrev = ghPrev.add(sg.ghDirect);
    const dw = mm(sg.ghh, st.hPrev, true, false);
    gw = gw === null ? dw : gw.add(dw);
    if (bHh !== null) {
      const db = sg.ghh.sum(0);
      gb = gb === null ? db : gb.add(db);
    }
    if (bIh !== null) {
      const db = sg.gxp.sum(0);
      gbIh = gbIh === null ? db : gbIh.add(db);
    }
    ghNext = ghPrev;
    gcNext = sg.gcPrev;
  }
  return pack(
    node,
    xp.requiresGrad ? stack(gxs, 0) : null,
    h0.requiresGrad ? ghNext : null,
    lstm && c0!.requiresGrad ? gcNext : null,
    wHh.requiresGrad ? gw : null,
    bHh !== null && bHh.requiresGrad ? gb : null,
    bIh !== null && bIh.requiresGrad ? gbIh : null,
  );
}

/** One op per cell kind, so that messages name the cell (recurrence(lstm)). */
const recurrenceOps = Object.fromEntries(
  (Object.keys(RnnCell) as RnnCellKind[]).map((kind) => [
    kind,
    defineOp<RecurrenceSaved>({
      name: `recurrence(${kind})`,
      kernels: ['gemm', 'permute', 'rnnCellForward'],
      code: RnnCell[kind],
      arity: 'variadic', // xp, h0, c0 (LSTM), wHh, and the biases when given
      rule: recurrenceRule,
      fused: recurrenceFused,
      fusedKernels: ['gemm', 'rnnCellBackward', 'biasGrad'],
    }),
  ]),
) as Record<RnnCellKind, OpDef<RecurrenceSaved>>;

// ---------------------------------------------------------------------------------------------
// Rows along dim 0 as a view (no copy): the layer reads outputs and final states out of the
// recurrence's result this way. The backward places g into zeros of the input's shape.

interface RowsSaved {
  start: number;
  shape: readonly number[];
}

/**
 * x[start : start + length] along dim 0, sharing x's storage (copy: in storage of its own, so that
 * holding the result does not hold all of x).
 */
export function rows(x: Tensor, start: number, length: number, copy = false): Tensor {
  checkTensor('rows', 'input', x);
  if (
    x.shape.length === 0 ||
    !Number.isInteger(start) ||
    !Number.isInteger(length) ||
    start < 0 ||
    length < 0 ||
    start + length > x.shape[0]
  ) {
    throw new RangeError(`rows: start ${start} and length ${length} do not fit dim 0 of shape ${shapeStr(x.shape)}`);
  }
  if (start === 0 && length === x.shape[0] && !copy) return x;
  const inner = numel(x.shape.slice(1));
  const shape = [length, ...x.shape.slice(1)];
  const part = x.data.subarray(start * inner, (start + length) * inner);
  const out = new Tensor(copy ? part.slice() : part, shape);
  return record<RowsSaved>(out, rowsOp, [edgeOf(x)], { start, shape: x.shape });
}

/**
 * The graph edge to a non-leaf tensor without its storage, for an op whose backward never reads
 * the input's values (rows): the node then keeps the gradient's route, not the activation.
 * Leaves are kept as they are (the engine delivers their gradient to the tensor itself).
 */
function edgeOf(x: Tensor): Tensor {
  if (x.gradFn === null) return x;
  const e = new Tensor(EDGE_STORAGE, x.shape, true);
  e.gradFn = x.gradFn;
  return e;
}

const rowsOp = defineOp<RowsSaved>({
  name: 'rows',
  kernels: [],
  arity: 1,
  // g between zero blocks, concatenated in Tensor ops.
  rule: (g, node) => {
    const { start, shape } = node.saved;
    const rest = shape.slice(1);
    const parts: Tensor[] = [];
    const zerosRows = (n: number): Tensor => new Tensor(allocLike(floatData(g), n * numel(rest)), [n, ...rest]);
    if (start > 0) parts.push(zerosRows(start));
    parts.push(g);
    const after = shape[0] - start - g.shape[0];
    if (after > 0) parts.push(zerosRows(after));
    return [parts.length === 1 ? g : cat(parts, 0)];
  },
  // One copy of g into a zeroed array.
  fused: (g, node) => {
    const { start, shape } = node.saved;
    const d = allocLike(floatData(g), numel(shape));
    d.set(g.data, start * (numel(shape) / shape[0]));
    return [new Tensor(d, shape.slice())];
  },
});
