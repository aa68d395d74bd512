// SparseLinear and SparseConv2d (SparseProp): outputs, input gradients, value gradients and bias
// gradients equal those of the dense layer with the same zeros (the dense layer, computed by the
// existing linear/conv2d ops, is the independent reference), at densities 0, 1%, 10%, 50% and
// 100%, odd shapes, empty rows and columns, conv stride/padding/dilation, both dtypes, every
// backend, and for native every layout and SIMD level; gradcheck/gradgradcheck in float64; the
// errors for bad patterns and shapes.
//
// Tolerances: float64 1e-12 and float32 1e-5, relative to the largest |value| of the reference.

import { afterAll, describe, expect, test } from 'vitest';
import { Tensor, backend, grad, gradcheck, gradgradcheck, nn } from '../lib/index.js';
import { sparseConv2d, type SparsePattern } from '../lib/ops/sparse.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';
import { describeEachSimdLevel, native, skipReason } from './support/native-vs-js.js';

const initial = backend.current();
afterAll(() => backend.use(initial));

type DType = 'float32' | 'float64';
const TOL: Record<DType, number> = { float32: 1e-5, float64: 1e-12 };

function expectNear(got: Tensor, want: Tensor, dtype: DType, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  let scale = 0;
  for (let i = 0; i < want.size; i++) scale = Math.max(scale, Math.abs(want.data[i]));
  const tol = TOL[dtype] * Math.max(scale, 1e-30);
  for (let i = 0; i < want.size; i++) {
    const d = Math.abs(got.data[i] - want.data[i]);
    if (!(d <= tol)) expect.fail(`${what}: element ${i} is ${got.data[i]}, expected ${want.data[i]} (tol ${tol})`);
  }
}

/**
 * Zeros the dense weight [rows, cols] of a layer but for round(density * size) random entries,
 * leaving rows `emptyRows` and columns `emptyCols` all zero.
 */
function sparsifyWeight(
  w: Tensor,
  rows: number,
  cols: number,
  density: number,
  rng: Rng,
  emptyRows: number[] = [],
  emptyCols: number[] = [],
): void {
  const allowed: number[] = [];
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) if (!emptyRows.includes(r) && !emptyCols.includes(c)) allowed.push(r * cols + c);
  const keep = Math.min(allowed.length, Math.round(density * rows * cols));
  for (let i = 0; i < keep; i++) {
    const j = i + Math.floor(rng.next() * (allowed.length - i));
    [allowed[i], allowed[j]] = [allowed[j], allowed[i]];
  }
  const kept = new Set(allowed.slice(0, keep));
  for (let i = 0; i < rows * cols; i++) w.data[i] = kept.has(i) ? rng.normal() || 0.5 : 0;
}

/** The dense weight gradient at the sparse layer's nonzeros, in CSR order. */
function atPattern(gw: Tensor, p: SparsePattern): Tensor {
  const cols = p.shape[1] * p.shape[2] * p.shape[3];
  const out = new Float64Array(p.colIdx.length);
  for (let r = 0; r < p.shape[0]; r++)
    for (let k = p.rowPtr[r]; k < p.rowPtr[r + 1]; k++) out[k] = gw.data[r * cols + p.colIdx[k]];
  return new Tensor(out, [out.length]);
}

/** Output and gradients of a layer for the upstream gradient cos(i) at element i. */
function run(layer: nn.Module, x: Tensor, params: Tensor[]): Tensor[] {
  const y = (layer.forward as (x: Tensor) => Tensor)(x);
  const gy = new Tensor(
    y.dtype === 'float64'
      ? Float64Array.from(y.data, (_, i) => Math.cos(i))
      : Float32Array.from(y.data, (_, i) => Math.cos(i)),
    y.shape,
  );
  return [y, ...grad(y, [x, ...params], { gradOutputs: [gy] })];
}

function compareLayers(
  dense: nn.Linear | nn.Conv2d,
  sparse: nn.SparseLinear | nn.SparseConv2d,
  x: Tensor,
  dtype: DType,
  what: string,
): void {
  const [y, gx, gw, gb] = run(dense, x, [dense.weight, dense.bias as Tensor]);
  const [ys, gxs, gv, gbs] = run(sparse, x, [sparse.weight, sparse.bias as Tensor]);
  expectNear(ys, y, dtype, `${what}: output`);
  expectNear(gxs, gx, dtype, `${what}: input gradient`);
  expectNear(gv, atPattern(gw, sparse.pattern), dtype, `${what}: value gradient`);
  expectNear(gbs, gb, dtype, `${what}: bias gradient`);
}

