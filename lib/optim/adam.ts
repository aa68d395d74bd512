// torch.optim.Adam and AdamW: one fused backend kernel (adamStep) per parameter, in place.

import { kernels } from '../backend/index.js';
import { Optimizer, lossValue, type Closure, type ParamGroup, type Params } from './optimizer.js';
import { floatData } from '../ops/util.js';
import { bumpVersion } from '../autograd/version.js';

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
}

abstract class AdamBase extends Optimizer<AdamOptions> {
  /** AdamW decays the weights directly instead of adding weightDecay*param to the gradient. */
  protected abstract readonly decoupled: boolean;

  protected override validate(group: ParamGroup<AdamOptions>): void {
    super.validate(group);
    const name = this.constructor.name;
    if (!Array.isArray(group.betas) || group.betas.length !== 2)
      throw new TypeError(`${name}: betas must be [beta1, beta2]`);
    group.betas.forEach((b, i) => {
      if (!(b >= 0 && b < 1)) throw new RangeError(`${name}: invalid beta parameter at index ${i}: ${b}`);
    });
    if (!(group.eps >= 0)) throw new RangeError(`${name}: invalid epsilon value ${group.eps}`);
    if (!(group.weightDecay >= 0)) throw new RangeError(`${name}: invalid weightDecay ${group.weightDecay}`);
  }

  step(closure?: Closure): number | undefined {
    const loss = closure === undefined ? undefined : lossValue(closure());
    const k = kernels();
    for (const group of this.paramGroups) {
      const [beta1, beta2] = group.betas;
      for (const p of group.params) {
        if (p.grad === null) continue;
        bumpVersion(p.data);
        const s = this.stateOf(p);
        const step = ((s.step as number | undefined) ?? 0) + 1;
        s.step = step;
        const expAvg = this.zerosState(s, 'exp_avg', p);
        const expAvgSq = this.zerosState(s, 'exp_avg_sq', p);
        const maxSq = group.amsgrad ? floatData(this.zerosState(s, 'max_exp_avg_sq', p)) : null;
        k.adamStep(
          floatData(p),
          floatData(p.grad),
          floatData(expAvg),
          floatData(expAvgSq),
          maxSq,
          step,
          group.lr,
          beta1,
          beta2,
          group.eps,
          group.weightDecay,
          this.decoupled,
        );
      }
    }
    return loss;
  }
}

/** Adam; weightDecay is an L2 penalty added to the gradient (torch.optim.Adam). */
export class Adam extends AdamBase {
  protected readonly decoupled = false;

  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...options });
  }
}

/** AdamW: decoupled weight decay, param *= 1 - lr*weightDecay (torch.optim.AdamW, weightDecay 1e-2). */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;

  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...options });
  }
}
