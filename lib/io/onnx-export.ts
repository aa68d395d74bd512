// io.exportOnnx: runs the model once on example inputs with gradients recorded, walks the
// recorded autograd graph from the outputs back (every op records its registry entry, inputs and
// what its backward saves, which is enough to rebuild the forward), maps each node to ONNX ops and
// writes the ModelProto with protobufjs. Tracing the recorded graph rather than the module tree
// is what lets a user-defined forward export too. Parameters and buffers become initializers
// under their state_dict names; any other leaf tensor the forward used becomes a constant.
import { Tensor } from '../tensor.js';
import type { Node } from '../autograd/node.js';
import type { Module } from '../nn/module.js';
import { enableGrad } from '../autograd/mode.js';
import { writeFileAtomic } from './atomic.js';
import { onnxModelType, OnnxAttributeType, OnnxDataType } from './onnx-schema.js';

/** Options of exportOnnx, after torch.onnx.export's. */
export interface OnnxExportOptions {
  /** The ai.onnx opset to target, 13 to 17 (default 17). */
  opset?: number;
  /** Names of the graph inputs (default input, or input0, input1... for several). */
  inputNames?: readonly string[];
  /** Names of the graph outputs (default output, or output0, output1...). */
  outputNames?: readonly string[];
  /**
   * Axes of inputs and outputs whose size is left symbolic, by input or output name: a list of
   * axes (named `<name>_dim<axis>`) or {axis: symbol}, e.g. {input: {0: 'batch'}, output: {0: 'batch'}}.
   */
  dynamicAxes?: Readonly<Record<string, readonly number[] | Readonly<Record<number, string>>>>;
}

const MIN_OPSET = 13; // Softmax/LogSoftmax with per-axis semantics, Reshape's allowzero-free form
const MAX_OPSET = 17; // the newest opset of onnx 1.12 (Debian's python3-onnx)

/**
 * Exports `model`'s forward on `exampleInputs` as an ONNX model at `path` (written atomically).
 * The forward is traced in eval mode (the modules' modes are restored afterwards); a forward that
 * calls F.batchNorm with training true is an error, and one that calls F.dropout with training
 * true would bake its random mask in as a constant, so a custom forward should pass
 * `this.training` as nn.Dropout does.
 */
export function exportOnnx(
  model: Module,
  exampleInputs: Tensor | readonly Tensor[],
  path: string,
  options: OnnxExportOptions = {},
): void {
  const bytes = exportOnnxBytes(model, exampleInputs, options);
  writeFileAtomic(path, (write) => write(bytes));
}

/** exportOnnx without the file: the serialized ModelProto. */
export function exportOnnxBytes(
  model: Module,
  exampleInputs: Tensor | readonly Tensor[],
  options: OnnxExportOptions = {},
): Uint8Array {
  const opset = options.opset ?? MAX_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET)
    throw new RangeError(
      `exportOnnx: opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${String(opset)}`,
    );
  const examples = Array.isArray(exampleInputs) ? (exampleInputs as readonly Tensor[]) : [exampleInputs as Tensor];
  const inputNames = names('input', examples.length, options.inputNames);
  // Fresh leaves that require grad, so that every op downstream of an input records its node.
  const inputs = examples.map((x, i) => {
    if (!(x instanceof Tensor) || (x.dtype !== 'float32' && x.dtype !== 'float64'))
      throw new TypeError(`exportOnnx: example input ${i} must be a float32 or float64 tensor`);
    return x.detach().requiresGrad_(true);
  });
  // Traced in eval mode, as torch.onnx.export does by default (dropout is then the identity and
  // batch norm uses its running statistics); each module's own mode is restored afterwards.
  const modes = model.modules().map((m) => [m, m.training] as const);
  model.eval();
  let result: unknown;
  try {
    result = enableGrad(() => model.forward(...inputs));
  } finally {
    for (const [m, mode] of modes) m.training = mode;
  }
  // A forward may return a tensor or nested arrays of them (nn.LSTM: [output, [h, c]]); the
  // graph's outputs are its tensors depth first, as torch.onnx.export flattens tuples.
  const outputs: Tensor[] = [];
  const collect = (r: unknown): void => {
    if (Array.isArray(r)) for (const e of r) collect(e);
    else if (r instanceof Tensor) outputs.push(r);
    else throw new TypeError(`exportOnnx: the forward returned ${typeof r}; only tensors and arrays of them export`);
  };
  collect(result);
  const outputNames = names('output', outputs.length, options.outputNames);
  const named = new Map<Tensor, string>();
  for (const [n, t] of model.namedParameters()) named.set(t, n);
  for (const [n, t] of model.namedBuffers()) named.set(t, n);
  const g = new GraphBuilder(opset, named, options.dynamicAxes ?? {});
  inputs.forEach((t, i) => g.addInput(t, inputNames[i]));
  outputs.forEach((t, i) => g.addOutput(t, outputNames[i]));
  const type = onnxModelType();
  const message = type.fromObject({
    irVersion: opset <= 14 ? 7 : 8,
    producerName: 'backprop',
    producerVersion: '0.1.0',
    graph: g.graph(model.constructor.name),
    opsetImport: [{ domain: '', version: opset }],
  });
  return type.encode(message).finish();
}

