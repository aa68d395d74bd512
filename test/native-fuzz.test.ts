// Every export of the addon called with thousands of malformed argument lists: wrong counts,
// wrong types, short arrays, mixed dtypes, negative/huge/NaN/fractional sizes, out-of-range
// indices and targets. Each call must throw a TypeError or RangeError whose message names the
// function; none may crash the process or write out of bounds (checked with guard arrays).
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import type { NativeBackend } from '../lib/backend/native.js';
import { tryLoadNative } from './support/native.js';
import { isResizable, resizableBuffer, sharedBuffer } from './support/buffers.js';
import { Rng } from './support/random.js';
import { OP_FAMILIES } from '../lib/backend/types.js';

const { native, loadError } = tryLoadNative();

type FloatCtor = Float32ArrayConstructor | Float64ArrayConstructor;

// Argument kinds; each knows values that are invalid wherever that kind is expected.
type Kind =
  | { k: 'bool' }
  | { k: 'size' }
  | { k: 'num' }
  | { k: 'op'; count: number }
  | { k: 'step' }
  | { k: 'f' }
  | { k: 'fNull' }
  | { k: 'i32'; bound?: number; shortOk?: boolean }
  | { k: 'shape' }
  | { k: 'perm' }
  | { k: 'str' }
  | { k: 'stride' };

interface Arg {
  name: string;
  kind: Kind;
  make: (F: FloatCtor) => unknown;
}
interface Spec {
  fn: string;
  args: Arg[];
  optionalFrom?: number;
}

const f = (name: string, n: number): Arg => ({ name, kind: { k: 'f' }, make: (F) => new F(n).fill(0.5) });
const fNull = (name: string, n: number | null): Arg => ({
  name,
  kind: { k: 'fNull' },
  make: (F) => (n === null ? null : new F(n).fill(0.5)),
});
const size = (name: string, v: number): Arg => ({ name, kind: { k: 'size' }, make: () => v });
const num = (name: string, v: number): Arg => ({ name, kind: { k: 'num' }, make: () => v });
const bool = (name: string, v: boolean): Arg => ({ name, kind: { k: 'bool' }, make: () => v });
const op = (count: number, v: number): Arg => ({ name: 'op', kind: { k: 'op', count }, make: () => v });
const i32 = (name: string, values: number[], bound?: number, shortOk = false): Arg => ({
  name,
  kind: { k: 'i32', bound, shortOk },
  make: () => Int32Array.from(values),
});
const shape = (name: string, v: number[]): Arg => ({ name, kind: { k: 'shape' }, make: () => v.slice() });

// Conv geometry n, cIn, h, w, cOut, kH, kW, strideH, strideW, padH, padW, dilationH, dilationW:
// 1x2x4x4 input, 3 output channels, 3x3 kernel, padding 1 -> 1x3x4x4 output. A huge stride only
// shrinks the output (valid), so strides get their own kind.
const stride = (name: string): Arg => ({ name, kind: { k: 'stride' }, make: () => 1 });
const convGeom = (): Arg[] => [
  size('n', 1),
  size('cIn', 2),
  size('h', 4),
  size('w', 4),
  size('cOut', 3),
  size('kH', 3),
  size('kW', 3),
  stride('strideH'),
  stride('strideW'),
  size('padH', 1),
  size('padW', 1),
  size('dilationH', 1),
  size('dilationW', 1),
];
// Pool geometry planes, h, w, kH, kW, strideH, strideW, padH, padW: 2 planes of 4x4, 2x2 windows,
// stride 2 -> 2 planes of 2x2.
const poolGeom = (): Arg[] => [
  size('planes', 2),
  size('h', 4),
  size('w', 4),
  size('kH', 2),
  size('kW', 2),
  { name: 'strideH', kind: { k: 'stride' }, make: () => 2 },
  { name: 'strideW', kind: { k: 'stride' }, make: () => 2 },
  size('padH', 0),
  size('padW', 0),
];

// Op codes run from 0 to the length of their family's name list (one past is invalid).
const UNARY_COUNT = OP_FAMILIES.unary.length;
const BINARY_COUNT = OP_FAMILIES.binary.length;
const REDUCE_COUNT = OP_FAMILIES.reduce.length;
const CELL_COUNT = OP_FAMILIES.rnnCell.length;

