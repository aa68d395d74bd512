// The fused optimizer steps (torch.optim.SGD and Adam/AdamW rules) on every SIMD level and
// both dtypes, over three consecutive steps and every option combination, against the rules
// written out here in double with the state stored in the dtype between steps, as tensors
// hold it. Tolerances as in test/support/native-vs-js.ts.
#include <cmath>
#include <limits>

#include "test_support.h"

namespace {

using namespace bpt;

template <typename T>
constexpr Tol optimTol();
template <>
constexpr Tol optimTol<float>() {
  return {1e-5, 1e-6};
}
template <>
constexpr Tol optimTol<double>() {
  return {1e-12, 1e-14};
}

struct SgdOptions {
  double momentum, dampening, weightDecay;
  bool nesterov;
  bool withBuf;  // the kernel accepts a null buffer when momentum is 0
};

template <typename T>
void sgdCase(const bp::Kernels<T>& k, Rng& rng, size_t n, const SgdOptions& o) {
  const double lr = 0.05;
  Buf<T> param = normalBuf<T>(rng, n);
  Buf<T> buf(n, static_cast<T>(std::numeric_limits<double>::quiet_NaN()));  // first step overwrites
  Buf<double> P = widen(param), B(n);
  for (int step = 1; step <= 3; ++step) {
    Context c(str("step ", step));
    const Buf<T> grad = normalBuf<T>(rng, n);
    const bool first = step == 1;
    for (size_t i = 0; i < n; ++i) {
      double g = static_cast<double>(grad[i]) + o.weightDecay * P[i];
      if (o.momentum != 0 && o.withBuf) {
        B[i] = static_cast<T>(first ? g : o.momentum * B[i] + (1 - o.dampening) * g);
        g = o.nesterov ? g + o.momentum * B[i] : B[i];
      }
      P[i] = static_cast<T>(P[i] - lr * g);
    }
    k.sgdStep(param.data(), grad.data(), o.withBuf ? buf.data() : nullptr, n, lr, o.momentum,
              o.dampening, o.weightDecay, o.nesterov, first);
    BP_CHECK_CLOSE("param", param.data(), P.data(), n, optimTol<T>());
    if (o.momentum != 0 && o.withBuf)
      BP_CHECK_CLOSE("momentum buffer", buf.data(), B.data(), n, optimTol<T>());
  }
}

template <typename T>
void sgdEveryOption(const bp::Kernels<T>& k) {
  Rng rng(501);
  for (double momentum : {0.0, 0.9})
    for (double dampening : {0.0, 0.1})
      for (double weightDecay : {0.0, 1e-2})
        for (bool nesterov : {false, true})
          for (bool withBuf : {true, false}) {
            if (!withBuf && momentum != 0) continue;
            const SgdOptions o = {momentum, dampening, weightDecay, nesterov, withBuf};
            for (size_t n : kSizes) {
              Context c(str("momentum=", momentum, " dampening=", dampening,
                            " weightDecay=", weightDecay, nesterov ? " nesterov" : "",
                            withBuf ? "" : " no buffer", " n=", n));
              sgdCase(k, rng, n, o);
            }
          }
}

BP_TEST(sgdStepEveryOption) {
  forEachKernels([](const auto& k) { sgdEveryOption(k); });
}

struct AdamOptions {
  double weightDecay;
  bool decoupled;  // AdamW
  bool amsgrad;
};

template <typename T>
void adamCase(const bp::Kernels<T>& k, Rng& rng, size_t n, const AdamOptions& o) {
  const double lr = 1e-2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  Buf<T> param = normalBuf<T>(rng, n), m(n), v(n), vMax(n);
  Buf<double> P = widen(param), M(n), V(n), VMax(n);
  for (size_t i = 0; i < n; ++i) M[i] = V[i] = VMax[i] = 0;
  for (int step = 1; step <= 3; ++step) {
    Context c(str("step ", step));
    // Gradients of very different sizes, so that the max of amsgrad switches between them.
    const Buf<T> grad = normalBuf<T>(rng, n, step == 2 ? 0.1 : 1.0);
    const double bc1 = 1 - std::pow(beta1, step), bc2 = 1 - std::pow(beta2, step);
    for (size_t i = 0; i < n; ++i) {
      double p = P[i];
      double g = grad[i];
      if (o.decoupled)
        p = static_cast<T>(p * (1 - lr * o.weightDecay));
      else
        g += o.weightDecay * p;
      M[i] = static_cast<T>(beta1 * M[i] + (1 - beta1) * g);
      V[i] = static_cast<T>(beta2 * V[i] + (1 - beta2) * g * g);
      double vHat = V[i];
      if (o.amsgrad) {
        VMax[i] = std::fmax(VMax[i], V[i]);
        vHat = VMax[i];
      }
      const double denom = std::sqrt(vHat) / std::sqrt(bc2) + eps;
      P[i] = static_cast<T>(p - lr / bc1 * M[i] / denom);
    }
    k.adamStep(param.data(), grad.data(), m.data(), v.data(), o.amsgrad ? vMax.data() : nullptr, n,
               static_cast<double>(step), lr, beta1, beta2, eps, o.weightDecay, o.decoupled);
    BP_CHECK_CLOSE("param", param.data(), P.data(), n, optimTol<T>());
    BP_CHECK_CLOSE("exp_avg", m.data(), M.data(), n, optimTol<T>());
    BP_CHECK_CLOSE("exp_avg_sq", v.data(), V.data(), n, optimTol<T>());
    if (o.amsgrad) BP_CHECK_CLOSE("max_exp_avg_sq", vMax.data(), VMax.data(), n, optimTol<T>());
  }
}

template <typename T>
void adamEveryOption(const bp::Kernels<T>& k) {
  Rng rng(502);
  for (double weightDecay : {0.0, 0.1})
    for (bool decoupled : {false, true})
      for (bool amsgrad : {false, true})
        for (size_t n : kSizes) {
          Context c(str(decoupled ? "AdamW" : "Adam", " weightDecay=", weightDecay,
                        amsgrad ? " amsgrad" : "", " n=", n));
          adamCase(k, rng, n, AdamOptions{weightDecay, decoupled, amsgrad});
        }
}

BP_TEST(adamStepEveryOption) {
  forEachKernels([](const auto& k) { adamEveryOption(k); });
}

}  // namespace