function names(base: string, n: number, given: readonly string[] | undefined): string[] {
  if (given !== undefined) {
    if (given.length !== n) throw new Error(`exportOnnx: ${n} ${base}s but ${given.length} ${base}Names`);
    return [...given];
  }
  return n === 1 ? [base] : Array.from({ length: n }, (_, i) => `${base}${i}`);
}

type Attr = {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
  floats?: number[];
  strings?: Uint8Array[];
};
type OnnxNode = { input: string[]; output: string[]; name: string; opType: string; attribute: Attr[] };
type OnnxTensor = { name: string; dims: number[]; dataType: number; rawData: Uint8Array };

/** A string attribute's bytes (protobufjs would read a JS string in a bytes field as base64). */
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const intAttr = (name: string, i: number): Attr => ({ name, type: OnnxAttributeType.INT, i });
const floatAttr = (name: string, f: number): Attr => ({ name, type: OnnxAttributeType.FLOAT, f });
const intsAttr = (name: string, ints: number[]): Attr => ({ name, type: OnnxAttributeType.INTS, ints });

function elemType(t: Tensor): number {
  // By dtype, not storage: a graph edge may be a storage-less stand-in (ops/rnn's edgeOf).
  if (t.dtype === 'float32') return OnnxDataType.FLOAT;
  if (t.dtype === 'float64') return OnnxDataType.DOUBLE;
  throw new TypeError(`exportOnnx: tensors of dtype ${t.dtype} are not supported (float32 and float64 are)`);
}

