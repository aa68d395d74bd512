// Tensors across threads (lib/workers/transfer.ts). Small op results are views into shared 32 KiB
// slabs (lib/ops/util.ts); putting one's data.buffer in a postMessage transfer list used to detach
// the slab under every other tensor cut from it. Slabs are now untransferable, and packTensor /
// packStateDict copy into buffers of their own that move without harming anything.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { tensor, type Tensor } from '../lib/tensor.js';
import {
  packStateDict,
  packTensor,
  packValue,
  transferListOf,
  unpackStateDict,
  unpackTensor,
  unpackValue,
} from '../lib/workers/index.js';

/** Posts `value` through a real MessagePort (structured clone, as to a worker) and returns what arrives. */
function roundTrip<T>(value: T, transfer: readonly (ArrayBuffer | MessagePort)[] = []): Promise<T> {
  const { port1, port2 } = new MessageChannel();
  return new Promise<T>((resolve) => {
    port2.once('message', (m: T) => {
      port1.close();
      resolve(m);
    });
    port1.postMessage(value, transfer);
  });
}

/** Three small op results (32 floats each: 128 bytes), carved from one slab. */
function siblings(): Tensor[] {
  const a = tensor(Float32Array.from({ length: 32 }, (_, i) => i));
  return [a.add(1), a.mul(2), a.sub(3)];
}

describe('tensors across threads', () => {
  it("transferring a small tensor's data.buffer never empties the tensors that share its slab", async () => {
    const [x, y, z] = siblings();
    expect(x.data.buffer).toBe(y.data.buffer); // the case at hand: one slab under all three
    expect(x.data.buffer).toBe(z.data.buffer);
    const before = [x, y, z].map((t) => Array.from(t.data));
    let received: Float32Array | null = null;
    try {
      received = await roundTrip(x.data as Float32Array, [x.data.buffer as ArrayBuffer]);
    } catch (e) {
      // Node >= 21 refuses an untransferable buffer in a transfer list (DataCloneError).
      expect((e as Error).name).toBe('DataCloneError');
    }
    // Node 20 ignores it there and copies: the receiver still gets the values.
    if (received) expect(Array.from(received)).toEqual(before[0]);
    expect([x, y, z].map((t) => Array.from(t.data))).toEqual(before);
    expect(x.data.buffer.byteLength).toBe(32768); // not detached
    // The tensors still compute.
    expect(Array.from(y.add(z).data)).toEqual(before[1].map((v, i) => v + before[2][i]));
  });

  it('packTensor copies into a buffer of its own that moves; unpackTensor rebuilds the tensor', async () => {
    const [x, y] = siblings();
    const yValues = Array.from(y.data);
    const packed = packTensor(x.reshape(4, 8));
    expect(packed.data.buffer).not.toBe(x.data.buffer);
    expect(packed.data.byteOffset).toBe(0);
    expect(packed.data.buffer.byteLength).toBe(32 * 4);
    const arrived = await roundTrip(packed, transferListOf(packed));
    expect(packed.data.buffer.byteLength).toBe(0); // moved, not copied
    const t = unpackTensor(arrived);
    expect(t.shape).toEqual([4, 8]);
    expect(t.dtype).toBe('float32');
    expect(Array.from(t.data)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect(Array.from(y.data)).toEqual(yValues);
    const f64 = unpackTensor(await roundTrip(packTensor(tensor([[1.5, -2]], { dtype: 'float64' }))));
    expect(f64.dtype).toBe('float64');
    expect(f64.toArray()).toEqual([[1.5, -2]]);
  });

  it('keeps the storage dtypes: bfloat16 and float16 bits, bool', async () => {
    for (const dtype of ['bfloat16', 'float16', 'bool'] as const) {
      const t = tensor([1.5, -2, 0]).to(dtype);
      const back = unpackTensor(await roundTrip(packTensor(t)));
      expect(back.dtype).toBe(dtype);
      expect(back.data.constructor).toBe(t.data.constructor);
      expect(Array.from(back.data)).toEqual(Array.from(t.data));
      const sd = unpackStateDict(await roundTrip(packStateDict({ t })));
      expect(sd.t.dtype).toBe(dtype);
      expect(Array.from(sd.t.data)).toEqual(Array.from(t.data));
    }
  });

  it('unpackTensor refuses data that does not match its shape or dtype', () => {
    const p = packTensor(tensor([1, 2, 3]));
    expect(() => unpackTensor({ ...p, shape: [2, 2] })).toThrow(/3 values for shape \[2, 2\]/);
    expect(() => unpackTensor({ ...p, dtype: 'float64' })).toThrow(/storage of dtype float64/);
    expect(() => unpackTensor({ shape: [3] } as any)).toThrow(/expected a packed tensor/);
  });

  it('packStateDict: one buffer, transferred or shared, with every tensor at its place', async () => {
    const sd = {
      w: tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      b: tensor([0.5], { dtype: 'float64' }),
      s: tensor(7),
    };
    const moved = packStateDict(sd);
    const back = unpackStateDict(await roundTrip(moved, transferListOf(moved)));
    expect(Object.keys(back)).toEqual(['w', 'b', 's']);
    expect(back.w.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(back.b.dtype).toBe('float64');
    expect(back.b.toArray()).toEqual([0.5]);
    expect(back.s.shape).toEqual([]);
    expect(back.s.item()).toBe(7);
    // Shared: the receiver's tensors view the very same memory (no copy per reader).
    const shared = packStateDict(sd, { shared: true });
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    const view = unpackStateDict(await roundTrip(shared));
    unpackStateDict(shared).w.data[0] = 42;
    expect(view.w.data[0]).toBe(42);
  });

  it('packValue carries nested state (optimizer state) with its tensors', async () => {
    const state = { step: 3, lr: 0.1, moments: [tensor([1, 2]), { v: tensor([[3]]) }], name: 'adam' };
    const packed = packValue(state);
    const back = unpackValue(await roundTrip(packed, transferListOf(packed))) as typeof state;
    expect(back.step).toBe(3);
    expect(back.name).toBe('adam');
    expect(back.moments[0] as Tensor).toBeInstanceOf(tensor(0).constructor);
    expect((back.moments[0] as Tensor).toArray()).toEqual([1, 2]);
    expect((back.moments[1] as { v: Tensor }).v.toArray()).toEqual([[3]]);
  });
});
