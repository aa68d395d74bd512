// The training job of `npm run bench -- service`: one of the three models of issue 18 on the
// bundled Fashion-MNIST sample, as a background-trainer job (default export) and in-thread
// (the bench calls the same function). Not a benchmark itself (the leading underscore keeps it
// out of bench/run.js's list).
import { manualSeed, nn, optim, data } from '../dist/index.js';

/** @typedef {'mlp' | 'wide' | 'lenet'} ModelName */

/** @param {ModelName} name */
export function buildModel(name) {
  if (name === 'mlp')
    return new nn.Sequential(
      new nn.Flatten(),
      new nn.Linear(784, 512),
      new nn.ReLU(),
      new nn.Linear(512, 256),
      new nn.ReLU(),
      new nn.Linear(256, 10),
    );
  if (name === 'wide')
    return new nn.Sequential(
      new nn.Flatten(),
      new nn.Linear(784, 2048),
      new nn.ReLU(),
      new nn.Linear(2048, 2048),
      new nn.ReLU(),
      new nn.Linear(2048, 10),
    );
  // LeNet-5 (ReLU, max pooling) for 28x28 inputs.
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120),
    new nn.ReLU(),
    new nn.Linear(120, 84),
    new nn.ReLU(),
    new nn.Linear(84, 10),
  );
}

/** @param {{ model: ModelName, batchSize: number, epochs?: number, seed?: number }} args */
export default function job(args) {
  manualSeed(args.seed ?? 0);
  const train = data.loadMnist(undefined, { split: 'train' });
  const loader = new data.DataLoader(new data.TensorDataset(train.images, train.labels), {
    batchSize: args.batchSize,
    shuffle: true,
  });
  const model = buildModel(args.model);
  const optimizer = new optim.Adam(model.parameters(), { lr: 1e-3 });
  return { model, train: loader, optimizer, loss: new nn.CrossEntropyLoss(), epochs: args.epochs ?? 1000 };
}
