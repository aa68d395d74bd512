// Sparse convolution bindings (sparse.h): the geometry, the CSR pattern (row pointers that start
// at 0 and never decrease, column indices inside the kernel) and the layout code are checked
// here; the kernels trust them.
#include <algorithm>
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

// Runs a kernel; a workspace too large to allocate (sizes such as a stride of 2^31 - 1 make the
// packed layouts huge) is a RangeError naming the op, as the other size checks are, not a crash.
// An upper bound, in elements, of the workspace any layout packs for this geometry: the batch
// layout's padded planes, the width layout's stride-phase rows (a stride as large as 2^31 - 1
// makes each row that long), the padded output gradient and the per-thread value copies.
double workspaceElements(const ConvGeom& g, size_t nnz, size_t threads) {
  const auto d = [](size_t v) { return static_cast<double>(v); };
  const double hp = d(g.h) + 2 * d(g.pH), wp = d(g.w) + 2 * d(g.pW);
  const double widthRow = std::max(wp, d(g.sW)) + d(g.sW);
  const double spanH = d(g.kH) * d(g.dH), spanW = d(g.kW) * d(g.dW);
  return d(g.n) * d(g.cIn) * hp * (wp + widthRow) +
         d(g.n) * d(g.cOut) * (d(g.oH) + 2 * spanH) * (d(g.oW) + 2 * spanW) +
         d(threads) * d(std::max<size_t>(nnz, 1)) + 4 * (d(g.cIn) + d(g.w) + d(nnz) + 1);
}

template <typename F>
void guarded(const Napi::CallbackInfo& info, const char* fn, const Args& args, ExecContext ctx,
             const ConvGeom& g, size_t nnz, F&& kernel) {
  const double elems = workspaceElements(g, nnz, static_cast<size_t>(ctx.pool->size()));
  const double bytes = elems * (args.dtype() == DType::kF32 ? 4.0 : 8.0);
  if (bytes > static_cast<double>(kMaxAllocBytes))
    args.rangeError("the sparse workspace would need about " +
                    std::to_string(static_cast<unsigned long long>(bytes)) +
                    " bytes, more than the limit of " + std::to_string(kMaxAllocBytes) + " bytes");
  const auto tooLarge = [&] {
    return Napi::RangeError::New(
        info.Env(),
        std::string(fn) +
            ": the sparse workspace for these sizes is too large to allocate (check the "
            "geometry: strides, padding, dilation)");
  };
  try {
    kernel();
  } catch (const std::bad_alloc&) {
    throw tooLarge();
  } catch (const std::length_error&) {
    throw tooLarge();
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
  guarded(info, "sparseConv2d", args, ctx_.exec(), g, p.nnz, [&] {
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
  guarded(info, "sparseConv2dBackwardInput", args, ctx_.exec(), g, p.nnz, [&] {
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
  guarded(info, "sparseConv2dBackwardValues", args, ctx_.exec(), g, p.nnz, [&] {
    withDType(args, [&](auto t) {
      sparseConv2dBackwardValues(ctx_.exec(), x.as(t), gy.as(t), p, gv.as(t), g, layout);
    });
  });
  return info.Env().Undefined();
}

}  // namespace bp
