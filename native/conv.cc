// Convolution by im2col + one GEMM per batch, pooling and batch-norm statistics (see conv.h).
//
// Layout: the columns of the whole batch form one K x (n*P) matrix (K = cIn*kH*kW, P = oH*oW;
// image i owns columns [i*P, (i+1)*P)), so each pass is a single large GEMM however small the
// channel counts, and the memory-bound steps around it (im2col, col2im, the NCHW <-> [cOut, n*P]
// reshuffles with the bias) run on the thread pool, one image per task.
#include "conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "args.h"
#include "blas.h"

namespace bp {
namespace {

template <typename T> const Kernels<T>& pick(const KernelTable& t);
template <> const Kernels<float>& pick<float>(const KernelTable& t) { return t.f32; }
template <> const Kernels<double>& pick<double>(const KernelTable& t) { return t.f64; }

void blasGemm(const Blas& b, int ta, int tb, int m, int n, int k, float alpha, const float* a,
              int lda, const float* bm, int ldb, float beta, float* c, int ldc) {
  b.sgemm(kCblasRowMajor, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc);
}
void blasGemm(const Blas& b, int ta, int tb, int m, int n, int k, double alpha, const double* a,
              int lda, const double* bm, int ldb, double beta, double* c, int ldc) {
  b.dgemm(kCblasRowMajor, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc);
}

// C = alpha op(A) op(B) + beta C through whichever GEMM the addon uses now. Sizes were checked
// to fit in an int by the binding.
template <typename T>
void gemm(ConvContext& ctx, bool ta, bool tb, size_t m, size_t n, size_t k, T alpha, const T* a,
          size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    scaleMatrix(m, n, beta, c, ldc);
  } else if (*ctx.useBlas) {
    blasGemm(blas(), ta ? kCblasTrans : kCblasNoTrans, tb ? kCblasTrans : kCblasNoTrans,
             static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
             static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
  } else {
    gemmBuiltin<T>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, pick<T>(**ctx.simd),
                   **ctx.pool, *ctx.gemmWorkspace);
  }
}

ConvContext& context(const Napi::CallbackInfo& info) {
  return *static_cast<ConvContext*>(info.Data());
}

// Runs task(i) for i < count on the pool, inline when there is too little work to share.
template <typename F>
void parallelFor(ConvContext& ctx, size_t count, size_t workPerTask, F&& task) {
  ThreadPool& pool = **ctx.pool;
  if (count <= 1 || pool.size() == 1 || count * workPerTask < 16384) {
    for (size_t i = 0; i < count; ++i) task(i);
    return;
  }
  pool.run(count, [&](size_t i, int) { task(i); });
}

// ---- geometry --------------------------------------------------------------------------------

struct ConvGeom {
  size_t n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW;
  size_t K, P, NP, X;  // column rows, pixels per image, columns of the batch, input per image
};

// One window dimension: the output size, or a RangeError naming the op and the sizes.
size_t outSize(Args& args, size_t argIndex, const char* dim, size_t input, size_t k, size_t stride,
               size_t pad, size_t dil) {
  const size_t span = args.add(args.mul(dil, k - 1), 1);
  const size_t padded = args.add(input, args.mul(2, pad));
  if (padded < span)
    args.rangeError(argIndex, dim,
                    "kernel " + std::string(dim) + " " + std::to_string(k) + " (span " +
                        std::to_string(span) + ") is larger than the padded input " +
                        std::to_string(input) + " + 2*" + std::to_string(pad));
  return (padded - span) / stride + 1;
}

size_t positive(Args& args, size_t i, const char* name) {
  const size_t v = args.size(i, name);
  if (v == 0) args.rangeError(i, name, "must be at least 1");
  return v;
}

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
  g.oH = outSize(args, f + 5, "height", g.h, g.kH, g.sH, g.pH, g.dH);
  g.oW = outSize(args, f + 6, "width", g.w, g.kW, g.sW, g.pW, g.dW);
  g.K = args.mul(args.mul(g.cIn, g.kH), g.kW);
  g.P = args.mul(g.oH, g.oW);
  g.NP = args.mul(g.n, g.P);
  g.X = args.mul(args.mul(g.cIn, g.h), g.w);
  // Every GEMM dimension and leading dimension must fit in a BLAS int.
  for (size_t v : {g.K, g.NP, g.cOut})
    if (v > kMaxSize) args.rangeError("convolution too large for one GEMM (a dimension exceeds 2^31-1)");
  args.mul(g.K, g.NP);
  args.mul(g.cOut, g.NP);
  return g;
}