// Valid calls (every array exactly as long as it must be, so one element less is invalid).
const SPECS: Spec[] = [
  {
    fn: 'gemm',
    optionalFrom: 10,
    args: [
      bool('transA', false),
      bool('transB', true),
      size('m', 2),
      size('n', 3),
      size('k', 4),
      num('alpha', 1),
      f('a', 16),
      f('b', 24),
      num('beta', 0),
      f('c', 12),
      size('batch', 2),
      size('strideA', 8),
      size('strideB', 12),
      size('strideC', 6),
      size('aOffset', 0),
      size('bOffset', 0),
      size('cOffset', 0),
    ],
  },
  { fn: 'unary', args: [op(UNARY_COUNT, 2), f('x', 5), f('y', 5), num('p0', 0.1), num('p1', 20)] },
  {
    fn: 'unaryBackward',
    args: [op(UNARY_COUNT, 4), f('x', 5), f('y', 5), f('gy', 5), f('gx', 5), num('p0', 0.1), num('p1', 20)],
  },
  {
    fn: 'binary',
    args: [op(BINARY_COUNT, 0), f('a', 6), shape('aShape', [2, 3]), f('b', 3), shape('bShape', [3]), f('out', 6)],
  },
  {
    fn: 'binaryScalar',
    args: [op(BINARY_COUNT, 3), f('a', 5), num('scalar', 2), f('out', 5), bool('scalarFirst', true)],
  },
  {
    fn: 'reduce',
    args: [op(REDUCE_COUNT, 2), f('x', 24), size('outer', 2), size('n', 3), size('inner', 4), f('out', 8)],
  },
  {
    fn: 'maxAxis',
    args: [
      f('x', 24),
      size('outer', 2),
      size('n', 3),
      size('inner', 4),
      f('out', 8),
      i32('indices', [0, 0, 0, 0, 0, 0, 0, 0]),
    ],
  },
  {
    fn: 'argmax',
    args: [f('x', 24), size('outer', 2), size('n', 3), size('inner', 4), i32('indices', [0, 0, 0, 0, 0, 0, 0, 0])],
  },
  { fn: 'softmax', args: [f('x', 6), size('rows', 2), size('cols', 3), f('y', 6)] },
  { fn: 'logSoftmax', args: [f('x', 6), size('rows', 2), size('cols', 3), f('y', 6)] },
  { fn: 'softmaxBackward', args: [f('y', 6), f('gy', 6), size('rows', 2), size('cols', 3), f('gx', 6)] },
  { fn: 'logSoftmaxBackward', args: [f('y', 6), f('gy', 6), size('rows', 2), size('cols', 3), f('gx', 6)] },
  {
    fn: 'softmaxCrossEntropy',
    args: [
      f('logits', 6),
      size('rows', 2),
      size('cols', 3),
      i32('targets', [0, 2], 3),
      f('losses', 2),
      fNull('grad', 6),
      num('scale', 0.5),
    ],
  },
  { fn: 'biasAdd', args: [f('x', 6), size('rows', 2), size('cols', 3), f('bias', 3), f('out', 6)] },
  { fn: 'biasGrad', args: [f('gy', 6), size('rows', 2), size('cols', 3), f('gb', 3)] },
  {
    fn: 'permute',
    args: [f('x', 6), shape('shape', [2, 3]), { name: 'perm', kind: { k: 'perm' }, make: () => [1, 0] }, f('out', 6)],
  },
  {
    fn: 'gather',
    args: [f('x', 24), size('outer', 2), size('n', 3), size('inner', 4), i32('indices', [0, 2], 3, true), f('out', 16)],
  },
  {
    fn: 'scatterAdd',
    args: [f('g', 16), size('outer', 2), size('n', 3), size('inner', 4), i32('indices', [0, 2], 3, true), f('gx', 24)],
  },
  {
    fn: 'sgdStep',
    args: [
      f('param', 5),
      f('grad', 5),
      fNull('buf', 5),
      num('lr', 0.1),
      num('momentum', 0.9),
      num('dampening', 0),
      num('weightDecay', 0),
      bool('nesterov', false),
      bool('firstStep', true),
    ],
  },
  {
    fn: 'adamStep',
    args: [
      f('param', 5),
      f('grad', 5),
      f('expAvg', 5),
      f('expAvgSq', 5),
      fNull('maxExpAvgSq', 5),
      { name: 'step', kind: { k: 'step' }, make: () => 1 },
      num('lr', 1e-3),
      num('beta1', 0.9),
      num('beta2', 0.999),
      num('eps', 1e-8),
      num('weightDecay', 0),
      bool('decoupled', false),
    ],
  },
  { fn: 'conv2d', args: [f('x', 32), f('weight', 54), fNull('bias', 3), f('y', 48), ...convGeom()] },
  { fn: 'conv2dBackwardInput', args: [f('gy', 48), f('weight', 54), f('gx', 32), ...convGeom()] },
  { fn: 'conv2dBackwardWeight', args: [f('x', 32), f('gy', 48), f('gw', 54), fNull('gb', 3), ...convGeom()] },
  { fn: 'maxPool2d', args: [f('x', 32), f('y', 8), i32('indices', [0, 0, 0, 0, 0, 0, 0, 0]), ...poolGeom()] },
  // Sparse conv on the same geometry: a CSR pattern of 5 nonzeros over [3, 2*3*3].
  {
    fn: 'sparseConv2d',
    args: [
      f('x', 32),
      f('values', 5),
      i32('rowPtr', [0, 2, 3, 5]),
      i32('colIdx', [0, 17, 5, 3, 9], 18),
      fNull('bias', 3),
      f('y', 48),
      ...convGeom(),
      op(3, 0),
    ],
  },
  {
    fn: 'sparseConv2dBackwardInput',
    args: [
      f('gy', 48),
      f('values', 5),
      i32('rowPtr', [0, 2, 3, 5]),
      i32('colIdx', [0, 17, 5, 3, 9], 18),
      f('gx', 32),
      ...convGeom(),
      op(3, 2),
    ],
  },
  {
    fn: 'sparseConv2dBackwardValues',
    args: [
      f('x', 32),
      f('gy', 48),
      i32('rowPtr', [0, 2, 3, 5]),
      i32('colIdx', [0, 17, 5, 3, 9], 18),
      f('gv', 5),
      ...convGeom(),
      op(3, 1),
    ],
  },
  {
    fn: 'maxPool2dBackward',
    args: [f('gy', 8), i32('indices', [0, 1, 4, 5, 15, 3, 2, 0], 16), f('gx', 32), ...poolGeom()],
  },
  { fn: 'avgPool2d', args: [f('x', 32), f('y', 8), ...poolGeom()] },
  { fn: 'avgPool2dBackward', args: [f('gy', 8), f('gx', 32), ...poolGeom()] },
  {
    fn: 'batchNormStats',
    args: [f('x', 24), size('n', 2), size('c', 3), size('inner', 4), f('mean', 3), f('variance', 3)],
  },
  {
    fn: 'channelAffine',
    args: [f('x', 24), size('n', 2), size('c', 3), size('inner', 4), f('scale', 3), f('shift', 3), f('y', 24)],
  },
  // An LSTM step (cell 2: 4 gates) and a GRU backward step (cell 3: 3 gates), batch 2, hidden 3.
  {
    fn: 'rnnCellForward',
    args: [
      { name: 'cell', kind: { k: 'op', count: CELL_COUNT }, make: () => 2 },
      size('batch', 2),
      size('hidden', 3),
      f('xp', 24),
      f('hh', 24),
      fNull('bHh', 12),
      fNull('hPrev', 6),
      f('cPrev', 6),
      f('h', 6),
      f('c', 6),
      f('saved', 24),
    ],
  },
  {
    fn: 'rnnCellBackward',
    args: [
      { name: 'cell', kind: { k: 'op', count: CELL_COUNT }, make: () => 3 },
      size('batch', 2),
      size('hidden', 3),
      f('saved', 24),
      f('hPrev', 6),
      fNull('cPrev', 6),
      fNull('c', 6),
      fNull('h', 6),
      f('gh', 6),
      fNull('ghNext', 6),
      fNull('gcNext', 6),
      f('gxp', 18),
      f('ghh', 18),
      f('ghPrev', 6),
      fNull('gcPrev', 6),
    ],
  },
  // 2 batches x 2 heads, 2 queries, 3 keys, width 2; a full [2, 2, 2, 3] mask, so that every
  // stride counts in the mask's extent (24 elements).
  ...(['attentionForward', 'attentionBackward'] as const).map((fn) => ({
    fn,
    args: [
      size('batch', 2),
      size('heads', 2),
      size('lq', 2),
      size('lk', 3),
      size('d', 2),
      size('dv', 2),
      f('q', 16),
      f('k', 24),
      f('v', 24),
      fNull('mask', 24),
      size('maskStrideB', 12),
      size('maskStrideH', 6),
      size('maskStrideI', 3),
      bool('causal', false),
      num('scale', 0.7),
      num('dropoutP', 0.25),
      num('seed', 7),
      f('out', 16),
      f('lse', 8),
      ...(fn === 'attentionBackward' ? [f('gOut', 16), f('gq', 16), f('gk', 24), f('gv', 24)] : []),
    ],
  })),
  { fn: 'setNumThreads', args: [size('n', 2)] },
  { fn: '_setSimd', args: [{ name: 'level', kind: { k: 'str' }, make: () => 'scalar' }] },
  { fn: '_setBlas', args: [{ name: 'which', kind: { k: 'str' }, make: () => 'builtin' }] },
  { fn: 'info', args: [] },
  { fn: '_simdLevels', args: [] },
  { fn: '_opNames', args: [] },
];

