// The `data` namespace of the public API.
export { TensorDataset, gatherRows, isBatchDataset, type Dataset, type BatchDataset } from './dataset.js';
export { DataLoader, type DataLoaderOptions } from './dataloader.js';
export { loadIdx, parseIdx, type IdxData, type IdxDType, type IdxArray } from './idx.js';
export { loadMnist, type MnistOptions, type MnistSplit } from './mnist.js';
export { sampleDir, fashionMnistClasses } from './sample.js';
