// Pooling bindings: the window geometry is checked here, the kernels (pool.h) trust it.
#include <cstdint>
#include <limits>
#include <string>

#include "addon.h"
#include "bind_common.h"
#include "pool.h"

namespace bp {
namespace {

// Reads and checks arguments f.. (planes, h, w, kH, kW, strides, paddings).
PoolGeom readPoolGeom(Args& args, size_t f) {
  PoolGeom g;
  g.planes = args.size(f, "planes");
  g.h = args.size(f + 1, "h");
  g.w = args.size(f + 2, "w");
  g.kH = positive(args, f + 3, "kH");
  g.kW = positive(args, f + 4, "kW");
  g.sH = positive(args, f + 5, "strideH");
  g.sW = positive(args, f + 6, "strideW");
  g.pH = args.size(f + 7, "padH");
  g.pW = args.size(f + 8, "padW");
  if (g.pH > g.kH / 2 || g.pW > g.kW / 2)
    args.rangeError(f + 7, "padH",
                    "padding " + std::to_string(g.pH) + "x" + std::to_string(g.pW) +
                        " must be at most half the kernel " + std::to_string(g.kH) + "x" +
                        std::to_string(g.kW));
  g.oH = windowOutSize(args, f + 3, "height", g.h, g.kH, g.sH, g.pH, 1);
  g.oW = windowOutSize(args, f + 4, "width", g.w, g.kW, g.sW, g.pW, 1);
  g.HW = args.mul(g.h, g.w);
  g.O = args.mul(g.oH, g.oW);
  args.mul(g.planes, g.HW);
  args.mul(g.planes, g.O);
  if (g.HW > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    args.rangeError(f + 1, "h",
                    "a plane of more than 2^31-1 elements cannot be indexed by an Int32Array");
  return g;
}

}  // namespace

Napi::Value Addon::MaxPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2d", 12, 12);
  const FloatArg x = args.floats(0, "x");
  const FloatArg y = args.floats(1, "y");
  const IndexArg idx = args.indicesOut(2, "indices");
  const PoolGeom g = readPoolGeom(args, 3);
  // A window over an empty plane lies wholly in the padding: it has no maximum (and no index).
  if (g.HW == 0 && g.planes > 0 && g.O > 0)
    args.rangeError(4, "h",
                    "an input plane of " + std::to_string(g.h) + "x" + std::to_string(g.w) +
                        " is empty: a window over it has no maximum");
  args.atLeast(x, g.planes * g.HW, 0, "x");
  args.atLeast(y, g.planes * g.O, 1, "y");
  args.atLeast(idx, g.planes * g.O, 2, "indices");
  withDType(args, [&](auto t) { maxPool2d(ctx_.exec(), x.as(t), y.as(t), idx.data, g); });
  return info.Env().Undefined();
}

Napi::Value Addon::MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dBackward", 12, 12);
  const FloatArg gy = args.floats(0, "gy");
  const IndexArg idx = args.indices(1, "indices");
  const FloatArg gx = args.floats(2, "gx");
  const PoolGeom g = readPoolGeom(args, 3);
  args.atLeast(gy, g.planes * g.O, 0, "gy");
  args.atLeast(idx, g.planes * g.O, 1, "indices");
  args.atLeast(gx, g.planes * g.HW, 2, "gx");
  args.indicesBelow(idx, g.planes * g.O, g.HW, 1, "indices", "", "the plane ");
  withDType(args, [&](auto t) { maxPool2dBackward(ctx_.exec(), gy.as(t), idx.data, gx.as(t), g); });
  return info.Env().Undefined();
}

Napi::Value Addon::AvgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2d", 11, 11);
  const FloatArg x = args.floats(0, "x");
  const FloatArg y = args.floats(1, "y");
  const PoolGeom g = readPoolGeom(args, 2);
  args.atLeast(x, g.planes * g.HW, 0, "x");
  args.atLeast(y, g.planes * g.O, 1, "y");
  withDType(args, [&](auto t) { avgPool2d(ctx_.exec(), x.as(t), y.as(t), g); });
  return info.Env().Undefined();
}

Napi::Value Addon::AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 11, 11);
  const FloatArg gy = args.floats(0, "gy");
  const FloatArg gx = args.floats(1, "gx");
  const PoolGeom g = readPoolGeom(args, 2);
  args.atLeast(gy, g.planes * g.O, 0, "gy");
  args.atLeast(gx, g.planes * g.HW, 1, "gx");
  withDType(args, [&](auto t) { avgPool2dBackward(ctx_.exec(), gy.as(t), gx.as(t), g); });
  return info.Env().Undefined();
}

}  // namespace bp
