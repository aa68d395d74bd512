// Sparse-weight convolution and linear maps (SparseProp, Nikdan et al. 2023). The weight is a
// fixed CSR pattern (rowPtr, colIdx over the dense weight viewed as [outC, inC*kH*kW]) and a
// tensor of its nonzero values; every kernel's cost is linear in the nonzeros. As for conv2d,
// three ops share one geometry, each the partial derivative of the trilinear form
// <sparseConv2d(x, v), g> in one argument, so every rule is again in these ops and double
// backward works:
//   d/dx = inputGrad(g, v)   d/dv = valuesGrad(x, g)   d/dg = sparseConv2d(x, v).
// A linear layer is the 1x1 convolution of [N, in, 1, 1].

import { kernels } from '../backend/index.js';
import { SPARSE_LAYOUTS, type ConvGeometry, type SparseLayoutName } from '../backend/types.js';
import { Tensor } from '../tensor.js';
import type { Grads, Node } from '../autograd/node.js';
import { defineOp } from './registry.js';
import { geometry, type Conv2dOptions } from './conv.js';
import { allocOut, checkSameDtype, checkTensor, floatData, record, shapeStr } from './util.js';

/** A fixed sparsity pattern of a weight of shape [outC, inC, kH, kW] (a linear one: [out, in, 1, 1]). */
export interface SparsePattern {
  /** The dense weight's shape, [outC, inC, kH, kW]. */
  readonly shape: readonly [number, number, number, number];
  /** outC + 1 row starts into colIdx, from 0, nondecreasing. */
  readonly rowPtr: Int32Array;
  /** Column (in [0, inC*kH*kW)) of each nonzero, row by row. */
  readonly colIdx: Int32Array;
}

export interface SparseConv2dOptions extends Conv2dOptions {
  /** Which SparseProp layout the native kernels use: vectorised over the batch, over the output width, or chosen by shape ('auto', the default). */
  layout?: SparseLayoutName;
}

interface Saved {
  g: ConvGeometry;
  p: SparsePattern;
  layout: number;
}

/** Checks a pattern's invariants; the error names the op. */
export function checkPattern(op: string, p: SparsePattern): void {
  const [outC, inC, kH, kW] = p.shape;
  const cols = inC * kH * kW;
  if (!(p.rowPtr instanceof Int32Array) || !(p.colIdx instanceof Int32Array))
    throw new TypeError(`${op}: the pattern's rowPtr and colIdx must be Int32Arrays`);
  if (p.rowPtr.length !== outC + 1)
    throw new RangeError(
      `${op}: rowPtr has ${p.rowPtr.length} entries, expected ${outC + 1} for weight shape ${shapeStr(p.shape)}`,
    );
  if (p.rowPtr[0] !== 0) throw new RangeError(`${op}: rowPtr must start at 0, got ${p.rowPtr[0]}`);
  for (let r = 0; r < outC; r++) {
    if (p.rowPtr[r + 1] < p.rowPtr[r]) throw new RangeError(`${op}: rowPtr decreases at row ${r}`);
    for (let k = p.rowPtr[r]; k < p.rowPtr[r + 1]; k++) {
      const c = p.colIdx[k];
      if (!(c >= 0 && c < cols)) throw new RangeError(`${op}: colIdx holds ${c} at ${k}, outside [0, ${cols})`);
      if (k > p.rowPtr[r] && c <= p.colIdx[k - 1])
        throw new RangeError(`${op}: colIdx must increase within a row (row ${r}, entry ${k})`);
    }
  }
  if (p.colIdx.length !== p.rowPtr[outC])
    throw new RangeError(`${op}: colIdx has ${p.colIdx.length} entries but rowPtr counts ${p.rowPtr[outC]}`);
}

function args(
  s: Saved,
): [number, number, number, number, number, number, number, number, number, number, number, number, number, number] {
  const g = s.g;
  return [g.n, g.cIn, g.h, g.w, g.cOut, g.kH, g.kW, g.sH, g.sW, g.pH, g.pW, g.dH, g.dW, s.layout];
}

/**
 * conv2d(x, W, bias) for the sparse W given by `values` (one per nonzero of `pattern`, in CSR
 * order): equal to F.conv2d with the dense weight that has those zeros.
 */
export function sparseConv2d(
  x: Tensor,
  values: Tensor,
  pattern: SparsePattern,
  bias?: Tensor | null,
  opts: SparseConv2dOptions = {},
): Tensor {
  const op = 'sparseConv2d';
  checkTensor(op, 'input', x);
  checkTensor(op, 'values', values);
  checkSameDtype(op, x, values);
  const nnz = pattern.colIdx.length;
  if (values.ndim !== 1 || values.size !== nnz) {
    throw new Error(
      `${op}: values shape ${shapeStr(values.shape)} does not match the pattern's ${nnz} nonzeros (expected [${nnz}])`,
    );
  }
  const g = geometry(op, x, { ndim: 4, shape: pattern.shape }, opts);
  const layout = SPARSE_LAYOUTS.indexOf(opts.layout ?? 'auto');
  if (layout < 0)
    throw new RangeError(`${op}: layout must be one of ${SPARSE_LAYOUTS.join(', ')}, got ${String(opts.layout)}`);
  const b = bias ?? null;
  if (b !== null) {
    checkTensor(op, 'bias', b);
    checkSameDtype(op, x, b);
    if (b.ndim !== 1 || b.shape[0] !== g.cOut)
      throw new Error(
        `${op}: bias shape ${shapeStr(b.shape)} does not match weight shape ${shapeStr(pattern.shape)} (expected [${g.cOut}])`,
      );
  }
  return forward(x, values, b, { g, p: pattern, layout });
}

