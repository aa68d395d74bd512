// MultiheadAttention, TransformerEncoderLayer and TransformerEncoder against PyTorch 1.13 itself
// (skipped where python3 or its torch is missing: test/support/torch.ts): outputs, attention
// weights, the gradients of the inputs and of every parameter, and the state_dict keys in
// torch's order, over masks (bool with torch's polarity, float), batchFirst, kdim/vdim, relu/gelu,
// post- and pre-norm; and an encoder saved by PyTorch (safetensors) loads and gives its outputs.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor, backend, randn } from '../lib/index.js';
import * as nn from '../lib/nn/index.js';
import { manualSeed } from '../lib/random.js';
import { load } from '../lib/io/index.js';
import type { BoolArray } from '../lib/ops/attention.js';
import { PYTHON as PY, torchHere } from './support/torch.js';
import { backendsHere } from './support/native.js';

const hasTorch = torchHere();
const backends = backendsHere();

const TORCH_SCRIPT = `
import json, sys, torch
torch.set_default_dtype(torch.float64)
req = json.load(sys.stdin)
def T(v): return torch.tensor(v['data']).reshape(v['shape'])
def M(v):
    if v is None: return None
    t = torch.tensor(v['data']).reshape(v['shape'])
    return t.bool() if v['bool'] else t
def layer(c):
    return torch.nn.TransformerEncoderLayer(c['d'], c['H'], dim_feedforward=c['ff'], dropout=0.0,
        activation=c['act'], batch_first=c['batchFirst'], norm_first=c['normFirst'])
res = {}
for c in req:
    if c['kind'] == 'mha':
        m = torch.nn.MultiheadAttention(c['d'], c['H'], bias=c['bias'], batch_first=c['batchFirst'],
            kdim=c['kdim'], vdim=c['vdim'])
    elif c['kind'] == 'layer':
        m = layer(c)
    else:
        m = torch.nn.TransformerEncoder(layer(c), c['layers'], norm=torch.nn.LayerNorm(c['d']) if c['norm'] else None)
    keys = list(m.state_dict().keys())
    m.load_state_dict({k: T(v) for k, v in c['sd'].items()}, strict=True)
    ins = [T(x).requires_grad_() for x in c['inputs']]
    w = None
    if c['kind'] == 'mha':
        out, w = m(ins[0], ins[1], ins[2], key_padding_mask=M(c['kpm']), need_weights=c['needWeights'],
            attn_mask=M(c['mask']), average_attn_weights=c['average'])
    elif c['kind'] == 'layer':
        out = m(ins[0], src_mask=M(c['mask']), src_key_padding_mask=M(c['kpm']))
    else:
        out = m(ins[0], mask=M(c['mask']), src_key_padding_mask=M(c['kpm']))
    loss = (out * T(c['g'])).sum()
    if w is not None: loss = loss + (w * w).sum()
    loss.backward()
    res[c['name']] = {'keys': keys, 'out': out.detach().flatten().tolist(),
        'w': None if w is None else w.detach().flatten().tolist(),
        'gin': [x.grad.flatten().tolist() for x in ins],
        'gp': {n: p.grad.flatten().tolist() for n, p in m.named_parameters() if p.grad is not None}}
print(json.dumps(res))
`;

type Mask = { data: number[]; shape: number[]; bool: boolean } | null;

interface Case {
  name: string;
  kind: 'mha' | 'layer' | 'encoder';
  make: () => nn.Module;
  inputs: number[][];
  mask?: () => Mask;
  kpm?: () => Mask;
  needWeights?: boolean;
  average?: boolean;
  torchArgs: Record<string, unknown>;
}

/**
 * A mask as our API takes it: nested booleans, or a float64 tensor. torch's bool masks hide where
 * true; our attnMask (one polarity for the library, as F.scaledDotProductAttention's) attends where
 * true, so an attention mask is inverted; a key padding mask means padding where true in both.
 */
function ourMask(m: Mask | undefined, kind: 'attn' | 'padding'): Tensor | BoolArray | null {
  if (m === null || m === undefined) return null;
  const t = new Tensor(Float64Array.from(m.data), m.shape);
  const hide = kind === 'padding';
  return m.bool ? (t.toArray() as number[][]).map((row) => row.map((v) => (v !== 0) === hide)) : t;
}

const boolMask = (shape: [number, number], hide: (i: number, j: number) => boolean): Mask => ({
  data: Array.from({ length: shape[0] * shape[1] }, (_, idx) =>
    hide(Math.floor(idx / shape[1]), idx % shape[1]) ? 1 : 0,
  ),
  shape,
  bool: true,
});

const f64 = { dtype: 'float64' } as const;

