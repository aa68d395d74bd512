// Unary kernels, forward and backward, against references computed here in double from libm:
// every op code the kernel tables know (a code without a reference fails), every SIMD level
// this CPU runs, both dtypes, sizes across the vector widths, edge values and aliasing.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

struct OpParams {
  double p0;
  double p1;
};

// The one place that knows how the unary kernels take their op parameters: (p0) today, (p0, p1)
// once they take two. Both signatures compile here, so that change needs no edit in this file.
template <typename Fn, typename... Args>
void callUnaryKernel(Fn fn, const OpParams& p, Args... args) {
  if constexpr (std::is_invocable_v<Fn, Args..., double, double>)
    fn(args..., p.p0, p.p1);
  else
    fn(args..., p.p0);
}

constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;

double normalCdf(double x) { return 0.5 * std::erfc(-x * kSqrt1_2); }
double sigmoidRef(double x) {
  return x >= 0 ? 1 / (1 + std::exp(-x)) : std::exp(x) / (1 + std::exp(x));
}
double signRef(double x) { return std::isnan(x) ? x : (x > 0) - (x < 0); }

// How a reference is compared: exactly (the op is one IEEE operation, which the reference in
// double rounds the same way, or a selection) or within the transcendental tolerance.
enum class Compare { kExact, kTol };

struct UnaryRef {
  int code;
  const char* name;
  double (*f)(double x, const OpParams& p);
  double (*df)(double x, const OpParams& p);  // f'(x)
  Compare forward;
  Compare backward;
  // Random inputs: uniform in [lo, hi], log-uniform when logUniform, normal * hi when lo is NaN.
  double lo;
  double hi;
  bool logUniform;
  std::vector<OpParams> params;  // each is tried
  bool infinities;               // whether the edge-value test includes +-Infinity
};

constexpr double kNormal = std::numeric_limits<double>::quiet_NaN();

// One entry per op code of bp::UnaryCode (kernels.h), with the semantics of lib/backend/types.ts
// UNARY_OPS. Parameters reach the references already rounded to the kernel's dtype.
const std::vector<UnaryRef>& unaryReferences() {
  static const std::vector<UnaryRef> refs = {
      {bp::kRelu,
       "relu",
       [](double x, const OpParams&) { return std::isnan(x) ? x
                                              : x > 0       ? x
                                                            : 0.0; },
       [](double x, const OpParams&) { return x > 0 ? 1.0 : 0.0; },
       Compare::kExact,
       Compare::kExact,
       kNormal,
       3,
       false,
       {{0, 0}},
       true},
      {bp::kLeakyRelu,
       "leakyRelu",
       [](double x, const OpParams& p) { return x > 0 ? x : x * p.p0; },
       [](double x, const OpParams& p) { return x > 0 ? 1.0 : p.p0; },
       Compare::kExact,
       Compare::kExact,
       kNormal,
       3,
       false,
       {{0.01, 0}, {0.37, 0}},
       true},
      {bp::kSigmoid,
       "sigmoid",
       [](double x, const OpParams&) { return sigmoidRef(x); },
       [](double x, const OpParams&) { return sigmoidRef(x) * sigmoidRef(-x); },
       Compare::kTol,
       Compare::kTol,
       -30,
       30,
       false,
       {{0, 0}},
       true},
      {bp::kTanh,
       "tanh",
       [](double x, const OpParams&) { return std::tanh(x); },
       [](double x, const OpParams&) {
         const double c = std::cosh(x);
         return 1 / (c * c);
       },
       Compare::kTol,
       Compare::kTol,
       -12,
       12,
       false,
       {{0, 0}},
       true},
      // gelu(-Infinity) is 0 * Infinity in the exact form: no infinities in the edge test.
      {bp::kGelu,
       "gelu",
       [](double x, const OpParams&) { return x * normalCdf(x); },
       [](double x, const OpParams&) {
         return normalCdf(x) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
       },
       Compare::kTol,
       Compare::kTol,
       -9,
       9,
       false,
       {{0, 0}},
       false},
      {bp::kExp,
       "exp",
       [](double x, const OpParams&) { return std::exp(x); },
       [](double x, const OpParams&) { return std::exp(x); },
       Compare::kTol,
       Compare::kTol,
       -80,
       80,
       false,
       {{0, 0}},
       true},
      {bp::kLog,
       "log",
       [](double x, const OpParams&) { return std::log(x); },
       [](double x, const OpParams&) { return 1 / x; },
       Compare::kTol,
       Compare::kTol,
       1e-3,
       1e3,
       true,
       {{0, 0}},
       true},
      {bp::kSqrt,
       "sqrt",
       [](double x, const OpParams&) { return std::sqrt(x); },
       [](double x, const OpParams&) { return 0.5 / std::sqrt(x); },
       Compare::kExact,
       Compare::kTol,
       1e-6,
       1e3,
       true,
       {{0, 0}},
       true},
      {bp::kAbs,
       "abs",
       [](double x, const OpParams&) { return std::fabs(x); },
       [](double x, const OpParams&) { return signRef(x); },
       Compare::kExact,
       Compare::kExact,
       kNormal,
       3,
       false,
       {{0, 0}},
       true},
      {bp::kNeg,
       "neg",
       [](double x, const OpParams&) { return -x; },
       [](double, const OpParams&) { return -1.0; },
       Compare::kExact,
       Compare::kExact,
       kNormal,
       3,
       false,
       {{0, 0}},
       true},
      // Backward of sign is zero (torch's convention), not a derivative that is a Dirac pulse.
      {bp::kSign,
       "sign",
       [](double x, const OpParams&) { return signRef(x); },
       [](double, const OpParams&) { return 0.0; },
       Compare::kExact,
       Compare::kExact,
       kNormal,
       3,
       false,
       {{0, 0}},
       true},
      // torch: x where beta x > threshold, else log1p(exp(beta x)) / beta; p0 = beta, p1 =
      // threshold.
      {bp::kSoftplus,
       "softplus",
       [](double x, const OpParams& p) {
         return p.p0 * x > p.p1 ? x : std::log1p(std::exp(p.p0 * x)) / p.p0;
       },
       [](double x, const OpParams& p) { return p.p0 * x > p.p1 ? 1.0 : sigmoidRef(p.p0 * x); },
       Compare::kTol,
       Compare::kTol,
       -25,
       25,
       false,
       {{1, 20}, {2, 1.5}, {0.5, 3}},
       true},
      // x sigmoid(x); silu(-inf) is -inf * 0 (NaN in torch too): no infinities in the edge test.
      {bp::kSilu,
       "silu",
       [](double x, const OpParams&) { return x * sigmoidRef(x); },
       [](double x, const OpParams&) {
         const double s = sigmoidRef(x);
         return s * (1 + x * (1 - s));
       },
       Compare::kTol,
       Compare::kTol,
       -30,
       30,
       false,
       {{0, 0}},
       false},
      // x where x > 0, else alpha expm1(x); p0 = alpha.
      {bp::kElu,
       "elu",
       [](double x, const OpParams& p) { return x > 0 ? x : p.p0 * std::expm1(x); },
       [](double x, const OpParams& p) { return x > 0 ? 1.0 : p.p0 * std::exp(x); },
       Compare::kTol,
       Compare::kTol,
       -30,
       10,
       false,
       {{1, 0}, {0.3, 0}, {-0.7, 0}},
       true},
  };
  return refs;
}

