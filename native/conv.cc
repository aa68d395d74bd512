// Convolution, pooling and batch-norm statistics (see conv.h). Convolutions with stride 1 (the
// common case) run register-tiled kernels straight over windows of the zero-padded image; other
// strides go through im2col/col2im and the addon's GEMM micro-kernel. Every pass is threaded
// across the images of the batch. K = cIn*kH*kW rows of columns, P = oH*oW pixels per image.
#include "conv.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

#include "args.h"

namespace bp {
namespace {

template <typename T> const Kernels<T>& pick(const KernelTable& t);
template <> const Kernels<float>& pick<float>(const KernelTable& t) { return t.f32; }
template <> const Kernels<double>& pick<double>(const KernelTable& t) { return t.f64; }

ConvContext& context(const Napi::CallbackInfo& info) {
  return *static_cast<ConvContext*>(info.Data());
}

// Runs a kernel, turning a failed workspace allocation into a JS Error instead of a crash.
template <typename F>
void guarded(const Napi::CallbackInfo& info, const char* fn, F&& kernel) {
  try {
    kernel();
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), std::string(fn) + ": out of memory for the convolution workspace");
  } catch (const std::length_error&) {
    throw Napi::Error::New(info.Env(), std::string(fn) + ": out of memory for the convolution workspace");
  }
}

