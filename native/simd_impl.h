// Kernel implementations shared by every instruction set. Included by simd_avx512.cc,
// simd_avx2.cc and simd_scalar.cc inside their own namespace (bp::avx512, ...) after a
// `#pragma GCC target`, with BP_VBYTES set to the vector width in bytes and BP_ISA_NAME to the
// level's name. GCC vector extensions lower to the instruction set of the including unit.
//
// ODR rule for this file: no #include, nothing from std::. Anything inline or templated that
// the standard headers define would be emitted once per ISA and the linker could keep the
// AVX-512 copy for the scalar path. Everything here lives in the per-ISA namespace instead;
// libm is reached only through __builtin_* calls (plain C symbols).

#ifndef BP_VBYTES
#error "define BP_VBYTES before including simd_impl.h"
#endif

// Vector helpers must inline: a 128-byte double vector returned from a real call goes through
// memory and costs more than the math.
#define BP_INLINE inline __attribute__((always_inline))

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

// ---------------------------------------------------------------------------------------------
// Vector math in double precision. DEG picks the Taylor degree: 7 suffices for float results
// (truncation < 1e-8 relative), 13 for double (< 1e-16).

constexpr double kInvFact[16] = {1.0,
                                 1.0,
                                 1.0 / 2,
                                 1.0 / 6,
                                 1.0 / 24,
                                 1.0 / 120,
                                 1.0 / 720,
                                 1.0 / 5040,
                                 1.0 / 40320,
                                 1.0 / 362880,
                                 1.0 / 3628800,
                                 1.0 / 39916800,
                                 1.0 / 479001600,
                                 1.0 / 6227020800.0,
                                 1.0 / 87178291200.0,
                                 1.0 / 1307674368000.0};

// exp(x): x = k ln2 + r with |r| <= ln2/2, exp(r) by Taylor, 2^k built from the exponent bits in
// two halves so that results near the overflow/underflow limits stay right. vexpSplit returns
// exp(x) as the product hi * lo of those parts, both normal numbers: a caller whose result is
// exp(x) times a factor larger than 1 multiplies the factor into hi first, so that a normal
// result does not pass through a subnormal exp(x) (x < -708) and lose its bits there.
// Arguments below -746 (where exp underflows to 0) are clamped to -746.
constexpr double kExpClampLow = -746.0;

template <int DEG, typename W>
BP_INLINE void vexpSplit(W x, W& hi, W& lo) {
  typedef typename IntOf<W>::I I;
  x = x > splat<W>(710.0) ? splat<W>(710.0) : x;
  x = x < splat<W>(kExpClampLow) ? splat<W>(kExpClampLow) : x;
  const W shifter = splat<W>(6755399441055744.0);  // 1.5 * 2^52: rounds to an integer
  W t = x * splat<W>(1.4426950408889634) + shifter;
  W k = t - shifter;
  W r = x - k * splat<W>(6.93147180369123816490e-01);  // ln2 high part: k*hi is exact
  r = r - k * splat<W>(1.90821492927058770002e-10);    // ln2 low part
  W p = splat<W>(kInvFact[DEG]);
#pragma GCC unroll 16
  for (int i = DEG - 1; i >= 0; --i) p = p * r + splat<W>(kInvFact[i]);
  I ki = (I)t - (I)shifter;
  I k1 = ki >> 1;
  I k2 = ki - k1;
  W s1 = (W)((k1 + 1023) << 52);
  W s2 = (W)((k2 + 1023) << 52);
  hi = p * s1;
  lo = s2;
}

template <int DEG, typename W>
BP_INLINE W vexp(W x) {
  W hi, lo;
  vexpSplit<DEG>(x, hi, lo);
  return hi * lo;
}

