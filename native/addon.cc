// Addon setup: the SIMD table (the best the CPU runs, or BACKPROP_SIMD), the BLAS switch and the
// thread pool of one instance, the configuration and test hooks, and the registration of every
// export. The bindings themselves live in bind_*.cc (see addon.h).
#include "addon.h"

#include <cstdlib>
#include <string>
#include <thread>

#include "blas.h"
#include "isa.h"
#include "malloc_tuning.h"

namespace bp {
namespace {

int defaultThreads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc > 64 ? 64 : hc);
}

// BACKPROP_SIMD's table when it is set (an Error when this build or CPU lacks it), else the
// best supported one.
const KernelTable* initialSimd(Napi::Env env) {
  const char* forced = std::getenv("BACKPROP_SIMD");
  if (!forced || !*forced) return bestSupportedTable();
  const KernelTable* table = supportedTableNamed(forced);
  if (!table)
    throw Napi::Error::New(env, std::string("BACKPROP_SIMD=") + forced +
                                    ": this build/CPU supports " + supportedTableNames());
  return table;
}

// The loaded BLAS can be told its thread count (only after a successful load), so the addon
// sets it to 1 and runs BLAS calls on its own pool (gemm_dispatch.cc).
bool ownsBlasThreads() { return blas().setNumThreads != nullptr; }

// The library large GEMMs go to at start-up (null: the built-in GEMM). Where the CPU runs the
// AVX-512 table, the built-in GEMM by default: OpenBLAS 0.3.21 (Debian's, DYNAMIC_ARCH) runs its
// Haswell kernel on AMD Zen 4/5 and reached about half the built-in GEMM's rate on every shape
// measured (square n = 256...1024 and the MLPs' NT/TN products, 1 and 2 threads; issue 11's
// note has the figures). BACKPROP_BLAS naming a library keeps that library in use;
// _setBlas switches either way.
const Blas* initialBlas(const KernelTable* simd) {
  if (!blas().loaded()) return nullptr;
  const char* env = std::getenv("BACKPROP_BLAS");
  const bool named = env && *env;
  return named || simd->level != IsaLevel::kAvx512 ? &blas() : nullptr;
}

template <size_t N>
Napi::Array nameArray(Napi::Env env, const char* const (&names)[N]) {
  Napi::Array a = Napi::Array::New(env, N);
  for (size_t i = 0; i < N; ++i) a.Set(static_cast<uint32_t>(i), names[i]);
  return a;
}

}  // namespace

Addon::Addon(Napi::Env env, Napi::Object exports)
    : ctx_(initialSimd(env), nullptr, defaultThreads()) {
  ctx_.setBlasForGemm(initialBlas(&ctx_.simd()));
  // OpenBLAS runs single-threaded: gemm_dispatch spreads its calls over the pool instead.
  if (ownsBlasThreads()) blas().setNumThreads(1);
  tuneMallocOnce();

  DefineAddon(
      exports,
      {
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
          InstanceMethod("rnnCellForward", &Addon::RnnCellForward, napi_enumerable),
          InstanceMethod("rnnCellBackward", &Addon::RnnCellBackward, napi_enumerable),
          InstanceMethod("conv2d", &Addon::Conv2d, napi_enumerable),
          InstanceMethod("conv2dBackwardInput", &Addon::Conv2dBackwardInput, napi_enumerable),
          InstanceMethod("conv2dBackwardWeight", &Addon::Conv2dBackwardWeight, napi_enumerable),
          InstanceMethod("maxPool2d", &Addon::MaxPool2d, napi_enumerable),
          InstanceMethod("maxPool2dBackward", &Addon::MaxPool2dBackward, napi_enumerable),
          InstanceMethod("avgPool2d", &Addon::AvgPool2d, napi_enumerable),
          InstanceMethod("avgPool2dBackward", &Addon::AvgPool2dBackward, napi_enumerable),
          InstanceMethod("batchNormStats", &Addon::BatchNormStats, napi_enumerable),
          InstanceMethod("channelAffine", &Addon::ChannelAffine, napi_enumerable),
          InstanceMethod("attentionForward", &Addon::AttentionForward, napi_enumerable),
          InstanceMethod("attentionBackward", &Addon::AttentionBackward, napi_enumerable),
          InstanceMethod("sparseConv2d", &Addon::SparseConv2d, napi_enumerable),
          InstanceMethod("sparseConv2dBackwardInput", &Addon::SparseConv2dBackwardInput,
                         napi_enumerable),
          InstanceMethod("sparseConv2dBackwardValues", &Addon::SparseConv2dBackwardValues,
                         napi_enumerable),
      });
}

