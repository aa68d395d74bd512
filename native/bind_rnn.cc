// Recurrent-cell bindings: which arrays each cell needs (and which it must not get) is checked
// here; the kernels (rnn.h) trust it.
#include <string>

#include "addon.h"
#include "rnn.h"

namespace bp {
namespace {

// Reads argument i: a float array of at least `need` elements, or null; null is refused when the
// cell needs the array (`required`). An array the cell does not need is checked and ignored.
FloatArg cellArray(Args& args, size_t i, const char* name, size_t need, bool required,
                   const char* why) {
  FloatArg a = args.floatsOrNull(i, name);
  if (required && a.isNull)
    args.typeError(i, name, std::string("is required ") + why + ", got null");
  if (!a.isNull) args.atLeast(a, need, i, name);
  return a;
}

void mustBeNull(Args& args, const FloatArg& a, size_t i, const char* name, const char* why) {
  if (!a.isNull) args.typeError(i, name, std::string("must be null ") + why);
}

}  // namespace

Napi::Value Addon::RnnCellForward(const Napi::CallbackInfo& info) {
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
  const FloatArg sv =
      cellArray(args, 10, "saved", args.mul(bh, 4), lstm || gru, "for LSTM and GRU cells");
  withDType(args, [&](auto t) {
    rnnCellForward(ctx_.exec(), cell, batch, H, xp.as(t), hh.as(t), b.as(t), hp.as(t), cp.as(t),
                   h.as(t), c.as(t), sv.as(t));
  });
  return info.Env().Undefined();
}

Napi::Value Addon::RnnCellBackward(const Napi::CallbackInfo& info) {
  Args args(info, "rnnCellBackward", 15, 15);
  const int cell = args.code(0, "cell", kCellCount);
  const size_t batch = args.size(1, "batch");
  const size_t H = args.size(2, "hidden");
  const size_t gw = args.mul(gatesOf(cell), H);
  const size_t bh = args.mul(batch, H);
  const bool lstm = cell == kLstm, gru = cell == kGru, rnn = !lstm && !gru;
  const FloatArg sv =
      cellArray(args, 3, "saved", args.mul(bh, 4), lstm || gru, "for LSTM and GRU cells");
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
  withDType(args, [&](auto t) {
    rnnCellBackward(ctx_.exec(), cell, batch, H, sv.as(t), hp.as(t), cp.as(t), c.as(t), h.as(t),
                    gh.as(t), ghn.as(t), gcn.as(t), gxp.as(t), ghh.as(t), ghp.as(t), gcp.as(t));
  });
  return info.Env().Undefined();
}

}  // namespace bp