// log(x): x = m * 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with s = (m-1)/(m+1),
// |s| <= 0.1716, by its series 2s (1 + s^2/3 + s^4/5 + ...); subnormals are scaled up first.
template <int DEG, typename W>
BP_INLINE W vlog(W x) {
  typedef typename IntOf<W>::I I;
  constexpr int terms = DEG > 7 ? 12 : 7;  // truncation < 1e-17 (double) / 1e-9 (float)
  const W tiny = splat<W>(2.2250738585072014e-308);
  const W scaled = x * splat<W>(18014398509481984.0);  // 2^54
  const W xs = x < tiny ? scaled : x;
  const W eAdj = x < tiny ? splat<W>(-54.0) : splat<W>(0.0);
  const I bits = (I)xs;
  const I expBits = (bits >> 52) & 0x7ff;
  W e = __builtin_convertvector(expBits - 1023, W) + eAdj;
  W m = (W)((bits & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);
  const I big = m > splat<W>(1.4142135623730951);
  m = big ? m * splat<W>(0.5) : m;
  e = big ? e + splat<W>(1.0) : e;
  const W s = (m - splat<W>(1.0)) / (m + splat<W>(1.0));
  const W s2 = s * s;
  W p = splat<W>(1.0 / (2 * terms - 1));
#pragma GCC unroll 16
  for (int k = terms - 2; k >= 0; --k) p = p * s2 + splat<W>(1.0 / (2 * k + 1));
  W r = e * splat<W>(6.93147180369123816490e-01) +
        (s * splat<W>(2.0) * p + e * splat<W>(1.90821492927058770002e-10));
  r = x == splat<W>(0.0) ? splat<W>(-__builtin_inf()) : r;
  r = x < splat<W>(0.0) ? splat<W>(__builtin_nan("")) : r;
  r = x == splat<W>(__builtin_inf()) ? x : r;
  return x != x ? x : r;
}

// expm1(x) for |x| < 0.5 by its Taylor series, which keeps the relative accuracy of tiny
// results that exp(x) - 1 would cancel away (truncation < 1e-17 relative for DEG 13, 3e-10 for 7).
template <int DEG, typename W>
BP_INLINE W vexpm1Taylor(W x) {
  W p = splat<W>(kInvFact[DEG + 2]);
#pragma GCC unroll 16
  for (int i = DEG + 1; i >= 1; --i) p = p * x + splat<W>(kInvFact[i]);
  return p * x;
}

// expm1(x) for x >= 0 (callers pass |x|).
template <int DEG, typename W>
BP_INLINE W vexpm1Pos(W x) {
  W big = vexp<DEG>(x) - splat<W>(1.0);
  return x < splat<W>(0.5) ? vexpm1Taylor<DEG>(x) : big;
}

// expm1(x) of either sign; beyond |x| = 0.5, exp(x) - 1 loses at most a factor 1.6 (at -0.5).
template <int DEG, typename W>
BP_INLINE W vexpm1(W x) {
  W big = vexp<DEG>(x) - splat<W>(1.0);
  return vabs(x) < splat<W>(0.5) ? vexpm1Taylor<DEG>(x) : big;
}

// log1p(z) for finite z >= 0. u = 1 + z rounds, but d = z - (u - 1) is exactly that rounding
// error (u - 1 is exact for u <= 2; above, d is negligible next to log u), and
// log(1 + z) = log(u) + log(1 + d/u) = log(u) + d/u to within (d/u)^2 < 2^-106: tiny z keeps
// its relative accuracy where log(u) alone would return 0 for z < 2^-53.
template <int DEG, typename W>
BP_INLINE W vlog1p(W z) {
  const W u = splat<W>(1.0) + z;
  return vlog<DEG>(u) + (z - (u - splat<W>(1.0))) / u;
}

template <int DEG, typename W>
BP_INLINE W vtanh(W x) {
  W a = vabs(x);
  a = a > splat<W>(20.0) ? splat<W>(20.0) : a;  // tanh(20) rounds to 1 in double
  W e = vexpm1Pos<DEG>(a + a);
  W t = e / (e + splat<W>(2.0));
  return x < splat<W>(0) ? -t : t;
}

template <int DEG, typename W>
BP_INLINE W vsigmoid(W x) {
  W e = vexp<DEG>(-vabs(x));
  W inv = splat<W>(1.0) / (splat<W>(1.0) + e);
  return x >= splat<W>(0) ? inv : e * inv;
}

// log(1 + exp(t)) = max(t, 0) + log1p(exp(-|t|)): no overflow for large t, no loss for
// large negative t (where the result is exp(t) itself).
template <int DEG, typename W>
BP_INLINE W vsoftplus(W t) {
  return vmax(t, splat<W>(0.0)) + vlog1p<DEG>(vexp<DEG>(-vabs(t)));
}

// silu(x) = x sigmoid(x): x / (1 + e) for x >= 0 and x e / (1 + e) below, e = exp(-|x|). For
// x down to -745 the result x e^x is normal where e^x is not: x goes into e's high part first.
// Below the clamp of exp, x * 0 gives torch's -0 (and its NaN at -Infinity).
template <int DEG, typename W>
BP_INLINE W vsilu(W x) {
  W hi, lo;
  vexpSplit<DEG>(-vabs(x), hi, lo);
  const W inv = splat<W>(1.0) / (splat<W>(1.0) + hi * lo);
  const W neg = x < splat<W>(kExpClampLow) ? x * splat<W>(0.0) : x * inv * hi * lo;
  return x >= splat<W>(0) ? x * inv : neg;
}

// silu'(x) = s (1 + x (1 - s)), s = sigmoid(x), with 1 - s taken from e = exp(-|x|) like s
// itself rather than by subtraction (which would cancel for large x); for x < 0 it is
// e inv (1 + x inv), inv = 1 / (1 + e), with e's high part multiplied in first as in vsilu.
template <int DEG, typename W>
BP_INLINE W vsiluGrad(W x) {
  W hi, lo;
  vexpSplit<DEG>(-vabs(x), hi, lo);
  const W e = hi * lo;
  const W inv = splat<W>(1.0) / (splat<W>(1.0) + e);
  const W pos = inv * (splat<W>(1.0) + x * e * inv);
  const W m = inv * (splat<W>(1.0) + x * inv);
  const W neg = x < splat<W>(kExpClampLow) ? m * splat<W>(0.0) : m * hi * lo;
  return x >= splat<W>(0) ? pos : neg;
}

// erfc(v) for v >= 0 as t * exp(-v^2 + P(t)), t = 2 / (2 + v), P a polynomial fitted (Chebyshev
// least squares against a float64 erfcx) on v in [0, 28]; max error of P: 4e-11 (degree 14,
// float results) and 3e-15 (degree 22, double results).
constexpr double kErfcT0 = 1.0 / 15.0;
constexpr double kErfcP14[15] = {
    -4.509851612615383e-06, 5.2852870122726226e-06, 2.9802766854666085e-05, -5.362807568193185e-05,
    -9.292618268552148e-05, 0.00030931347146397753, 0.00013024018918586906, -0.0014318492217056413,
    0.00043855438487837387, 0.0065929326754184505,  -0.005189155751594196,  -0.0399423257016513,
    0.032864863730501716,   0.6330982683018185,     -0.6267548660446945};
constexpr double kErfcP22[23] = {
    9.36183126319195e-09,   -2.4274892563049458e-08, -5.307742909714025e-08,
    2.4158973313712984e-07, -2.9692422623231987e-08, -1.1137787736348813e-06,
    1.608002404082323e-06,  2.5742685805619314e-06,  -9.979991874810347e-06,
    2.008601087000233e-06,  3.803059396786871e-05,   -5.121401218349358e-05,
    -9.958025528029616e-05, 0.00030828009236251496,  0.0001332683734305396,
    -0.0014316033350500056, 0.0004377994342677269,   0.006592903700776049,
    -0.005189062823157542,  -0.039942324417930844,   0.03286485935736119,
    0.6330982682940408,     -0.6267548660108487};

template <int DEG, typename W>
BP_INLINE W verfcPos(W v) {
  v = v > splat<W>(27.5) ? splat<W>(27.5) : v;
  W t = splat<W>(2.0) / (splat<W>(2.0) + v);
  W u = (t - splat<W>(kErfcT0)) * splat<W>(2.0 / (1.0 - kErfcT0)) - splat<W>(1.0);
  W p;
  if (DEG > 7) {
    p = splat<W>(kErfcP22[0]);
#pragma GCC unroll 24
    for (int i = 1; i < 23; ++i) p = p * u + splat<W>(kErfcP22[i]);
  } else {
    p = splat<W>(kErfcP14[0]);
#pragma GCC unroll 16
    for (int i = 1; i < 15; ++i) p = p * u + splat<W>(kErfcP14[i]);
  }
  return t * vexp<DEG>(p - v * v);
}

// Phi(x) = erfc(-x / sqrt 2) / 2, accurate in the left tail too.
template <int DEG, typename W>
BP_INLINE W vnormcdf(W x) {
  W z = x * splat<W>(0.70710678118654752440);
  W e = verfcPos<DEG>(vabs(z));
  W c = z > splat<W>(0) ? splat<W>(2.0) - e : e;
  return splat<W>(0.5) * c;
}

template <int DEG, typename W>
BP_INLINE W vgelu(W x) {
  return x * vnormcdf<DEG>(x);
}

template <int DEG, typename W>
BP_INLINE W vgeluGrad(W x) {
  W pdf = vexp<DEG>(splat<W>(-0.5) * x * x) * splat<W>(0.39894228040143267794);
  return vnormcdf<DEG>(x) + x * pdf;
}

// ---------------------------------------------------------------------------------------------
// Elementwise drivers: F maps vectors; the tail goes through a zero-padded vector.

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

// ---------------------------------------------------------------------------------------------
// Binary ops: plain loops per op, vectorised by the compiler for this unit's instruction set.

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

// ---------------------------------------------------------------------------------------------
// Reductions over [outer, n, inner]. Sums accumulate in double (float inputs too).

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

// ---------------------------------------------------------------------------------------------
// Softmax family, one row at a time.

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

template <typename T>
void softmaxK(const T* x, size_t rows, size_t cols, T* y, bool log) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const T m = maxContig(xr, cols);
    if (log) {
      // exp values go to y first, then y is overwritten with x - m - log(sum).
      const double s = expShiftSum(xr, yr, cols, m);
      const double shift = static_cast<double>(m) + __builtin_log(s);
      for (size_t i = 0; i < cols; ++i) yr[i] = static_cast<T>(static_cast<double>(xr[i]) - shift);
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
    losses[r] =
        static_cast<T>(static_cast<double>(m) + __builtin_log(s) - static_cast<double>(xr[t]));
  }
}

