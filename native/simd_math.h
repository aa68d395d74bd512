// Vector math in double precision. DEG picks the Taylor degree: 7 suffices for float results
// (truncation < 1e-8 relative), 13 for double (< 1e-16).
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_math.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

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
