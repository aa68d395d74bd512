// Vector types at this ISA's width (vf, vfh, vd, vdi) and their traits, splat, full and partial
// load/store, float <-> double widening, and the lane-wise abs/min/max.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_vec.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

typedef float vf __attribute__((vector_size(BP_VBYTES)));
typedef float vfh __attribute__((vector_size(BP_VBYTES / 2)));  // as many floats as vd has lanes
#if BP_VBYTES >= 8
typedef double vd __attribute__((vector_size(BP_VBYTES)));
typedef long long vdi __attribute__((vector_size(BP_VBYTES)));
#else
#error "BP_VBYTES must be at least 8"
#endif

template <typename T>
struct Vec;
// V: the full-width storage vector. H: the storage vector with as many lanes as vd, so that
// float data widens to exactly one double vector (transcendental functions run in double; a
// vector twice the hardware width would make GCC scalarise the selects).
template <>
struct Vec<float> {
  typedef vf V;
  typedef vfh H;
  static constexpr int L = BP_VBYTES / 4;
};
template <>
struct Vec<double> {
  typedef vd V;
  typedef vd H;
  static constexpr int L = BP_VBYTES / 8;
};
constexpr int LW = BP_VBYTES / 8;  // lanes of vd
template <typename W>
struct IntOf;
template <>
struct IntOf<vd> {
  typedef vdi I;
};

template <typename V>
struct ElemOf;
template <>
struct ElemOf<vf> {
  typedef float E;
};
template <>
struct ElemOf<vfh> {
  typedef float E;
};
template <>
struct ElemOf<vd> {
  typedef double E;
};

// Broadcast. `s - 0` folds to a plain broadcast (x - 0 == x for every x, -0.0 included),
// while `0 + s` would have to keep the addition.
template <typename V, typename S>
BP_INLINE V splat(S s) {
  typedef typename ElemOf<V>::E E;
  return static_cast<E>(s) - V{};
}

template <typename V, typename T>
BP_INLINE V load(const T* p) {
  V v;
  __builtin_memcpy(&v, p, sizeof(V));
  return v;
}
template <typename V, typename T>
BP_INLINE void store(T* p, V v) {
  __builtin_memcpy(p, &v, sizeof(V));
}
template <typename V, typename T>
BP_INLINE V loadPartial(const T* p, size_t count) {
  V v = {};
  if (count) __builtin_memcpy(&v, p, count * sizeof(T));
  return v;
}
template <typename V, typename T>
BP_INLINE void storePartial(T* p, V v, size_t count) {
  if (count) __builtin_memcpy(p, &v, count * sizeof(T));
}

// Widen a half storage vector to double and back (identity for double).
BP_INLINE vd widen(vfh v) { return __builtin_convertvector(v, vd); }
BP_INLINE vd widen(vd v) { return v; }
template <typename H>
BP_INLINE H narrow(vd v);
template <>
BP_INLINE vfh narrow<vfh>(vd v) {
  return __builtin_convertvector(v, vfh);
}
template <>
BP_INLINE vd narrow<vd>(vd v) {
  return v;
}

template <typename V>
BP_INLINE V vabs(V x) {
  return x < splat<V>(0) ? -x : x;
}
template <typename V>
BP_INLINE V vmin(V a, V b) {
  return b < a ? b : a;
}  // keeps a when a is NaN
template <typename V>
BP_INLINE V vmax(V a, V b) {
  return b > a ? b : a;
}
