// F.scaledDotProductAttention on every backend: values and gradients against a float64 reference
// written here (the full Lq×Lk score matrix, softmax and its backward in plain loops), with and
// without masks (float, bool, broadcast key padding), causal, L = 1, L across the kernel's
// 64-wide tiles and L = 1000; the native kernels against the js ones at every SIMD level in both
// dtypes; gradcheck and gradgradcheck (the composed rule); dropout with the global seed; errors.

import { afterAll, describe, expect, it } from 'vitest';
import { Tensor, backend, grad, tensor } from '../lib/index.js';
import * as F from '../lib/nn/functional.js';
import { gradcheck, gradgradcheck } from '../lib/autograd/index.js';
import { manualSeed, nextUint32 } from '../lib/random.js';
import { jsBackend } from '../lib/backend/js.js';
import type { NativeBackend } from '../lib/backend/native.js';
import { Rng } from './support/random.js';
import { backendsHere, leaf } from './support/autograd.js';
import { tryLoadNative } from './support/native.js';

const initial = backend.current();
afterAll(() => backend.use(initial));
const backends = backendsHere();

type MaskFn = ((bh: number, i: number, j: number) => number) | null;

/** out and the gradients of q, k, v for upstream g, from the full score matrix of each problem. */
function reference(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Float64Array,
  mask: MaskFn,
  causal: boolean,
): { out: Float64Array; gq: Float64Array; gk: Float64Array; gv: Float64Array } {
  const nd = q.shape.length;
  const [Lq, D] = q.shape.slice(nd - 2);
  const Lk = k.shape[nd - 2];
  const Dv = v.shape[nd - 1];
  const P = q.data.length / (Lq * D);
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(P * Lq * Dv);
  const gq = new Float64Array(q.data.length);
  const gk = new Float64Array(k.data.length);
  const gv = new Float64Array(v.data.length);
  for (let bh = 0; bh < P; bh++) {
    const Q = (i: number, d: number): number => q.data[(bh * Lq + i) * D + d];
    const K = (j: number, d: number): number => k.data[(bh * Lk + j) * D + d];
    const V = (j: number, d: number): number => v.data[(bh * Lk + j) * Dv + d];
    const G = (i: number, d: number): number => g[(bh * Lq + i) * Dv + d];
    for (let i = 0; i < Lq; i++) {
      const s = new Float64Array(Lk);
      for (let j = 0; j < Lk; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += Q(i, d) * K(j, d);
        s[j] = scale * dot + (mask ? mask(bh, i, j) : 0) + (causal && j > i ? -Infinity : 0);
      }
      const m = Math.max(...s);
      let sum = 0;
      for (let j = 0; j < Lk; j++) sum += Math.exp(s[j] - m);
      const p = s.map((x) => Math.exp(x - m) / sum);
      const dp = new Float64Array(Lk);
      for (let j = 0; j < Lk; j++) {
        for (let d = 0; d < Dv; d++) {
          out[(bh * Lq + i) * Dv + d] += p[j] * V(j, d);
          dp[j] += G(i, d) * V(j, d);
          gv[(bh * Lk + j) * Dv + d] += p[j] * G(i, d);
        }
      }
      let dot = 0;
      for (let j = 0; j < Lk; j++) dot += dp[j] * p[j];
      for (let j = 0; j < Lk; j++) {
        const ds = p[j] * (dp[j] - dot) * scale;
        for (let d = 0; d < D; d++) {
          gq[(bh * Lq + i) * D + d] += ds * K(j, d);
          gk[(bh * Lk + j) * D + d] += ds * Q(i, d);
        }
      }
    }
  }
  return { out, gq, gk, gv };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (!(e <= worst)) {
      worst = Number.isNaN(e) ? Infinity : e;
      at = i;
    }
  }
  expect(worst, `${what}: worst error at ${at}: ${got[at]} vs ${want[at]}`).toBeLessThanOrEqual(tol);
}

interface Case {
  name: string;
  q: number[];
  k: number[];
  v: number[];
  causal?: boolean;
  /** The option passed, and the same mask as a function for the reference. */
  mask?: (rng: Rng) => { attnMask: Tensor | F.BoolArray; fn: MaskFn };
}

