// `backprop train --checkpoint-segments N` (the compiled dist/cli.js, as cli.test.ts): the same
// weights bit for bit as the run without it, a smaller peak of saved bytes on the progress line.
// (The MLP: LeNet's training is not bit-reproducible from run to run on the native backend even
// without checkpointing, so it cannot be compared bit for bit across two processes.)
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readSafetensors } from '../lib/io/safetensors.js';

const cli = resolve('dist/cli.js');

function train(extra: string[]): { text: string; tensors: Record<string, number[]> } {
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run compile` (npm test does it in pretest)');
  const dir = mkdtempSync(join(tmpdir(), 'backprop-ckpt-'));
  const args = [cli, 'train', '--epochs', '2', '--seed', '4', '--out', 'w.safetensors', ...extra];
  const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  const file = readSafetensors(join(dir, 'w.safetensors'));
  const tensors = Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [k, Array.from(t.data)]));
  return { text: r.stdout + r.stderr, tensors };
}

/** The peak saved bytes printed on the epoch line, in bytes. */
function peak(text: string): number {
  const m = /peak saved ([\d.]+) (B|KiB|MiB|GiB)/.exec(text);
  expect(m, text).not.toBeNull();
  return Number(m![1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB'].indexOf(m![2]);
}

describe('backprop train --checkpoint-segments', () => {
  it('trains the MLP to the same weights with a lower peak of saved bytes', () => {
    const plain = train([]);
    const ck = train(['--checkpoint-segments', '2']);
    expect(ck.tensors).toEqual(plain.tensors);
    expect(peak(ck.text)).toBeLessThan(peak(plain.text));
  });
});
