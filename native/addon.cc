// The backprop addon: one instance per JS environment (main thread or worker) holding the
// chosen SIMD table, the BLAS switch, the thread pool and the GEMM workspace. Every export
// checks its arguments with Args (args.h) before touching memory.
#include <napi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>

#include "args.h"
#include "blas.h"
#include "conv.h"
#include "gemm.h"
#include "kernels.h"
#include "kernels_common.h"
#include "rnn.h"
#include "thread_pool.h"

namespace bp {
namespace {

struct SimdChoice {
  const char* name;
  const KernelTable* table;
};

bool cpuHas(const char* level) {
#if defined(__x86_64__) || defined(_M_X64)
  __builtin_cpu_init();  // idempotent; makes the answers valid however early this runs
  if (std::strcmp(level, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (std::strcmp(level, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return std::strcmp(level, scalar::table.name) == 0;
}

const KernelTable* tableFor(const std::string& level) {
#if defined(__x86_64__) || defined(_M_X64)
  if (level == "avx512") return &avx512::table;
  if (level == "avx2") return &avx2::table;
#endif
  if (level == scalar::table.name) return &scalar::table;
  return nullptr;
}

// Best first.
const char* const kLevels[] = {"avx512", "avx2", scalar::table.name};

int defaultThreads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc > 64 ? 64 : hc);
}

template <typename T> const Kernels<T>& pick(const KernelTable& t);
template <> const Kernels<float>& pick<float>(const KernelTable& t) { return t.f32; }
template <> const Kernels<double>& pick<double>(const KernelTable& t) { return t.f64; }

void cblasGemm(const Blas& b, int ta, int tb, int m, int n, int k, float alpha, const float* a,
               int lda, const float* bm, int ldb, float beta, float* c, int ldc) {
  b.sgemm(kCblasRowMajor, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc);
}
void cblasGemm(const Blas& b, int ta, int tb, int m, int n, int k, double alpha, const double* a,
               int lda, const double* bm, int ldb, double beta, double* c, int ldc) {
  b.dgemm(kCblasRowMajor, ta, tb, m, n, k, alpha, a, lda, bm, ldb, beta, c, ldc);
}

template <size_t N>
Napi::Array nameArray(Napi::Env env, const char* const (&names)[N]) {
  Napi::Array a = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; ++i) a.Set(static_cast<uint32_t>(i), names[i]);
  return a;
}

}  // namespace

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    const char* forced = std::getenv("BACKPROP_SIMD");
    if (forced && *forced) {
      if (!tableFor(forced) || !cpuHas(forced))
        throw Napi::Error::New(env, std::string("BACKPROP_SIMD=") + forced +
                                        ": this build/CPU supports " + levelList());
      simd_ = tableFor(forced);
    } else {
      for (const char* level : kLevels)
        if (tableFor(level) && cpuHas(level)) {
          simd_ = tableFor(level);
          break;
        }
    }
    useBlas_ = blas().loaded();
    pool_ = std::make_unique<ThreadPool>(defaultThreads());
    // OpenBLAS runs single-threaded: blasGemm spreads its calls over the pool instead.
    if (ownsBlasThreads()) blas().setNumThreads(1);

