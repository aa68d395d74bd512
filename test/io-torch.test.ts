// A state dict saved by backprop loads into the same PyTorch model with load_state_dict(strict=True)
// and gives the same outputs; weights written from PyTorch load into backprop.
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, Tensor } from '../lib/tensor.js';
import { manualSeed } from '../lib/random.js';
import * as nn from '../lib/nn/index.js';
import { save, load } from '../lib/io/index.js';
import { PYTHON as python, torchHere } from './support/torch.js';

const hasTorch = torchHere();

// Python reads and writes safetensors with struct + json (torch 1.13 has no safetensors package).
const pyIo = `
import json, struct, sys, torch
T = {'F32': torch.float32, 'F64': torch.float64}
def read(path):
    b = open(path, 'rb').read(); n, = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8 + n]); h.pop('__metadata__', None)
    return {k: torch.frombuffer(bytearray(b[8 + n + v['data_offsets'][0]:8 + n + v['data_offsets'][1]]), dtype=T[v['dtype']]).reshape(v['shape']) for k, v in h.items()}
def write(path, sd):
    h, blobs, off = {}, [], 0
    for k in sorted(sd):
        raw = sd[k].detach().contiguous().numpy().tobytes()
        h[k] = {'dtype': 'F32', 'shape': list(sd[k].shape), 'data_offsets': [off, off + len(raw)]}; blobs.append(raw); off += len(raw)
    j = json.dumps(h).encode(); j += b' ' * ((8 - (8 + len(j)) % 8) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(j)) + j + b''.join(blobs))
`;

describe.skipIf(!hasTorch)('state dicts between backprop and PyTorch', () => {
  it('round-trips a Sequential MLP both ways with equal outputs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'backprop-torch-'));
    manualSeed(5);
    const model = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
    const ours = join(dir, 'ours.safetensors');
    const theirs = join(dir, 'theirs.safetensors');
    save(ours, model.stateDict(), { format: 'pt' });
    const x = [
      [0.5, -1, 2, 0.25],
      [1, 1, -1, 0],
    ];
    const script = `${pyIo}
m = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
m.load_state_dict(read(sys.argv[1]), strict=True)
out = m(torch.tensor(${JSON.stringify(x)})).tolist()
torch.manual_seed(0); m2 = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
write(sys.argv[2], m2.state_dict())
print(json.dumps({'out': out, 'out2': m2(torch.tensor(${JSON.stringify(x)})).tolist()}))
`;
    const result = JSON.parse(execFileSync(python, ['-c', script, ours, theirs], { encoding: 'utf8' })) as {
      out: number[][];
      out2: number[][];
    };
    const forward = (m: nn.Module, input: Tensor): number[] =>
      Array.from((m as unknown as { forward(x: Tensor): Tensor }).forward(input).data);
    const ourOut = forward(model, tensor(x));
    result.out.flat().forEach((v, i) => expect(ourOut[i]).toBeCloseTo(v, 5));

    const fresh = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU(), new nn.Linear(3, 2));
    const { tensors } = load(theirs);
    expect(Object.keys(tensors).sort()).toEqual(['0.bias', '0.weight', '2.bias', '2.weight']);
    fresh.loadStateDict(tensors);
    const out2 = forward(fresh, tensor(x));
    result.out2.flat().forEach((v, i) => expect(out2[i]).toBeCloseTo(v, 5));
  });
});
