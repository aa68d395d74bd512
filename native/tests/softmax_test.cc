// Softmax and log-softmax forward and backward, and the fused softmax cross-entropy, on every
// SIMD level and both dtypes, against row-by-row references in double (max-shifted, so the
// references stay exact where the inputs are large).
#include <cmath>
#include <limits>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Rows of logits: spread, shifted far from zero (naive exp would overflow), and with -Infinity
// entries (masked positions) in some rows.
template <typename T>
Buf<T> logits(Rng& rng, size_t rows, size_t cols, double shift, bool masked) {
  Buf<T> x(rows * cols);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      T& v = x[r * cols + c];
      v = static_cast<T>(shift + 4 * rng.normal());
      if (masked && cols > 1 && c % 3 == 1 && r % 2 == 0) v = static_cast<T>(-kInf);
    }
  return x;
}

struct RowStats {
  double max;
  double sumExp;  // sum of exp(x - max)
};

template <typename T>
RowStats rowStats(const T* x, size_t cols) {
  double m = -kInf;
  for (size_t c = 0; c < cols; ++c) m = std::fmax(m, static_cast<double>(x[c]));
  double s = 0;
  for (size_t c = 0; c < cols; ++c) s += std::exp(static_cast<double>(x[c]) - m);
  return {m, s};
}

template <typename T>
void softmaxForwardBackward(const bp::Kernels<T>& k) {
  Rng rng(401);
  const Tol tol = transcendentalTol<T>();
  for (bool log : {false, true})
    for (size_t rows : {1, 3})
      for (size_t cols : kSizes)
        for (double shift : {0.0, 1000.0, -1000.0})
          for (bool masked : {false, true}) {
            Context c(str(log ? "logSoftmax" : "softmax", " rows=", rows, " cols=", cols,
                          " shift=", shift, masked ? " masked" : ""));
            const Buf<T> x = logits<T>(rng, rows, cols, shift, masked);
            const size_t n = rows * cols;
            // log-softmax is (x - max) - log(sum): x - max is exact near the maximum, so the
            // error stays relative to the result even in rows far from zero (shift +-1000).
            Buf<double> ref(n);
            for (size_t r = 0; r < rows; ++r) {
              const RowStats st = rowStats(x.data() + r * cols, cols);
              for (size_t col = 0; col < cols; ++col) {
                const double v = static_cast<double>(x[r * cols + col]) - st.max;
                ref[r * cols + col] = log ? v - std::log(st.sumExp) : std::exp(v) / st.sumExp;
              }
            }
            Buf<T> y(n, static_cast<T>(kNaN));
            k.softmax(x.data(), rows, cols, y.data(), log);
            BP_CHECK_CLOSE("y", y.data(), roundedTo<T>(ref).data(), n, tol);

            // Backward from y as the forward of this dtype gives it (rounded reference).
            Buf<T> yIn(n);
            for (size_t i = 0; i < n; ++i) yIn[i] = static_cast<T>(ref[i]);
            const Buf<T> gy = normalBuf<T>(rng, n);
            Buf<double> gxRef(n), scale(n);
            for (size_t r = 0; r < rows; ++r) {
              const T* yr = yIn.data() + r * cols;
              const T* gr = gy.data() + r * cols;
              double dot = 0, dotAbs = 0, sum = 0, sumAbs = 0;
              for (size_t col = 0; col < cols; ++col) {
                dot += static_cast<double>(gr[col]) * yr[col];
                dotAbs += std::fabs(static_cast<double>(gr[col]) * yr[col]);
                sum += gr[col];
                sumAbs += std::fabs(gr[col]);
              }
              for (size_t col = 0; col < cols; ++col) {
                const size_t i = r * cols + col;
                if (log) {  // gx = gy - softmax * sum(gy)
                  const double p = std::exp(static_cast<double>(yr[col]));
                  gxRef[i] = gr[col] - p * sum;
                  scale[i] = std::fabs(gr[col]) + p * sumAbs;
                } else {  // gx = y * (gy - sum(gy * y))
                  gxRef[i] = yr[col] * (gr[col] - dot);
                  scale[i] = std::fabs(yr[col]) * (std::fabs(gr[col]) + dotAbs);
                }
              }
            }
            Buf<T> gx(n, static_cast<T>(kNaN));
            k.softmaxBackward(yIn.data(), gy.data(), rows, cols, gx.data(), log);
            // A difference of two terms: the error is relative to their magnitudes.
            BP_CHECK_CLOSE("gx", gx.data(), gxRef.data(), n, Tol{tol.rtol + 8 * epsOf<T>(), 0},
                           scale.data());
          }
}

BP_TEST(softmaxAndLogSoftmaxForwardBackward) {
  forEachKernels([](const auto& k) { softmaxForwardBackward(k); });
}

// losses[r] = logsumexp(x[r]) - x[r, t[r]]; grad[r, c] = scale * (softmax(x[r])[c] - [c == t[r]]).
template <typename T>
void crossEntropy(const bp::Kernels<T>& k) {
  Rng rng(402);
  const Tol tol = transcendentalTol<T>();
  for (size_t rows : {1, 2, 7})
    for (size_t cols : kSizes) {
      if (cols == 0) continue;  // no class to target
      for (double shift : {0.0, 500.0})
        for (bool withGrad : {true, false}) {
          const double gradScale = 1.0 / static_cast<double>(rows);
          Context c(str("rows=", rows, " cols=", cols, " shift=", shift,
                        withGrad ? " with grad" : " loss only"));
          const Buf<T> x = logits<T>(rng, rows, cols, shift, false);
          Buf<int32_t> targets(rows);
          for (size_t r = 0; r < rows; ++r)
            targets[r] = static_cast<int32_t>(r == 1 ? cols - 1 : rng.below(cols));
          Buf<double> lossRef(rows), gradRef(rows * cols), gradScaleRef(rows * cols);
          for (size_t r = 0; r < rows; ++r) {
            const T* xr = x.data() + r * cols;
            const RowStats st = rowStats(xr, cols);
            const double xt = xr[targets[r]];
            // Two terms >= 0, (max - x[t]) exact where it is small: the error is relative to the
            // loss itself, also where the target is the maximum of a row far from zero.
            lossRef[r] = (st.max - xt) + std::log(st.sumExp);
            for (size_t col = 0; col < cols; ++col) {
              const double p = std::exp(static_cast<double>(xr[col]) - st.max) / st.sumExp;
              const double hot = static_cast<int32_t>(col) == targets[r] ? 1.0 : 0.0;
              gradRef[r * cols + col] = gradScale * (p - hot);
              gradScaleRef[r * cols + col] = gradScale * (p + hot);
            }
          }
          Buf<T> losses(rows, static_cast<T>(kNaN)), grad(rows * cols, static_cast<T>(kNaN));
          k.softmaxCrossEntropy(x.data(), rows, cols, targets.data(), losses.data(),
                                withGrad ? grad.data() : nullptr, gradScale);
          BP_CHECK_CLOSE("losses", losses.data(), lossRef.data(), rows, Tol{tol.rtol, 0});
          if (withGrad)
            BP_CHECK_CLOSE("grad", grad.data(), gradRef.data(), rows * cols, Tol{tol.rtol, 0},
                           gradScaleRef.data());
        }
    }
}

BP_TEST(softmaxCrossEntropyLossAndGrad) {
  forEachKernels([](const auto& k) { crossEntropy(k); });
}

}  // namespace