// Runs task(i, thread) for i < count on the pool, inline (thread 0) when there is too little
// work to share.
template <typename F>
void parallelFor(ConvContext& ctx, size_t count, size_t workPerTask, F&& task) {
  ThreadPool& pool = **ctx.pool;
  if (count <= 1 || pool.size() == 1 || count * workPerTask < 16384) {
    for (size_t i = 0; i < count; ++i) task(i, 0);
    return;
  }
  pool.run(count, [&](size_t i, int thread) { task(i, static_cast<size_t>(thread)); });
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
  // The stride-1 paths zero-pad one image into a buffer; its size must be addressable too.
  const size_t padded = args.mul(args.mul(g.cIn, args.add(g.h, args.mul(2, g.pH))), args.add(g.w, args.mul(2, g.pW)));
  if (padded > kMaxSize) args.rangeError("convolution too large (a zero-padded image exceeds 2^31-1 elements)");
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

// Writes row (c, i, j) of the columns of image x (cIn x h x w): P values, zeros where the tap
// falls in the padding.
template <typename T>
void im2colRow(const T* x, const ConvGeom& g, size_t c, size_t i, size_t j, T* dst) {
  const T* plane = x + c * g.h * g.w;
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

// The K x P columns of image x, rows of stride ld.
template <typename T>
void im2col(const T* x, const ConvGeom& g, T* cols, size_t ld) {
  size_t row = 0;
  for (size_t c = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++row) im2colRow(x, g, c, i, j, cols + row * ld);
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
//
// General strides. Each image is one task on the pool (threads across the batch); within it, the
// GEMM runs on the addon's register-tiled micro-kernel (mr x nr tiles) over operands packed
// straight from the image, so nothing leaves L1/L2 and small channel counts cost no BLAS call.

constexpr size_t kSlotsPerThread = 6;

inline size_t ceilDiv(size_t a, size_t b) { return (a + b - 1) / b; }

// Per-thread buffers of one call, allocated (or found) before the parallel loop.
template <typename T>
struct ThreadBuffers {
  std::vector<T*> slot[kSlotsPerThread];
};

template <typename T>
ThreadBuffers<T> threadBuffers(ConvContext& ctx, size_t base, std::initializer_list<size_t> sizes) {
  ThreadBuffers<T> b;
  const size_t threads = static_cast<size_t>((**ctx.pool).size());
  size_t s = 0;
  for (size_t count : sizes) {
    for (size_t t = 0; t < threads; ++t)
      b.slot[s].push_back(ctx.workspace.get<T>(base + t * kSlotsPerThread + s, count ? count : 1));
    ++s;
  }
  return b;
}

// A packed as micro-panels of mr rows: panel q, column p holds rows q*mr.. of op(A)[:, p]
// (zeros past `rows`). rowStride/colStride give element (r, p) of op(A) at r*rowStride + p*colStride.
template <typename T>
void packPanels(const T* a, size_t rows, size_t cols, size_t rowStride, size_t colStride, size_t mr,
                T* dst) {
  for (size_t q = 0; q < rows; q += mr) {
    const size_t rr = std::min(mr, rows - q);
    for (size_t p = 0; p < cols; ++p) {
      T* d = dst + p * mr;
      const T* src = a + q * rowStride + p * colStride;
      size_t r = 0;
      for (; r < rr; ++r) d[r] = src[r * rowStride];
      for (; r < mr; ++r) d[r] = T(0);
    }
    dst += cols * mr;
  }
}

// Copies row `row` (P values) into the nr-wide blocks of a packed B (block b holds kc rows of nr).
template <typename T>
void scatterRowToBlocks(const T* row, size_t P, size_t nr, size_t kc, size_t k, T* blocks) {
  size_t b = 0;
  for (size_t p0 = 0; p0 < P; p0 += nr, ++b) {
    const size_t len = std::min(nr, P - p0);
    T* dst = blocks + b * kc * nr + k * nr;
    std::memcpy(dst, row + p0, len * sizeof(T));
    if (len < nr) std::fill(dst + len, dst + nr, T(0));
  }
}

template <typename T>
void conv2dGenericT(ConvContext& ctx, const T* x, const T* wt, const T* bias, T* y, const ConvGeom& g) {
  if (g.n == 0 || g.cOut == 0) return;
  const Kernels<T>& kr = pick<T>(**ctx.simd);
  const size_t mr = static_cast<size_t>(kr.mr), nr = static_cast<size_t>(kr.nr);
  const size_t panels = ceilDiv(g.cOut, mr), blocks = ceilDiv(g.P, nr);
  if (g.K == 0) {
    for (size_t i = 0; i < g.n; ++i)
      for (size_t co = 0; co < g.cOut; ++co)
        std::fill(y + (i * g.cOut + co) * g.P, y + (i * g.cOut + co + 1) * g.P, bias ? bias[co] : T(0));
    return;
  }
  T* apack = ctx.workspace.get<T>(0, panels * mr * g.K);
  packPanels(wt, g.cOut, g.K, g.K, 1, mr, apack);
  auto buf = threadBuffers<T>(ctx, 1, {blocks * nr * g.K, g.P, mr * nr});
  parallelFor(ctx, g.n, g.K * g.P * (g.cOut + 2), [&](size_t i, size_t t) {
    T* bpack = buf.slot[0][t];
    T* row = buf.slot[1][t];
    T* tile = buf.slot[2][t];
    const T* xi = x + i * g.X;
    size_t k = 0;
    for (size_t c = 0; c < g.cIn; ++c)
      for (size_t a = 0; a < g.kH; ++a)
        for (size_t b = 0; b < g.kW; ++b, ++k) {
          im2colRow(xi, g, c, a, b, row);
          scatterRowToBlocks(row, g.P, nr, g.K, k, bpack);
        }
    T* yi = y + i * g.cOut * g.P;
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t p0 = blk * nr, cols = std::min(nr, g.P - p0);
      for (size_t q = 0; q < panels; ++q) {
        kr.gemmMicro(g.K, apack + q * mr * g.K, bpack + blk * g.K * nr, tile, nr, T(1), T(0));
        const size_t rows = std::min(mr, g.cOut - q * mr);
        for (size_t r = 0; r < rows; ++r) {
          const size_t co = q * mr + r;
          const T bv = bias ? bias[co] : T(0);
          T* dst = yi + co * g.P + p0;
          const T* src = tile + r * nr;
          for (size_t j = 0; j < cols; ++j) dst[j] = src[j] + bv;
        }
      }
    }
  });
}

template <typename T>
void conv2dBackwardInputGenericT(ConvContext& ctx, const T* gy, const T* wt, T* gx, const ConvGeom& g) {
  if (g.n == 0 || g.X == 0) return;
  if (g.cOut == 0) {
    std::fill(gx, gx + g.n * g.X, T(0));
    return;
  }
  const Kernels<T>& kr = pick<T>(**ctx.simd);
  const size_t mr = static_cast<size_t>(kr.mr), nr = static_cast<size_t>(kr.nr);
  const size_t panels = ceilDiv(g.K, mr), blocks = ceilDiv(g.P, nr);
  // A = Wᵀ (K x cOut): element (r, p) = W[p*K + r].
  T* apack = ctx.workspace.get<T>(0, panels * mr * g.cOut);
  packPanels(wt, g.K, g.cOut, 1, g.K, mr, apack);
  auto buf = threadBuffers<T>(ctx, 1, {blocks * nr * g.cOut, g.K * g.P, mr * nr});
  parallelFor(ctx, g.n, g.K * g.P * (g.cOut + 2), [&](size_t i, size_t t) {
    T* bpack = buf.slot[0][t];
    T* gcols = buf.slot[1][t];
    T* tile = buf.slot[2][t];
    const T* gyi = gy + i * g.cOut * g.P;
    for (size_t co = 0; co < g.cOut; ++co) scatterRowToBlocks(gyi + co * g.P, g.P, nr, g.cOut, co, bpack);
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t p0 = blk * nr, cols = std::min(nr, g.P - p0);
      for (size_t q = 0; q < panels; ++q) {
        kr.gemmMicro(g.cOut, apack + q * mr * g.cOut, bpack + blk * g.cOut * nr, tile, nr, T(1), T(0));
        const size_t rows = std::min(mr, g.K - q * mr);
        for (size_t r = 0; r < rows; ++r)
          std::memcpy(gcols + (q * mr + r) * g.P + p0, tile + r * nr, cols * sizeof(T));
      }
    }
    col2im(gcols, g.P, g, gx + i * g.X);
  });
}

// The bias gradient of a convolution (row sums of gy over images and pixels): each thread sums
// into its own double row, and finish() adds the rows in thread order, so the result does not
// depend on which thread took which image. Does nothing when gb is null (no bias).
template <typename T>
class BiasGradSums {
 public:
  BiasGradSums(T* gb, size_t threads, size_t cOut)
      : gb_(gb), threads_(threads), cOut_(cOut), acc_(gb ? threads * cOut : 0, 0.0) {}

  // Adds the row sums of one image's gy (cOut rows of P pixels) on thread t.
  void add(size_t t, const T* gyi, size_t P) {
    if (!gb_) return;
    double* acc = acc_.data() + t * cOut_;
    for (size_t co = 0; co < cOut_; ++co) {
      const T* row = gyi + co * P;
      double s = 0;
      for (size_t p = 0; p < P; ++p) s += row[p];
      acc[co] += s;
    }
  }

  void finish() const {
    if (!gb_) return;
    for (size_t co = 0; co < cOut_; ++co) {
      double s = 0;
      for (size_t t = 0; t < threads_; ++t) s += acc_[t * cOut_ + co];
      gb_[co] = static_cast<T>(s);
    }
  }

 private:
  T* gb_;
  size_t threads_, cOut_;
  std::vector<double> acc_;
};

template <typename T>
void conv2dBackwardWeightGenericT(ConvContext& ctx, const T* x, const T* gy, T* gw, T* gb, const ConvGeom& g) {
  const size_t wsize = g.cOut * g.K;
  std::fill(gw, gw + wsize, T(0));
  if (gb) std::fill(gb, gb + g.cOut, T(0));
  if (g.NP == 0 || g.K == 0 || g.cOut == 0) {
    if (gb && g.K == 0 && g.NP > 0) {
      for (size_t i = 0; i < g.n; ++i)
        for (size_t co = 0; co < g.cOut; ++co) {
          double s = 0;
          for (size_t p = 0; p < g.P; ++p) s += gy[(i * g.cOut + co) * g.P + p];
          gb[co] += static_cast<T>(s);
        }
    }
    return;
  }
  const Kernels<T>& kr = pick<T>(**ctx.simd);
  const size_t mr = static_cast<size_t>(kr.mr), nr = static_cast<size_t>(kr.nr);
  const size_t panels = ceilDiv(g.cOut, mr), blocks = ceilDiv(g.K, nr);
  const size_t mPad = panels * mr, kPad = blocks * nr;
  // Per thread: packed columnsᵀ (blocks of nr taps x P pixels), columns, packed gy, the gw
  // accumulator (mPad x kPad) and the bias accumulator.
  auto buf = threadBuffers<T>(ctx, 1, {kPad * g.P, g.K * g.P, mPad * g.P, mPad * kPad});
  const size_t threads = buf.slot[0].size();
  BiasGradSums<T> gbSums(gb, threads, g.cOut);
  for (size_t t = 0; t < threads; ++t) std::fill(buf.slot[3][t], buf.slot[3][t] + mPad * kPad, T(0));
  std::vector<char> used(threads, 0);
  parallelFor(ctx, g.n, g.K * g.P * (g.cOut + 3), [&](size_t i, size_t t) {
    used[t] = 1;
    T* bpack = buf.slot[0][t];
    T* cols = buf.slot[1][t];
    T* apack = buf.slot[2][t];
    T* acc = buf.slot[3][t];
    const T* gyi = gy + i * g.cOut * g.P;
    im2col(x + i * g.X, g, cols, g.P);
    // B = colsᵀ (P x K): block b, row p holds taps b*nr.. of pixel p.
    for (size_t blk = 0; blk < blocks; ++blk) {
      T* dst = bpack + blk * g.P * nr;
      const size_t k0 = blk * nr, kk = std::min(nr, g.K - k0);
      for (size_t j = 0; j < kk; ++j) {
        const T* src = cols + (k0 + j) * g.P;
        for (size_t p = 0; p < g.P; ++p) dst[p * nr + j] = src[p];
      }
      for (size_t j = kk; j < nr; ++j)
        for (size_t p = 0; p < g.P; ++p) dst[p * nr + j] = T(0);
    }
    // A = gy_i (cOut x P).
    packPanels(gyi, g.cOut, g.P, g.P, 1, mr, apack);
    for (size_t q = 0; q < panels; ++q)
      for (size_t blk = 0; blk < blocks; ++blk)
        kr.gemmMicro(g.P, apack + q * mr * g.P, bpack + blk * g.P * nr, acc + q * mr * kPad + blk * nr,
                     kPad, T(1), T(1));
    gbSums.add(t, gyi, g.P);
  });
  for (size_t t = 0; t < threads; ++t) {
    if (!used[t]) continue;
    const T* acc = buf.slot[3][t];
    for (size_t co = 0; co < g.cOut; ++co)
      for (size_t k = 0; k < g.K; ++k) gw[co * g.K + k] += acc[co * kPad + k];
  }
  gbSums.finish();
}

// ---- stride-1 fast paths ------------------------------------------------------------------------
//
// With stride 1, im2col needs no copying at all once the image is zero-padded: on the grid of
// "wide" pixels p' = oy*Wp + ox (Wp = w + 2*padW, ox running over the whole padded width), tap k
// = (c, i, j) of pixel p' is xp[off_k + p'] with off_k = c*Hp*Wp + i*dH*Wp + j*dW, so every row
// of the columns is a contiguous window of the padded image. Wide pixels with ox >= oW are
// computed and dropped (they read across a row end). The backward input pass adds the columns
// of Wᵀ·gy back along the same windows.

#define BP_ALWAYS_INLINE __attribute__((always_inline)) inline

size_t dotBytes(const KernelTable& t);
template <typename T>
void windowBlockDispatch(size_t bytes, const T* w, size_t c, size_t K, const T* x, const size_t* o,
                         size_t p0, T* out, size_t ldo);
inline size_t windowPixels(size_t bytes, size_t elem);
template <typename T>
void addWindowsDispatch(size_t bytes, T* gxp, const size_t* offs, size_t rows, size_t p0, const T* tile);

template <typename T, size_t Bytes>
struct VecOf {
  typedef T type __attribute__((vector_size(Bytes)));
  // The same vector at any element-aligned address: loads and stores through it compile to one
  // unaligned vector move (a __builtin_memcpy of a vector may be split into 16-byte pieces
  // inside a function whose wider target is given by an attribute).
  typedef T unaligned __attribute__((vector_size(Bytes), aligned(sizeof(T)), may_alias));
};

template <typename T, size_t Bytes>
BP_ALWAYS_INLINE typename VecOf<T, Bytes>::type loadVec(const T* p) {
  return *reinterpret_cast<const typename VecOf<T, Bytes>::unaligned*>(p);
}

template <typename T, size_t Bytes>
BP_ALWAYS_INLINE void storeVec(T* p, typename VecOf<T, Bytes>::type v) {
  *reinterpret_cast<typename VecOf<T, Bytes>::unaligned*>(p) = v;
}

// The zero-padded image (cIn x Hp x Wp) followed by `slack` zeros.
template <typename T>
void padImage(const T* x, const ConvGeom& g, size_t Hp, size_t Wp, size_t slack, T* xp) {
  const size_t plane = Hp * Wp;
  std::fill(xp, xp + g.cIn * plane + slack, T(0));
  for (size_t c = 0; c < g.cIn; ++c)
    for (size_t r = 0; r < g.h; ++r)
      std::memcpy(xp + c * plane + (r + g.pH) * Wp + g.pW, x + (c * g.h + r) * g.w, g.w * sizeof(T));
}

// Forward, stride 1: y = conv(x, w) + bias, by windowBlock over blocks of wide pixels.
template <typename T>
void conv2dStride1T(ConvContext& ctx, const T* x, const T* wt, const T* bias, T* y, const ConvGeom& g) {
  const size_t bytes = dotBytes(**ctx.simd);
  const size_t nb = windowPixels(bytes, sizeof(T));
  const size_t Hp = g.h + 2 * g.pH, Wp = g.w + 2 * g.pW;
  const size_t Pw = g.oH * Wp;  // wide pixels
  const size_t blocks = ceilDiv(Pw, nb);
  const size_t maxOff = (g.cIn - 1) * Hp * Wp + (g.kH - 1) * g.dH * Wp + (g.kW - 1) * g.dW;
  const size_t xpSize = std::max(g.cIn * Hp * Wp, maxOff + blocks * nb);
  size_t* offs = ctx.workspace.get<size_t>(1, g.K);
  for (size_t c = 0, k = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++k) offs[k] = c * Hp * Wp + i * g.dH * Wp + j * g.dW;
  auto buf = threadBuffers<T>(ctx, 3, {xpSize, g.cOut * nb});
  parallelFor(ctx, g.n, g.K * Pw * (g.cOut + 1), [&](size_t img, size_t t) {
    T* xp = buf.slot[0][t];
    T* tile = buf.slot[1][t];
    padImage(x + img * g.X, g, Hp, Wp, xpSize - g.cIn * Hp * Wp, xp);
    T* yi = y + img * g.cOut * g.P;
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t p0 = blk * nb;
      windowBlockDispatch<T>(bytes, wt, g.cOut, g.K, xp, offs, p0, tile, nb);
      // Runs of valid pixels (ox < oW) inside this block of wide pixels.
      size_t jj = 0, oy = p0 / Wp, ox = p0 % Wp;
      while (jj < nb && oy < g.oH) {
        const size_t run = std::min(nb - jj, Wp - ox);
        if (ox < g.oW) {
          const size_t len = std::min(run, g.oW - ox);
          for (size_t co = 0; co < g.cOut; ++co) {
            const T bv = bias ? bias[co] : T(0);
            const T* src = tile + co * nb + jj;
            T* dst = yi + co * g.P + oy * g.oW + ox;
            for (size_t e = 0; e < len; ++e) dst[e] = src[e] + bv;
          }
        }
        jj += run;
        ox += run;
        if (ox == Wp) {
          ox = 0;
          ++oy;
        }
      }
    }
  });
}