const cases: Case[] = [
  { name: '4-D, Lk != Lq, Dv != D', q: [2, 3, 5, 4], k: [2, 3, 7, 4], v: [2, 3, 7, 3] },
  { name: '3-D causal', q: [3, 6, 4], k: [3, 6, 4], v: [3, 6, 5], causal: true },
  { name: '2-D, L = 1', q: [1, 3], k: [1, 3], v: [1, 2] },
  { name: 'Lq = 1 against many keys', q: [2, 1, 5], k: [2, 9, 5], v: [2, 9, 5] },
  {
    name: 'L = 130 (three tiles, a partial one) causal',
    q: [1, 2, 130, 8],
    k: [1, 2, 130, 8],
    v: [1, 2, 130, 8],
    causal: true,
  },
  { name: 'L = 70 x 150, no mask', q: [2, 70, 6], k: [2, 150, 6], v: [2, 150, 5] },
  {
    name: 'float mask [Lq, Lk] broadcast over batch and heads',
    q: [2, 2, 5, 4],
    k: [2, 2, 7, 4],
    v: [2, 2, 7, 4],
    mask: (rng) => {
      const m = Float64Array.from({ length: 35 }, () => rng.normal());
      return { attnMask: new Tensor(m, [5, 7]), fn: (_bh, i, j) => m[i * 7 + j] };
    },
  },
  {
    name: 'bool key padding [B, 1, 1, Lk] (true = attend) with causal, across tiles',
    q: [2, 2, 100, 4],
    k: [2, 2, 100, 4],
    v: [2, 2, 100, 4],
    causal: true,
    mask: () => {
      const keep = [0, 1].map((b) => Array.from({ length: 100 }, (_, j) => j === 0 || (j + b) % 3 !== 0));
      return {
        attnMask: keep.map((row) => [[row]]),
        fn: (bh, _i, j) => (keep[Math.floor(bh / 2)][j] ? 0 : -Infinity),
      };
    },
  },
  {
    name: 'full float mask [B, H, Lq, Lk] with -inf entries',
    q: [2, 3, 9, 4],
    k: [2, 3, 11, 4],
    v: [2, 3, 11, 2],
    mask: (rng) => {
      const m = Float64Array.from({ length: 2 * 3 * 9 * 11 }, (_, idx) =>
        idx % 11 !== 0 && rng.next() < 0.3 ? -Infinity : rng.normal(),
      );
      return { attnMask: new Tensor(m, [2, 3, 9, 11]), fn: (bh, i, j) => m[(bh * 9 + i) * 11 + j] };
    },
  },
  {
    name: 'mask broadcast along heads only [H, 1, Lk]',
    q: [2, 3, 4, 4],
    k: [2, 3, 6, 4],
    v: [2, 3, 6, 4],
    mask: (rng) => {
      const m = Float64Array.from({ length: 18 }, () => rng.normal());
      return { attnMask: new Tensor(m, [3, 1, 6]), fn: (bh, _i, j) => m[(bh % 3) * 6 + j] };
    },
  },
];

