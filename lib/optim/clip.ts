// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), in place on .grad.

import { Tensor } from '../tensor.js';

function gradsOf(params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  const grads: Tensor[] = [];
  for (const p of list) if (p.grad !== null) grads.push(p.grad);
  return grads;
}

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite instead of scaling by it. */
  errorIfNonfinite?: boolean;
}

/**
 * Scales all gradients together so that their joint norm is at most maxNorm; returns the
 * joint norm before clipping. normType is p of the p-norm, Infinity for the max norm.
 */
export function clipGradNorm(
  params: Tensor | Iterable<Tensor>,
  maxNorm: number,
  normType = 2,
  options: ClipGradNormOptions = {},
): number {
  if (!(typeof maxNorm === 'number' && maxNorm >= 0))
    throw new RangeError(`clipGradNorm: maxNorm must be a non-negative number, got ${maxNorm}`);
  if (!(typeof normType === 'number' && normType > 0))
    throw new RangeError(`clipGradNorm: normType must be positive, got ${normType}`);
  const grads = gradsOf(params);
  if (grads.length === 0) return 0;
  let total = 0;
  if (normType === Infinity) {
    // Math.max propagates NaN, so a NaN gradient makes the norm NaN, as in torch
    for (const g of grads) for (const v of g.data) total = Math.max(total, Math.abs(v));
  } else {
    for (const g of grads) {
      let s = 0;
      for (const v of g.data) s += Math.abs(v) ** normType;
      total += s;
    }
    total **= 1 / normType;
  }
  if (options.errorIfNonfinite && !Number.isFinite(total)) {
    throw new Error(
      `clipGradNorm: the total norm of order ${normType} of the gradients is non-finite (${total}), so it cannot be clipped`,
    );
  }
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    for (const g of grads) {
      const d = g.data;
      for (let i = 0; i < d.length; i++) d[i] *= coef;
    }
  }
  return total;
}

/** Clamps every gradient element into [-clipValue, clipValue]. */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  if (!(typeof clipValue === 'number' && clipValue >= 0))
    throw new RangeError(`clipGradValue: clipValue must be a non-negative number, got ${clipValue}`);
  for (const g of gradsOf(params)) {
    const d = g.data;
    for (let i = 0; i < d.length; i++) d[i] = Math.min(clipValue, Math.max(-clipValue, d[i]));
  }
}