// Backward input, stride 1: the transposed convolution as a GEMM plus shifted adds. On the wide
// grid of output pixels q = oy*Wp + ox (Wp the padded input width), column k = (c, i, j) of
// Wᵀ·gy is added to the zero-padded gx at off_k + q: one contiguous run per tap, so no col2im.
// gy is laid out on the wide grid with zeros at ox >= oW, so those columns add nothing.
template <typename T>
void conv2dBackwardInputStride1T(ConvContext& ctx, const T* gy, const T* wt, T* gx, const ConvGeom& g) {
  const size_t bytes = dotBytes(**ctx.simd);
  const size_t nb = windowPixels(bytes, sizeof(T));
  const size_t Hp = g.h + 2 * g.pH, Wp = g.w + 2 * g.pW;
  const size_t Q = g.oH * Wp;
  const size_t blocks = ceilDiv(Q, nb), len = blocks * nb;
  const size_t maxOff = (g.cIn - 1) * Hp * Wp + (g.kH - 1) * g.dH * Wp + (g.kW - 1) * g.dW;
  const size_t gxpSize = std::max(g.cIn * Hp * Wp, maxOff + len);
  // Wᵀ (K x cOut) and the offsets of the rows of gy in its wide layout (the "taps" of the GEMM).
  T* wtT = ctx.workspace.get<T>(0, g.K * g.cOut);
  for (size_t co = 0; co < g.cOut; ++co)
    for (size_t k = 0; k < g.K; ++k) wtT[k * g.cOut + co] = wt[co * g.K + k];
  size_t* rowOffs = ctx.workspace.get<size_t>(1, g.cOut);
  for (size_t co = 0; co < g.cOut; ++co) rowOffs[co] = co * len;
  size_t* offs = ctx.workspace.get<size_t>(2, g.K);
  for (size_t c = 0, k = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++k) offs[k] = c * Hp * Wp + i * g.dH * Wp + j * g.dW;
  auto buf = threadBuffers<T>(ctx, 3, {g.cOut * len, gxpSize, g.K * nb});
  parallelFor(ctx, g.n, g.K * Q * (g.cOut + 1), [&](size_t img, size_t t) {
    T* gyw = buf.slot[0][t];
    T* gxp = buf.slot[1][t];
    T* tile = buf.slot[2][t];
    const T* gyi = gy + img * g.cOut * g.P;
    std::fill(gyw, gyw + g.cOut * len, T(0));
    for (size_t co = 0; co < g.cOut; ++co)
      for (size_t oy = 0; oy < g.oH; ++oy)
        std::memcpy(gyw + co * len + oy * Wp, gyi + co * g.P + oy * g.oW, g.oW * sizeof(T));
    std::fill(gxp, gxp + gxpSize, T(0));
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t p0 = blk * nb;
      windowBlockDispatch<T>(bytes, wtT, g.K, g.cOut, gyw, rowOffs, p0, tile, nb);
      addWindowsDispatch<T>(bytes, gxp, offs, g.K, p0, tile);
    }
    T* gxi = gx + img * g.X;
    for (size_t c = 0; c < g.cIn; ++c)
      for (size_t r = 0; r < g.h; ++r)
        std::memcpy(gxi + (c * g.h + r) * g.w, gxp + c * Hp * Wp + (r + g.pH) * Wp + g.pW, g.w * sizeof(T));
  });
}

