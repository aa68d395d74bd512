// The CLI against careless input (issue 10): an --out folder that does not exist (checked before
// training, not after), an empty data set, a checkpoint resumed under another optimizer, and a
// weights file whose model name is '__proto__'. Runs dist/cli.js as users do.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { io, tensor } from '../lib/index.js';

const cli = resolve('dist/cli.js');

function backprop(args: string[], cwd = process.cwd()) {
  if (!existsSync(cli)) throw new Error('dist/cli.js is missing: run `npm run compile` (npm test does it in pretest)');
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

function idx(dims: number[], values: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 8;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, values]);
}

describe('backprop CLI with careless input', () => {
  it('checks the --out and --checkpoint folders before training', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const r = backprop(['train', '--epochs', '1', '--out', 'missing/w.safetensors'], dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`--out missing/w.safetensors: the folder ${join(dir, 'missing')} does not exist`);
    expect(r.out).not.toMatch(/epoch 1\/1/);
    const c = backprop(['train', '--epochs', '1', '--checkpoint', 'nope/ck-{epoch}.safetensors'], dir);
    expect(c.code).not.toBe(0);
    expect(c.out).toContain('--checkpoint nope/ck-{epoch}.safetensors: the folder');
  });

  it('refuses an empty data set instead of training on nothing (loss NaN, exit 0)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    for (const split of ['train', 't10k']) {
      writeFileSync(join(data, `${split}-images-idx3-ubyte`), idx([0, 28, 28], new Uint8Array(0)));
      writeFileSync(join(data, `${split}-labels-idx1-ubyte`), idx([0], new Uint8Array(0)));
    }
    const r = backprop(['train', '--epochs', '1', '--data', data, '--out', 'w.safetensors'], dir);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`train: ${data} holds no training images`);
    expect(existsSync(join(dir, 'w.safetensors'))).toBe(false);
  });

  it('refuses to resume an Adam checkpoint under --optimizer sgd', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const first = backprop(
      [
        'train',
        '--epochs',
        '1',
        '--seed',
        '1',
        '--optimizer',
        'adam',
        '--checkpoint',
        'ck.safetensors',
        '--out',
        'w.safetensors',
      ],
      dir,
    );
    expect(first.code).toBe(0);
    const r = backprop(
      ['train', '--epochs', '2', '--optimizer', 'sgd', '--resume', 'ck.safetensors', '--out', 'w2.safetensors'],
      dir,
    );
    expect(r.code).not.toBe(0);
    expect(r.out).toContain('ck.safetensors was written with --optimizer adam, not sgd: resume with --optimizer adam');
    expect(existsSync(join(dir, 'w2.safetensors'))).toBe(false);
  });

  it('eval names a weights file whose model is __proto__ as not written by train', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-cli-'));
    const file = join(dir, 'p.safetensors');
    io.save(file, { w: tensor([1]) }, { 'backprop.model': '__proto__' });
    const r = backprop(['eval', '--model-file', file]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain(`${file} does not say which model it holds (metadata 'backprop.model' is '__proto__')`);
    expect(r.out).not.toContain('is not a function');
  });
});
