// Hostile files (issue 10): FIFOs and devices behind a loader's path, a safetensors header whose
// entries overlap, a tensor named __proto__, a gzip bomb in IDX clothing, temporaries of killed
// saves, and checkpoints that are partly bad (all or nothing).
import { describe, expect, it } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { io, nn, optim, tensor, manualSeed, data } from '../lib/index.js';
import { readSafetensors } from '../lib/io/safetensors.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'backprop-hostile-'));

/** A safetensors file from a header object and a body (no validation: that is the point). */
function rawSafetensors(header: object, body: Uint8Array): Buffer {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, Buffer.from(json), body]);
}

describe('loaders read regular files only', () => {
  it('a FIFO, /dev/zero and a directory are refused at once instead of hanging or reading forever', () => {
    const d = dir();
    const fifo = join(d, 'pipe.safetensors');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    expect(() => io.load(fifo)).toThrow(`io.load: cannot read ${fifo}: it is a FIFO (named pipe), not a regular file`);
    expect(() => data.loadIdx(fifo)).toThrow(/loadIdx: cannot read .*FIFO/);
    expect(() => io.loadCheckpoint(fifo, { model: new nn.Linear(1, 1) })).toThrow(/FIFO/);
    expect(() => io.load('/dev/zero')).toThrow(/io.load: cannot read \/dev\/zero: it is a character device/);
    expect(() => io.load(d)).toThrow(/it is a directory/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a path that is not a string is named as such by every loader and saver', () => {
    expect(() => io.save(null as never, {})).toThrow(
      new TypeError('io.save: path must be a non-empty string, got null'),
    );
    expect(() => io.load(Symbol('p') as never)).toThrow(/io.load: path must be a non-empty string, got symbol/);
    expect(() => data.loadIdx('')).toThrow(/loadIdx: path must be a non-empty string, got an empty string/);
    expect(() => io.loadCheckpoint(1 as never, { model: new nn.Linear(1, 1) })).toThrow(/loadCheckpoint: path must be/);
  });

  it('loadAsync refuses a FIFO too', async () => {
    const d = dir();
    const fifo = join(d, 'pipe');
    execFileSync('mkfifo', [fifo]);
    await expect(io.loadAsync(fifo)).rejects.toThrow(/FIFO/);
  });
});

describe('safetensors headers are validated whole before anything is copied', () => {
  it('300 overlapping entries over one 1 MB span are refused (no per-entry copy first)', () => {
    const d = dir();
    const n = 1 << 18; // 1 MB of F32
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 300; i++) header[`t${i}`] = { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] };
    const file = join(d, 'overlap.safetensors');
    writeFileSync(file, rawSafetensors(header, new Uint8Array(4 * n)));
    // Under the old decoder each entry was copied before the overlap check (300 MB here).
    const before = process.memoryUsage().arrayBuffers;
    expect(() => readSafetensors(file)).toThrow(/tensor 't\d+' overlaps the previous tensor/);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(100e6);
  });

  it('a tensor named __proto__ (and metadata key __proto__) round-trips as an own entry', () => {
    const d = dir();
    const file = join(d, 'proto.safetensors');
    writeFileSync(
      file,
      rawSafetensors(
        { __metadata__: { ['__proto__']: 'm' }, ['__proto__']: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
        new Uint8Array(new Float32Array([1, 2]).buffer),
      ),
    );
    // JSON.stringify of an object literal with a __proto__ key drops it; check the header holds it
    const loaded = io.load(file);
    expect(Object.keys(loaded.tensors)).toEqual(['__proto__']);
    expect(Array.from(Object.getOwnPropertyDescriptor(loaded.tensors, '__proto__')!.value.data)).toEqual([1, 2]);
    expect(Object.getOwnPropertyDescriptor(loaded.metadata, '__proto__')!.value).toBe('m');
  });
});

