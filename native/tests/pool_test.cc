// Pooling kernels (native/pool.h) against naive references written here from the definitions:
// max pooling (value and index of the first maximum of each window, padding never chosen, NaN
// wins and a later NaN replaces an earlier one), its backward (a scatter-add through the
// indices), average pooling (padding counted in the divisor) and its adjoint; on every SIMD level
// this CPU runs, 1 and 2 threads, both dtypes. Geometries include the vectorised 2x2/2 window on
// even and odd planes (with and without NaN), overlapping and padded windows, and 1x1 kernels.
#include "pool.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

struct Shape {
  size_t planes, h, w, kH, kW, sH, sW, pH, pW;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      // planes h   w kH kW sH sW pH pW
      {3, 8, 8, 2, 2, 2, 2, 0, 0},
      {5, 7, 9, 2, 2, 2, 2, 0, 0},      // odd: the last row and column
                                        // belong to no window
      {384, 28, 28, 2, 2, 2, 2, 0, 0},  // LeNet's first pooling, enough work for 2 threads
      {2, 2, 2, 2, 2, 2, 2, 0, 0},
      {4, 7, 6, 3, 3, 2, 2, 1, 1},
      {3, 5, 8, 3, 2, 1, 2, 1, 0},
      {2, 6, 5, 1, 1, 1, 1, 0, 0},
      {2, 9, 7, 4, 3, 3, 2, 2, 1},
      {1, 1, 1, 1, 1, 1, 1, 0, 0},
      {3, 4, 4, 2, 2, 1, 1, 1, 1},  // overlapping windows, padding on every side
      {0, 4, 4, 2, 2, 2, 2, 0, 0},
  };
  return all;
}

std::string describe(const Shape& s) {
  return str("planes=", s.planes, " ", s.h, "x", s.w, " k=", s.kH, "x", s.kW, " stride=", s.sH, "x",
             s.sW, " pad=", s.pH, "x", s.pW);
}

size_t outputSize(size_t in, size_t k, size_t stride, size_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}

// The input positions of window (oy, ox) that lie inside the plane, row by row: visit(row*w + col).
template <typename F>
void forEachInWindow(const Shape& s, size_t oy, size_t ox, F&& visit) {
  for (size_t ky = 0; ky < s.kH; ++ky) {
    const long long y = static_cast<long long>(oy * s.sH + ky) - static_cast<long long>(s.pH);
    if (y < 0 || y >= static_cast<long long>(s.h)) continue;
    for (size_t kx = 0; kx < s.kW; ++kx) {
      const long long x = static_cast<long long>(ox * s.sW + kx) - static_cast<long long>(s.pW);
      if (x < 0 || x >= static_cast<long long>(s.w)) continue;
      visit(static_cast<size_t>(y) * s.w + static_cast<size_t>(x));
    }
  }
}

template <typename T>
struct Problem {
  Problem(const Shape& s, Rng& rng, double nanRate)
      : shape(s),
        g(bp::poolGeom(s.planes, s.h, s.w, s.kH, s.kW, s.sH, s.sW, s.pH, s.pW)),
        oH(outputSize(s.h, s.kH, s.sH, s.pH)),
        oW(outputSize(s.w, s.kW, s.sW, s.pW)),
        x(s.planes * s.h * s.w),
        gy(uniformBuf<T>(rng, s.planes * oH * oW, -1, 1)) {
    // Few distinct values, so that windows hold ties (the first maximum must win).
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = rng.uniform() < nanRate ? std::numeric_limits<T>::quiet_NaN()
                                     : static_cast<T>(static_cast<int>(rng.below(9)) - 4) / T(2);
  }
  Shape shape;
  bp::PoolGeom g;
  size_t oH, oW;
  Buf<T> x, gy;
};

template <typename T>
void maxPool(const bp::ExecContext& ctx, const Problem<T>& p) {
  const Shape& s = p.shape;
  const size_t hw = s.h * s.w, outs = p.oH * p.oW;
  Buf<double> yRef(s.planes * outs);
  Buf<int32_t> iRef(s.planes * outs);
  for (size_t pl = 0; pl < s.planes; ++pl)
    for (size_t oy = 0; oy < p.oH; ++oy)
      for (size_t ox = 0; ox < p.oW; ++ox) {
        bool any = false;
        double best = 0;
        size_t at = 0;
        forEachInWindow(s, oy, ox, [&](size_t i) {
          const double v = p.x[pl * hw + i];
          if (!any || v > best || std::isnan(v)) {
            best = v;
            at = i;
          }
          any = true;
        });
        yRef[pl * outs + oy * p.oW + ox] = best;
        iRef[pl * outs + oy * p.oW + ox] = static_cast<int32_t>(at);
      }
  Buf<T> y(yRef.size(), T(-99));
  Buf<int32_t> idx(iRef.size(), -1);
  bp::maxPool2d(ctx, p.x.data(), y.data(), idx.data(), p.g);
  BP_CHECK_CLOSE("y", y.data(), yRef.data(), y.size(), kExact);
  BP_CHECK_EQUAL_INTS("indices", idx.data(), iRef.data(), idx.size());
}

