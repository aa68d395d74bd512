// Backend selection. The ops layer calls kernels() once per op, so it only returns a cached
// object; the choice is made on first use:
//   BACKPROP_BACKEND=js|native if set (native then fails loudly if the addon cannot load),
//   else the native addon where it loads, else the js backend with one warning that says why.

import { jsBackend } from './js.js';
import type { Backend, BackendInfo } from './types.js';
import { memoryStats, resetPeakMemoryStats, type MemoryStats } from './memory.js';

export type BackendName = 'native' | 'js';

// The native module is imported dynamically so that a failure while evaluating it (a missing or
// broken addon file) becomes a reason to fall back, never an import error of the whole library.
const nativeModule: { loadNative(): Backend } | Error = await import('./native.js').catch((e: unknown) =>
  e instanceof Error ? e : new Error(String(e)),
);

let nativeResult: Backend | Error | undefined;
let active: Backend | undefined;
let requestedThreads: number | undefined;

/** Loads the addon at most once; returns it, or the Error that says why it cannot load. */
function tryNative(): Backend | Error {
  if (nativeResult === undefined) {
    if (nativeModule instanceof Error) {
      nativeResult = nativeModule;
    } else {
      try {
        nativeResult = nativeModule.loadNative();
      } catch (e) {
        nativeResult = e instanceof Error ? e : new Error(String(e));
      }
    }
  }
  return nativeResult;
}

function nativeOrThrow(): Backend {
  const r = tryNative();
  if (r instanceof Error) {
    throw new Error(`backprop: the native backend is not available: ${r.message}`, { cause: r });
  }
  return r;
}

function activate(b: Backend): Backend {
  if (requestedThreads !== undefined) b.setNumThreads(requestedThreads);
  active = b;
  return b;
}

function selectDefault(): Backend {
  const env = process.env.BACKPROP_BACKEND;
  if (env === 'js') return activate(jsBackend);
  if (env === 'native') return activate(nativeOrThrow());
  if (env !== undefined && env !== '') {
    throw new Error(`backprop: BACKPROP_BACKEND must be 'native' or 'js', got '${env}'`);
  }
  const r = tryNative();
  if (r instanceof Error) {
    process.emitWarning(
      `the native addon failed to load (${r.message}); using the pure-TypeScript backend, which is much slower. ` +
        'Set BACKPROP_BACKEND=js to choose it explicitly and silence this warning.',
      { type: 'BackpropWarning', code: 'BACKPROP_NATIVE_UNAVAILABLE' },
    );
    return activate(jsBackend);
  }
  return activate(r);
}

/** The current backend's kernels (chosen on first call). */
export function kernels(): Backend {
  return active ?? selectDefault();
}

/** Public control of the backend, exported from the package as `backend`. */
export const backend = {
  /** Switches every later op to this backend. use('native') throws, with the reason, where the addon cannot load. */
  use(name: BackendName): void {
    if (name === 'js') activate(jsBackend);
    else if (name === 'native') activate(nativeOrThrow());
    else throw new TypeError(`backend.use: expected 'native' or 'js', got ${String(name)}`);
  },
  /** The name of the backend in use. */
  current(): BackendName {
    return kernels().name;
  },
  /** `{ name, blas, simd, threads }` of the backend in use. */
  info(): BackendInfo {
    return kernels().info();
  },
  /** Threads for GEMM and large kernels; remembered and applied to a backend chosen later too. */
  setNumThreads(n: number): void {
    if (typeof n !== 'number') throw new TypeError(`backend.setNumThreads: n must be a number, got ${typeof n}`);
    // 256 as the native pool's limit, whichever backend runs now (the count is kept for later).
    if (!Number.isInteger(n) || n < 1 || n > 256)
      throw new RangeError(`backend.setNumThreads: n must be an integer in [1, 256], got ${n}`);
    kernels().setNumThreads(n);
    requestedThreads = n;
  },
  /** The backends that can run here, native first when the addon loads. */
  available(): BackendName[] {
    return tryNative() instanceof Error ? ['js'] : ['native', 'js'];
  },
  /** Why the native addon cannot load, or null when it loads. */
  nativeError(): string | null {
    const r = tryNative();
    return r instanceof Error ? r.message : null;
  },
  /**
   * Bytes of tensor storage: what the autograd graph keeps for backward (savedBytes) and all
   * allocated storage (allocatedBytes), current and peak. Measured where it happens; see
   * lib/backend/memory.ts for what is exact and when a free is seen.
   */
  memoryStats(): MemoryStats {
    return memoryStats();
  },
  /** Restarts both peaks from the current values. */
  resetPeakMemoryStats(): void {
    resetPeakMemoryStats();
  },
};

export { jsBackend };
export type { Backend, BackendInfo, MemoryStats };