const UnaryRef* referenceFor(int code) {
  for (const UnaryRef& r : unaryReferences())
    if (r.code == code) return &r;
  return nullptr;
}

template <typename T>
OpParams roundedParams(const OpParams& p) {
  return {static_cast<double>(static_cast<T>(p.p0)), static_cast<double>(static_cast<T>(p.p1))};
}

template <typename T>
Buf<T> unaryInput(Rng& rng, const UnaryRef& r, size_t n) {
  Buf<T> x(n);
  for (size_t i = 0; i < n; ++i) {
    double v;
    if (std::isnan(r.lo))
      v = r.hi * rng.normal();
    else if (r.logUniform)
      v = std::exp(rng.uniform(std::log(r.lo), std::log(r.hi)));
    else
      v = rng.uniform(r.lo, r.hi);
    x[i] = static_cast<T>(v);
  }
  if (std::isnan(r.lo) && n > 4) {  // the kinks at zero, both signs
    x[n - 1] = T(0);
    x[n - 2] = -T(0);
  }
  return x;
}

template <typename T>
Tol tolFor(Compare c) {
  return c == Compare::kExact ? kExact : transcendentalTol<T>();
}

// y = f(x) and gx = gy * f'(x) through the kernels, against the reference; y is given to the
// backward kernel as the correctly rounded f(x) (it may read x, y or both).
template <typename T>
void checkOp(const bp::Kernels<T>& k, const UnaryRef& r, const OpParams& params, const Buf<T>& x,
             Rng& rng) {
  const size_t n = x.size();
  const OpParams p = roundedParams<T>(params);
  Buf<T> y(n, std::numeric_limits<T>::quiet_NaN());
  callUnaryKernel(k.unary, params, r.code, x.data(), y.data(), n);
  Buf<double> yRef(n), gxRef(n);
  for (size_t i = 0; i < n; ++i) yRef[i] = r.f(static_cast<double>(x[i]), p);
  const Buf<double> yRounded = roundedTo<T>(yRef);
  BP_CHECK_CLOSE("y", y.data(), yRounded.data(), n, tolFor<T>(r.forward));

  Buf<T> yIn(n);
  for (size_t i = 0; i < n; ++i) yIn[i] = static_cast<T>(yRef[i]);
  const Buf<T> gy = normalBuf<T>(rng, n);
  Buf<T> gx(n, std::numeric_limits<T>::quiet_NaN());
  callUnaryKernel(k.unaryBackward, params, r.code, x.data(), yIn.data(), gy.data(), gx.data(), n);
  for (size_t i = 0; i < n; ++i)
    gxRef[i] = static_cast<double>(gy[i]) * r.df(static_cast<double>(x[i]), p);
  const Buf<double> gxRounded = roundedTo<T>(gxRef);
  BP_CHECK_CLOSE("gx", gx.data(), gxRounded.data(), n, tolFor<T>(r.backward));
}

