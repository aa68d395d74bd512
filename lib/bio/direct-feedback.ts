// Direct feedback alignment (Nøkland 2016): the output error e is sent straight to every hidden
// layer through a fixed random matrix, δ_l = (e B_l) ⊙ f'(a_l), instead of backwards through the
// layers above. The model is a Sequential whose blocks start at each Linear layer; in the forward,
// each block's input is detached (no error flows between blocks) and a tap on the output hands e
// to every hidden block's output, so loss.backward(), fit() and any optimizer run DFA unchanged.

import { type Tensor, zeros } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers/linear.js';
import { Conv2d } from '../nn/layers/conv.js';
import { Sequential } from '../nn/layers/container.js';
import { uniform } from '../nn/init.js';
import { directFeedbackTap } from '../ops/feedback.js';

interface Block {
  linear: Linear;
  modules: Module[];
}

/** The blocks of a Sequential: each starts at a Linear (modules before the first join block 0). */
function blocksOf(model: Sequential): Block[] {
  const blocks: Block[] = [];
  const prefix: Module[] = [];
  for (const m of model.children()) {
    if (m instanceof Conv2d) {
      throw new Error(
        'bio.DirectFeedbackAlignment: Conv2d layers are not supported (use feedbackAlignment or signSymmetry)',
      );
    }
    if (m instanceof Linear) blocks.push({ linear: m, modules: blocks.length === 0 ? [...prefix, m] : [m] });
    else if (blocks.length === 0) prefix.push(m);
    else blocks[blocks.length - 1].modules.push(m);
  }
  if (blocks.length === 0) throw new Error('bio.DirectFeedbackAlignment: the model has no Linear layer');
  return blocks;
}

export class DirectFeedbackAlignment extends Module {
  readonly model: Sequential;
  readonly #blocks: Block[];

  /**
   * Wraps `model` (a Sequential of Linear layers and shape-keeping modules between them) and gives
   * each hidden Linear the buffer `direct_feedback_weight` [outputs, its outFeatures], drawn from
   * U(±1/√outputs) with the global generator; saved and restored with the model's state dict.
   */
  constructor(model: Sequential) {
    super();
    if (!(model instanceof Sequential))
      throw new TypeError('bio.DirectFeedbackAlignment: model must be an nn.Sequential');
    this.#blocks = blocksOf(model);
    this.model = this.registerModule('model', model) as Sequential;
    const outputs = this.#blocks[this.#blocks.length - 1].linear.outFeatures;
    const bound = 1 / Math.sqrt(Math.max(outputs, 1));
    for (const { linear } of this.#blocks.slice(0, -1)) {
      const b = zeros([outputs, linear.outFeatures], { dtype: linear.weight.dtype });
      linear.registerBuffer('direct_feedback_weight', uniform(b, -bound, bound));
    }
  }

  forward(x: Tensor): Tensor {
    const hidden: Tensor[] = [];
    const feedback: Tensor[] = [];
    let h = x;
    this.#blocks.forEach((block, k) => {
      if (k > 0) h = h.detach();
      for (const m of block.modules) h = m.forward(h) as Tensor;
      if (k < this.#blocks.length - 1) {
        hidden.push(h);
        feedback.push((block.linear as unknown as { direct_feedback_weight: Tensor }).direct_feedback_weight);
      }
    });
    return directFeedbackTap(h, hidden, feedback);
  }
}
