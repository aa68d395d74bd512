// Fused recurrent-cell kernels: one time step of an RNN (tanh/relu), LSTM or GRU cell.
// Forward: adds the two projections and the hidden bias, applies the gates' sigmoid/tanh (float32
// on AVX-512: the float-precision kernels below; otherwise the addon's SIMD unary kernels), and
// updates the state, row by row so that a row's gates stay in L1 between the passes.
// Backward: the per-gate products in plain loops the compiler vectorises.
// The semantics (and argument order) are documented on the Backend interface
// (lib/backend/types.ts) and implemented identically by lib/backend/js-rnn.ts.
#include "rnn.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "isa_targets.h"

namespace bp {
namespace {

#define BP_RNN_INLINE BP_ALWAYS_INLINE

// ---- float32 gate activations -------------------------------------------------------------
// The addon's unary kernels evaluate float32 sigmoid/tanh in double precision (correctly rounded
// results, ~1 ns per element); the gates of a cell do not need that, and their activations are a
// third of an LSTM step. These float-precision versions (a few ulp) are plain loops over inline
// branch-free code that GCC vectorises for AVX-512 (target attribute); they are used when the
// addon runs its AVX-512 table. Double, and the other tables, stay on the table's kernels.

// e^x for x in [-87, 88] (clamped): 2^k * 2^r with k = round(x log2 e), |r| <= 1/2, 2^r by a
// degree-7 polynomial (relative error below 2e-7).
inline float expClamped(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float t = x * 1.44269504088896341f;
  const float shifted = t + 12582912.0f;  // round to nearest (1.5 * 2^23 trick): k is in its
  const float k = shifted - 12582912.0f;  // low mantissa bits
  const float r = t - k;
  float p = 1.52527338e-5f;
  p = p * r + 1.54035304e-4f;
  p = p * r + 1.33335581e-3f;
  p = p * r + 9.61812911e-3f;
  p = p * r + 5.55041087e-2f;
  p = p * r + 2.40226507e-1f;
  p = p * r + 6.93147181e-1f;
  p = p * r + 1.0f;
  // 2^k from the mantissa bits of `shifted`, in unsigned arithmetic: converting k to int is
  // undefined when x is NaN (it passes the clamp); p is NaN then, and so is the result.
  uint32_t bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  bits = (bits - 0x4B400000u + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoidF(float x) { return 1.0f / (1.0f + expClamped(-x)); }

// tanh: an odd Taylor polynomial near 0 (where 1 - 2/(1 + e^2|x|) would cancel), that form beyond.
inline float tanhF(float x) {
  const float a = x < 0.0f ? -x : x;
  const float x2 = x * x;
  const float small =
      x * (1.0f + x2 * (-1.0f / 3.0f +
                        x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f + x2 * (62.0f / 2835.0f)))));
  const float big = 1.0f - 2.0f / (1.0f + expClamped(2.0f * a));
  const float signedBig = x < 0.0f ? -big : big;
  return a < 0.25f ? small : signedBig;
}

#ifdef BP_HAS_X86_VARIANTS
// AVX-512 only: its masked lanes let GCC vectorise the clamps and selects as they are; for AVX2
// it keeps them as branches (trapping math), which is no faster than the table's kernels.
#define BP_RNN_AVX512 BP_TARGET_AVX512
BP_RNN_AVX512 void sigmoidAvx512(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = sigmoidF(x[i]);
}
BP_RNN_AVX512 void tanhAvx512(const float* x, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] = tanhF(x[i]);
}
#endif

// The sigmoid/tanh/relu a cell applies: the fast float kernels above where they apply, else the
// table's unary kernels.
template <typename T>
struct Activations {
  const Kernels<T>& k;
  void (*sig)(const T*, T*, size_t) = nullptr;
  void (*th)(const T*, T*, size_t) = nullptr;
  // Whether the addon runs its AVX-512 table (the float32 rows are then compiled for it).
  bool avx512 = false;