Napi::Value Addon::Info(const Napi::CallbackInfo& info) {
  Args args(info, "info", 0, 0);
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const bool useBlas = ctx_.blasForGemm() != nullptr;
  o.Set("name", "native");
  o.Set("blas", useBlas ? blas().version : std::string("builtin"));
  o.Set("simd", ctx_.simd().name);
  int threads = ctx_.threads();
  if (useBlas && !ownsBlasThreads() && blas().getNumThreads) threads = blas().getNumThreads();
  o.Set("threads", threads);
  return o;
}

Napi::Value Addon::SetNumThreads(const Napi::CallbackInfo& info) {
  Args args(info, "setNumThreads", 1, 1);
  const size_t n = args.size(0, "n");
  if (n < 1 || n > 256) args.rangeError(0, "n", "must be in [1, 256], got " + std::to_string(n));
  ctx_.setThreads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value Addon::SetSimd(const Napi::CallbackInfo& info) {
  Args args(info, "_setSimd", 1, 1);
  Napi::Value v = info[0];
  if (!v.IsString()) args.typeError(0, "level", "must be a string");
  const std::string level = v.As<Napi::String>();
  const KernelTable* table = supportedTableNamed(level);
  if (!table)
    args.rangeError(0, "level",
                    "'" + level + "' is not available here (" + supportedTableNames() + ")");
  ctx_.setSimd(table);
  return info.Env().Undefined();
}

Napi::Value Addon::SimdLevels(const Napi::CallbackInfo& info) {
  Args args(info, "_simdLevels", 0, 0);
  Napi::Array a = Napi::Array::New(info.Env());
  uint32_t i = 0;
  for (size_t c = 0; c < kIsaChoiceCount; ++c)
    if (kIsaChoices[c].supported()) a.Set(i++, kIsaChoices[c].table->name);
  return a;
}

Napi::Value Addon::SetBlas(const Napi::CallbackInfo& info) {
  Args args(info, "_setBlas", 1, 1);
  Napi::Value v = info[0];
  if (!v.IsString()) args.typeError(0, "which", "must be 'openblas' or 'builtin'");
  const std::string which = v.As<Napi::String>();
  if (which == "builtin") {
    ctx_.setBlasForGemm(nullptr);
  } else if (which == "openblas") {
    if (!blas().loaded())
      throw Napi::Error::New(info.Env(),
                             "_setBlas: OpenBLAS was not loaded (" + blas().error + ")");
    ctx_.setBlasForGemm(&blas());
  } else {
    args.rangeError(0, "which", "must be 'openblas' or 'builtin', got '" + which + "'");
  }
  return info.Env().Undefined();
}

// The op-code name lists of native/op_codes.h (a code is the index), for the test that holds
// them equal to the lists in lib/backend/types.ts.
Napi::Value Addon::OpNames(const Napi::CallbackInfo& info) {
  Args args(info, "_opNames", 0, 0);
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("unary", nameArray(env, kUnaryNames));
  o.Set("binary", nameArray(env, kBinaryNames));
  o.Set("reduce", nameArray(env, kReduceNames));
  o.Set("rnnCell", nameArray(env, kCellNames));
  return o;
}

}  // namespace bp

using BackpropAddon = bp::Addon;
NODE_API_ADDON(BackpropAddon)