const JUNK: unknown[] = [
  undefined,
  null,
  'x',
  '2',
  {},
  [],
  () => 1,
  Symbol('s'),
  1n,
  new ArrayBuffer(8),
  new DataView(new ArrayBuffer(8)),
];

function floatArrayCount(spec: Spec): number {
  return spec.args.filter((a) => a.kind.k === 'f' || (a.kind.k === 'fNull' && a.make(Float32Array) !== null)).length;
}

/** Values that are invalid where an argument of this kind (currently built from `valid`) is expected. */
function invalidValues(kind: Kind, valid: unknown, F: FloatCtor, floatArrays: number): unknown[] {
  const other = F === Float32Array ? Float64Array : Float32Array;
  switch (kind.k) {
    case 'bool':
      return [0, 1, 'true', null, undefined, {}, NaN, 1n];
    case 'size':
      return [
        -1,
        -0.5,
        1.5,
        NaN,
        Infinity,
        -Infinity,
        2 ** 31,
        2 ** 53,
        1e300,
        1000,
        2 ** 31 - 1,
        '2',
        null,
        undefined,
        true,
        {},
        1n,
      ];
    case 'num':
      return ['1', null, undefined, true, {}, [], 1n, Symbol('n')];
    case 'op':
      return [-1, kind.count, 1.5, NaN, Infinity, 2 ** 31, '0', null, undefined, true];
    case 'step':
      return [0, -1, 1.5, NaN, Infinity, '1', null, undefined];
    case 'stride':
      return [0, -1, 1.5, NaN, Infinity, 2 ** 53, '1', null, undefined, {}];
    case 'str':
      return ['avx9', '', 'sse4', 'OPENBLAS', 1, null, undefined, {}];
    case 'shape':
      return [
        'x',
        {},
        null,
        undefined,
        6,
        [-1],
        [1.5],
        [NaN],
        [2 ** 31],
        ['2', '3'],
        new Array(9).fill(1),
        [7],
        [2, 3, 5],
        Int32Array.of(2, 3),
      ];
    case 'perm':
      return ['x', null, [0, 0], [1, 2], [0], [-1, 0], [0, 1, 2], [0.5, 1]];
    case 'i32': {
      const a = valid as Int32Array;
      const out: unknown[] = [
        null,
        undefined,
        [0, 1],
        Float32Array.from(a),
        Float64Array.from(a),
        Uint32Array.from(a),
        new Int16Array(a.length),
      ];
      if (!kind.shortOk) out.push(a.slice(0, a.length - 1));
      if (kind.bound !== undefined) {
        for (const bad of [-1, kind.bound, 2 ** 31 - 1, -(2 ** 31)]) {
          const b = a.slice();
          b[b.length - 1] = bad;
          out.push(b);
        }
      }
      return out;
    }
    case 'f':
    case 'fNull': {
      const a = valid as Float32Array | Float64Array;
      const out: unknown[] = [
        [0.5, 0.5],
        'x',
        1,
        {},
        new Int32Array(a.length),
        new Uint8Array(a.length * 8),
        a.slice(0, a.length - 1),
        new F(0),
        new ArrayBuffer(a.length * F.BYTES_PER_ELEMENT),
      ];
      if (floatArrays > 1) out.push(new other(a.length)); // mixed dtypes within one call
      if (kind.k === 'f') out.push(null, undefined);
      return out;
    }
  }
}