  void sigmoid(const T* x, T* y, size_t n) const {
    if (sig)
      sig(x, y, n);
    else
      k.unary(kSigmoid, x, y, n, 0, 0);
  }
  void tanh(const T* x, T* y, size_t n) const {
    if (th)
      th(x, y, n);
    else
      k.unary(kTanh, x, y, n, 0, 0);
  }
  void relu(const T* x, T* y, size_t n) const { k.unary(kRelu, x, y, n, 0, 0); }
};

template <typename T>
Activations<T> activationsFor(const KernelTable& t);
template <>
Activations<double> activationsFor<double>(const KernelTable& t) {
  return {t.f64};
}
template <>
Activations<float> activationsFor<float>(const KernelTable& t) {
  Activations<float> a{t.f32};
#ifdef BP_HAS_X86_VARIANTS
  if (t.level == IsaLevel::kAvx512) {
    a.sig = sigmoidAvx512;
    a.th = tanhAvx512;
    a.avx512 = true;
  }
#endif
  return a;
}

template <typename T>
BP_RNN_INLINE void cellForwardImpl(const Activations<T>& act, int cell, size_t batch, size_t H,
                                   const T* xp, const T* hh, const T* b, const T* hp, const T* cp,
                                   T* h, T* c, T* sv) {
  const size_t G = gatesOf(cell);
  const size_t gw = G * H;
  for (size_t r = 0; r < batch; ++r) {
    const T* x = xp + r * gw;
    const T* y = hh + r * gw;
    T* hr = h + r * H;
    if (cell == kLstm) {
      T* s = sv + r * 4 * H;
      if (b)
        for (size_t j = 0; j < gw; ++j) s[j] = x[j] + y[j] + b[j];
      else
        for (size_t j = 0; j < gw; ++j) s[j] = x[j] + y[j];
      act.sigmoid(s, s, 2 * H);
      act.tanh(s + 2 * H, s + 2 * H, H);
      act.sigmoid(s + 3 * H, s + 3 * H, H);
      const T* cpr = cp + r * H;
      T* cr = c + r * H;
      for (size_t j = 0; j < H; ++j) cr[j] = s[H + j] * cpr[j] + s[j] * s[2 * H + j];
      act.tanh(cr, hr, H);
      for (size_t j = 0; j < H; ++j) hr[j] *= s[3 * H + j];
    } else if (cell == kGru) {
      T* s = sv + r * 4 * H;
      if (b) {
        for (size_t j = 0; j < 2 * H; ++j) s[j] = x[j] + y[j] + b[j];
        for (size_t j = 0; j < H; ++j) s[3 * H + j] = y[2 * H + j] + b[2 * H + j];
      } else {
        for (size_t j = 0; j < 2 * H; ++j) s[j] = x[j] + y[j];
        for (size_t j = 0; j < H; ++j) s[3 * H + j] = y[2 * H + j];
      }
      act.sigmoid(s, s, 2 * H);
      for (size_t j = 0; j < H; ++j) s[2 * H + j] = x[2 * H + j] + s[j] * s[3 * H + j];
      act.tanh(s + 2 * H, s + 2 * H, H);
      const T* hpr = hp + r * H;
      for (size_t j = 0; j < H; ++j) {
        const T z = s[H + j];
        hr[j] = (T(1) - z) * s[2 * H + j] + z * hpr[j];
      }
    } else {
      if (b)
        for (size_t j = 0; j < H; ++j) hr[j] = x[j] + y[j] + b[j];
      else
        for (size_t j = 0; j < H; ++j) hr[j] = x[j] + y[j];
      if (cell == kRnnTanh)
        act.tanh(hr, hr, H);
      else
        act.relu(hr, hr, H);
    }
  }
}

#ifdef BP_HAS_X86_VARIANTS
// The forward rows compiled for AVX-512 (float32 with the AVX-512 table).
BP_RNN_AVX512 void cellForwardAvx512(const Activations<float>& act, int cell, size_t batch,
                                     size_t H, const float* xp, const float* hh, const float* b,
                                     const float* hp, const float* cp, float* h, float* c,
                                     float* sv) {
  cellForwardImpl<float>(act, cell, batch, H, xp, hh, b, hp, cp, h, c, sv);
}
#endif

template <typename T>
void cellForward(const Activations<T>& act, int cell, size_t batch, size_t H, const T* xp,
                 const T* hh, const T* b, const T* hp, const T* cp, T* h, T* c, T* sv) {
#ifdef BP_HAS_X86_VARIANTS
  if constexpr (std::is_same_v<T, float>) {
    if (act.avx512) {
      cellForwardAvx512(act, cell, batch, H, xp, hh, b, hp, cp, h, c, sv);
      return;
    }
  }
#endif
  cellForwardImpl<T>(act, cell, batch, H, xp, hh, b, hp, cp, h, c, sv);
}

// Row kernels of the backward, branch-free with __restrict pointers so that they vectorise. The
// restrict promise holds for every caller that follows the Backend contract (outputs distinct
// from inputs); one that breaks it gets wrong numbers, never an access outside the arrays.
template <typename T>
BP_RNN_INLINE void lstmBackwardRow(size_t H, const T* __restrict s, const T* __restrict tc,
                                   const T* __restrict gt, const T* __restrict cpr,
                                   const T* __restrict gcn, T* __restrict gc, T* __restrict gx,
                                   T* __restrict gcp) {
  for (size_t j = 0; j < H; ++j) gc[j] = gcn[j] + gt[j] * s[3 * H + j] * (T(1) - tc[j] * tc[j]);
  for (size_t j = 0; j < H; ++j) {
    const T i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j];
    gx[j] = gc[j] * g * i * (T(1) - i);
    gx[H + j] = gc[j] * cpr[j] * f * (T(1) - f);
    gx[2 * H + j] = gc[j] * i * (T(1) - g * g);
    gx[3 * H + j] = gt[j] * tc[j] * o * (T(1) - o);
    gcp[j] = gc[j] * f;
  }
}

