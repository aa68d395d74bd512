// Memory-budgeted backpropagation through time (Gruslys et al. 2016, "Memory-Efficient
// Backpropagation Through Time", BPTT-HSM: hidden-state memorisation).
//
// One layer direction as one op whose node keeps, for backward, only some hidden states (h, and c
// for an LSTM) instead of every step's gates and states. The backward recomputes what it needs
// from the nearest stored state, following the policy of the paper's dynamic program: with m
// state slots free and t steps to backpropagate, run y steps forward from the segment's start,
// store the state reached, solve the right part (t - y steps, m - 1 slots), free the slot, then
// the left part (y steps, m slots). C(t, m) = min_y [y + C(t - y, m - 1) + C(y, m)] counts the
// cell forwards it costs; C(1, m) = 1 (each step's gates are recomputed just before its backward);
// C(t, 0) = t(t + 1) / 2. The forward pass of training already walks every step, so storing the
// states of the policy's first right-hand chain during it is free; F(t, m) = min(C(t, m),
// min_y [F(t - y, m - 1) + C(y, m)]) chooses that chain. The policy is optimal for the number of
// slots the budget buys, not a fixed √T spacing.
//
// Bit for bit equal to full BPTT (ops/rnn.ts): the forward writes the same outputs with the same
// kernel calls; the backward recomputes each step's gates with the same calls on the same values
// and hands them, step by step in the same order, to the same Bptt class; the input projection
// xp = x W_ihᵀ (+ b) is recomputed by the same `linear` and its gradient computed by the same
// backward (through the engine).
//
// What the budget covers (per layer and direction): the stored states (B·H elements each, two for
// an LSTM) and the working state of the backward (three states and one step's gates). It does not
// cover the op's inputs (x, the previous layer's output) nor the gradient buffers and the
// recomputed xp, which the backward allocates and frees (as full BPTT allocates them too).

import { kernels } from '../backend/index.js';
import { RnnCell, type FloatArray } from '../backend/types.js';
import { holdSaved, noteSavedDropped } from '../backend/memory.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { grad } from '../autograd/engine.js';
import { enableGrad, isGradEnabled, noGrad } from '../autograd/mode.js';
import { defineOp, type OpDef } from './registry.js';
import { allocLike, allocOut, floatData, record, willRecord } from './util.js';
import { linear } from './matmul.js';
import { Bptt, gateCount, recurrence, type RnnCellKind } from './rnn.js';

/** The dynamic program's tables for T steps and up to M slots. */
interface Policy {
  T: number;
  M: number;
  /** C(t, m) and its best y (0: none, t = 1), row t, column m ≤ min(M, t - 1). */
  c: Float64Array;
  cy: Int32Array;
  /** F(t, m) and its best y (0: store nothing during the forward). */
  f: Float64Array;
  fy: Int32Array;
}

const policies = new Map<string, Policy>();

/** Optimal BPTT-HSM policy for T steps with M slots (memoised: the layer reuses it every step). */
export function bpttPolicy(T: number, M: number): Policy {
  M = Math.max(0, Math.min(M, T - 1));
  const key = `${T},${M}`;
  const known = policies.get(key);
  if (known !== undefined) return known;
  const W = M + 1;
  const c = new Float64Array((T + 1) * W);
  const cy = new Int32Array((T + 1) * W);
  const f = new Float64Array((T + 1) * W);
  const fy = new Int32Array((T + 1) * W);
  // C(t, m) for m > t - 1 equals C(t, t - 1): more slots than states to store buy nothing.
  const C = (t: number, m: number): number => c[t * W + Math.min(m, Math.max(t - 1, 0))];
  const Fv = (t: number, m: number): number => f[t * W + Math.min(m, Math.max(t - 1, 0))];
  for (let t = 1; t <= T; t++) {
    const top = Math.min(M, t - 1);
    c[t * W] = (t * (t + 1)) / 2;
    f[t * W] = c[t * W];
    for (let m = 1; m <= top; m++) {
      let best = Infinity;
      let by = 0;
      // C(a, ·) >= 2a - 1 for a >= 1, so a split at y costs at least 2t + y - 2: no y beyond
      // best - 2t + 2 can win, and the search stops there (exact, not a heuristic).
      for (let y = 1; y < t && 2 * t + y - 2 < best; y++) {
        const v = y + C(t - y, m - 1) + C(y, m);
        if (v < best) {
          best = v;
          by = y;
        }
      }
      c[t * W + m] = best;
      cy[t * W + m] = by;
      let fb = best;
      let fby = 0;
      // F(a, ·) >= a (every step is recomputed once before its backward) and C(y, ·) >= 2y - 1:
      // no y with t + y - 1 >= the best so far can win.
      for (let y = 1; y < t && t + y - 1 < fb; y++) {
        const v = Fv(t - y, m - 1) + C(y, m);
        if (v < fb) {
          fb = v;
          fby = y;
        }
      }
      f[t * W + m] = fb;
      fy[t * W + m] = fby;
    }
  }
  const p = { T, M, c, cy, f, fy };
  policies.set(key, p);
  return p;
}

