// io.exportOnnx: exported models run in onnxruntime-node and give backprop's own outputs (an
// independent engine computing the same forward), at a batch size other than the example's
// through the dynamic batch axis; onnx.checker accepts the files where python3-onnx is installed.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import * as ort from 'onnxruntime-node';
import { F, Tensor, io, manualSeed, nn, noGrad, randn, tensor } from '../lib/index.js';
import { checkOnnxModels, onnxCheckerHere } from './support/onnx.js';

const dir = mkdtempSync(join(tmpdir(), 'backprop-onnx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const batchAxes = { input: { 0: 'batch' }, output: { 0: 'batch' } };

/** Runs the ONNX file on x in onnxruntime and returns the output. */
async function runOrt(path: string, x: Tensor): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(path);
  const feeds = { input: new ort.Tensor('float32', Float32Array.from(x.data), [...x.shape]) };
  const out = (await session.run(feeds)).output;
  return { data: out.data as Float32Array, dims: out.dims };
}

/** |ort - ours| <= 1e-5 of the largest |ours| (float32 round-off of a different summation order). */
function expectClose(got: { data: Float32Array; dims: readonly number[] }, ref: Tensor): void {
  expect([...got.dims]).toEqual([...ref.shape]);
  const scale = Math.max(...Array.from(ref.data, Math.abs));
  let worst = 0;
  for (let i = 0; i < ref.size; i++) worst = Math.max(worst, Math.abs(got.data[i] - ref.data[i]));
  expect(worst).toBeLessThanOrEqual(1e-5 * scale);
}

/** A user-defined forward mixing activations and elementwise ops, around a Sequential. */
class Mlp extends nn.Module {
  body = new nn.Sequential(new nn.Linear(8, 32), new nn.ReLU(), new nn.Linear(32, 32), new nn.Tanh());
  head = new nn.Linear(32, 6);
  gate = new nn.Linear(8, 32);
  norm = new nn.LayerNorm(32);
  forward(x: Tensor): Tensor {
    const h = this.body.call(x);
    const g = F.sigmoid(this.gate.call(x));
    const mixed = h.mul(g).add(F.gelu(h)).sub(F.leakyRelu(h, 0.2).mul(0.5));
    const logits = this.head.call(this.norm.call(mixed));
    return F.logSoftmax(logits).add(F.softmax(logits, 1));
  }
}

function leNet5(): nn.Sequential {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(6, 16, 5),
    new nn.BatchNorm2d(16),
    new nn.Tanh(),
    new nn.AvgPool2d(2),
    new nn.Flatten(),
    new nn.Linear(400, 120),
    new nn.ReLU(),
    new nn.Dropout(0.5),
    new nn.Linear(120, 84),
    new nn.ReLU(),
    new nn.Linear(84, 10),
  );
}

describe('io.exportOnnx', () => {
  test('an MLP with a custom forward runs in onnxruntime with another batch size', async () => {
    manualSeed(1);
    const model = new Mlp().eval();
    // LayerNorm's affine parameters away from 1 / 0.
    model.norm.weight!.data.set(randn([32]).data);
    model.norm.bias!.data.set(randn([32]).data);
    const path = join(dir, 'mlp.onnx');
    io.exportOnnx(model, randn([3, 8]), path, { dynamicAxes: batchAxes });
    const x = randn([7, 8]);
    const ref = noGrad(() => model.call(x));
    expectClose(await runOrt(path, x), ref);
  });

  test('LeNet-5 with batch norm (eval) and dropout (eval) runs in onnxruntime', async () => {
    manualSeed(2);
    const model = leNet5();
    // Move the running statistics off their initial 0 / 1 so that the export must carry them.
    for (let i = 0; i < 3; i++) model.call(randn([4, 1, 28, 28]).mul(2).add(0.5));
    model.eval();
    const path = join(dir, 'lenet.onnx');
    io.exportOnnx(model, randn([2, 1, 28, 28]), path, { opset: 13, dynamicAxes: batchAxes });
    const x = randn([5, 1, 28, 28]);
    const ref = noGrad(() => model.call(x));
    expectClose(await runOrt(path, x), ref);
  });

  test.skipIf(!onnxCheckerHere())('onnx.checker accepts the files; initializers carry state_dict names', () => {
    manualSeed(3);
    const model = leNet5().eval();
    const path = join(dir, 'lenet-check.onnx');
    io.exportOnnx(model, randn([2, 1, 28, 28]), path, { opset: 15, dynamicAxes: { input: [0], output: { 0: 'n' } } });
    const mlpPath = join(dir, 'mlp-check.onnx');
    io.exportOnnx(new Mlp().eval(), randn([2, 8]), mlpPath);
    const [info, mlpInfo] = checkOnnxModels([path, mlpPath]);
    expect(info.opset).toBe(15);
    expect(info.inputs).toEqual([['input_dim0', 1, 28, 28]]);
    expect(info.outputs).toEqual([['n', 10]]);
    for (const name of Object.keys(model.stateDict())) {
      if (name.endsWith('num_batches_tracked')) continue;
      expect(info.initializers).toContain(name);
    }
    expect(mlpInfo.inputs).toEqual([[2, 8]]);
    expect(mlpInfo.initializers).toContain('body.0.weight');
  });

  test('a clear error names the op with no ONNX mapping, or the batch norm run in training mode', () => {
    class UsesMax extends nn.Module {
      lin = new nn.Linear(4, 4);
      forward(x: Tensor): Tensor {
        return this.lin.call(x).max(1);
      }
    }
    class TrainingBn extends nn.Module {
      w = new nn.Linear(4, 3);
      forward(x: Tensor): Tensor {
        return F.batchNorm(this.w.call(x), null, null, null, null, true);
      }
    }
    const file = join(dir, 'never.onnx');
    expect(() => io.exportOnnx(new UsesMax(), randn([2, 4]), file)).toThrow("exportOnnx: op 'max' has no ONNX mapping");
    expect(() => io.exportOnnx(new TrainingBn(), randn([2, 4]), file)).toThrow(/'batchNorm' ran in training mode/);
    expect(() => io.exportOnnx(new UsesMax(), randn([2, 4]), file, { opset: 12 })).toThrow(/opset must be/);
    expect(() => io.exportOnnx(new UsesMax(), tensor([[1, 2, 3, 4]], { dtype: 'float16' }), file)).toThrow(
      /example input 0 must be a float32 or float64 tensor/,
    );
    expect(existsSync(file)).toBe(false);
  });

  test('a model in training mode is traced in eval mode and left in training mode', async () => {
    manualSeed(4);
    const model = new nn.Sequential(new nn.Linear(6, 5), new nn.Dropout(0.5), new nn.BatchNorm1d(5));
    model.call(randn([8, 6]).mul(3)); // running statistics away from 0 / 1
    const path = join(dir, 'dropout.onnx');
    io.exportOnnx(model, randn([4, 6]), path, { dynamicAxes: batchAxes });
    expect(model.modules().every((m) => m.training)).toBe(true);
    const x = randn([3, 6]);
    const ref = noGrad(() => model.eval().call(x));
    expectClose(await runOrt(path, x), ref);
  });
});