// RA x 4 block of dot products of length len (a multiple of the vector length L), kept as
// vectors: out[(i*ldo + j)*L + l] += sum over p = l mod L of a_i[p] * b_j[p]. The lanes are
// summed once per call by the caller, not once per image.
template <typename T, size_t Bytes, int RA>
BP_ALWAYS_INLINE void dotBlock(const T* const* a, const T* const* b, size_t len, T* out, size_t ldo) {
  typedef typename VecOf<T, Bytes>::type V;
  constexpr size_t L = Bytes / sizeof(T);
  V s[RA][4];
  for (int i = 0; i < RA; ++i)
    for (int j = 0; j < 4; ++j) s[i][j] = V{};
  for (size_t p = 0; p < len; p += L) {
    V va[RA], vb[4];
    for (int i = 0; i < RA; ++i) va[i] = loadVec<T, Bytes>(a[i] + p);
    for (int j = 0; j < 4; ++j) vb[j] = loadVec<T, Bytes>(b[j] + p);
    for (int i = 0; i < RA; ++i)
      for (int j = 0; j < 4; ++j) s[i][j] += va[i] * vb[j];
  }
  for (int i = 0; i < RA; ++i)
    for (int j = 0; j < 4; ++j) {
      T* o = out + (i * ldo + j) * L;
      storeVec<T, Bytes>(o, loadVec<T, Bytes>(o) + s[i][j]);
    }
}

