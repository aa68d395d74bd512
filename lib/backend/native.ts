// The native backend: the C++ addon (native/, built by node-gyp or shipped as a prebuild) loaded
// through node-gyp-build from the package root. The addon's exports already have the exact
// signatures of the Backend interface, so the backend object IS the addon: no JS wrapper sits
// between the ops layer and a kernel.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { KERNEL_NAMES, type Backend, type OP_FAMILIES, type SimdLevel } from './types.js';

/** Test and benchmark hooks exported by the addon next to the Backend kernels. */
export interface NativeHooks {
  /** Forces a SIMD path; RangeError if this CPU (or build) lacks it. */
  _setSimd(level: SimdLevel): void;
  /** The SIMD levels this CPU supports, best first. */
  _simdLevels(): SimdLevel[];
  /** Chooses OpenBLAS or the built-in GEMM; Error if OpenBLAS was not found. */
  _setBlas(which: 'openblas' | 'builtin'): void;
  /** The addon's op-code name lists (native/op_codes.h), which must equal OP_FAMILIES. */
  _opNames(): { [F in keyof typeof OP_FAMILIES]: string[] };
}

export type NativeBackend = Backend & NativeHooks;

// lib/backend/native.ts and dist/backend/native.js both sit two levels below the package root.
const packageRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Test and benchmark hooks the addon must export next to the kernels. */
const HOOK_NAMES = [
  '_setSimd',
  '_simdLevels',
  '_setBlas',
  '_opNames',
] as const satisfies readonly (keyof NativeHooks)[];
type MissingHook = Exclude<keyof NativeHooks, (typeof HOOK_NAMES)[number]>;
// A compile error here names a NativeHooks member that HOOK_NAMES lacks.
const everyHookListed: [MissingHook] extends [never] ? true : MissingHook = true;
void everyHookListed;

/** Every function a usable addon exports: the Backend's kernels (KERNEL_NAMES), info, setNumThreads and the hooks. */
const EXPORTS: readonly string[] = ['info', 'setNumThreads', ...KERNEL_NAMES, ...HOOK_NAMES];

let loaded: NativeBackend | undefined;

/**
 * Loads the addon (once per thread) and returns it as a Backend. Throws an Error that says what
 * failed: no build or prebuild for this platform, a build that cannot be opened, or a stale
 * build that lacks kernels.
 */
export function loadNative(): NativeBackend {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  let addon: Record<string, unknown>;
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => Record<string, unknown>;
    addon = nodeGypBuild(packageRoot);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `cannot load the backprop native addon from ${packageRoot} (looked for build/Release/backprop.node ` +
        `and prebuilds/${process.platform}-${process.arch}/): ${why}. ` +
        'Build it with `npm run build:native` (needs a C++ compiler and python3).',
      { cause: e },
    );
  }
  const missing = EXPORTS.filter((k) => typeof addon[k] !== 'function');
  if (missing.length > 0) {
    throw new Error(
      `the backprop native addon in ${packageRoot} is out of date: it lacks ${missing.join(', ')}; ` +
        'rebuild it with `npm run build:native`',
    );
  }
  loaded = addon as unknown as NativeBackend;
  return loaded;
}
