// Recurrent-cell kernels (native/rnn.h) against references written here in double from the cell
// equations (torch's gate order: LSTM i, f, g, o; GRU r, z, n) and their derivatives: one step
// forward (h, c and the saved gates) and backward (gxp, ghh, ghPrev, gcPrev) for RNN tanh/relu,
// LSTM and GRU cells, with and without the hidden bias, the next step's gradients and an LSTM
// cell-state gradient, ghPrev/gcPrev aliasing ghNext/gcNext as the contract allows; batch and
// hidden sizes around the vector widths; every SIMD level this CPU runs (float32 on AVX-512 uses
// the fast gate activations), 1 and 2 threads, both dtypes.
#include "rnn.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

const char* cellName(int cell) {
  switch (cell) {
    case bp::kRnnTanh:
      return "rnnTanh";
    case bp::kRnnRelu:
      return "rnnRelu";
    case bp::kLstm:
      return "lstm";
    default:
      return "gru";
  }
}

size_t gates(int cell) { return cell == bp::kLstm ? 4 : cell == bp::kGru ? 3 : 1; }

double sigmoid(double v) { return 1 / (1 + std::exp(-v)); }

// Gate activations in float32 may come from the fast AVX-512 kernels (a few ulp) and products of
// up to five rounded factors follow; float64 ones from the tables' vector math.
template <typename T>
constexpr Tol cellTol();
template <>
constexpr Tol cellTol<float>() {
  return {2e-5, 2e-6};
}
template <>
constexpr Tol cellTol<double>() {
  return {1e-12, 1e-14};
}

struct Case {
  int cell;
  size_t batch, H;
  bool bias, ghNext, gcNext, alias;
};

std::string describe(const Case& k) {
  return str(cellName(k.cell), " batch=", k.batch, " hidden=", k.H, k.bias ? " bHh" : "",
             k.ghNext ? " ghNext" : "", k.gcNext ? " gcNext" : "", k.alias ? " aliased" : "");
}

std::vector<Case> cases() {
  std::vector<Case> all;
  for (int cell : {bp::kRnnTanh, bp::kRnnRelu, bp::kLstm, bp::kGru})
    for (size_t batch : {size_t(1), size_t(3), size_t(5)})
      for (size_t H : {size_t(1), size_t(7), size_t(16), size_t(33)})
        for (int variant = 0; variant < 3; ++variant)
          all.push_back({cell, batch, H, variant != 1, variant != 0,
                         variant == 2 && cell == bp::kLstm, variant == 2});
  all.push_back({bp::kLstm, 0, 8, true, true, true, false});  // no row: nothing is written
  all.push_back({bp::kGru, 4, 0, true, true, false, false});
  return all;
}

// The arrays of one step, filled as rnnCellForward's reference computes them, then rounded to T.
template <typename T>
struct Step {
  Step(const Case& k, Rng& rng)
      : G(gates(k.cell)),
        xp(normalBuf<T>(rng, k.batch * G * k.H)),
        hh(normalBuf<T>(rng, k.batch * G * k.H)),
        bHh(normalBuf<T>(rng, G * k.H, 0.5)),
        hPrev(uniformBuf<T>(rng, k.batch * k.H, -1, 1)),
        cPrev(normalBuf<T>(rng, k.batch * k.H)),
        h(k.batch * k.H),
        c(k.batch * k.H),
        saved(k.batch * 4 * k.H),
        hRef(k.batch * k.H),
        cRef(k.batch * k.H),
        savedRef(k.batch * 4 * k.H) {
    for (size_t r = 0; r < k.batch; ++r)
      for (size_t j = 0; j < k.H; ++j) forwardUnit(k, r, j);
  }

  // Pre-activation of gate q (the projections plus the hidden bias).
  double pre(const Case& k, size_t r, size_t q, size_t j) const {
    const size_t at = r * G * k.H + q * k.H + j;
    return static_cast<double>(xp[at]) + static_cast<double>(hh[at]) +
           (k.bias ? static_cast<double>(bHh[q * k.H + j]) : 0.0);
  }