// acc[co][k][lane] += sum_p gyw[co][p] * xp[offs[k] + p] for co < cOut, k < kPad (a multiple
// of 4): blocks of RB channels (4 where there are 32 vector registers, 2 where 16), then one
// block of the ones left over.
template <typename T, size_t Bytes, int RB>
BP_ALWAYS_INLINE void weightDots(const T* gyw, size_t ldg, const T* xp, const size_t* offs, size_t cOut,
                                 size_t kPad, size_t len, T* acc) {
  constexpr size_t L = Bytes / sizeof(T);
  for (size_t co = 0; co < cOut; co += RB) {
    const size_t rows = std::min<size_t>(RB, cOut - co);
    const T* a[RB];
    for (size_t i = 0; i < RB; ++i) a[i] = gyw + (co + (i < rows ? i : 0)) * ldg;
    for (size_t k = 0; k < kPad; k += 4) {
      const T* b[4] = {xp + offs[k], xp + offs[k + 1], xp + offs[k + 2], xp + offs[k + 3]};
      T* out = acc + (co * kPad + k) * L;
      switch (rows) {
        case 1: dotBlock<T, Bytes, 1>(a, b, len, out, kPad); break;
        case 2: dotBlock<T, Bytes, (RB >= 2 ? 2 : 1)>(a, b, len, out, kPad); break;
        case 3: dotBlock<T, Bytes, (RB >= 3 ? 3 : 1)>(a, b, len, out, kPad); break;
        default: dotBlock<T, Bytes, RB>(a, b, len, out, kPad); break;
      }
    }
  }
}

