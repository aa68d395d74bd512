// The Backend interface: a flat set of kernels over contiguous row-major typed arrays.
// Both backends (native, js) implement every kernel for Float32Array and Float64Array.
// All arrays passed to one call share one dtype, except index arrays (Int32Array).
// Kernels write into caller-allocated outputs; sizes are explicit so the native side
// can check every length before touching memory.

export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

// Op codes. Each kernel family that switches on an op takes it as a number: the op's index in
// the family's name list below. These lists are the one declaration of the codes: the registry
// (lib/ops/registry.ts) declares each op against them, the js backend dispatches through them,
// and the addon exports its own name lists (native/op_codes.h), which test/op-registry.test.ts
// requires to equal these, in order. New ops are appended: a code never changes meaning.

/** Elementwise unary ops (`unary`, `unaryBackward`). */
export const UNARY_OPS = [
  'relu',
  'leakyRelu', // p0 = negative slope
  'sigmoid',
  'tanh',
  'gelu', // exact (erf) form
  'exp',
  'log',
  'sqrt',
  'abs',
  'neg',
  'sign', // forward only; backward is zero
  'softplus', // p0 = beta, p1 = threshold: x where beta*x > threshold, else log1p(exp(beta*x))/beta
  'silu', // x * sigmoid(x)
  'elu', // p0 = alpha: x where x > 0, else alpha * expm1(x)
] as const;

/** Elementwise binary ops with NumPy broadcasting (`binary`, `binaryScalar`). */
export const BINARY_OPS = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
  'gt',
  'lt',
  'ge',
  'le',
  'eq', // comparisons write 1 or 0
] as const;

/** Reductions over one axis of a tensor viewed as [outer, n, inner] (`reduce`). */
export const REDUCE_OPS = ['sum', 'mean', 'max', 'min'] as const;

/** Recurrent cells of rnnCellForward / rnnCellBackward (nn.RNN tanh / relu, nn.LSTM, nn.GRU). */
export const RNN_CELLS = ['rnnTanh', 'rnnRelu', 'lstm', 'gru'] as const;

/** name -> index, with each code's literal type (UnaryOp.relu has type 0). */
type CodesOf<N extends readonly string[]> = {
  readonly [I in keyof N & `${number}` as N[I] & string]: I extends `${infer C extends number}` ? C : never;
};

function codesOf<const N extends readonly string[]>(names: N): CodesOf<N> {
  return Object.freeze(Object.fromEntries(names.map((n, i) => [n, i]))) as CodesOf<N>;
}

export const UnaryOp = codesOf(UNARY_OPS);
export type UnaryOp = (typeof UnaryOp)[keyof typeof UnaryOp];
export type UnaryName = (typeof UNARY_OPS)[number];
export const BinaryOp = codesOf(BINARY_OPS);
export type BinaryOp = (typeof BinaryOp)[keyof typeof BinaryOp];
export type BinaryName = (typeof BINARY_OPS)[number];
export const ReduceOp = codesOf(REDUCE_OPS);
export type ReduceOp = (typeof ReduceOp)[keyof typeof ReduceOp];
export const RnnCell = codesOf(RNN_CELLS);
export type RnnCell = (typeof RnnCell)[keyof typeof RnnCell];

/** The op-code families and their name lists, as the addon's `_opNames()` reports them. */
export const OP_FAMILIES = { unary: UNARY_OPS, binary: BINARY_OPS, reduce: REDUCE_OPS, rnnCell: RNN_CELLS } as const;

/** SIMD levels the addon can run; arm64 builds run the portable `scalar` kernels. */
export type SimdLevel = 'avx512' | 'avx2' | 'scalar';

export interface BackendInfo {
  name: 'native' | 'js';
  /** 'openblas <version>' or 'builtin' (js reports 'js'). */
  blas: string;
  simd: SimdLevel;
  threads: number;
}

/** The sparse conv kernels' layout codes (native/sparse.h SparseLayout), in order. */
export const SPARSE_LAYOUTS = ['auto', 'batch', 'width'] as const;
export type SparseLayoutName = (typeof SPARSE_LAYOUTS)[number];

/** The geometry arguments every conv kernel takes, in this order (see the conv section below). */
export type ConvGeometryArgs = [
  n: number,
  cIn: number,
  h: number,
  w: number,
  cOut: number,
  kH: number,
  kW: number,
  strideH: number,
  strideW: number,
  padH: number,
  padW: number,
  dilationH: number,
  dilationW: number,
];