const cases: Case[] = [
  {
    name: 'MHA seq-first, bool attn and key padding masks, averaged weights',
    kind: 'mha',
    make: () => new nn.MultiheadAttention(8, 2, f64),
    inputs: [
      [5, 3, 8],
      [6, 3, 8],
      [6, 3, 8],
    ],
    mask: () => boolMask([5, 6], (i, j) => j > i + 1),
    kpm: () => boolMask([3, 6], (b, j) => j === 5 - b),
    torchArgs: { d: 8, H: 2, bias: true, batchFirst: false, kdim: null, vdim: null },
  },
  {
    name: 'MHA batchFirst, kdim/vdim, no bias, per-head weights, float mask',
    kind: 'mha',
    make: () => new nn.MultiheadAttention(6, 3, { ...f64, batchFirst: true, kdim: 5, vdim: 7, bias: false }),
    inputs: [
      [2, 4, 6],
      [2, 3, 5],
      [2, 3, 7],
    ],
    mask: () => ({ data: Array.from({ length: 12 }, (_, i) => Math.sin(i)), shape: [4, 3], bool: false }),
    average: false,
    torchArgs: { d: 6, H: 3, bias: false, batchFirst: true, kdim: 5, vdim: 7 },
  },
  {
    name: 'MHA without weights (the fused kernel), key padding',
    kind: 'mha',
    make: () => new nn.MultiheadAttention(8, 4, f64),
    inputs: [
      [7, 2, 8],
      [7, 2, 8],
      [7, 2, 8],
    ],
    kpm: () => boolMask([2, 7], (b, j) => j >= 5 + b),
    needWeights: false,
    torchArgs: { d: 8, H: 4, bias: true, batchFirst: false, kdim: null, vdim: null },
  },
  {
    name: 'encoder layer, relu, post-norm, batchFirst, key padding',
    kind: 'layer',
    make: () => new nn.TransformerEncoderLayer(8, 2, { ...f64, dimFeedforward: 16, dropout: 0, batchFirst: true }),
    inputs: [[3, 5, 8]],
    kpm: () => boolMask([3, 5], (b, j) => j >= 5 - b),
    torchArgs: { d: 8, H: 2, ff: 16, act: 'relu', batchFirst: true, normFirst: false },
  },
  {
    name: 'encoder layer, gelu, pre-norm, causal bool mask',
    kind: 'layer',
    make: () =>
      new nn.TransformerEncoderLayer(8, 4, {
        ...f64,
        dimFeedforward: 12,
        dropout: 0,
        activation: 'gelu',
        normFirst: true,
      }),
    inputs: [[6, 2, 8]],
    mask: () => boolMask([6, 6], (i, j) => j > i),
    torchArgs: { d: 8, H: 4, ff: 12, act: 'gelu', batchFirst: false, normFirst: true },
  },
  {
    name: 'encoder, 2 layers and a final norm, causal mask and key padding',
    kind: 'encoder',
    make: () =>
      new nn.TransformerEncoder(new nn.TransformerEncoderLayer(8, 2, { ...f64, dimFeedforward: 16, dropout: 0 }), 2, {
        norm: new nn.LayerNorm(8, f64),
      }),
    inputs: [[5, 2, 8]],
    mask: () => boolMask([5, 5], (i, j) => j > i),
    kpm: () => boolMask([2, 5], (b, j) => b === 1 && j === 4),
    torchArgs: { d: 8, H: 2, ff: 16, act: 'relu', batchFirst: false, normFirst: false, layers: 2, norm: true },
  },
];

function close(a: ArrayLike<number>, b: number[], what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < b.length; i++)
    expect(Math.abs(a[i] - b[i]), `${what} [${i}]: ${a[i]} vs ${b[i]}`).toBeLessThan(1e-10);
}

type TorchResults = Record<
  string,
  { keys: string[]; out: number[]; w: number[] | null; gin: number[][]; gp: Record<string, number[]> }
>;
let torchRun: { input: string; res: TorchResults } | null = null;

