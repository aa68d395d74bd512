// The im2col convolution path, for any geometry (the entry points in conv.cc send it every
// stride other than 1). Each image is one task on the pool (threads across the batch); within
// it, the GEMM runs on the table's register-tiled micro-kernel (mr x nr tiles) over operands
// packed straight from the image, so nothing leaves L1/L2 and small channel counts cost no BLAS
// call. K = cIn*kH*kW rows of columns, P = oH*oW pixels per image.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv.h"
#include "conv_common.h"
#include "parallel.h"

namespace bp {
namespace {

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

// A packed as micro-panels of mr rows: panel q, column p holds rows q*mr.. of op(A)[:, p]
// (zeros past `rows`). rowStride/colStride give element (r, p) of op(A) at r*rowStride +
// p*colStride.
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

}  // namespace

template <typename T>
void conv2dIm2col(const ExecContext& ctx, const T* x, const T* wt, const T* bias, T* y,
                  const ConvGeom& g) {
  if (g.n == 0 || g.cOut == 0) return;
  const Kernels<T>& kr = kernelsOf<T>(*ctx.simd);
  const size_t mr = static_cast<size_t>(kr.mr), nr = static_cast<size_t>(kr.nr);
  const size_t panels = ceilDiv(g.cOut, mr), blocks = ceilDiv(g.P, nr);
  if (g.K == 0) {
    for (size_t i = 0; i < g.n; ++i)
      for (size_t co = 0; co < g.cOut; ++co)
        std::fill(y + (i * g.cOut + co) * g.P, y + (i * g.cOut + co + 1) * g.P,
                  bias ? bias[co] : T(0));
    return;
  }
  T* apack = ctx.ws->get<T>(0, panels * mr * g.K);
  packPanels(wt, g.cOut, g.K, g.K, 1, mr, apack);
  auto buf = threadBuffers<T>(ctx, 1, {blocks * nr * g.K, g.P, mr * nr});
  parallelFor(*ctx.pool, g.n, g.K * g.P * (g.cOut + 2), [&](size_t i, size_t t) {
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
void conv2dBackwardInputIm2col(const ExecContext& ctx, const T* gy, const T* wt, T* gx,
                               const ConvGeom& g) {
  if (g.n == 0 || g.X == 0) return;
  if (g.cOut == 0) {
    std::fill(gx, gx + g.n * g.X, T(0));
    return;
  }
  const Kernels<T>& kr = kernelsOf<T>(*ctx.simd);
  const size_t mr = static_cast<size_t>(kr.mr), nr = static_cast<size_t>(kr.nr);
  const size_t panels = ceilDiv(g.K, mr), blocks = ceilDiv(g.P, nr);
  // A = Wᵀ (K x cOut): element (r, p) = W[p*K + r].
  T* apack = ctx.ws->get<T>(0, panels * mr * g.cOut);
  packPanels(wt, g.K, g.cOut, 1, g.K, mr, apack);
  auto buf = threadBuffers<T>(ctx, 1, {blocks * nr * g.cOut, g.K * g.P, mr * nr});
  parallelFor(*ctx.pool, g.n, g.K * g.P * (g.cOut + 2), [&](size_t i, size_t t) {
    T* bpack = buf.slot[0][t];
    T* gcols = buf.slot[1][t];
    T* tile = buf.slot[2][t];
    const T* gyi = gy + i * g.cOut * g.P;
    for (size_t co = 0; co < g.cOut; ++co)
      scatterRowToBlocks(gyi + co * g.P, g.P, nr, g.cOut, co, bpack);
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t p0 = blk * nr, cols = std::min(nr, g.P - p0);
      for (size_t q = 0; q < panels; ++q) {
        kr.gemmMicro(g.cOut, apack + q * mr * g.cOut, bpack + blk * g.cOut * nr, tile, nr, T(1),
                     T(0));
        const size_t rows = std::min(mr, g.K - q * mr);
        for (size_t r = 0; r < rows; ++r)
          std::memcpy(gcols + (q * mr + r) * g.P + p0, tile + r * nr, cols * sizeof(T));
      }
    }
    col2im(gcols, g.P, g, gx + i * g.X);
  });
}

template <typename T>
void conv2dBackwardWeightIm2col(const ExecContext& ctx, const T* x, const T* gy, T* gw, T* gb,
                                const ConvGeom& g) {
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
  const Kernels<T>& kr = kernelsOf<T>(*ctx.simd);
  const size_t mr = static_cast<size_t>(kr.mr), nr = static_cast<size_t>(kr.nr);
  const size_t panels = ceilDiv(g.cOut, mr), blocks = ceilDiv(g.K, nr);
  const size_t mPad = panels * mr, kPad = blocks * nr;
  // Per thread: packed columnsᵀ (blocks of nr taps x P pixels), columns, packed gy, the gw
  // accumulator (mPad x kPad) and the bias accumulator.
  auto buf = threadBuffers<T>(ctx, 1, {kPad * g.P, g.K * g.P, mPad * g.P, mPad * kPad});
  const size_t threads = buf.slot[0].size();
  BiasGradSums<T> gbSums(gb, threads, g.cOut);
  for (size_t t = 0; t < threads; ++t)
    std::fill(buf.slot[3][t], buf.slot[3][t] + mPad * kPad, T(0));
  std::vector<char> used(threads, 0);
  // Accumulators per part (not per thread): the sums do not depend on scheduling.
  parallelForParts(*ctx.pool, g.n, g.K * g.P * (g.cOut + 3), [&](size_t i, size_t part, size_t t) {
    used[part] = 1;
    T* bpack = buf.slot[0][t];
    T* cols = buf.slot[1][t];
    T* apack = buf.slot[2][t];
    T* acc = buf.slot[3][part];
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
        kr.gemmMicro(g.P, apack + q * mr * g.P, bpack + blk * g.P * nr,
                     acc + q * mr * kPad + blk * nr, kPad, T(1), T(1));
    gbSums.add(part, gyi, g.P);
  });
  for (size_t t = 0; t < threads; ++t) {
    if (!used[t]) continue;
    const T* acc = buf.slot[3][t];
    for (size_t co = 0; co < g.cOut; ++co)
      for (size_t k = 0; k < g.K; ++k) gw[co * g.K + k] += acc[co * kPad + k];
  }
  gbSums.finish();
}

#define BP_INSTANTIATE(T)                                                                     \
  template void conv2dIm2col<T>(const ExecContext&, const T*, const T*, const T*, T*,         \
                                const ConvGeom&);                                             \
  template void conv2dBackwardInputIm2col<T>(const ExecContext&, const T*, const T*, T*,      \
                                             const ConvGeom&);                                \
  template void conv2dBackwardWeightIm2col<T>(const ExecContext&, const T*, const T*, T*, T*, \
                                              const ConvGeom&);
BP_INSTANTIATE(float)
BP_INSTANTIATE(double)
#undef BP_INSTANTIATE

}  // namespace bp