function expectArgError(b: Record<string, unknown>, fn: string, args: unknown[], what: string): void {
  let threw: unknown = null;
  try {
    (b[fn] as (...a: unknown[]) => unknown)(...args);
  } catch (e) {
    threw = e;
  }
  if (!(threw instanceof TypeError || threw instanceof RangeError)) {
    throw new Error(
      `${fn} with ${what}: expected a TypeError or RangeError, got ${threw === null ? 'no error' : inspect(threw)}`,
    );
  }
  if (!threw.message.startsWith(`${fn}:`))
    throw new Error(`${fn} with ${what}: message does not name the function: ${threw.message}`);
}

describe.skipIf(!native)(`native argument fuzzing${native ? '' : ` (SKIPPED: ${loadError})`}`, () => {
  const b = native as unknown as Record<string, unknown>;

  it('exports every kernel of the Backend interface, and this test covers every export', () => {
    for (const s of SPECS) expect(typeof b[s.fn], s.fn).toBe('function');
    expect(b.name).toBe('native');
    const exported = Object.keys(b).filter((k) => typeof b[k] === 'function');
    const covered = new Set(SPECS.map((s) => s.fn));
    expect(
      exported.filter((k) => !covered.has(k)),
      'exports without a fuzz spec',
    ).toEqual([]);
  });

  for (const F of [Float32Array, Float64Array] as FloatCtor[]) {
    it(`rejects every malformed argument of every function (${F.name})`, () => {
      let calls = 0;
      for (const spec of SPECS) {
        const valid = () => spec.args.map((a) => a.make(F));
        // The unmodified call is valid (so each failure below is caused by the mutation).
        if (!spec.fn.startsWith('_') && spec.fn !== 'setNumThreads') {
          (b[spec.fn] as (...a: unknown[]) => unknown)(...valid());
        }
        const min = spec.optionalFrom ?? spec.args.length;
        // Wrong counts: fewer than required, more than accepted.
        for (let n = 0; n < min; n++) {
          expectArgError(b, spec.fn, valid().slice(0, n), `${n} arguments`);
          calls++;
        }
        expectArgError(b, spec.fn, [...valid(), 0], `${spec.args.length + 1} arguments`);
        calls++;
        expectArgError(b, spec.fn, [...valid(), 0, 0, 0], `${spec.args.length + 3} arguments`);
        calls++;
        // One bad argument at a time.
        spec.args.forEach((arg, i) => {
          const base = valid();
          for (const bad of invalidValues(arg.kind, base[i], F, floatArrayCount(spec))) {
            if (i >= min && bad === undefined) continue; // an omitted optional argument is fine
            const args = valid();
            args[i] = bad;
            expectArgError(b, spec.fn, args, `argument ${i + 1} (${arg.name}) = ${show(bad)}`);
            calls++;
          }
        });
      }
      expect(calls).toBeGreaterThan(1500);
    });
  }

  it('rejects random combinations of bad arguments and random junk lists', () => {
    const rng = new Rng(12345);
    let calls = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const spec = SPECS[rng.int(0, SPECS.length)];
      const F = rng.next() < 0.5 ? Float32Array : Float64Array;
      if (spec.args.length === 0 || rng.next() < 0.25) {
        // A list of junk values: no kind accepts junk as its first argument.
        const n = spec.args.length === 0 ? rng.int(1, 5) : rng.int(1, spec.args.length + 3);
        const args = Array.from({ length: n }, () => JUNK[rng.int(2, JUNK.length)]);
        expectArgError(b, spec.fn, args, `junk ${args.map(show).join(', ')}`);
        calls++;
        continue;
      }
      const args = spec.args.map((a) => a.make(F));
      const mutations = rng.int(1, Math.min(4, spec.args.length + 1));
      const what: string[] = [];
      const min = spec.optionalFrom ?? spec.args.length;
      for (let m = 0; m < mutations; m++) {
        const i = rng.int(0, spec.args.length);
        // floatArrays = 1: two arrays both switched to the other dtype would be a valid call.
        const bads = invalidValues(spec.args[i].kind, spec.args[i].make(F), F, 1).filter(
          (v) => !(i >= min && v === undefined),
        );
        args[i] = bads[rng.int(0, bads.length)];
        what.push(`${spec.args[i].name} = ${show(args[i])}`);
      }
      expectArgError(b, spec.fn, args, what.join(', '));
      calls++;
    }
    expect(calls).toBe(3000);
  });

  it('names a missing or non-number op parameter p1 of unary and unaryBackward (the old four/six-argument form)', () => {
    const x = new Float32Array(3);
    expect(() => (b.unary as (...a: unknown[]) => void)(0, x, x, 0)).toThrow(
      new TypeError('unary: argument 5 (p1) must be a number, got undefined'),
    );
    expect(() => (b.unary as (...a: unknown[]) => void)(0, x, x, 0, '20')).toThrow(
      new TypeError('unary: argument 5 (p1) must be a number, got a string'),
    );
    expect(() => (b.unaryBackward as (...a: unknown[]) => void)(0, x, x, x, x, 0)).toThrow(
      new TypeError('unaryBackward: argument 7 (p1) must be a number, got undefined'),
    );
  });

  it('accepts a zero dimension next to a huge one (nothing to compute, so nothing is looped over)', () => {
    const M = 2 ** 31 - 1;
    for (const F of [Float32Array, Float64Array]) {
      const e = new F(0);
      const none = new Int32Array(0);
      const calls: [string, unknown[]][] = [
        ['gemm', [false, false, 0, 5, 5, 1, e, new F(25), 0, e, M, 0, 0, 0]],
        ['reduce', [0, e, M, 5, 0, e]],
        ['reduce', [2, e, M, 5, 0, e]],
        ['maxAxis', [e, M, 5, 0, e, none]],
        ['argmax', [e, M, 5, 0, none]],
        ['softmax', [e, M, 0, e]],
        ['logSoftmax', [e, M, 0, e]],
        ['softmaxBackward', [e, e, M, 0, e]],
        ['logSoftmaxBackward', [e, e, M, 0, e]],
        ['biasAdd', [e, M, 0, e, e]],
        ['biasGrad', [e, M, 0, e]],
        ['gather', [e, M, 5, 0, Int32Array.of(1, 2, 3), e]],
        ['scatterAdd', [e, M, 5, 0, Int32Array.of(1, 2, 3), e]],
        ['permute', [e, [M, 0], [1, 0], e]],
        ['binary', [0, e, [M, 0], e, [0], e]],
        ['rnnCellForward', [2, M, 0, e, e, null, null, e, e, e, e]],
        ['rnnCellBackward', [3, M, 0, e, e, null, null, null, e, null, null, e, e, e, null]],
      ];
      for (const [fn, args] of calls) expect(() => (b[fn] as (...a: unknown[]) => unknown)(...args), fn).not.toThrow();
    }
  });

  it('never writes outside the arrays it is given, and still computes correctly afterwards', () => {
    // Outputs are views into a larger buffer with guard regions on both sides.
    const guard = 64;
    const buf = new Float64Array(guard + 6 + guard).fill(-7);
    const out = buf.subarray(guard, guard + 6);
    const a = Float64Array.of(1, 2, 3, 4, 5, 6);
    const nb = native as NativeBackend;
    // Too-large sizes are rejected before anything is written.
    expect(() => nb.biasAdd(a, 3, 3, a, out)).toThrow(RangeError);
    expect(() => nb.gemm(false, false, 2, 4, 1, 1, a, a, 0, out)).toThrow(RangeError);
    expect(() => nb.gemm(false, false, 2, 3, 1, 1, a, a, 0, out, 2, 0, 0, 6)).toThrow(RangeError);
    expect(() => nb.gemm(false, false, 1, 3, 1, 1, a, a, 0, out, 1, 0, 0, 0, 0, 0, 4)).toThrow(RangeError);
    expect(() => nb.softmaxCrossEntropy(a, 2, 3, Int32Array.of(0, 3), new Float64Array(2), out, 1)).toThrow(RangeError);
    expect(Array.from(out)).toEqual([-7, -7, -7, -7, -7, -7]);
    // A valid call through the same views: [1 2 3; 4 5 6] @ [1 0; 0 1; 1 1] written at offset 1.
    nb.gemm(false, false, 2, 2, 3, 1, a, Float64Array.of(1, 0, 0, 1, 1, 1), 0, out, 1, 0, 0, 0, 0, 0, 1);
    expect(Array.from(out)).toEqual([-7, 4, 5, 10, 11, -7]);
    for (let i = 0; i < guard; i++) {
      expect(buf[i]).toBe(-7);
      expect(buf[guard + 6 + i]).toBe(-7);
    }
  });
});

