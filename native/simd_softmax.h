// Softmax family, one row at a time: softmax and logSoftmax forward and backward, and the fused
// softmax + cross-entropy loss with its gradient.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_softmax.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

// y[i] = exp(x[i] - m); returns the sum in double.
template <typename T>
BP_INLINE double expShiftSum(const T* x, T* y, size_t n, T m) {
  typedef typename Vec<T>::H H;
  constexpr int D = Deg<T>::v;
  constexpr size_t L = LW;
  const vd mw = splat<vd>(m);
  vd acc = {};
  size_t i = 0;
  for (; i + L <= n; i += L) {
    vd e = vexp<D>(widen(load<H>(x + i)) - mw);
    acc += e;
    store(y + i, narrow<H>(e));
  }
  if (i < n) {
    vd e = vexp<D>(widen(loadPartial<H>(x + i, n - i)) - mw);
    storePartial(y + i, narrow<H>(e), n - i);
    for (size_t l = 0; l < n - i; ++l) acc[l] += e[l];
  }
  double s = 0;
  for (size_t l = 0; l < L; ++l) s += acc[l];
  return s;
}

// The table's entry for expShiftSum (an out-of-line copy of the inline helper above).
template <typename T>
double expShiftSumK(const T* x, T* y, size_t n, T m) {
  return expShiftSum(x, y, n, m);
}

template <typename T>
void softmaxK(const T* x, size_t rows, size_t cols, T* y, bool log) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = maxContig(xr, cols);
    if (log) {
      // exp values go to y first, then y is overwritten with (x - m) - log(sum). Not
      // x - (m + log(sum)): that rounded shift would cost half an ulp of |m| in every result,
      // most of the result near a row's maximum when the row is far from zero. x - m is exact
      // there (x within a factor 2 of m).
      const double s = expShiftSum(xr, yr, cols, m);
      const double md = static_cast<double>(m), logSum = __builtin_log(s);
      for (size_t i = 0; i < cols; ++i)
        yr[i] = static_cast<T>((static_cast<double>(xr[i]) - md) - logSum);
    } else {
      const double s = expShiftSum(xr, yr, cols, m);
      const T inv = static_cast<T>(1.0 / s);
      for (size_t i = 0; i < cols; ++i) yr[i] *= inv;
    }
  }
}

template <typename T>
void softmaxBackwardK(const T* y, const T* gy, size_t rows, size_t cols, T* gx, bool log) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* gr = gy + r * cols;
    T* out = gx + r * cols;
    if (log) {
      const vd sv = splat<vd>(sumContig(gr, cols));
      constexpr int D = Deg<T>::v;
      mapW3(yr, gr, gr, out, cols, [sv](vd yv, vd g, vd) { return g - vexp<D>(yv) * sv; });
    } else {
      double dot = 0;
      for (size_t i = 0; i < cols; ++i) dot += static_cast<double>(gr[i]) * yr[i];
      const T d = static_cast<T>(dot);
      for (size_t i = 0; i < cols; ++i) out[i] = yr[i] * (gr[i] - d);
    }
  }
}

template <typename T>
void softmaxCrossEntropyK(const T* logits, size_t rows, size_t cols, const int32_t* targets,
                          T* losses, T* grad, double scale) {
  for (size_t r = 0; r < rows; ++r) {
    const T* xr = logits + r * cols;
    const size_t t = static_cast<size_t>(targets[r]);
    const T m = maxContig(xr, cols);
    T* gr = grad ? grad + r * cols : nullptr;
    double s;
    if (gr) {
      s = expShiftSum(xr, gr, cols, m);
      const T f = static_cast<T>(scale / s);
      for (size_t i = 0; i < cols; ++i) gr[i] *= f;
      gr[t] -= static_cast<T>(scale);
    } else {
      typedef typename Vec<T>::H H;
      constexpr int D = Deg<T>::v;
      constexpr size_t L = LW;
      const vd mw = splat<vd>(m);
      vd acc = {};
      size_t i = 0;
      for (; i + L <= cols; i += L) acc += vexp<D>(widen(load<H>(xr + i)) - mw);
      if (i < cols) {
        vd e = vexp<D>(widen(loadPartial<H>(xr + i, cols - i)) - mw);
        for (size_t l = 0; l < cols - i; ++l) acc[l] += e[l];
      }
      s = 0;
      for (size_t l = 0; l < L; ++l) s += acc[l];
    }
    // (m - x[t]) + log(sum), both terms >= 0, as in logSoftmax: m + log(sum) rounded first would
    // cost half an ulp of |m|, all of a small loss when the target is the maximum.
    losses[r] =
        static_cast<T>((static_cast<double>(m) - static_cast<double>(xr[t])) + __builtin_log(s));
  }
}
