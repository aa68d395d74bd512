// Loading the addon in the tests that call it directly: the backend (with its test hooks), or the
// reason it could not load, which those tests print when they skip.

import { loadNative, type NativeBackend } from '../../lib/backend/native.js';

export function tryLoadNative(): { native: NativeBackend | null; loadError: string } {
  try {
    return { native: loadNative(), loadError: '' };
  } catch (e) {
    return { native: null, loadError: e instanceof Error ? e.message : String(e) };
  }
}