function forward(x: Tensor, values: Tensor, bias: Tensor | null, s: Saved): Tensor {
  const g = s.g;
  const y = allocOut(floatData(x), g.n * g.cOut * g.oH * g.oW);
  kernels().sparseConv2d(
    floatData(x),
    floatData(values),
    s.p.rowPtr,
    s.p.colIdx,
    bias === null ? null : floatData(bias),
    y,
    ...args(s),
  );
  const inputs = bias === null ? [x, values] : [x, values, bias];
  return record(new Tensor(y, [g.n, g.cOut, g.oH, g.oW]), sparseConv2dOp, inputs, s);
}

const sparseConv2dOp = defineOp<Saved>({
  name: 'sparseConv2d',
  kernels: ['sparseConv2d'],
  arity: 'variadic', // x, values and an optional bias
  rule: (gy, node) => {
    const [x, v] = node.inputs;
    const b = node.inputs.length > 2 ? node.inputs[2] : null;
    const gx = x.requiresGrad ? inputGrad(gy, v, node.saved) : null;
    const gv = v.requiresGrad ? valuesGrad(x, gy, node.saved) : null;
    const gb = b !== null && b.requiresGrad ? gy.sum([0, 2, 3]) : null;
    return b === null ? [gx, gv] : [gx, gv, gb];
  },
});

/** d<sparseConv2d(x, v), gy>/dx: linear in gy and in v. */
function inputGrad(gy: Tensor, v: Tensor, s: Saved): Tensor {
  const g = s.g;
  const gx = allocOut(floatData(gy), g.n * g.cIn * g.h * g.w);
  kernels().sparseConv2dBackwardInput(floatData(gy), floatData(v), s.p.rowPtr, s.p.colIdx, gx, ...args(s));
  return record(new Tensor(gx, [g.n, g.cIn, g.h, g.w]), inputGradOp, [gy, v], s);
}

const inputGradOp = defineOp<Saved>({
  name: 'sparseConv2dInputGrad',
  kernels: ['sparseConv2dBackwardInput'],
  arity: 2,
  rule: (h: Tensor, node: Node<Saved>): Grads => {
    const [gy, v] = node.inputs;
    return [
      gy.requiresGrad ? forward(h, v, null, node.saved) : null,
      v.requiresGrad ? valuesGrad(h, gy, node.saved) : null,
    ];
  },
});

/** d<sparseConv2d(x, v), gy>/dv, one entry per nonzero: linear in x and in gy. */
function valuesGrad(x: Tensor, gy: Tensor, s: Saved): Tensor {
  const nnz = s.p.colIdx.length;
  const gv = allocOut(floatData(x), nnz);
  kernels().sparseConv2dBackwardValues(floatData(x), floatData(gy), s.p.rowPtr, s.p.colIdx, gv, ...args(s));
  return record(new Tensor(gv, [nnz]), valuesGradOp, [x, gy], s);
}

const valuesGradOp = defineOp<Saved>({
  name: 'sparseConv2dValuesGrad',
  kernels: ['sparseConv2dBackwardValues'],
  arity: 2,
  rule: (u: Tensor, node: Node<Saved>): Grads => {
    const [x, gy] = node.inputs;
    return [
      x.requiresGrad ? inputGrad(gy, u, node.saved) : null,
      gy.requiresGrad ? forward(x, u, null, node.saved) : null,
    ];
  },
});

/**
 * x Wᵀ + bias for the sparse W [out, in] given by `values` and a pattern of shape [out, in, 1, 1];
 * x is [..., in]. Equal to F.linear with the dense weight that has those zeros.
 */
export function sparseLinear(x: Tensor, values: Tensor, pattern: SparsePattern, bias?: Tensor | null): Tensor {
  const op = 'sparseLinear';
  checkTensor(op, 'input', x);
  const [out, inF] = pattern.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new Error(
      `${op}: input shape ${shapeStr(x.shape)} does not match weight shape [${out}, ${inF}] (last dim must be ${inF})`,
    );
  }
  const lead = x.shape.slice(0, -1);
  const n = lead.reduce((a, b) => a * b, 1);
  const y = sparseConv2d(x.reshape([n, inF, 1, 1]), values, pattern, bias, { layout: 'batch' });
  return y.reshape([...lead, out]);
}
