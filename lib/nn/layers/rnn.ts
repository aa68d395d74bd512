// Recurrent layers: RNN (tanh or relu), LSTM and GRU with torch's equations, gate order
// (LSTM i, f, g, o; GRU r, z, n), initialisation U(-1/√hidden, 1/√hidden), parameter names
// (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse) and shapes:
// input [seq, batch, input] ([batch, seq, input] with batchFirst, [seq, input] unbatched),
// states [numLayers * numDirections, batch, hidden].
//
// Per layer and direction: the input projection of all time steps is one GEMM (`linear`), and
// the recurrence is one op (lib/ops/rnn.ts) running a recurrent GEMM and a fused cell kernel per
// step. Truncated BPTT: pass the returned state, detached, to the next chunk
// (`[out, [h, c]] = lstm.forward(x, [h.detach(), c.detach()])`).

import { Tensor, zeros } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { uniform } from '../init.js';
import { linear } from '../../ops/matmul.js';
import { cat } from '../../ops/shape.js';
import { dropout } from '../../ops/activation.js';
import { gateCount, recurrence, rows, type RnnCellKind } from '../../ops/rnn.js';
import { budgetUnits, recurrenceBudgeted } from '../../ops/rnn-budget.js';
import { shapeStr } from '../../ops/util.js';

export interface RNNBaseOptions {
  /** Stacked layers (default 1). */
  numLayers?: number;
  /** Learn b_ih and b_hh (default true). */
  bias?: boolean;
  /** Input and output are [batch, seq, feature] (default false: [seq, batch, feature]). */
  batchFirst?: boolean;
  /** Dropout probability on the outputs of every layer but the last, in training (default 0). */
  dropout?: number;
  /** Run a second, reversed direction and concatenate the outputs (default false). */
  bidirectional?: boolean;
  dtype?: DType;
  /**
   * Bytes of saved state each layer direction may keep for backward: BPTT then stores only some
   * hidden states, chosen by Gruslys et al.'s dynamic program, and recomputes the rest
   * (lib/ops/rnn-budget.ts). Gradients equal full BPTT's bit for bit. Default: full BPTT.
   */
  memoryBudget?: number | null;
}

export interface RNNOptions extends RNNBaseOptions {
  /** 'tanh' (default) or 'relu'. */
  nonlinearity?: 'tanh' | 'relu';
}

/** What a recurrent layer's run returns. */
export interface RunResult {
  output: Tensor;
  h: Tensor;
  c: Tensor | null;
}

export abstract class RNNBase extends Module {
  readonly mode: RnnCellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly bias: boolean;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly bidirectional: boolean;
  readonly memoryBudget: number | null;

  constructor(name: string, mode: RnnCellKind, inputSize: number, hiddenSize: number, options: RNNBaseOptions) {
    super();
    const numLayers = options.numLayers ?? 1;
    for (const [what, v, min] of [
      ['inputSize', inputSize, 1],
      ['hiddenSize', hiddenSize, 1],
      ['numLayers', numLayers, 1],
    ] as const) {
      if (!Number.isInteger(v) || v < min)
        throw new RangeError(`${name}: ${what} must be a positive integer, got ${String(v)}`);
    }
    const p = options.dropout ?? 0;
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      throw new RangeError(`${name}: dropout must be in [0, 1], got ${String(p)}`);
    this.mode = mode;
    this.inputSize = inputSize;
    this.hiddenSize = hiddenSize;
    this.numLayers = numLayers;
    this.bias = options.bias ?? true;
    this.batchFirst = options.batchFirst ?? false;
    this.dropout = p;
    this.bidirectional = options.bidirectional ?? false;
    const budget = options.memoryBudget ?? null;
    if (budget !== null && !(typeof budget === 'number' && budget > 0 && Number.isFinite(budget)))
      throw new RangeError(`${name}: memoryBudget must be a positive number of bytes, got ${String(budget)}`);
    this.memoryBudget = budget;
    const dtype = options.dtype ?? 'float32';
    const G = gateCount(mode);
    const dirs = this.bidirectional ? 2 : 1;
    for (let l = 0; l < numLayers; l++) {
      const layerIn = l === 0 ? inputSize : hiddenSize * dirs;
      for (let d = 0; d < dirs; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        this.registerParameter(`weight_ih${sfx}`, zeros([G * hiddenSize, layerIn], { dtype, requiresGrad: true }));
        this.registerParameter(`weight_hh${sfx}`, zeros([G * hiddenSize, hiddenSize], { dtype, requiresGrad: true }));
        if (this.bias) {
          this.registerParameter(`bias_ih${sfx}`, zeros([G * hiddenSize], { dtype, requiresGrad: true }));
          this.registerParameter(`bias_hh${sfx}`, zeros([G * hiddenSize], { dtype, requiresGrad: true }));
        }
      }
    }
    this.resetParameters();
  }