// Output columns ox whose input column ox*stride - pad + off lies in [0, w): [lo, hi).
inline void validRange(size_t outW, size_t w, size_t stride, size_t pad, size_t off, size_t& lo,
                       size_t& hi) {
  // ix = ox*stride + off - pad >= 0  <=>  ox >= ceil((pad - off) / stride)
  lo = off >= pad ? 0 : (pad - off + stride - 1) / stride;
  // ix < w  <=>  ox*stride < w + pad - off
  const size_t lim = w + pad;
  hi = lim <= off ? 0 : (lim - off + stride - 1) / stride;
  hi = std::min(hi, outW);
  lo = std::min(lo, hi);
}

// Writes the columns of image x (cIn x h x w) into cols (K rows of stride ld, P columns).
template <typename T>
void im2col(const T* x, const ConvGeom& g, T* cols, size_t ld) {
  size_t row = 0;
  for (size_t c = 0; c < g.cIn; ++c) {
    const T* plane = x + c * g.h * g.w;
    for (size_t i = 0; i < g.kH; ++i) {
      for (size_t j = 0; j < g.kW; ++j, ++row) {
        T* dst = cols + row * ld;
        size_t lo, hi;
        validRange(g.oW, g.w, g.sW, g.pW, j * g.dW, lo, hi);
        for (size_t oy = 0; oy < g.oH; ++oy, dst += g.oW) {
          const size_t iyp = oy * g.sH + i * g.dH;  // iy + pH
          if (iyp < g.pH || iyp - g.pH >= g.h) {
            std::fill(dst, dst + g.oW, T(0));
            continue;
          }
          const T* src = plane + (iyp - g.pH) * g.w;
          std::fill(dst, dst + lo, T(0));
          if (hi > lo) {
            const size_t ix0 = lo * g.sW + j * g.dW - g.pW;
            if (g.sW == 1) {
              std::memcpy(dst + lo, src + ix0, (hi - lo) * sizeof(T));
            } else {
              for (size_t ox = lo, ix = ix0; ox < hi; ++ox, ix += g.sW) dst[ox] = src[ix];
            }
          }
          std::fill(dst + hi, dst + g.oW, T(0));
        }
      }
    }
  }
}

// Adds the columns back into image gx (overwritten first): the adjoint of im2col.
template <typename T>
void col2im(const T* cols, size_t ld, const ConvGeom& g, T* gx) {
  std::fill(gx, gx + g.X, T(0));
  size_t row = 0;
  for (size_t c = 0; c < g.cIn; ++c) {
    T* plane = gx + c * g.h * g.w;
    for (size_t i = 0; i < g.kH; ++i) {
      for (size_t j = 0; j < g.kW; ++j, ++row) {
        const T* src = cols + row * ld;
        size_t lo, hi;
        validRange(g.oW, g.w, g.sW, g.pW, j * g.dW, lo, hi);
        if (hi <= lo) continue;
        for (size_t oy = 0; oy < g.oH; ++oy, src += g.oW) {
          const size_t iyp = oy * g.sH + i * g.dH;
          if (iyp < g.pH || iyp - g.pH >= g.h) continue;
          T* dst = plane + (iyp - g.pH) * g.w + (lo * g.sW + j * g.dW - g.pW);
          if (g.sW == 1) {
            for (size_t ox = lo; ox < hi; ++ox) dst[ox - lo] += src[ox];
          } else {
            for (size_t ox = lo; ox < hi; ++ox, dst += g.sW) *dst += src[ox];
          }
        }
      }
    }
  }
}

// ---- convolution -----------------------------------------------------------------------------