// Direct stride-1 window GEMM: wide[r][p] = sum_k w[(co0 + r)*K + k] * xp[offs[k] + p0 + p] for
// r < R, p < NV*L; R rows of accumulators times NV vectors, B read straight from the padded
// image (no packing).
template <typename T, size_t Bytes, int R, int NV>
BP_ALWAYS_INLINE void windowTile(const T* w, size_t K, const T* xp, const size_t* offs, size_t p0, T* out,
                                 size_t ldo) {
  typedef typename VecOf<T, Bytes>::type V;
  constexpr size_t L = Bytes / sizeof(T);
  V acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = V{};
  for (size_t k = 0; k < K; ++k) {
    const T* src = xp + offs[k] + p0;
    V vb[NV];
    for (int v = 0; v < NV; ++v) vb[v] = loadVec<T, Bytes>(src + v * L);
    for (int r = 0; r < R; ++r) {
      const T a = w[r * K + k];
      for (int v = 0; v < NV; ++v) acc[r][v] += a * vb[v];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) storeVec<T, Bytes>(out + r * ldo + v * L, acc[r][v]);
}

// One block of NV*L wide pixels for every output channel, in row groups of at most RMAX.
template <typename T, size_t Bytes, int RMAX, int NV>
BP_ALWAYS_INLINE void windowBlock(const T* w, size_t cOut, size_t K, const T* xp, const size_t* offs,
                                  size_t p0, T* out, size_t ldo) {
  size_t co = 0;
  for (; co + RMAX <= cOut; co += RMAX)
    windowTile<T, Bytes, RMAX, NV>(w + co * K, K, xp, offs, p0, out + co * ldo, ldo);
  const size_t rest = cOut - co;
  const T* wr = w + co * K;
  T* o = out + co * ldo;
  switch (rest) {
    case 0: break;
    case 1: windowTile<T, Bytes, 1, NV>(wr, K, xp, offs, p0, o, ldo); break;
    case 2: windowTile<T, Bytes, 2, NV>(wr, K, xp, offs, p0, o, ldo); break;
    case 3: windowTile<T, Bytes, 3, NV>(wr, K, xp, offs, p0, o, ldo); break;
    case 4: windowTile<T, Bytes, 4, NV>(wr, K, xp, offs, p0, o, ldo); break;
    case 5: windowTile<T, Bytes, 5, NV>(wr, K, xp, offs, p0, o, ldo); break;
    case 6: windowTile<T, Bytes, 6, NV>(wr, K, xp, offs, p0, o, ldo); break;
    default: windowTile<T, Bytes, 7, NV>(wr, K, xp, offs, p0, o, ldo); break;
  }
}

// dst_k[e] += tile[k*nb + e] for every row k of a tile, dst_k = gxp + offs[k] + p0; nb = NV*L.
template <typename T, size_t Bytes, int NV>
BP_ALWAYS_INLINE void addWindows(T* gxp, const size_t* offs, size_t rows, size_t p0, const T* tile) {
  constexpr size_t L = Bytes / sizeof(T);
  for (size_t k = 0; k < rows; ++k) {
    T* dst = gxp + offs[k] + p0;
    const T* src = tile + k * NV * L;
    for (int v = 0; v < NV; ++v)
      storeVec<T, Bytes>(dst + v * L, loadVec<T, Bytes>(dst + v * L) + loadVec<T, Bytes>(src + v * L));
  }
}

#if defined(__x86_64__) || defined(_M_X64)
#define BP_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define BP_TARGET_AVX2 __attribute__((target("avx2,fma")))
BP_TARGET_AVX512 void weightDotsAvx512(const float* g, size_t ld, const float* x, const size_t* o,
                                       size_t c, size_t k, size_t n, float* acc) {
  weightDots<float, 64, 4>(g, ld, x, o, c, k, n, acc);
}
BP_TARGET_AVX512 void weightDotsAvx512(const double* g, size_t ld, const double* x, const size_t* o,
                                       size_t c, size_t k, size_t n, double* acc) {
  weightDots<double, 64, 4>(g, ld, x, o, c, k, n, acc);
}
BP_TARGET_AVX2 void weightDotsAvx2(const float* g, size_t ld, const float* x, const size_t* o,
                                   size_t c, size_t k, size_t n, float* acc) {
  weightDots<float, 32, 2>(g, ld, x, o, c, k, n, acc);
}
BP_TARGET_AVX2 void weightDotsAvx2(const double* g, size_t ld, const double* x, const size_t* o,
                                   size_t c, size_t k, size_t n, double* acc) {
  weightDots<double, 32, 2>(g, ld, x, o, c, k, n, acc);
}
BP_TARGET_AVX512 void windowBlockAvx512(const float* w, size_t c, size_t K, const float* x,
                                        const size_t* o, size_t p0, float* out, size_t ldo) {
  windowBlock<float, 64, 8, 3>(w, c, K, x, o, p0, out, ldo);
}
BP_TARGET_AVX512 void windowBlockAvx512(const double* w, size_t c, size_t K, const double* x,
                                        const size_t* o, size_t p0, double* out, size_t ldo) {
  windowBlock<double, 64, 8, 3>(w, c, K, x, o, p0, out, ldo);
}
BP_TARGET_AVX2 void windowBlockAvx2(const float* w, size_t c, size_t K, const float* x,
                                    const size_t* o, size_t p0, float* out, size_t ldo) {
  windowBlock<float, 32, 4, 3>(w, c, K, x, o, p0, out, ldo);
}
BP_TARGET_AVX2 void windowBlockAvx2(const double* w, size_t c, size_t K, const double* x,
                                    const size_t* o, size_t p0, double* out, size_t ldo) {
  windowBlock<double, 32, 4, 3>(w, c, K, x, o, p0, out, ldo);
}
#endif

#if defined(__x86_64__) || defined(_M_X64)
BP_TARGET_AVX512 void addWindowsAvx512(float* g, const size_t* o, size_t rows, size_t p0, const float* t) {
  addWindows<float, 64, 3>(g, o, rows, p0, t);
}
BP_TARGET_AVX512 void addWindowsAvx512(double* g, const size_t* o, size_t rows, size_t p0, const double* t) {
  addWindows<double, 64, 3>(g, o, rows, p0, t);
}
BP_TARGET_AVX2 void addWindowsAvx2(float* g, const size_t* o, size_t rows, size_t p0, const float* t) {
  addWindows<float, 32, 3>(g, o, rows, p0, t);
}
BP_TARGET_AVX2 void addWindowsAvx2(double* g, const size_t* o, size_t rows, size_t p0, const double* t) {
  addWindows<double, 32, 3>(g, o, rows, p0, t);
}
#endif

// Wide pixels per windowBlock call under a vector width: NV = 3 vectors.
inline size_t windowPixels(size_t bytes, size_t elem) { return 3 * bytes / elem; }

template <typename T>
void windowBlockDispatch(size_t bytes, const T* w, size_t c, size_t K, const T* x, const size_t* o,
                         size_t p0, T* out, size_t ldo) {
#if defined(__x86_64__) || defined(_M_X64)
  if (bytes == 64) return windowBlockAvx512(w, c, K, x, o, p0, out, ldo);
  if (bytes == 32) return windowBlockAvx2(w, c, K, x, o, p0, out, ldo);
#endif
  (void)bytes;
  windowBlock<T, 16, 4, 3>(w, c, K, x, o, p0, out, ldo);
}

template <typename T>
void addWindowsDispatch(size_t bytes, T* gxp, const size_t* offs, size_t rows, size_t p0, const T* tile) {
#if defined(__x86_64__) || defined(_M_X64)
  if (bytes == 64) return addWindowsAvx512(gxp, offs, rows, p0, tile);
  if (bytes == 32) return addWindowsAvx2(gxp, offs, rows, p0, tile);
#endif
  (void)bytes;
  addWindows<T, 16, 3>(gxp, offs, rows, p0, tile);
}

// The vector width (in bytes) the weight-gradient dots use under the addon's SIMD choice.
size_t dotBytes(const KernelTable& t) {
  if (std::strcmp(t.name, "avx512") == 0) return 64;
  if (std::strcmp(t.name, "avx2") == 0) return 32;
  return 16;
}

template <typename T>
void weightDotsDispatch(size_t bytes, const T* g, size_t ld, const T* x, const size_t* o, size_t c,
                        size_t k, size_t n, T* acc) {
#if defined(__x86_64__) || defined(_M_X64)
  if (bytes == 64) return weightDotsAvx512(g, ld, x, o, c, k, n, acc);
  if (bytes == 32) return weightDotsAvx2(g, ld, x, o, c, k, n, acc);
#endif
  (void)bytes;
  weightDots<T, 16, 2>(g, ld, x, o, c, k, n, acc);
}

// Weight (and bias) gradient, stride 1: gw[co, k] = sum over images and wide pixels of
// gy_wide[co, p'] * xp[off_k + p'], gy_wide being gy spread on the wide grid with zeros at ox >= oW.
template <typename T>
void conv2dBackwardWeightStride1T(ConvContext& ctx, const T* x, const T* gy, T* gw, T* gb, const ConvGeom& g) {
  const size_t bytes = dotBytes(**ctx.simd);
  const size_t L = bytes / sizeof(T);
  const size_t Hp = g.h + 2 * g.pH, Wp = g.w + 2 * g.pW;
  const size_t len = ceilDiv(g.oH * Wp, L) * L;
  const size_t kPad = ceilDiv(g.K, 4) * 4;
  const size_t maxOff = (g.cIn - 1) * Hp * Wp + (g.kH - 1) * g.dH * Wp + (g.kW - 1) * g.dW;
  const size_t xpSize = std::max(g.cIn * Hp * Wp, maxOff + len);
  size_t* offs = ctx.workspace.get<size_t>(0, kPad);
  for (size_t c = 0, k = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++k) offs[k] = c * Hp * Wp + i * g.dH * Wp + j * g.dW;
  for (size_t k = g.K; k < kPad; ++k) offs[k] = 0;  // padding taps: computed, then dropped
  auto buf = threadBuffers<T>(ctx, 1, {xpSize, g.cOut * len, g.cOut * kPad * L});
  const size_t threads = buf.slot[0].size();
  for (size_t t = 0; t < threads; ++t) std::fill(buf.slot[2][t], buf.slot[2][t] + g.cOut * kPad * L, T(0));
  BiasGradSums<T> gbSums(gb, threads, g.cOut);
  std::vector<char> used(threads, 0);
  parallelFor(ctx, g.n, g.K * len * g.cOut, [&](size_t img, size_t t) {
    used[t] = 1;
    T* xp = buf.slot[0][t];
    T* gyw = buf.slot[1][t];
    padImage(x + img * g.X, g, Hp, Wp, xpSize - g.cIn * Hp * Wp, xp);
    const T* gyi = gy + img * g.cOut * g.P;
    std::fill(gyw, gyw + g.cOut * len, T(0));
    for (size_t co = 0; co < g.cOut; ++co)
      for (size_t oy = 0; oy < g.oH; ++oy)
        std::memcpy(gyw + co * len + oy * Wp, gyi + co * g.P + oy * g.oW, g.oW * sizeof(T));
    weightDotsDispatch<T>(bytes, gyw, len, xp, offs, g.cOut, kPad, len, buf.slot[2][t]);
    gbSums.add(t, gyi, g.P);
  });
  for (size_t t = 0; t < threads; ++t) {
    if (!used[t]) continue;
    const T* acc = buf.slot[2][t];
    for (size_t co = 0; co < g.cOut; ++co)
      for (size_t k = 0; k < g.K; ++k) {
        const T* lanes = acc + (co * kPad + k) * L;
        T sum = 0;
        for (size_t l = 0; l < L; ++l) sum += lanes[l];
        gw[co * g.K + k] += sum;
      }
  }
  gbSums.finish();
}

// ---- dispatch --------------------------------------------------------------------------------

template <typename T>
void conv2dT(ConvContext& ctx, const T* x, const T* wt, const T* bias, T* y, const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1 && g.n > 0 && g.cOut > 0 && g.K > 0)
    conv2dStride1T(ctx, x, wt, bias, y, g);
  else
    conv2dGenericT(ctx, x, wt, bias, y, g);
}

