// gemm: batched, strided C = alpha * op(A) op(B) + beta * C (gemm_dispatch.h).
#include <new>

#include "addon.h"
#include "gemm_dispatch.h"

namespace bp {
namespace {

// Checks that offset + (batch-1)*stride + size elements fit in the array.
void checkSpan(Args& args, const FloatArg& a, size_t offset, size_t stride, size_t batch,
               size_t size, size_t i, const char* name) {
  if (batch == 0) return;
  const size_t need = args.add(args.add(offset, args.mul(batch - 1, stride)), size);
  args.atLeast(a, need, i, name);
}

}  // namespace

Napi::Value Addon::Gemm(const Napi::CallbackInfo& info) {
  Args args(info, "gemm", 10, 17);
  const bool transA = args.boolean(0, "transA");
  const bool transB = args.boolean(1, "transB");
  const size_t m = args.size(2, "m"), n = args.size(3, "n"), kk = args.size(4, "k");
  const double alpha = args.number(5, "alpha");
  const FloatArg a = args.floats(6, "a");
  const FloatArg b = args.floats(7, "b");
  const double beta = args.number(8, "beta");
  const FloatArg c = args.floats(9, "c");
  const size_t sizeA = args.mul(m, kk), sizeB = args.mul(kk, n), sizeC = args.mul(m, n);
  const size_t batch = args.sizeOr(10, "batch", 1);
  const size_t strideA = args.sizeOr(11, "strideA", sizeA);
  const size_t strideB = args.sizeOr(12, "strideB", sizeB);
  const size_t strideC = args.sizeOr(13, "strideC", sizeC);
  const size_t offA = args.sizeOr(14, "aOffset", 0);
  const size_t offB = args.sizeOr(15, "bOffset", 0);
  const size_t offC = args.sizeOr(16, "cOffset", 0);
  checkSpan(args, a, offA, strideA, batch, sizeA, 6, "a");
  checkSpan(args, b, offB, strideB, batch, sizeB, 7, "b");
  checkSpan(args, c, offC, strideC, batch, sizeC, 9, "c");
  if (batch > 1 && strideC == 0 && sizeC > 0)
    args.rangeError(13, "strideC",
                    "must not be 0 when batch > 1 (batches would overwrite each other)");
  try {
    withDType(args, [&](auto t) {
      using T = typename decltype(t)::type;
      gemm<T>(ctx_.exec(), transA, transB, m, n, kk, static_cast<T>(alpha), a.as(t) + offA,
              b.as(t) + offB, static_cast<T>(beta), c.as(t) + offC, batch, strideA, strideB,
              strideC);
    });
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "gemm: out of memory for the packing buffers");
  }
  return info.Env().Undefined();
}

}  // namespace bp
