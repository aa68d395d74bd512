// Sparse convolution kernels (native/sparse.h) against a naive reference written here from the
// definition (a dense convolution with the pattern's zeros, summed in double over the nonzeros):
// forward with and without bias, input gradient and value gradient; both layouts and the
// chooser; every SIMD level, 1 and 2 threads, both dtypes. Patterns at densities 0, 1%, 10%,
// 50% and 100% with empty rows and columns; geometries with stride, padding, dilation, odd
// sizes, linear layers (1x1 on a 1x1 input) and batches that straddle the vector widths.
#include "sparse.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

struct Shape {
  size_t n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      // n cIn  h   w cOut kH kW sH sW pH pW dH dW
      {3, 5, 9, 11, 7, 3, 3, 1, 1, 1, 1, 1, 1},
      {2, 3, 10, 13, 4, 3, 2, 2, 3, 2, 1, 1, 2},
      {17, 4, 5, 6, 6, 2, 3, 1, 2, 0, 2, 2, 1},
      {1, 2, 7, 40, 3, 1, 5, 1, 1, 0, 0, 1, 3},
      {33, 37, 1, 1, 23, 1, 1, 1, 1, 0, 0, 1, 1},  // a linear layer, batch past 2 vectors
      {5, 64, 1, 1, 9, 1, 1, 1, 1, 0, 0, 1, 1},
      {2, 3, 6, 6, 4, 3, 3, 1, 1, 4, 4, 1, 1},  // padding wider than the kernel
      {1, 2, 1, 1, 3, 1, 1, 3, 3, 1, 1, 1, 1},  // 1x1 input, the only output in the padding
  };
  return all;
}

struct Pattern {
  std::vector<int32_t> rowPtr, colIdx;
};

// round(density * rows * cols) nonzeros at random places, none in the last row or first column.
Pattern randomPattern(Rng& rng, size_t rows, size_t cols, double density) {
  std::vector<size_t> allowed;
  for (size_t r = 0; r + 1 < rows; ++r)
    for (size_t c = 1; c < cols; ++c) allowed.push_back(r * cols + c);
  const size_t keep =
      std::min(allowed.size(), static_cast<size_t>(std::lround(density * double(rows * cols))));
  for (size_t i = 0; i < keep; ++i)
    std::swap(allowed[i], allowed[i + rng.below(allowed.size() - i)]);
  std::vector<char> on(rows * cols, 0);
  for (size_t i = 0; i < keep; ++i) on[allowed[i]] = 1;
  Pattern p;
  p.rowPtr.push_back(0);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c)
      if (on[r * cols + c]) p.colIdx.push_back(static_cast<int32_t>(c));
    p.rowPtr.push_back(static_cast<int32_t>(p.colIdx.size()));
  }
  return p;
}

struct Ref {
  explicit Ref(size_t n) : value(n), magnitude(n) {}
  Buf<double> value, magnitude;
  void add(size_t i, double t) {
    value[i] += t;
    magnitude[i] += std::fabs(t);
  }
};

template <typename T>
constexpr Tol tol();
template <>
constexpr Tol tol<float>() {
  return {5e-5, 0};
}
template <>
constexpr Tol tol<double>() {
  return {1e-12, 0};
}

// visit(k, xi, yi) for every nonzero k and every input/output element pair it joins.
template <typename F>
void forEachProduct(const bp::ConvGeom& g, const Pattern& p, F&& visit) {
  for (size_t oc = 0; oc < g.cOut; ++oc)
    for (size_t k = size_t(p.rowPtr[oc]); k < size_t(p.rowPtr[oc + 1]); ++k) {
      const size_t c = size_t(p.colIdx[k]), ic = c / (g.kH * g.kW), kh = c / g.kW % g.kH,
                   kw = c % g.kW;
      for (size_t n = 0; n < g.n; ++n)
        for (size_t oh = 0; oh < g.oH; ++oh) {
          const long ih = long(oh * g.sH + kh * g.dH) - long(g.pH);
          if (ih < 0 || ih >= long(g.h)) continue;
          for (size_t ow = 0; ow < g.oW; ++ow) {
            const long iw = long(ow * g.sW + kw * g.dW) - long(g.pW);
            if (iw < 0 || iw >= long(g.w)) continue;
            visit(k, ((n * g.cIn + ic) * g.h + size_t(ih)) * g.w + size_t(iw),
                  ((n * g.cOut + oc) * g.oH + oh) * g.oW + ow);
          }
        }
    }
}

