// torch.optim.SGD: one fused backend kernel (sgdStep) per parameter, on its values in place.

import type { Tensor } from '../tensor.js';
import { kernels } from '../backend/index.js';
import { Optimizer, lossValue, type Closure, type ParamGroup, type Params } from './optimizer.js';
import { floatData } from '../ops/util.js';
import { bumpVersion } from '../autograd/version.js';

export interface SGDOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options });
  }

  protected override validate(group: ParamGroup<SGDOptions>): void {
    super.validate(group);
    if (!(group.momentum >= 0 && group.momentum < Infinity))
      throw new RangeError(`SGD: invalid momentum ${group.momentum}`);
    if (!(group.weightDecay >= 0 && group.weightDecay < Infinity))
      throw new RangeError(`SGD: invalid weightDecay ${group.weightDecay}`);
    if (typeof group.dampening !== 'number' || Number.isNaN(group.dampening)) {
      throw new RangeError(`SGD: invalid dampening ${group.dampening}`);
    }
    if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
      throw new RangeError('SGD: nesterov momentum requires a momentum and zero dampening');
    }
  }

  /** One update of every parameter that has a gradient; returns the closure's loss if given. */
  step(closure?: Closure): number | undefined {
    const loss = closure === undefined ? undefined : lossValue(closure());
    const k = kernels();
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (p.grad === null) continue;
        bumpVersion(p.data);
        let buf: Tensor | null = null;
        let firstStep = false;
        if (group.momentum !== 0) {
          const s = this.stateOf(p);
          firstStep = s.momentum_buffer === undefined;
          buf = this.zerosState(s, 'momentum_buffer', p);
        }
        k.sgdStep(
          floatData(p),
          floatData(p.grad),
          buf === null ? null : floatData(buf),
          group.lr,
          group.momentum,
          group.dampening,
          group.weightDecay,
          group.nesterov,
          firstStep,
        );
      }
    }
    return loss;
  }
}
