// Memory accounting: how many bytes of tensor storage are alive, and how many of them the autograd
// graph keeps for backward. Counted where it happens, never estimated from shapes:
//
// - Allocation: the ops' allocators (ops/util.ts: alloc, allocOut) and the Tensor constructor
//   (for arrays made anywhere else) call noteStorage(). A storage is one allocation: a large
//   array's own ArrayBuffer (a view or subarray of it is the same storage), a piece carved from a
//   shared slab (the piece, not the 32 KiB slab), or a small on-heap array. Its bytes are the
//   array's byteLength (a whole buffer's byteLength for a large one).
// - Free: JavaScript gives no refcount, so a storage's death is known at two kinds of point.
//   (1) Exact: the engine recycles a gradient buffer it knows to be dead (recycle() calls
//   noteRecycled; a reuse from the pool counts the bytes again). (2) At garbage collection: a
//   FinalizationRegistry callback for the ArrayBuffer (large storage: exact once collected) or the
//   carved array (slab pieces and on-heap arrays). So allocatedBytes counts storage that is
//   unreachable but not yet collected; call gc() (node --expose-gc) and let a task pass before
//   reading it for the live figure.
// - Saved: every node the ops record (ops/util.ts: record) and every block of saved state that
//   an op keeps outside a node (memory-budgeted BPTT) adds its buffers to a per-storage reference
//   count; a storage counts once however many nodes hold it. Counted: non-leaf tensors the node
//   holds (its inputs and saved tensors), raw arrays in its saved values, and leaf tensors over
//   storage an op made for itself (markInternal: a dropout mask). Not counted: parameters and
//   other leaves (user inputs), as torch's saved-tensor accounting. Released exactly when the
//   engine frees a node after its backward (noteNodeFreed), and at garbage collection for a graph
//   dropped without a backward (a FinalizationRegistry on the node).
//
// Everything here is per thread (module state), like the allocators' slabs.

interface Storage {
  readonly bytes: number;
  /** Counted in allocatedBytes (false while in the recycle pool or once collected). */
  live: boolean;
  /** Graph holders (nodes, saved-state blocks) that keep this storage for backward. */
  savedRefs: number;
  /** Made by an op for its own use (a dropout mask): counted when a node holds it as a leaf. */
  internal: boolean;
}

/** What memoryStats() returns, in bytes. */
export interface MemoryStats {
  /** Storage the autograd graph keeps alive for backward, each buffer once, leaves not counted. */
  savedBytes: number;
  /** The highest savedBytes since the start or the last resetPeakMemoryStats(). */
  peakSavedBytes: number;
  /** Tensor storage allocated and not yet known dead (see lib/backend/memory.ts). */
  allocatedBytes: number;
  /** The highest allocatedBytes since the start or the last resetPeakMemoryStats(). */
  peakAllocatedBytes: number;
}

let savedBytes = 0;
let peakSavedBytes = 0;
let allocatedBytes = 0;
let peakAllocatedBytes = 0;

const byArray = new WeakMap<object, Storage>();
const byBuffer = new WeakMap<ArrayBuffer, Storage>();
const slabs = new WeakSet<ArrayBuffer>();
/** Arrays of at most this many bytes live on V8's heap: reading .buffer would move them off it. */
const ON_HEAP_BYTES = 64;

const storageCollected = new FinalizationRegistry<Storage>((s) => {
  if (s.live) {
    s.live = false;
    allocatedBytes -= s.bytes;
  }
});

function newStorage(bytes: number): Storage {
  allocatedBytes += bytes;
  if (allocatedBytes > peakAllocatedBytes) peakAllocatedBytes = allocatedBytes;
  return { bytes, live: true, savedRefs: 0, internal: false };
}

/** Registers a shared slab: arrays carved from it are counted piece by piece. */
export function noteSlab(slab: ArrayBuffer): void {
  slabs.add(slab);
}

/** The storage of an array, registered (and counted as allocated) if this is its first sight. */
export function noteStorage(arr: ArrayBufferView): Storage {
  const known = byArray.get(arr);
  if (known !== undefined) {
    if (!known.live) revive(known);
    return known;
  }
  const bytes = arr.byteLength;
  if (bytes > ON_HEAP_BYTES) {
    const buffer = arr.buffer;
    if (buffer instanceof ArrayBuffer && !slabs.has(buffer)) {
      let s = byBuffer.get(buffer);
      if (s === undefined) {
        s = newStorage(buffer.byteLength);
        byBuffer.set(buffer, s);
        storageCollected.register(buffer, s);
      } else if (!s.live) {
        revive(s);
      }
      byArray.set(arr, s);
      return s;
    }
  }
  // A slab piece or a small on-heap array: the array is the storage.
  const s = newStorage(bytes);
  byArray.set(arr, s);
  storageCollected.register(arr, s);
  return s;
}