describe.skipIf(!hasTorch)(`MultiheadAttention and TransformerEncoder against PyTorch (${PY})`, () => {
  for (const b of backends) {
    it(`outputs, weights, gradients and state_dict keys on ${b}`, () => {
      backend.use(b);
      manualSeed(17);
      const built = cases.map((c) => {
        const module = c.make();
        const inputs = c.inputs.map((s) => randn(s, { ...f64, requiresGrad: true }));
        const mask = c.mask?.() ?? null;
        const kpm = c.kpm?.() ?? null;
        return { c, module, inputs, mask, kpm };
      });
      // Outputs first (their shapes give g), then one PyTorch run for every case.
      const runs = built.map(({ c, module, inputs, mask, kpm }) => {
        let out: Tensor;
        let w: Tensor | null = null;
        if (c.kind === 'mha') {
          [out, w] = (module as nn.MultiheadAttention).forward(inputs[0], inputs[1], inputs[2], {
            attnMask: ourMask(mask, 'attn'),
            keyPaddingMask: ourMask(kpm, 'padding'),
            needWeights: c.needWeights ?? true,
            averageAttnWeights: c.average ?? true,
          });
        } else if (c.kind === 'layer') {
          out = (module as nn.TransformerEncoderLayer).forward(inputs[0], {
            srcMask: ourMask(mask, 'attn'),
            srcKeyPaddingMask: ourMask(kpm, 'padding'),
          });
        } else {
          out = (module as nn.TransformerEncoder).forward(inputs[0], {
            mask: ourMask(mask, 'attn'),
            srcKeyPaddingMask: ourMask(kpm, 'padding'),
          });
        }
        const g = randn(out.shape, f64);
        let loss = out.mul(g).sum();
        if (w !== null) loss = loss.add(w.mul(w).sum());
        loss.backward();
        return { out, w, g };
      });
      const req = built.map(({ c, module, inputs, mask, kpm }, i) => ({
        ...c.torchArgs,
        name: c.name,
        kind: c.kind,
        sd: Object.fromEntries(
          Object.entries(module.stateDict()).map(([k, v]) => [k, { data: [...v.data], shape: v.shape }]),
        ),
        inputs: inputs.map((x) => ({ data: [...x.data], shape: x.shape })),
        mask,
        kpm,
        needWeights: c.needWeights ?? true,
        average: c.average ?? true,
        g: { data: [...runs[i].g.data], shape: runs[i].g.shape },
      }));
      // The same seed builds the same modules and inputs on every backend: PyTorch runs once.
      const input = JSON.stringify(req);
      if (torchRun === null || torchRun.input !== input) {
        const r = spawnSync(PY, ['-c', TORCH_SCRIPT], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
        expect(r.status, r.stderr).toBe(0);
        torchRun = { input, res: JSON.parse(r.stdout) as TorchResults };
      }
      const res = torchRun.res;
      built.forEach(({ c, module, inputs }, i) => {
        const t = res[c.name];
        expect(Object.keys(module.stateDict()), `${c.name}: state_dict keys`).toEqual(t.keys);
        close(runs[i].out.data, t.out, `${c.name}: output`);
        if (t.w !== null) close(runs[i].w!.data, t.w, `${c.name}: weights`);
        else expect(runs[i].w).toBeNull();
        inputs.forEach((x, j) => close(x.grad!.data, t.gin[j], `${c.name}: gradient of input ${j}`));
        const ours = Object.fromEntries(module.namedParameters());
        expect(Object.keys(ours).sort(), `${c.name}: parameters`).toEqual(Object.keys(t.gp).sort());
        for (const [name, gp] of Object.entries(t.gp))
          close(ours[name].grad!.data, gp, `${c.name}: gradient of ${name}`);
      });
    });
  }

  it('an encoder initialised and saved by PyTorch (safetensors) loads and gives its outputs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-transformer-'));
    const path = join(dir, 'encoder.safetensors');
    const x = Array.from({ length: 4 * 2 * 16 }, (_, i) => Math.cos(i * 0.37));
    const script = `
import json, struct, sys, torch
torch.manual_seed(3)
layer = torch.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, activation='gelu')
enc = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(16)).eval()
sd = enc.state_dict()
h, blobs, off = {}, [], 0
for k in sorted(sd):
    raw = sd[k].detach().contiguous().numpy().tobytes()
    h[k] = {'dtype': 'F32', 'shape': list(sd[k].shape), 'data_offsets': [off, off + len(raw)]}; blobs.append(raw); off += len(raw)
j = json.dumps(h).encode(); j += b' ' * ((8 - (8 + len(j)) % 8) % 8)
open(sys.argv[1], 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))
x = torch.tensor(${JSON.stringify(x)}).reshape(4, 2, 16)
causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
with torch.no_grad():
    print(json.dumps({'out': enc(x).flatten().tolist(), 'causal': enc(x, mask=causal).flatten().tolist()}))
`;
    const r = spawnSync(PY, ['-c', script, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const want = JSON.parse(r.stdout) as { out: number[]; causal: number[] };
    for (const b of backends) {
      backend.use(b);
      const enc = new nn.TransformerEncoder(
        new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, activation: 'gelu' }),
        2,
        {
          norm: new nn.LayerNorm(16),
        },
      );
      enc.loadStateDict(load(path).tensors);
      enc.eval();
      const input = new Tensor(Float32Array.from(x), [4, 2, 16]);
      const causal = Array.from({ length: 4 }, (_, i) => Array.from({ length: 4 }, (_, j) => j <= i)); // may attend: torch's triu mask inverted
      const out = enc.forward(input);
      const outCausal = enc.forward(input, { mask: causal });
      for (const [got, ref] of [
        [out, want.out],
        [outCausal, want.causal],
      ] as const) {
        expect(got.data.length).toBe(ref.length);
        for (let i = 0; i < ref.length; i++) expect(Math.abs(got.data[i] - ref[i]), `${b} [${i}]`).toBeLessThan(2e-5);
      }
    }
  });
});
