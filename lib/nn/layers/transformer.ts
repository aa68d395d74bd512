// nn.TransformerEncoderLayer and nn.TransformerEncoder with torch 1.13's semantics and
// state_dict names (self_attn.*, linear1, linear2, norm1, norm2; layers.0.*). The encoder clones
// its layer numLayers times, as torch's deepcopy does, so every layer starts from the same values.

import type { Tensor } from '../../tensor.js';
import type { KernelDType as DType } from '../../dtype.js';
import { Module } from '../module.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';
import { Dropout } from './dropout.js';
import { ModuleList } from './container.js';
import { MultiheadAttention } from './attention.js';
import { gelu, relu } from '../functional.js';
import type { AttentionMask } from '../../ops/attention.js';

export interface TransformerEncoderLayerOptions {
  /** Width of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout after attention, inside and after the feed-forward block, and on the attention weights (default 0.1). */
  dropout?: number;
  /** The feed-forward activation (default 'relu'; 'gelu' is the exact erf form). */
  activation?: 'relu' | 'gelu';
  layerNormEps?: number;
  /** [batch, seq, feature] inputs (default false: [seq, batch, feature]). */
  batchFirst?: boolean;
  /** Pre-norm: LayerNorm before attention and feed-forward instead of after (default false). */
  normFirst?: boolean;
  dtype?: DType;
}

export interface TransformerEncoderLayerForwardOptions {
  /** [L, L] or [N*nhead, L, L]; true marks a position that may be attended (MultiheadAttention's attnMask). */
  srcMask?: AttentionMask | null;
  /** [N, L]; true marks padding. */
  srcKeyPaddingMask?: AttentionMask | null;
  isCausal?: boolean;
}

export class TransformerEncoderLayer extends Module {
  readonly dModel: number;
  readonly nhead: number;
  readonly options: Readonly<Required<Omit<TransformerEncoderLayerOptions, 'dtype'>>> & { dtype: DType };
  // The submodules are own properties under torch's names, set by registerModule in torch's
  // order (its state_dict order; `declare` keeps class fields from creating them earlier);
  // selfAttn reads self_attn without a second own property.
  get selfAttn(): MultiheadAttention {
    return this.#child('self_attn') as MultiheadAttention;
  }
  declare readonly linear1: Linear;
  declare readonly dropout: Dropout;
  declare readonly linear2: Linear;
  declare readonly norm1: LayerNorm;
  declare readonly norm2: LayerNorm;
  declare readonly dropout1: Dropout;
  declare readonly dropout2: Dropout;
  #child(name: string): Module {
    return (this as unknown as Record<string, Module>)[name];
  }

  constructor(dModel: number, nhead: number, options: TransformerEncoderLayerOptions = {}) {
    super();
    const o = {
      dimFeedforward: options.dimFeedforward ?? 2048,
      dropout: options.dropout ?? 0.1,
      activation: options.activation ?? 'relu',
      layerNormEps: options.layerNormEps ?? 1e-5,
      batchFirst: options.batchFirst ?? false,
      normFirst: options.normFirst ?? false,
      dtype: options.dtype ?? 'float32',
    } as const;
    if (o.activation !== 'relu' && o.activation !== 'gelu')
      throw new RangeError(`TransformerEncoderLayer: activation must be 'relu' or 'gelu', got ${String(o.activation)}`);
    this.dModel = dModel;
    this.nhead = nhead;
    this.options = o;
    const { dtype } = o;
    // torch's attribute order, which is its state_dict order.
    this.registerModule(
      'self_attn',
      new MultiheadAttention(dModel, nhead, { dropout: o.dropout, batchFirst: o.batchFirst, dtype }),
    );
    this.registerModule('linear1', new Linear(dModel, o.dimFeedforward, { dtype }));
    this.registerModule('dropout', new Dropout(o.dropout));
    this.registerModule('linear2', new Linear(o.dimFeedforward, dModel, { dtype }));
    this.registerModule('norm1', new LayerNorm(dModel, { eps: o.layerNormEps, dtype }));
    this.registerModule('norm2', new LayerNorm(dModel, { eps: o.layerNormEps, dtype }));
    this.registerModule('dropout1', new Dropout(o.dropout));
    this.registerModule('dropout2', new Dropout(o.dropout));
  }

  forward(src: Tensor, opts: TransformerEncoderLayerForwardOptions = {}): Tensor {
    let x = src;
    if (this.options.normFirst) {
      x = x.add(this.#saBlock(this.norm1.forward(x), opts));
      x = x.add(this.#ffBlock(this.norm2.forward(x)));
    } else {
      x = this.norm1.forward(x.add(this.#saBlock(x, opts)));
      x = this.norm2.forward(x.add(this.#ffBlock(x)));
    }
    return x;
  }

  #saBlock(x: Tensor, opts: TransformerEncoderLayerForwardOptions): Tensor {
    const [y] = this.selfAttn.forward(x, x, x, {
      attnMask: opts.srcMask,
      keyPaddingMask: opts.srcKeyPaddingMask,
      isCausal: opts.isCausal,
      needWeights: false,
    });
    return this.dropout1.forward(y);
  }

  #ffBlock(x: Tensor): Tensor {
    const h = this.linear1.forward(x);
    const a = this.options.activation === 'gelu' ? gelu(h) : relu(h);
    return this.dropout2.forward(this.linear2.forward(this.dropout.forward(a)));
  }

  /** A new layer with the same options and a copy of this one's parameters (torch's deepcopy). */
  copy(): TransformerEncoderLayer {
    const c = new TransformerEncoderLayer(this.dModel, this.nhead, this.options);
    c.loadStateDict(this.stateDict());
    c.train(this.training);
    return c;
  }

  override extraRepr(): string {
    const o = this.options;
    return `dModel=${this.dModel}, nhead=${this.nhead}, dimFeedforward=${o.dimFeedforward}, dropout=${o.dropout}, activation=${o.activation}, normFirst=${o.normFirst}`;
  }
}

export interface TransformerEncoderOptions {
  /** A final normalisation (torch's `norm`), registered as `norm`. */
  norm?: Module | null;
}

export interface TransformerEncoderForwardOptions {
  mask?: AttentionMask | null;
  srcKeyPaddingMask?: AttentionMask | null;
  isCausal?: boolean;
}

export class TransformerEncoder extends Module {
  readonly numLayers: number;
  declare readonly layers: ModuleList;
  /** The final normalisation, when one was given. */
  declare readonly norm?: Module;

  constructor(encoderLayer: TransformerEncoderLayer, numLayers: number, options: TransformerEncoderOptions = {}) {
    super();
    if (!(encoderLayer instanceof TransformerEncoderLayer))
      throw new TypeError('TransformerEncoder: encoderLayer must be a TransformerEncoderLayer');
    if (!Number.isInteger(numLayers) || numLayers < 1)
      throw new RangeError(`TransformerEncoder: numLayers must be a positive integer, got ${numLayers}`);
    this.numLayers = numLayers;
    this.registerModule('layers', new ModuleList(Array.from({ length: numLayers }, () => encoderLayer.copy())));
    if (options.norm) this.registerModule('norm', options.norm);
  }

  forward(src: Tensor, opts: TransformerEncoderForwardOptions = {}): Tensor {
    let x = src;
    for (const layer of this.layers) {
      x = (layer as TransformerEncoderLayer).forward(x, {
        srcMask: opts.mask,
        srcKeyPaddingMask: opts.srcKeyPaddingMask,
        isCausal: opts.isCausal,
      });
    }
    if (this.norm !== undefined) x = this.norm.forward(x) as Tensor;
    return x;
  }
}
