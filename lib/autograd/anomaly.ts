// detectAnomaly: every op's forward output and every backward gradient is checked for NaN/Inf
// while fn runs; the first one found throws, naming the op.

import { setAnomalyEnabled } from './mode.js';

/** Runs fn (synchronously) with anomaly detection on and returns its result. */
export function detectAnomaly<T>(fn: () => T): T {
  const prev = setAnomalyEnabled(true);
  try {
    return fn();
  } finally {
    setAnomalyEnabled(prev);
  }
}
