// Grad mode and anomaly mode: module-level switches read by every op. Plain variables (one per
// worker, as each worker has its own module instance), read through small functions.

let gradEnabled = true;
let anomalyEnabled = false;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Sets grad mode and returns the previous value (for try/finally restoring). */
export function setGradEnabled(enabled: boolean): boolean {
  const prev = gradEnabled;
  gradEnabled = enabled;
  return prev;
}

export function isAnomalyEnabled(): boolean {
  return anomalyEnabled;
}

export function setAnomalyEnabled(enabled: boolean): boolean {
  const prev = anomalyEnabled;
  anomalyEnabled = enabled;
  return prev;
}

/**
 * Runs fn without recording the autograd graph (torch.no_grad). fn must be synchronous: grad
 * mode is restored as soon as fn returns.
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with grad mode on (torch.enable_grad), e.g. inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}