const cyOf = (p: Policy, t: number, m: number): number => p.cy[t * (p.M + 1) + Math.min(m, t - 1)];
const fyOf = (p: Policy, t: number, m: number): number => p.fy[t * (p.M + 1) + Math.min(m, t - 1)];

/** Cell forwards the backward runs with m slots, forward-pass stores included: F(T, m). */
export function bpttRecomputeCost(T: number, m: number): number {
  const p = bpttPolicy(T, m);
  return p.f[T * (p.M + 1) + Math.min(p.M, T - 1)];
}

/** Bytes of one stored state and of the backward's working state, for a budget's slot count. */
export function budgetUnits(
  kind: RnnCellKind,
  B: number,
  H: number,
  itemBytes: number,
): { stateBytes: number; minBytes: number } {
  const stateBytes = (kind === 'lstm' ? 2 : 1) * B * H * itemBytes;
  const gates = kind === 'lstm' || kind === 'gru' ? 4 * H * B * itemBytes : 0;
  return { stateBytes, minBytes: 3 * stateBytes + gates };
}

interface BudgetSaved {
  kind: RnnCellKind;
  reverse: boolean;
  T: number;
  B: number;
  H: number;
  /** Slots of the policy. */
  slots: number;
  hasXpBias: boolean;
  hasBias: boolean;
  hasBiasIh: boolean;
  /** States stored during the forward: [h, c] (c null but for LSTM) after `at` processing steps. */
  spine: { at: number; h: FloatArray | null; c: FloatArray | null }[];
}

const budgetOps = Object.fromEntries(
  (Object.keys(RnnCell) as RnnCellKind[]).map((kind) => [
    kind,
    defineOp<BudgetSaved>({
      name: `recurrence(${kind}, memoryBudget)`,
      kernels: ['gemm', 'permute', 'rnnCellForward', 'rnnCellBackward', 'biasGrad'],
      arity: 'variadic', // x, W_ih, b_ih in xp (GRU), h0, c0 (LSTM), W_hh, b_hh, b_ih in the cell
      rule: budgetedBackward,
    }),
  ]),
) as Record<RnnCellKind, OpDef<BudgetSaved>>;

/** The recurrence's own stepping: one cell forward from (hPrev, cPrev) into (h, c). */
class Stepper {
  readonly cell: RnnCell;
  readonly w: FloatArray;
  readonly b: FloatArray | null;
  readonly hh: FloatArray;
  readonly GW: number;

  constructor(
    readonly kind: RnnCellKind,
    readonly reverse: boolean,
    readonly T: number,
    readonly B: number,
    readonly H: number,
    readonly xp: FloatArray,
    wHh: FloatArray,
    bHh: FloatArray | null,
    bIh: FloatArray | null,
  ) {
    this.cell = RnnCell[kind];
    this.GW = gateCount(kind) * H;
    const K = kernels();
    // As recurrence(): W_hhᵀ once, the folded bias summed the same way.
    this.w = allocOut(wHh, this.GW * H);
    K.permute(wHh, [this.GW, H], [1, 0], this.w);
    let b = bHh;
    if (bIh !== null) {
      const sum = allocLike(bIh, this.GW);
      for (let i = 0; i < this.GW; i++) sum[i] = bIh[i] + (b === null ? 0 : b[i]);
      b = sum;
    }
    this.b = b;
    this.hh = allocOut(xp, B * this.GW);
  }

  /** Processing step s (time reverse ? T-1-s : s) from (hPrev, cPrev), gates into g. */
  step(
    s: number,
    hPrev: FloatArray,
    cPrev: FloatArray | null,
    h: FloatArray,
    c: FloatArray | null,
    g: FloatArray | null,
  ): void {
    const { B, H, GW } = this;
    const t = this.reverse ? this.T - 1 - s : s;
    const K = kernels();
    K.gemm(false, false, B, GW, H, 1, hPrev, this.w, 0, this.hh);
    K.rnnCellForward(
      this.cell,
      B,
      H,
      this.xp.subarray(t * B * GW, (t + 1) * B * GW),
      this.hh,
      this.b,
      hPrev,
      cPrev,
      h,
      c,
      g,
    );
  }
}

/**
 * One layer direction with memory-budgeted BPTT. flat: [T*B, in], the layer's input; wIh and
 * bXp (the bias added in the input projection, GRU's b_ih) as the layer passes them to linear;
 * then as recurrence(). slots: how many states the policy may store (see budgetUnits).
 */