template <typename T>
void conv2dT(ConvContext& ctx, const T* x, const T* wt, const T* bias, T* y, const ConvGeom& g) {
  if (g.n == 0 || g.cOut == 0 || g.P == 0) return;
  T* cols = ctx.workspace.get<T>(0, g.K * g.NP);
  T* tmp = ctx.workspace.get<T>(1, g.cOut * g.NP);
  parallelFor(ctx, g.n, g.K * g.P, [&](size_t i) { im2col(x + i * g.X, g, cols + i * g.P, g.NP); });
  gemm<T>(ctx, false, false, g.cOut, g.NP, g.K, T(1), wt, g.K, cols, g.NP, T(0), tmp, g.NP);
  parallelFor(ctx, g.n, g.cOut * g.P, [&](size_t i) {
    for (size_t co = 0; co < g.cOut; ++co) {
      const T* src = tmp + co * g.NP + i * g.P;
      T* dst = y + (i * g.cOut + co) * g.P;
      const T b = bias ? bias[co] : T(0);
      for (size_t p = 0; p < g.P; ++p) dst[p] = src[p] + b;
    }
  });
}

// gy (n x cOut x P) into the [cOut, n*P] layout of the GEMMs.
template <typename T>
void gatherGrad(ConvContext& ctx, const T* gy, T* gyT, const ConvGeom& g) {
  parallelFor(ctx, g.n, g.cOut * g.P, [&](size_t i) {
    for (size_t co = 0; co < g.cOut; ++co)
      std::memcpy(gyT + co * g.NP + i * g.P, gy + (i * g.cOut + co) * g.P, g.P * sizeof(T));
  });
}

template <typename T>
void conv2dBackwardInputT(ConvContext& ctx, const T* gy, const T* wt, T* gx, const ConvGeom& g) {
  if (g.n == 0 || g.X == 0) return;
  if (g.P == 0 || g.cOut == 0) {
    std::fill(gx, gx + g.n * g.X, T(0));
    return;
  }
  T* gyT = ctx.workspace.get<T>(1, g.cOut * g.NP);
  T* cols = ctx.workspace.get<T>(0, g.K * g.NP);
  gatherGrad(ctx, gy, gyT, g);
  gemm<T>(ctx, true, false, g.K, g.NP, g.cOut, T(1), wt, g.K, gyT, g.NP, T(0), cols, g.NP);
  parallelFor(ctx, g.n, g.K * g.P, [&](size_t i) { col2im(cols + i * g.P, g.NP, g, gx + i * g.X); });
}

template <typename T>
void conv2dBackwardWeightT(ConvContext& ctx, const T* x, const T* gy, T* gw, T* gb, const ConvGeom& g) {
  const size_t wsize = g.cOut * g.K;
  if (g.NP == 0 || g.K == 0) {
    std::fill(gw, gw + wsize, T(0));
    if (gb) std::fill(gb, gb + g.cOut, T(0));
    return;
  }
  T* cols = ctx.workspace.get<T>(0, g.K * g.NP);
  T* gyT = ctx.workspace.get<T>(1, g.cOut * g.NP);
  parallelFor(ctx, g.n, (g.K + g.cOut) * g.P, [&](size_t i) {
    im2col(x + i * g.X, g, cols + i * g.P, g.NP);
    for (size_t co = 0; co < g.cOut; ++co)
      std::memcpy(gyT + co * g.NP + i * g.P, gy + (i * g.cOut + co) * g.P, g.P * sizeof(T));
  });
  gemm<T>(ctx, false, true, g.cOut, g.K, g.NP, T(1), gyT, g.NP, cols, g.NP, T(0), gw, g.K);
  if (gb) {
    parallelFor(ctx, g.cOut, g.NP, [&](size_t co) {
      const T* row = gyT + co * g.NP;
      double s = 0;
      for (size_t p = 0; p < g.NP; ++p) s += row[p];
      gb[co] = static_cast<T>(s);
    });
  }
}

// ---- pooling ---------------------------------------------------------------------------------

