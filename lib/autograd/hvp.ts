// hvp: exact Hessian-vector products by double backward (torch.autograd.functional.hvp).

import { Tensor } from '../tensor.js';
import { grad } from './engine.js';
import { enableGrad } from './mode.js';
import { allocLike, floatData, sameShape, shapeStr } from '../ops/util.js';

export interface HvpResult<T extends Tensor | Tensor[]> {
  /** fn(inputs), detached. */
  value: Tensor;
  /** H v, shaped like the inputs (a Tensor or an array, as the inputs were given). */
  hvp: T;
}

/**
 * H(x) v for a scalar function fn of one tensor or several: the gradient of <grad fn(x), v>,
 * computed by a second backward through the first one; the Hessian itself is never formed.
 */
export function hvp<T extends Tensor | Tensor[]>(fn: (...inputs: Tensor[]) => Tensor, inputs: T, v: T): HvpResult<T> {
  const single = inputs instanceof Tensor;
  const xsIn: Tensor[] = single ? [inputs] : inputs;
  const vs: Tensor[] = v instanceof Tensor ? [v] : v;
  if (vs.length !== xsIn.length) throw new Error(`hvp: got ${vs.length} vectors for ${xsIn.length} inputs`);
  vs.forEach((vi, i) => {
    if (!(vi instanceof Tensor) || !sameShape(vi.shape, xsIn[i].shape)) {
      throw new Error(`hvp: v[${i}] must be a Tensor of the input's shape ${shapeStr(xsIn[i].shape)}`);
    }
  });
  return enableGrad(() => {
    const xs = xsIn.map((x) => x.detach().requiresGrad_(true));
    const value = fn(...xs);
    if (!(value instanceof Tensor) || value.data.length !== 1) {
      throw new Error('hvp: fn must return a scalar (one-element) Tensor');
    }
    const gs = grad(value, xs, { createGraph: true, allowUnused: true });
    let dot: Tensor | null = null;
    gs.forEach((g, i) => {
      if (g === null) return;
      const term = g.mul(vs[i].detach()).sum();
      dot = dot === null ? term : dot.add(term);
    });
    const zerosLike = (x: Tensor): Tensor => new Tensor(allocLike(floatData(x), x.data.length), x.shape);
    let hs: (Tensor | null)[];
    if (dot === null || !(dot as Tensor).requiresGrad) hs = xs.map(() => null);
    else hs = grad(dot, xs, { allowUnused: true });
    const out = hs.map((h, i) => (h === null ? zerosLike(xs[i]) : h.detach()));
    return { value: value.detach(), hvp: (single ? out[0] : out) as T };
  });
}
