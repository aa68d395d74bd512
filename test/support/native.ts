// Whether the native addon runs here, for the tests that need it: the backend (with its test
// hooks), or the reason it could not load, which those tests print when they skip.
//
// BACKPROP_REQUIRE_NATIVE=1 (set by .ci/run, where the addon and OpenBLAS are built and installed)
// turns every such skip into a failure that carries the reason, so a broken build cannot pass CI
// by skipping the native suites.

import { backend, type BackendName } from '../../lib/backend/index.js';
import { loadNative, type NativeBackend } from '../../lib/backend/native.js';

export const nativeRequired = process.env.BACKPROP_REQUIRE_NATIVE === '1';

/** Throws when BACKPROP_REQUIRE_NATIVE=1, with `what` and `why`; otherwise does nothing. */
export function requireNativeOrSkip(what: string, why: string): void {
  if (nativeRequired) throw new Error(`BACKPROP_REQUIRE_NATIVE=1, but ${what} would be skipped: ${why}`);
}

export function tryLoadNative(): { native: NativeBackend | null; loadError: string } {
  try {
    return { native: loadNative(), loadError: '' };
  } catch (e) {
    const loadError = e instanceof Error ? e.message : String(e);
    requireNativeOrSkip('the native tests', `the addon cannot load: ${loadError}`);
    return { native: null, loadError };
  }
}

/** Every backend that loads here (native first when the addon is built). */
export function backendsHere(): BackendName[] {
  const names = backend.available();
  if (!names.includes('native')) {
    requireNativeOrSkip('the native backend', `the addon cannot load: ${backend.nativeError() ?? 'unknown reason'}`);
  }
  return names;
}