  void forwardUnit(const Case& k, size_t r, size_t j) {
    const size_t u = r * k.H + j;
    double* s = savedRef.data() + r * 4 * k.H;
    if (k.cell == bp::kRnnTanh || k.cell == bp::kRnnRelu) {
      const double a = pre(k, r, 0, j);
      hRef[u] = k.cell == bp::kRnnTanh ? std::tanh(a) : (a > 0 ? a : 0.0);
    } else if (k.cell == bp::kLstm) {
      const double i = sigmoid(pre(k, r, 0, j)), f = sigmoid(pre(k, r, 1, j));
      const double g = std::tanh(pre(k, r, 2, j)), o = sigmoid(pre(k, r, 3, j));
      cRef[u] = f * static_cast<double>(cPrev[u]) + i * g;
      hRef[u] = o * std::tanh(cRef[u]);
      s[j] = i, s[k.H + j] = f, s[2 * k.H + j] = g, s[3 * k.H + j] = o;
    } else {
      const double rg = sigmoid(pre(k, r, 0, j)), z = sigmoid(pre(k, r, 1, j));
      // The n gate: r scales the hidden projection of n (with its bias), not the input's.
      const double hn = static_cast<double>(hh[r * 3 * k.H + 2 * k.H + j]) +
                        (k.bias ? static_cast<double>(bHh[2 * k.H + j]) : 0.0);
      const double n = std::tanh(static_cast<double>(xp[r * 3 * k.H + 2 * k.H + j]) + rg * hn);
      hRef[u] = (1 - z) * n + z * static_cast<double>(hPrev[u]);
      s[j] = rg, s[k.H + j] = z, s[2 * k.H + j] = n, s[3 * k.H + j] = hn;
    }
  }

  size_t G;
  Buf<T> xp, hh, bHh, hPrev, cPrev, h, c, saved;
  Buf<double> hRef, cRef, savedRef;
};

template <typename T>
Buf<T> rounded(const Buf<double>& ref) {
  Buf<T> out(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) out[i] = static_cast<T>(ref[i]);
  return out;
}

template <typename T>
void forward(const bp::ExecContext& ctx, const Case& k, Step<T>& st) {
  const bool lstm = k.cell == bp::kLstm, gru = k.cell == bp::kGru;
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Buf<T> h(st.h.size(), nan), c(st.c.size(), nan), saved(st.saved.size(), nan);
  bp::rnnCellForward(ctx, k.cell, k.batch, k.H, st.xp.data(), st.hh.data(),
                     k.bias ? st.bHh.data() : nullptr, gru ? st.hPrev.data() : nullptr,
                     lstm ? st.cPrev.data() : nullptr, h.data(), lstm ? c.data() : nullptr,
                     lstm || gru ? saved.data() : nullptr);
  BP_CHECK_CLOSE("h", h.data(), st.hRef.data(), h.size(), cellTol<T>());
  if (lstm) BP_CHECK_CLOSE("c", c.data(), st.cRef.data(), c.size(), cellTol<T>());
  if (lstm || gru)
    BP_CHECK_CLOSE("saved", saved.data(), st.savedRef.data(), saved.size(), cellTol<T>());
}