const DENSITIES = [0, 0.01, 0.1, 0.5, 1];

interface ConvCase {
  n: number;
  cIn: number;
  cOut: number;
  h: number;
  w: number;
  k: [number, number];
  stride: [number, number];
  padding: [number, number];
  dilation: [number, number];
}
const CONV_CASES: ConvCase[] = [
  { n: 3, cIn: 5, cOut: 7, h: 9, w: 11, k: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1] },
  { n: 2, cIn: 3, cOut: 4, h: 10, w: 13, k: [3, 2], stride: [2, 3], padding: [2, 1], dilation: [1, 2] },
  { n: 17, cIn: 4, cOut: 6, h: 5, w: 6, k: [2, 3], stride: [1, 2], padding: [0, 2], dilation: [2, 1] },
  { n: 1, cIn: 2, cOut: 3, h: 7, w: 40, k: [1, 5], stride: [1, 1], padding: [0, 0], dilation: [1, 3] },
];

function convLayers(c: ConvCase, density: number, dtype: DType, rng: Rng, layout: 'auto' | 'batch' | 'width') {
  const dense = new nn.Conv2d(c.cIn, c.cOut, c.k, {
    stride: c.stride,
    padding: c.padding,
    dilation: c.dilation,
    dtype,
  });
  const cols = c.cIn * c.k[0] * c.k[1];
  sparsifyWeight(dense.weight, c.cOut, cols, density, rng, [c.cOut - 1], [0, cols - 1]);
  return { dense, sparse: nn.SparseConv2d.fromDense(dense, { layout }) };
}

describe.each(backendsHere())('backend %s', (name) => {
  describe.each(['float64', 'float32'] as const)('%s', (dtype) => {
    test.each(DENSITIES)('SparseLinear equals Linear with the same zeros at density %s', (density) => {
      backend.use(name);
      const rng = new Rng(11 + density * 100);
      for (const [inF, outF, lead] of [
        [37, 23, [5]],
        [64, 9, [2, 3]],
        [1, 1, [1]],
        [130, 17, [33]],
      ] as [number, number, number[]][]) {
        const dense = new nn.Linear(inF, outF, { dtype });
        sparsifyWeight(dense.weight, outF, inF, density, rng, outF > 2 ? [1] : [], inF > 2 ? [inF - 2] : []);
        const sparse = nn.SparseLinear.fromDense(dense);
        expect(sparse.nnz).toBe(Array.from(dense.weight.data).filter((v) => v !== 0).length);
        const x = leaf(rng, [...lead, inF], { dtype });
        compareLayers(dense, sparse, x, dtype, `linear ${inF}->${outF} batch ${lead.join('x')}`);
      }
    });

    test.each(DENSITIES)('SparseConv2d equals Conv2d with the same zeros at density %s', (density) => {
      backend.use(name);
      const rng = new Rng(29 + density * 100);
      for (const c of CONV_CASES) {
        for (const layout of name === 'native' ? (['batch', 'width', 'auto'] as const) : (['auto'] as const)) {
          const { dense, sparse } = convLayers(c, density, dtype, rng, layout);
          const x = leaf(rng, [c.n, c.cIn, c.h, c.w], { dtype });
          compareLayers(dense, sparse, x, dtype, `conv ${JSON.stringify(c)} layout ${layout}`);
        }
      }
    });
  });

  test('gradcheck and gradgradcheck of sparseConv2d (x, values, bias) in float64', () => {
    backend.use(name);
    const rng = new Rng(3);
    for (const c of [CONV_CASES[1], { ...CONV_CASES[2], n: 2 }]) {
      const { sparse } = convLayers(c, 0.5, 'float64', rng, 'auto');
      const x = leaf(rng, [c.n, c.cIn, c.h, c.w]);
      const v = leaf(rng, [sparse.nnz]);
      const b = leaf(rng, [c.cOut]);
      const f = (xx: Tensor, vv: Tensor, bb: Tensor): Tensor =>
        sparseConv2d(xx, vv, sparse.pattern, bb, { stride: c.stride, padding: c.padding, dilation: c.dilation });
      expect(gradcheck(f, [x, v, b])).toBe(true);
      expect(gradgradcheck(f, [x, v, b])).toBe(true);
    }
  });
});

