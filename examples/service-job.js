// The training job of examples/service.js, run by the background trainer in a worker thread:
// a 784-512-256-10 MLP on Fashion-MNIST (the full set where Debian's dataset-fashion-mnist is
// installed, otherwise the bundled sample), Adam, test-set accuracy after every epoch.
import { existsSync } from 'node:fs';
import { manualSeed, nn, optim, data } from '../dist/index.js';

export const FULL_DATA = '/usr/share/datasets/fashion-mnist';

/** The model, for the trainer here and for the predictor's workers (examples/service.js). */
export function buildModel() {
  return new nn.Sequential(
    new nn.Flatten(),
    new nn.Linear(784, 512),
    new nn.ReLU(),
    new nn.Linear(512, 256),
    new nn.ReLU(),
    new nn.Linear(256, 10),
  );
}

/** @param {{ data?: string, epochs?: number, batchSize?: number, seed?: number }} args */
export default function job(args) {
  const dir = args.data ?? (existsSync(FULL_DATA) ? FULL_DATA : data.sampleDir());
  manualSeed(args.seed ?? 0);
  const train = data.loadMnist(dir, { split: 'train' });
  const test = data.loadMnist(dir, { split: 'test' });
  const model = buildModel();
  return {
    model,
    train: new data.DataLoader(new data.TensorDataset(train.images, train.labels), {
      batchSize: args.batchSize ?? 64,
      shuffle: true,
    }),
    validation: new data.DataLoader(new data.TensorDataset(test.images, test.labels), { batchSize: 1000 }),
    optimizer: new optim.Adam(model.parameters(), { lr: 1e-3 }),
    loss: new nn.CrossEntropyLoss(),
    metrics: ['accuracy'],
    epochs: args.epochs ?? 5,
  };
}
