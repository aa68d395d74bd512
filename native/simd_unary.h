// Unary activations and math, forward (unaryK) and backward (unaryBackwardK).
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_unary.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

// v rounded to T (identity for double). Where torch compares in the tensor's own precision
// (softplus's beta*x against its threshold), the double lanes round first to take its branch.
template <typename T>
BP_INLINE vd roundTo(vd v) {
  return widen(narrow<typename Vec<T>::H>(v));
}

// softplus, silu and elu run in functions of their own, kept out of unaryK / unaryBackwardK:
// compiled into those switches, their code changed how GCC compiled the older cases (float64
// gelu backward ran 16% slower on AVX-512). Their parameters are taken in T's precision, as
// torch converts them; the math runs in double. The backward kernels read only x and gy, so gy
// also fills the middle slot of mapW3.
#define BP_NOINLINE __attribute__((noinline))

// t = beta*x in T's precision, as torch computes it: it decides the branch (t > threshold) and
// feeds the curve, so float32 results follow torch's where rounding t moves log1p(exp(t)) by
// |t| 2^-24 relative (up to 6e-6 before the result underflows).
template <typename T>
BP_NOINLINE void softplusK(const T* x, T* y, size_t n, double beta, double threshold) {
  constexpr int D = Deg<T>::v;
  const vd b = splat<vd>(static_cast<T>(beta)), th = splat<vd>(static_cast<T>(threshold));
  mapW1(x, y, n, [b, th](vd v) {
    const vd t = roundTo<T>(v * b);
    return t > th ? v : vsoftplus<D>(t) / b;
  });
}

// exp(t) / (exp(t) + 1) is sigmoid(t), which never overflows.
template <typename T>
BP_NOINLINE void softplusBackwardK(const T* x, const T* gy, T* gx, size_t n, double beta,
                                   double threshold) {
  constexpr int D = Deg<T>::v;
  const vd b = splat<vd>(static_cast<T>(beta)), th = splat<vd>(static_cast<T>(threshold));
  mapW3(x, gy, gy, gx, n, [b, th](vd xv, vd g, vd) {
    const vd t = roundTo<T>(xv * b);
    return t > th ? g : g * vsigmoid<D>(t);
  });
}

template <typename T>
BP_NOINLINE void siluK(const T* x, T* y, size_t n) {
  constexpr int D = Deg<T>::v;
  mapW1(x, y, n, [](vd v) { return vsilu<D>(v); });
}

template <typename T>
BP_NOINLINE void siluBackwardK(const T* x, const T* gy, T* gx, size_t n) {
  constexpr int D = Deg<T>::v;
  mapW3(x, gy, gy, gx, n, [](vd xv, vd g, vd) { return g * vsiluGrad<D>(xv); });
}

template <typename T>
BP_NOINLINE void eluK(const T* x, T* y, size_t n, double alpha) {
  constexpr int D = Deg<T>::v;
  const vd a = splat<vd>(static_cast<T>(alpha));
  // + 0 turns expm1(-0) = -0 into torch's exp(-0) - 1 = +0 (then times alpha).
  mapW1(x, y, n, [a](vd v) { return v > splat<vd>(0) ? v : a * (vexpm1<D>(v) + splat<vd>(0.0)); });
}

template <typename T>
BP_NOINLINE void eluBackwardK(const T* x, const T* gy, T* gx, size_t n, double alpha) {
  constexpr int D = Deg<T>::v;
  const vd a = splat<vd>(static_cast<T>(alpha));
  mapW3(x, gy, gy, gx, n,
        [a](vd xv, vd g, vd) { return xv > splat<vd>(0) ? g : g * (a * vexp<D>(xv)); });
}