template <typename T>
void everyOpEverySize(const bp::Kernels<T>& k) {
  Rng rng(101);
  for (int code = 0; code < bp::kUnaryCount; ++code) {
    const UnaryRef* r = referenceFor(code);
    if (!r) continue;  // everyCodeHasAReference reports it
    for (const OpParams& params : r->params)
      for (size_t n : kSizes) {
        Context c(str(r->name, " p0=", params.p0, " p1=", params.p1, " n=", n));
        checkOp(k, *r, params, unaryInput<T>(rng, *r, n), rng);
      }
  }
}

BP_TEST(everyCodeHasAReference) {
  for (int code = 0; code < bp::kUnaryCount; ++code)
    if (!referenceFor(code))
      fail(__FILE__, __LINE__,
           str("unary op code ", code, " (of kUnaryCount = ", static_cast<int>(bp::kUnaryCount),
               ") has no reference: add one to unaryReferences() in unary_test.cc"));
  for (const UnaryRef& r : unaryReferences()) BP_CHECK(r.code >= 0 && r.code < bp::kUnaryCount);
}

BP_TEST(forwardAndBackwardEveryOp) {
  forEachKernels([](const auto& k) { everyOpEverySize(k); });
}

// Zeros of both signs, tiny and huge magnitudes, saturation, overflow, infinities and NaN.
template <typename T>
void edgeValues(const bp::Kernels<T>& k) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<double> general = {0,  -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 3,    20,    -20,
                                       50, -50,  100,   -100,   700,  -700,  1e30, -1e30, nan};
  const std::vector<double> positive = {0, -0.0, -1, 1e-30, 1e-300, 4, 1e30, nan, inf};
  for (int code = 0; code < bp::kUnaryCount; ++code) {
    const UnaryRef* r = referenceFor(code);
    if (!r) continue;  // everyCodeHasAReference reports it
    const bool positiveDomain = code == bp::kLog || code == bp::kSqrt;
    std::vector<double> values = positiveDomain ? positive : general;
    if (!positiveDomain && r->infinities) {
      values.push_back(inf);
      values.push_back(-inf);
    }
    const size_t n = values.size();
    Buf<T> x(n);
    for (size_t i = 0; i < n; ++i) x[i] = static_cast<T>(values[i]);
    const OpParams params = r->params.front();
    const OpParams p = roundedParams<T>(params);
    Buf<T> y(n, T(-123));
    callUnaryKernel(k.unary, params, code, x.data(), y.data(), n);
    Buf<double> yRef(n);
    for (size_t i = 0; i < n; ++i) yRef[i] = r->f(static_cast<double>(x[i]), p);
    const Buf<double> yRounded = roundedTo<T>(yRef);
    Context c(r->name);
    BP_CHECK_CLOSE(str("y at ", n, " edge values"), y.data(), yRounded.data(), n,
                   tolFor<T>(r->forward));
  }
}

BP_TEST(edgeValuesEveryOp) {
  forEachKernels([](const auto& k) { edgeValues(k); });
}

// y may be x; gx may be gy (the engine reuses buffers this way).
template <typename T>
void inPlace(const bp::Kernels<T>& k) {
  Rng rng(102);
  for (int code = 0; code < bp::kUnaryCount; ++code) {
    const UnaryRef* r = referenceFor(code);
    if (!r) continue;
    for (size_t n : {size_t(37), size_t(1000)}) {
      Context c(str(r->name, " n=", n));
      const OpParams params = r->params.back();
      const OpParams p = roundedParams<T>(params);
      const Buf<T> x = unaryInput<T>(rng, *r, n);
      Buf<double> yRef(n), gxRef(n);
      for (size_t i = 0; i < n; ++i) yRef[i] = r->f(static_cast<double>(x[i]), p);
      Buf<T> y(x);
      callUnaryKernel(k.unary, params, code, y.data(), y.data(), n);
      BP_CHECK_CLOSE("y = f(y)", y.data(), roundedTo<T>(yRef).data(), n, tolFor<T>(r->forward));

      for (size_t i = 0; i < n; ++i) y[i] = static_cast<T>(yRef[i]);
      Buf<T> g = normalBuf<T>(rng, n);
      for (size_t i = 0; i < n; ++i)
        gxRef[i] = static_cast<double>(g[i]) * r->df(static_cast<double>(x[i]), p);
      callUnaryKernel(k.unaryBackward, params, code, x.data(), y.data(), g.data(), g.data(), n);
      BP_CHECK_CLOSE("g = g * f'(x)", g.data(), roundedTo<T>(gxRef).data(), n,
                     tolFor<T>(r->backward));
    }
  }
}

BP_TEST(inPlaceEveryOp) {
  forEachKernels([](const auto& k) { inPlace(k); });
}

}  // namespace