// ---- hostile values (issue 10) -----------------------------------------------------------------
// User JS that runs while the addon reads its arguments, buffers that are detached, resizable or
// shared, and values no coercion may touch. Each call must run or throw a TypeError/RangeError
// naming the function (or the getter's own error); a crash fails the whole run.
// BACKPROP_FUZZ_CALLS sets the random calls of the last test (default 10000, about 2 s);
// `npm run fuzz:native` runs 1,000,000.

const GETTER_ERROR = 'hostile getter';

// Int32 values a worker thread flips between in-range and far out of range for as long as the
// hostile tests run: a check of shared memory is not a bound unless the addon copies first.
const RACED = new SharedArrayBuffer(4 * 65);
let racer: Worker | null = null;
function racedIndices(n: number): Int32Array {
  return new Int32Array(RACED, 4, Math.min(n, 64));
}

/** Detaches a typed array's buffer (as a postMessage transfer list does). */
function detach(a: ArrayBufferView): void {
  try {
    structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
  } catch {
    // already detached, or a SharedArrayBuffer (which cannot be)
  }
}

/** The first float array among the call's arguments (a getter's victim), or null. */
function firstFloat(args: unknown[]): Float32Array | Float64Array | null {
  for (const a of args) if (a instanceof Float32Array || a instanceof Float64Array) return a;
  return null;
}