  /** torch's init: every weight and bias from U(-1/√hidden, 1/√hidden). */
  resetParameters(): void {
    const k = 1 / Math.sqrt(this.hiddenSize);
    for (const p of this.parameters(false)) uniform(p, -k, k);
  }

  protected get name(): string {
    return this.constructor.name;
  }

  #param(name: string): Tensor | null {
    const v = (this as unknown as Record<string, unknown>)[name];
    return v instanceof Tensor ? v : null;
  }

  /** The state slots memoryBudget buys at this batch size (throws below the minimum). */
  #slots(B: number, itemBytes: number): number {
    const { stateBytes, minBytes } = budgetUnits(this.mode, B, this.hiddenSize, itemBytes);
    const budget = this.memoryBudget!;
    if (budget < minBytes) {
      throw new RangeError(
        `${this.name}: memoryBudget ${budget} bytes is below the minimum ${minBytes} bytes for batch ${B}, hidden ` +
          `${this.hiddenSize}, ${itemBytes * 8}-bit floats: backpropagating one step keeps three hidden states` +
          `${this.mode === 'lstm' || this.mode === 'gru' ? ' and its gates' : ''}`,
      );
    }
    return Math.floor((budget - minBytes) / stateBytes);
  }

  /** Checks the input and states, runs every layer and direction, and shapes the results. */
  protected run(input: Tensor, h0: Tensor | null, c0: Tensor | null): RunResult {
    const name = this.name;
    if (!(input instanceof Tensor)) throw new TypeError(`${name}: input must be a Tensor`);
    const nd = input.shape.length;
    if (nd !== 2 && nd !== 3) {
      throw new Error(
        `${name}: expected an input of 3 dims ([seq, batch, input]${this.batchFirst ? ', batchFirst: [batch, seq, input]' : ''}) or 2 dims (unbatched [seq, input]), got shape ${shapeStr(input.shape)}`,
      );
    }
    if (input.shape[nd - 1] !== this.inputSize) {
      throw new Error(
        `${name}: input shape ${shapeStr(input.shape)} has ${input.shape[nd - 1]} features, expected inputSize ${this.inputSize}`,
      );
    }
    const w0 = this.#param('weight_ih_l0')!;
    if (input.dtype !== w0.dtype) {
      throw new TypeError(
        `${name}: input is ${input.dtype} but the parameters are ${w0.dtype}; convert one with .to(dtype)`,
      );
    }
    const batched = nd === 3;
    let x = batched ? (this.batchFirst ? input.transpose(0, 1) : input) : input.unsqueeze(1);
    const [T, B] = x.shape;
    if (T < 1) throw new Error(`${name}: the sequence is empty (input shape ${shapeStr(input.shape)})`);
    const dirs = this.bidirectional ? 2 : 1;
    const H = this.hiddenSize;
    const G = gateCount(this.mode);
    const LD = this.numLayers * dirs;
    const stateShape = batched ? [LD, B, H] : [LD, H];
    const lstm = this.mode === 'lstm';
    const prepState = (s: Tensor | null, what: string): Tensor | null => {
      if (s === null) return null;
      if (!(s instanceof Tensor)) throw new TypeError(`${name}: ${what} must be a Tensor`);
      if (s.shape.length !== stateShape.length || s.shape.some((v, i) => v !== stateShape[i])) {
        throw new Error(
          `${name}: expected ${what} of shape ${shapeStr(stateShape)} for input of shape ${shapeStr(input.shape)}, got ${shapeStr(s.shape)}`,
        );
      }
      if (s.dtype !== input.dtype)
        throw new TypeError(`${name}: ${what} is ${s.dtype} but the input is ${input.dtype}`);
      return batched ? s : s.unsqueeze(1);
    };
    const hx = prepState(h0, lstm ? 'h0 (state[0])' : 'h0');
    const cx = lstm ? prepState(c0, 'c0 (state[1])') : null;
    const zeroState = (): Tensor => zeros([B, H], { dtype: input.dtype });

    const hs: Tensor[] = [];
    const cs: Tensor[] = [];
    for (let l = 0; l < this.numLayers; l++) {
      const layerIn = x.shape[2];
      const flat = x.reshape([T * B, layerIn]);
      const outs: Tensor[] = [];
      for (let d = 0; d < dirs; d++) {
        const sfx = `_l${l}${d === 1 ? '_reverse' : ''}`;
        const idx = l * dirs + d;
        // RNN/LSTM cells add b_ih with b_hh (one pass less over xp); GRU's b_in must go in xp.
        const foldBias = this.mode !== 'gru';
        const bIh = this.#param(`bias_ih${sfx}`);
        const xp = (): Tensor =>
          linear(flat, this.#param(`weight_ih${sfx}`)!, foldBias ? null : bIh).reshape([T, B, G * H]);
        const hInit = hx === null ? zeroState() : rows(hx, idx, 1).reshape([B, H]);
        const cInit = !lstm ? null : cx === null ? zeroState() : rows(cx, idx, 1).reshape([B, H]);
        const y =
          this.memoryBudget !== null
            ? recurrenceBudgeted(
                this.mode,
                flat,
                this.#param(`weight_ih${sfx}`)!,
                foldBias ? null : bIh,
                T,
                hInit,
                cInit,
                this.#param(`weight_hh${sfx}`)!,
                this.#param(`bias_hh${sfx}`),
                d === 1,
                foldBias ? bIh : null,
                this.#slots(B, input.dtype === 'float64' ? 8 : 4),
              )
            : recurrence(
                this.mode,
                xp(),
                hInit,
                cInit,
                this.#param(`weight_hh${sfx}`)!,
                this.#param(`bias_hh${sfx}`),
                d === 1,
                foldBias ? bIh : null,
              );
        outs.push(lstm ? rows(y, 0, T) : y);
        // With memoryBudget the final states are copies: holding them must not hold every step's h.
        const own = this.memoryBudget !== null;
        hs.push(rows(y, d === 1 ? 0 : T - 1, 1, own));
        if (lstm) cs.push(rows(y, T, 1, own));
      }
      x = outs.length === 1 ? outs[0] : cat(outs, 2);
      if (this.dropout > 0 && this.training && l < this.numLayers - 1) x = dropout(x, this.dropout, true);
    }
    let output = x;
    let h = hs.length === 1 ? hs[0] : cat(hs, 0);
    let c = !lstm ? null : cs.length === 1 ? cs[0] : cat(cs, 0);
    if (!batched) {
      output = output.squeeze(1);
      h = h.squeeze(1);
      if (c !== null) c = c.squeeze(1);
    } else if (this.batchFirst) {
      output = output.transpose(0, 1);
    }
    return { output, h, c };
  }

  override extraRepr(): string {
    const parts = [`${this.inputSize}, ${this.hiddenSize}`];
    if (this.numLayers !== 1) parts.push(`numLayers=${this.numLayers}`);
    if (!this.bias) parts.push('bias=false');
    if (this.batchFirst) parts.push('batchFirst=true');
    if (this.dropout) parts.push(`dropout=${this.dropout}`);
    if (this.bidirectional) parts.push('bidirectional=true');
    return parts.join(', ');
  }
}

/** Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act = tanh or relu. */
export class RNN extends RNNBase {
  readonly nonlinearity: 'tanh' | 'relu';

  constructor(inputSize: number, hiddenSize: number, options: RNNOptions = {}) {
    const nl = options.nonlinearity ?? 'tanh';
    if (nl !== 'tanh' && nl !== 'relu')
      throw new RangeError(`RNN: nonlinearity must be 'tanh' or 'relu', got '${String(nl)}'`);
    super('RNN', nl === 'tanh' ? 'rnnTanh' : 'rnnRelu', inputSize, hiddenSize, options);
    this.nonlinearity = nl;
  }

  /** Returns [output, h_n]; h0 defaults to zeros. */
  forward(input: Tensor, h0: Tensor | null = null): [Tensor, Tensor] {
    const r = this.run(input, h0, null);
    return [r.output, r.h];
  }
}

/**
 * LSTM: i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) split in four;
 * c' = f c + i g; h' = o tanh(c').
 */
export class LSTM extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super('LSTM', 'lstm', inputSize, hiddenSize, options);
  }

  /** Returns [output, [h_n, c_n]]; state = [h0, c0], zeros by default. */
  forward(input: Tensor, state: readonly [Tensor, Tensor] | null = null): [Tensor, [Tensor, Tensor]] {
    if (state !== null && (!Array.isArray(state) || state.length !== 2)) {
      throw new TypeError('LSTM: state must be [h0, c0] (two Tensors) or null');
    }
    const r = this.run(input, state === null ? null : state[0], state === null ? null : state[1]);
    return [r.output, [r.h, r.c!]];
  }
}

/**
 * GRU: r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise, n = tanh(W_in x + b_in + r (W_hn h + b_hn)),
 * h' = (1 - z) n + z h.
 */
export class GRU extends RNNBase {
  constructor(inputSize: number, hiddenSize: number, options: RNNBaseOptions = {}) {
    super('GRU', 'gru', inputSize, hiddenSize, options);
  }

  /** Returns [output, h_n]; h0 defaults to zeros. */
  forward(input: Tensor, h0: Tensor | null = null): [Tensor, Tensor] {
    const r = this.run(input, h0, null);
    return [r.output, r.h];
  }
}
