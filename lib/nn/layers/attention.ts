// nn.MultiheadAttention with torch 1.13's semantics, parameter names and initialisation:
// in_proj_weight [3E, E] (or q_proj_weight, k_proj_weight, v_proj_weight when kdim/vdim differ
// from E), in_proj_bias [3E], out_proj (a Linear). The heads run through
// F.scaledDotProductAttention (the fused kernel) unless the averaged weights are asked for,
// which need the probabilities and so take the composed formula, as torch's does.

import { zeros, type Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import { xavierUniform, constant } from '../init.js';
import { dropout, linear, softmax } from '../functional.js';
import { additiveMask, causalMask, scaledDotProductAttention, type AttentionMask } from '../../ops/attention.js';
import { shapeStr } from '../../ops/util.js';

export interface MultiheadAttentionOptions {
  /** Dropout on the attention weights while training (default 0). */
  dropout?: number;
  /** Biases of the input and output projections (default true). */
  bias?: boolean;
  /** Inputs and output are [batch, seq, feature] (default false: [seq, batch, feature]). */
  batchFirst?: boolean;
  /** Width of the keys (default embedDim). */
  kdim?: number;
  /** Width of the values (default embedDim). */
  vdim?: number;
  dtype?: DType;
}

export interface MultiheadAttentionForwardOptions {
  /** Shape [N, S]; true (or -inf) marks a padding key to ignore; a float mask is added. */
  keyPaddingMask?: AttentionMask | null;
  /** Return the attention weights (default true). */
  needWeights?: boolean;
  /**
   * [L, S] or [N*heads, L, S]: true marks a position that MAY be attended, as in
   * F.scaledDotProductAttention (one polarity for every attnMask in this library, see DESIGN's
   * contract; note that torch's MultiheadAttention uses the opposite: invert a torch bool mask
   * with `mask.map(row => row.map(v => !v))`); a float mask is added to the scores.
   */
  attnMask?: AttentionMask | null;
  /** Average the returned weights over the heads (default true). */
  averageAttnWeights?: boolean;
  /** Hide key j from query i when j > i (combined with attnMask when both are given). */
  isCausal?: boolean;
}

export class MultiheadAttention extends Module {
  readonly embedDim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly kdim: number;
  readonly vdim: number;
  readonly dropout: number;
  readonly batchFirst: boolean;
  // The parameters and out_proj live under torch's names (their state_dict keys); the camelCase
  // getters below read them, so that no second own property names them again.
  get inProjWeight(): Tensor | null {
    return this.#slot('in_proj_weight') as Tensor | null;
  }
  get qProjWeight(): Tensor | null {
    return this.#slot('q_proj_weight') as Tensor | null;
  }
  get kProjWeight(): Tensor | null {
    return this.#slot('k_proj_weight') as Tensor | null;
  }
  get vProjWeight(): Tensor | null {
    return this.#slot('v_proj_weight') as Tensor | null;
  }
  get inProjBias(): Tensor | null {
    return this.#slot('in_proj_bias') as Tensor | null;
  }
  get outProj(): Linear {
    return this.#slot('out_proj') as Linear;
  }
  #slot(name: string): unknown {
    return (this as unknown as Record<string, unknown>)[name];
  }

  constructor(embedDim: number, numHeads: number, options: MultiheadAttentionOptions = {}) {
    super();
    if (!Number.isInteger(embedDim) || embedDim <= 0)
      throw new RangeError(`MultiheadAttention: embedDim must be a positive integer, got ${embedDim}`);
    if (!Number.isInteger(numHeads) || numHeads <= 0 || embedDim % numHeads !== 0)
      throw new RangeError(
        `MultiheadAttention: numHeads (${numHeads}) must be a positive divisor of embedDim (${embedDim})`,
      );
    const p = options.dropout ?? 0;
    if (!(typeof p === 'number' && p >= 0 && p <= 1))
      throw new RangeError(`MultiheadAttention: dropout must be in [0, 1], got ${String(p)}`);
    const dtype = options.dtype ?? 'float32';
    const E = embedDim;
    this.embedDim = E;
    this.numHeads = numHeads;
    this.headDim = E / numHeads;
    this.kdim = options.kdim ?? E;
    this.vdim = options.vdim ?? E;
    this.dropout = p;
    this.batchFirst = options.batchFirst ?? false;
    const separate = this.kdim !== E || this.vdim !== E;
    const param = (shape: number[]): Tensor => zeros(shape, { dtype, requiresGrad: true });
    // torch's registration order (its state_dict order): the projection weights, the bias, out_proj.
    this.registerParameter('in_proj_weight', separate ? null : param([3 * E, E]));
    this.registerParameter('q_proj_weight', separate ? param([E, E]) : null);
    this.registerParameter('k_proj_weight', separate ? param([E, this.kdim]) : null);
    this.registerParameter('v_proj_weight', separate ? param([E, this.vdim]) : null);
    const bias = options.bias ?? true;
    this.registerParameter('in_proj_bias', bias ? param([3 * E]) : null);
    this.registerModule('out_proj', new Linear(E, E, { bias, dtype }));
    this.resetParameters();
  }

  /** torch's _reset_parameters: Xavier-uniform projections, zero biases; out_proj.weight keeps Linear's init. */
  resetParameters(): void {
    for (const w of [this.inProjWeight, this.qProjWeight, this.kProjWeight, this.vProjWeight]) {
      if (w !== null) xavierUniform(w);
    }
    if (this.inProjBias !== null) constant(this.inProjBias, 0);
    if (this.outProj.bias !== null) constant(this.outProj.bias, 0);
  }

  /** The q, k, v projection weights and biases. */
  #projections(): [Tensor, Tensor, Tensor, (Tensor | null)[]] {
    const E = this.embedDim;
    const b = this.inProjBias;
    const biases = b === null ? [null, null, null] : [0, 1, 2].map((i) => b.narrow(0, i * E, E));
    const w = this.inProjWeight;
    if (w !== null) return [w.narrow(0, 0, E), w.narrow(0, E, E), w.narrow(0, 2 * E, E), biases];
    return [this.qProjWeight as Tensor, this.kProjWeight as Tensor, this.vProjWeight as Tensor, biases];
  }

  /**
   * query [L, N, E] (or [N, L, E] with batchFirst, or unbatched [L, E]); key [S, N, kdim];
   * value [S, N, vdim]. Returns [output shaped like query, weights [N, L, S] (averaged) or
   * [N, heads, L, S], or null when needWeights is false].
   */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    opts: MultiheadAttentionForwardOptions = {},
  ): [Tensor, Tensor | null] {
    const op = 'MultiheadAttention';
    const { needWeights = true, averageAttnWeights = true, isCausal = false } = opts;
    const unbatched = query.ndim === 2;
    if (unbatched) {
      query = query.unsqueeze(1);
      key = key.unsqueeze(1);
      value = value.unsqueeze(1);
    }
    // batchFirst inputs stay [N, seq, feature]: the head split below reads either layout, so
    // no transposed copy of the inputs or the output is made.
    const bf = this.batchFirst && !unbatched;
    const seqAxis = bf ? 1 : 0;
    const batchAxis = bf ? 0 : 1;
    const layout = bf ? '[batch, seq, feature]' : '[seq, batch, feature]';
    if (query.ndim !== 3 || key.ndim !== 3 || value.ndim !== 3 || query.shape[2] !== this.embedDim) {
      throw new Error(
        `${op}: query, key and value must be ${layout} with query features ${this.embedDim}, got shapes ${shapeStr(query.shape)}, ${shapeStr(key.shape)} and ${shapeStr(value.shape)}`,
      );
    }
    const L = query.shape[seqAxis];
    const N = query.shape[batchAxis];
    const S = key.shape[seqAxis];
    if (
      key.shape[batchAxis] !== N ||
      value.shape[seqAxis] !== S ||
      value.shape[batchAxis] !== N ||
      key.shape[2] !== this.kdim ||
      value.shape[2] !== this.vdim
    ) {
      throw new Error(
        `${op}: key ${shapeStr(key.shape)} and value ${shapeStr(value.shape)} do not fit query ${shapeStr(query.shape)} (${layout}, kdim ${this.kdim}, vdim ${this.vdim})`,
      );
    }
    const H = this.numHeads;
    const hd = this.headDim;
    const [wq, wk, wv, [bq, bk, bv]] = this.#projections();
    // [seq, N, E] (or [N, seq, E]) -> [N, H, seq, hd]
    const heads = (x: Tensor, len: number): Tensor =>
      bf ? x.reshape([N, len, H, hd]).permute([0, 2, 1, 3]) : x.reshape([len, N, H, hd]).permute([1, 2, 0, 3]);
    const q = heads(linear(query, wq, bq), L);
    const k = heads(linear(key, wk, bk), S);
    const v = heads(linear(value, wv, bv), S);

    const mask = this.#mask(opts, N, L, S, query);
    const p = this.training ? this.dropout : 0;
    let out: Tensor;
    let weights: Tensor | null = null;
    if (needWeights) {
      // The weights themselves are wanted: the composed formula, as torch 1.13 computes it.
      let s = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(hd));
      if (isCausal) s = s.add(causalMask(L, S, query));
      if (mask !== null) s = s.add(mask);
      let w = softmax(s, -1);
      if (p > 0) w = dropout(w, p, true);
      out = w.matmul(v);
      weights = averageAttnWeights ? w.mean(1) : w;
      if (unbatched) weights = weights.squeeze(0);
    } else {
      out = scaledDotProductAttention(q, k, v, { attnMask: mask, dropoutP: p, isCausal });
    }
    // [N, H, L, hd] -> [L, N, E]
    // [N, H, L, hd] -> [L, N, E] (or [N, L, E])
    const merged = bf
      ? out.permute([0, 2, 1, 3]).reshape([N, L, this.embedDim])
      : out.permute([2, 0, 1, 3]).reshape([L, N, this.embedDim]);
    let y = this.outProj.forward(merged);
    if (unbatched) y = y.squeeze(1);
    return [y, weights];
  }

  /** attnMask and keyPaddingMask as one additive float mask broadcastable to [N, H, L, S]. */
  #mask(opts: MultiheadAttentionForwardOptions, N: number, L: number, S: number, like: Tensor): Tensor | null {
    const op = 'MultiheadAttention';
    let mask: Tensor | null = null;
    const am = additiveMask(op, 'attnMask', opts.attnMask, 'attend', like);
    if (am !== null) {
      if (am.ndim === 2 && am.shape[0] === L && am.shape[1] === S) mask = am;
      else if (am.ndim === 3 && am.shape[0] === N * this.numHeads && am.shape[1] === L && am.shape[2] === S)
        mask = am.reshape([N, this.numHeads, L, S]);
      else
        throw new Error(
          `${op}: attnMask must be [${L}, ${S}] or [${N * this.numHeads}, ${L}, ${S}], got ${shapeStr(am.shape)}`,
        );
    }
    const kpm = additiveMask(op, 'keyPaddingMask', opts.keyPaddingMask, 'ignore', like);
    if (kpm !== null) {
      if (kpm.ndim !== 2 || kpm.shape[0] !== N || kpm.shape[1] !== S)
        throw new Error(`${op}: keyPaddingMask must be [${N}, ${S}], got ${shapeStr(kpm.shape)}`);
      const k4 = kpm.reshape([N, 1, 1, S]);
      mask = mask === null ? k4 : mask.add(k4);
    }
    return mask;
  }

  override extraRepr(): string {
    return `embedDim=${this.embedDim}, numHeads=${this.numHeads}, dropout=${this.dropout}, batchFirst=${this.batchFirst}`;
  }
}
