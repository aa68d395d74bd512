// Fused recurrent-cell kernels: one time step of an RNN (tanh/relu), LSTM or GRU cell.
// Forward: adds the two projections and the hidden bias, applies the gates' sigmoid/tanh through
// the addon's SIMD unary kernels, and updates the state, row by row so that a row's gates stay in
// L1 between the passes. Backward: the per-gate products in plain loops the compiler vectorises.
// The semantics (and argument order) are documented on the Backend interface
// (lib/backend/types.ts) and implemented identically by lib/backend/js-rnn.ts.
#include "rnn.h"

#include <cstring>
#include <string>
#include <vector>

#include "args.h"

namespace bp {
namespace {

enum CellCode : int { kRnnTanh = 0, kRnnRelu, kLstm, kGru, kCellCount };

size_t gatesOf(int cell) { return cell == kLstm ? 4 : cell == kGru ? 3 : 1; }

template <typename T> const Kernels<T>& pick(const KernelTable& t);
template <> const Kernels<float>& pick<float>(const KernelTable& t) { return t.f32; }
template <> const Kernels<double>& pick<double>(const KernelTable& t) { return t.f64; }

const KernelTable& tableOf(const Napi::CallbackInfo& info) {
  return **static_cast<const KernelTable* const*>(info.Data());
}

// Reads argument i: a float array of at least `need` elements, or null; null is refused when the
// cell needs the array (`required`). An array the cell does not need is checked and ignored.
FloatArg cellArray(Args& args, size_t i, const char* name, size_t need, bool required,
                   const char* why) {
  FloatArg a = args.floatsOrNull(i, name);
  if (required && a.isNull) args.typeError(i, name, std::string("is required ") + why + ", got null");
  if (!a.isNull) args.atLeast(a, need, i, name);
  return a;
}

void mustBeNull(Args& args, const FloatArg& a, size_t i, const char* name, const char* why) {
  if (!a.isNull) args.typeError(i, name, std::string("must be null ") + why);
}

template <typename T>
void cellForward(const Kernels<T>& k, int cell, size_t batch, size_t H, const T* xp, const T* hh,
                 const T* b, const T* hp, const T* cp, T* h, T* c, T* sv) {
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
      k.unary(kSigmoid, s, s, 2 * H, 0);
      k.unary(kTanh, s + 2 * H, s + 2 * H, H, 0);
      k.unary(kSigmoid, s + 3 * H, s + 3 * H, H, 0);
      const T* cpr = cp + r * H;
      T* cr = c + r * H;
      for (size_t j = 0; j < H; ++j) cr[j] = s[H + j] * cpr[j] + s[j] * s[2 * H + j];
      k.unary(kTanh, cr, hr, H, 0);
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
      k.unary(kSigmoid, s, s, 2 * H, 0);
      for (size_t j = 0; j < H; ++j) s[2 * H + j] = x[2 * H + j] + s[j] * s[3 * H + j];
      k.unary(kTanh, s + 2 * H, s + 2 * H, H, 0);
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
      k.unary(cell == kRnnTanh ? kTanh : kRelu, hr, hr, H, 0);
    }
  }
}

template <typename T>
void cellBackward(const Kernels<T>& k, int cell, size_t batch, size_t H, const T* sv, const T* hp,
                  const T* cp, const T* c, const T* h, const T* gh, const T* ghn, const T* gcn,
                  T* gxp, T* ghh, T* ghPrev, T* gcPrev) {
  const size_t G = gatesOf(cell);
  const size_t gw = G * H;
  // gt: the total gradient of h for one row; tc: tanh(c) (LSTM). Read before any output is
  // written, so an output may alias an input of the same role (ghPrev = ghNext).
  std::vector<T> gtBuf(H), tcBuf(cell == kLstm ? H : 0);
  T* gt = gtBuf.data();
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
    if (cell == kLstm) {
      const T* s = sv + r * 4 * H;
      T* tc = tcBuf.data();
      k.unary(kTanh, c + r * H, tc, H, 0);
      const T* cpr = cp + r * H;
      const T* gcnr = gcn ? gcn + r * H : nullptr;
      T* gcp = gcPrev + r * H;
      for (size_t j = 0; j < H; ++j) {
        const T i = s[j], f = s[H + j], g = s[2 * H + j], o = s[3 * H + j], t = tc[j];
        const T gc = (gcnr ? gcnr[j] : T(0)) + gt[j] * o * (T(1) - t * t);
        gx[j] = gc * g * i * (T(1) - i);
        gx[H + j] = gc * cpr[j] * f * (T(1) - f);
        gx[2 * H + j] = gc * i * (T(1) - g * g);
        gx[3 * H + j] = gt[j] * t * o * (T(1) - o);
        gcp[j] = gc * f;
        ghp[j] = T(0);
      }
    } else if (cell == kGru) {
      const T* s = sv + r * 4 * H;
      const T* hpr = hp + r * H;
      T* gy = ghh + r * gw;
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
    } else {
      const T* hr = h + r * H;
      if (cell == kRnnTanh)
        for (size_t j = 0; j < H; ++j) gx[j] = gt[j] * (T(1) - hr[j] * hr[j]);
      else
        for (size_t j = 0; j < H; ++j) gx[j] = hr[j] > T(0) ? gt[j] : T(0);
      std::memset(ghp, 0, H * sizeof(T));
    }
  }
}

}  // namespace

