// Binary ops: plain loops per op, vectorised by the compiler for this unit's instruction set.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_binary.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

#define BP_BINARY_OPS(X)                                    \
  X(kAdd, a + b)                                            \
  X(kSub, a - b)                                            \
  X(kMul, a* b)                                             \
  X(kDiv, a / b)                                            \
  X(kPow, powT(a, b))                                       \
  X(kMaximum, (a != a || b != b) ? a + b : (a > b ? a : b)) \
  X(kMinimum, (a != a || b != b) ? a + b : (a < b ? a : b)) \
  X(kGt, a > b ? T(1) : T(0))                               \
  X(kLt, a < b ? T(1) : T(0))                               \
  X(kGe, a >= b ? T(1) : T(0))                              \
  X(kLe, a <= b ? T(1) : T(0))                              \
  X(kEq, a == b ? T(1) : T(0))

BP_INLINE float powT(float a, float b) { return __builtin_powf(a, b); }
BP_INLINE double powT(double a, double b) { return __builtin_pow(a, b); }

template <typename T>
void binaryVVK(int op, const T* pa, const T* pb, T* out, size_t n) {
  switch (op) {
#define BP_CASE(code, expr)          \
  case code:                         \
    for (size_t i = 0; i < n; ++i) { \
      const T a = pa[i], b = pb[i];  \
      out[i] = (expr);               \
    }                                \
    break;
    BP_BINARY_OPS(BP_CASE)
#undef BP_CASE
    default:
      break;
  }
}

template <typename T>
void binaryVSK(int op, const T* pa, T s, T* out, size_t n, bool scalarFirst) {
  if (scalarFirst) {
    switch (op) {
#define BP_CASE(code, expr)          \
  case code:                         \
    for (size_t i = 0; i < n; ++i) { \
      const T a = s, b = pa[i];      \
      out[i] = (expr);               \
    }                                \
    break;
      BP_BINARY_OPS(BP_CASE)
#undef BP_CASE
      default:
        break;
    }
  } else {
    switch (op) {
#define BP_CASE(code, expr)          \
  case code:                         \
    for (size_t i = 0; i < n; ++i) { \
      const T a = pa[i], b = s;      \
      out[i] = (expr);               \
    }                                \
    break;
      BP_BINARY_OPS(BP_CASE)
#undef BP_CASE
      default:
        break;
    }
  }
}
