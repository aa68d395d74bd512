// Batch-norm kernels (native/batchnorm.h) against references written here: the per-channel
// mean and biased variance of x viewed as n x c x inner (in long double; NaN for an empty
// channel), on well-conditioned data and on data far from zero where a one-pass variance would
// cancel; and the per-channel affine map, also in place. Every SIMD level this CPU runs, 1 and 2
// threads, both dtypes.
#include "batchnorm.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

struct Shape {
  size_t n, c, inner;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      {1, 1, 1},   {4, 3, 5},  {7, 5, 1}, {2, 16, 49}, {3, 2, 1000},
      {8, 4, 700}, {64, 6, 1}, {0, 3, 4}, {5, 0, 3},   {2, 3, 0},
  };
  return all;
}

std::string describe(const Shape& s) { return str("n=", s.n, " c=", s.c, " inner=", s.inner); }

template <typename T>
void stats(const bp::ExecContext& ctx, const Shape& s, const Buf<T>& x) {
  const size_t count = s.n * s.inner;
  Buf<double> meanRef(s.c), varRef(s.c), meanScale(s.c);
  for (size_t ch = 0; ch < s.c; ++ch) {
    long double sum = 0, sumAbs = 0;
    for (size_t i = 0; i < s.n; ++i)
      for (size_t j = 0; j < s.inner; ++j) {
        sum += x[(i * s.c + ch) * s.inner + j];
        sumAbs += std::fabs(static_cast<long double>(x[(i * s.c + ch) * s.inner + j]));
      }
    const long double mean = sum / static_cast<long double>(count);
    long double squares = 0;
    for (size_t i = 0; i < s.n; ++i)
      for (size_t j = 0; j < s.inner; ++j) {
        const long double d = x[(i * s.c + ch) * s.inner + j] - mean;
        squares += d * d;
      }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    meanRef[ch] = count ? static_cast<double>(mean) : nan;
    varRef[ch] = count ? static_cast<double>(squares / static_cast<long double>(count)) : nan;
    meanScale[ch] = count ? static_cast<double>(sumAbs / static_cast<long double>(count)) : 0;
  }
  Buf<T> mean(s.c, T(-7)), var(s.c, T(-7));
  bp::batchNormStats(ctx, x.data(), s.n, s.c, s.inner, mean.data(), var.data());
  // The kernel sums in double and rounds once to T: float32 results are within an ulp or two;
  // float64 ones carry the double sums' rounding (relative to the mean magnitude for the mean,
  // to the variance itself for the variance: the two passes do not cancel).
  const Tol tol = sizeof(T) == 4 ? Tol{2 * epsOf<float>(), 0} : Tol{1e-11, 0};
  BP_CHECK_CLOSE("mean", mean.data(), meanRef.data(), s.c, tol, meanScale.data());
  BP_CHECK_CLOSE("variance", var.data(), varRef.data(), s.c, tol);
}

BP_TEST(statisticsOfCenteredData) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(401);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      stats(ctx, s, uniformBuf<T>(rng, s.n * s.c * s.inner, -1, 1));
    }
  });
}

// Values around 1000 with a spread of 1 (float32: its resolution there is 6e-5): E[x^2] - E[x]^2
// in float would lose every digit.
BP_TEST(statisticsFarFromZero) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(402);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      Buf<T> x(s.n * s.c * s.inner);
      for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(1000 + rng.normal());
      stats(ctx, s, x);
    }
  });
}

template <typename T>
void affine(const bp::ExecContext& ctx, const Shape& s, Rng& rng, bool inPlace) {
  const Buf<T> x = normalBuf<T>(rng, s.n * s.c * s.inner, 3);
  const Buf<T> scale = normalBuf<T>(rng, s.c), shift = normalBuf<T>(rng, s.c);
  Buf<double> ref(x.size()), magnitude(x.size());
  for (size_t i = 0; i < s.n; ++i)
    for (size_t ch = 0; ch < s.c; ++ch)
      for (size_t j = 0; j < s.inner; ++j) {
        const size_t at = (i * s.c + ch) * s.inner + j;
        const double product = static_cast<double>(x[at]) * static_cast<double>(scale[ch]);
        ref[at] = product + static_cast<double>(shift[ch]);
        magnitude[at] = std::fabs(product) + std::fabs(static_cast<double>(shift[ch]));
      }
  // Two roundings in T: the product and the sum.
  const Tol tol{2 * epsOf<T>(), 0};
  if (inPlace) {
    Buf<T> y(x);
    bp::channelAffine(ctx, y.data(), s.n, s.c, s.inner, scale.data(), shift.data(), y.data());
    BP_CHECK_CLOSE("y = x * scale + shift in place", y.data(), ref.data(), y.size(), tol,
                   magnitude.data());
  } else {
    Buf<T> y(x.size(), std::numeric_limits<T>::quiet_NaN());
    bp::channelAffine(ctx, x.data(), s.n, s.c, s.inner, scale.data(), shift.data(), y.data());
    BP_CHECK_CLOSE("y = x * scale + shift", y.data(), ref.data(), y.size(), tol, magnitude.data());
  }
}

BP_TEST(channelAffineAlsoInPlace) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(403);
    for (const Shape& s : shapes())
      for (bool inPlace : {false, true}) {
        Context c(describe(s));
        affine<T>(ctx, s, rng, inPlace);
      }
  });
}

}  // namespace
