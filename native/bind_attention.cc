// Fused attention bindings: sizes, mask strides and every array length are checked here; the
// kernels (attention.h) trust them.
#include <cstdint>
#include <string>

#include "addon.h"
#include "attention.h"

namespace bp {
namespace {

// Arguments 0..16: B, H, Lq, Lk, D, Dv, q, k, v, mask, maskB, maskH, maskI, causal, scale,
// dropoutP, seed.
struct AttentionArgs {
  AttentionShape s;
  FloatArg q, k, v, mask;
  size_t qn, kn, vn, on;  // elements of q, k, v and out
};

AttentionArgs readAttention(Args& args) {
  AttentionArgs a;
  AttentionShape& s = a.s;
  s.B = args.size(0, "batch");
  s.H = args.size(1, "heads");
  s.Lq = args.size(2, "lq");
  s.Lk = args.size(3, "lk");
  if (s.Lk == 0) args.rangeError(3, "lk", "must be at least 1 (a query needs a key)");
  s.D = args.size(4, "d");
  if (s.D == 0) args.rangeError(4, "d", "must be at least 1");
  s.Dv = args.size(5, "dv");
  if (s.Dv == 0) args.rangeError(5, "dv", "must be at least 1");
  const size_t bh = args.mul(s.B, s.H);
  a.qn = args.mul(args.mul(bh, s.Lq), s.D);
  a.kn = args.mul(args.mul(bh, s.Lk), s.D);
  a.vn = args.mul(args.mul(bh, s.Lk), s.Dv);
  a.on = args.mul(args.mul(bh, s.Lq), s.Dv);
  a.q = args.floats(6, "q");
  args.atLeast(a.q, a.qn, 6, "q");
  a.k = args.floats(7, "k");
  args.atLeast(a.k, a.kn, 7, "k");
  a.v = args.floats(8, "v");
  args.atLeast(a.v, a.vn, 8, "v");
  a.mask = args.floatsOrNull(9, "mask");
  s.maskB = args.size(10, "maskStrideB");
  s.maskH = args.size(11, "maskStrideH");
  s.maskI = args.size(12, "maskStrideI");
  if (!a.mask.isNull && bh > 0 && s.Lq > 0) {
    // The last element read: (B-1)*maskB + (H-1)*maskH + (Lq-1)*maskI + Lk - 1.
    size_t last = args.add(args.mul(s.B - 1, s.maskB), args.mul(s.H - 1, s.maskH));
    last = args.add(last, args.mul(s.Lq - 1, s.maskI));
    args.atLeast(a.mask, args.add(last, s.Lk), 9, "mask");
  }
  s.causal = args.boolean(13, "causal");
  s.scale = args.number(14, "scale");
  s.dropoutP = args.number(15, "dropoutP");
  if (!(s.dropoutP >= 0 && s.dropoutP <= 1))
    args.rangeError(15, "dropoutP", "must be in [0, 1], got " + std::to_string(s.dropoutP));
  const double seed = args.number(16, "seed");
  if (!(seed >= 0 && seed <= 4294967295.0 &&
        seed == static_cast<double>(static_cast<uint32_t>(seed))))
    args.rangeError(16, "seed", "must be an integer in [0, 2^32)");
  s.seed = static_cast<uint32_t>(seed);
  return a;
}

FloatArg sized(Args& args, size_t i, const char* name, size_t need) {
  const FloatArg f = args.floats(i, name);
  args.atLeast(f, need, i, name);
  return f;
}

}  // namespace

Napi::Value Addon::AttentionForward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionForward", 19, 19);
  const AttentionArgs a = readAttention(args);
  const FloatArg out = sized(args, 17, "out", a.on);
  const FloatArg lse = sized(args, 18, "lse", args.mul(args.mul(a.s.B, a.s.H), a.s.Lq));
  withDType(args, [&](auto t) {
    attentionForward(ctx_.exec(), a.s, a.q.as(t), a.k.as(t), a.v.as(t), a.mask.as(t), out.as(t),
                     lse.as(t));
  });
  return info.Env().Undefined();
}

Napi::Value Addon::AttentionBackward(const Napi::CallbackInfo& info) {
  Args args(info, "attentionBackward", 23, 23);
  const AttentionArgs a = readAttention(args);
  const FloatArg out = sized(args, 17, "out", a.on);
  const FloatArg lse = sized(args, 18, "lse", args.mul(args.mul(a.s.B, a.s.H), a.s.Lq));
  const FloatArg gOut = sized(args, 19, "gOut", a.on);
  const FloatArg gq = sized(args, 20, "gq", a.qn);
  const FloatArg gk = sized(args, 21, "gk", a.kn);
  const FloatArg gv = sized(args, 22, "gv", a.vn);
  withDType(args, [&](auto t) {
    attentionBackward(ctx_.exec(), a.s, a.q.as(t), a.k.as(t), a.v.as(t), a.mask.as(t), out.as(t),
                      lse.as(t), gOut.as(t), gq.as(t), gk.as(t), gv.as(t));
  });
  return info.Env().Undefined();
}

}  // namespace bp
