// Sequential and ModuleList: children named '0', '1', ... (torch's state_dict names).

import type { Tensor } from '../../tensor.js';
import { Module } from '../module.js';
import { checkpointSegmentsOf, checkpointSequential } from '../utils/checkpoint.js';

/** What Sequential and ModuleList share: children '0', '1', ..., indexed, appended, iterated. */
abstract class IndexedModules extends Module {
  get length(): number {
    return this.children().length;
  }

  /** The i-th module (negative i counts from the end). */
  at(i: number): Module {
    const list = this.children();
    const m = list[i < 0 ? list.length + i : i];
    if (m === undefined)
      throw new RangeError(`${this.constructor.name}: index ${i} is out of range for ${list.length} modules`);
    return m;
  }

  append(module: Module): this {
    if (!(module instanceof Module)) throw new TypeError(`${this.constructor.name}.append: argument is not a Module`);
    this.registerModule(String(this.length), module);
    return this;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children()[Symbol.iterator]();
  }
}

export class Sequential extends IndexedModules {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => {
      if (!(m instanceof Module)) throw new TypeError(`Sequential: argument ${i} is not a Module`);
      this.registerModule(String(i), m);
    });
  }

  forward(x: Tensor): Tensor {
    const segments = checkpointSegmentsOf(this);
    if (segments !== undefined) return checkpointSequential(this, Math.min(segments, this.length), x);
    let y = x;
    for (const m of this.children()) y = m.forward(y) as Tensor;
    return y;
  }
}

/**
 * A list of submodules registered as '0', '1', ... (torch.nn.ModuleList), so that a model can
 * hold a variable number of layers and still get torch's state_dict names ('layers.0.weight').
 */
export class ModuleList extends IndexedModules {
  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** A ModuleList only holds modules; the owner's forward calls them. */
  forward(): never {
    throw new Error('ModuleList has no forward: iterate over it and call its modules');
  }
}