describe.skipIf(!native)(`native sparse kernels at every SIMD level${skipReason}`, () => {
  describeEachSimdLevel(() => {
    test.each(['float32', 'float64'] as const)('all layouts equal the dense conv (%s)', (dtype) => {
      backend.use('native');
      const rng = new Rng(71);
      for (const c of CONV_CASES) {
        for (const layout of ['batch', 'width'] as const) {
          const { dense, sparse } = convLayers(c, 0.3, dtype, rng, layout);
          compareLayers(dense, sparse, leaf(rng, [c.n, c.cIn, c.h, c.w], { dtype }), dtype, `conv ${layout}`);
        }
      }
    });
  });
});

describe('SparseLinear / SparseConv2d modules', () => {
  test('density, toDense round trip, state dict names', () => {
    const rng = new Rng(5);
    const dense = new nn.Linear(10, 4);
    sparsifyWeight(dense.weight, 4, 10, 0.25, rng);
    const s = nn.SparseLinear.fromDense(dense);
    expect(s.density).toBeCloseTo(10 / 40, 15);
    expect(Object.keys(s.stateDict())).toEqual(['weight', 'bias']);
    expect(s.weight.shape).toEqual([10]);
    const back = s.toDense();
    expect(Array.from(back.weight.data)).toEqual(Array.from(dense.weight.data));
    expect(Array.from(back.bias?.data ?? [])).toEqual(Array.from(dense.bias?.data ?? []));
    const conv = new nn.Conv2d(2, 3, 3, { padding: 1, stride: 2, bias: false });
    sparsifyWeight(conv.weight, 3, 18, 0.5, rng);
    const sc = nn.SparseConv2d.fromDense(conv);
    expect(sc.bias).toBeNull();
    expect(sc.stride).toEqual([2, 2]);
    expect(Array.from(sc.toDense().weight.data)).toEqual(Array.from(conv.weight.data));
  });

  test('bad patterns and shapes give clear errors', () => {
    expect(() => new nn.SparseLinear(4, 2, Int32Array.of(0, 2, 1), Int32Array.of(0, 1))).toThrow(
      /rowPtr decreases at row 1/,
    );
    expect(() => new nn.SparseLinear(4, 2, Int32Array.of(0, 1), Int32Array.of(0))).toThrow(
      /rowPtr has 2 entries, expected 3/,
    );
    expect(() => new nn.SparseLinear(4, 2, Int32Array.of(0, 1, 2), Int32Array.of(0, 4))).toThrow(
      /colIdx holds 4 at 1, outside \[0, 4\)/,
    );
    expect(() => new nn.SparseLinear(4, 2, Int32Array.of(0, 2, 2), Int32Array.of(3, 1))).toThrow(
      /colIdx must increase/,
    );
    expect(() => new nn.SparseLinear(4, 1, Int32Array.of(0, 1), Int32Array.of(0, 1))).toThrow(
      /colIdx has 2 entries but rowPtr counts 1/,
    );
    const s = new nn.SparseLinear(4, 2, Int32Array.of(0, 1, 2), Int32Array.of(0, 3));
    expect(() => s.forward(new Tensor(new Float32Array(6), [2, 3]))).toThrow(
      /sparseLinear: input shape \[2, 3\] does not match weight shape \[2, 4\]/,
    );
    const c = new nn.SparseConv2d(2, 1, 2, Int32Array.of(0, 1), Int32Array.of(7));
    expect(() => c.forward(new Tensor(new Float32Array(18), [1, 2, 3, 3]))).not.toThrow();
    expect(() => c.forward(new Tensor(new Float32Array(27), [1, 3, 3, 3]))).toThrow(
      /sparseConv2d: input shape \[1, 3, 3, 3\] has 3 channels but weight shape \[1, 2, 2, 2\] expects 2/,
    );
    expect(() =>
      sparseConv2d(new Tensor(new Float32Array(18), [1, 2, 3, 3]), new Tensor(new Float32Array(2), [2]), c.pattern),
    ).toThrow(/values shape \[2\] does not match the pattern's 1 nonzeros/);
    expect(() => nn.SparseLinear.fromDense(c as unknown as nn.Linear)).toThrow(/expected an nn.Linear/);
  });
});
