import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import * as nn from '../lib/nn/index.js';
import * as optim from '../lib/optim/index.js';
import { DataLoader, TensorDataset } from '../lib/data/index.js';
import { fit } from '../lib/train/index.js';
import { saveCheckpoint, loadCheckpoint, save } from '../lib/io/index.js';

function data(): TensorDataset {
  const n = 48;
  const x = Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i * 0.37));
  const y = Float32Array.from({ length: n }, (_, i) => i % 3);
  return new TensorDataset(tensor(x, { shape: [n, 4] }), tensor(y, { shape: [n] }));
}

type Kind = 'adam+step' | 'sgd+plateau';

function setup(kind: Kind = 'adam+step') {
  // Dropout makes the run depend on the generator beyond the shuffle.
  const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Dropout(0.2), new nn.Linear(8, 3));
  if (kind === 'adam+step') {
    const optimizer = new optim.Adam(model.parameters(), { lr: 0.01 });
    return { model, optimizer, scheduler: new optim.lrScheduler.StepLR(optimizer, { stepSize: 1, gamma: 0.7 }) };
  }
  const optimizer = new optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true });
  return {
    model,
    optimizer,
    scheduler: new optim.lrScheduler.ReduceLROnPlateau(optimizer, { patience: 0, factor: 0.5 }),
  };
}

const run = (parts: ReturnType<typeof setup>, epochs: number, initialEpoch = 0) =>
  fit(parts.model, {
    train: new DataLoader(data(), { batchSize: 10, shuffle: true }),
    validation: new DataLoader(data(), { batchSize: 16 }),
    epochs,
    initialEpoch,
    optimizer: parts.optimizer,
    scheduler: parts.scheduler,
    loss: new nn.CrossEntropyLoss(),
  });

const bytes = (m: nn.Module): Buffer[] =>
  m.parameters().map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));

describe('checkpoints', () => {
  it.each<Kind>(['adam+step', 'sgd+plateau'])(
    '%s: resume after 2 epochs + 1 more equals 3 uninterrupted epochs bit for bit',
    async (kind) => {
      const dir = mkdtempSync(join(tmpdir(), 'backprop-ckpt-'));
      manualSeed(11);
      const straight = setup(kind);
      await run(straight, 3);

      manualSeed(11);
      const first = setup(kind);
      await run(first, 2);
      const path = join(dir, 'ckpt.safetensors');
      saveCheckpoint(path, { ...first, epoch: 2, extra: { note: 'two epochs' } });

      manualSeed(999); // a different generator state and different initial weights
      const resumed = setup(kind);
      expect(bytes(resumed.model)).not.toEqual(bytes(straight.model));
      const info = loadCheckpoint(path, resumed);
      expect(info).toEqual({ epoch: 2, extra: { note: 'two epochs' } });
      const history = await run(resumed, 3, info.epoch);
      expect(history.epochs.map((e) => e.epoch)).toEqual([3]);
      expect(resumed.optimizer.paramGroups[0].lr).toBe(straight.optimizer.paramGroups[0].lr);
      const a = bytes(straight.model);
      const b = bytes(resumed.model);
      expect(b.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(b[i].equals(a[i]), `parameter ${i}`).toBe(true);
    },
  );

  it('refuses files that are not checkpoints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-ckpt-'));
    const plain = join(dir, 'plain.safetensors');
    save(plain, { w: tensor([1, 2]) });
    expect(() => loadCheckpoint(plain, setup())).toThrow(
      /plain\.safetensors is a safetensors file but not a backprop checkpoint/,
    );
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'not a checkpoint at all');
    expect(() => loadCheckpoint(junk, setup())).toThrow(/junk\.safetensors is not a valid safetensors file/);
  });
});
