// Reductions over one axis of a tensor viewed as [outer, n, inner]: the table's reduce, the
// max with its index, and the bias gradient (a sum over rows).
#include "addon.h"
#include "bind_common.h"
#include "kernels_common.h"

namespace bp {

Napi::Value Addon::Reduce(const Napi::CallbackInfo& info) {
  Args args(info, "reduce", 6, 6);
  const int op = args.code(0, "op", kReduceCount);
  const FloatArg x = args.floats(1, "x");
  const Axis ax = readAxis(args, 2);
  const FloatArg out = args.floats(5, "out");
  args.atLeast(x, ax.total, 1, "x");
  args.atLeast(out, ax.kept, 5, "out");
  if (ax.n == 0 && ax.kept > 0 && (op == kMax || op == kMin))
    args.rangeError(3, "n", "must be at least 1 for max/min (an empty axis has no extremum)");
  withDType(args, [&](auto t) { k(t).reduce(op, x.as(t), ax.outer, ax.n, ax.inner, out.as(t)); });
  return info.Env().Undefined();
}

Napi::Value Addon::MaxAxis(const Napi::CallbackInfo& info) {
  Args args(info, "maxAxis", 6, 6);
  const FloatArg x = args.floats(0, "x");
  const Axis ax = readAxis(args, 1);
  const FloatArg out = args.floats(4, "out");
  const IndexArg idx = args.indicesOut(5, "indices");
  args.atLeast(x, ax.total, 0, "x");
  args.atLeast(out, ax.kept, 4, "out");
  args.atLeast(idx, ax.kept, 5, "indices");
  if (ax.n == 0 && ax.kept > 0)
    args.rangeError(2, "n", "must be at least 1 (an empty axis has no maximum)");
  withDType(args,
            [&](auto t) { maxWithIndex(x.as(t), ax.outer, ax.n, ax.inner, out.as(t), idx.data); });
  return info.Env().Undefined();
}

Napi::Value Addon::Argmax(const Napi::CallbackInfo& info) {
  Args args(info, "argmax", 5, 5);
  const FloatArg x = args.floats(0, "x");
  const Axis ax = readAxis(args, 1);
  const IndexArg idx = args.indicesOut(4, "indices");
  args.atLeast(x, ax.total, 0, "x");
  args.atLeast(idx, ax.kept, 4, "indices");
  if (ax.n == 0 && ax.kept > 0)
    args.rangeError(2, "n", "must be at least 1 (an empty axis has no maximum)");
  withDType(args, [&](auto t) {
    using T = typename decltype(t)::type;
    maxWithIndex<T>(x.as(t), ax.outer, ax.n, ax.inner, nullptr, idx.data);
  });
  return info.Env().Undefined();
}

Napi::Value Addon::BiasGrad(const Napi::CallbackInfo& info) {
  Args args(info, "biasGrad", 4, 4);
  const FloatArg gy = args.floats(0, "gy");
  const size_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
  const FloatArg gb = args.floats(3, "gb");
  args.atLeast(gy, args.mul(rows, cols), 0, "gy");
  args.atLeast(gb, cols, 3, "gb");
  withDType(args, [&](auto t) { k(t).reduce(kSum, gy.as(t), 1, rows, cols, gb.as(t)); });
  return info.Env().Undefined();
}

}  // namespace bp