template <typename T>
void conv2dBackwardInputT(ConvContext& ctx, const T* gy, const T* wt, T* gx, const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1 && g.n > 0 && g.cOut > 0 && g.cIn > 0)
    conv2dBackwardInputStride1T(ctx, gy, wt, gx, g);
  else
    conv2dBackwardInputGenericT(ctx, gy, wt, gx, g);
}

template <typename T>
void conv2dBackwardWeightT(ConvContext& ctx, const T* x, const T* gy, T* gw, T* gb, const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1 && g.n > 0 && g.cOut > 0 && g.K > 0) {
    std::fill(gw, gw + g.cOut * g.K, T(0));
    conv2dBackwardWeightStride1T(ctx, x, gy, gw, gb, g);
  } else {
    conv2dBackwardWeightGenericT(ctx, x, gy, gw, gb, g);
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

// Calls visit(o, y0, y1, x0, x1) for each output element o of one plane, with its window of
// input rows [y0, y1) and columns [x0, x1) clipped to the plane.
template <typename F>
inline void forEachWindow(const PoolGeom& g, F&& visit) {
  for (size_t oy = 0; oy < g.oH; ++oy) {
    size_t y0, y1;
    windowRange(oy, g.sH, g.pH, g.kH, g.h, y0, y1);
    for (size_t ox = 0; ox < g.oW; ++ox) {
      size_t x0, x1;
      windowRange(ox, g.sW, g.pW, g.kW, g.w, x0, x1);
      visit(oy * g.oW + ox, y0, y1, x0, x1);
    }
  }
}

// The first maximum of each window wins, except that a NaN beats everything and a later NaN
// replaces an earlier one (torch's rule: take v when v > best or v is NaN). Written without
// branches: the comparisons on random data would mispredict half the time.
template <typename T>
inline void maxStep(T v, size_t at, T& best, size_t& bestAt) {
  const bool take = (v > best) | (v != v);
  best = take ? v : best;
  bestAt = take ? at : bestAt;
}

// The 2x2/2 window without the NaN rule, so that the compiler can vectorize it; returns whether
// the plane holds a NaN (then the caller redoes it with maxStep).
template <typename T>
BP_ALWAYS_INLINE bool maxPool2x2Plain(const T* __restrict xp, T* __restrict yp, int32_t* __restrict ip,
                                      size_t h, size_t w, size_t oH, size_t oW) {
  const int32_t wi = static_cast<int32_t>(w);
  for (size_t oy = 0; oy < oH; ++oy) {
    const T* r0 = xp + 2 * oy * w;
    const T* r1 = r0 + w;
    const int32_t base = static_cast<int32_t>(2 * oy * w);
    T* yo = yp + oy * oW;
    int32_t* io = ip + oy * oW;
    for (size_t ox = 0; ox < oW; ++ox) {
      const T a = r0[2 * ox], b = r0[2 * ox + 1], c = r1[2 * ox], d = r1[2 * ox + 1];
      const int32_t i0 = base + 2 * static_cast<int32_t>(ox);
      T best = a;
      int32_t at = i0;
      bool t = b > best;
      best = t ? b : best;
      at = t ? i0 + 1 : at;
      t = c > best;
      best = t ? c : best;
      at = t ? i0 + wi : at;
      t = d > best;
      best = t ? d : best;
      at = t ? i0 + wi + 1 : at;
      yo[ox] = best;
      io[ox] = at;
    }
  }
  int nan = 0;
  for (size_t i = 0; i < h * w; ++i) nan |= xp[i] != xp[i];
  return nan != 0;
}

#if defined(__x86_64__) || defined(_M_X64)
BP_TARGET_AVX2 bool maxPool2x2Avx2(const float* x, float* y, int32_t* i, size_t h, size_t w, size_t oH, size_t oW) {
  return maxPool2x2Plain(x, y, i, h, w, oH, oW);
}
BP_TARGET_AVX2 bool maxPool2x2Avx2(const double* x, double* y, int32_t* i, size_t h, size_t w, size_t oH, size_t oW) {
  return maxPool2x2Plain(x, y, i, h, w, oH, oW);
}
#endif

template <typename T>
bool maxPool2x2Dispatch(size_t bytes, const T* x, T* y, int32_t* i, size_t h, size_t w, size_t oH, size_t oW) {
#if defined(__x86_64__) || defined(_M_X64)
  // AVX2 code even where AVX-512 is available: its 512-bit deinterleaving is slower here.
  if (bytes >= 32) return maxPool2x2Avx2(x, y, i, h, w, oH, oW);
#endif
  (void)bytes;
  return maxPool2x2Plain(x, y, i, h, w, oH, oW);
}

template <typename T>
void maxPoolT(ConvContext& ctx, const T* x, T* y, int32_t* idx, const PoolGeom& g) {
  const bool k2s2 = g.kH == 2 && g.kW == 2 && g.sH == 2 && g.sW == 2 && g.pH == 0 && g.pW == 0;
  const size_t bytes = dotBytes(**ctx.simd);
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl, size_t) {
    const T* xp = x + pl * g.HW;
    T* yp = y + pl * g.O;
    int32_t* ip = idx + pl * g.O;
    // The common 2x2/2 window: vectorized, redone by the general loop if the plane has a NaN.
    if (k2s2 && !maxPool2x2Dispatch(bytes, xp, yp, ip, g.h, g.w, g.oH, g.oW)) return;
    forEachWindow(g, [&](size_t o, size_t y0, size_t y1, size_t x0, size_t x1) {
      T best = xp[y0 * g.w + x0];
      size_t at = y0 * g.w + x0;
      for (size_t r = y0; r < y1; ++r) {
        const T* row = xp + r * g.w;
        for (size_t c = x0; c < x1; ++c) maxStep(row[c], r * g.w + c, best, at);
      }
      yp[o] = best;
      ip[o] = static_cast<int32_t>(at);
    });
  });
}

