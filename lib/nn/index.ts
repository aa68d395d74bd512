// nn: modules, layers, losses, initialisers and the functional forms (nn.functional = F).

export { Module, Parameter, parameter, isParameter } from './module.js';
export type { LoadStateDictOptions, LoadStateDictResult } from './module.js';
export { Linear } from './layers/linear.js';
export type { LinearOptions } from './layers/linear.js';
export { Flatten } from './layers/shape.js';
export { Dropout } from './layers/dropout.js';
export * from './layers/activation.js';
export { BatchNorm1d, LayerNorm } from './layers/normalization.js';
export type { BatchNormOptions, LayerNormOptions } from './layers/normalization.js';
export { Embedding } from './layers/embedding.js';
export { Conv2d } from './layers/conv.js';
export type { Conv2dLayerOptions } from './layers/conv.js';
export { MaxPool2d, AvgPool2d } from './layers/pooling.js';
export type { Pool2dOptions } from '../ops/pool.js';
export { BatchNorm2d } from './layers/batchnorm2d.js';
export { Sequential, ModuleList } from './layers/container.js';
export { RNN, LSTM, GRU, RNNBase } from './layers/rnn.js';
export type { RNNOptions, RNNBaseOptions, RunResult } from './layers/rnn.js';
export type { RnnCellKind } from '../ops/rnn.js';
export { MSELoss, L1Loss, HuberLoss, CrossEntropyLoss, NLLLoss, BCEWithLogitsLoss } from './layers/loss.js';
export * as init from './init.js';
export * as functional from './functional.js';
export { MultiheadAttention } from './layers/attention.js';
export type { MultiheadAttentionOptions, MultiheadAttentionForwardOptions } from './layers/attention.js';
export { TransformerEncoderLayer, TransformerEncoder } from './layers/transformer.js';
export type {
  TransformerEncoderLayerOptions,
  TransformerEncoderLayerForwardOptions,
  TransformerEncoderOptions,
  TransformerEncoderForwardOptions,
} from './layers/transformer.js';
export * as utils from './utils/index.js';
export { SparseLinear, SparseConv2d } from './layers/sparse.js';
export type { SparseLayerOptions, SparseConv2dLayerOptions } from './layers/sparse.js';
export type { SparsePattern } from '../ops/sparse.js';
export type { ForwardPreHook, HookHandle } from './module.js';