struct PoolGeom {
  size_t planes, h, w, kH, kW, sH, sW, pH, pW, oH, oW, HW, O;
};

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
    args.rangeError(f + 7, "padH", "padding " + std::to_string(g.pH) + "x" + std::to_string(g.pW) +
                                      " must be at most half the kernel " + std::to_string(g.kH) +
                                      "x" + std::to_string(g.kW));
  g.oH = outSize(args, f + 3, "height", g.h, g.kH, g.sH, g.pH, 1);
  g.oW = outSize(args, f + 4, "width", g.w, g.kW, g.sW, g.pW, 1);
  g.HW = args.mul(g.h, g.w);
  g.O = args.mul(g.oH, g.oW);
  args.mul(g.planes, g.HW);
  args.mul(g.planes, g.O);
  if (g.HW > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    args.rangeError(f + 1, "h", "a plane of more than 2^31-1 elements cannot be indexed by an Int32Array");
  return g;
}

// Window rows [y0, y1) of output row oy (clipped to the plane).
inline void windowRange(size_t o, size_t stride, size_t pad, size_t k, size_t size, size_t& a,
                        size_t& b) {
  const size_t start = o * stride;  // + pad offset
  a = start < pad ? 0 : start - pad;
  b = std::min(start + k - pad, size);
  if (start + k < pad) b = 0;
}

template <typename T>
void maxPoolT(ConvContext& ctx, const T* x, T* y, int32_t* idx, const PoolGeom& g) {
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl) {
    const T* xp = x + pl * g.HW;
    T* yp = y + pl * g.O;
    int32_t* ip = idx + pl * g.O;
    for (size_t oy = 0; oy < g.oH; ++oy) {
      size_t y0, y1;
      windowRange(oy, g.sH, g.pH, g.kH, g.h, y0, y1);
      for (size_t ox = 0; ox < g.oW; ++ox) {
        size_t x0, x1;
        windowRange(ox, g.sW, g.pW, g.kW, g.w, x0, x1);
        T best = -std::numeric_limits<T>::infinity();
        int32_t at = -1;
        for (size_t r = y0; r < y1; ++r) {
          const T* row = xp + r * g.w;
          for (size_t c = x0; c < x1; ++c) {
            const T v = row[c];
            // NaN wins, as in torch: once the best is NaN nothing replaces it.
            if (v > best || (std::isnan(v) && !std::isnan(best)) || at < 0) {
              best = v;
              at = static_cast<int32_t>(r * g.w + c);
            }
          }
        }
        yp[oy * g.oW + ox] = best;
        ip[oy * g.oW + ox] = at;
      }
    }
  });
}

template <typename T>
void maxPoolBackwardT(ConvContext& ctx, const T* gy, const int32_t* idx, T* gx, const PoolGeom& g) {
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl) {
    T* gp = gx + pl * g.HW;
    std::fill(gp, gp + g.HW, T(0));
    const T* gyp = gy + pl * g.O;
    const int32_t* ip = idx + pl * g.O;
    for (size_t o = 0; o < g.O; ++o) gp[ip[o]] += gyp[o];
  });
}

template <typename T>
void avgPoolT(ConvContext& ctx, const T* x, T* y, const PoolGeom& g) {
  const T inv = T(1) / static_cast<T>(g.kH * g.kW);
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl) {
    const T* xp = x + pl * g.HW;
    T* yp = y + pl * g.O;
    for (size_t oy = 0; oy < g.oH; ++oy) {
      size_t y0, y1;
      windowRange(oy, g.sH, g.pH, g.kH, g.h, y0, y1);
      for (size_t ox = 0; ox < g.oW; ++ox) {
        size_t x0, x1;
        windowRange(ox, g.sW, g.pW, g.kW, g.w, x0, x1);
        T s = 0;
        for (size_t r = y0; r < y1; ++r)
          for (size_t c = x0; c < x1; ++c) s += xp[r * g.w + c];
        yp[oy * g.oW + ox] = s * inv;
      }
    }
  });
}

template <typename T>
void avgPoolBackwardT(ConvContext& ctx, const T* gy, T* gx, const PoolGeom& g) {
  const T inv = T(1) / static_cast<T>(g.kH * g.kW);
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl) {
    T* gp = gx + pl * g.HW;
    std::fill(gp, gp + g.HW, T(0));
    const T* gyp = gy + pl * g.O;
    for (size_t oy = 0; oy < g.oH; ++oy) {
      size_t y0, y1;
      windowRange(oy, g.sH, g.pH, g.kH, g.h, y0, y1);
      for (size_t ox = 0; ox < g.oW; ++ox) {
        size_t x0, x1;
        windowRange(ox, g.sW, g.pW, g.kW, g.w, x0, x1);
        const T v = gyp[oy * g.oW + ox] * inv;
        for (size_t r = y0; r < y1; ++r)
          for (size_t c = x0; c < x1; ++c) gp[r * g.w + c] += v;
      }
    }
  });
}

