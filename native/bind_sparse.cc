// Sparse convolution bindings (sparse.h): the geometry, the CSR pattern (row pointers that start
// at 0 and never decrease, column indices inside the kernel) and the layout code are checked
// here; the kernels trust them.
#include <new>
#include <stdexcept>
#include <string>

#include "addon.h"
#include "bind_common.h"
#include "conv.h"
#include "sparse.h"

namespace bp {
namespace {

// Arguments rp, rp + 1: rowPtr (cOut + 1 entries, 0 first, nondecreasing) and colIdx (rowPtr[cOut]
// entries below cIn*kH*kW).
SparsePattern readPattern(Args& args, size_t rp, const ConvGeom& g) {
  const IndexArg rowPtr = args.indices(rp, "rowPtr");
  const IndexArg colIdx = args.indices(rp + 1, "colIdx");
  args.atLeast(rowPtr, args.add(g.cOut, 1), rp, "rowPtr");
  if (rowPtr.data[0] != 0)
    args.rangeError(rp, "rowPtr", "must start at 0, got " + std::to_string(rowPtr.data[0]));
  for (size_t r = 0; r < g.cOut; ++r) {
    if (rowPtr.data[r + 1] < rowPtr.data[r])
      args.rangeError(rp, "rowPtr",
                      "must not decrease, but row " + std::to_string(r) + " goes from " +
                          std::to_string(rowPtr.data[r]) + " to " +
                          std::to_string(rowPtr.data[r + 1]));
  }
  const size_t nnz = static_cast<size_t>(rowPtr.data[g.cOut]);
  args.atLeast(colIdx, nnz, rp + 1, "colIdx");
  args.indicesBelow(colIdx, nnz, g.K, rp + 1, "colIdx");
  return {rowPtr.data, colIdx.data, nnz};
}

SparseLayout readLayout(Args& args, size_t i) {
  return static_cast<SparseLayout>(args.code(i, "layout", 3));
}

template <typename F>
void guarded(const Napi::CallbackInfo& info, const char* fn, F&& kernel) {
  try {
    kernel();
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(),
                           std::string(fn) + ": out of memory for the sparse workspace");
  } catch (const std::length_error&) {
    throw Napi::Error::New(info.Env(),
                           std::string(fn) + ": out of memory for the sparse workspace");
  }
}

}  // namespace

// (x, values, rowPtr, colIdx, bias | null, y, n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW,
//  layout)
Napi::Value Addon::SparseConv2d(const Napi::CallbackInfo& info) {
  Args args(info, "sparseConv2d", 20, 20);
  const FloatArg x = args.floats(0, "x");
  const FloatArg v = args.floats(1, "values");
  const FloatArg b = args.floatsOrNull(4, "bias");
  const FloatArg y = args.floats(5, "y");
  const ConvGeom g = readConvGeom(args, 6);
  const SparsePattern p = readPattern(args, 2, g);
  const SparseLayout layout = readLayout(args, 19);
  args.atLeast(x, args.mul(g.n, g.X), 0, "x");
  args.atLeast(v, p.nnz, 1, "values");
  if (!b.isNull) args.atLeast(b, g.cOut, 4, "bias");
  args.atLeast(y, args.mul(g.cOut, g.NP), 5, "y");
  guarded(info, "sparseConv2d", [&] {
    withDType(args, [&](auto t) {
      sparseConv2d(ctx_.exec(), x.as(t), v.as(t), p, b.as(t), y.as(t), g, layout);
    });
  });
  return info.Env().Undefined();
}

// (gy, values, rowPtr, colIdx, gx, n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, layout)
Napi::Value Addon::SparseConv2dBackwardInput(const Napi::CallbackInfo& info) {
  Args args(info, "sparseConv2dBackwardInput", 19, 19);
  const FloatArg gy = args.floats(0, "gy");
  const FloatArg v = args.floats(1, "values");
  const FloatArg gx = args.floats(4, "gx");
  const ConvGeom g = readConvGeom(args, 5);
  const SparsePattern p = readPattern(args, 2, g);
  const SparseLayout layout = readLayout(args, 18);
  args.atLeast(gy, args.mul(g.cOut, g.NP), 0, "gy");
  args.atLeast(v, p.nnz, 1, "values");
  args.atLeast(gx, args.mul(g.n, g.X), 4, "gx");
  guarded(info, "sparseConv2dBackwardInput", [&] {
    withDType(args, [&](auto t) {
      sparseConv2dBackwardInput(ctx_.exec(), gy.as(t), v.as(t), p, gx.as(t), g, layout);
    });
  });
  return info.Env().Undefined();
}

// (x, gy, rowPtr, colIdx, gv, n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, layout)
Napi::Value Addon::SparseConv2dBackwardValues(const Napi::CallbackInfo& info) {
  Args args(info, "sparseConv2dBackwardValues", 19, 19);
  const FloatArg x = args.floats(0, "x");
  const FloatArg gy = args.floats(1, "gy");
  const FloatArg gv = args.floats(4, "gv");
  const ConvGeom g = readConvGeom(args, 5);
  const SparsePattern p = readPattern(args, 2, g);
  const SparseLayout layout = readLayout(args, 18);
  args.atLeast(x, args.mul(g.n, g.X), 0, "x");
  args.atLeast(gy, args.mul(g.cOut, g.NP), 1, "gy");
  args.atLeast(gv, p.nnz, 4, "gv");
  guarded(info, "sparseConv2dBackwardValues", [&] {
    withDType(args, [&](auto t) {
      sparseConv2dBackwardValues(ctx_.exec(), x.as(t), gy.as(t), p, gv.as(t), g, layout);
    });
  });
  return info.Env().Undefined();
}

}  // namespace bp
