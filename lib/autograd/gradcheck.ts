// gradcheck / gradgradcheck: the analytic gradient (by backward) against central finite
// differences, in float64, element by element.

import { Tensor } from '../tensor.js';
import { grad } from './engine.js';
import { enableGrad } from './mode.js';
import { fillNormal } from '../random.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
}

/** The function gradcheck differentiates: tensors in, one tensor or several out. */
export type GradcheckFn = (...inputs: Tensor[]) => Tensor | Tensor[];

function outputsOf(r: Tensor | Tensor[]): Tensor[] {
  return r instanceof Tensor ? [r] : r;
}

function multiIndex(shape: readonly number[], flat: number): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return `[${idx.join(', ')}]`;
}

/**
 * Checks every partial derivative d out[j] / d inputs[i][k] of fn at `inputs` (float64 tensors;
 * those with requiresGrad are checked). Throws an Error naming the input, the element, the
 * analytic and the numeric value where |analytic - numeric| > atol + rtol |numeric|.
 * Returns true otherwise.
 */
export function gradcheck(fn: GradcheckFn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): boolean {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-5;
  const rtol = opts.rtol ?? 1e-3;
  inputs.forEach((x, i) => {
    if (!(x instanceof Tensor)) throw new TypeError(`gradcheck: input ${i} is not a Tensor`);
    if (x.requiresGrad && x.dtype !== 'float64') {
      throw new Error(`gradcheck: input ${i} is ${x.dtype}; finite differences need float64 inputs`);
    }
  });
  const checked = inputs.map((x, i) => [x, i] as const).filter(([x]) => x.requiresGrad);
  if (checked.length === 0) throw new Error('gradcheck: no input requires grad');

  // Analytic Jacobian, one backward per output element.
  const outs = enableGrad(() => outputsOf(fn(...inputs)));
  const outSizes = outs.map((o) => o.data.length);
  const analytic: Float64Array[][] = checked.map(([x]) =>
    outs.map((o) => new Float64Array(o.data.length * x.data.length)),
  );
  outs.forEach((o, oi) => {
    if (!o.requiresGrad) return; // constant output: analytic gradient zero
    for (let j = 0; j < o.data.length; j++) {
      const go = new Tensor(new Float64Array(o.data.length), o.shape);
      go.data[j] = 1;
      const gs = grad(
        o,
        checked.map(([x]) => x),
        { gradOutputs: go, retainGraph: true, allowUnused: true },
      );
      gs.forEach((g, ci) => {
        if (g === null) return;
        analytic[ci][oi].set(g.data, j * g.data.length);
      });
    }
  });

  // Numeric Jacobian by central differences, one element at a time, and the comparison.
  checked.forEach(([x, inputIndex], ci) => {
    for (let k = 0; k < x.data.length; k++) {
      const orig = x.data[k];
      x.data[k] = orig + eps;
      const plus = enableGrad(() => outputsOf(fn(...inputs)).map((o) => Float64Array.from(o.data)));
      x.data[k] = orig - eps;
      const minus = enableGrad(() => outputsOf(fn(...inputs)).map((o) => Float64Array.from(o.data)));
      x.data[k] = orig;
      for (let oi = 0; oi < outs.length; oi++) {
        for (let j = 0; j < outSizes[oi]; j++) {
          const numeric = (plus[oi][j] - minus[oi][j]) / (2 * eps);
          const a = analytic[ci][oi][j * x.data.length + k];
          if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) {
            const outName = outs.length > 1 ? `output ${oi} ` : 'output ';
            throw new Error(
              `gradcheck: Jacobian mismatch for input ${inputIndex} (shape [${x.shape.join(', ')}]) at element ` +
                `${multiIndex(x.shape, k)}, ${outName}element ${multiIndex(outs[oi].shape, j)}: ` +
                `analytic ${a} vs numeric ${numeric} (atol ${atol}, rtol ${rtol})`,
            );
          }
        }
      }
    }
  });
  return true;
}

/**
 * Checks second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v) with
 * createGraph, v random (seeded) gradOutputs in float64.
 */
export function gradgradcheck(fn: GradcheckFn, inputs: readonly Tensor[], opts: GradcheckOptions = {}): boolean {
  const outs = enableGrad(() => outputsOf(fn(...inputs)));
  const vs = outs.map((o) => new Tensor(fillNormal(new Float64Array(o.data.length)), o.shape, true));
  const checkedIdx = inputs.map((x, i) => (x.requiresGrad ? i : -1)).filter((i) => i >= 0);
  const first = (...args: Tensor[]): Tensor[] => {
    const xs = args.slice(0, inputs.length);
    const v = args.slice(inputs.length);
    const os = outputsOf(fn(...xs));
    const diffOuts = os.map((o, i) => [o, v[i]] as const).filter(([o]) => o.requiresGrad);
    if (diffOuts.length === 0) return [];
    const gs = grad(
      diffOuts.map(([o]) => o),
      checkedIdx.map((i) => xs[i]),
      {
        gradOutputs: diffOuts.map(([, vi]) => vi),
        createGraph: true,
        allowUnused: true,
      },
    );
    // An unused input has a zero gradient: a constant output for the check.
    return gs.map((g, i) => g ?? new Tensor(new Float64Array(xs[checkedIdx[i]].data.length), xs[checkedIdx[i]].shape));
  };
  return gradcheck(first, [...inputs, ...vs], opts);
}