describe('io.exportOnnx recurrent layers (gates reordered to ONNX)', () => {
  class Tagger extends nn.Module {
    readonly rnn: nn.Module;
    head = new nn.Linear(12, 4);
    constructor(readonly kind: 'lstm' | 'gru' | 'rnn') {
      super();
      const opts = { batchFirst: true, bidirectional: true, numLayers: 2 };
      this.rnn =
        kind === 'lstm' ? new nn.LSTM(5, 6, opts) : kind === 'gru' ? new nn.GRU(5, 6, opts) : new nn.RNN(5, 6, opts);
    }
    forward(x: Tensor): Tensor {
      const out = (this.rnn.forward as (x: Tensor) => [Tensor, unknown])(x)[0];
      return this.head.call(out);
    }
  }
  test('an nn.LSTM itself: [output, [h, c]] become three graph outputs', async () => {
    manualSeed(6);
    const lstm = new nn.LSTM(3, 4);
    const path = join(dir, 'bare-lstm.onnx');
    io.exportOnnx(lstm, randn([5, 2, 3]), path, { outputNames: ['y', 'h', 'c'] });
    const x = randn([5, 2, 3]);
    const [y, [h, c]] = noGrad(() => lstm.forward(x));
    const session = await ort.InferenceSession.create(path);
    const res = await session.run({ input: new ort.Tensor('float32', Float32Array.from(x.data), [5, 2, 3]) });
    expectClose({ data: res.y.data as Float32Array, dims: res.y.dims }, y);
    expectClose({ data: res.h.data as Float32Array, dims: res.h.dims }, h);
    expectClose({ data: res.c.data as Float32Array, dims: res.c.dims }, c);
  });

  test.each(['lstm', 'gru', 'rnn'] as const)('%s (2 layers, bidirectional, batch first)', async (kind) => {
    manualSeed(5);
    const model = new Tagger(kind).eval();
    const path = join(dir, `${kind}.onnx`);
    io.exportOnnx(model, randn([2, 7, 5]), path, { dynamicAxes: batchAxes });
    const x = randn([3, 7, 5]);
    const ref = noGrad(() => model.call(x));
    expectClose(await runOrt(path, x), ref);
  });
});

describe('io.exportOnnx attention', () => {
  test('a Transformer encoder (causal mask, batch first) runs in onnxruntime with another batch size', async () => {
    manualSeed(7);
    const layer = new nn.TransformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
    const encoder = new nn.TransformerEncoder(layer, 2);
    class Causal extends nn.Module {
      enc = encoder;
      forward(x: Tensor): Tensor {
        return this.enc.forward(x, { isCausal: true, mask: causalMask(5) });
      }
    }
    const model = new Causal().eval();
    const path = join(dir, 'transformer.onnx');
    io.exportOnnx(model, randn([2, 5, 8]), path, { dynamicAxes: batchAxes });
    const x = randn([3, 5, 8]);
    const ref = noGrad(() => model.call(x));
    expectClose(await runOrt(path, x), ref);
  });
});

/** -inf above the diagonal, 0 elsewhere (torch's generate_square_subsequent_mask). */
function causalMask(n: number): Tensor {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = -Infinity;
  return new Tensor(m, [n, n]);
}
