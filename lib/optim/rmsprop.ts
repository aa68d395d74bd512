// torch.optim.RMSprop, written over the parameter's typed arrays (no fused kernel exists for it).

import { Optimizer, lossValue, type Closure, type ParamGroup, type Params } from './optimizer.js';
import { bumpVersion } from '../autograd/version.js';

export interface RMSpropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super(params, { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, ...options });
  }

  protected override validate(group: ParamGroup<RMSpropOptions>): void {
    super.validate(group);
    if (!(group.eps >= 0)) throw new RangeError(`RMSprop: invalid epsilon value ${group.eps}`);
    if (!(group.momentum >= 0)) throw new RangeError(`RMSprop: invalid momentum ${group.momentum}`);
    if (!(group.weightDecay >= 0)) throw new RangeError(`RMSprop: invalid weightDecay ${group.weightDecay}`);
    if (!(group.alpha >= 0)) throw new RangeError(`RMSprop: invalid alpha ${group.alpha}`);
  }

  step(closure?: Closure): number | undefined {
    const loss = closure === undefined ? undefined : lossValue(closure());
    for (const group of this.paramGroups) {
      const { lr, alpha, eps, weightDecay, momentum, centered } = group;
      for (const p of group.params) {
        if (p.grad === null) continue;
        bumpVersion(p.data);
        const s = this.stateOf(p);
        s.step = ((s.step as number | undefined) ?? 0) + 1;
        const param = p.data;
        const grad = p.grad.data;
        const sq = this.zerosState(s, 'square_avg', p).data;
        const buf = momentum > 0 ? this.zerosState(s, 'momentum_buffer', p).data : null;
        const gAvg = centered ? this.zerosState(s, 'grad_avg', p).data : null;
        for (let i = 0; i < param.length; i++) {
          const g = weightDecay !== 0 ? grad[i] + weightDecay * param[i] : grad[i];
          sq[i] = alpha * sq[i] + (1 - alpha) * g * g;
          let avg: number;
          if (gAvg !== null) {
            gAvg[i] = alpha * gAvg[i] + (1 - alpha) * g;
            avg = Math.sqrt(sq[i] - gAvg[i] * gAvg[i]) + eps;
          } else {
            avg = Math.sqrt(sq[i]) + eps;
          }
          if (buf !== null) {
            buf[i] = momentum * buf[i] + g / avg;
            param[i] -= lr * buf[i];
          } else {
            param[i] -= lr * (g / avg);
          }
        }
      }
    }
    return loss;
  }
}