export function recurrenceBudgeted(
  kind: RnnCellKind,
  flat: Tensor,
  wIh: Tensor,
  bXp: Tensor | null,
  T: number,
  h0: Tensor,
  c0: Tensor | null,
  wHh: Tensor,
  bHh: Tensor | null,
  reverse: boolean,
  bIh: Tensor | null,
  slots: number,
): Tensor {
  const G = gateCount(kind);
  const H = wHh.shape[1];
  const lstm = kind === 'lstm';
  const inputs = [flat, wIh];
  if (bXp !== null) inputs.push(bXp);
  inputs.push(h0);
  if (lstm) inputs.push(c0!);
  inputs.push(wHh);
  if (bHh !== null) inputs.push(bHh);
  if (bIh !== null) inputs.push(bIh);
  const projection = (): Tensor => linear(flat, wIh, bXp).reshape([T, -1, G * H]);
  if (!willRecord(inputs)) return recurrence(kind, projection(), h0, c0, wHh, bHh, reverse, bIh);

  const xp = noGrad(projection);
  const B = xp.shape[1];
  const BH = B * H;
  const policy = bpttPolicy(T, slots);
  // The states the policy stores during the forward: its first right-hand chain.
  const at: number[] = [];
  for (let a = 0, t = T, m = policy.M; t > 1 && m > 0; m--) {
    const y = fyOf(policy, t, m);
    if (y === 0) break;
    a += y;
    t -= y;
    at.push(a);
  }
  const stepper = new Stepper(
    kind,
    reverse,
    T,
    B,
    H,
    floatData(xp),
    floatData(wHh),
    bHh === null ? null : floatData(bHh),
    bIh === null ? null : floatData(bIh),
  );
  const y = allocOut(floatData(xp), (lstm ? T + 1 : T) * BH);
  const gates = G > 1 ? allocOut(floatData(xp), B * 4 * H) : null;
  const cBufs = lstm ? [allocOut(floatData(xp), BH), allocOut(floatData(xp), BH)] : null;
  const spine: BudgetSaved['spine'] = [];
  let hPrev: FloatArray = floatData(h0);
  let cPrev: FloatArray | null = lstm ? floatData(c0!) : null;
  let next = 0;
  for (let s = 0; s < T; s++) {
    const t = reverse ? T - 1 - s : s;
    const h = y.subarray(t * BH, (t + 1) * BH);
    const c = cBufs === null ? null : cBufs[s % 2];
    stepper.step(s, hPrev, cPrev, h, c, gates);
    hPrev = h;
    cPrev = c;
    if (next < at.length && at[next] === s + 1) {
      spine.push({ at: s + 1, h: h.slice(), c: c === null ? null : c.slice() });
      next++;
    }
  }
  if (lstm) y.set(cPrev!, T * BH);
  return record<BudgetSaved>(new Tensor(y, [lstm ? T + 1 : T, B, H]), budgetOps[kind], inputs, {
    kind,
    reverse,
    T,
    B,
    H,
    slots: policy.M,
    hasXpBias: bXp !== null,
    hasBias: bHh !== null,
    hasBiasIh: bIh !== null,
    spine,
  });
}

