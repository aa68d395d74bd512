// Fused attention kernels (native/attention.h) against a reference written here in double from
// the definition, with the whole Lq x Lk score matrix: forward (out, lse) and backward (gq, gk,
// gv) over lengths around the 64-wide tiles, Lq != Lk, D != Dv, no mask / key-padding rows /
// a full mask, causal, dropout (the mask of attention.h's position hash), a row that sees no key
// (NaN out, -inf lse); every SIMD level this CPU runs, 1 and 2 threads, both dtypes.
#include "attention.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

struct Case {
  size_t B, H, Lq, Lk, D, Dv;
  int mask;  // 0 none, 1 key padding [B, Lk], 2 full [B, H, Lq, Lk]
  bool causal;
  double dropoutP;
};

std::vector<Case> cases() {
  return {
      {1, 1, 1, 1, 1, 1, 0, false, 0},      {2, 3, 5, 7, 4, 3, 1, false, 0},
      {1, 2, 65, 65, 8, 8, 0, true, 0},     {2, 1, 64, 130, 16, 5, 2, false, 0},
      {1, 1, 129, 63, 3, 17, 2, true, 0},   {2, 2, 70, 90, 8, 4, 1, true, 0.3},
      {1, 1, 17, 200, 5, 6, 0, false, 0.9},
  };
}

std::string describe(const Case& k) {
  return str("B=", k.B, " H=", k.H, " Lq=", k.Lq, " Lk=", k.Lk, " D=", k.D, " Dv=", k.Dv,
             " mask=", k.mask, k.causal ? " causal" : "", " p=", k.dropoutP);
}

template <typename T>
constexpr Tol attnTol();
template <>
constexpr Tol attnTol<float>() {
  return {2e-4, 2e-5};
}
template <>
constexpr Tol attnTol<double>() {
  return {1e-11, 1e-12};
}

