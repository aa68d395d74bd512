// The bfloat16, float16 and bool dtypes: conversions bit-exact against hand-derived ties and
// against PyTorch's own bits, creation, printing, reading, safetensors, Module.to, and the ops
// that do not run on them yet refusing them by name.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Tensor, full, ones, tensor, zeros, arange, eye, randn } from '../lib/tensor.js';
import * as nn from '../lib/nn/index.js';
import { load, save } from '../lib/io/index.js';
import { manualSeed } from '../lib/random.js';
import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from '../lib/backend/js-half.js';
import { PYTHON, torchHere } from './support/torch.js';

const hasTorch = torchHere();

/** The float32 with these bits. */
function f32(bits: number): number {
  return new Float32Array(Uint32Array.of(bits >>> 0).buffer)[0];
}

function bitsOf(t: Tensor): number[] {
  return Array.from(t.data);
}

describe('rounding, hand-derived', () => {
  it('bfloat16: ties to even, overflow to Inf, subnormals, NaN', () => {
    expect(toBfloat16Bits(1)).toBe(0x3f80);
    expect(toBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80); // halfway, 1.0 is even
    expect(toBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82); // halfway, 1 + 2^-6 is even
    expect(toBfloat16Bits(1 + 2 ** -8 + 2 ** -20)).toBe(0x3f81); // above halfway
    expect(toBfloat16Bits(-2)).toBe(0xc000);
    expect(toBfloat16Bits(-0)).toBe(0x8000);
    expect(toBfloat16Bits(f32(0x7f7fffff))).toBe(0x7f80); // float32 max rounds up to Inf
    expect(toBfloat16Bits(f32(0x7f7f7fff))).toBe(0x7f7f); // just below the tie: bfloat16 max
    expect(toBfloat16Bits(-Infinity)).toBe(0xff80);
    expect(toBfloat16Bits(2 ** -130)).toBe(0x0008); // a float32 subnormal kept
    expect(toBfloat16Bits(2 ** -149)).toBe(0x0000); // below half of the smallest bfloat16
    expect(Number.isNaN(fromBfloat16Bits(toBfloat16Bits(NaN)))).toBe(true);
    // From float64 through float32, as PyTorch: 2^-30 vanishes in float32, then the tie goes to even.
    expect(toBfloat16Bits(1 + 2 ** -8 + 2 ** -30)).toBe(0x3f80);
    expect(fromBfloat16Bits(0x3fc0)).toBe(1.5);
  });

  it('float16: ties to even, 65520 to Inf, subnormals, NaN', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65519)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // the tie between 65504 (odd) and 2^16 (even: Inf)
    expect(toFloat16Bits(-1e6)).toBe(0xfc00);
    expect(toFloat16Bits(2 ** -14)).toBe(0x0400); // smallest normal
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -25)).toBe(0x0000); // tie with 0: 0 is even
    expect(toFloat16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 (even)
    expect(toFloat16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the normals
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(NaN)).toBe(0x7e00);
    for (const h of [0x0001, 0x03ff, 0x0400, 0x3c00, 0x7bff, 0xfbff, 0x8001]) {
      expect(toFloat16Bits(fromFloat16Bits(h))).toBe(h);
    }
    expect(fromFloat16Bits(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(fromFloat16Bits(0x7c01))).toBe(true);
  });
});

