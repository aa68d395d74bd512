// The direct convolution path, for stride 1 (the entry points in conv.cc send it every
// stride-1 convolution).
//
// With stride 1, im2col needs no copying at all once the image is zero-padded: on the grid of
// "wide" pixels p' = oy*Wp + ox (Wp = w + 2*padW, ox running over the whole padded width), tap k
// = (c, i, j) of pixel p' is xp[off_k + p'] with off_k = c*Hp*Wp + i*dH*Wp + j*dW, so every row
// of the columns is a contiguous window of the padded image. Wide pixels with ox >= oW are
// computed and dropped (they read across a row end). The backward input pass adds the columns
// of Wᵀ·gy back along the same windows.
//
// The register-tiled loops are written once over GCC vector types of a given width and compiled
// per instruction set (isa_targets.h): AVX-512 and AVX2 variants on x86-64, and a portable one of
// 16-byte vectors (SSE2 on x86-64, NEON on arm64) for the baseline table. The level of the
// table the addon runs picks the variant, once per block of pixels.
#include <algorithm>
#include <cstring>
#include <vector>

#include "conv.h"
#include "conv_common.h"
#include "isa_targets.h"
#include "parallel.h"

namespace bp {
namespace {

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
      std::memcpy(xp + c * plane + (r + g.pH) * Wp + g.pW, x + (c * g.h + r) * g.w,
                  g.w * sizeof(T));
}

// RA x 4 block of dot products of length len (a multiple of the vector length L), kept as
// vectors: out[(i*ldo + j)*L + l] += sum over p = l mod L of a_i[p] * b_j[p]. The lanes are
// summed once per call by the caller, not once per image.
template <typename T, size_t Bytes, int RA>
BP_ALWAYS_INLINE void dotBlock(const T* const* a, const T* const* b, size_t len, T* out,
                               size_t ldo) {
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
BP_ALWAYS_INLINE void weightDots(const T* gyw, size_t ldg, const T* xp, const size_t* offs,
                                 size_t cOut, size_t kPad, size_t len, T* acc) {
  constexpr size_t L = Bytes / sizeof(T);
  for (size_t co = 0; co < cOut; co += RB) {
    const size_t rows = std::min<size_t>(RB, cOut - co);
    const T* a[RB];
    for (size_t i = 0; i < RB; ++i) a[i] = gyw + (co + (i < rows ? i : 0)) * ldg;
    for (size_t k = 0; k < kPad; k += 4) {
      const T* b[4] = {xp + offs[k], xp + offs[k + 1], xp + offs[k + 2], xp + offs[k + 3]};
      T* out = acc + (co * kPad + k) * L;
      switch (rows) {
        case 1:
          dotBlock<T, Bytes, 1>(a, b, len, out, kPad);
          break;
        case 2:
          dotBlock<T, Bytes, (RB >= 2 ? 2 : 1)>(a, b, len, out, kPad);
          break;
        case 3:
          dotBlock<T, Bytes, (RB >= 3 ? 3 : 1)>(a, b, len, out, kPad);
          break;
        default:
          dotBlock<T, Bytes, RB>(a, b, len, out, kPad);
          break;
      }
    }
  }
}

// Direct stride-1 window GEMM: wide[r][p] = sum_k w[(co0 + r)*K + k] * xp[offs[k] + p0 + p] for
// r < R, p < NV*L; R rows of accumulators times NV vectors, B read straight from the padded
// image (no packing).
template <typename T, size_t Bytes, int R, int NV>
BP_ALWAYS_INLINE void windowTile(const T* w, size_t K, const T* xp, const size_t* offs, size_t p0,
                                 T* out, size_t ldo) {
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
BP_ALWAYS_INLINE void windowBlock(const T* w, size_t cOut, size_t K, const T* xp,
                                  const size_t* offs, size_t p0, T* out, size_t ldo) {
  size_t co = 0;
  for (; co + RMAX <= cOut; co += RMAX)
    windowTile<T, Bytes, RMAX, NV>(w + co * K, K, xp, offs, p0, out + co * ldo, ldo);
  const size_t rest = cOut - co;
  const T* wr = w + co * K;
  T* o = out + co * ldo;
  switch (rest) {
    case 0:
      break;
    case 1:
      windowTile<T, Bytes, 1, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
    case 2:
      windowTile<T, Bytes, 2, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
    case 3:
      windowTile<T, Bytes, 3, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
    case 4:
      windowTile<T, Bytes, 4, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
    case 5:
      windowTile<T, Bytes, 5, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
    case 6:
      windowTile<T, Bytes, 6, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
    default:
      windowTile<T, Bytes, 7, NV>(wr, K, xp, offs, p0, o, ldo);
      break;
  }
}

// dst_k[e] += tile[k*nb + e] for every row k of a tile, dst_k = gxp + offs[k] + p0; nb = NV*L.
template <typename T, size_t Bytes, int NV>
BP_ALWAYS_INLINE void addWindows(T* gxp, const size_t* offs, size_t rows, size_t p0,
                                 const T* tile) {
  constexpr size_t L = Bytes / sizeof(T);
  for (size_t k = 0; k < rows; ++k) {
    T* dst = gxp + offs[k] + p0;
    const T* src = tile + k * NV * L;
    for (int v = 0; v < NV; ++v)
      storeVec<T, Bytes>(dst + v * L,
                         loadVec<T, Bytes>(dst + v * L) + loadVec<T, Bytes>(src + v * L));
  }
}

#ifdef BP_HAS_X86_VARIANTS
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

BP_TARGET_AVX512 void addWindowsAvx512(float* g, const size_t* o, size_t rows, size_t p0,
                                       const float* t) {
  addWindows<float, 64, 3>(g, o, rows, p0, t);
}
BP_TARGET_AVX512 void addWindowsAvx512(double* g, const size_t* o, size_t rows, size_t p0,
                                       const double* t) {
  addWindows<double, 64, 3>(g, o, rows, p0, t);
}
BP_TARGET_AVX2 void addWindowsAvx2(float* g, const size_t* o, size_t rows, size_t p0,
                                   const float* t) {
  addWindows<float, 32, 3>(g, o, rows, p0, t);
}
BP_TARGET_AVX2 void addWindowsAvx2(double* g, const size_t* o, size_t rows, size_t p0,
                                   const double* t) {
  addWindows<double, 32, 3>(g, o, rows, p0, t);
}
#endif

// The vector width (bytes) of the variant run under a table of this level.
inline size_t vectorBytes(IsaLevel level) {
#ifdef BP_HAS_X86_VARIANTS
  if (level == IsaLevel::kAvx512) return 64;
  if (level == IsaLevel::kAvx2) return 32;
#endif
  (void)level;
  return 16;
}

// Wide pixels per windowBlock call under a vector width: NV = 3 vectors.
inline size_t windowPixels(size_t bytes, size_t elem) { return 3 * bytes / elem; }

template <typename T>
void windowBlockDispatch(IsaLevel level, const T* w, size_t c, size_t K, const T* x,
                         const size_t* o, size_t p0, T* out, size_t ldo) {
#ifdef BP_HAS_X86_VARIANTS
  if (level == IsaLevel::kAvx512) return windowBlockAvx512(w, c, K, x, o, p0, out, ldo);
  if (level == IsaLevel::kAvx2) return windowBlockAvx2(w, c, K, x, o, p0, out, ldo);
#endif
  (void)level;
  windowBlock<T, 16, 4, 3>(w, c, K, x, o, p0, out, ldo);
}

template <typename T>
void addWindowsDispatch(IsaLevel level, T* gxp, const size_t* offs, size_t rows, size_t p0,
                        const T* tile) {
#ifdef BP_HAS_X86_VARIANTS
  if (level == IsaLevel::kAvx512) return addWindowsAvx512(gxp, offs, rows, p0, tile);
  if (level == IsaLevel::kAvx2) return addWindowsAvx2(gxp, offs, rows, p0, tile);
#endif
  (void)level;
  addWindows<T, 16, 3>(gxp, offs, rows, p0, tile);
}

template <typename T>
void weightDotsDispatch(IsaLevel level, const T* g, size_t ld, const T* x, const size_t* o,
                        size_t c, size_t k, size_t n, T* acc) {
#ifdef BP_HAS_X86_VARIANTS
  if (level == IsaLevel::kAvx512) return weightDotsAvx512(g, ld, x, o, c, k, n, acc);
  if (level == IsaLevel::kAvx2) return weightDotsAvx2(g, ld, x, o, c, k, n, acc);
#endif
  (void)level;
  weightDots<T, 16, 2>(g, ld, x, o, c, k, n, acc);
}

}  // namespace

// Forward, stride 1: y = conv(x, w) + bias, by windowBlock over blocks of wide pixels.
template <typename T>
void conv2dDirect(const ExecContext& ctx, const T* x, const T* wt, const T* bias, T* y,
                  const ConvGeom& g) {
  const IsaLevel level = ctx.simd->level;
  const size_t bytes = vectorBytes(level);
  const size_t nb = windowPixels(bytes, sizeof(T));
  const size_t Hp = g.h + 2 * g.pH, Wp = g.w + 2 * g.pW;
  const size_t Pw = g.oH * Wp;  // wide pixels
  const size_t blocks = ceilDiv(Pw, nb);
  const size_t maxOff = (g.cIn - 1) * Hp * Wp + (g.kH - 1) * g.dH * Wp + (g.kW - 1) * g.dW;
  const size_t xpSize = std::max(g.cIn * Hp * Wp, maxOff + blocks * nb);
  size_t* offs = ctx.ws->get<size_t>(1, g.K);
  for (size_t c = 0, k = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++k) offs[k] = c * Hp * Wp + i * g.dH * Wp + j * g.dW;
  auto buf = threadBuffers<T>(ctx, 3, {xpSize, g.cOut * nb});
  parallelFor(*ctx.pool, g.n, g.K * Pw * (g.cOut + 1), [&](size_t img, size_t t) {
    T* xp = buf.slot[0][t];
    T* tile = buf.slot[1][t];
    padImage(x + img * g.X, g, Hp, Wp, xpSize - g.cIn * Hp * Wp, xp);
    T* yi = y + img * g.cOut * g.P;
    for (size_t blk = 0; blk < blocks; ++blk) {
      const size_t p0 = blk * nb;
      windowBlockDispatch<T>(level, wt, g.cOut, g.K, xp, offs, p0, tile, nb);
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
void conv2dBackwardInputDirect(const ExecContext& ctx, const T* gy, const T* wt, T* gx,
                               const ConvGeom& g) {
  const IsaLevel level = ctx.simd->level;
  const size_t bytes = vectorBytes(level);
  const size_t nb = windowPixels(bytes, sizeof(T));
  const size_t Hp = g.h + 2 * g.pH, Wp = g.w + 2 * g.pW;
  const size_t Q = g.oH * Wp;
  const size_t blocks = ceilDiv(Q, nb), len = blocks * nb;
  const size_t maxOff = (g.cIn - 1) * Hp * Wp + (g.kH - 1) * g.dH * Wp + (g.kW - 1) * g.dW;
  const size_t gxpSize = std::max(g.cIn * Hp * Wp, maxOff + len);
  // Wᵀ (K x cOut) and the offsets of the rows of gy in its wide layout (the "taps" of the GEMM).
  T* wtT = ctx.ws->get<T>(0, g.K * g.cOut);
  for (size_t co = 0; co < g.cOut; ++co)
    for (size_t k = 0; k < g.K; ++k) wtT[k * g.cOut + co] = wt[co * g.K + k];
  size_t* rowOffs = ctx.ws->get<size_t>(1, g.cOut);
  for (size_t co = 0; co < g.cOut; ++co) rowOffs[co] = co * len;
  size_t* offs = ctx.ws->get<size_t>(2, g.K);
  for (size_t c = 0, k = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++k) offs[k] = c * Hp * Wp + i * g.dH * Wp + j * g.dW;
  auto buf = threadBuffers<T>(ctx, 3, {g.cOut * len, gxpSize, g.K * nb});
  parallelFor(*ctx.pool, g.n, g.K * Q * (g.cOut + 1), [&](size_t img, size_t t) {
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
      windowBlockDispatch<T>(level, wtT, g.K, g.cOut, gyw, rowOffs, p0, tile, nb);
      addWindowsDispatch<T>(level, gxp, offs, g.K, p0, tile);
    }
    T* gxi = gx + img * g.X;
    for (size_t c = 0; c < g.cIn; ++c)
      for (size_t r = 0; r < g.h; ++r)
        std::memcpy(gxi + (c * g.h + r) * g.w, gxp + c * Hp * Wp + (r + g.pH) * Wp + g.pW,
                    g.w * sizeof(T));
  });
}

// Weight (and bias) gradient, stride 1: gw[co, k] = sum over images and wide pixels of
// gy_wide[co, p'] * xp[off_k + p'], gy_wide being gy spread on the wide grid with zeros at ox >=
// oW.
template <typename T>
void conv2dBackwardWeightDirect(const ExecContext& ctx, const T* x, const T* gy, T* gw, T* gb,
                                const ConvGeom& g) {
  std::fill(gw, gw + g.cOut * g.K, T(0));  // the lanes of each thread are added into it
  const IsaLevel level = ctx.simd->level;
  const size_t bytes = vectorBytes(level);
  const size_t L = bytes / sizeof(T);
  const size_t Hp = g.h + 2 * g.pH, Wp = g.w + 2 * g.pW;
  const size_t len = ceilDiv(g.oH * Wp, L) * L;
  const size_t kPad = ceilDiv(g.K, 4) * 4;
  const size_t maxOff = (g.cIn - 1) * Hp * Wp + (g.kH - 1) * g.dH * Wp + (g.kW - 1) * g.dW;
  const size_t xpSize = std::max(g.cIn * Hp * Wp, maxOff + len);
  size_t* offs = ctx.ws->get<size_t>(0, kPad);
  for (size_t c = 0, k = 0; c < g.cIn; ++c)
    for (size_t i = 0; i < g.kH; ++i)
      for (size_t j = 0; j < g.kW; ++j, ++k) offs[k] = c * Hp * Wp + i * g.dH * Wp + j * g.dW;
  for (size_t k = g.K; k < kPad; ++k) offs[k] = 0;  // padding taps: computed, then dropped
  auto buf = threadBuffers<T>(ctx, 1, {xpSize, g.cOut * len, g.cOut * kPad * L});
  const size_t threads = buf.slot[0].size();
  for (size_t t = 0; t < threads; ++t)
    std::fill(buf.slot[2][t], buf.slot[2][t] + g.cOut * kPad * L, T(0));
  BiasGradSums<T> gbSums(gb, threads, g.cOut);
  std::vector<char> used(threads, 0);
  // Accumulators per part (not per thread): the sums do not depend on scheduling.
  parallelForParts(*ctx.pool, g.n, g.K * len * g.cOut, [&](size_t img, size_t part, size_t t) {
    used[part] = 1;
    T* xp = buf.slot[0][t];
    T* gyw = buf.slot[1][t];
    padImage(x + img * g.X, g, Hp, Wp, xpSize - g.cIn * Hp * Wp, xp);
    const T* gyi = gy + img * g.cOut * g.P;
    std::fill(gyw, gyw + g.cOut * len, T(0));
    for (size_t co = 0; co < g.cOut; ++co)
      for (size_t oy = 0; oy < g.oH; ++oy)
        std::memcpy(gyw + co * len + oy * Wp, gyi + co * g.P + oy * g.oW, g.oW * sizeof(T));
    weightDotsDispatch<T>(level, gyw, len, xp, offs, g.cOut, kPad, len, buf.slot[2][part]);
    gbSums.add(part, gyi, g.P);
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

#define BP_INSTANTIATE(T)                                                                     \
  template void conv2dDirect<T>(const ExecContext&, const T*, const T*, const T*, T*,         \
                                const ConvGeom&);                                             \
  template void conv2dBackwardInputDirect<T>(const ExecContext&, const T*, const T*, T*,      \
                                             const ConvGeom&);                                \
  template void conv2dBackwardWeightDirect<T>(const ExecContext&, const T*, const T*, T*, T*, \
                                              const ConvGeom&);
BP_INSTANTIATE(float)
BP_INSTANTIATE(double)
#undef BP_INSTANTIATE

}  // namespace bp
