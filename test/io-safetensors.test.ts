import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors, type RawTensor } from '../lib/io/safetensors.js';
import { PYTHON as python, torchHere } from './support/torch.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backprop-st-'));
});

const f32 = (shape: number[], values: number[]): RawTensor => ({
  dtype: 'float32',
  shape,
  data: Float32Array.from(values),
});
const f64 = (shape: number[], values: number[]): RawTensor => ({
  dtype: 'float64',
  shape,
  data: Float64Array.from(values),
});

/** A file assembled by hand from the spec: 8-byte LE length, JSON header, byte buffer. */
function handMade(header: unknown, body: Buffer, rawHeader?: string): Buffer {
  const json = Buffer.from(rawHeader ?? JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, body]);
}

describe('safetensors', () => {
  it('writes the layout of the spec: sorted, aligned, padded header', () => {
    const path = join(dir, 'layout.safetensors');
    writeSafetensors(path, { b: f32([2], [1, 2]), a: f64([1], [0.5]), c: f32([1, 1], [-3]) }, { format: 'pt' });
    const bytes = readFileSync(path);
    const n = Number(bytes.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + n));
    expect(header.__metadata__).toEqual({ format: 'pt' });
    // float64 first (8-byte aligned), then the float32 tensors by name
    expect(header.a).toEqual({ dtype: 'F64', shape: [1], data_offsets: [0, 8] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [2], data_offsets: [8, 16] });
    expect(header.c).toEqual({ dtype: 'F32', shape: [1, 1], data_offsets: [16, 20] });
    const body = bytes.subarray(8 + n);
    expect(body.length).toBe(20);
    expect(body.readDoubleLE(0)).toBe(0.5);
    expect([body.readFloatLE(8), body.readFloatLE(12), body.readFloatLE(16)]).toEqual([1, 2, -3]);
  });

  it('round-trips tensors and metadata, including empty tensors and scalars', () => {
    const path = join(dir, 'rt.safetensors');
    const tensors = { w: f32([2, 3], [1, -2, 3.5, 1e-30, -0, 7]), s: f64([], [Math.PI]), e: f32([0, 4], []) };
    writeSafetensors(path, tensors, { epoch: '3' });
    const r = readSafetensors(path);
    expect(r.metadata).toEqual({ epoch: '3' });
    expect(r.tensors.w.shape).toEqual([2, 3]);
    expect(r.tensors.w.data).toEqual(tensors.w.data);
    expect(r.tensors.s).toEqual({ dtype: 'float64', shape: [], data: Float64Array.from([Math.PI]) });
    expect(r.tensors.e.shape).toEqual([0, 4]);
  });

  it('reads F16 and BF16 as their own dtypes, raw bits kept', () => {
    const body = Buffer.alloc(8);
    body.writeUInt16LE(0x3c00, 0); // 1.0
    body.writeUInt16LE(0xc000, 2); // -2.0
    body.writeUInt16LE(0x3fc0, 4); // bf16 1.5
    body.writeUInt16LE(0x0001, 6); // f16 smallest subnormal
    const path = join(dir, 'half.safetensors');
    writeFileSync(
      path,
      handMade(
        {
          h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
          b: { dtype: 'BF16', shape: [1], data_offsets: [4, 6] },
          t: { dtype: 'F16', shape: [1], data_offsets: [6, 8] },
        },
        body,
      ),
    );
    const r = readSafetensors(path).tensors;
    expect(r.h.dtype).toBe('float16');
    expect(Array.from(r.h.data)).toEqual([0x3c00, 0xc000]);
    expect(r.b.dtype).toBe('bfloat16');
    expect(Array.from(r.b.data)).toEqual([0x3fc0]);
    expect(Array.from(r.t.data)).toEqual([0x0001]);
  });

  it('names the file and the defect for corrupt files', () => {
    const body = Buffer.alloc(8);
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const cases: [string, Buffer, RegExp][] = [
      ['tiny', Buffer.alloc(5), /shorter than the 8-byte header length/],
      [
        'len',
        (() => {
          const b = handMade(ok, body);
          b.writeBigUInt64LE(10_000n);
          return b;
        })(),
        /runs past the end of the file/,
      ],
      [
        'huge',
        (() => {
          const b = handMade(ok, body);
          b.writeBigUInt64LE(2n ** 60n);
          return b;
        })(),
        /larger than the limit/,
      ],
      ['json', handMade(null, body, '{"a": {'), /not valid JSON/],
      ['brace', handMade(null, body, '[1, 2, 3]'), /does not start with/],
      ['dtype', handMade({ a: { dtype: 'F33', shape: [2], data_offsets: [0, 8] } }, body), /unknown dtype "F33"/],
      [
        'int',
        handMade({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, body),
        /dtype I64, which backprop cannot load/,
      ],
      [
        'range',
        handMade({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, body),
        /outside the 8-byte data buffer/,
      ],
      [
        'size',
        handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, body),
        /shape \[3\] of F32 \(12 bytes\) but data_offsets span 8/,
      ],
      [
        'overlap',
        handMade(
          {
            a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          body,
        ),
        /overlaps/,
      ],
      ['hole', handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, body), /hole at bytes \[0, 4\)/],
      ['truncated', handMade(ok, body.subarray(0, 6)), /outside the 6-byte data buffer/],
      ['shape', handMade({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, body), /invalid shape/],
    ];
    for (const [name, bytes, message] of cases) {
      const path = join(dir, `bad-${name}.safetensors`);
      writeFileSync(path, bytes);
      expect(() => readSafetensors(path), name).toThrow(message);
      expect(() => readSafetensors(path), name).toThrow(path);
    }
  });

  it('leaves the old file intact and no temporary file when a save fails midway', () => {
    const sub = mkdtempSync(join(tmpdir(), 'backprop-atomic-'));
    const path = join(sub, 'model.safetensors');
    writeSafetensors(path, { w: f32([2], [1, 2]) });
    const before = readFileSync(path);
    let reads = 0;
    const failing = {
      dtype: 'float32' as const,
      shape: [1000],
      get data(): Float32Array {
        // the first read is the argument check; the second happens while the file is being written
        if (++reads > 1) throw new Error('injected failure while writing');
        return new Float32Array(1000);
      },
    };
    expect(() => writeSafetensors(path, { a: f64([1], [1]), z: failing })).toThrow('injected failure');
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(sub)).toEqual(['model.safetensors']);
  });

  it('survives the disk filling up during a save (file size limit in a child process)', () => {
    const dist = resolve('dist/io/safetensors.js');
    if (!existsSync(dist)) throw new Error('dist/ is missing: run `npm run build:ts` (npm test does it in pretest)');
    const sub = mkdtempSync(join(tmpdir(), 'backprop-efbig-'));
    const path = join(sub, 'model.safetensors');
    writeSafetensors(path, { w: f32([2], [1, 2]) });
    const before = readFileSync(path);
    const script = `import(${JSON.stringify(dist)}).then((m) => m.writeSafetensors(${JSON.stringify(path)}, { big: { dtype: 'float32', shape: [100000], data: new Float32Array(100000) } }))`;
    // ulimit -f 8: writes past 8 KiB fail with EFBIG, like a full disk
    const r = spawnSync('bash', ['-c', `ulimit -f 8; exec "${process.execPath}" -e "$0"`, script], {
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/EFBIG/);
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(sub)).toEqual(['model.safetensors']);
  });
});

