// Elementwise kernels (the SIMD table's unary, binary, softmax and loss kernels, split over the
// pool when long) and the bias rows.
#include "addon.h"
#include "bind_common.h"
#include "kernels_common.h"

namespace bp {

// ---- unary, binary -----------------------------------------------------------------------------

Napi::Value Addon::Unary(const Napi::CallbackInfo& info) {
  Args args(info, "unary", 4, 5);  // 4 so that a missing p1 is named in the error
  const int op = args.code(0, "op", kUnaryCount);
  const FloatArg x = args.floats(1, "x");
  const FloatArg y = args.floats(2, "y");
  const double p0 = args.number(3, "p0");
  const double p1 = args.number(4, "p1");
  args.exactly(y, x.length, 2, "y");
  withDType(args, [&](auto t) {
    elementwise(x.length, [&](size_t b, size_t e) {
      k(t).unary(op, x.as(t) + b, y.as(t) + b, e - b, p0, p1);
    });
  });
  return info.Env().Undefined();
}

Napi::Value Addon::UnaryBackward(const Napi::CallbackInfo& info) {
  Args args(info, "unaryBackward", 6, 7);  // p1 as in Unary
  const int op = args.code(0, "op", kUnaryCount);
  const FloatArg x = args.floats(1, "x");
  const FloatArg y = args.floats(2, "y");
  const FloatArg gy = args.floats(3, "gy");
  const FloatArg gx = args.floats(4, "gx");
  const double p0 = args.number(5, "p0");
  const double p1 = args.number(6, "p1");
  args.exactly(y, x.length, 2, "y");
  args.exactly(gy, x.length, 3, "gy");
  args.exactly(gx, x.length, 4, "gx");
  withDType(args, [&](auto t) {
    elementwise(x.length, [&](size_t b, size_t e) {
      k(t).unaryBackward(op, x.as(t) + b, y.as(t) + b, gy.as(t) + b, gx.as(t) + b, e - b, p0, p1);
    });
  });
  return info.Env().Undefined();
}

Napi::Value Addon::Binary(const Napi::CallbackInfo& info) {
  Args args(info, "binary", 6, 6);
  const int op = args.code(0, "op", kBinaryCount);
  const FloatArg a = args.floats(1, "a");
  size_t aShape[kMaxDims], bShape[kMaxDims], outShape[kMaxDims];
  const size_t aDims = args.shape(2, "aShape", aShape);
  const FloatArg b = args.floats(3, "b");
  const size_t bDims = args.shape(4, "bShape", bShape);
  const FloatArg out = args.floats(5, "out");
  const size_t outDims = aDims > bDims ? aDims : bDims;
  size_t aSize = 1, bSize = 1, outSize = 1;
  for (size_t r = 0; r < outDims; ++r) {
    const size_t ad = r < aDims ? aShape[aDims - 1 - r] : 1;
    const size_t bd = r < bDims ? bShape[bDims - 1 - r] : 1;
    if (ad != bd && ad != 1 && bd != 1)
      args.rangeError("shapes " + shapeString(aShape, aDims) + " and " +
                      shapeString(bShape, bDims) + " cannot be broadcast together");
    outShape[outDims - 1 - r] = ad == 1 ? bd : ad;
    aSize = args.mul(aSize, ad);
    bSize = args.mul(bSize, bd);
    outSize = args.mul(outSize, outShape[outDims - 1 - r]);
  }
  args.atLeast(a, aSize, 1, "a");
  args.atLeast(b, bSize, 3, "b");
  args.atLeast(out, outSize, 5, "out");
  withDType(args, [&](auto t) {
    broadcastBinary(k(t), op, a.as(t), aShape, aDims, b.as(t), bShape, bDims, out.as(t), outShape,
                    outDims);
  });
  return info.Env().Undefined();
}

Napi::Value Addon::BinaryScalar(const Napi::CallbackInfo& info) {
  Args args(info, "binaryScalar", 5, 5);
  const int op = args.code(0, "op", kBinaryCount);
  const FloatArg a = args.floats(1, "a");
  const double s = args.number(2, "scalar");
  const FloatArg out = args.floats(3, "out");
  const bool scalarFirst = args.boolean(4, "scalarFirst");
  args.exactly(out, a.length, 3, "out");
  withDType(args, [&](auto t) {
    using T = typename decltype(t)::type;
    elementwise(a.length, [&](size_t b, size_t e) {
      k(t).binaryVS(op, a.as(t) + b, static_cast<T>(s), out.as(t) + b, e - b, scalarFirst);
    });
  });
  return info.Env().Undefined();
}

// ---- softmax family ----------------------------------------------------------------------------

Napi::Value Addon::softmaxCommon(const Napi::CallbackInfo& info, const char* fn, bool log) {
  Args args(info, fn, 4, 4);
  const FloatArg x = args.floats(0, "x");
  const size_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
  const FloatArg y = args.floats(3, "y");
  const size_t total = args.mul(rows, cols);
  args.atLeast(x, total, 0, "x");
  args.atLeast(y, total, 3, "y");
  withDType(args, [&](auto t) { k(t).softmax(x.as(t), rows, cols, y.as(t), log); });
  return info.Env().Undefined();
}

Napi::Value Addon::Softmax(const Napi::CallbackInfo& info) {
  return softmaxCommon(info, "softmax", false);
}

Napi::Value Addon::LogSoftmax(const Napi::CallbackInfo& info) {
  return softmaxCommon(info, "logSoftmax", true);
}

Napi::Value Addon::softmaxBackwardCommon(const Napi::CallbackInfo& info, const char* fn, bool log) {
  Args args(info, fn, 5, 5);
  const FloatArg y = args.floats(0, "y");
  const FloatArg gy = args.floats(1, "gy");
  const size_t rows = args.size(2, "rows"), cols = args.size(3, "cols");
  const FloatArg gx = args.floats(4, "gx");
  const size_t total = args.mul(rows, cols);
  args.atLeast(y, total, 0, "y");
  args.atLeast(gy, total, 1, "gy");
  args.atLeast(gx, total, 4, "gx");
  withDType(args,
            [&](auto t) { k(t).softmaxBackward(y.as(t), gy.as(t), rows, cols, gx.as(t), log); });
  return info.Env().Undefined();
}

Napi::Value Addon::SoftmaxBackward(const Napi::CallbackInfo& info) {
  return softmaxBackwardCommon(info, "softmaxBackward", false);
}

Napi::Value Addon::LogSoftmaxBackward(const Napi::CallbackInfo& info) {
  return softmaxBackwardCommon(info, "logSoftmaxBackward", true);
}

Napi::Value Addon::SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args args(info, "softmaxCrossEntropy", 7, 7);
  const FloatArg logits = args.floats(0, "logits");
  const size_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
  const IndexArg targets = args.indices(3, "targets");
  const FloatArg losses = args.floats(4, "losses");
  const FloatArg grad = args.floatsOrNull(5, "grad");
  const double scale = args.number(6, "scale");
  const size_t total = args.mul(rows, cols);
  args.atLeast(logits, total, 0, "logits");
  args.atLeast(targets, rows, 3, "targets");
  args.atLeast(losses, rows, 4, "losses");
  if (!grad.isNull) args.atLeast(grad, total, 5, "grad");
  args.indicesBelow(targets, rows, cols, 3, "targets", "row ", "the classes ");
  withDType(args, [&](auto t) {
    k(t).softmaxCrossEntropy(logits.as(t), rows, cols, targets.data, losses.as(t), grad.as(t),
                             scale);
  });
  return info.Env().Undefined();
}

// ---- bias --------------------------------------------------------------------------------------

Napi::Value Addon::BiasAdd(const Napi::CallbackInfo& info) {
  Args args(info, "biasAdd", 5, 5);
  const FloatArg x = args.floats(0, "x");
  const size_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
  const FloatArg bias = args.floats(3, "bias");
  const FloatArg out = args.floats(4, "out");
  const size_t total = args.mul(rows, cols);
  args.atLeast(x, total, 0, "x");
  args.atLeast(bias, cols, 3, "bias");
  args.atLeast(out, total, 4, "out");
  withDType(args, [&](auto t) { biasAdd(k(t), x.as(t), rows, cols, bias.as(t), out.as(t)); });
  return info.Env().Undefined();
}

}  // namespace bp
