// Optimizer steps (torch.optim semantics), computed in double.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_optim.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

template <typename T>
void sgdStepK(T* param, const T* grad, T* buf, size_t n, double lr, double momentum,
              double dampening, double weightDecay, bool nesterov, bool firstStep) {
  if (momentum == 0 || !buf) {
    for (size_t i = 0; i < n; ++i) {
      const double g = static_cast<double>(grad[i]) + weightDecay * param[i];
      param[i] = static_cast<T>(param[i] - lr * g);
    }
    return;
  }
  const double damp = 1.0 - dampening;
  for (size_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(grad[i]) + weightDecay * param[i];
    const double b = firstStep ? g : momentum * buf[i] + damp * g;
    const T bt = static_cast<T>(b);
    buf[i] = bt;
    const double d = nesterov ? g + momentum * static_cast<double>(bt) : static_cast<double>(bt);
    param[i] = static_cast<T>(param[i] - lr * d);
  }
}

template <typename T>
void adamStepK(T* param, const T* grad, T* expAvg, T* expAvgSq, T* maxExpAvgSq, size_t n,
               double step, double lr, double beta1, double beta2, double eps, double weightDecay,
               bool decoupled) {
  const double bc1 = 1.0 - __builtin_pow(beta1, step);
  const double bc2 = 1.0 - __builtin_pow(beta2, step);
  const double stepSize = lr / bc1;
  const double bc2Sqrt = __builtin_sqrt(bc2);
  const double decay = decoupled ? 1.0 - lr * weightDecay : 1.0;
  const double l2 = decoupled ? 0.0 : weightDecay;
  for (size_t i = 0; i < n; ++i) {
    double p = static_cast<double>(param[i]) * decay;
    if (decoupled) p = static_cast<double>(static_cast<T>(p));
    const double g = static_cast<double>(grad[i]) + l2 * p;
    const T m = static_cast<T>(beta1 * expAvg[i] + (1.0 - beta1) * g);
    const T v = static_cast<T>(beta2 * expAvgSq[i] + (1.0 - beta2) * g * g);
    expAvg[i] = m;
    expAvgSq[i] = v;
    T vUse = v;
    if (maxExpAvgSq) {
      vUse = maxExpAvgSq[i] > v ? maxExpAvgSq[i] : v;
      maxExpAvgSq[i] = vUse;
    }
    const double denom = __builtin_sqrt(static_cast<double>(vUse)) / bc2Sqrt + eps;
    param[i] = static_cast<T>(p - stepSize * static_cast<double>(m) / denom);
  }
}