for (const b of backends) {
  describe(`scaledDotProductAttention on ${b}`, () => {
    for (const c of cases) {
      it(`${c.name}: values and gradients against the full-matrix float64 reference`, () => {
        backend.use(b);
        const rng = new Rng(c.q.reduce((a, x) => a * 31 + x, 7));
        const q = leaf(rng, c.q);
        const k = leaf(rng, c.k);
        const v = leaf(rng, c.v);
        const m = c.mask?.(rng);
        const out = F.scaledDotProductAttention(q, k, v, { attnMask: m?.attnMask, isCausal: c.causal });
        const g = Float64Array.from({ length: out.data.length }, () => rng.normal());
        const [gq, gk, gv] = grad(out, [q, k, v], { gradOutputs: [new Tensor(g, out.shape)] });
        const ref = reference(q, k, v, g, m?.fn ?? null, c.causal ?? false);
        expect(out.shape).toEqual([...c.q.slice(0, -1), c.v[c.v.length - 1]]);
        expectClose(out.data, ref.out, 1e-12, 'out');
        expectClose(gq.data, ref.gq, 1e-11, 'gq');
        expectClose(gk.data, ref.gk, 1e-11, 'gk');
        expectClose(gv.data, ref.gv, 1e-11, 'gv');
      });
    }

    it('long L = 1000, causal: values and gradients against the reference', () => {
      backend.use(b);
      const rng = new Rng(1000);
      const q = leaf(rng, [1, 1000, 8]);
      const k = leaf(rng, [1, 1000, 8]);
      const v = leaf(rng, [1, 1000, 8]);
      const out = F.scaledDotProductAttention(q, k, v, { isCausal: true });
      const g = Float64Array.from({ length: out.data.length }, () => rng.normal());
      const [gq, gk, gv] = grad(out, [q, k, v], { gradOutputs: [new Tensor(g, out.shape)] });
      const ref = reference(q, k, v, g, null, true);
      expectClose(out.data, ref.out, 1e-11, 'out');
      expectClose(gq.data, ref.gq, 1e-10, 'gq');
      expectClose(gk.data, ref.gk, 1e-10, 'gk');
      expectClose(gv.data, ref.gv, 1e-10, 'gv');
    });

    it('gradcheck and gradgradcheck, with a float mask and causal', () => {
      backend.use(b);
      const rng = new Rng(3);
      const q = leaf(rng, [2, 3, 2]);
      const k = leaf(rng, [2, 4, 2]);
      const v = leaf(rng, [2, 4, 3]);
      const mask = leaf(rng, [3, 4], { requiresGrad: false });
      const f1 = (a: Tensor, bb: Tensor, cc: Tensor): Tensor =>
        F.scaledDotProductAttention(a, bb, cc, { attnMask: mask });
      const f2 = (a: Tensor, bb: Tensor, cc: Tensor): Tensor =>
        F.scaledDotProductAttention(a, bb, cc, { isCausal: true });
      for (const f of [f1, f2]) {
        expect(gradcheck(f, [q, k, v])).toBe(true);
        expect(gradgradcheck(f, [q, k, v])).toBe(true);
      }
    });

    it('a float mask that requires grad gets its gradient (the composed path)', () => {
      backend.use(b);
      const rng = new Rng(4);
      const q = leaf(rng, [2, 3, 2]);
      const k = leaf(rng, [2, 4, 2]);
      const v = leaf(rng, [2, 4, 3]);
      const mask = leaf(rng, [3, 4]);
      expect(
        gradcheck((a, bb, cc, m) => F.scaledDotProductAttention(a, bb, cc, { attnMask: m }), [q, k, v, mask]),
      ).toBe(true);
    });

    it("a bool tensor mask (dtype 'bool') equals the nested booleans and the -inf float mask", () => {
      backend.use(b);
      const rng = new Rng(15);
      const q = leaf(rng, [2, 3, 4], { requiresGrad: false });
      const k = leaf(rng, [2, 5, 4], { requiresGrad: false });
      const keep = [
        [true, false, true, true, false],
        [true, true, false, true, true],
        [false, true, true, true, true],
      ];
      const boolT = tensor(keep);
      expect(boolT.dtype).toBe('bool');
      const floatMask = new Tensor(
        Float64Array.from(keep.flat(), (x) => (x ? 0 : -Infinity)),
        [3, 5],
      );
      const a = F.scaledDotProductAttention(q, k, k, { attnMask: boolT });
      const c = F.scaledDotProductAttention(q, k, k, { attnMask: keep });
      const d = F.scaledDotProductAttention(q, k, k, { attnMask: floatMask });
      expect(Array.from(a.data)).toEqual(Array.from(d.data));
      expect(Array.from(c.data)).toEqual(Array.from(d.data));
    });

    it('a row that sees no key is NaN, as in torch', () => {
      backend.use(b);
      const rng = new Rng(5);
      const q = leaf(rng, [2, 2, 3], { requiresGrad: false });
      const out = F.scaledDotProductAttention(q, q, q, {
        attnMask: [
          [true, true],
          [false, false],
        ],
      });
      expect(Number.isNaN(out.data[0])).toBe(false);
      for (const bt of [0, 1]) for (let d = 0; d < 3; d++) expect(out.data[bt * 6 + 3 + d]).toBeNaN();
    });

    it('dropout: the documented hash mask, the global seed, E[out] = v, gradcheck and gradgradcheck', () => {
      backend.use(b);
      const rng = new Rng(6);
      const q = leaf(rng, [2, 2, 4, 3]);
      const k = leaf(rng, [2, 2, 70, 3]);
      const v = leaf(rng, [2, 2, 70, 3]);
      const p = 0.4;
      manualSeed(11);
      const a = F.scaledDotProductAttention(q, k, v, { dropoutP: p });
      manualSeed(11);
      const again = F.scaledDotProductAttention(q, k, v, { dropoutP: p });
      expect(Array.from(again.data)).toEqual(Array.from(a.data));
      // The reference: the seed is the generator's next uint32; weight (row, j) is kept, times
      // 1/(1-p), when murmur3-fmix32(fmix32(seed ^ row) + j * 0x9e3779b9) >= p * 2^32.
      manualSeed(11);
      const seed = nextUint32();
      const fmix = (h: number): number => {
        h = (h ^ (h >>> 16)) >>> 0;
        h = Number((BigInt(h) * 0x85ebca6bn) % 4294967296n);
        h = (h ^ (h >>> 13)) >>> 0;
        h = Number((BigInt(h) * 0xc2b2ae35n) % 4294967296n);
        return (h ^ (h >>> 16)) >>> 0;
      };
      const kept = (row: number, j: number): number =>
        fmix((fmix((seed ^ row) >>> 0) + Number((BigInt(j) * 0x9e3779b9n) % 4294967296n)) % 4294967296) >= p * 2 ** 32
          ? 1 / (1 - p)
          : 0;
      const want = new Float64Array(a.data.length);
      for (let bh = 0; bh < 4; bh++) {
        for (let i = 0; i < 4; i++) {
          const s = Array.from({ length: 70 }, (_, j) => {
            let dot = 0;
            for (let d = 0; d < 3; d++) dot += q.data[(bh * 4 + i) * 3 + d] * k.data[(bh * 70 + j) * 3 + d];
            return dot / Math.sqrt(3);
          });
          const m = Math.max(...s);
          const z = s.reduce((acc, x) => acc + Math.exp(x - m), 0);
          for (let j = 0; j < 70; j++) {
            const w = (Math.exp(s[j] - m) / z) * kept(bh * 4 + i, j);
            for (let d = 0; d < 3; d++) want[(bh * 4 + i) * 3 + d] += w * v.data[(bh * 70 + j) * 3 + d];
          }
        }
      }
      expectClose(a.data, want, 1e-12, 'dropout 0.4 against the hash reference');
      // q = k = 0 gives uniform weights, v = 1 then gives the mean multiplier of each row: about 1.
      const zeros = new Tensor(new Float64Array(2 * 64 * 4), [2, 64, 4]);
      const ones = new Tensor(new Float64Array(2 * 4096 * 4).fill(1), [2, 4096, 4]);
      const mean = F.scaledDotProductAttention(zeros, new Tensor(new Float64Array(2 * 4096 * 4), [2, 4096, 4]), ones, {
        dropoutP: 0.3,
      })
        .mean()
        .item();
      expect(Math.abs(mean - 1)).toBeLessThan(0.01);
      expect(Array.from(F.scaledDotProductAttention(q, k, v, { dropoutP: 1 }).data).every((x) => x === 0)).toBe(true);
      const small = [leaf(rng, [2, 3, 2]), leaf(rng, [2, 5, 2]), leaf(rng, [2, 5, 3])];
      const f = (x: Tensor, y: Tensor, z: Tensor): Tensor => {
        manualSeed(3);
        return F.scaledDotProductAttention(x, y, z, { dropoutP: 0.3, isCausal: true });
      };
      expect(gradcheck(f, small)).toBe(true);
      expect(gradgradcheck(f, small)).toBe(true);
    });

    it('float32 agrees with float64 to float32 precision', () => {
      backend.use(b);
      const rng = new Rng(8);
      const q = leaf(rng, [2, 2, 70, 8]);
      const k = leaf(rng, [2, 2, 70, 8]);
      const v = leaf(rng, [2, 2, 70, 8]);
      const out = F.scaledDotProductAttention(q, k, v, { isCausal: true });
      const out32 = F.scaledDotProductAttention(q.to('float32'), k.to('float32'), v.to('float32'), { isCausal: true });
      expect(out32.dtype).toBe('float32');
      expectClose(out32.data, out.data, 1e-5, 'float32 out');
    });

    it('errors name the op and the shapes', () => {
      backend.use(b);
      const rng = new Rng(9);
      const q = leaf(rng, [2, 3, 4]);
      expect(() => F.scaledDotProductAttention(q, leaf(rng, [2, 3, 5]), q)).toThrow(
        /scaledDotProductAttention: key has shape \[2, 3, 5\].*query's \[2, 3, 4\]/,
      );
      expect(() => F.scaledDotProductAttention(q, q, leaf(rng, [2, 5, 4]))).toThrow(/value has shape \[2, 5, 4\]/);
      expect(() => F.scaledDotProductAttention(q, q, q, { attnMask: leaf(rng, [4, 3]) })).toThrow(
        /attnMask has shape \[4, 3\].*\[2, 3, 3\]/,
      );
      expect(() => F.scaledDotProductAttention(q, q, q.to('float32'))).toThrow(/value is float32 but query is float64/);
    });
  });
}

