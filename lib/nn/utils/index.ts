// nn.utils: helpers around modules (torch.nn.utils, torch.utils.checkpoint): checkpointing, pruning
// (torch.nn.utils.prune's names), gradual magnitude pruning and the swap of dense layers for
// sparse ones.

export { checkpoint, checkpointSequential } from './checkpoint.js';
export * as prune from './prune.js';
export type { PruneOptions, GlobalPruneOptions } from './prune.js';
export { sparsify, sparsityOf } from './sparsify.js';
export type { SparsifyOptions, SparsifyReport, OptimizerWithState } from './sparsify.js';
export { GradualMagnitudePruning } from './gradual.js';
export type { GradualPruningOptions } from './gradual.js';