describe('gzip IDX files inflate no further than their header claims', () => {
  it('a gzip bomb (a 10-byte claim followed by 64 MB of zeros) is refused with a clear message', () => {
    const d = dir();
    const file = join(d, 'bomb-idx1-ubyte.gz');
    const head = Buffer.from([0, 0, 8, 1, 0, 0, 0, 10]);
    writeFileSync(file, gzipSync(Buffer.concat([head, Buffer.alloc(64 << 20)])));
    expect(() => data.loadIdx(file)).toThrow(
      /loadIdx: .* is not a valid IDX file: the gzip data inflates past the 18 bytes its IDX header claims/,
    );
    // A valid gzipped file still loads.
    const ok = join(d, 'ok-idx1-ubyte.gz');
    writeFileSync(ok, gzipSync(Buffer.from([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])));
    expect(Array.from(data.loadIdx(ok).data)).toEqual([7, 8, 9]);
  });

  it('a claim larger than the limit is refused before inflating', () => {
    const d = dir();
    const file = join(d, 'huge-idx3-ubyte.gz');
    // 3 dims of 65535: 16 header bytes + 65535^3 data bytes claimed
    writeFileSync(file, gzipSync(Buffer.from([0, 0, 8, 3, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255, 1])));
    expect(() => data.loadIdx(file)).toThrow(
      /the header claims 281462092005391 bytes of data, more than the limit of 4294967296/,
    );
  });
});

describe('saves clean up after killed saves', () => {
  it('the next save to a path removes temporaries of dead processes, and keeps those of live ones', () => {
    const d = dir();
    const target = join(d, 'm.safetensors');
    // A pid that is surely dead: a child that has exited.
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    const stale = join(d, `.m.safetensors.${deadPid}.0123456789ab.tmp`);
    const live = join(d, `.m.safetensors.${process.ppid}.0123456789ab.tmp`);
    const other = join(d, `.n.safetensors.${deadPid}.0123456789ab.tmp`);
    for (const f of [stale, live, other]) writeFileSync(f, 'partial');
    io.save(target, { w: tensor([1, 2]) });
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(other)).toBe(true); // another target's temporaries are not ours to judge
    expect(readdirSync(d).sort()).toEqual(
      [
        `.m.safetensors.${process.ppid}.0123456789ab.tmp`,
        `.n.safetensors.${deadPid}.0123456789ab.tmp`,
        'm.safetensors',
      ].sort(),
    );
  });
});

describe('loadCheckpoint is all or nothing', () => {
  function setup() {
    manualSeed(3);
    const model = new nn.Linear(3, 2);
    const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
    return { model, opt };
  }

  it('a bad optimizer part leaves the model as it was', () => {
    const d = dir();
    const file = join(d, 'ck.safetensors');
    const a = setup();
    a.model.weight.data.fill(0.25);
    a.opt.paramGroups[0].lr = NaN; // saved as {"$number": "NaN"}; the constructor would refuse it
    io.saveCheckpoint(file, { model: a.model, optimizer: a.opt, epoch: 1 });
    const b = setup();
    const before = Array.from(b.model.weight.data);
    expect(() => io.loadCheckpoint(file, { model: b.model, optimizer: b.opt })).toThrow(
      /loadCheckpoint: .*: the optimizer state was refused, nothing was changed: Adam.loadStateDict: parameter group 0: Adam: invalid learning rate NaN/,
    );
    expect(Array.from(b.model.weight.data)).toEqual(before);
    expect(b.opt.paramGroups[0].lr).toBe(0.01);
  });

  it('a negative or string epoch is refused before anything changes', () => {
    const d = dir();
    const file = join(d, 'ck.safetensors');
    const a = setup();
    io.saveCheckpoint(file, { model: a.model, optimizer: a.opt, epoch: 2 });
    const { tensors, metadata } = readSafetensors(file);
    for (const epoch of [-1, '3', 1.5]) {
      const rec = JSON.parse(metadata['backprop.checkpoint']);
      rec.epoch = epoch;
      const bad = join(d, `bad.safetensors`);
      io.save(
        bad,
        Object.fromEntries(
          Object.entries(tensors).map(([k, t]) => [k, tensor(t.data, { dtype: t.dtype, shape: t.shape })]),
        ),
        {
          ...metadata,
          'backprop.checkpoint': JSON.stringify(rec),
        },
      );
      const b = setup();
      b.model.weight.data.fill(7);
      expect(() => io.loadCheckpoint(bad, { model: b.model, optimizer: b.opt })).toThrow(/has an invalid epoch/);
      expect(b.model.weight.data[0]).toBe(7);
    }
  });
});
