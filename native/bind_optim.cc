// Optimizer steps (the table's fused SGD and Adam/AdamW updates, split over the pool when long).
#include <cstdint>

#include "addon.h"

namespace bp {

Napi::Value Addon::SgdStep(const Napi::CallbackInfo& info) {
  Args args(info, "sgdStep", 9, 9);
  const FloatArg param = args.floats(0, "param");
  const FloatArg grad = args.floats(1, "grad");
  const FloatArg buf = args.floatsOrNull(2, "buf");
  const double lr = args.number(3, "lr");
  const double momentum = args.number(4, "momentum");
  const double dampening = args.number(5, "dampening");
  const double weightDecay = args.number(6, "weightDecay");
  const bool nesterov = args.boolean(7, "nesterov");
  const bool firstStep = args.boolean(8, "firstStep");
  args.exactly(grad, param.length, 1, "grad");
  if (buf.isNull && momentum != 0)
    args.typeError(2, "buf", "must be a float array when momentum is not 0, got null");
  if (!buf.isNull) args.exactly(buf, param.length, 2, "buf");
  withDType(args, [&](auto t) {
    elementwise(param.length, [&](size_t b, size_t e) {
      k(t).sgdStep(param.as(t) + b, grad.as(t) + b, buf.isNull ? nullptr : buf.as(t) + b, e - b, lr,
                   momentum, dampening, weightDecay, nesterov, firstStep);
    });
  });
  return info.Env().Undefined();
}

Napi::Value Addon::AdamStep(const Napi::CallbackInfo& info) {
  Args args(info, "adamStep", 12, 12);
  const FloatArg param = args.floats(0, "param");
  const FloatArg grad = args.floats(1, "grad");
  const FloatArg expAvg = args.floats(2, "expAvg");
  const FloatArg expAvgSq = args.floats(3, "expAvgSq");
  const FloatArg maxExpAvgSq = args.floatsOrNull(4, "maxExpAvgSq");
  const double step = args.number(5, "step");
  if (!(step >= 1) || step != static_cast<double>(static_cast<int64_t>(step > 9e15 ? 0 : step)))
    args.rangeError(5, "step", "must be an integer >= 1 (steps count from 1)");
  const double lr = args.number(6, "lr");
  const double beta1 = args.number(7, "beta1");
  const double beta2 = args.number(8, "beta2");
  const double eps = args.number(9, "eps");
  const double weightDecay = args.number(10, "weightDecay");
  const bool decoupled = args.boolean(11, "decoupled");
  args.exactly(grad, param.length, 1, "grad");
  args.exactly(expAvg, param.length, 2, "expAvg");
  args.exactly(expAvgSq, param.length, 3, "expAvgSq");
  if (!maxExpAvgSq.isNull) args.exactly(maxExpAvgSq, param.length, 4, "maxExpAvgSq");
  withDType(args, [&](auto t) {
    elementwise(param.length, [&](size_t b, size_t e) {
      k(t).adamStep(param.as(t) + b, grad.as(t) + b, expAvg.as(t) + b, expAvgSq.as(t) + b,
                    maxExpAvgSq.isNull ? nullptr : maxExpAvgSq.as(t) + b, e - b, step, lr, beta1,
                    beta2, eps, weightDecay, decoupled);
    });
  });
  return info.Env().Undefined();
}

}  // namespace bp
