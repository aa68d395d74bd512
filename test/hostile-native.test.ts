// Hostile arguments at the native boundary (issue 10): user JS that runs while the addon reads
// its arguments (getters on shape arrays that transfer, resize or detach the data buffers),
// detached and resizable buffers, SharedArrayBuffer-backed indices changed by another thread,
// proxies, BigInts and Symbols; maxPool's empty window; conv's workspace bound. Each case was a
// crash, a read of freed memory or an unbounded allocation before Args read every argument once.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { tryLoadNative } from './support/native.js';
import { resizableBuffer } from './support/buffers.js';

const { native, loadError } = tryLoadNative();
type Fn = (...a: unknown[]) => unknown;

describe.skipIf(!native)(`hostile native arguments${native ? '' : ` (SKIPPED: ${loadError})`}`, () => {
  const b = native as unknown as Record<string, Fn>;

  it('a shape getter that transfers the data buffer is refused (the buffer is detached at use)', () => {
    const n = 1 << 16;
    const x = new Float32Array(n).fill(1);
    const out = new Float32Array(n).fill(-7);
    const shape = [n];
    Object.defineProperty(shape, 0, {
      get() {
        structuredClone(x.buffer, { transfer: [x.buffer] });
        return n;
      },
    });
    expect(() => b.binary(0, x, shape, Float32Array.of(2), [1], out)).toThrow(/binary: argument 2 \(a\) .*detached/);
    expect(out[0]).toBe(-7);
    // The same through permute, whose shape and perm are both read by Args.
    const y = new Float64Array(6).fill(3);
    const perm = [1, 0];
    Object.defineProperty(perm, 1, {
      get() {
        structuredClone(y.buffer, { transfer: [y.buffer] });
        return 0;
      },
    });
    expect(() => b.permute(y, [2, 3], perm, new Float64Array(6))).toThrow(/permute: argument 1 \(x\) .*detached/);
  });

  it('a shape getter that shrinks a resizable buffer is checked against the new length', () => {
    const buf = resizableBuffer(64 * 4, 64 * 4);
    const x = new Float32Array(buf); // length-tracking
    const shape = [64];
    Object.defineProperty(shape, 0, {
      get() {
        buf.resize(4);
        return 64;
      },
    });
    expect(
      () => b.unaryBackward === undefined || b.binary(0, x, shape, Float32Array.of(1), [1], new Float32Array(64)),
    ).toThrow(/binary: argument 2 \(a\) must have at least 64 elements, got 1/);
  });

  it('reads each shape element once, and a getter that throws fails the call with its error', () => {
    let reads = 0;
    const shape = [2, 3];
    Object.defineProperty(shape, 1, {
      get() {
        reads++;
        return 3;
      },
    });
    const a = new Float32Array(6).fill(1);
    const out = new Float32Array(6);
    b.binary(0, a, shape, Float32Array.of(1, 2, 3), [3], out);
    expect(reads).toBe(1);
    expect(Array.from(out)).toEqual([2, 3, 4, 2, 3, 4]);
    const bad = [2, 3];
    Object.defineProperty(bad, 0, {
      get() {
        throw new Error('from the getter');
      },
    });
    expect(() => b.binary(0, a, bad, Float32Array.of(1, 2, 3), [3], out)).toThrow('from the getter');
  });

  it('refuses proxies, BigInts and Symbols where sizes are expected, and detached arrays anywhere', () => {
    const a = new Float32Array(6);
    expect(() => b.binary(0, a, new Proxy([2, 3], {}), a, [2, 3], a)).toThrow(/binary: argument 3 \(aShape\)/);
    expect(() => b.binary(0, a, [2n, 3], a, [2, 3], a)).toThrow(/binary: argument 3 \(aShape\) must hold numbers/);
    expect(() => b.binary(0, a, [Symbol('s'), 3], a, [2, 3], a)).toThrow(/must hold numbers/);
    expect(() => b.reduce(0, a, 2n, 3, 1, a)).toThrow(/reduce: argument 3 \(outer\) must be a number, got a bigint/);
    const d = new Float64Array(4);
    structuredClone(d.buffer, { transfer: [d.buffer] });
    expect(() => b.unary(0, d, d, 0, 0)).toThrow(/unary: argument 2 \(x\) .*detached/);
    const i = new Int32Array(2);
    structuredClone(i.buffer, { transfer: [i.buffer] });
    expect(() => b.gather(new Float64Array(24), 2, 3, 4, i, new Float64Array(16))).toThrow(
      /gather: argument 5 \(indices\) .*detached/,
    );
  });

  it('SharedArrayBuffer indices flipped by another thread never reach the kernel unchecked', async () => {
    // A worker flips index 1 between 2 (valid) and 1e9 (far out of range) as fast as it can while
    // this thread calls gather, scatterAdd and softmaxCrossEntropy on the same shared array. A
    // check-then-use on shared memory crashed here; a private copy either runs or throws.
    const sab = new SharedArrayBuffer(8 + 4);
    const idx = new Int32Array(sab, 0, 2);
    const stop = new Int32Array(sab, 8, 1);
    idx[0] = 0;
    idx[1] = 2;
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const idx = new Int32Array(workerData, 0, 2), stop = new Int32Array(workerData, 8, 1);
       while (Atomics.load(stop, 0) === 0) { idx[1] = 1000000000; idx[1] = 2; }`,
      { eval: true, workerData: sab },
    );
    await new Promise((r) => setTimeout(r, 50));
    const x = Float64Array.from({ length: 24 }, (_, k) => k);
    let ran = 0,
      refused = 0;
    try {
      for (let k = 0; k < 20000; k++) {
        try {
          const out = new Float64Array(16);
          b.gather(x, 2, 3, 4, idx, out);
          // rows 0 and 2 of each outer block: [0..3, 8..11, 12..15, 20..23]
          expect(out[4]).toBe(8);
          b.scatterAdd(out, 2, 3, 4, idx, new Float64Array(24));
          b.softmaxCrossEntropy(new Float64Array(6), 2, 3, idx, new Float64Array(2), null, 1);
          ran++;
        } catch (e) {
          expect(e).toBeInstanceOf(RangeError);
          expect((e as Error).message).toMatch(
            /^(gather|scatterAdd|softmaxCrossEntropy): argument \d \((indices|targets)\) holds 1000000000/,
          );
          refused++;
        }
      }
    } finally {
      Atomics.store(stop, 0, 1);
      await worker.terminate();
    }
    expect(ran + refused).toBe(20000);
  });

  it('maxPool2d refuses an empty plane (a window over it has no maximum) instead of reading outside', () => {
    // 1 plane of 0x0, kernel 2x2, padding 1: the padded 2x2 holds one window, all padding.
    expect(() =>
      b.maxPool2d(new Float32Array(0), new Float32Array(1), new Int32Array(1), 1, 0, 0, 2, 2, 1, 1, 1, 1),
    ).toThrow(/maxPool2d: argument 5 \(h\) an input plane of 0x0 is empty/);
    // Zero planes is nothing to do, not an error.
    expect(() =>
      b.maxPool2d(new Float32Array(0), new Float32Array(0), new Int32Array(0), 0, 0, 0, 2, 2, 1, 1, 1, 1),
    ).not.toThrow();
  });

  it('conv2d bounds its workspace before allocating, and a huge dilation does not leave gigabytes resident', () => {
    // A 1x1 input, 3x3 kernel, padding and dilation 20000: a 1x1 output. The direct path would
    // zero-pad a 40001x40001 image per thread (6.4 GB); im2col needs nine values.
    const before = process.memoryUsage().rss;
    const y = new Float32Array(1);
    const w = Float32Array.of(1, 1, 1, 1, 2, 1, 1, 1, 1);
    b.conv2d(Float32Array.of(3), w, null, y, 1, 1, 1, 1, 1, 3, 3, 1, 1, 20000, 20000, 20000, 20000);
    expect(y[0]).toBe(6); // only the centre tap lands on the pixel (the others on padding): 2 * 3
    expect(process.memoryUsage().rss - before).toBeLessThan(200e6);
    // A kernel whose im2col columns alone would take ~100 GB: refused with the op and the bytes.
    const k = 40001;
    expect(() =>
      b.conv2d(
        new Float32Array(1),
        new Float32Array(k * k),
        null,
        new Float32Array(1),
        1,
        1,
        1,
        1,
        1,
        k,
        k,
        1,
        1,
        20000,
        20000,
        1,
        1,
      ),
    ).toThrow(/conv2d: the convolution workspace would need about \d+ bytes, more than the limit of 4294967296 bytes/);
  });

  it('conv2dBackwardWeight gives bit-identical results run after run on 2 threads', () => {
    const nb = native!;
    nb.setNumThreads(2);
    try {
      // 16 images of 3x12x12, 8 output channels, 3x3 (direct path) and stride 2 (im2col path).
      for (const stride of [1, 2]) {
        const n = 16,
          cIn = 3,
          h = 12,
          cOut = 8,
          k = 3;
        const oH = Math.floor((h + 2 - k) / stride) + 1;
        const x = Float32Array.from({ length: n * cIn * h * h }, (_, i) => Math.sin(i * 0.37) * 1e3);
        const gy = Float32Array.from({ length: n * cOut * oH * oH }, (_, i) => Math.cos(i * 0.11) * 1e-3);
        const first = new Float32Array(cOut * cIn * k * k);
        const firstB = new Float32Array(cOut);
        const geom = [n, cIn, h, h, cOut, k, k, stride, stride, 1, 1, 1, 1];
        b.conv2dBackwardWeight(x, gy, first, firstB, ...geom);
        for (let r = 0; r < 30; r++) {
          const gw = new Float32Array(first.length);
          const gb = new Float32Array(cOut);
          b.conv2dBackwardWeight(x, gy, gw, gb, ...geom);
          expect(Buffer.compare(Buffer.from(gw.buffer), Buffer.from(first.buffer)), `stride ${stride} run ${r}`).toBe(
            0,
          );
          expect(Array.from(gb)).toEqual(Array.from(firstB));
        }
      }
    } finally {
      nb.setNumThreads(1);
    }
  });
});