// Interop with PyTorch: torch 1.13 in /usr/bin/python3 has no `safetensors` package, so the
// Python side reads and writes the format with struct + json + torch.frombuffer, from the spec.
const hasTorch = torchHere();

describe.skipIf(!hasTorch)('safetensors interop with PyTorch', () => {
  it('a file written by backprop reads in torch, and one written by torch reads in backprop', () => {
    const ours = join(dir, 'ours.safetensors');
    const theirs = join(dir, 'theirs.safetensors');
    writeSafetensors(
      ours,
      { '0.weight': f32([2, 3], [1, 2, 3, 4, 5, 6]), '0.bias': f32([2], [-1, 0.25]), d: f64([2], [1e-300, -2]) },
      { format: 'pt' },
    );
    const py = `
import json, struct, sys, torch
def read(path):
    b = open(path, 'rb').read()
    n, = struct.unpack('<Q', b[:8])
    assert (8 + n) % 8 == 0, 'header not padded to 8'
    h = json.loads(b[8:8 + n]); meta = h.pop('__metadata__', {})
    types = {'F32': torch.float32, 'F64': torch.float64}
    out = {}
    for k, v in h.items():
        s, e = v['data_offsets']
        assert (8 + n + s) % torch.tensor([], dtype=types[v['dtype']]).element_size() == 0, 'misaligned ' + k
        out[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=types[v['dtype']]).reshape(v['shape'])
    return out, meta
t, meta = read(sys.argv[1])
assert meta == {'format': 'pt'}, meta
assert torch.equal(t['0.weight'], torch.tensor([[1., 2, 3], [4, 5, 6]])), t['0.weight']
assert torch.equal(t['0.bias'], torch.tensor([-1., 0.25]))
assert torch.equal(t['d'], torch.tensor([1e-300, -2.], dtype=torch.float64))
lin = torch.nn.Linear(3, 2); lin.load_state_dict({'weight': t['0.weight'], 'bias': t['0.bias']})
w = {'lin.weight': torch.arange(6, dtype=torch.float32).reshape(3, 2) / 4, 'x64': torch.tensor([0.1], dtype=torch.float64)}
header, blobs, off = {'__metadata__': {'source': 'torch'}}, [], 0
for k in sorted(w, key=lambda k: (-w[k].element_size(), k)):
    raw = w[k].contiguous().numpy().tobytes()
    header[k] = {'dtype': {torch.float32: 'F32', torch.float64: 'F64'}[w[k].dtype], 'shape': list(w[k].shape), 'data_offsets': [off, off + len(raw)]}
    blobs.append(raw); off += len(raw)
hj = json.dumps(header).encode(); hj += b' ' * ((8 - (8 + len(hj)) % 8) % 8)
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(hj)) + hj + b''.join(blobs))
print('ok')
`;
    expect(execFileSync(python, ['-c', py, ours, theirs], { encoding: 'utf8' }).trim()).toBe('ok');
    const r = readSafetensors(theirs);
    expect(r.metadata).toEqual({ source: 'torch' });
    expect(r.tensors['lin.weight'].shape).toEqual([3, 2]);
    expect(Array.from(r.tensors['lin.weight'].data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    expect(r.tensors.x64.dtype).toBe('float64');
    expect(r.tensors.x64.data[0]).toBe(0.1);
  });
});
