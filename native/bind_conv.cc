// Convolution bindings: the geometry is checked here (sizes, output sizes, overflow of every GEMM
// dimension), the kernels (conv.h) trust it.
#include <new>
#include <stdexcept>
#include <string>

#include "addon.h"
#include "bind_common.h"
#include "conv.h"

namespace bp {

// Reads and checks arguments f.. (n, cIn, h, w, cOut, kH, kW, strides, paddings, dilations);
// declared in bind_common.h, bind_sparse.cc reads the same geometry.
ConvGeom readConvGeom(Args& args, size_t f) {
  ConvGeom g;
  g.n = args.size(f, "n");
  g.cIn = args.size(f + 1, "cIn");
  g.h = args.size(f + 2, "h");
  g.w = args.size(f + 3, "w");
  g.cOut = args.size(f + 4, "cOut");
  g.kH = positive(args, f + 5, "kH");
  g.kW = positive(args, f + 6, "kW");
  g.sH = positive(args, f + 7, "strideH");
  g.sW = positive(args, f + 8, "strideW");
  g.pH = args.size(f + 9, "padH");
  g.pW = args.size(f + 10, "padW");
  g.dH = positive(args, f + 11, "dilationH");
  g.dW = positive(args, f + 12, "dilationW");
  g.oH = windowOutSize(args, f + 5, "height", g.h, g.kH, g.sH, g.pH, g.dH);
  g.oW = windowOutSize(args, f + 6, "width", g.w, g.kW, g.sW, g.pW, g.dW);
  g.K = args.mul(args.mul(g.cIn, g.kH), g.kW);
  g.P = args.mul(g.oH, g.oW);
  g.NP = args.mul(g.n, g.P);
  g.X = args.mul(args.mul(g.cIn, g.h), g.w);
  // Every GEMM dimension and leading dimension must fit in a BLAS int.
  for (size_t v : {g.K, g.NP, g.cOut})
    if (v > kMaxSize)
      args.rangeError("convolution too large for one GEMM (a dimension exceeds 2^31-1)");
  args.mul(g.K, g.NP);
  args.mul(g.cOut, g.NP);
  // The stride-1 paths zero-pad one image into a buffer; its size must be addressable too.
  const size_t padded =
      args.mul(args.mul(g.cIn, args.add(g.h, args.mul(2, g.pH))), args.add(g.w, args.mul(2, g.pW)));
  if (padded > kMaxSize)
    args.rangeError("convolution too large (a zero-padded image exceeds 2^31-1 elements)");
  return g;
}

namespace {

// Workspaces above this are freed after the call instead of kept for the next one.
constexpr size_t kKeepWorkspaceBytes = size_t{256} << 20;

// Runs a kernel, turning a failed workspace allocation into a JS Error instead of a crash. The
// workspace it needs is bounded first (a RangeError naming the op and the bytes).
template <typename F>
void guarded(const Napi::CallbackInfo& info, const char* fn, const Args& args, ExecContext ctx,
             const ConvGeom& g, F&& kernel) {
  const double elems = convWorkspaceElements(g, static_cast<size_t>(ctx.pool->size()));
  const size_t elemBytes = args.dtype() == DType::kF32 ? 4 : 8;
  if (elems * static_cast<double>(elemBytes) > static_cast<double>(kMaxAllocBytes))
    args.rangeError("the convolution workspace would need about " +
                    std::to_string(static_cast<unsigned long long>(elems * elemBytes)) +
                    " bytes, more than the limit of " + std::to_string(kMaxAllocBytes) + " bytes");
  struct Trim {
    ExecContext c;
    ~Trim() { c.ws->trimAbove(kKeepWorkspaceBytes); }
  } trim{ctx};
  try {
    kernel();
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(),
                           std::string(fn) + ": out of memory for the convolution workspace");
  } catch (const std::length_error&) {
    throw Napi::Error::New(info.Env(),
                           std::string(fn) + ": out of memory for the convolution workspace");
  }
}

}  // namespace

Napi::Value Addon::Conv2d(const Napi::CallbackInfo& info) {
  Args args(info, "conv2d", 17, 17);
  const FloatArg x = args.floats(0, "x");
  const FloatArg w = args.floats(1, "weight");
  const FloatArg b = args.floatsOrNull(2, "bias");
  const FloatArg y = args.floats(3, "y");
  const ConvGeom g = readConvGeom(args, 4);
  args.atLeast(x, args.mul(g.n, g.X), 0, "x");
  args.atLeast(w, args.mul(g.cOut, g.K), 1, "weight");
  if (!b.isNull) args.atLeast(b, g.cOut, 2, "bias");
  args.atLeast(y, args.mul(g.cOut, g.NP), 3, "y");
  guarded(info, "conv2d", args, ctx_.exec(), g, [&] {
    withDType(args, [&](auto t) { conv2d(ctx_.exec(), x.as(t), w.as(t), b.as(t), y.as(t), g); });
  });
  return info.Env().Undefined();
}

Napi::Value Addon::Conv2dBackwardInput(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardInput", 16, 16);
  const FloatArg gy = args.floats(0, "gy");
  const FloatArg w = args.floats(1, "weight");
  const FloatArg gx = args.floats(2, "gx");
  const ConvGeom g = readConvGeom(args, 3);
  args.atLeast(gy, args.mul(g.cOut, g.NP), 0, "gy");
  args.atLeast(w, args.mul(g.cOut, g.K), 1, "weight");
  args.atLeast(gx, args.mul(g.n, g.X), 2, "gx");
  guarded(info, "conv2dBackwardInput", args, ctx_.exec(), g, [&] {
    withDType(args,
              [&](auto t) { conv2dBackwardInput(ctx_.exec(), gy.as(t), w.as(t), gx.as(t), g); });
  });
  return info.Env().Undefined();
}

Napi::Value Addon::Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardWeight", 17, 17);
  const FloatArg x = args.floats(0, "x");
  const FloatArg gy = args.floats(1, "gy");
  const FloatArg gw = args.floats(2, "gw");
  const FloatArg gb = args.floatsOrNull(3, "gb");
  const ConvGeom g = readConvGeom(args, 4);
  args.atLeast(x, args.mul(g.n, g.X), 0, "x");
  args.atLeast(gy, args.mul(g.cOut, g.NP), 1, "gy");
  args.atLeast(gw, args.mul(g.cOut, g.K), 2, "gw");
  if (!gb.isNull) args.atLeast(gb, g.cOut, 3, "gb");
  guarded(info, "conv2dBackwardWeight", args, ctx_.exec(), g, [&] {
    withDType(args, [&](auto t) {
      conv2dBackwardWeight(ctx_.exec(), x.as(t), gy.as(t), gw.as(t), gb.as(t), g);
    });
  });
  return info.Env().Undefined();
}

}  // namespace bp