// The backward of max pooling for any valid indices (repeats included): gx = 0, then
// gx[plane, indices[j]] += gy[j].
template <typename T>
void maxPoolBackward(const bp::ExecContext& ctx, const Problem<T>& p, Rng& rng) {
  const Shape& s = p.shape;
  const size_t hw = s.h * s.w, outs = p.oH * p.oW;
  Buf<int32_t> idx(s.planes * outs);
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>(rng.below(hw));
  Buf<double> ref(s.planes * hw), magnitude(s.planes * hw);
  for (size_t pl = 0; pl < s.planes; ++pl)
    for (size_t j = 0; j < outs; ++j) {
      ref[pl * hw + static_cast<size_t>(idx[pl * outs + j])] += p.gy[pl * outs + j];
      magnitude[pl * hw + static_cast<size_t>(idx[pl * outs + j])] +=
          std::fabs(static_cast<double>(p.gy[pl * outs + j]));
    }
  Buf<T> gx(s.planes * hw, std::numeric_limits<T>::quiet_NaN());
  bp::maxPool2dBackward(ctx, p.gy.data(), idx.data(), gx.data(), p.g);
  BP_CHECK_CLOSE("gx", gx.data(), ref.data(), gx.size(), Tol{16 * epsOf<T>(), 0}, magnitude.data());
}

template <typename T>
void avgPool(const bp::ExecContext& ctx, const Problem<T>& p) {
  const Shape& s = p.shape;
  const size_t hw = s.h * s.w, outs = p.oH * p.oW;
  const double area = static_cast<double>(s.kH * s.kW);
  Buf<double> yRef(s.planes * outs), yMag(s.planes * outs);
  Buf<double> gxRef(s.planes * hw), gxMag(s.planes * hw);
  for (size_t pl = 0; pl < s.planes; ++pl)
    for (size_t oy = 0; oy < p.oH; ++oy)
      for (size_t ox = 0; ox < p.oW; ++ox) {
        const size_t o = pl * outs + oy * p.oW + ox;
        forEachInWindow(s, oy, ox, [&](size_t i) {
          yRef[o] += p.x[pl * hw + i] / area;
          yMag[o] += std::fabs(static_cast<double>(p.x[pl * hw + i])) / area;
          gxRef[pl * hw + i] += p.gy[o] / area;
          gxMag[pl * hw + i] += std::fabs(static_cast<double>(p.gy[o])) / area;
        });
      }
  const Tol tol{8 * epsOf<T>(), 0};
  Buf<T> y(yRef.size(), std::numeric_limits<T>::quiet_NaN());
  bp::avgPool2d(ctx, p.x.data(), y.data(), p.g);
  BP_CHECK_CLOSE("y", y.data(), yRef.data(), y.size(), tol, yMag.data());
  Buf<T> gx(gxRef.size(), std::numeric_limits<T>::quiet_NaN());
  bp::avgPool2dBackward(ctx, p.gy.data(), gx.data(), p.g);
  BP_CHECK_CLOSE("gx", gx.data(), gxRef.data(), gx.size(), tol, gxMag.data());
}

BP_TEST(geometryMatchesTheDefinition) {
  for (const Shape& s : shapes()) {
    Context c(describe(s));
    const bp::PoolGeom g = bp::poolGeom(s.planes, s.h, s.w, s.kH, s.kW, s.sH, s.sW, s.pH, s.pW);
    BP_CHECK_EQ(g.oH, outputSize(s.h, s.kH, s.sH, s.pH));
    BP_CHECK_EQ(g.oW, outputSize(s.w, s.kW, s.sW, s.pW));
    BP_CHECK_EQ(g.HW, s.h * s.w);
    BP_CHECK_EQ(g.O, g.oH * g.oW);
  }
}

BP_TEST(maxPoolValuesAndFirstIndices) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(301);
    for (const Shape& s : shapes())
      for (double nanRate : {0.0, 0.05}) {
        Context c(str(describe(s), " NaN rate ", nanRate));
        maxPool(ctx, Problem<T>(s, rng, nanRate));
      }
  });
}

// NaN placed by hand in 2x2/2 windows: first, last, two of them (the later one wins), and a
// plane without NaN next to one with (the vectorised path runs per plane).
BP_TEST(maxPoolNaNRule) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    const T nan = std::numeric_limits<T>::quiet_NaN();
    const Shape s{2, 2, 8, 2, 2, 2, 2, 0, 0};
    Rng rng(302);
    Problem<T> p(s, rng, 0);
    for (size_t i = 0; i < p.x.size(); ++i) p.x[i] = static_cast<T>(i % 5);
    p.x[0] = nan;      // window 0: first element
    p.x[8 + 3] = nan;  // window 1: last element
    p.x[4] = nan;      // window 2: both rows hold a NaN, the later one wins
    p.x[8 + 5] = nan;
    maxPool(ctx, p);
    Buf<T> y(s.planes * 4);
    Buf<int32_t> idx(s.planes * 4);
    bp::maxPool2d(ctx, p.x.data(), y.data(), idx.data(), p.g);
    BP_CHECK_EQ(idx[0], 0);
    BP_CHECK_EQ(idx[1], 8 + 3);
    BP_CHECK_EQ(idx[2], 8 + 5);
    BP_CHECK(std::isnan(y[0]) && std::isnan(y[1]) && std::isnan(y[2]) && !std::isnan(y[3]));
    for (size_t j = 4; j < 8; ++j) BP_CHECK(!std::isnan(y[j]));
  });
}

BP_TEST(maxPoolBackwardScattersThroughIndices) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(303);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      maxPoolBackward(ctx, Problem<T>(s, rng, 0), rng);
    }
  });
}

BP_TEST(avgPoolAndItsAdjoint) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(304);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      avgPool(ctx, Problem<T>(s, rng, 0));
    }
  });
}

}  // namespace