    DefineAddon(exports, {
      InstanceValue("name", Napi::String::New(env, "native"), napi_enumerable),
      InstanceMethod("info", &Addon::Info, napi_enumerable),
      InstanceMethod("setNumThreads", &Addon::SetNumThreads, napi_enumerable),
      InstanceMethod("_setSimd", &Addon::SetSimd, napi_enumerable),
      InstanceMethod("_simdLevels", &Addon::SimdLevels, napi_enumerable),
      InstanceMethod("_setBlas", &Addon::SetBlas, napi_enumerable),
      InstanceMethod("_opNames", &Addon::OpNames, napi_enumerable),
      InstanceMethod("gemm", &Addon::Gemm, napi_enumerable),
      InstanceMethod("unary", &Addon::Unary, napi_enumerable),
      InstanceMethod("unaryBackward", &Addon::UnaryBackward, napi_enumerable),
      InstanceMethod("binary", &Addon::Binary, napi_enumerable),
      InstanceMethod("binaryScalar", &Addon::BinaryScalar, napi_enumerable),
      InstanceMethod("reduce", &Addon::Reduce, napi_enumerable),
      InstanceMethod("maxAxis", &Addon::MaxAxis, napi_enumerable),
      InstanceMethod("argmax", &Addon::Argmax, napi_enumerable),
      InstanceMethod("softmax", &Addon::Softmax, napi_enumerable),
      InstanceMethod("logSoftmax", &Addon::LogSoftmax, napi_enumerable),
      InstanceMethod("softmaxBackward", &Addon::SoftmaxBackward, napi_enumerable),
      InstanceMethod("logSoftmaxBackward", &Addon::LogSoftmaxBackward, napi_enumerable),
      InstanceMethod("softmaxCrossEntropy", &Addon::SoftmaxCrossEntropy, napi_enumerable),
      InstanceMethod("biasAdd", &Addon::BiasAdd, napi_enumerable),
      InstanceMethod("biasGrad", &Addon::BiasGrad, napi_enumerable),
      InstanceMethod("permute", &Addon::Permute, napi_enumerable),
      InstanceMethod("gather", &Addon::Gather, napi_enumerable),
      InstanceMethod("scatterAdd", &Addon::ScatterAdd, napi_enumerable),
      InstanceMethod("sgdStep", &Addon::SgdStep, napi_enumerable),
      InstanceMethod("adamStep", &Addon::AdamStep, napi_enumerable),
      // The rnn kernels read the current SIMD table, and keep their row buffer, in &conv_.
      InstanceValue("rnnCellForward", Napi::Function::New(env, RnnCellForward, "rnnCellForward", &conv_), napi_enumerable),
      InstanceValue("rnnCellBackward", Napi::Function::New(env, RnnCellBackward, "rnnCellBackward", &conv_), napi_enumerable),
      // The conv kernels use the addon's SIMD table and pool, and keep their workspace, in &conv_.
      InstanceValue("conv2d", Napi::Function::New(env, Conv2d, "conv2d", &conv_), napi_enumerable),
      InstanceValue("conv2dBackwardInput", Napi::Function::New(env, Conv2dBackwardInput, "conv2dBackwardInput", &conv_), napi_enumerable),
      InstanceValue("conv2dBackwardWeight", Napi::Function::New(env, Conv2dBackwardWeight, "conv2dBackwardWeight", &conv_), napi_enumerable),
      InstanceValue("maxPool2d", Napi::Function::New(env, MaxPool2d, "maxPool2d", &conv_), napi_enumerable),
      InstanceValue("maxPool2dBackward", Napi::Function::New(env, MaxPool2dBackward, "maxPool2dBackward", &conv_), napi_enumerable),
      InstanceValue("avgPool2d", Napi::Function::New(env, AvgPool2d, "avgPool2d", &conv_), napi_enumerable),
      InstanceValue("avgPool2dBackward", Napi::Function::New(env, AvgPool2dBackward, "avgPool2dBackward", &conv_), napi_enumerable),
      InstanceValue("batchNormStats", Napi::Function::New(env, BatchNormStats, "batchNormStats", &conv_), napi_enumerable),
      InstanceValue("channelAffine", Napi::Function::New(env, ChannelAffine, "channelAffine", &conv_), napi_enumerable),
    });
  }

 private:
  static std::string levelList() {
    std::string s;
    for (const char* level : kLevels)
      if (tableFor(level) && cpuHas(level)) s += (s.empty() ? "" : ", ") + std::string(level);
    return s;
  }

  template <typename T>
  const Kernels<T>& k() const { return pick<T>(*simd_); }
  template <typename T>
  const Kernels<T>& k(TypeTag<T>) const { return pick<T>(*simd_); }

  // Runs f(begin, end) over [0, n), split across the pool when the array is large enough for
  // the threads to pay off (elementwise kernels past the L2 cache are memory-bound).
  template <typename F>
  void elementwise(size_t n, F&& f) {
    constexpr size_t kPerThread = size_t(1) << 16;
    const size_t threads = static_cast<size_t>(pool_->size());
    if (threads <= 1 || n < 2 * kPerThread) {
      f(size_t(0), n);
      return;
    }
    const size_t parts = std::min(threads, n / kPerThread);
    const size_t chunk = ((n + parts - 1) / parts + 63) & ~size_t(63);  // whole vectors per part
    pool_->run(parts, [&](size_t t, int) {
      const size_t begin = t * chunk;
      if (begin < n) f(begin, std::min(n, begin + chunk));
    });
  }

