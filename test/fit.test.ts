import { describe, expect, it } from 'vitest';
import { tensor, Tensor } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import { isGradEnabled } from '../lib/autograd/mode.js';
import * as nn from '../lib/nn/index.js';
import * as optim from '../lib/optim/index.js';
import { DataLoader, TensorDataset } from '../lib/data/index.js';
import { fit, evaluate, createProgress } from '../lib/train/index.js';

// Two classes split by the line x0 + x1 = 0: points on a fixed grid, so no randomness in the data.
function separable(n: number): TensorDataset {
  const x = new Float32Array(2 * n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.sin(i * 1.7) * 2;
    const b = Math.cos(i * 2.3) * 2;
    x[2 * i] = a;
    x[2 * i + 1] = b;
    y[i] = a + b > 0 ? 1 : 0;
  }
  return new TensorDataset(tensor(x, { shape: [n, 2] }), tensor(y, { shape: [n] }));
}

function mlp(): nn.Module {
  return new nn.Sequential(new nn.Linear(2, 16), new nn.ReLU(), new nn.Linear(16, 2));
}

describe('fit', () => {
  it('lowers the loss and learns a separable problem; validation runs in eval mode without grad', async () => {
    manualSeed(0);
    const model = mlp();
    const seen: { training: boolean; grad: boolean }[] = [];
    const probe = {
      forward: (x: Tensor) => {
        seen.push({ training: model.training, grad: isGradEnabled() });
        return (model as unknown as { forward(x: Tensor): Tensor }).forward(x);
      },
      train: (mode?: boolean) => model.train(mode),
      eval: () => model.eval(),
      get training() {
        return model.training;
      },
    };
    const epochsSeen: number[] = [];
    const history = await fit(probe, {
      train: new DataLoader(separable(128), { batchSize: 16, shuffle: true }),
      validation: new DataLoader(separable(64), { batchSize: 32 }),
      epochs: 15,
      optimizer: new optim.Adam(model.parameters(), { lr: 0.02 }),
      loss: new nn.CrossEntropyLoss(),
      metrics: ['accuracy'],
      onEpochEnd: (logs) => {
        epochsSeen.push(logs.epoch);
      },
    });
    expect(epochsSeen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(history.aborted).toBe(false);
    const first = history.epochs[0];
    const last = history.epochs[14];
    expect(last.loss).toBeLessThan(first.loss / 3);
    expect(last.accuracy).toBeGreaterThan(0.95);
    expect(last.valAccuracy).toBeGreaterThan(0.9);
    expect(last.samples).toBe(128);
    // 8 training batches then 2 validation batches per epoch
    expect(seen.slice(0, 10)).toEqual([
      ...Array(8).fill({ training: true, grad: true }),
      ...Array(2).fill({ training: false, grad: false }),
    ]);
    expect(model.training).toBe(true);
    // the reported validation loss is the mean cross-entropy, recomputed here by hand
    const val = separable(64);
    const logits = (model as unknown as { forward(x: Tensor): Tensor }).forward(val.x).data;
    let ce = 0;
    for (let i = 0; i < 64; i++) {
      const [a, b] = [logits[2 * i], logits[2 * i + 1]];
      const m = Math.max(a, b);
      ce += m + Math.log(Math.exp(a - m) + Math.exp(b - m)) - (val.y.data[i] === 1 ? b : a);
    }
    expect(last.valLoss).toBeCloseTo(ce / 64, 4);
    const again = await evaluate(model, new DataLoader(val, { batchSize: 64 }), {
      loss: new nn.CrossEntropyLoss(),
      metrics: ['accuracy'],
    });
    expect(again.accuracy).toBe(last.valAccuracy);
  });

  it('yields to the event loop between batches', async () => {
    manualSeed(1);
    const model = mlp();
    // One tick per event-loop turn (a self-rescheduling setImmediate): unlike a 0 ms timer it
    // counts every turn, however fast the batches run, so the check does not depend on timing.
    let ticks = 0;
    let counting = true;
    const tick = (): void => {
      ticks++;
      if (counting) setImmediate(tick);
    };
    setImmediate(tick);
    const batchTicks: number[] = [];
    await fit(model, {
      train: new DataLoader(separable(64), { batchSize: 4 }),
      epochs: 1,
      optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }),
      loss: new nn.CrossEntropyLoss(),
      onBatchEnd: () => {
        batchTicks.push(ticks);
      },
    });
    counting = false;
    expect(batchTicks.length).toBe(16);
    expect(batchTicks[15]).toBeGreaterThan(batchTicks[0]);
  });

  it('stops cleanly after the current batch when the signal aborts', async () => {
    manualSeed(2);
    const model = mlp();
    const opt = new optim.SGD(model.parameters(), { lr: 0.1 });
    let steps = 0;
    const step = opt.step.bind(opt);
    opt.step = (...args: Parameters<typeof step>) => {
      steps++;
      return step(...args);
    };
    const controller = new AbortController();
    const history = await fit(model, {
      train: new DataLoader(separable(64), { batchSize: 8 }),
      epochs: 3,
      optimizer: opt,
      loss: new nn.CrossEntropyLoss(),
      signal: controller.signal,
      onBatchEnd: ({ epoch, batch }) => {
        if (epoch === 2 && batch === 3) controller.abort();
      },
    });
    expect(history.aborted).toBe(true);
    expect(history.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(steps).toBe(8 + 3);
  });

  it('stops with an Error naming the epoch and batch of a NaN loss, before applying it', async () => {
    manualSeed(3);
    const model = mlp();
    const ds = separable(32);
    ds.x.data[2 * 20] = NaN; // sample 20: batch 3 of 8-sample batches
    const before = model.parameters().map((p) => Array.from(p.data));
    let stepsBefore: number[][] = [];
    await expect(
      fit(model, {
        train: new DataLoader(ds, { batchSize: 8 }),
        epochs: 2,
        optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }),
        loss: new nn.CrossEntropyLoss(),
        onBatchEnd: ({ batch }) => {
          if (batch === 2) stepsBefore = model.parameters().map((p) => Array.from(p.data));
        },
      }),
    ).rejects.toThrow(/loss is NaN at epoch 1, batch 3/);
    expect(model.parameters().map((p) => Array.from(p.data))).toEqual(stepsBefore);
    expect(stepsBefore).not.toEqual(before);
  });
});

describe('progress', () => {
  it('prints one plain line per epoch when the stream is not a terminal', () => {
    const lines: string[] = [];
    const stream = { write: (s: string) => lines.push(s), isTTY: false } as unknown as NodeJS.WritableStream;
    const p = createProgress({ epochs: 2, stream });
    p.onBatchEnd({ epoch: 1, batch: 1, batches: 2, loss: 1, runningLoss: 1, samples: 50 });
    p.onEpochEnd({ epoch: 1, loss: 0.5, accuracy: 0.75, valLoss: 0.625, samples: 100, seconds: 0.5, lr: 0.1 });
    p.stop();
    expect(lines).toEqual(['epoch 1/2  loss 0.5000  accuracy 0.7500  valLoss 0.6250  200 samples/s  0.5s\n']);
  });
});