function budgetedBackward(g: Tensor, node: Node<BudgetSaved>): Grads {
  if (isGradEnabled()) {
    // The engine runs rules in grad mode only for createGraph: this backward is kernels only.
    throw new Error(
      `backward of '${node.name}': double backward (createGraph) is not supported with memoryBudget; ` +
        'build the layer without memoryBudget to differentiate its gradients',
    );
  }
  const sv = node.saved;
  const { kind, reverse, T, B, H } = sv;
  const lstm = kind === 'lstm';
  const ins = node.inputs;
  let k = 0;
  const flat = ins[k++];
  const wIh = ins[k++];
  const bXp = sv.hasXpBias ? ins[k++] : null;
  const h0 = ins[k++];
  const c0 = lstm ? ins[k++] : null;
  const wHh = ins[k++];
  const bHh = sv.hasBias ? ins[k++] : null;
  const bIh = sv.hasBiasIh ? ins[k] : null;
  const G = gateCount(kind);
  const GW = G * H;
  const BH = B * H;

  // The input projection again, recorded so that its own backward gives x, W_ih and b their
  // gradients exactly as in the plain layer.
  const xpT = enableGrad(() => linear(flat, wIh, bXp));
  const xp = floatData(xpT);
  const stepper = new Stepper(
    kind,
    reverse,
    T,
    B,
    H,
    xp,
    floatData(wHh),
    bHh === null ? null : floatData(bHh),
    bIh === null ? null : floatData(bIh),
  );
  const bptt = new Bptt({
    cell: RnnCell[kind],
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
  const policy = bpttPolicy(T, sv.slots);
  // Working state: two states to run forward in, one step's outputs and gates.
  const state = (): [FloatArray, FloatArray | null] => [allocOut(xp, BH), lstm ? allocOut(xp, BH) : null];
  const P = [state(), state()];
  const [stepH, stepC] = state();
  const stepG = G > 1 ? allocOut(xp, B * 4 * H) : null;
  const work: FloatArray[] = [...P.flat(), stepH, stepC, stepG].filter((a): a is FloatArray => a !== null);
  const releaseWork = holdSaved(work);

  /** The state after n more steps from (h, c) at processing step a, in one of P (or as given). */
  const advance = (a: number, n: number, h: FloatArray, c: FloatArray | null): [FloatArray, FloatArray | null] => {
    let cur: [FloatArray, FloatArray | null] = [h, c];
    for (let i = 0; i < n; i++) {
      const out = cur[0] === P[0][0] ? P[1] : P[0];
      stepper.step(a + i, cur[0], cur[1], out[0], out[1], stepG);
      cur = out;
    }
    return cur;
  };
  const backStep = (s: number, h: FloatArray, c: FloatArray | null): void => {
    stepper.step(s, h, c, stepH, stepC, stepG);
    bptt.step(s, h, c, stepG, stepC, stepH);
  };
  /** Backpropagates processing steps [a, a + t) from the state (h, c) before step a, m slots. */
  const segment = (a: number, t: number, m: number, h: FloatArray, c: FloatArray | null): void => {
    if (t === 1) return backStep(a, h, c);
    if (m === 0) {
      for (let i = t - 1; i >= 0; i--) {
        const [hi, ci] = advance(a, i, h, c);
        backStep(a + i, hi, ci);
      }
      return;
    }
    const y = cyOf(policy, t, m);
    const [hy, cy] = advance(a, y, h, c);
    const slot: FloatArray[] = [hy.slice()];
    if (cy !== null) slot.push(cy.slice());
    const release = holdSaved(slot);
    segment(a + y, t - y, m - 1, slot[0], lstm ? slot[1] : null);
    release();
    segment(a, y, m, h, c);
  };
  /** The top level: the states stored during the forward split it first. */
  const top = (a: number, t: number, m: number, i: number, h: FloatArray, c: FloatArray | null): void => {
    const st = sv.spine[i];
    if (st === undefined || t <= 1 || m === 0) return segment(a, t, m, h, c);
    const y = st.at - a;
    top(st.at, t - y, m - 1, i + 1, st.h!, st.c);
    noteSavedDropped(node, st.h!);
    if (st.c !== null) noteSavedDropped(node, st.c);
    st.h = null;
    st.c = null;
    segment(a, y, m, h, c);
  };
  try {
    top(0, T, policy.M, 0, floatData(h0), lstm ? floatData(c0!) : null);
  } finally {
    releaseWork();
  }
  const needB = bHh !== null && bHh.requiresGrad;
  const needBIh = bIh !== null && bIh.requiresGrad;
  const { gh0, gc0, gb } = bptt.finish(needB || needBIh);

  // x, W_ih and the projection's bias through linear's own backward (boundary hidden, as
  // nn.utils.checkpoint does, so the inner pass stops at this node's inputs).
  const projInputs = bXp === null ? [flat, wIh] : [flat, wIh, bXp];
  const targets = projInputs.filter((t) => t.requiresGrad);
  const projGrads: (Tensor | null)[] = projInputs.map(() => null);
  if (targets.length > 0) {
    const hidden = targets.map((t) => t.gradFn);
    for (const t of targets) t.gradFn = null;
    try {
      const gs = grad([xpT], targets, { gradOutputs: [new Tensor(bptt.gXp, [T * B, GW])], allowUnused: true });
      let j = 0;
      projInputs.forEach((t, i) => {
        if (t.requiresGrad) projGrads[i] = gs[j++];
      });
    } finally {
      targets.forEach((t, i) => (t.gradFn = hidden[i]));
    }
  }
  const out: Grads = [projGrads[0], projGrads[1]];
  if (bXp !== null) out.push(projGrads[2]);
  out.push(gh0 === null ? null : new Tensor(gh0, [B, H]));
  if (lstm) out.push(c0!.requiresGrad ? new Tensor(gc0!, [B, H]) : null);
  out.push(bptt.gw === null ? null : new Tensor(bptt.gw, [GW, H]));
  if (bHh !== null) out.push(needB ? new Tensor(gb!, [GW]) : null);
  if (bIh !== null) out.push(needBIh ? new Tensor(needB ? gb!.slice() : gb!, [GW]) : null);
  return out;
}
