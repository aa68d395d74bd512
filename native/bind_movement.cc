// Memory movement: permute, and gather / scatter-add of rows along one axis.
#include <string>

#include "addon.h"
#include "bind_common.h"
#include "kernels_common.h"

namespace bp {

Napi::Value Addon::Permute(const Napi::CallbackInfo& info) {
  Args args(info, "permute", 4, 4);
  const FloatArg x = args.floats(0, "x");
  size_t shape[kMaxDims], perm[kMaxDims];
  const size_t dims = args.shape(1, "shape", shape);
  const size_t pdims = args.shape(2, "perm", perm);
  const FloatArg out = args.floats(3, "out");
  if (pdims != dims)
    args.rangeError(
        2, "perm",
        "must have " + std::to_string(dims) + " entries like shape, got " + std::to_string(pdims));
  bool seen[kMaxDims] = {false};
  for (size_t d = 0; d < dims; ++d) {
    if (perm[d] >= dims || seen[perm[d]])
      args.rangeError(2, "perm",
                      "must be a permutation of 0.." + std::to_string(dims) + "-1, got " +
                          shapeString(perm, dims));
    seen[perm[d]] = true;
  }
  size_t total = 1;
  for (size_t d = 0; d < dims; ++d) total = args.mul(total, shape[d]);
  args.atLeast(x, total, 0, "x");
  args.atLeast(out, total, 3, "out");
  withDType(args, [&](auto t) { permuteCopy(x.as(t), shape, perm, dims, out.as(t)); });
  return info.Env().Undefined();
}

Napi::Value Addon::Gather(const Napi::CallbackInfo& info) {
  Args args(info, "gather", 6, 6);
  const FloatArg x = args.floats(0, "x");
  const Axis ax = readAxis(args, 1);
  const IndexArg idx = args.indices(4, "indices");
  const FloatArg out = args.floats(5, "out");
  args.atLeast(x, ax.total, 0, "x");
  args.atLeast(out, args.mul(ax.kept, idx.length), 5, "out");
  args.indicesBelow(idx, idx.length, ax.n, 4, "indices");
  withDType(args, [&](auto t) {
    gatherRows(x.as(t), ax.outer, ax.n, ax.inner, idx.data, idx.length, out.as(t));
  });
  return info.Env().Undefined();
}

Napi::Value Addon::ScatterAdd(const Napi::CallbackInfo& info) {
  Args args(info, "scatterAdd", 6, 6);
  const FloatArg g = args.floats(0, "g");
  const Axis ax = readAxis(args, 1);
  const IndexArg idx = args.indices(4, "indices");
  const FloatArg gx = args.floats(5, "gx");
  args.atLeast(g, args.mul(ax.kept, idx.length), 0, "g");
  args.atLeast(gx, ax.total, 5, "gx");
  args.indicesBelow(idx, idx.length, ax.n, 4, "indices");
  withDType(args, [&](auto t) {
    scatterAddRows(g.as(t), ax.outer, ax.n, ax.inner, idx.data, idx.length, gx.as(t));
  });
  return info.Env().Undefined();
}

}  // namespace bp
