import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor } from '../lib/tensor.js';
import { save, load, saveAsync, loadAsync } from '../lib/io/index.js';

describe('io.saveAsync / io.loadAsync', () => {
  it('round-trips tensors and metadata, saving the values as they were at the call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-async-'));
    const path = join(dir, 'w.safetensors');
    const w = tensor([
      [1, 2],
      [3, 4],
    ]);
    const d = tensor([0.1, -0.2], { dtype: 'float64' });
    const pending = saveAsync(path, { w, d }, { step: '7' });
    w.data[0] = 100; // training goes on while the file is written
    await pending;
    const r = await loadAsync(path);
    expect(r.metadata).toEqual({ step: '7' });
    expect(r.tensors.w.shape).toEqual([2, 2]);
    expect(Array.from(r.tensors.w.data)).toEqual([1, 2, 3, 4]);
    expect(r.tensors.d.dtype).toBe('float64');
    expect(Array.from(r.tensors.d.data)).toEqual([0.1, -0.2]);
    expect(Array.from(load(path).tensors.w.data)).toEqual([1, 2, 3, 4]);
  });

  it('cleans up its temporary file when the final rename fails, leaving the target as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-async-'));
    const target = join(dir, 'taken');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    await expect(saveAsync(target, { w: tensor([1]) })).rejects.toThrow();
    expect(() => save(target, { w: tensor([1]) })).toThrow();
    expect(readdirSync(dir)).toEqual(['taken']);
    expect(readdirSync(target)).toEqual(['keep']);
    await expect(loadAsync(join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot read .*missing\.safetensors/);
    await expect(saveAsync(join(dir, 'w.safetensors'), { w: [1, 2] as never })).rejects.toThrow(/'w' is not a Tensor/);
  });
});