template <typename T>
void run(const bp::ExecContext& ctx, const Case& k, Rng& rng) {
  const size_t P = k.B * k.H;
  Buf<T> q = normalBuf<T>(rng, P * k.Lq * k.D), kk = normalBuf<T>(rng, P * k.Lk * k.D);
  Buf<T> v = normalBuf<T>(rng, P * k.Lk * k.Dv), g = normalBuf<T>(rng, P * k.Lq * k.Dv);
  const double ninf = -std::numeric_limits<double>::infinity();
  bp::AttentionShape s{
      k.B,        k.H,       k.Lq, k.Lk, k.D, k.Dv, 0, 0, 0, k.causal, 1 / std::sqrt(double(k.D)),
      k.dropoutP, 987654321u};
  Buf<T> mask(k.mask == 0 ? 0 : k.mask == 1 ? k.B * k.Lk : P * k.Lq * k.Lk);
  if (k.mask == 1) {
    for (size_t i = 0; i < mask.size(); ++i)
      mask[i] = static_cast<T>(i % k.Lk != 0 && rng.uniform() < 0.3 ? ninf : 0.0);
    s.maskB = k.Lk;
  } else if (k.mask == 2) {
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = static_cast<T>(rng.normal());
    s.maskB = k.H * k.Lq * k.Lk;
    s.maskH = k.Lq * k.Lk;
    s.maskI = k.Lk;
  }
  const T* m = k.mask == 0 ? nullptr : mask.data();
  // The reference, one problem and one query row at a time, in double.
  Buf<double> outRef(P * k.Lq * k.Dv), lseRef(P * k.Lq), gqRef(q.size()), gkRef(kk.size()),
      gvRef(v.size());
  const double keep = 1 / (1 - k.dropoutP);
  for (size_t bh = 0; bh < P; ++bh) {
    for (size_t i = 0; i < k.Lq; ++i) {
      std::vector<double> sc(k.Lk), p(k.Lk), mult(k.Lk, 1.0), dp(k.Lk);
      for (size_t j = 0; j < k.Lk; ++j) {
        double dot = 0;
        for (size_t d = 0; d < k.D; ++d)
          dot += double(q[(bh * k.Lq + i) * k.D + d]) * kk[(bh * k.Lk + j) * k.D + d];
        double add = 0;
        if (k.mask == 1) add = mask[(bh / k.H) * k.Lk + j];
        if (k.mask == 2) add = mask[(bh * k.Lq + i) * k.Lk + j];
        sc[j] = s.scale * dot + add + (k.causal && j > i ? ninf : 0.0);
        if (k.dropoutP > 0)
          mult[j] = double(bp::dropoutHash(s.seed, uint32_t(bh * k.Lq + i), uint32_t(j))) >=
                            k.dropoutP * 4294967296.0
                        ? keep
                        : 0.0;
      }
      double mx = ninf;
      for (double x : sc) mx = std::max(mx, x);
      double z = 0;
      for (double x : sc) z += std::exp(x - mx);
      lseRef[bh * k.Lq + i] = mx + std::log(z);
      for (size_t j = 0; j < k.Lk; ++j) p[j] = std::exp(sc[j] - mx) / z;
      double delta = 0;
      for (size_t j = 0; j < k.Lk; ++j)
        for (size_t d = 0; d < k.Dv; ++d) {
          const double vv = v[(bh * k.Lk + j) * k.Dv + d], gg = g[(bh * k.Lq + i) * k.Dv + d];
          outRef[(bh * k.Lq + i) * k.Dv + d] += p[j] * mult[j] * vv;
          gvRef[(bh * k.Lk + j) * k.Dv + d] += p[j] * mult[j] * gg;
          dp[j] += gg * vv * mult[j];
        }
      for (size_t j = 0; j < k.Lk; ++j) delta += p[j] * dp[j];
      for (size_t j = 0; j < k.Lk; ++j) {
        const double ds = s.scale * p[j] * (dp[j] - delta);
        for (size_t d = 0; d < k.D; ++d) {
          gqRef[(bh * k.Lq + i) * k.D + d] += ds * kk[(bh * k.Lk + j) * k.D + d];
          gkRef[(bh * k.Lk + j) * k.D + d] += ds * q[(bh * k.Lq + i) * k.D + d];
        }
      }
    }
  }
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Buf<T> out(outRef.size(), nan), lse(lseRef.size(), nan), gq(q.size(), nan), gk(kk.size(), nan),
      gv(v.size(), nan);
  bp::attentionForward(ctx, s, q.data(), kk.data(), v.data(), m, out.data(), lse.data());
  bp::attentionBackward(ctx, s, q.data(), kk.data(), v.data(), m, out.data(), lse.data(), g.data(),
                        gq.data(), gk.data(), gv.data());
  const Tol tol = attnTol<T>();
  BP_CHECK_CLOSE("out", out.data(), outRef.data(), out.size(), tol);
  BP_CHECK_CLOSE("lse", lse.data(), lseRef.data(), lse.size(), tol);
  BP_CHECK_CLOSE("gq", gq.data(), gqRef.data(), gq.size(), tol);
  BP_CHECK_CLOSE("gk", gk.data(), gkRef.data(), gk.size(), tol);
  BP_CHECK_CLOSE("gv", gv.data(), gvRef.data(), gv.size(), tol);
}

BP_TEST(forwardAndBackwardAgainstTheFullMatrix) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(601);
    for (const Case& k : cases()) {
      Context c(describe(k));
      run<T>(ctx, k, rng);
    }
  });
}

BP_TEST(aRowThatSeesNoKeyIsNaN) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    const T ninf = -std::numeric_limits<T>::infinity();
    // One problem, 2 queries, 3 keys; the mask hides every key from query 1.
    Buf<T> q(2 * 2, T(0.5)), k(3 * 2, T(0.25)), v(3 * 2, T(1)), mask(2 * 3, T(0));
    for (size_t j = 0; j < 3; ++j) mask[3 + j] = ninf;
    const bp::AttentionShape s{1, 1, 2, 3, 2, 2, 0, 0, 3, false, 1.0, 0.0, 0u};
    Buf<T> out(4), lse(2);
    bp::attentionForward(ctx, s, q.data(), k.data(), v.data(), mask.data(), out.data(), lse.data());
    const double want[] = {1, 1, std::nan(""), std::nan("")};
    BP_CHECK_CLOSE("out", out.data(), want, 4, attnTol<T>());
    BP_CHECK(std::isinf(double(lse[1])) && lse[1] < 0);
  });
}

}  // namespace
