#include "batchnorm.h"

#include <cmath>

#include "parallel.h"

namespace bp {

template <typename T>
void batchNormStats(const ExecContext& ctx, const T* x, size_t n, size_t c, size_t inner, T* mean,
                    T* var) {
  const size_t count = n * inner;
  parallelFor(*ctx.pool, c, count, [&](size_t ch, size_t) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
      const T* row = x + (i * c + ch) * inner;
      for (size_t j = 0; j < inner; ++j) s += row[j];
    }
    const double m = count ? s / static_cast<double>(count) : std::nan("");
    double q = 0;
    for (size_t i = 0; i < n; ++i) {
      const T* row = x + (i * c + ch) * inner;
      for (size_t j = 0; j < inner; ++j) {
        const double d = static_cast<double>(row[j]) - m;
        q += d * d;
      }
    }
    mean[ch] = static_cast<T>(m);
    var[ch] = static_cast<T>(count ? q / static_cast<double>(count) : std::nan(""));
  });
}

template <typename T>
void channelAffine(const ExecContext& ctx, const T* x, size_t n, size_t c, size_t inner,
                   const T* scale, const T* shift, T* y) {
  parallelFor(*ctx.pool, n, c * inner, [&](size_t i, size_t) {
    for (size_t ch = 0; ch < c; ++ch) {
      const T* src = x + (i * c + ch) * inner;
      T* dst = y + (i * c + ch) * inner;
      const T a = scale[ch], b = shift[ch];
      for (size_t j = 0; j < inner; ++j) dst[j] = src[j] * a + b;
    }
  });
}

template void batchNormStats<float>(const ExecContext&, const float*, size_t, size_t, size_t,
                                    float*, float*);
template void batchNormStats<double>(const ExecContext&, const double*, size_t, size_t, size_t,
                                     double*, double*);
template void channelAffine<float>(const ExecContext&, const float*, size_t, size_t, size_t,
                                   const float*, const float*, float*);
template void channelAffine<double>(const ExecContext&, const double*, size_t, size_t, size_t,
                                    const double*, const double*, double*);

}  // namespace bp