// ---- batch norm ------------------------------------------------------------------------------

template <typename T>
void batchNormStatsT(ConvContext& ctx, const T* x, size_t n, size_t c, size_t inner, T* mean, T* var) {
  const size_t count = n * inner;
  parallelFor(ctx, c, count, [&](size_t ch) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
      const T* row = x + (i * c + ch) * inner;
      for (size_t j = 0; j < inner; ++j) s += row[j];
    }
    const double m = count ? s / static_cast<double>(count) : std::nan("");
    double q = 0;
    for (size_t i = 0; i < n; ++i) {
      const T* row = x + (i * c + ch) * inner;
      for (size_t j = 0; j < inner; ++j) {
        const double d = static_cast<double>(row[j]) - m;
        q += d * d;
      }
    }
    mean[ch] = static_cast<T>(m);
    var[ch] = static_cast<T>(count ? q / static_cast<double>(count) : std::nan(""));
  });
}

template <typename T>
void channelAffineT(ConvContext& ctx, const T* x, size_t n, size_t c, size_t inner, const T* scale,
                    const T* shift, T* y) {
  parallelFor(ctx, n, c * inner, [&](size_t i) {
    for (size_t ch = 0; ch < c; ++ch) {
      const T* src = x + (i * c + ch) * inner;
      T* dst = y + (i * c + ch) * inner;
      const T a = scale[ch], b = shift[ch];
      for (size_t j = 0; j < inner; ++j) dst[j] = src[j] * a + b;
    }
  });
}

}  // namespace

// ---- bindings ----------------------------------------------------------------------------------

Napi::Value Conv2d(const Napi::CallbackInfo& info) {
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
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    conv2dT<float>(ctx, x.as<float>(), w.as<float>(), b.as<float>(), y.as<float>(), g);
  else
    conv2dT<double>(ctx, x.as<double>(), w.as<double>(), b.as<double>(), y.as<double>(), g);
  return info.Env().Undefined();
}

Napi::Value Conv2dBackwardInput(const Napi::CallbackInfo& info) {
  Args args(info, "conv2dBackwardInput", 16, 16);
  const FloatArg gy = args.floats(0, "gy");
  const FloatArg w = args.floats(1, "weight");
  const FloatArg gx = args.floats(2, "gx");
  const ConvGeom g = readConvGeom(args, 3);
  args.atLeast(gy, args.mul(g.cOut, g.NP), 0, "gy");
  args.atLeast(w, args.mul(g.cOut, g.K), 1, "weight");
  args.atLeast(gx, args.mul(g.n, g.X), 2, "gx");
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    conv2dBackwardInputT<float>(ctx, gy.as<float>(), w.as<float>(), gx.as<float>(), g);
  else
    conv2dBackwardInputT<double>(ctx, gy.as<double>(), w.as<double>(), gx.as<double>(), g);
  return info.Env().Undefined();
}

Napi::Value Conv2dBackwardWeight(const Napi::CallbackInfo& info) {
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
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    conv2dBackwardWeightT<float>(ctx, x.as<float>(), gy.as<float>(), gw.as<float>(), gb.as<float>(), g);
  else
    conv2dBackwardWeightT<double>(ctx, x.as<double>(), gy.as<double>(), gw.as<double>(),
                                  gb.as<double>(), g);
  return info.Env().Undefined();
}

Napi::Value MaxPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2d", 12, 12);
  const FloatArg x = args.floats(0, "x");
  const FloatArg y = args.floats(1, "y");
  const IndexArg idx = args.indices(2, "indices");
  const PoolGeom g = readPoolGeom(args, 3);
  args.atLeast(x, g.planes * g.HW, 0, "x");
  args.atLeast(y, g.planes * g.O, 1, "y");
  args.atLeast(idx, g.planes * g.O, 2, "indices");
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    maxPoolT<float>(ctx, x.as<float>(), y.as<float>(), idx.data, g);
  else
    maxPoolT<double>(ctx, x.as<double>(), y.as<double>(), idx.data, g);
  return info.Env().Undefined();
}