Napi::Value RnnCellForward(const Napi::CallbackInfo& info) {
  Args args(info, "rnnCellForward", 11, 11);
  const int cell = args.code(0, "cell", kCellCount);
  const size_t batch = args.size(1, "batch");
  const size_t H = args.size(2, "hidden");
  const size_t gw = args.mul(gatesOf(cell), H);
  const size_t bh = args.mul(batch, H);
  const bool lstm = cell == kLstm, gru = cell == kGru;
  const FloatArg xp = args.floats(3, "xp");
  args.atLeast(xp, args.mul(batch, gw), 3, "xp");
  const FloatArg hh = args.floats(4, "hh");
  args.atLeast(hh, args.mul(batch, gw), 4, "hh");
  const FloatArg b = cellArray(args, 5, "bHh", gw, false, "");
  const FloatArg hp = cellArray(args, 6, "hPrev", bh, gru, "for a GRU cell");
  const FloatArg cp = cellArray(args, 7, "cPrev", bh, lstm, "for an LSTM cell");
  const FloatArg h = args.floats(8, "h");
  args.atLeast(h, bh, 8, "h");
  const FloatArg c = cellArray(args, 9, "c", bh, lstm, "for an LSTM cell");
  const FloatArg sv = cellArray(args, 10, "saved", args.mul(bh, 4), lstm || gru,
                                "for LSTM and GRU cells");
  const KernelTable& table = tableOf(info);
  if (args.dtype() == DType::kF32)
    cellForward<float>(pick<float>(table), cell, batch, H, xp.as<float>(), hh.as<float>(),
                       b.as<float>(), hp.as<float>(), cp.as<float>(), h.as<float>(), c.as<float>(),
                       sv.as<float>());
  else
    cellForward<double>(pick<double>(table), cell, batch, H, xp.as<double>(), hh.as<double>(),
                        b.as<double>(), hp.as<double>(), cp.as<double>(), h.as<double>(),
                        c.as<double>(), sv.as<double>());
  return info.Env().Undefined();
}

Napi::Value RnnCellBackward(const Napi::CallbackInfo& info) {
  Args args(info, "rnnCellBackward", 15, 15);
  const int cell = args.code(0, "cell", kCellCount);
  const size_t batch = args.size(1, "batch");
  const size_t H = args.size(2, "hidden");
  const size_t gw = args.mul(gatesOf(cell), H);
  const size_t bh = args.mul(batch, H);
  const bool lstm = cell == kLstm, gru = cell == kGru, rnn = !lstm && !gru;
  const FloatArg sv = cellArray(args, 3, "saved", args.mul(bh, 4), lstm || gru,
                                "for LSTM and GRU cells");
  const FloatArg hp = cellArray(args, 4, "hPrev", bh, gru, "for a GRU cell");
  const FloatArg cp = cellArray(args, 5, "cPrev", bh, lstm, "for an LSTM cell");
  const FloatArg c = cellArray(args, 6, "c", bh, lstm, "for an LSTM cell");
  const FloatArg h = cellArray(args, 7, "h", bh, rnn, "for an RNN cell");
  const FloatArg gh = args.floats(8, "gh");
  args.atLeast(gh, bh, 8, "gh");
  const FloatArg ghn = cellArray(args, 9, "ghNext", bh, false, "");
  const FloatArg gcn = cellArray(args, 10, "gcNext", bh, false, "");
  const FloatArg gxp = args.floats(11, "gxp");
  args.atLeast(gxp, args.mul(batch, gw), 11, "gxp");
  const FloatArg ghh = cellArray(args, 12, "ghh", args.mul(batch, gw), gru, "for a GRU cell");
  if (!gru) mustBeNull(args, ghh, 12, "ghh", "for RNN and LSTM cells (their ghh equals gxp)");
  const FloatArg ghp = args.floats(13, "ghPrev");
  args.atLeast(ghp, bh, 13, "ghPrev");
  const FloatArg gcp = cellArray(args, 14, "gcPrev", bh, lstm, "for an LSTM cell");
  const KernelTable& table = tableOf(info);
  if (args.dtype() == DType::kF32)
    cellBackward<float>(pick<float>(table), cell, batch, H, sv.as<float>(), hp.as<float>(),
                        cp.as<float>(), c.as<float>(), h.as<float>(), gh.as<float>(),
                        ghn.as<float>(), gcn.as<float>(), gxp.as<float>(), ghh.as<float>(),
                        ghp.as<float>(), gcp.as<float>());
  else
    cellBackward<double>(pick<double>(table), cell, batch, H, sv.as<double>(), hp.as<double>(),
                         cp.as<double>(), c.as<double>(), h.as<double>(), gh.as<double>(),
                         ghn.as<double>(), gcn.as<double>(), gxp.as<double>(), ghh.as<double>(),
                         ghp.as<double>(), gcp.as<double>());
  return info.Env().Undefined();
}

}  // namespace bp
