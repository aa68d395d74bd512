// Batch-norm bindings: per-channel statistics and the per-channel affine map (batchnorm.h).
#include "addon.h"
#include "batchnorm.h"

namespace bp {

Napi::Value Addon::BatchNormStats(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormStats", 6, 6);
  const FloatArg x = args.floats(0, "x");
  const size_t n = args.size(1, "n"), c = args.size(2, "c"), inner = args.size(3, "inner");
  const FloatArg mean = args.floats(4, "mean");
  const FloatArg var = args.floats(5, "variance");
  args.atLeast(x, args.mul(args.mul(n, c), inner), 0, "x");
  args.atLeast(mean, c, 4, "mean");
  args.atLeast(var, c, 5, "variance");
  withDType(args, [&](auto t) {
    batchNormStats(ctx_.exec(), x.as(t), n, c, inner, mean.as(t), var.as(t));
  });
  return info.Env().Undefined();
}

Napi::Value Addon::ChannelAffine(const Napi::CallbackInfo& info) {
  Args args(info, "channelAffine", 7, 7);
  const FloatArg x = args.floats(0, "x");
  const size_t n = args.size(1, "n"), c = args.size(2, "c"), inner = args.size(3, "inner");
  const FloatArg scale = args.floats(4, "scale");
  const FloatArg shift = args.floats(5, "shift");
  const FloatArg y = args.floats(6, "y");
  const size_t total = args.mul(args.mul(n, c), inner);
  args.atLeast(x, total, 0, "x");
  args.atLeast(scale, c, 4, "scale");
  args.atLeast(shift, c, 5, "shift");
  args.atLeast(y, total, 6, "y");
  withDType(args, [&](auto t) {
    channelAffine(ctx_.exec(), x.as(t), n, c, inner, scale.as(t), shift.as(t), y.as(t));
  });
  return info.Env().Undefined();
}

}  // namespace bp