const { native } = tryLoadNative();
describe.skipIf(native === null)('attention kernels: native against js at every SIMD level, both dtypes', () => {
  const nb = native as NativeBackend;
  const defaultLevel = native ? native.info().simd : 'scalar';
  afterAll(() => nb._setSimd(defaultLevel));
  const shapes: [number, number, number, number, number, number, boolean, 'none' | 'rows' | 'full', number][] = [
    [1, 1, 1, 1, 1, 1, false, 'none', 0],
    [2, 3, 17, 65, 5, 7, false, 'rows', 0],
    [1, 2, 129, 129, 16, 16, true, 'full', 0],
    [3, 1, 64, 64, 64, 64, true, 'none', 0],
    [1, 1, 200, 33, 3, 1, false, 'full', 0],
    [2, 2, 70, 90, 8, 4, true, 'rows', 0.25],
    [1, 1, 33, 200, 5, 6, false, 'none', 0.9],
  ];
  for (const level of native ? nb._simdLevels() : []) {
    for (const [dtype, Arr, tol] of [
      ['float32', Float32Array, 2e-5],
      ['float64', Float64Array, 1e-12],
    ] as const) {
      it(`${level} ${dtype}`, () => {
        nb._setSimd(level);
        const rng = new Rng(12);
        for (const [B, H, Lq, Lk, D, Dv, causal, maskKind, drop] of shapes) {
          const make = (n: number, f: (i: number) => number): Float32Array | Float64Array => {
            const a = new Arr(n);
            for (let i = 0; i < n; i++) a[i] = f(i);
            return a;
          };
          const fill = (n: number): Float32Array | Float64Array => make(n, () => rng.normal());
          const q = fill(B * H * Lq * D);
          const k = fill(B * H * Lk * D);
          const v = fill(B * H * Lk * Dv);
          const gOut = fill(B * H * Lq * Dv);
          // rows: one [B, 1, 1, Lk] key-padding row per batch; full: [B, H, Lq, Lk].
          let mask: Float32Array | Float64Array | null = null;
          let strides: [number, number, number] = [0, 0, 0];
          if (maskKind === 'rows') {
            mask = make(B * Lk, (i) => (i % Lk !== 0 && rng.next() < 0.3 ? -Infinity : 0));
            strides = [Lk, 0, 0];
          } else if (maskKind === 'full') {
            mask = make(B * H * Lq * Lk, () => rng.normal());
            strides = [H * Lq * Lk, Lq * Lk, Lk];
          }
          const run = (be: typeof jsBackend): (Float32Array | Float64Array)[] => {
            const out = new Arr(B * H * Lq * Dv);
            const lse = new Arr(B * H * Lq);
            const gq = new Arr(q.length);
            const gk = new Arr(k.length);
            const gv = new Arr(v.length);
            const sc = 1 / Math.sqrt(D);
            be.attentionForward(B, H, Lq, Lk, D, Dv, q, k, v, mask, ...strides, causal, sc, drop, 12345, out, lse);
            be.attentionBackward(
              B,
              H,
              Lq,
              Lk,
              D,
              Dv,
              q,
              k,
              v,
              mask,
              ...strides,
              causal,
              sc,
              drop,
              12345,
              out,
              lse,
              gOut,
              gq,
              gk,
              gv,
            );
            return [out, lse, gq, gk, gv];
          };
          const want = run(jsBackend);
          const got = run(nb);
          ['out', 'lse', 'gq', 'gk', 'gv'].forEach((name, i) =>
            expectClose(
              got[i],
              want[i],
              tol,
              `${level} ${dtype} ${name} of ${[B, H, Lq, Lk, D, Dv, causal, maskKind, drop].join(',')}`,
            ),
          );
        }
      });
    }
  }

  it('checks its arguments: sizes, lengths, the mask extent and dtypes', () => {
    const q = new Float64Array(2 * 3 * 4);
    const out = new Float64Array(2 * 3 * 4);
    const lse = new Float64Array(6);
    for (const be of [nb, jsBackend]) {
      expect(() =>
        be.attentionForward(2, 1, 3, 3, 4, 4, q, q, q, null, 0, 0, 0, false, 1, 0, 0, out, new Float64Array(5)),
      ).toThrow(/attentionForward: .*lse\)? must have at least 6 elements, got 5/);
      expect(() => be.attentionForward(2, 1, 3, 0, 4, 4, q, q, q, null, 0, 0, 0, false, 1, 0, 0, out, lse)).toThrow(
        RangeError,
      );
      expect(() =>
        be.attentionForward(2, 1, 3, 3, 4, 4, q, q, q, new Float64Array(7), 3, 0, 1, false, 1, 0, 0, out, lse),
      ).toThrow(/attentionForward: .*mask\)? must have at least 8 elements, got 7/);
      expect(() =>
        be.attentionForward(2, 1, 3, 3, 4, 4, q, new Float32Array(24), q, null, 0, 0, 0, false, 1, 0, 0, out, lse),
      ).toThrow(TypeError);
    }
  });
});