template <typename T>
void maxPoolBackwardT(ConvContext& ctx, const T* gy, const int32_t* idx, T* gx, const PoolGeom& g) {
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl, size_t) {
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
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl, size_t) {
    const T* xp = x + pl * g.HW;
    T* yp = y + pl * g.O;
    forEachWindow(g, [&](size_t o, size_t y0, size_t y1, size_t x0, size_t x1) {
      T s = 0;
      for (size_t r = y0; r < y1; ++r)
        for (size_t c = x0; c < x1; ++c) s += xp[r * g.w + c];
      yp[o] = s * inv;
    });
  });
}

template <typename T>
void avgPoolBackwardT(ConvContext& ctx, const T* gy, T* gx, const PoolGeom& g) {
  const T inv = T(1) / static_cast<T>(g.kH * g.kW);
  parallelFor(ctx, g.planes, g.HW, [&](size_t pl, size_t) {
    T* gp = gx + pl * g.HW;
    std::fill(gp, gp + g.HW, T(0));
    const T* gyp = gy + pl * g.O;
    forEachWindow(g, [&](size_t o, size_t y0, size_t y1, size_t x0, size_t x1) {
      const T v = gyp[o] * inv;
      for (size_t r = y0; r < y1; ++r)
        for (size_t c = x0; c < x1; ++c) gp[r * g.w + c] += v;
    });
  });
}

// ---- batch norm ------------------------------------------------------------------------------

template <typename T>
void batchNormStatsT(ConvContext& ctx, const T* x, size_t n, size_t c, size_t inner, T* mean, T* var) {
  const size_t count = n * inner;
  parallelFor(ctx, c, count, [&](size_t ch, size_t) {
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
  parallelFor(ctx, n, c * inner, [&](size_t i, size_t) {
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
  guarded(info, "conv2d", [&] {
    withDType(args, [&](auto t) { conv2dT(ctx, x.as(t), w.as(t), b.as(t), y.as(t), g); });
  });
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
  guarded(info, "conv2dBackwardInput", [&] {
    withDType(args, [&](auto t) { conv2dBackwardInputT(ctx, gy.as(t), w.as(t), gx.as(t), g); });
  });
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
  guarded(info, "conv2dBackwardWeight", [&] {
    withDType(args, [&](auto t) {
      conv2dBackwardWeightT(ctx, x.as(t), gy.as(t), gw.as(t), gb.as(t), g);
    });
  });
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
  withDType(args, [&](auto t) { maxPoolT(ctx, x.as(t), y.as(t), idx.data, g); });
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
  args.indicesBelow(idx, g.planes * g.O, g.HW, 1, "indices", "", "the plane ");
  ConvContext& ctx = context(info);
  withDType(args, [&](auto t) { maxPoolBackwardT(ctx, gy.as(t), idx.data, gx.as(t), g); });
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
  withDType(args, [&](auto t) { avgPoolT(ctx, x.as(t), y.as(t), g); });
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
  withDType(args, [&](auto t) { avgPoolBackwardT(ctx, gy.as(t), gx.as(t), g); });
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
  withDType(args, [&](auto t) {
    batchNormStatsT(ctx, x.as(t), n, c, inner, mean.as(t), var.as(t));
  });
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
  withDType(args, [&](auto t) {
    channelAffineT(ctx, x.as(t), n, c, inner, scale.as(t), shift.as(t), y.as(t));
  });
  return info.Env().Undefined();
}

}  // namespace bp