/** The geometry arguments every pooling kernel takes, in this order. */
export type PoolGeometryArgs = [
  planes: number,
  h: number,
  w: number,
  kH: number,
  kW: number,
  strideH: number,
  strideW: number,
  padH: number,
  padW: number,
];

export interface Backend {
  readonly name: 'native' | 'js';
  info(): BackendInfo;
  /** Threads used by GEMM and large kernels (OpenBLAS or the built-in pool). */
  setNumThreads(n: number): void;

  /**
   * C[i] = alpha * op(A[i]) @ op(B[i]) + beta * C[i] for i < batch, row-major.
   * op(A) is m×k (A stored k×m when transA), op(B) is k×n (B stored n×k when transB).
   * Element offsets of batch i: aOffset + i*strideA etc.; a stride of 0 broadcasts.
   * beta = 0 ignores the previous contents of C (NaN in C does not leak).
   */
  gemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: FloatArray,
    b: FloatArray,
    beta: number,
    c: FloatArray,
    batch?: number,
    strideA?: number,
    strideB?: number,
    strideC?: number,
    aOffset?: number,
    bOffset?: number,
    cOffset?: number,
  ): void;

  /**
   * y = f(x); p0 and p1 are the op's parameters (see UNARY_OPS: leakyRelu's slope, elu's alpha,
   * softplus's beta and threshold), ignored by ops without them. y may be x.
   */
  unary(op: UnaryOp, x: FloatArray, y: FloatArray, p0: number, p1: number): void;
  /**
   * gx = gy * f'(x), given x and y = f(x) (each kernel reads whichever it needs; both must be
   * passed with the full length). gx may alias gy.
   */
  unaryBackward(
    op: UnaryOp,
    x: FloatArray,
    y: FloatArray,
    gy: FloatArray,
    gx: FloatArray,
    p0: number,
    p1: number,
  ): void;

  /**
   * out = a (op) b with NumPy broadcasting; out has the broadcast shape of aShape and bShape
   * (at most 8 dims). Comparison ops write 1 or 0. out may be a itself when a already has the
   * broadcast shape (each element is read before it is written): the autograd engine adds
   * gradients in place this way.
   */
  binary(
    op: BinaryOp,
    a: FloatArray,
    aShape: readonly number[],
    b: FloatArray,
    bShape: readonly number[],
    out: FloatArray,
  ): void;
  /** out = a (op) scalar, or scalar (op) a when scalarFirst. */
  binaryScalar(op: BinaryOp, a: FloatArray, scalar: number, out: FloatArray, scalarFirst: boolean): void;

  /** out[o, i] = reduce over j of x[o, j, i]; x has outer*n*inner elements, out outer*inner. */
  reduce(op: ReduceOp, x: FloatArray, outer: number, n: number, inner: number, out: FloatArray): void;
  /** Like reduce(max) but also writes the index j of the (first) maximum. */
  maxAxis(x: FloatArray, outer: number, n: number, inner: number, out: FloatArray, indices: Int32Array): void;
  /** Index of the (first) maximum over the axis. */
  argmax(x: FloatArray, outer: number, n: number, inner: number, indices: Int32Array): void;

  /** Row-wise over the last axis of a rows×cols matrix; numerically stable. */
  softmax(x: FloatArray, rows: number, cols: number, y: FloatArray): void;
  logSoftmax(x: FloatArray, rows: number, cols: number, y: FloatArray): void;
  /** gx = y * (gy - sum(gy*y)) per row, y = softmax(x). */
  softmaxBackward(y: FloatArray, gy: FloatArray, rows: number, cols: number, gx: FloatArray): void;
  /** gx = gy - exp(y) * sum(gy) per row, y = logSoftmax(x). */
  logSoftmaxBackward(y: FloatArray, gy: FloatArray, rows: number, cols: number, gx: FloatArray): void;
  /**
   * Fused softmax cross-entropy with class-index targets, one pass per row:
   * losses[r] = logsumexp(x[r]) - x[r, t[r]]; when grad is given,
   * grad[r, c] = scale * (softmax(x[r])[c] - [c == t[r]]).
   * A target outside [0, cols) throws a RangeError.
   */
  softmaxCrossEntropy(
    logits: FloatArray,
    rows: number,
    cols: number,
    targets: Int32Array,
    losses: FloatArray,
    grad: FloatArray | null,
    scale: number,
  ): void;

  /** out[r, c] = x[r, c] + bias[c]. out may be x. */
  biasAdd(x: FloatArray, rows: number, cols: number, bias: FloatArray, out: FloatArray): void;
  /** gb[c] = sum over r of gy[r, c] (overwrites gb). */
  biasGrad(gy: FloatArray, rows: number, cols: number, gb: FloatArray): void;

  /**
   * out = x permuted: out has shape shape[perm[0]], shape[perm[1]], ...; a general strided copy
   * behind transpose/permute (at most 8 dims).
   */
  permute(x: FloatArray, shape: readonly number[], perm: readonly number[], out: FloatArray): void;
  /** out[o, j, i] = x[o, indices[j], i]; x is outer×n×inner, out outer×indices.length×inner. */
  gather(x: FloatArray, outer: number, n: number, inner: number, indices: Int32Array, out: FloatArray): void;
  /** gx[o, indices[j], i] += g[o, j, i] (accumulates; repeated indices add up). */
  scatterAdd(g: FloatArray, outer: number, n: number, inner: number, indices: Int32Array, gx: FloatArray): void;

  /**
   * Fused SGD step over one parameter, torch.optim.SGD's rule:
   * g = grad + weightDecay*param; if momentum != 0: buf = firstStep ? g : momentum*buf + (1-dampening)*g,
   * g = nesterov ? g + momentum*buf : buf; param -= lr*g. buf may be null when momentum is 0.
   */
  sgdStep(
    param: FloatArray,
    grad: FloatArray,
    buf: FloatArray | null,
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
    firstStep: boolean,
  ): void;
  /**
   * Fused Adam/AdamW step, torch.optim.Adam's rule (step counts from 1). decoupled = AdamW
   * (param *= 1 - lr*weightDecay) instead of L2 added to the gradient. maxExpAvgSq only with amsgrad.
   */
  adamStep(
    param: FloatArray,
    grad: FloatArray,
    expAvg: FloatArray,
    expAvgSq: FloatArray,
    maxExpAvgSq: FloatArray | null,
    step: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    weightDecay: number,
    decoupled: boolean,
  ): void;

  // ---- convolution, pooling and batch-norm statistics (NCHW) ----------------------------------
  // Geometry arguments, in this order, for every conv kernel: n, cIn, h, w (input), cOut, kH, kW
  // (kernel), strideH, strideW, padH, padW, dilationH, dilationW. The output is n×cOut×oH×oW with
  // oH = floor((h + 2*padH - dilationH*(kH-1) - 1) / strideH) + 1 (likewise oW); a geometry whose
  // output would be empty (kernel larger than the padded input) throws a RangeError.
  // Pooling kernels take: planes (= n*c), h, w, kH, kW, strideH, strideW, padH, padW.

  /**
   * y = conv2d(x, weight) + bias (cross-correlation, groups = 1): x is n×cIn×h×w, weight
   * cOut×cIn×kH×kW, bias cOut or null, y n×cOut×oH×oW (overwritten).
   */
  conv2d(
    x: FloatArray,
    weight: FloatArray,
    bias: FloatArray | null,
    y: FloatArray,
    ...geometry: ConvGeometryArgs
  ): void;
  /** gx = d<conv2d(x, weight), gy>/dx (a transposed convolution of gy); gx (n×cIn×h×w) is overwritten. */
  conv2dBackwardInput(gy: FloatArray, weight: FloatArray, gx: FloatArray, ...geometry: ConvGeometryArgs): void;
  /**
   * gw = d<conv2d(x, w), gy>/dw (cOut×cIn×kH×kW, overwritten) and, when gb is not null, the bias
   * gradient gb[c] = sum of gy over n, oH, oW (overwritten).
   */
  conv2dBackwardWeight(
    x: FloatArray,
    gy: FloatArray,
    gw: FloatArray,
    gb: FloatArray | null,
    ...geometry: ConvGeometryArgs
  ): void;

  /**
   * Max pooling of each h×w plane (padding counts as -Infinity); y is planes×oH×oW and indices
   * (same length) receives the flat index (row*w + col) within its plane of the first maximum.
   */
  maxPool2d(x: FloatArray, y: FloatArray, indices: Int32Array, ...geometry: PoolGeometryArgs): void;
  /** gx = 0, then gx[plane, indices[plane, j]] += gy[plane, j]; an index outside the plane throws. */
  maxPool2dBackward(gy: FloatArray, indices: Int32Array, gx: FloatArray, ...geometry: PoolGeometryArgs): void;
  /** Average pooling, padding counted in the divisor (torch's count_include_pad = true): sum / (kH*kW). */
  avgPool2d(x: FloatArray, y: FloatArray, ...geometry: PoolGeometryArgs): void;
  /** gx (overwritten) = the adjoint of avgPool2d applied to gy. */
  avgPool2dBackward(gy: FloatArray, gx: FloatArray, ...geometry: PoolGeometryArgs): void;

  /**
   * Per-channel statistics of x viewed as n×c×inner: mean[c] and the biased variance var[c]
   * over n and inner (two-pass, so no cancellation).
   */
  batchNormStats(x: FloatArray, n: number, c: number, inner: number, mean: FloatArray, variance: FloatArray): void;
  /** y[i, c, j] = x[i, c, j] * scale[c] + shift[c] over x viewed as n×c×inner; y may be x. */
  channelAffine(
    x: FloatArray,
    n: number,
    c: number,
    inner: number,
    scale: FloatArray,
    shift: FloatArray,
    y: FloatArray,
  ): void;
  /**
   * One time step of a recurrent cell (see RnnCell), fused into one pass over batch×hidden:
   * adds the two projections and the hidden bias, applies the gate nonlinearities and the state
   * update. G = gates per cell: 1 (RNN), 4 (LSTM, torch order i, f, g, o), 3 (GRU, r, z, n).
   * xp [batch, G*hidden]: x W_ihᵀ + b_ih of this step; hh [batch, G*hidden]: hPrev W_hhᵀ (no bias);
   * bHh [G*hidden] or null; hPrev [batch, hidden] (read by GRU; may be null otherwise);
   * cPrev [batch, hidden] (LSTM; null otherwise). Writes h [batch, hidden], c [batch, hidden]
   * (LSTM; null otherwise) and saved [batch, 4*hidden], what rnnCellBackward needs (LSTM: the
   * activated i, f, g, o; GRU: r, z, n and W_hn hPrev + b_hn; RNN: unused, may be null).
   */
  rnnCellForward(
    cell: RnnCell,
    batch: number,
    hidden: number,
    xp: FloatArray,
    hh: FloatArray,
    bHh: FloatArray | null,
    hPrev: FloatArray | null,
    cPrev: FloatArray | null,
    h: FloatArray,
    c: FloatArray | null,
    saved: FloatArray | null,
  ): void;
  /**
   * The backward of one rnnCellForward step. The gradient reaching h is gh + ghNext (ghNext, from
   * the next time step, may be null), the one reaching c is gcNext (LSTM; null = zero).
   * Reads saved, hPrev (GRU), cPrev and c (LSTM), h (RNN). Writes gxp [batch, G*hidden] (gradient
   * of xp); ghh [batch, G*hidden] (GRU: gradient of hh + bHh, which differs from gxp in the n
   * gate; must be null for RNN/LSTM, where it equals gxp); ghPrev [batch, hidden]: the part of the
   * gradient of hPrev that does not go through hh (GRU: z * gh; zero otherwise), to which the
   * caller adds ghh W_hh; gcPrev [batch, hidden] (LSTM; null otherwise).
   */
  rnnCellBackward(
    cell: RnnCell,
    batch: number,
    hidden: number,
    saved: FloatArray | null,
    hPrev: FloatArray | null,
    cPrev: FloatArray | null,
    c: FloatArray | null,
    h: FloatArray | null,
    gh: FloatArray,
    ghNext: FloatArray | null,
    gcNext: FloatArray | null,
    gxp: FloatArray,
    ghh: FloatArray | null,
    ghPrev: FloatArray,
    gcPrev: FloatArray | null,
  ): void;
  /**
   * Fused scaled-dot-product attention over batch×heads independent problems:
   * out [B, H, Lq, Dv] = softmax(scale * q kᵀ + mask) v, with q [B, H, Lq, D], k [B, H, Lk, D],
   * v [B, H, Lk, Dv] (Lk, D, Dv >= 1). mask (or null) is additive; element (b, h, i, j) sits at
   * mask[b*maskB + h*maskH + i*maskI + j] (a stride of 0 broadcasts). causal hides key j from
   * query i when j > i. dropoutP in [0, 1] zeroes weight (b, h, i, j) when
   * attentionDropoutHash(seed, (b*H + h)*Lq + i, j) < dropoutP * 2^32 and scales the others by
   * 1 / (1 - dropoutP) (seed: an integer in [0, 2^32)). Writes out and lse [B, H, Lq], each row's
   * log-sum-exp of the masked scores before dropout (-inf where a row sees no key; that row of
   * out is NaN). Never forms the Lq×Lk matrix.
   */
  attentionForward(
    batch: number,
    heads: number,
    lq: number,
    lk: number,
    d: number,
    dv: number,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    mask: FloatArray | null,
    maskB: number,
    maskH: number,
    maskI: number,
    causal: boolean,
    scale: number,
    dropoutP: number,
    seed: number,
    out: FloatArray,
    lse: FloatArray,
  ): void;
  /**
   * The backward of attentionForward (same arguments, dropout included) given its out and lse
   * and gOut = dL/d(out): overwrites gq, gk, gv (shaped like q, k, v), recomputing the
   * probabilities and the dropout mask tile by tile. The mask gets no gradient.
   */
  attentionBackward(
    batch: number,
    heads: number,
    lq: number,
    lk: number,
    d: number,
    dv: number,
    q: FloatArray,
    k: FloatArray,
    v: FloatArray,
    mask: FloatArray | null,
    maskB: number,
    maskH: number,
    maskI: number,
    causal: boolean,
    scale: number,
    dropoutP: number,
    seed: number,
    out: FloatArray,
    lse: FloatArray,
    gOut: FloatArray,
    gq: FloatArray,
    gk: FloatArray,
    gv: FloatArray,
  ): void;

  // Sparse-weight convolution (SparseProp): the weight cOut×(cIn·kH·kW) in CSR form, rowPtr
  // (cOut + 1 entries, from 0, nondecreasing), colIdx (rowPtr[cOut] column indices below
  // cIn·kH·kW) and its nonzero values in that order. A linear layer is the 1×1 case. layout is a
  // SPARSE_LAYOUTS code: the js kernels compute the same sums whatever it says; the native ones
  // pack the operands that way ('auto': chosen by shape).
  /** y = conv2d(x, W) + bias with W given by (values, rowPtr, colIdx); y (n×cOut×oH×oW) is overwritten. */
  sparseConv2d(
    x: FloatArray,
    values: FloatArray,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    bias: FloatArray | null,
    y: FloatArray,
    ...geometry: [...ConvGeometryArgs, layout: number]
  ): void;
  /** gx = d<sparseConv2d(x, W), gy>/dx; gx (n×cIn×h×w) is overwritten. */
  sparseConv2dBackwardInput(
    gy: FloatArray,
    values: FloatArray,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    gx: FloatArray,
    ...geometry: [...ConvGeometryArgs, layout: number]
  ): void;
  /** gv = d<sparseConv2d(x, W), gy>/dvalues, one entry per nonzero (overwritten). */
  sparseConv2dBackwardValues(
    x: FloatArray,
    gy: FloatArray,
    rowPtr: Int32Array,
    colIdx: Int32Array,
    gv: FloatArray,
    ...geometry: [...ConvGeometryArgs, layout: number]
  ): void;
}