template <typename T>
BP_RNN_INLINE void gruBackwardRow(size_t H, const T* __restrict s, const T* __restrict gt,
                                  const T* __restrict hpr, T* __restrict gx, T* __restrict gy,
                                  T* __restrict ghp) {
  for (size_t j = 0; j < H; ++j) {
    const T rr = s[j], z = s[H + j], n = s[2 * H + j], hn = s[3 * H + j];
    const T gnp = gt[j] * (T(1) - z) * (T(1) - n * n);
    const T grp = gnp * hn * rr * (T(1) - rr);
    const T gzp = gt[j] * (hpr[j] - n) * z * (T(1) - z);
    gx[j] = grp;
    gx[H + j] = gzp;
    gx[2 * H + j] = gnp;
    gy[j] = grp;
    gy[H + j] = gzp;
    gy[2 * H + j] = gnp * rr;
    ghp[j] = gt[j] * z;
  }
}

template <typename T>
BP_RNN_INLINE void rnnBackwardRow(size_t H, bool tanhCell, const T* __restrict hr,
                                  const T* __restrict gt, T* __restrict gx) {
  if (tanhCell)
    for (size_t j = 0; j < H; ++j) gx[j] = gt[j] * (T(1) - hr[j] * hr[j]);
  else
    for (size_t j = 0; j < H; ++j) gx[j] = hr[j] > T(0) ? gt[j] : T(0);
}

template <typename T>
BP_RNN_INLINE void cellBackwardImpl(const Activations<T>& act, int cell, size_t batch, size_t H,
                                    const T* sv, const T* hp, const T* cp, const T* c, const T* h,
                                    const T* gh, const T* ghn, const T* gcn, T* gxp, T* ghh,
                                    T* ghPrev, T* gcPrev, T* rows) {
  const size_t G = gatesOf(cell);
  const size_t gw = G * H;
  // Rows of this call's own, in `rows` (4H elements for LSTM, else H, from the addon's workspace):
  // gt, the total gradient of h; for LSTM tc = tanh(c), gc, the total gradient of c, and zeros
  // standing in for a null gcNext. Every input row is read into these
  // before an output row is written, so ghPrev may be ghNext and gcPrev may be gcNext.
  const bool lstm = cell == kLstm;
  T* gt = rows;
  T* tc = lstm ? gt + H : nullptr;
  T* gc = lstm ? gt + 2 * H : nullptr;
  T* zero = lstm ? gt + 3 * H : nullptr;
  if (lstm && !gcn) std::memset(zero, 0, H * sizeof(T));  // the workspace holds old values
  for (size_t r = 0; r < batch; ++r) {
    const T* ghr = gh + r * H;
    if (ghn) {
      const T* ghnr = ghn + r * H;
      for (size_t j = 0; j < H; ++j) gt[j] = ghr[j] + ghnr[j];
    } else {
      std::memcpy(gt, ghr, H * sizeof(T));
    }
    T* gx = gxp + r * gw;
    T* ghp = ghPrev + r * H;
    if (lstm) {
      act.tanh(c + r * H, tc, H);
      lstmBackwardRow<T>(H, sv + r * 4 * H, tc, gt, cp + r * H, gcn ? gcn + r * H : zero, gc, gx,
                         gcPrev + r * H);
      std::memset(ghp, 0, H * sizeof(T));
    } else if (cell == kGru) {
      gruBackwardRow<T>(H, sv + r * 4 * H, gt, hp + r * H, gx, ghh + r * gw, ghp);
    } else {
      rnnBackwardRow<T>(H, cell == kRnnTanh, h + r * H, gt, gx);
      std::memset(ghp, 0, H * sizeof(T));
    }
  }
}