/** Hostile replacements for an argument of this kind; `args` is the call's list (for getters). */
function hostileValues(kind: Kind, valid: unknown, F: FloatCtor, args: unknown[]): (() => unknown)[] {
  const common: (() => unknown)[] = [
    () => 1n,
    () => Symbol('h'),
    () => ({ valueOf: () => 2 }),
    () => new Proxy({}, { get: () => 2 }),
  ];
  switch (kind.k) {
    case 'size':
    case 'stride':
    case 'num':
    case 'step':
    case 'op':
      return [...common, () => 0, () => -0, () => 2 ** 31 - 1, () => Number.MAX_VALUE, () => new Number(2)];
    case 'bool':
      return [...common, () => new Boolean(true)];
    case 'str':
      return common;
    case 'shape':
    case 'perm': {
      const v = valid as number[];
      const withGetter =
        (get: () => number): (() => unknown) =>
        () => {
          const a = v.slice();
          Object.defineProperty(a, 0, { get, enumerable: true });
          return a;
        };
      return [
        ...common,
        () => new Proxy(v.slice(), {}),
        withGetter(() => {
          const victim = firstFloat(args);
          if (victim) detach(victim);
          return v[0];
        }),
        withGetter(() => {
          const victim = firstFloat(args);
          try {
            if (victim && isResizable(victim.buffer)) victim.buffer.resize(0);
          } catch {
            // detached by an earlier getter of the same call
          }
          return v[0];
        }),
        withGetter(() => 2 ** 31),
        withGetter(() => {
          throw new Error(GETTER_ERROR);
        }),
        () => {
          const a = new Array<number>(v.length); // holes: read through Array.prototype
          for (let k = 1; k < v.length; k++) a[k] = v[k];
          return a;
        },
        () => v.map((d) => BigInt(d)),
      ];
    }
    case 'i32': {
      const a = valid as Int32Array;
      return [
        ...common,
        () => {
          const d = a.slice();
          detach(d);
          return d;
        },
        () => {
          const sab = new Int32Array(new SharedArrayBuffer(a.byteLength));
          sab.set(a);
          return sab; // valid: runs on a private copy
        },
        () => {
          const sab = new Int32Array(new SharedArrayBuffer(a.byteLength));
          sab.fill(2 ** 31 - 1);
          return sab;
        },
        () => new Int32Array(resizableBuffer(a.byteLength, a.byteLength)),
        () => racedIndices(a.length),
      ];
    }
    case 'f':
    case 'fNull': {
      const a = valid as Float32Array | Float64Array | null;
      const n = a?.length ?? 4;
      return [
        ...common,
        () => {
          const d = new F(n);
          detach(d);
          return d;
        },
        () => new F(sharedBuffer(n * F.BYTES_PER_ELEMENT)), // valid: runs
        () => {
          const buf = resizableBuffer(n * F.BYTES_PER_ELEMENT, n * F.BYTES_PER_ELEMENT);
          const t = new F(buf); // length-tracking
          buf.resize(0);
          return t;
        },
        () => new F(resizableBuffer(n * F.BYTES_PER_ELEMENT, 2 * n * F.BYTES_PER_ELEMENT)), // valid
        () => new F(0),
      ];
    }
  }
}