describe('bool and 16-bit tensors', () => {
  it('tensor([[true, false]]) is a bool tensor; toArray gives booleans; item gives 1/0', () => {
    const m = tensor([[true, false]]);
    expect(m.dtype).toBe('bool');
    expect(m.data).toBeInstanceOf(Uint8Array);
    expect(m.toArray()).toEqual([[true, false]]);
    expect(tensor(true).item()).toBe(1);
    expect(inspect(m)).toBe('tensor([[ True, False]], shape=[1, 2], dtype=bool)');
    expect(tensor([0, 2, -0.5, NaN], { dtype: 'bool' }).toArray()).toEqual([false, true, true, true]);
    expect(full([2], true).dtype).toBe('bool');
    expect(zeros([3], { dtype: 'bool' }).toArray()).toEqual([false, false, false]);
    expect(() => zeros([1], { dtype: 'bool', requiresGrad: true })).toThrow(/only floating-point/);
  });

  it('conversions between every pair of dtypes', () => {
    const x = tensor([0, 1.5, -2, 1 + 2 ** -8, 70000]);
    const b = x.to('bfloat16');
    expect(b.dtype).toBe('bfloat16');
    expect(bitsOf(b)).toEqual([0x0000, 0x3fc0, 0xc000, 0x3f80, 0x4789]);
    expect(b.toArray()).toEqual([0, 1.5, -2, 1, 70144]);
    const h = x.to('float16');
    expect(bitsOf(h)).toEqual([0x0000, 0x3e00, 0xc000, 0x3c04, 0x7c00]); // 1 + 2^-8 is exact in float16
    expect(h.to('float32').toArray()).toEqual([0, 1.5, -2, 1 + 2 ** -8, Infinity]);
    expect(b.to('float16').toArray()).toEqual([0, 1.5, -2, 1, Infinity]);
    expect(x.to('bool').toArray()).toEqual([false, true, true, true, true]);
    expect(tensor([true, false]).to('bfloat16').toArray()).toEqual([1, 0]);
    expect(b.to('bool').toArray()).toEqual([false, true, true, true, true]);
    expect(b.to('float64').dtype).toBe('float64');
    expect(tensor([0.1], { dtype: 'bfloat16' }).item()).toBe(fromBfloat16Bits(toBfloat16Bits(0.1)));
    expect(inspect(tensor([1.5, 2], { dtype: 'bfloat16' }))).toBe(
      'tensor([1.5000, 2.0000], shape=[2], dtype=bfloat16)',
    );
  });

  it('creation functions make every dtype', () => {
    expect(bitsOf(ones([2], { dtype: 'bfloat16' }))).toEqual([0x3f80, 0x3f80]);
    expect(bitsOf(full([1], 65520, { dtype: 'float16' }))).toEqual([0x7c00]);
    expect(arange(0, 3, { dtype: 'float16' }).toArray()).toEqual([0, 1, 2]);
    expect(eye(2, { dtype: 'bfloat16' }).toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
    manualSeed(1);
    const r = randn([64], { dtype: 'bfloat16' });
    manualSeed(1);
    const r32 = randn([64]);
    expect(bitsOf(r)).toEqual(Array.from(r32.data, toBfloat16Bits));
    expect(() => randn([2], { dtype: 'bool' })).toThrow(/floating-point/);
    expect(() => new Tensor(new Uint16Array(1), [1])).toThrow(/needs its dtype/);
  });

  it('the gradient of .to() flows back into float32', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.to('bfloat16').to('float32').mul(3).sum();
    y.backward();
    expect(x.grad!.toArray()).toEqual([3, 3]);
    expect(x.to('bool').requiresGrad).toBe(false);
  });

  it('ops that do not run on 16-bit or bool tensors say so by name', () => {
    const b = tensor([1, 2]).to('bfloat16');
    expect(() => b.add(1)).toThrow(/add: .*'bfloat16'.*\.to\('float32'\)/);
    expect(() => b.relu()).toThrow(/relu: .*'bfloat16'/);
    expect(() => b.matmul(b)).toThrow(/matmul: .*'bfloat16'/);
    expect(() => tensor([true]).exp()).toThrow(/exp: .*'bool'/);
    expect(() => tensor([1, 2]).to('float16').sum()).toThrow(/sum: .*'float16'/);
  });

  it('clone keeps the dtype; Module.to casts parameters to bfloat16 and back', () => {
    const b = tensor([1.5]).to('bfloat16');
    expect(b.clone().dtype).toBe('bfloat16');
    manualSeed(3);
    const lin = new nn.Linear(3, 2);
    const w32 = Array.from(lin.weight.data);
    lin.to('bfloat16');
    expect(lin.weight.dtype).toBe('bfloat16');
    expect(lin.weight.requiresGrad).toBe(true);
    expect(bitsOf(lin.weight)).toEqual(w32.map(toBfloat16Bits));
    lin.to('float32');
    expect(Array.from(lin.weight.data)).toEqual(w32.map((v) => fromBfloat16Bits(toBfloat16Bits(v))));
  });

  it('safetensors round-trips BF16, F16 and BOOL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-dtype-'));
    const path = join(dir, 'a.safetensors');
    const b = tensor([1.5, -3, 1e-40]).to('bfloat16');
    const h = tensor([[0.5, 65504]]).to('float16');
    const m = tensor([true, false, true]);
    save(path, { b, h, m });
    const r = load(path).tensors;
    expect(r.b.dtype).toBe('bfloat16');
    expect(bitsOf(r.b)).toEqual(bitsOf(b));
    expect(r.h.dtype).toBe('float16');
    expect(r.h.shape).toEqual([1, 2]);
    expect(bitsOf(r.h)).toEqual(bitsOf(h));
    expect(r.m.toArray()).toEqual([true, false, true]);
    const header = JSON.parse(readFileSync(path).subarray(8).toString().split('}}')[0] + '}}') as Record<
      string,
      { dtype: string }
    >;
    expect([header.b.dtype, header.h.dtype, header.m.dtype]).toEqual(['BF16', 'F16', 'BOOL']);
  });
});