/** A buffer handed out again from the recycle pool is allocated again. */
function revive(s: Storage): void {
  s.live = true;
  allocatedBytes += s.bytes;
  if (allocatedBytes > peakAllocatedBytes) peakAllocatedBytes = allocatedBytes;
}

/** The engine knows this array's storage is dead and puts it in the recycle pool. */
export function noteRecycled(arr: ArrayBufferView): void {
  const s = byArray.get(arr) ?? (arr.buffer instanceof ArrayBuffer ? byBuffer.get(arr.buffer) : undefined);
  if (s !== undefined && s.live) {
    s.live = false;
    allocatedBytes -= s.bytes;
  }
}

/** Marks storage an op made for its own use, so a node holding it as a leaf tensor counts it. */
export function markInternal(arr: ArrayBufferView): void {
  noteStorage(arr).internal = true;
}

// --- saved state --------------------------------------------------------------------------------

/** The fields of a tensor the walker reads (the backend layer may not import Tensor). */
interface TensorShape {
  readonly data: ArrayBufferView;
  readonly shape: readonly number[];
  readonly gradFn: object | null;
}

function isTensorLike(v: object): v is TensorShape {
  return 'data' in v && 'gradFn' in v && 'shape' in v && ArrayBuffer.isView((v as { data: unknown }).data);
}

const holders = new WeakMap<object, Storage[]>();
const holderCollected = new FinalizationRegistry<Storage[]>(release);

function hold(list: Storage[], s: Storage): void {
  if (list.includes(s)) return;
  list.push(s);
  if (s.savedRefs++ === 0) {
    savedBytes += s.bytes;
    if (savedBytes > peakSavedBytes) peakSavedBytes = savedBytes;
  }
}

function release(list: Storage[]): void {
  for (const s of list) if (--s.savedRefs === 0) savedBytes -= s.bytes;
  list.length = 0;
}

function holdTensor(list: Storage[], t: TensorShape): void {
  const s = noteStorage(t.data);
  if (t.gradFn !== null || s.internal) hold(list, s);
}

function walk(list: Storage[], v: unknown, depth: number): void {
  if (typeof v !== 'object' || v === null || depth > 3) return;
  if (ArrayBuffer.isView(v)) {
    if (!(v instanceof DataView)) hold(list, noteStorage(v));
    return;
  }
  if (isTensorLike(v)) return holdTensor(list, v);
  if (Array.isArray(v)) {
    for (const e of v) walk(list, e, depth + 1);
    return;
  }
  // Plain records of saved values only (not modules, closures' owners or other class instances).
  if (Object.getPrototypeOf(v) !== Object.prototype) return;
  for (const k in v) walk(list, (v as Record<string, unknown>)[k], depth + 1);
}

/** A node was recorded: count what it keeps (its non-leaf inputs and its saved values). */
export function noteNode(node: object, inputs: readonly TensorShape[], saved: unknown): void {
  const list: Storage[] = [];
  for (let i = 0; i < inputs.length; i++) holdTensor(list, inputs[i]);
  walk(list, saved, 0);
  if (list.length === 0) return;
  holders.set(node, list);
  holderCollected.register(node, list, node);
}

/** The engine freed a node's saved values and inputs (backward without retainGraph). */
export function noteNodeFreed(node: object): void {
  const list = holders.get(node);
  if (list === undefined) return;
  holders.delete(node);
  holderCollected.unregister(node);
  release(list);
}

/** A node drops one array of its saved values before it is freed (budgeted BPTT's stored states). */
export function noteSavedDropped(node: object, arr: ArrayBufferView): void {
  const list = holders.get(node);
  const s = byArray.get(arr);
  if (list === undefined || s === undefined) return;
  const i = list.indexOf(s);
  if (i < 0) return;
  list.splice(i, 1);
  if (--s.savedRefs === 0) savedBytes -= s.bytes;
}

/**
 * Saved state kept outside a node (the hidden states of memory-budgeted BPTT): counted from
 * this call until the returned function is called.
 */
export function holdSaved(arrays: readonly ArrayBufferView[]): () => void {
  const list: Storage[] = [];
  for (const a of arrays) hold(list, noteStorage(a));
  return () => release(list);
}

/** `{ savedBytes, peakSavedBytes, allocatedBytes, peakAllocatedBytes }`, in bytes. */
export function memoryStats(): MemoryStats {
  return { savedBytes, peakSavedBytes, allocatedBytes, peakAllocatedBytes };
}

/** Sets both peaks to the current values (torch.cuda.reset_peak_memory_stats). */
export function resetPeakMemoryStats(): void {
  peakSavedBytes = savedBytes;
  peakAllocatedBytes = allocatedBytes;
}