function expectSafeOutcome(b: Record<string, unknown>, fn: string, args: unknown[], what: () => string): string {
  try {
    (b[fn] as (...a: unknown[]) => unknown)(...args);
    return 'ran';
  } catch (e) {
    if (e instanceof Error && e.message === GETTER_ERROR) return 'getter threw';
    if (!(e instanceof TypeError || e instanceof RangeError))
      throw new Error(`${fn} with ${what()}: expected a TypeError or RangeError, got ${inspect(e)}`, { cause: e });
    if (!e.message.startsWith(`${fn}:`))
      throw new Error(`${fn} with ${what()}: message does not name the function: ${e.message}`, { cause: e });
    return 'refused';
  }
}

describe.skipIf(!native)(`hostile native fuzzing${native ? '' : ` (SKIPPED: ${loadError})`}`, () => {
  const b = native as unknown as Record<string, unknown>;
  const runnable = SPECS.filter((s) => !s.fn.startsWith('_') && s.fn !== 'setNumThreads' && s.args.length > 0);
  beforeAll(() => {
    racer = new Worker(
      `const { workerData } = require('node:worker_threads');
       const stop = new Int32Array(workerData, 0, 1), v = new Int32Array(workerData, 4, 64);
       while (Atomics.load(stop, 0) === 0) for (let i = 0; i < 64; i++) v[i] = v[i] === 0 ? 2147483647 : 0;`,
      { eval: true, workerData: RACED },
    );
  });
  afterAll(async () => {
    Atomics.store(new Int32Array(RACED, 0, 1), 0, 1);
    await racer?.terminate();
  });

  it('every hostile value in every position of every function: a result or a named error, never a crash', () => {
    let calls = 0;
    for (const F of [Float32Array, Float64Array] as FloatCtor[]) {
      for (const spec of runnable) {
        spec.args.forEach((arg, i) => {
          const probe = spec.args.map((a) => a.make(F));
          const count = hostileValues(arg.kind, probe[i], F, probe).length;
          for (let j = 0; j < count; j++) {
            // fresh arguments per call: a getter may have detached the previous call's arrays
            const args = spec.args.map((a) => a.make(F));
            args[i] = hostileValues(arg.kind, args[i], F, args)[j]();
            expectSafeOutcome(b, spec.fn, args, () => `argument ${i + 1} (${arg.name}) = ${show(args[i])}`);
            calls++;
          }
        });
      }
    }
    expect(calls).toBeGreaterThan(1500);
  });

  it(
    'random hostile mutations, several per call',
    () => {
      const total = Number(process.env.BACKPROP_FUZZ_CALLS ?? 10000);
      const rng = new Rng(Number(process.env.BACKPROP_FUZZ_SEED ?? 777));
      const outcomes: Record<string, number> = {};
      for (let c = 0; c < total; c++) {
        const spec = runnable[rng.int(0, runnable.length)];
        const F = rng.next() < 0.5 ? Float32Array : Float64Array;
        const args = spec.args.map((a) => a.make(F));
        const mutations = rng.int(1, Math.min(4, spec.args.length + 1));
        const what: number[] = [];
        for (let m = 0; m < mutations; m++) {
          const i = rng.int(0, spec.args.length);
          const useHostile = rng.next() < 0.7;
          const pool = useHostile
            ? hostileValues(spec.args[i].kind, spec.args[i].make(F), F, args)
            : invalidValues(spec.args[i].kind, spec.args[i].make(F), F, 1).map((v) => () => v);
          const v = pool[rng.int(0, pool.length)]();
          // A huge size with other mutations could be a valid call doing 2^31 units of work.
          if (typeof v === 'number' && v >= 2 ** 31 - 1 && mutations > 1) continue;
          args[i] = v;
          what.push(i);
        }
        const o = expectSafeOutcome(b, spec.fn, args, () =>
          what.map((i) => `${spec.args[i].name} = ${show(args[i])}`).join(', '),
        );
        outcomes[o] = (outcomes[o] ?? 0) + 1;
      }
      if (total >= 100000) process.stdout.write(`hostile fuzz: ${total} calls ${JSON.stringify(outcomes)}\n`);
      expect(Object.values(outcomes).reduce((s, v) => s + v, 0)).toBe(total);
      expect(outcomes.refused).toBeGreaterThan(0);
    },
    Math.max(60_000, Number(process.env.BACKPROP_FUZZ_CALLS ?? 0) * 2),
  ); // 1M calls: ~17 min on a shared machine
});

function show(v: unknown): string {
  if (typeof v === 'symbol') return 'Symbol';
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
    try {
      return inspect(v, { depth: 0 });
    } catch {
      return '[object]';
    }
  }
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (ArrayBuffer.isView(v))
    return `${v.constructor.name}(${(v as unknown as { length?: number }).length ?? v.byteLength})`;
  if (Array.isArray(v)) {
    try {
      return `[${v.map(show).join(',')}]`;
    } catch {
      return '[array with a throwing getter]';
    }
  }
  return String(v);
}
