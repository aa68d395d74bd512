// Elementwise drivers: F maps vectors; the tail goes through a zero-padded vector. Deg<T> picks
// the Taylor degree of the vector math for a dtype.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_map.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

template <typename T, typename F>
BP_INLINE void map1(const T* x, T* y, size_t n, F f) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  size_t i = 0;
  for (; i + L <= n; i += L) store(y + i, f(load<V>(x + i)));
  if (i < n) storePartial(y + i, f(loadPartial<V>(x + i, n - i)), n - i);
}

template <typename T, typename F>
BP_INLINE void map3(const T* a, const T* b, const T* c, T* out, size_t n, F f) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  size_t i = 0;
  for (; i + L <= n; i += L) store(out + i, f(load<V>(a + i), load<V>(b + i), load<V>(c + i)));
  if (i < n)
    storePartial(
        out + i,
        f(loadPartial<V>(a + i, n - i), loadPartial<V>(b + i, n - i), loadPartial<V>(c + i, n - i)),
        n - i);
}

// Same, with f working on double vectors (vd) whatever T is.
template <typename T, typename F>
BP_INLINE void mapW1(const T* x, T* y, size_t n, F f) {
  typedef typename Vec<T>::H H;
  size_t i = 0;
  for (; i + LW <= n; i += LW) store(y + i, narrow<H>(f(widen(load<H>(x + i)))));
  if (i < n) storePartial(y + i, narrow<H>(f(widen(loadPartial<H>(x + i, n - i)))), n - i);
}

template <typename T, typename F>
BP_INLINE void mapW3(const T* a, const T* b, const T* c, T* out, size_t n, F f) {
  typedef typename Vec<T>::H H;
  size_t i = 0;
  for (; i + LW <= n; i += LW)
    store(out + i,
          narrow<H>(f(widen(load<H>(a + i)), widen(load<H>(b + i)), widen(load<H>(c + i)))));
  if (i < n)
    storePartial(
        out + i,
        narrow<H>(f(widen(loadPartial<H>(a + i, n - i)), widen(loadPartial<H>(b + i, n - i)),
                    widen(loadPartial<H>(c + i, n - i)))),
        n - i);
}

template <typename T>
struct Deg;
template <>
struct Deg<float> {
  static constexpr int v = 7;
};
template <>
struct Deg<double> {
  static constexpr int v = 13;
};
