// Max and average pooling (see pool.h). The common 2x2/2 max pool runs a branch-free loop the
// compiler vectorises, compiled for AVX2 where the table's level allows (AVX2 even under
// AVX-512, whose 512-bit deinterleaving is slower here).
#include "pool.h"

#include <algorithm>
#include <limits>

#include "isa_targets.h"
#include "parallel.h"

namespace bp {
namespace {

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
BP_ALWAYS_INLINE bool maxPool2x2Plain(const T* __restrict xp, T* __restrict yp,
                                      int32_t* __restrict ip, size_t h, size_t w, size_t oH,
                                      size_t oW) {
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

#ifdef BP_HAS_X86_VARIANTS
BP_TARGET_AVX2 bool maxPool2x2Avx2(const float* x, float* y, int32_t* i, size_t h, size_t w,
                                   size_t oH, size_t oW) {
  return maxPool2x2Plain(x, y, i, h, w, oH, oW);
}
BP_TARGET_AVX2 bool maxPool2x2Avx2(const double* x, double* y, int32_t* i, size_t h, size_t w,
                                   size_t oH, size_t oW) {
  return maxPool2x2Plain(x, y, i, h, w, oH, oW);
}
#endif

template <typename T>
bool maxPool2x2Dispatch(IsaLevel level, const T* x, T* y, int32_t* i, size_t h, size_t w, size_t oH,
                        size_t oW) {
#ifdef BP_HAS_X86_VARIANTS
  if (level >= IsaLevel::kAvx2) return maxPool2x2Avx2(x, y, i, h, w, oH, oW);
#endif
  (void)level;
  return maxPool2x2Plain(x, y, i, h, w, oH, oW);
}

}  // namespace

PoolGeom poolGeom(size_t planes, size_t h, size_t w, size_t kH, size_t kW, size_t sH, size_t sW,
                  size_t pH, size_t pW) {
  PoolGeom g{planes, h, w, kH, kW, sH, sW, pH, pW, 0, 0, 0, 0};
  g.oH = (h + 2 * pH - kH) / sH + 1;
  g.oW = (w + 2 * pW - kW) / sW + 1;
  g.HW = h * w;
  g.O = g.oH * g.oW;
  return g;
}

template <typename T>
void maxPool2d(const ExecContext& ctx, const T* x, T* y, int32_t* idx, const PoolGeom& g) {
  const bool k2s2 = g.kH == 2 && g.kW == 2 && g.sH == 2 && g.sW == 2 && g.pH == 0 && g.pW == 0;
  const IsaLevel level = ctx.simd->level;
  parallelFor(*ctx.pool, g.planes, g.HW, [&](size_t pl, size_t) {
    const T* xp = x + pl * g.HW;
    T* yp = y + pl * g.O;
    int32_t* ip = idx + pl * g.O;
    // The common 2x2/2 window: vectorized, redone by the general loop if the plane has a NaN.
    if (k2s2 && !maxPool2x2Dispatch(level, xp, yp, ip, g.h, g.w, g.oH, g.oW)) return;
    forEachWindow(g, [&](size_t o, size_t y0, size_t y1, size_t x0, size_t x1) {
      // The binding refuses empty planes; a window wholly in padding must still not read.
      if (y0 >= y1 || x0 >= x1) {
        yp[o] = std::numeric_limits<T>::quiet_NaN();
        ip[o] = 0;
        return;
      }
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
void maxPool2dBackward(const ExecContext& ctx, const T* gy, const int32_t* idx, T* gx,
                       const PoolGeom& g) {
  parallelFor(*ctx.pool, g.planes, g.HW, [&](size_t pl, size_t) {
    T* gp = gx + pl * g.HW;
    std::fill(gp, gp + g.HW, T(0));
    const T* gyp = gy + pl * g.O;
    const int32_t* ip = idx + pl * g.O;
    for (size_t o = 0; o < g.O; ++o) gp[ip[o]] += gyp[o];
  });
}

template <typename T>
void avgPool2d(const ExecContext& ctx, const T* x, T* y, const PoolGeom& g) {
  const T inv = T(1) / static_cast<T>(g.kH * g.kW);
  parallelFor(*ctx.pool, g.planes, g.HW, [&](size_t pl, size_t) {
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
void avgPool2dBackward(const ExecContext& ctx, const T* gy, T* gx, const PoolGeom& g) {
  const T inv = T(1) / static_cast<T>(g.kH * g.kW);
  parallelFor(*ctx.pool, g.planes, g.HW, [&](size_t pl, size_t) {
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

#define BP_INSTANTIATE(T)                                                                  \
  template void maxPool2d<T>(const ExecContext&, const T*, T*, int32_t*, const PoolGeom&); \
  template void maxPool2dBackward<T>(const ExecContext&, const T*, const int32_t*, T*,     \
                                     const PoolGeom&);                                     \
  template void avgPool2d<T>(const ExecContext&, const T*, T*, const PoolGeom&);           \
  template void avgPool2dBackward<T>(const ExecContext&, const T*, T*, const PoolGeom&);
BP_INSTANTIATE(float)
BP_INSTANTIATE(double)
#undef BP_INSTANTIATE

}  // namespace bp