Napi::Value MaxPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "maxPool2dBackward", 12, 12);
  const FloatArg gy = args.floats(0, "gy");
  const IndexArg idx = args.indices(1, "indices");
  const FloatArg gx = args.floats(2, "gx");
  const PoolGeom g = readPoolGeom(args, 3);
  args.atLeast(gy, g.planes * g.O, 0, "gy");
  args.atLeast(idx, g.planes * g.O, 1, "indices");
  args.atLeast(gx, g.planes * g.HW, 2, "gx");
  const size_t total = g.planes * g.O;
  for (size_t i = 0; i < total; ++i) {
    const int32_t v = idx.data[i];
    if (v < 0 || static_cast<size_t>(v) >= g.HW)
      args.rangeError(1, "indices",
                      "holds " + std::to_string(v) + " at " + std::to_string(i) +
                          ", outside the plane [0, " + std::to_string(g.HW) + ")");
  }
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    maxPoolBackwardT<float>(ctx, gy.as<float>(), idx.data, gx.as<float>(), g);
  else
    maxPoolBackwardT<double>(ctx, gy.as<double>(), idx.data, gx.as<double>(), g);
  return info.Env().Undefined();
}

Napi::Value AvgPool2d(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2d", 11, 11);
  const FloatArg x = args.floats(0, "x");
  const FloatArg y = args.floats(1, "y");
  const PoolGeom g = readPoolGeom(args, 2);
  args.atLeast(x, g.planes * g.HW, 0, "x");
  args.atLeast(y, g.planes * g.O, 1, "y");
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    avgPoolT<float>(ctx, x.as<float>(), y.as<float>(), g);
  else
    avgPoolT<double>(ctx, x.as<double>(), y.as<double>(), g);
  return info.Env().Undefined();
}

Napi::Value AvgPool2dBackward(const Napi::CallbackInfo& info) {
  Args args(info, "avgPool2dBackward", 11, 11);
  const FloatArg gy = args.floats(0, "gy");
  const FloatArg gx = args.floats(1, "gx");
  const PoolGeom g = readPoolGeom(args, 2);
  args.atLeast(gy, g.planes * g.O, 0, "gy");
  args.atLeast(gx, g.planes * g.HW, 1, "gx");
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    avgPoolBackwardT<float>(ctx, gy.as<float>(), gx.as<float>(), g);
  else
    avgPoolBackwardT<double>(ctx, gy.as<double>(), gx.as<double>(), g);
  return info.Env().Undefined();
}

Napi::Value BatchNormStats(const Napi::CallbackInfo& info) {
  Args args(info, "batchNormStats", 6, 6);
  const FloatArg x = args.floats(0, "x");
  const size_t n = args.size(1, "n"), c = args.size(2, "c"), inner = args.size(3, "inner");
  const FloatArg mean = args.floats(4, "mean");
  const FloatArg var = args.floats(5, "variance");
  args.atLeast(x, args.mul(args.mul(n, c), inner), 0, "x");
  args.atLeast(mean, c, 4, "mean");
  args.atLeast(var, c, 5, "variance");
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    batchNormStatsT<float>(ctx, x.as<float>(), n, c, inner, mean.as<float>(), var.as<float>());
  else
    batchNormStatsT<double>(ctx, x.as<double>(), n, c, inner, mean.as<double>(), var.as<double>());
  return info.Env().Undefined();
}

Napi::Value ChannelAffine(const Napi::CallbackInfo& info) {
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
  ConvContext& ctx = context(info);
  if (args.dtype() == DType::kF32)
    channelAffineT<float>(ctx, x.as<float>(), n, c, inner, scale.as<float>(), shift.as<float>(),
                          y.as<float>());
  else
    channelAffineT<double>(ctx, x.as<double>(), n, c, inner, scale.as<double>(),
                           shift.as<double>(), y.as<double>());
  return info.Env().Undefined();
}

}  // namespace bp
