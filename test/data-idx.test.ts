import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadIdx } from '../lib/data/idx.js';

// IDX files written byte by byte here, independently of the reader.
function idxBytes(typeCode: number, shape: number[], body: number[]): Buffer {
  return Buffer.from([
    0,
    0,
    typeCode,
    shape.length,
    ...shape.flatMap((d) => [(d >>> 24) & 255, (d >>> 16) & 255, (d >>> 8) & 255, d & 255]),
    ...body,
  ]);
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backprop-idx-'));
});

function write(name: string, bytes: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('loadIdx', () => {
  it('reads raw and gzipped uint8 files', () => {
    const bytes = idxBytes(0x08, [2, 3], [0, 1, 2, 253, 254, 255]);
    for (const path of [write('u8.idx', bytes), write('u8.idx.gz', gzipSync(bytes))]) {
      const r = loadIdx(path);
      expect(r.dtype).toBe('uint8');
      expect(r.shape).toEqual([2, 3]);
      expect(Array.from(r.data)).toEqual([0, 1, 2, 253, 254, 255]);
    }
  });

  it('decodes big-endian int16, int32, float32 and float64', () => {
    expect(Array.from(loadIdx(write('i16', idxBytes(0x0b, [2], [0xff, 0xfe, 0x01, 0x00]))).data)).toEqual([-2, 256]);
    expect(Array.from(loadIdx(write('i32', idxBytes(0x0c, [1], [0x00, 0x01, 0x00, 0x02]))).data)).toEqual([65538]);
    // 1.5f = 0x3fc00000, -2.0 (double) = 0xc000000000000000
    expect(Array.from(loadIdx(write('f32', idxBytes(0x0d, [1], [0x3f, 0xc0, 0, 0]))).data)).toEqual([1.5]);
    expect(Array.from(loadIdx(write('f64', idxBytes(0x0e, [1], [0xc0, 0, 0, 0, 0, 0, 0, 0]))).data)).toEqual([-2]);
    expect(Array.from(loadIdx(write('i8', idxBytes(0x09, [2], [0xff, 0x7f]))).data)).toEqual([-1, 127]);
  });

  it('names the file and the defect for corrupt files', () => {
    const good = idxBytes(0x08, [2, 2], [1, 2, 3, 4]);
    const cases: [string, Buffer, RegExp][] = [
      ['magic', Buffer.concat([Buffer.from([1]), good.subarray(1)]), /bad magic number/],
      ['type', idxBytes(0x07, [1], [0]), /unknown type code 0x07/],
      ['short', good.subarray(0, 3), /shorter than the 4-byte magic/],
      ['header', good.subarray(0, 9), /truncated header/],
      [
        'truncated',
        good.subarray(0, good.length - 1),
        /truncated: shape \[2, 2\] of uint8 needs 16 bytes, file has 15/,
      ],
      ['trailing', Buffer.concat([good, Buffer.from([9])]), /trailing bytes/],
      ['gzip', gzipSync(good).subarray(0, 15), /corrupt or truncated gzip/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = write(`bad-${name}`, bytes);
      expect(() => loadIdx(path)).toThrow(message);
      expect(() => loadIdx(path)).toThrow(path);
    }
    expect(() => loadIdx(join(dir, 'missing'))).toThrow(/cannot read .*missing/);
  });
});