template <typename T>
void unaryK(int op, const T* x, T* y, size_t n, double p0, double p1) {
  typedef typename Vec<T>::V V;
  constexpr int D = Deg<T>::v;
  const T alpha = static_cast<T>(p0);
  switch (op) {
    case kRelu:
      map1(x, y, n, [](V v) { return v < splat<V>(0) ? splat<V>(0) : v; });
      break;
    case kLeakyRelu:
      map1(x, y, n, [alpha](V v) { return v > splat<V>(0) ? v : v * splat<V>(alpha); });
      break;
    case kSigmoid:
      mapW1(x, y, n, [](vd v) { return vsigmoid<D>(v); });
      break;
    case kTanh:
      mapW1(x, y, n, [](vd v) { return vtanh<D>(v); });
      break;
    case kGelu:
      mapW1(x, y, n, [](vd v) { return vgelu<D>(v); });
      break;
    case kExp:
      mapW1(x, y, n, [](vd v) { return vexp<D>(v); });
      break;
    case kLog:
      mapW1(x, y, n, [](vd v) { return vlog<D>(v); });
      break;
    case kSqrt:
      for (size_t i = 0; i < n; ++i)
        y[i] = sizeof(T) == 4 ? __builtin_sqrtf(x[i]) : __builtin_sqrt(x[i]);
      break;
    case kAbs:
      map1(x, y, n, [](V v) { return vabs(v); });
      break;
    case kNeg:
      map1(x, y, n, [](V v) { return -v; });
      break;
    case kSign:
      map1(x, y, n, [](V v) {
        V s = v > splat<V>(0) ? splat<V>(1) : v;
        return v < splat<V>(0) ? splat<V>(-1) : s;
      });
      break;
    case kSoftplus:
      softplusK(x, y, n, p0, p1);
      break;
    case kSilu:
      siluK(x, y, n);
      break;
    case kElu:
      eluK(x, y, n, p0);
      break;
    default:
      break;
  }
}

template <typename T>
void unaryBackwardK(int op, const T* x, const T* y, const T* gy, T* gx, size_t n, double p0,
                    double p1) {
  typedef typename Vec<T>::V V;
  constexpr int D = Deg<T>::v;
  const T alpha = static_cast<T>(p0);
  switch (op) {
    case kRelu:
      map3(x, y, gy, gx, n, [](V xv, V, V g) { return xv > splat<V>(0) ? g : splat<V>(0); });
      break;
    case kLeakyRelu:
      map3(x, y, gy, gx, n,
           [alpha](V xv, V, V g) { return xv > splat<V>(0) ? g : g * splat<V>(alpha); });
      break;
    case kSigmoid:
      map3(x, y, gy, gx, n, [](V, V yv, V g) { return g * yv * (splat<V>(1) - yv); });
      break;
    case kTanh:
      map3(x, y, gy, gx, n, [](V, V yv, V g) { return g * (splat<V>(1) - yv * yv); });
      break;
    case kGelu:
      mapW3(x, y, gy, gx, n, [](vd xv, vd, vd g) { return g * vgeluGrad<D>(xv); });
      break;
    case kExp:
      map3(x, y, gy, gx, n, [](V, V yv, V g) { return g * yv; });
      break;
    case kLog:
      map3(x, y, gy, gx, n, [](V xv, V, V g) { return g / xv; });
      break;
    case kSqrt:
      map3(x, y, gy, gx, n, [](V, V yv, V g) { return g / (yv + yv); });
      break;
    case kAbs:
      map3(x, y, gy, gx, n, [](V xv, V, V g) {
        V s = xv > splat<V>(0) ? splat<V>(1) : splat<V>(0);
        s = xv < splat<V>(0) ? splat<V>(-1) : s;
        return g * s;
      });
      break;
    case kNeg:
      map3(x, y, gy, gx, n, [](V, V, V g) { return -g; });
      break;
    case kSign:
      for (size_t i = 0; i < n; ++i) gx[i] = 0;
      break;
    case kSoftplus:
      softplusBackwardK(x, gy, gx, n, p0, p1);
      break;
    case kSilu:
      siluBackwardK(x, gy, gx, n);
      break;
    case kElu:
      eluBackwardK(x, gy, gx, n, p0);
      break;
    default:
      break;
  }
}