  // ---- configuration -------------------------------------------------------------------------

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Args args(info, "info", 0, 0);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", "native");
    o.Set("blas", useBlas_ ? blas().version : std::string("builtin"));
    o.Set("simd", simd_->name);
    int threads = pool_->size();
    if (useBlas_ && !ownsBlasThreads() && blas().getNumThreads) threads = blas().getNumThreads();
    o.Set("threads", threads);
    return o;
  }

  Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
    Args args(info, "setNumThreads", 1, 1);
    const size_t n = args.size(0, "n");
    if (n < 1 || n > 256) args.rangeError(0, "n", "must be in [1, 256], got " + std::to_string(n));
    if (static_cast<int>(n) != pool_->size()) {
      pool_.reset();  // join the old workers first
      pool_ = std::make_unique<ThreadPool>(static_cast<int>(n));
    }
    return info.Env().Undefined();
  }

  Napi::Value SetSimd(const Napi::CallbackInfo& info) {
    Args args(info, "_setSimd", 1, 1);
    Napi::Value v = info[0];
    if (!v.IsString()) args.typeError(0, "level", "must be a string");
    const std::string level = v.As<Napi::String>();
    if (!tableFor(level) || !cpuHas(level.c_str()))
      args.rangeError(0, "level", "'" + level + "' is not available here (" + levelList() + ")");
    simd_ = tableFor(level);
    return info.Env().Undefined();
  }

  Napi::Value SimdLevels(const Napi::CallbackInfo& info) {
    Args args(info, "_simdLevels", 0, 0);
    Napi::Array a = Napi::Array::New(info.Env());
    uint32_t i = 0;
    for (const char* level : kLevels)
      if (tableFor(level) && cpuHas(level)) a.Set(i++, level);
    return a;
  }

  // The op-code name lists of native/op_codes.h (a code is the index), for the test that holds
  // them equal to the lists in lib/backend/types.ts.
  Napi::Value OpNames(const Napi::CallbackInfo& info) {
    Args args(info, "_opNames", 0, 0);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("unary", nameArray(env, kUnaryNames));
    o.Set("binary", nameArray(env, kBinaryNames));
    o.Set("reduce", nameArray(env, kReduceNames));
    o.Set("rnnCell", nameArray(env, kCellNames));
    return o;
  }

  Napi::Value SetBlas(const Napi::CallbackInfo& info) {
    Args args(info, "_setBlas", 1, 1);
    Napi::Value v = info[0];
    if (!v.IsString()) args.typeError(0, "which", "must be 'openblas' or 'builtin'");
    const std::string which = v.As<Napi::String>();
    if (which == "builtin") {
      useBlas_ = false;
    } else if (which == "openblas") {
      if (!blas().loaded())
        throw Napi::Error::New(info.Env(), "_setBlas: OpenBLAS was not loaded (" + blas().error + ")");
      useBlas_ = true;
    } else {
      args.rangeError(0, "which", "must be 'openblas' or 'builtin', got '" + which + "'");
    }
    return info.Env().Undefined();
  }

  // ---- GEMM ------------------------------------------------------------------------------------

  // Checks that offset + (batch-1)*stride + size elements fit in the array.
  static void checkSpan(Args& args, const FloatArg& a, size_t offset, size_t stride, size_t batch,
                        size_t size, size_t i, const char* name) {
    if (batch == 0) return;
    const size_t need = args.add(args.add(offset, args.mul(batch - 1, stride)), size);
    args.atLeast(a, need, i, name);
  }

  Napi::Value Gemm(const Napi::CallbackInfo& info) {
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
      args.rangeError(13, "strideC", "must not be 0 when batch > 1 (batches would overwrite each other)");
    try {
      withDType(args, [&](auto t) {
        gemmT(transA, transB, m, n, kk, alpha, a.as(t) + offA, b.as(t) + offB, beta, c.as(t) + offC,
              batch, strideA, strideB, strideC);
      });
    } catch (const std::bad_alloc&) {
      throw Napi::Error::New(info.Env(), "gemm: out of memory for the packing buffers");
    }
    return info.Env().Undefined();
  }

  template <typename T>
  void gemmT(bool transA, bool transB, size_t m, size_t n, size_t kk, double alphaD, const T* a,
             const T* b, double betaD, T* c, size_t batch, size_t strideA, size_t strideB,
             size_t strideC) {
    const T alpha = static_cast<T>(alphaD), beta = static_cast<T>(betaD);
    const size_t lda = transA ? m : kk, ldb = transB ? kk : n, ldc = n;
    if (m == 0 || n == 0) return;  // nothing to write, however large batch is
    for (size_t i = 0; i < batch; ++i) {
      const T* ai = a + i * strideA;
      const T* bi = b + i * strideB;
      T* ci = c + i * strideC;
      if (kk == 0) {
        scaleMatrix(m, n, beta, ci, ldc);
      } else if (gemmIsSmall(m, n, kk, useBlas_)) {
        // Tiny products (the layers of a small MLP) cost less unpacked than a BLAS call's setup.
        gemmSmall<T>(transA, transB, m, n, kk, alpha, ai, lda, bi, ldb, beta, ci, ldc, k<T>(),
                     workspace_);
      } else if (useBlas_) {
        blasGemm(transA, transB, m, n, kk, alpha, ai, lda, bi, ldb, beta, ci, ldc);
      } else {
        gemmBuiltin<T>(transA, transB, m, n, kk, alpha, ai, lda, bi, ldb, beta, ci, ldc, k<T>(),
                       *pool_, workspace_);
      }
    }
  }

  // One BLAS call, split across the addon's pool when OpenBLAS runs single-threaded under it
  // (ownsBlasThreads()): each thread computes a band of C with its own single-threaded call.
  // OpenBLAS's own threads would spin between calls on the cores that the pool needs for the
  // kernels around the GEMM; with one pool for everything the threads never compete.
  // Bands of rows where C has enough of them: measured on the MLP's shapes at 2 threads, row
  // bands beat column bands everywhere (TN 512x784x128: 338 against 421 us) and OpenBLAS's
  // own 2 threads (444 us).
  template <typename T>
  void blasGemm(bool transA, bool transB, size_t m, size_t n, size_t kk, T alpha, const T* a,
                size_t lda, const T* b, size_t ldb, T beta, T* c, size_t ldc) {
    const int ta = transA ? kCblasTrans : kCblasNoTrans, tb = transB ? kCblasTrans : kCblasNoTrans;
    const size_t threads = ownsBlasThreads() ? static_cast<size_t>(pool_->size()) : 1;
    const double work = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(kk);
    constexpr size_t kAlign = 16;  // whole micro-tiles per band
    const bool splitRows = m >= 2 * kAlign;
    const size_t side = splitRows ? m : n;
    if (threads <= 1 || work < 96.0 * 96 * 96 || side < 2 * kAlign) {
      cblasGemm(blas(), ta, tb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(kk),
                alpha, a, static_cast<int>(lda), b, static_cast<int>(ldb), beta, c,
                static_cast<int>(ldc));
      return;
    }
    const size_t parts = std::min(threads, side / kAlign);
    const size_t band = ((side + parts - 1) / parts + kAlign - 1) / kAlign * kAlign;
    pool_->run(parts, [&](size_t t, int) {
      const size_t from = t * band;
      if (from >= side) return;
      const size_t len = std::min(side, from + band) - from;
      if (splitRows)  // rows [from, from + len) of op(A) and C
        cblasGemm(blas(), ta, tb, static_cast<int>(len), static_cast<int>(n), static_cast<int>(kk),
                  alpha, transA ? a + from : a + from * lda, static_cast<int>(lda), b,
                  static_cast<int>(ldb), beta, c + from * ldc, static_cast<int>(ldc));
      else  // columns [from, from + len) of op(B) and C
        cblasGemm(blas(), ta, tb, static_cast<int>(m), static_cast<int>(len), static_cast<int>(kk),
                  alpha, a, static_cast<int>(lda), transB ? b + from * ldb : b + from,
                  static_cast<int>(ldb), beta, c + from, static_cast<int>(ldc));
    });
  }

  // ---- elementwise -----------------------------------------------------------------------------

  // p1 is required like p0, but the count check lets a call without it through so that number()
  // rejects the missing p1 by name (the error a caller of the old four-argument form sees).
  Napi::Value Unary(const Napi::CallbackInfo& info) {
    Args args(info, "unary", 4, 5);
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

  Napi::Value UnaryBackward(const Napi::CallbackInfo& info) {
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

  static std::string shapeString(const size_t* s, size_t n) {
    std::string r = "[";
    for (size_t i = 0; i < n; ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  }

  Napi::Value Binary(const Napi::CallbackInfo& info) {
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

  Napi::Value BinaryScalar(const Napi::CallbackInfo& info) {
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

  // ---- reductions ------------------------------------------------------------------------------

  struct Axis {
    size_t outer, n, inner, total, kept;
  };
  static Axis readAxis(Args& args, size_t first) {
    Axis ax;
    ax.outer = args.size(first, "outer");
    ax.n = args.size(first + 1, "n");
    ax.inner = args.size(first + 2, "inner");
    ax.kept = args.mul(ax.outer, ax.inner);
    ax.total = args.mul(ax.kept, ax.n);
    return ax;
  }

  Napi::Value Reduce(const Napi::CallbackInfo& info) {
    Args args(info, "reduce", 6, 6);
    const int op = args.code(0, "op", kReduceCount);
    const FloatArg x = args.floats(1, "x");
    const Axis ax = readAxis(args, 2);
    const FloatArg out = args.floats(5, "out");
    args.atLeast(x, ax.total, 1, "x");
    args.atLeast(out, ax.kept, 5, "out");
    if (ax.n == 0 && ax.kept > 0 && (op == kMax || op == kMin))
      args.rangeError(3, "n", "must be at least 1 for max/min (an empty axis has no extremum)");
    withDType(args, [&](auto t) { k(t).reduce(op, x.as(t), ax.outer, ax.n, ax.inner, out.as(t)); });
    return info.Env().Undefined();
  }

  Napi::Value MaxAxis(const Napi::CallbackInfo& info) {
    Args args(info, "maxAxis", 6, 6);
    const FloatArg x = args.floats(0, "x");
    const Axis ax = readAxis(args, 1);
    const FloatArg out = args.floats(4, "out");
    const IndexArg idx = args.indices(5, "indices");
    args.atLeast(x, ax.total, 0, "x");
    args.atLeast(out, ax.kept, 4, "out");
    args.atLeast(idx, ax.kept, 5, "indices");
    if (ax.n == 0 && ax.kept > 0) args.rangeError(2, "n", "must be at least 1 (an empty axis has no maximum)");
    withDType(args, [&](auto t) {
      maxWithIndex(x.as(t), ax.outer, ax.n, ax.inner, out.as(t), idx.data);
    });
    return info.Env().Undefined();
  }

  Napi::Value Argmax(const Napi::CallbackInfo& info) {
    Args args(info, "argmax", 5, 5);
    const FloatArg x = args.floats(0, "x");
    const Axis ax = readAxis(args, 1);
    const IndexArg idx = args.indices(4, "indices");
    args.atLeast(x, ax.total, 0, "x");
    args.atLeast(idx, ax.kept, 4, "indices");
    if (ax.n == 0 && ax.kept > 0) args.rangeError(2, "n", "must be at least 1 (an empty axis has no maximum)");
    withDType(args, [&](auto t) {
      using T = typename decltype(t)::type;
      maxWithIndex<T>(x.as(t), ax.outer, ax.n, ax.inner, nullptr, idx.data);
    });
    return info.Env().Undefined();
  }

  // ---- softmax family --------------------------------------------------------------------------

  Napi::Value softmaxCommon(const Napi::CallbackInfo& info, const char* fn, bool log) {
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
  Napi::Value Softmax(const Napi::CallbackInfo& info) { return softmaxCommon(info, "softmax", false); }
  Napi::Value LogSoftmax(const Napi::CallbackInfo& info) { return softmaxCommon(info, "logSoftmax", true); }

  Napi::Value softmaxBackwardCommon(const Napi::CallbackInfo& info, const char* fn, bool log) {
    Args args(info, fn, 5, 5);
    const FloatArg y = args.floats(0, "y");
    const FloatArg gy = args.floats(1, "gy");
    const size_t rows = args.size(2, "rows"), cols = args.size(3, "cols");
    const FloatArg gx = args.floats(4, "gx");
    const size_t total = args.mul(rows, cols);
    args.atLeast(y, total, 0, "y");
    args.atLeast(gy, total, 1, "gy");
    args.atLeast(gx, total, 4, "gx");
    withDType(args, [&](auto t) {
      k(t).softmaxBackward(y.as(t), gy.as(t), rows, cols, gx.as(t), log);
    });
    return info.Env().Undefined();
  }
  Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
    return softmaxBackwardCommon(info, "softmaxBackward", false);
  }
  Napi::Value LogSoftmaxBackward(const Napi::CallbackInfo& info) {
    return softmaxBackwardCommon(info, "logSoftmaxBackward", true);
  }

  Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
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
      k(t).softmaxCrossEntropy(logits.as(t), rows, cols, targets.data, losses.as(t), grad.as(t), scale);
    });
    return info.Env().Undefined();
  }

  // ---- bias ------------------------------------------------------------------------------------

  Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
    Args args(info, "biasAdd", 5, 5);
    const FloatArg x = args.floats(0, "x");
    const size_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
    const FloatArg bias = args.floats(3, "bias");
    const FloatArg out = args.floats(4, "out");
    const size_t total = args.mul(rows, cols);
    args.atLeast(x, total, 0, "x");
    args.atLeast(bias, cols, 3, "bias");
    args.atLeast(out, total, 4, "out");
    withDType(args, [&](auto t) { biasAddT(x.as(t), rows, cols, bias.as(t), out.as(t)); });
    return info.Env().Undefined();
  }
  template <typename T>
  void biasAddT(const T* x, size_t rows, size_t cols, const T* bias, T* out) {
    if (cols == 0) return;
    for (size_t r = 0; r < rows; ++r) k<T>().binaryVV(kAdd, x + r * cols, bias, out + r * cols, cols);
  }

  Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
    Args args(info, "biasGrad", 4, 4);
    const FloatArg gy = args.floats(0, "gy");
    const size_t rows = args.size(1, "rows"), cols = args.size(2, "cols");
    const FloatArg gb = args.floats(3, "gb");
    args.atLeast(gy, args.mul(rows, cols), 0, "gy");
    args.atLeast(gb, cols, 3, "gb");
    withDType(args, [&](auto t) { k(t).reduce(kSum, gy.as(t), 1, rows, cols, gb.as(t)); });
    return info.Env().Undefined();
  }

  // ---- movement --------------------------------------------------------------------------------

  Napi::Value Permute(const Napi::CallbackInfo& info) {
    Args args(info, "permute", 4, 4);
    const FloatArg x = args.floats(0, "x");
    size_t shape[kMaxDims], perm[kMaxDims];
    const size_t dims = args.shape(1, "shape", shape);
    const size_t pdims = args.shape(2, "perm", perm);
    const FloatArg out = args.floats(3, "out");
    if (pdims != dims)
      args.rangeError(2, "perm", "must have " + std::to_string(dims) + " entries like shape, got " +
                                     std::to_string(pdims));
    bool seen[kMaxDims] = {false};
    for (size_t d = 0; d < dims; ++d) {
      if (perm[d] >= dims || seen[perm[d]])
        args.rangeError(2, "perm", "must be a permutation of 0.." + std::to_string(dims) + "-1, got " +
                                       shapeString(perm, dims));
      seen[perm[d]] = true;
    }
    size_t total = 1;
    for (size_t d = 0; d < dims; ++d) total = args.mul(total, shape[d]);
    args.atLeast(x, total, 0, "x");
    args.atLeast(out, total, 3, "out");
    withDType(args, [&](auto t) { permuteCopy(x.as(t), shape, perm, dims, out.as(t)); });
    return info.Env().Undefined();
  }

  Napi::Value Gather(const Napi::CallbackInfo& info) {
    Args args(info, "gather", 6, 6);
    const FloatArg x = args.floats(0, "x");
    const Axis ax = readAxis(args, 1);
    const IndexArg idx = args.indices(4, "indices");
    const FloatArg out = args.floats(5, "out");
    args.atLeast(x, ax.total, 0, "x");
    args.atLeast(out, args.mul(ax.kept, idx.length), 5, "out");
    args.indicesBelow(idx, idx.length, ax.n, 4, "indices");
    withDType(args, [&](auto t) {
      gatherRows(x.as(t), ax.outer, ax.n, ax.inner, idx.data, idx.length, out.as(t));
    });
    return info.Env().Undefined();
  }

  Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
    Args args(info, "scatterAdd", 6, 6);
    const FloatArg g = args.floats(0, "g");
    const Axis ax = readAxis(args, 1);
    const IndexArg idx = args.indices(4, "indices");
    const FloatArg gx = args.floats(5, "gx");
    args.atLeast(g, args.mul(ax.kept, idx.length), 0, "g");
    args.atLeast(gx, ax.total, 5, "gx");
    args.indicesBelow(idx, idx.length, ax.n, 4, "indices");
    withDType(args, [&](auto t) {
      scatterAddRows(g.as(t), ax.outer, ax.n, ax.inner, idx.data, idx.length, gx.as(t));
    });
    return info.Env().Undefined();
  }

  // ---- optimizers ------------------------------------------------------------------------------

  Napi::Value SgdStep(const Napi::CallbackInfo& info) {
    Args args(info, "sgdStep", 9, 9);
    const FloatArg param = args.floats(0, "param");
    const FloatArg grad = args.floats(1, "grad");
    const FloatArg buf = args.floatsOrNull(2, "buf");
    const double lr = args.number(3, "lr");
    const double momentum = args.number(4, "momentum");
    const double dampening = args.number(5, "dampening");
    const double weightDecay = args.number(6, "weightDecay");
    const bool nesterov = args.boolean(7, "nesterov");
    const bool firstStep = args.boolean(8, "firstStep");
    args.exactly(grad, param.length, 1, "grad");
    if (buf.isNull && momentum != 0)
      args.typeError(2, "buf", "must be a float array when momentum is not 0, got null");
    if (!buf.isNull) args.exactly(buf, param.length, 2, "buf");
    withDType(args, [&](auto t) {
      elementwise(param.length, [&](size_t b, size_t e) {
        k(t).sgdStep(param.as(t) + b, grad.as(t) + b, buf.isNull ? nullptr : buf.as(t) + b, e - b, lr,
                     momentum, dampening, weightDecay, nesterov, firstStep);
      });
    });
    return info.Env().Undefined();
  }

  Napi::Value AdamStep(const Napi::CallbackInfo& info) {
    Args args(info, "adamStep", 12, 12);
    const FloatArg param = args.floats(0, "param");
    const FloatArg grad = args.floats(1, "grad");
    const FloatArg expAvg = args.floats(2, "expAvg");
    const FloatArg expAvgSq = args.floats(3, "expAvgSq");
    const FloatArg maxExpAvgSq = args.floatsOrNull(4, "maxExpAvgSq");
    const double step = args.number(5, "step");
    if (!(step >= 1) || step != static_cast<double>(static_cast<int64_t>(step > 9e15 ? 0 : step)))
      args.rangeError(5, "step", "must be an integer >= 1 (steps count from 1)");
    const double lr = args.number(6, "lr");
    const double beta1 = args.number(7, "beta1");
    const double beta2 = args.number(8, "beta2");
    const double eps = args.number(9, "eps");
    const double weightDecay = args.number(10, "weightDecay");
    const bool decoupled = args.boolean(11, "decoupled");
    args.exactly(grad, param.length, 1, "grad");
    args.exactly(expAvg, param.length, 2, "expAvg");
    args.exactly(expAvgSq, param.length, 3, "expAvgSq");
    if (!maxExpAvgSq.isNull) args.exactly(maxExpAvgSq, param.length, 4, "maxExpAvgSq");
    withDType(args, [&](auto t) {
      elementwise(param.length, [&](size_t b, size_t e) {
        k(t).adamStep(param.as(t) + b, grad.as(t) + b, expAvg.as(t) + b, expAvgSq.as(t) + b,
                      maxExpAvgSq.isNull ? nullptr : maxExpAvgSq.as(t) + b, e - b, step, lr, beta1,
                      beta2, eps, weightDecay, decoupled);
      });
    });
    return info.Env().Undefined();
  }

  const KernelTable* simd_ = &scalar::table;
  bool useBlas_ = false;
  // The loaded BLAS can be told its thread count (only after a successful load), so the addon
  // sets it to 1 and runs BLAS calls on its own pool.
  static bool ownsBlasThreads() { return blas().setNumThreads != nullptr; }
  std::unique_ptr<ThreadPool> pool_;
  GemmWorkspace workspace_;
  ConvContext conv_{&simd_, &pool_, {}};
};

}  // namespace bp

using BackpropAddon = bp::Addon;
NODE_API_ADDON(BackpropAddon)