// ---------------------------------------------------------------------------------------------
// Optimizer steps (torch.optim semantics), computed in double.

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

// ---------------------------------------------------------------------------------------------
// GEMM micro-kernel: MR rows x NV vectors, accumulators in registers.

template <typename T, int MR, int NV>
void gemmMicroK(size_t kc, const T* __restrict a, const T* __restrict b, T* c, size_t ldc, T alpha,
                T beta) {
  typedef typename Vec<T>::V V;
  constexpr int L = Vec<T>::L;
  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V{};
  for (size_t p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = load<V>(b + j * L);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const V av = splat<V>(a[i]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] += av * bv[j];
    }
    a += MR;
    b += NV * L;
  }
  const V va = splat<V>(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) store(c + i * ldc + j * L, va * acc[i][j]);
  } else {
    const V vb = splat<V>(beta);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        T* p = c + i * ldc + j * L;
        store(p, va * acc[i][j] + vb * load<V>(p));
      }
  }
}

// Small GEMM: blocks of R rows x NV vectors of C accumulated in registers (R*NV independent
// FMA chains, each B vector loaded once for R rows); B rows are contiguous along the columns.
// The last n % L columns come from a zero-padded copy in scratch (row stride L) and are stored
// partially (`cols` < L).
template <typename T, int R, int NV>
BP_INLINE void smallBlock(size_t k, const T* a, size_t ars, size_t acs, const T* b, size_t ldb,
                          T* c, size_t ldc, T alpha, T beta, size_t cols) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  V s[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) s[r][q] = V{};
  for (size_t p = 0; p < k; ++p) {
    V bv[NV];
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) bv[q] = load<V>(b + p * ldb + q * L);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V av = splat<V>(a[r * ars + p * acs]);
#pragma GCC unroll 4
      for (int q = 0; q < NV; ++q) s[r][q] += av * bv[q];
    }
  }
  const V va = splat<V>(alpha), vb = splat<V>(beta);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) {
      T* cp = c + r * ldc + q * L;
      V out = va * s[r][q];
      if (cols == L) {
        if (beta != T(0)) out += vb * load<V>(cp);
        store(cp, out);
      } else {
        if (beta != T(0)) out += vb * loadPartial<V>(cp, cols);
        storePartial(cp, out, cols);
      }
    }
}

