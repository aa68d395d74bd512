// Reductions over [outer, n, inner] (sum, mean, max, min) on every SIMD level, and
// maxWithIndex (max / argmax, kernels_common.cc), against naive loops.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels_common.h"
#include "test_support.h"

namespace {

using namespace bpt;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Geometry {
  size_t outer, n, inner;
};

// Contiguous rows (inner = 1) of every size, strided columns on both sides of the kernel's
// 512-column block, and empty extents.
std::vector<Geometry> reduceGeometries() {
  std::vector<Geometry> g;
  for (size_t n : kSizes) g.push_back({3, n, 1});
  for (size_t inner : {2, 3, 17, 511, 512, 513, 1000})
    for (size_t n : {1, 2, 7, 33}) g.push_back({2, n, inner});
  g.push_back({1, 1000, 3});
  g.push_back({0, 5, 4});
  g.push_back({4, 5, 0});
  return g;
}

const char* reduceName(int op) {
  switch (op) {
    case bp::kSum:
      return "sum";
    case bp::kMean:
      return "mean";
    case bp::kMax:
      return "max";
    case bp::kMin:
      return "min";
    default:
      return "unknown";
  }
}

template <typename T>
void reduceEveryOp(const bp::Kernels<T>& k) {
  Rng rng(301);
  for (int op = 0; op < bp::kReduceCount; ++op) {
    const bool isSum = op == bp::kSum || op == bp::kMean;
    if (!isSum && op != bp::kMax && op != bp::kMin) {
      fail(__FILE__, __LINE__, str("reduce op code ", op, " has no reference in reduce_test.cc"));
      continue;
    }
    for (const Geometry& g : reduceGeometries()) {
      if (!isSum && g.n == 0) continue;  // max/min of nothing is rejected before the kernel
      for (bool withNaN : {false, true}) {
        Context c(str(reduceName(op), " [", g.outer, ", ", g.n, ", ", g.inner, "]",
                      withNaN ? " with NaN" : ""));
        Buf<T> x = normalBuf<T>(rng, g.outer * g.n * g.inner, 2.0);
        // Offsets make sums that cancel, ties make max/min pick between equal values.
        for (size_t i = 0; i < x.size(); i += 5) x[i] = static_cast<T>(x[i] + (i % 3 ? 100 : -100));
        if (withNaN && x.size() > 0) x[(x.size() * 2) / 3] = static_cast<T>(kNaN);
        Buf<double> ref(g.outer * g.inner), scale(g.outer * g.inner);
        for (size_t o = 0; o < g.outer; ++o)
          for (size_t i = 0; i < g.inner; ++i) {
            double acc = isSum ? 0.0 : static_cast<double>(x[o * g.n * g.inner + i]);
            double magnitude = 0;
            bool sawNaN = false;
            for (size_t j = 0; j < g.n; ++j) {
              const double v = x[(o * g.n + j) * g.inner + i];
              sawNaN = sawNaN || std::isnan(v);
              magnitude += std::fabs(v);
              if (isSum)
                acc += v;
              else if (op == bp::kMax)
                acc = v > acc ? v : acc;
              else
                acc = v < acc ? v : acc;
            }
            if (op == bp::kMean) {
              acc /= static_cast<double>(g.n);
              magnitude /= static_cast<double>(g.n);
            }
            ref[o * g.inner + i] = sawNaN ? kNaN : acc;  // NaN anywhere gives NaN, as in torch
            scale[o * g.inner + i] = magnitude;
          }
        Buf<T> out(ref.size(), static_cast<T>(kNaN));
        k.reduce(op, x.data(), g.outer, g.n, g.inner, out.data());
        if (isSum)  // the kernel's summation order is its own: error relative to sum |x|
          BP_CHECK_CLOSE("out", out.data(), ref.data(), ref.size(), Tol{sumTol<T>(), 0},
                         scale.data());
        else
          BP_CHECK_CLOSE("out", out.data(), ref.data(), ref.size(), kExact);
      }
    }
  }
}

BP_TEST(reduceEveryOp) {
  forEachKernels([](const auto& k) { reduceEveryOp(k); });
}

// maxWithIndex: value and index of the first maximum; the first NaN counts as the maximum.
template <typename T>
void maxWithIndexCase(Rng& rng, const Geometry& g, bool withNaN, bool withTies) {
  Context c(str(dtypeName<T>(), " [", g.outer, ", ", g.n, ", ", g.inner, "]",
                withNaN ? " with NaN" : "", withTies ? " with ties" : ""));
  Buf<T> x = normalBuf<T>(rng, g.outer * g.n * g.inner);
  if (withTies)
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(std::floor(x[i]));
  if (withNaN)
    for (size_t i = 1; i < x.size(); i += 7) x[i] = static_cast<T>(kNaN);
  const size_t m = g.outer * g.inner;
  Buf<double> ref(m);
  Buf<int32_t> refIdx(m);
  for (size_t o = 0; o < g.outer; ++o)
    for (size_t i = 0; i < g.inner; ++i) {
      size_t best = 0;
      for (size_t j = 0; j < g.n; ++j) {
        const T v = x[(o * g.n + j) * g.inner + i];
        const T b = x[(o * g.n + best) * g.inner + i];
        if (std::isnan(b)) break;
        if (std::isnan(v) || v > b) best = j;
      }
      ref[o * g.inner + i] = x[(o * g.n + best) * g.inner + i];
      refIdx[o * g.inner + i] = static_cast<int32_t>(best);
    }
  Buf<T> out(m, T(-7));
  Buf<int32_t> idx(m, -1);
  bp::maxWithIndex(x.data(), g.outer, g.n, g.inner, out.data(), idx.data());
  BP_CHECK_CLOSE("max", out.data(), ref.data(), m, kExact);
  BP_CHECK_EQUAL_INTS("indices", idx.data(), refIdx.data(), m);
  Buf<int32_t> argmax(m, -1);
  bp::maxWithIndex<T>(x.data(), g.outer, g.n, g.inner, nullptr, argmax.data());
  BP_CHECK_EQUAL_INTS("argmax (no values)", argmax.data(), refIdx.data(), m);
}

BP_TEST(maxWithIndexFirstMaximum) {
  Rng rng(302);
  for (const Geometry& g : reduceGeometries()) {
    if (g.n == 0) continue;
    for (bool withNaN : {false, true})
      for (bool withTies : {false, true}) {
        maxWithIndexCase<float>(rng, g, withNaN, withTies);
        maxWithIndexCase<double>(rng, g, withNaN, withTies);
      }
  }
}

}  // namespace