describe.skipIf(!hasTorch)('conversions bit-exact against PyTorch', () => {
  // Random float32 bit patterns (every exponent: subnormals, huge values, Inf and NaN), plus ties.
  const bits: number[] = [];
  let s = 12345;
  const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 20000; i++) bits.push((next() ^ (next() << 16)) >>> 0);
  for (let e = 0; e < 255; e++) for (const m of [0x8000, 0x18000, 0x1000, 0x3000, 0x7fff]) bits.push((e << 23) | m);
  const doubles = [1 + 2 ** -8 + 2 ** -30, 0.1, 1 / 3, 65519.99, 1e-8, 3.4e38, 1e300, -1e-300, 2 ** -24 * 1.5];

  const script = `
import json, sys, torch
d = json.load(sys.stdin)
x = torch.tensor(d['bits'], dtype=torch.int64).to(torch.int32).view(torch.float32)
y = torch.tensor(d['doubles'], dtype=torch.float64)
u = lambda t: [v & 0xffff for v in t.view(torch.int16).tolist()]
allbits = torch.arange(65536, dtype=torch.int32).to(torch.int16)
f = lambda t: [v for v in t.view(torch.float32).view(torch.int32).tolist()]
print(json.dumps({
  'bf16': u(x.to(torch.bfloat16)), 'f16': u(x.to(torch.float16)),
  'bf16d': u(y.to(torch.bfloat16)), 'f16d': u(y.to(torch.float16)),
  'bf16back': f(allbits.view(torch.bfloat16).to(torch.float32)),
  'f16back': f(allbits.view(torch.float16).to(torch.float32)),
}))`;
  const theirs = JSON.parse(
    execFileSync(PYTHON, ['-c', script], {
      input: JSON.stringify({ bits: bits.map((b) => ((b | 0) >= 0 ? b : b - 2 ** 32)), doubles }),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    }),
  ) as Record<string, number[]>;
  const x = new Tensor(new Float32Array(Uint32Array.from(bits).buffer), [bits.length]);

  it('float32 -> bfloat16 and float16', () => {
    expect(bitsOf(x.to('bfloat16'))).toEqual(theirs.bf16);
    expect(bitsOf(x.to('float16'))).toEqual(theirs.f16);
  });

  it('float64 -> bfloat16 and float16 (through float32)', () => {
    expect(bitsOf(tensor(doubles, { dtype: 'float64' }).to('bfloat16'))).toEqual(theirs.bf16d);
    expect(bitsOf(tensor(doubles, { dtype: 'float64' }).to('float16'))).toEqual(theirs.f16d);
  });

  it('every bfloat16 and float16 bit pattern -> float32', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = (dtype: 'bfloat16' | 'float16'): number[] =>
      Array.from(new Int32Array(new Tensor(all, [65536], false, dtype).to('float32').data.buffer));
    // NaN payloads may differ; every NaN must stay NaN.
    const norm = (v: number[]): number[] => v.map((b) => (Number.isNaN(f32(b)) ? 0x7fc00000 : b));
    expect(norm(back('bfloat16'))).toEqual(norm(theirs.bf16back));
    expect(norm(back('float16'))).toEqual(norm(theirs.f16back));
  });

  it('BF16, F16 and BOOL safetensors from PyTorch load with the same bits, and back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-dtype-torch-'));
    const path = join(dir, 'torch.safetensors');
    const io = `
import json, struct, sys, torch
T = {'BF16': torch.bfloat16, 'F16': torch.float16, 'BOOL': torch.bool}
def write(path, sd):
    h, blobs, off = {}, [], 0
    for k in sorted(sd):
        raw = bytes(sd[k].contiguous().view(torch.uint8).numpy().tobytes())
        tag = {torch.bfloat16: 'BF16', torch.float16: 'F16', torch.bool: 'BOOL'}[sd[k].dtype]
        h[k] = {'dtype': tag, 'shape': list(sd[k].shape), 'data_offsets': [off, off + len(raw)]}; blobs.append(raw); off += len(raw)
    j = json.dumps(h).encode(); j += b' ' * ((8 - (8 + len(j)) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))
def read(path):
    b = open(path, 'rb').read(); n, = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8 + n]); h.pop('__metadata__', None)
    return {k: torch.frombuffer(bytearray(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=T[v['dtype']]).reshape(v['shape']) for k, v in h.items()}
if sys.argv[1] == 'write':
    torch.manual_seed(0)
    write(sys.argv[2], {'b': torch.randn(3, 4).to(torch.bfloat16), 'h': torch.randn(5).to(torch.float16), 'm': torch.randn(2, 3) > 0})
else:
    sd = read(sys.argv[2])
    print(json.dumps({k: (v.tolist() if v.dtype == torch.bool else [x & 0xffff for x in v.view(torch.int16).flatten().tolist()]) for k, v in sd.items()}))
`;
    execFileSync(PYTHON, ['-c', io, 'write', path]);
    const ours = load(path).tensors;
    expect([ours.b.dtype, ours.h.dtype, ours.m.dtype]).toEqual(['bfloat16', 'float16', 'bool']);
    const back = join(dir, 'ours.safetensors');
    save(back, ours);
    const seen = JSON.parse(execFileSync(PYTHON, ['-c', io, 'read', back], { encoding: 'utf8' })) as Record<
      string,
      unknown
    >;
    expect(seen.b).toEqual(bitsOf(ours.b));
    expect(seen.h).toEqual(bitsOf(ours.h));
    expect(seen.m).toEqual(ours.m.toArray());
    writeFileSync(join(dir, 'done'), '');
  });
});