template <typename T, int R>
BP_INLINE void smallRows(size_t n, size_t k, const T* a, size_t ars, size_t acs, const T* b,
                         size_t ldb, T* c, size_t ldc, T alpha, T beta, const T* tail) {
  constexpr size_t L = Vec<T>::L;
  const size_t nFull = n - n % L;
  size_t j = 0;
  for (; j + 2 * L <= nFull; j += 2 * L)
    smallBlock<T, R, 2>(k, a, ars, acs, b + j, ldb, c + j, ldc, alpha, beta, L);
  for (; j < nFull; j += L)
    smallBlock<T, R, 1>(k, a, ars, acs, b + j, ldb, c + j, ldc, alpha, beta, L);
  if (n > nFull)
    smallBlock<T, R, 1>(k, a, ars, acs, tail, L, c + nFull, ldc, alpha, beta, n - nFull);
}

template <typename T>
void gemmSmallK(size_t m, size_t n, size_t k, T alpha, const T* a, size_t ars, size_t acs,
                const T* b, size_t ldb, T beta, T* c, size_t ldc, T* scratch) {
  constexpr size_t L = Vec<T>::L;
  if (n == 1 && acs == 1 && ldb == 1) {
    // Matrix-vector: one dot product per row, vectorised along k.
    typedef typename Vec<T>::V V;
    for (size_t i = 0; i < m; ++i) {
      const T* ai = a + i * ars;
      V s0 = {}, s1 = {};
      size_t p = 0;
      for (; p + 2 * L <= k; p += 2 * L) {
        s0 += load<V>(ai + p) * load<V>(b + p);
        s1 += load<V>(ai + p + L) * load<V>(b + p + L);
      }
      for (; p + L <= k; p += L) s0 += load<V>(ai + p) * load<V>(b + p);
      s0 += s1;
      T dot = 0;
      for (size_t l = 0; l < L; ++l) dot += s0[l];
      for (; p < k; ++p) dot += ai[p] * b[p];
      c[i * ldc] = beta == T(0) ? alpha * dot : alpha * dot + beta * c[i * ldc];
    }
    return;
  }
  const size_t nFull = n - n % L, rem = n % L;
  if (rem) {
    for (size_t p = 0; p < k; ++p) {
      T* d = scratch + p * L;
      for (size_t j = 0; j < L; ++j) d[j] = j < rem ? b[p * ldb + nFull + j] : T(0);
    }
  }
  size_t i = 0;
  for (; i + 4 <= m; i += 4)
    smallRows<T, 4>(n, k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, alpha, beta, scratch);
  for (; i < m; ++i)
    smallRows<T, 1>(n, k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, alpha, beta, scratch);
}

const KernelTable table = {
    BP_ISA_NAME,
    BP_ISA_LEVEL,
    {&unaryK<float>, &unaryBackwardK<float>, &binaryVVK<float>, &binaryVSK<float>, &reduceK<float>,
     &softmaxK<float>, &softmaxBackwardK<float>, &softmaxCrossEntropyK<float>, &sgdStepK<float>,
     &adamStepK<float>, &gemmMicroK<float, BP_GEMM_MR_F32, BP_GEMM_NV_F32>, BP_GEMM_MR_F32,
     BP_GEMM_NV_F32* Vec<float>::L, &gemmSmallK<float>},
    {&unaryK<double>, &unaryBackwardK<double>, &binaryVVK<double>, &binaryVSK<double>,
     &reduceK<double>, &softmaxK<double>, &softmaxBackwardK<double>, &softmaxCrossEntropyK<double>,
     &sgdStepK<double>, &adamStepK<double>, &gemmMicroK<double, BP_GEMM_MR_F64, BP_GEMM_NV_F64>,
     BP_GEMM_MR_F64, BP_GEMM_NV_F64* Vec<double>::L, &gemmSmallK<double>},
};