// The backward from the definitions, given the (rounded) forward results the kernel reads.
template <typename T>
void backward(const bp::ExecContext& ctx, const Case& k, const Step<T>& st, Rng& rng) {
  const bool lstm = k.cell == bp::kLstm, gru = k.cell == bp::kGru;
  const size_t H = k.H, G = st.G, rows = k.batch;
  const Buf<T> saved = rounded<T>(st.savedRef), c = rounded<T>(st.cRef), h = rounded<T>(st.hRef);
  const Buf<T> gh = normalBuf<T>(rng, rows * H);
  const Buf<T> ghNext = normalBuf<T>(rng, rows * H), gcNext = normalBuf<T>(rng, rows * H);
  Buf<double> gxpRef(rows * G * H), ghhRef(rows * G * H), ghPrevRef(rows * H), gcPrevRef(rows * H);
  for (size_t r = 0; r < rows; ++r)
    for (size_t j = 0; j < H; ++j) {
      const size_t u = r * H + j;
      const double gt =
          static_cast<double>(gh[u]) + (k.ghNext ? static_cast<double>(ghNext[u]) : 0.0);
      const T* s = saved.data() + r * 4 * H;
      double* gx = gxpRef.data() + r * G * H;
      if (lstm) {
        const double i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j];
        const double tc = std::tanh(static_cast<double>(c[u]));
        // h = o tanh(c), c = f cPrev + i g.
        const double gc =
            (k.gcNext ? static_cast<double>(gcNext[u]) : 0.0) + gt * o * (1 - tc * tc);
        gx[j] = gc * g * i * (1 - i);
        gx[H + j] = gc * static_cast<double>(st.cPrev[u]) * f * (1 - f);
        gx[2 * H + j] = gc * i * (1 - g * g);
        gx[3 * H + j] = gt * tc * o * (1 - o);
        gcPrevRef[u] = gc * f;
      } else if (gru) {
        const double rg = s[j], z = s[H + j], n = s[2 * H + j], hn = s[3 * H + j];
        // h = (1 - z) n + z hPrev, n = tanh(xn + r hn), hn = hh_n + b_n.
        const double gn = gt * (1 - z) * (1 - n * n);
        const double gr = gn * hn * rg * (1 - rg);
        const double gz = gt * (static_cast<double>(st.hPrev[u]) - n) * z * (1 - z);
        gx[j] = gr, gx[H + j] = gz, gx[2 * H + j] = gn;
        double* gy = ghhRef.data() + r * G * H;
        gy[j] = gr, gy[H + j] = gz, gy[2 * H + j] = gn * rg;
        ghPrevRef[u] = gt * z;
      } else if (k.cell == bp::kRnnTanh) {
        const double hv = h[u];
        gx[j] = gt * (1 - hv * hv);
      } else {
        gx[j] = h[u] > 0 ? gt : 0.0;
      }
    }
  const T nan = std::numeric_limits<T>::quiet_NaN();
  Buf<T> gxp(rows * G * H, nan), ghh(rows * G * H, nan), gcPrev(rows * H, nan);
  // ghPrev may be ghNext and gcPrev may be gcNext: the kernel reads a row before writing it.
  Buf<T> ghNextIn(ghNext), gcNextIn(gcNext), ghPrevOwn(rows * H, nan);
  T* ghPrev = k.alias && k.ghNext ? ghNextIn.data() : ghPrevOwn.data();
  T* gcPrevOut = !lstm ? nullptr : k.alias && k.gcNext ? gcNextIn.data() : gcPrev.data();
  bp::rnnCellBackward(ctx, k.cell, k.batch, k.H, lstm || gru ? saved.data() : nullptr,
                      gru ? st.hPrev.data() : nullptr, lstm ? st.cPrev.data() : nullptr,
                      lstm ? c.data() : nullptr, !lstm && !gru ? h.data() : nullptr, gh.data(),
                      k.ghNext ? ghNextIn.data() : nullptr, k.gcNext ? gcNextIn.data() : nullptr,
                      gxp.data(), gru ? ghh.data() : nullptr, ghPrev, gcPrevOut);
  const Tol tol = cellTol<T>();
  BP_CHECK_CLOSE("gxp", gxp.data(), gxpRef.data(), gxp.size(), tol);
  if (gru) BP_CHECK_CLOSE("ghh", ghh.data(), ghhRef.data(), ghh.size(), tol);
  BP_CHECK_CLOSE("ghPrev", ghPrev, ghPrevRef.data(), rows * H, tol);
  if (lstm) BP_CHECK_CLOSE("gcPrev", gcPrevOut, gcPrevRef.data(), rows * H, tol);
}

BP_TEST(forwardEveryCell) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(501);
    for (const Case& k : cases()) {
      Context c(describe(k));
      Step<T> st(k, rng);
      forward(ctx, k, st);
    }
  });
}

BP_TEST(backwardEveryCell) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(502);
    for (const Case& k : cases()) {
      Context c(describe(k));
      const Step<T> st(k, rng);
      backward(ctx, k, st, rng);
    }
  });
}

}  // namespace