template <typename T>
void checkOne(const bp::ExecContext& ctx, const Shape& s, double density, Rng& rng) {
  const bp::ConvGeom g =
      bp::convGeom(s.n, s.cIn, s.h, s.w, s.cOut, s.kH, s.kW, s.sH, s.sW, s.pH, s.pW, s.dH, s.dW);
  const Pattern pat = randomPattern(rng, s.cOut, s.cIn * s.kH * s.kW, density);
  const bp::SparsePattern sp{pat.rowPtr.data(), pat.colIdx.data(), pat.colIdx.size()};
  const size_t nnz = pat.colIdx.size(), xs = g.n * g.X, ys = g.n * g.cOut * g.P;
  const Buf<T> x = normalBuf<T>(rng, xs), gy = normalBuf<T>(rng, ys), v = normalBuf<T>(rng, nnz),
               bias = normalBuf<T>(rng, s.cOut);
  Ref y(ys), gx(xs), gv(nnz);
  for (size_t i = 0; i < ys; ++i) y.add(i, double(bias[i / g.P % s.cOut]));
  forEachProduct(g, pat, [&](size_t k, size_t xi, size_t yi) {
    y.add(yi, double(v[k]) * double(x[xi]));
    gx.add(xi, double(v[k]) * double(gy[yi]));
    gv.add(k, double(x[xi]) * double(gy[yi]));
  });
  for (bp::SparseLayout layout :
       {bp::SparseLayout::kAuto, bp::SparseLayout::kBatch, bp::SparseLayout::kWidth}) {
    Context c(str("layout ", int(layout)));
    Buf<T> out(ys, std::numeric_limits<T>::quiet_NaN()),
        gin(xs, std::numeric_limits<T>::quiet_NaN()),
        gval(nnz, std::numeric_limits<T>::quiet_NaN());
    bp::sparseConv2d(ctx, x.data(), v.data(), sp, bias.data(), out.data(), g, layout);
    BP_CHECK_CLOSE("y", out.data(), y.value.data(), ys, tol<T>(), y.magnitude.data());
    bp::sparseConv2dBackwardInput(ctx, gy.data(), v.data(), sp, gin.data(), g, layout);
    BP_CHECK_CLOSE("gx", gin.data(), gx.value.data(), xs, tol<T>(), gx.magnitude.data());
    bp::sparseConv2dBackwardValues(ctx, x.data(), gy.data(), sp, gval.data(), g, layout);
    BP_CHECK_CLOSE("gv", gval.data(), gv.value.data(), nnz, tol<T>(), gv.magnitude.data());
    // without bias: the same sums
    Buf<T> out2(ys);
    bp::sparseConv2d<T>(ctx, x.data(), v.data(), sp, nullptr, out2.data(), g, layout);
    for (size_t i = 0; i < ys; ++i) out2[i] += bias[i / g.P % s.cOut];
    BP_CHECK_CLOSE("y without bias", out2.data(), y.value.data(), ys, tol<T>(), y.magnitude.data());
  }
}

BP_TEST(sparseConvEqualsTheDenseDefinition) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(7);
    for (const Shape& s : shapes())
      for (double density : {0.0, 0.01, 0.1, 0.5, 1.0}) {
        Context c(str("n=", s.n, " cIn=", s.cIn, " ", s.h, "x", s.w, " cOut=", s.cOut, " k=", s.kH,
                      "x", s.kW, " stride=", s.sH, "x", s.sW, " pad=", s.pH, "x", s.pW,
                      " dilation=", s.dH, "x", s.dW, " density=", density));
        checkOne<T>(ctx, s, density, rng);
      }
  });
}

BP_TEST(chooserPicksTheBatchLayoutForLinearLayersAndLargeBatches) {
  BP_CHECK(bp::chooseSparseLayout(bp::convGeom(8, 4, 1, 1, 3, 1, 1, 1, 1, 0, 0, 1, 1)) ==
           bp::SparseLayout::kBatch);
  BP_CHECK(bp::chooseSparseLayout(bp::convGeom(64, 4, 8, 8, 3, 3, 3, 1, 1, 1, 1, 1, 1)) ==
           bp::SparseLayout::kBatch);
  BP_CHECK(bp::chooseSparseLayout(bp::convGeom(32, 4, 32, 32, 3, 3, 3, 1, 1, 1, 1, 1, 1)) ==
           bp::SparseLayout::kWidth);
}

}  // namespace