/**
 * One convolution's geometry: the conv kernels' size arguments (n, cIn, h, w, cOut, kH, kW, stride,
 * padding and dilation per axis) and the output size they imply. The ops and the js backend both
 * work from it.
 */
export interface ConvGeometry {
  n: number;
  cIn: number;
  h: number;
  w: number;
  cOut: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  dH: number;
  dW: number;
  oH: number;
  oW: number;
}

/** The kernels of the Backend interface (everything but its name and info/setNumThreads). */
export type KernelName = Exclude<keyof Backend, 'name' | 'info' | 'setNumThreads'>;

/**
 * The kernel names at run time, for the native loader's completeness check and the tests that
 * walk every kernel. The type below makes this list and the Backend interface agree exactly.
 */
export const KERNEL_NAMES = [
  'gemm',
  'unary',
  'unaryBackward',
  'binary',
  'binaryScalar',
  'reduce',
  'maxAxis',
  'argmax',
  'softmax',
  'logSoftmax',
  'softmaxBackward',
  'logSoftmaxBackward',
  'softmaxCrossEntropy',
  'biasAdd',
  'biasGrad',
  'permute',
  'gather',
  'scatterAdd',
  'sgdStep',
  'adamStep',
  'conv2d',
  'conv2dBackwardInput',
  'conv2dBackwardWeight',
  'maxPool2d',
  'maxPool2dBackward',
  'avgPool2d',
  'avgPool2dBackward',
  'batchNormStats',
  'channelAffine',
  'rnnCellForward',
  'rnnCellBackward',
  'attentionForward',
  'attentionBackward',
  'sparseConv2d',
  'sparseConv2dBackwardInput',
  'sparseConv2dBackwardValues',
] as const satisfies readonly KernelName[];

type Missing = Exclude<KernelName, (typeof KERNEL_NAMES)[number]>;
// A compile error here names a Backend kernel that KERNEL_NAMES lacks.
const everyKernelListed: [Missing] extends [never] ? true : Missing = true;
void everyKernelListed;