#ifdef BP_HAS_X86_VARIANTS
// The backward rows compiled for AVX-512 (float32 with the AVX-512 table).
BP_RNN_AVX512 void cellBackwardAvx512(const Activations<float>& act, int cell, size_t batch,
                                      size_t H, const float* sv, const float* hp, const float* cp,
                                      const float* c, const float* h, const float* gh,
                                      const float* ghn, const float* gcn, float* gxp, float* ghh,
                                      float* ghPrev, float* gcPrev, float* rows) {
  cellBackwardImpl<float>(act, cell, batch, H, sv, hp, cp, c, h, gh, ghn, gcn, gxp, ghh, ghPrev,
                          gcPrev, rows);
}
#endif

template <typename T>
void cellBackward(const Activations<T>& act, int cell, size_t batch, size_t H, const T* sv,
                  const T* hp, const T* cp, const T* c, const T* h, const T* gh, const T* ghn,
                  const T* gcn, T* gxp, T* ghh, T* ghPrev, T* gcPrev, T* rows) {
#ifdef BP_HAS_X86_VARIANTS
  if constexpr (std::is_same_v<T, float>) {
    if (act.avx512) {
      cellBackwardAvx512(act, cell, batch, H, sv, hp, cp, c, h, gh, ghn, gcn, gxp, ghh, ghPrev,
                         gcPrev, rows);
      return;
    }
  }
#endif
  cellBackwardImpl<T>(act, cell, batch, H, sv, hp, cp, c, h, gh, ghn, gcn, gxp, ghh, ghPrev, gcPrev,
                      rows);
}

}  // namespace

template <typename T>
void rnnCellForward(const ExecContext& ctx, int cell, size_t batch, size_t H, const T* xp,
                    const T* hh, const T* bHh, const T* hPrev, const T* cPrev, T* h, T* c,
                    T* saved) {
  if (batch == 0 || H == 0) return;
  cellForward(activationsFor<T>(*ctx.simd), cell, batch, H, xp, hh, bHh, hPrev, cPrev, h, c, saved);
}

template <typename T>
void rnnCellBackward(const ExecContext& ctx, int cell, size_t batch, size_t H, const T* saved,
                     const T* hPrev, const T* cPrev, const T* c, const T* h, const T* gh,
                     const T* ghNext, const T* gcNext, T* gxp, T* ghh, T* ghPrev, T* gcPrev) {
  if (batch == 0 || H == 0) return;
  T* rows = ctx.ws->get<T>(0, cell == kLstm ? 4 * H : H);  // kept between steps
  cellBackward(activationsFor<T>(*ctx.simd), cell, batch, H, saved, hPrev, cPrev, c, h, gh, ghNext,
               gcNext, gxp, ghh, ghPrev, gcPrev, rows);
}

#define BP_INSTANTIATE(T)                                                                          \
  template void rnnCellForward<T>(const ExecContext&, int, size_t, size_t, const T*, const T*,     \
                                  const T*, const T*, const T*, T*, T*, T*);                       \
  template void rnnCellBackward<T>(const ExecContext&, int, size_t, size_t, const T*, const T*,    \
                                   const T*, const T*, const T*, const T*, const T*, const T*, T*, \
                                   T*, T*, T*);
BP_INSTANTIATE(float)
BP_INSTANTIATE(double)
#undef BP_INSTANTIATE

}  // namespace bp