function bytesOf(data: Float32Array | Float64Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as are the typed arrays on every platform Node runs on.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

class GraphBuilder {
  readonly #nodes: OnnxNode[] = [];
  readonly #inits: OnnxTensor[] = [];
  readonly #inputsInfo: object[] = [];
  readonly #outputsInfo: object[] = [];
  /** ONNX value name of each traced tensor (inputs, initializers, node outputs). */
  readonly #valueOf = new Map<Tensor, string>();
  /** Node output names, by node (a node may be reached through different tensor objects). */
  readonly #nodeValue = new Map<Node, string>();
  readonly #usedNames = new Set<string>();
  #dynamicBatch = false;

  constructor(
    readonly opset: number,
    readonly stateNames: Map<Tensor, string>,
    readonly dynamicAxes: Readonly<Record<string, readonly number[] | Readonly<Record<number, string>>>>,
  ) {}

  #unique(base: string): string {
    let name = base;
    for (let k = 1; this.#usedNames.has(name); k++) name = `${base}_${k}`;
    this.#usedNames.add(name);
    return name;
  }

  #valueInfo(name: string, t: Tensor): object {
    const axes = this.dynamicAxes[name];
    const symbols = new Map<number, string>();
    if (axes !== undefined) {
      if (Array.isArray(axes)) for (const a of axes as number[]) symbols.set(a, `${name}_dim${a}`);
      else for (const [a, s] of Object.entries(axes)) symbols.set(Number(a), s as string);
    }
    for (const a of symbols.keys()) {
      if (!Number.isInteger(a) || a < 0 || a >= t.shape.length)
        throw new RangeError(
          `exportOnnx: dynamic axis ${a} of '${name}' is out of range for shape [${t.shape.join(', ')}]`,
        );
    }
    if (symbols.has(0)) this.#dynamicBatch = true;
    const dim = t.shape.map((d, a) => (symbols.has(a) ? { dimParam: symbols.get(a) } : { dimValue: d }));
    return { name, type: { tensorType: { elemType: elemType(t), shape: { dim } } } };
  }

  addInput(t: Tensor, name: string): void {
    this.#usedNames.add(name);
    this.#valueOf.set(t, name);
    this.#inputsInfo.push(this.#valueInfo(name, t));
  }

  addOutput(t: Tensor, name: string): void {
    const value = this.#value(t);
    this.#usedNames.add(name);
    this.#outputsInfo.push(this.#valueInfo(name, t));
    this.#nodes.push({ input: [value], output: [name], name: `${name}_identity`, opType: 'Identity', attribute: [] });
  }

  graph(name: string): object {
    // Outputs go through an Identity so that a graph output may also be an input or initializer.
    return {
      name,
      node: this.#nodes,
      initializer: this.#inits,
      input: this.#inputsInfo,
      output: this.#outputsInfo,
    };
  }

  /** The ONNX value holding `t`, emitting the nodes that compute it first. */
  #value(t: Tensor): string {
    const known = this.#valueOf.get(t);
    if (known !== undefined) return known;
    const node = t.gradFn;
    if (node === null) {
      const stateName = this.stateNames.get(t);
      const name = this.#initializer(stateName ?? 'const', t);
      this.#valueOf.set(t, name);
      return name;
    }
    let name = this.#nodeValue.get(node);
    if (name === undefined) {
      name = this.#emit(node, t);
      this.#nodeValue.set(node, name);
    }
    this.#valueOf.set(t, name);
    return name;
  }

  #initializer(base: string, t: Tensor): string {
    const name = this.#unique(base);
    this.#inits.push({ name, dims: [...t.shape], dataType: elemType(t), rawData: bytesOf(t.data as Float32Array) });
    return name;
  }

  #floatConst(base: string, like: Tensor, values: ArrayLike<number>, dims: number[]): string {
    const data = like.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
    const name = this.#unique(base);
    this.#inits.push({ name, dims, dataType: elemType(like), rawData: bytesOf(data) });
    return name;
  }

  #int64Const(base: string, values: number[]): string {
    const name = this.#unique(base);
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.#inits.push({ name, dims: [values.length], dataType: OnnxDataType.INT64, rawData: bytesOf(data) });
    return name;
  }

  #node(opType: string, input: string[], attribute: Attr[] = [], outName?: string): string {
    const output = outName ?? this.#unique(`${opType.toLowerCase()}_out`);
    this.#nodes.push({ input, output: [output], name: this.#unique(opType), opType, attribute });
    return output;
  }

  /** Emits the ONNX nodes of one recorded node whose output is `out`; returns the output's name. */
  #emit(node: Node, out: Tensor): string {
    const ins = node.inputs;
    if (ins.length === 0 && node.freed)
      throw new Error(`exportOnnx: the graph through '${node.name}' was freed by a backward; export a fresh forward`);
    const op = node.name;
    const v = (i: number): string => this.#value(ins[i]);
    const s = node.saved as Record<string, unknown>;
    switch (op) {
      case 'linear':
        return this.#node(
          'Gemm',
          ins.map((_, i) => v(i)),
          [intAttr('transB', 1)],
        );
      case 'matmul': {
        const { ta, tb } = node.saved as { ta: boolean; tb: boolean };
        return this.#node('Gemm', [v(0), v(1)], [intAttr('transA', ta ? 1 : 0), intAttr('transB', tb ? 1 : 0)]);
      }
      case 'relu':
      case 'tanh':
      case 'sigmoid':
      case 'exp':
      case 'log':
      case 'sqrt':
      case 'abs':
      case 'neg':
        return this.#node(op[0].toUpperCase() + op.slice(1), [v(0)]);
      case 'leakyRelu':
        return this.#node('LeakyRelu', [v(0)], [floatAttr('alpha', s.p0 as number)]);
      case 'elu':
        return this.#node('Elu', [v(0)], [floatAttr('alpha', s.p0 as number)]);
      case 'silu': {
        const x = v(0);
        return this.#node('Mul', [x, this.#node('Sigmoid', [x])]);
      }
      case 'gelu': {
        // Exact GELU, 0.5 x (1 + erf(x / sqrt 2)); the Gelu op only arrived in opset 20.
        const x = v(0);
        const c = (k: number, base: string): string => this.#floatConst(base, out, [k], []);
        const erf = this.#node('Erf', [this.#node('Div', [x, c(Math.SQRT2, 'sqrt2')])]);
        const onePlus = this.#node('Add', [erf, c(1, 'one')]);
        return this.#node('Mul', [this.#node('Mul', [x, onePlus]), c(0.5, 'half')]);
      }
      case 'softmax':
      case 'logSoftmax': // the kernels work on the last axis; other dims were recorded as permutes
        return this.#node(op === 'softmax' ? 'Softmax' : 'LogSoftmax', [v(0)], [intAttr('axis', -1)]);
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
      case 'pow':
      case 'maximum':
      case 'minimum': {
        const onnxOp = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow', maximum: 'Max', minimum: 'Min' }[
          op
        ];
        if (ins.length === 2) return this.#node(onnxOp, [v(0), v(1)]);
        const { s: scalar, first } = node.saved as { s: number; first: boolean };
        const c = this.#floatConst('scalar', ins[0], [scalar], []);
        return this.#node(onnxOp, first ? [c, v(0)] : [v(0), c]);
      }
      case 'conv2d': {
        const gm = node.saved as Record<string, number>;
        return this.#node(
          'Conv',
          ins.map((_, i) => v(i)),
          [
            intsAttr('kernel_shape', [gm.kH, gm.kW]),
            intsAttr('strides', [gm.sH, gm.sW]),
            intsAttr('pads', [gm.pH, gm.pW, gm.pH, gm.pW]),
            intsAttr('dilations', [gm.dH, gm.dW]),
          ],
        );
      }
      case 'maxPool2d':
      case 'avgPool2d': {
        const gm = (op === 'maxPool2d' ? (s.g as Record<string, number>) : s) as Record<string, number>;
        const attrs = [
          intsAttr('kernel_shape', [gm.kH, gm.kW]),
          intsAttr('strides', [gm.sH, gm.sW]),
          intsAttr('pads', [gm.pH, gm.pW, gm.pH, gm.pW]),
        ];
        // backprop's average divides by the full window, padding included (torch's default).
        if (op === 'avgPool2d') attrs.push(intAttr('count_include_pad', 1));
        if (ins[0].shape.length !== 4)
          throw new Error(`exportOnnx: '${op}' on a ${ins[0].shape.length}-D input has no ONNX mapping (4-D only)`);
        return this.#node(op === 'maxPool2d' ? 'MaxPool' : 'AveragePool', [v(0)], attrs);
      }
      case 'batchNorm':
        return this.#batchNorm(node as Node<BnSaved>);
      case 'reshape':
        return this.#reshape(ins[0], out);
      case 'permute':
        return this.#node('Transpose', [v(0)], [intsAttr('perm', node.saved as number[])]);
      case 'expand':
        return this.#node('Expand', [v(0), this.#int64Const('shape', [...out.shape])]);
      case 'clone':
        return this.#node('Identity', [v(0)]);
      case 'cat':
        return this.#node(
          'Concat',
          ins.map((_, i) => v(i)),
          [intAttr('axis', (s as { dim: number }).dim)],
        );
      case 'rows': {
        // x[start : start + length] along dim 0.
        const { start } = node.saved as { start: number };
        const at = (k: number): string => this.#int64Const('idx', [k]);
        return this.#node('Slice', [v(0), at(start), at(start + out.shape[0]), at(0)]);
      }
      case 'recurrence(lstm)':
      case 'recurrence(gru)':
      case 'recurrence(rnnTanh)':
      case 'recurrence(rnnRelu)':
        return this.#recurrence(node as Node<RecurrenceSaved>);
      case 'indexSelect': {
        // Fixed indices (nn.MultiheadAttention's slices of in_proj_weight): Gather of a constant.
        const { dim, indices } = node.saved as { dim: number; indices: Int32Array };
        return this.#node('Gather', [v(0), this.#int64Const('indices', Array.from(indices))], [intAttr('axis', dim)]);
      }
      case 'scaledDotProductAttention':
        return this.#attention(node as Node<AttentionSaved>, out);
      case 'sum':
      case 'mean':
        return this.#reduce(op, ins[0], out, (s as { keepShape: number[] }).keepShape);
      default:
        throw new Error(`exportOnnx: op '${op}' has no ONNX mapping`);
    }
  }

  #batchNorm(node: Node<BnSaved>): string {
    const s = node.saved;
    const x = node.inputs[0];
    if (s.training)
      throw new Error(
        `exportOnnx: 'batchNorm' ran in training mode (batch statistics), which has no ONNX inference form`,
      );
    const c = s.mean.length;
    const w = s.hasWeight ? node.inputs[1] : null;
    const b = s.hasBias ? node.inputs[s.hasWeight ? 2 : 1] : null;
    // The running statistics, under their state_dict names when the weight tells the layer's prefix
    // and the buffers hold the values the forward used.
    const prefix = w !== null ? this.stateNames.get(w)?.replace(/weight$/, '') : undefined;
    const variance = Array.from(s.invStd, (is) => 1 / (is * is) - s.eps);
    const mean = this.#floatConst(prefix !== undefined ? `${prefix}running_mean` : 'bn_mean', x, s.mean, [c]);
    const vr = this.#floatConst(prefix !== undefined ? `${prefix}running_var` : 'bn_var', x, variance, [c]);
    const scale = w !== null ? this.#value(w) : this.#floatConst('bn_scale', x, new Array<number>(c).fill(1), [c]);
    const bias = b !== null ? this.#value(b) : this.#floatConst('bn_bias', x, new Array<number>(c).fill(0), [c]);
    return this.#node('BatchNormalization', [this.#value(x), scale, bias, mean, vr], [floatAttr('epsilon', s.eps)]);
  }

  /**
   * One direction of one layer of nn.RNN / LSTM / GRU. backprop records the input projection
   * (reshape -> linear -> reshape) apart from the recurrence; ONNX's LSTM/GRU/RNN ops take the
   * [T, B, I] input and W_ih themselves, so the projection is read back from the graph and its
   * nodes are not emitted. Gates are reordered from torch's to ONNX's.
   */
  #recurrence(node: Node<RecurrenceSaved>): string {
    const sv = node.saved;
    const op = node.name;
    const lstm = sv.kind === 'lstm';
    const gru = sv.kind === 'gru';
    const G = lstm ? 4 : gru ? 3 : 1;
    const H = sv.H;
    const ins = node.inputs;
    const wi = lstm ? 3 : 2;
    const wHh = ins[wi];
    const bHh = sv.hasBias ? ins[wi + 1] : null;
    let bIh = sv.hasBiasIh ? ins[wi + (sv.hasBias ? 2 : 1)] : null;
    // xp = linear(x.reshape([T * B, I]), W_ih, [b_ih for GRU]).reshape([T, B, G * H])
    const xpNode = ins[0].gradFn;
    const projNode = xpNode?.name === 'reshape' ? xpNode.inputs[0].gradFn : null;
    const flatNode = projNode?.name === 'linear' ? projNode.inputs[0].gradFn : null;
    if (projNode == null || flatNode == null || flatNode.name !== 'reshape' || flatNode.inputs[0].shape.length !== 3)
      throw new Error(
        `exportOnnx: '${op}' without its input projection (as nn.${sv.kind} records it) has no ONNX mapping`,
      );
    const x = flatNode.inputs[0];
    const wIh = projNode.inputs[1];
    if (projNode.inputs.length > 2) bIh = projNode.inputs[2];
    // torch's gate blocks -> ONNX's: LSTM i f g o -> i o f c; GRU r z n -> z r h.
    const order = lstm ? [0, 3, 1, 2] : gru ? [1, 0, 2] : [0];
    const gates = (t: Tensor | null, cols: number): number[] => {
      const out: number[] = [];
      for (const gIdx of order) {
        for (let k = gIdx * H * cols; k < (gIdx + 1) * H * cols; k++) out.push(t === null ? 0 : t.data[k]);
      }
      return out;
    };
    const base = (t: Tensor, fallback: string): string => `${this.stateNames.get(t) ?? fallback}_onnx_gates`;
    const I = wIh.shape[1];
    const W = this.#floatConst(base(wIh, 'W'), x, gates(wIh, I), [1, G * H, I]);
    const R = this.#floatConst(base(wHh, 'R'), x, gates(wHh, H), [1, G * H, H]);
    const B = this.#floatConst(
      bHh !== null ? base(bHh, 'B') : 'B_onnx_gates',
      x,
      [...gates(bIh, 1), ...gates(bHh, 1)],
      [1, 2 * G * H],
    );
    // An initial state that is a constant zero (the layer's default) is left out: ONNX's default
    // is zero too, and a constant would fix the batch size.
    const state = (t: Tensor | null): string => {
      if (t === null || (t.gradFn === null && !this.stateNames.has(t) && t.data.every((e) => e === 0))) return '';
      return this.#node('Unsqueeze', [this.#value(t), this.#int64Const('axes', [0])]);
    };
    const inputs = [this.#value(x), W, R, B, '', state(ins[1])];
    if (lstm) inputs.push(state(ins[2]));
    const Y = this.#unique(`${sv.kind}_Y`);
    const Yc = lstm ? this.#unique('lstm_Y_c') : '';
    const attrs: Attr[] = [intAttr('hidden_size', H)];
    if (sv.reverse) attrs.push({ name: 'direction', type: OnnxAttributeType.STRING, s: utf8('reverse') });
    if (gru) attrs.push(intAttr('linear_before_reset', 1)); // torch: n = tanh(W_in x + b_in + r (W_hn h + b_hn))
    if (sv.kind === 'rnnRelu')
      attrs.push({ name: 'activations', type: OnnxAttributeType.STRINGS, strings: [utf8('Relu')] });
    const onnxOp = lstm ? 'LSTM' : gru ? 'GRU' : 'RNN';
    this.#nodes.push({
      input: inputs,
      output: lstm ? [Y, '', Yc] : [Y],
      name: this.#unique(onnxOp),
      opType: onnxOp,
      attribute: attrs,
    });
    // Y is [T, 1, B, H]; backprop's output is h by time, then (LSTM) the final c: [T (+1), B, H].
    const seq = this.#node('Squeeze', [Y, this.#int64Const('axes', [1])]);
    return lstm ? this.#node('Concat', [seq, Yc], [intAttr('axis', 0)]) : seq;
  }

  /** softmax(q kᵀ · scale + mask) v, spelled out (ONNX's Attention op is newer than opset 17). */
  #attention(node: Node<AttentionSaved>, out: Tensor): string {
    const sv = node.saved;
    const op = node.name;
    if (sv.dropoutP > 0)
      throw new Error(`exportOnnx: '${op}' with dropoutP ${sv.dropoutP} (training) has no ONNX inference form`);
    const [q, k, vv] = node.inputs;
    const rank = k.shape.length;
    const perm = Array.from({ length: rank }, (_, i) => i);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    const kt = this.#node('Transpose', [this.#value(k)], [intsAttr('perm', perm)]);
    let scores = this.#node('MatMul', [this.#value(q), kt]);
    scores = this.#node('Mul', [scores, this.#floatConst('scale', out, [sv.scale], [])]);
    if (sv.mask !== null) {
      if (!(sv.mask.data instanceof Float32Array || sv.mask.data instanceof Float64Array))
        throw new Error(`exportOnnx: '${op}' with a ${sv.mask.dtype} mask has no ONNX mapping (float masks do)`);
      scores = this.#node('Add', [scores, this.#value(sv.mask)]);
    }
    if (sv.causal) {
      // Key j > query i is masked (torch's is_causal: the upper triangle), as -inf before softmax.
      const tri = new Array<number>(sv.Lq * sv.Lk);
      for (let i = 0; i < sv.Lq; i++) for (let j = 0; j < sv.Lk; j++) tri[i * sv.Lk + j] = j > i ? -Infinity : 0;
      scores = this.#node('Add', [scores, this.#floatConst('causal_mask', out, tri, [sv.Lq, sv.Lk])]);
    }
    const weights = this.#node('Softmax', [scores], [intAttr('axis', -1)]);
    return this.#node('MatMul', [weights, this.#value(vv)]);
  }

  #reduce(op: string, x: Tensor, out: Tensor, keepShape: readonly number[]): string {
    // Reduce with keepdims (the axes are those the kernel collapsed to 1), then drop them if the
    // op did: that keeps size-1 axes that were not reduced.
    const axes: number[] = [];
    keepShape.forEach((d, i) => {
      if (d === 1 && x.shape[i] !== 1) axes.push(i);
    });
    let y = this.#value(x);
    if (axes.length > 0) {
      y =
        op === 'sum'
          ? this.#node('ReduceSum', [y, this.#int64Const('axes', axes)], [intAttr('keepdims', 1)])
          : this.#node('ReduceMean', [y], [intsAttr('axes', axes), intAttr('keepdims', 1)]);
    }
    if (out.shape.length === keepShape.length) return y;
    return this.#node('Reshape', [y, this.#int64Const('shape', this.#reshapeTarget(keepShape, out.shape))]);
  }

  /** Reshape's shape input for in -> out: a batch axis stays symbolic (0 copies it, -1 follows a merge). */
  #reshapeTarget(inShape: readonly number[], outShape: readonly number[]): number[] {
    const target = [...outShape];
    if (target.length > 0 && inShape.length > 0 && target[0] === inShape[0]) target[0] = 0;
    else if (this.#dynamicBatch && target.length > 0) target[0] = -1;
    return target;
  }

  #reshape(x: Tensor, out: Tensor): string {
    return this.#node('Reshape', [this.#value(x), this.#int64Const('shape', this.#reshapeTarget(x.shape, out.shape))]);
  }
}

interface BnSaved {
  training: boolean;
  eps: number;
  mean: Float32Array | Float64Array;
  invStd: Float32Array | Float64Array;
  hasWeight: boolean;
  hasBias: boolean;
}

interface RecurrenceSaved {
  kind: 'rnnTanh' | 'rnnRelu' | 'lstm' | 'gru';
  reverse: boolean;
  H: number;
  hasBias: boolean;
  hasBiasIh: boolean;
}

interface AttentionSaved {
  Lq: number;
  Lk: number;
  mask: Tensor | null;
  causal: boolean;
  scale: number;
  dropoutP: number;
}
