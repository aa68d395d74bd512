// The `backprop` command as users run it: the compiled dist/cli.js (npm test builds it first).
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readSafetensors } from '../lib/io/safetensors.js';

const cli = resolve('dist/cli.js');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

function backprop(args: string[], cwd = process.cwd()) {
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run compile` (npm test does it in pretest)');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('backprop CLI', () => {
  it('is an executable script', () => {
    expect(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('info reports the version and the backend', () => {
    const text = backprop(['info']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`backprop ${pkg.version}`);
    const js = backprop(['info', '--json', '--backend', 'js']);
    expect(js.code).toBe(0);
    const info = JSON.parse(js.stdout);
    expect(info).toMatchObject({ version: pkg.version, name: 'js' });
    expect(info.available).toContain('js');
  });

  it('train --epochs 1 on the bundled sample prints a test accuracy and writes weights that eval reads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const r = backprop(['train', '--epochs', '1', '--seed', '1', '--out', 'w.safetensors'], dir);
    expect(r.stderr + r.stdout).toMatch(/epoch 1\/1/);
    expect(r.code).toBe(0);
    const m = /test accuracy: ([\d.]+)% \(1000 images\)/.exec(r.stdout);
    expect(m).not.toBeNull();
    // ten balanced classes: chance is 10%; one epoch over 3000 images gets well above it
    expect(Number(m![1])).toBeGreaterThan(50);
    const file = readSafetensors(join(dir, 'w.safetensors'));
    expect(file.metadata['backprop.model']).toBe('mlp');
    expect(Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [k, t.shape]))).toMatchObject({
      '1.weight': [expect.any(Number), 784],
    });
    const e = backprop(['eval', '--model-file', join(dir, 'w.safetensors')]);
    expect(e.code).toBe(0);
    expect(e.stdout).toContain(`test accuracy: ${m![1]}% (1000 images)`);
  });

  it('train --model lenet learns above chance and its file evaluates to the same accuracy', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const r = backprop(
      ['train', '--model', 'lenet', '--epochs', '1', '--seed', '2', '--out', 'lenet.safetensors'],
      dir,
    );
    expect(r.code).toBe(0);
    const m = /test accuracy: ([\d.]+)%/.exec(r.stdout);
    expect(Number(m![1])).toBeGreaterThan(25);
    expect(readSafetensors(join(dir, 'lenet.safetensors')).tensors['0.weight'].shape).toEqual([6, 1, 5, 5]);
    const e = backprop(['eval', '--model-file', join(dir, 'lenet.safetensors')]);
    expect(e.stdout).toContain(`test accuracy: ${m![1]}%`);
  });

  it('train --resume from the epoch-2 checkpoint ends with the same weights as the uninterrupted run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const args = ['train', '--epochs', '3', '--seed', '4', '--batch-size', '128'];
    expect(backprop([...args, '--checkpoint', 'e{epoch}.safetensors', '--out', 'a.safetensors'], dir).code).toBe(0);
    const resumed = backprop([...args, '--resume', 'e2.safetensors', '--out', 'b.safetensors'], dir);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain('resuming from e2.safetensors after epoch 2');
    expect(resumed.stderr).not.toMatch(/epoch [12]\/3/);
    const a = readSafetensors(join(dir, 'a.safetensors')).tensors;
    const b = readSafetensors(join(dir, 'b.safetensors')).tensors;
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a))
      expect(Buffer.from(b[k].data.buffer).equals(Buffer.from(a[k].data.buffer)), k).toBe(true);
  });

  it('bench reports GEMM and training throughput of the chosen backend', () => {
    const r = backprop(['bench', '--backend', 'js', '--size', '32', '--batches', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^js .*sgemm 32x32x32 [\d.]+ GFLOP\/s, MLP 784-512-256-10 training \d+ samples\/s/);
  });

  it('rejects bad arguments and bad data with a message and exit code 1', () => {
    const bad = backprop(['train', '--epochs', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--epochs.*positive integer/);
    const missing = backprop(['train', '--data', '/nonexistent/data']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/backprop: error: .*\/nonexistent\/data does not exist/);
    const corrupt = backprop(['eval', '--model-file', 'package.json']);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/package\.json is not a valid safetensors file/);
  });

  it('train --report writes an HTML report with validation curves and prints the loss as a sparkline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const r = backprop(['train', '--epochs', '2', '--seed', '3', '--out', 'w.safetensors', '--report', 'r.html'], dir);
    expect(r.code).toBe(0);
    const line = /loss by epoch ([▁▂▃▄▅▆▇█]{2}) ([\d.]+) → ([\d.]+)/.exec(r.stdout);
    expect(line).not.toBeNull();
    // two epochs: the lower loss is ▁, the higher █
    expect(Number(line![3]) < Number(line![2]) ? line![1] : '█▁').toBe('█▁');
    expect(r.stdout).toContain('wrote r.html');
    const html = readFileSync(join(dir, 'r.html'), 'utf8');
    expect(html).toContain('"label":"validation"');
    expect(html).toContain('validation: the test split (1000 images)');
  });
});
