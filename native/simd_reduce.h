// Reductions over [outer, n, inner]. Sums accumulate in double (float inputs too).
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_reduce.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

template <typename T>
BP_INLINE double sumContig(const T* x, size_t n) {
  typedef typename Vec<T>::H H;
  constexpr size_t L = LW;
  vd acc0 = {}, acc1 = {};
  size_t i = 0;
  for (; i + 2 * L <= n; i += 2 * L) {
    acc0 += widen(load<H>(x + i));
    acc1 += widen(load<H>(x + i + L));
  }
  if (i + L <= n) {
    acc0 += widen(load<H>(x + i));
    i += L;
  }
  acc0 += widen(loadPartial<H>(x + i, n - i));
  acc0 += acc1;
  double s = 0;
  for (size_t l = 0; l < L; ++l) s += acc0[l];
  return s;
}

// Maximum of x[0..n), n >= 1; NaN anywhere gives NaN (as torch.max).
template <typename T>
BP_INLINE T maxContig(const T* x, size_t n) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  T m;
  if (n < 2 * L) {
    m = x[0];
    for (size_t i = 1; i < n; ++i) {
      const T v = x[i];
      m = (v > m || v != v) ? v : m;
    }
    return m;
  }
  V mv = load<V>(x);
  size_t i = L;
  for (; i + L <= n; i += L) {
    const V v = load<V>(x + i);
    mv = ((v > mv) | (v != v)) ? v : mv;
  }
  const V last = load<V>(x + n - L);  // overlaps the previous vector: harmless for a max
  mv = ((last > mv) | (last != last)) ? last : mv;
  m = mv[0];
  for (size_t l = 1; l < L; ++l) {
    const T v = mv[l];
    m = (v > m || v != v) ? v : m;
  }
  return m;
}

template <typename T>
void reduceK(int op, const T* x, size_t outer, size_t n, size_t inner, T* out) {
  if (inner == 0) return;  // nothing to write (and outer may be huge)
  constexpr size_t B = 512;
  for (size_t o = 0; o < outer; ++o) {
    const T* xo = x + o * n * inner;
    T* oo = out + o * inner;
    if (inner == 1) {
      if (op == kSum || op == kMean) {
        double s = sumContig(xo, n);
        oo[0] = static_cast<T>(op == kMean ? s / static_cast<double>(n) : s);
      } else if (op == kMax) {
        oo[0] = maxContig(xo, n);
      } else {
        T m = xo[0];
        for (size_t j = 1; j < n; ++j) {
          const T v = xo[j];
          m = (v < m || v != v) ? v : m;
        }
        oo[0] = m;
      }
      continue;
    }
    for (size_t i0 = 0; i0 < inner; i0 += B) {
      const size_t len = inner - i0 < B ? inner - i0 : B;
      if (op == kSum || op == kMean) {
        double acc[B];
        for (size_t i = 0; i < len; ++i) acc[i] = 0;
        for (size_t j = 0; j < n; ++j) {
          const T* row = xo + j * inner + i0;
          for (size_t i = 0; i < len; ++i) acc[i] += row[i];
        }
        if (op == kMean)
          for (size_t i = 0; i < len; ++i)
            oo[i0 + i] = static_cast<T>(acc[i] / static_cast<double>(n));
        else
          for (size_t i = 0; i < len; ++i) oo[i0 + i] = static_cast<T>(acc[i]);
      } else {
        T acc[B];
        const T* row0 = xo + i0;
        for (size_t i = 0; i < len; ++i) acc[i] = row0[i];
        const bool isMax = op == kMax;
        for (size_t j = 1; j < n; ++j) {
          const T* row = xo + j * inner + i0;
          if (isMax)
            for (size_t i = 0; i < len; ++i) {
              const T v = row[i];
              acc[i] = (v > acc[i] || v != v) ? v : acc[i];
            }
          else
            for (size_t i = 0; i < len; ++i) {
              const T v = row[i];
              acc[i] = (v < acc[i] || v != v) ? v : acc[i];
            }
        }
        for (size_t i = 0; i < len; ++i) oo[i0 + i] = acc[i];
      }
    }
  }
}
