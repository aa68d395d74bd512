// Linear and conv2d whose backward sends the error to the input through a feedback matrix B in
// place of the forward weight W (the weight-transport problem: feedback alignment uses a fixed
// random B, sign symmetry B = sign(W)). The forward, and the weight and bias gradients, are those
// of linear and conv2d, in the same kernels; only the input gradient reads B instead of W, so
// with B = W every gradient equals backpropagation's bit for bit.

import { Tensor } from '../tensor.js';
import type { ConvGeometry } from '../backend/types.js';
import { noGrad } from '../autograd/mode.js';
import { defineOp } from './registry.js';
import { checkSameDtype, checkTensor, record, sameShape, shapeStr } from './util.js';
import { biasGradFused, linear, linearGrads } from './matmul.js';
import { conv2d, conv2dGrads, geometry, type Conv2dOptions } from './conv.js';

function checkFeedback(op: string, weight: Tensor, feedback: Tensor): void {
  checkTensor(op, 'feedback', feedback);
  checkSameDtype(op, weight, feedback);
  if (!sameShape(weight.shape, feedback.shape)) {
    throw new Error(
      `${op}: feedback shape ${shapeStr(feedback.shape)} does not match weight shape ${shapeStr(weight.shape)}`,
    );
  }
}

/** x @ wᵀ + b whose input gradient is g @ feedback (feedback shaped like w). */
export function linearFeedback(x: Tensor, weight: Tensor, bias: Tensor | null, feedback: Tensor): Tensor {
  checkFeedback('linearFeedback', weight, feedback);
  if (x.ndim !== 2 && x.ndim > 0) {
    const inF = x.shape[x.ndim - 1];
    const y = linearFeedback(x.reshape([-1, inF]), weight, bias, feedback);
    return y.reshape([...x.shape.slice(0, -1), weight.shape[0]]);
  }
  // linear checks the shapes; its node is not kept (this op records its own).
  const y = noGrad(() => linear(x, weight, bias));
  return record(y, linearFeedbackOp, bias === null ? [x, weight] : [x, weight, bias], feedback);
}

const linearFeedbackOp = defineOp<Tensor>({
  name: 'linearFeedback',
  kernels: ['gemm', 'biasAdd'],
  arity: 'variadic', // x, w and an optional b
  rule: (g, node) => linearGrads(g, node.inputs, node.saved, (gy) => gy.sum(0)),
  fused: (g, node) => linearGrads(g, node.inputs, node.saved, biasGradFused),
  fusedKernels: ['biasGrad', 'gemm'],
});

interface ConvFeedbackSaved {
  geometry: ConvGeometry;
  feedback: Tensor;
}

/** conv2d whose input gradient is the transposed convolution of gy with feedback (shaped like weight). */
export function conv2dFeedback(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  feedback: Tensor,
  opts: Conv2dOptions = {},
): Tensor {
  checkFeedback('conv2dFeedback', weight, feedback);
  const y = noGrad(() => conv2d(x, weight, bias, opts));
  const saved = { geometry: geometry('conv2dFeedback', x, weight, opts), feedback };
  return record(y, conv2dFeedbackOp, bias === null ? [x, weight] : [x, weight, bias], saved);
}

const conv2dFeedbackOp = defineOp<ConvFeedbackSaved>({
  name: 'conv2dFeedback',
  kernels: ['conv2d'],
  arity: 'variadic', // x, weight and an optional bias
  rule: (gy, node) => conv2dGrads(gy, node.inputs, node.saved.feedback, node.saved.geometry, false),
  fused: (gy, node) => conv2dGrads(gy, node.inputs, node.saved.feedback, node.saved.geometry, true),
  fusedKernels: ['conv2dBackwardInput', 'conv2dBackwardWeight'],
});

/**
 * Direct feedback alignment's tap (Nøkland 2016): the identity on `output` in the forward; in the
 * backward, output's gradient e passes through unchanged and each hidden activation h_l receives
 * e @ B_l (B_l is [outputs, features of h_l]) instead of the error backpropagated from above.
 */
export function directFeedbackTap(output: Tensor, hidden: readonly Tensor[], feedback: readonly Tensor[]): Tensor {
  const op = 'directFeedbackTap';
  checkTensor(op, 'output', output);
  if (hidden.length !== feedback.length)
    throw new Error(`${op}: ${hidden.length} hidden activations but ${feedback.length} feedback matrices`);
  if (output.ndim !== 2) throw new Error(`${op}: output must be [N, C], got shape ${shapeStr(output.shape)}`);
  const [n, c] = output.shape;
  hidden.forEach((h, i) => {
    checkTensor(op, `hidden[${i}]`, h);
    checkSameDtype(op, output, h);
    const features = h.ndim === 0 ? 0 : h.size / Math.max(h.shape[0], 1);
    if (h.shape[0] !== n || feedback[i].ndim !== 2 || feedback[i].shape[0] !== c || feedback[i].shape[1] !== features) {
      throw new Error(
        `${op}: feedback[${i}] shape ${shapeStr(feedback[i].shape)} does not map output shape ${shapeStr(output.shape)} to hidden shape ${shapeStr(h.shape)} (expected [${c}, ${features}])`,
      );
    }
  });
  const out = new Tensor(output.data, output.shape);
  return record(out, directFeedbackTapOp, [output, ...hidden], feedback);
}

const directFeedbackTapOp = defineOp<readonly Tensor[]>({
  name: 'directFeedbackTap',
  kernels: ['gemm'],
  arity: 'variadic', // output, then one hidden activation per feedback matrix
  rule: (g, node) => {
    const [output, ...hidden] = node.inputs;
    return [
      output.requiresGrad ? g : null,
      ...hidden.map((h, i) => (h.requiresGrad ? g.matmul(node.saved[i]).reshape(h.shape) : null)),
    ];
  },
});

/** Given the output's gradient, a local learning rule's updates for each parameter (null: none). */
export type LocalRule = (g: Tensor) => (Tensor | null)[];

/**
 * A local learning rule's tap (predictive coding): the identity on `output`, computed without a
 * graph; in the backward, the rule turns the output's gradient into the parameters' updates, which
 * land in their `.grad` as backpropagation's gradients would, so any optimizer and fit() apply them.
 */
export function localLearningTap(output: Tensor, params: readonly Tensor[], rule: LocalRule): Tensor {
  checkTensor('localLearningTap', 'output', output);
  params.forEach((p, i) => checkTensor('localLearningTap', `params[${i}]`, p));
  const out = new Tensor(output.data, output.shape);
  return record(out, localLearningTapOp, [...params], rule);
}

const localLearningTapOp = defineOp<LocalRule>({
  name: 'localLearningTap',
  kernels: [],
  arity: 'variadic', // the parameters the rule updates
  rule: (g, node) => {
    const grads = node.saved(g);
    if (grads.length !== node.inputs.length)
      throw new Error(`localLearningTap: the rule gave ${grads.length} updates for ${node.inputs.length} parameters`);
    return grads;
  },
});
