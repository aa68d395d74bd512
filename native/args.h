// The one argument-checking helper used by every binding. It reads argument i as a typed array,
// number, size, op code, boolean or shape, checks it, and throws a TypeError or RangeError that
// names the function and the argument ("gemm: argument 7 (a) must have at least 12 elements,
// got 5"). Float arrays of one call must share one dtype; the first one read sets it.
//
// Hostile arguments: the constructor reads every argument once, before any check, into private
// memory: JS arrays (shapes) first, since reading an element can run user JS (a getter on the
// array or on Array.prototype), and typed arrays' pointers and lengths only after that, when no
// user JS can run any more until the binding returns. So a getter that resizes, transfers or
// detaches a buffer cannot leave a checked pointer dangling. Detached buffers are refused; an
// Int32Array on a SharedArrayBuffer is copied by indices() before it is checked, because another
// thread may change it between the check and the use.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace bp {

enum class DType { kNone, kF32, kF64 };

// Names float or double at the type level: withDType hands one to the binding's body, and
// FloatArg::as(tag) reads the array as that type.
template <typename T>
struct TypeTag {
  using type = T;
};

struct FloatArg {
  void* data = nullptr;
  size_t length = 0;
  bool isNull = true;
  template <typename T>
  T* as(TypeTag<T>) const {
    return static_cast<T*>(data);
  }
};

struct IndexArg {
  int32_t* data = nullptr;
  size_t length = 0;
};

// Largest accepted size or count: BLAS takes 32-bit ints, and products are checked for overflow.
constexpr size_t kMaxSize = 2147483647;
constexpr size_t kMaxDims = 8;

// Largest buffer a binding may allocate for one call (workspaces): 4 GiB, checked in 64 bits.
constexpr uint64_t kMaxAllocBytes = uint64_t{1} << 32;

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* fn, size_t minCount, size_t maxCount);

  Napi::Env env() const { return info_.Env(); }
  DType dtype() const { return dtype_; }
  // Argument i was passed and is not undefined.
  bool present(size_t i) const;

  FloatArg floats(size_t i, const char* name);        // Float32Array | Float64Array
  FloatArg floatsOrNull(size_t i, const char* name);  // ... or null / undefined
  // Int32Array read by the kernel; on a SharedArrayBuffer, a private copy (see above).
  IndexArg indices(size_t i, const char* name);
  // Int32Array the kernel writes (argmax, max-pool indices): never copied.
  IndexArg indicesOut(size_t i, const char* name);
  double number(size_t i, const char* name);  // any number, NaN included
  size_t size(size_t i, const char* name);    // integer in [0, kMaxSize]
  size_t sizeOr(size_t i, const char* name, size_t fallback) {
    return present(i) ? size(i, name) : fallback;
  }
  int code(size_t i, const char* name, int count);  // integer in [0, count)
  bool boolean(size_t i, const char* name);
  // A JS array of at most kMaxDims sizes; returns the number of dims.
  size_t shape(size_t i, const char* name, size_t* dims);

  // Checks that the array holds at least `need` elements.
  void atLeast(const FloatArg& a, size_t need, size_t i, const char* name) const;
  void atLeast(const IndexArg& a, size_t need, size_t i, const char* name) const;
  // Checks that the first `count` entries lie in [0, n), else throws a RangeError
  // "holds 7 at <at>3, outside <range>[0, 5)" (at: "" or "row "; range: "" or "the plane ").
  void indicesBelow(const IndexArg& a, size_t count, size_t n, size_t i, const char* name,
                    const char* at = "", const char* range = "") const;
  // Checks that the array holds exactly `need` elements.
  void exactly(const FloatArg& a, size_t need, size_t i, const char* name) const;

  // Overflow-checked arithmetic on sizes.
  size_t mul(size_t a, size_t b) const;
  size_t add(size_t a, size_t b) const;
  // Checks that `count` elements of `elementBytes` each (computed in 64 bits) fit under
  // kMaxAllocBytes before a binding allocates them, else a RangeError naming the op, what the
  // buffer is for and the bytes it would need. Returns the byte count.
  uint64_t allocBytes(uint64_t count, uint64_t elementBytes, const char* what) const;

  [[noreturn]] void typeError(size_t i, const char* name, const std::string& what) const;
  [[noreturn]] void rangeError(size_t i, const char* name, const std::string& what) const;
  [[noreturn]] void rangeError(const std::string& what) const;

 private:
  // One argument as read by the constructor.
  struct Snapshot {
    bool isTyped = false;
    napi_typedarray_type type = napi_int8_array;
    void* data = nullptr;
    size_t length = 0;
    bool shared = false;
    bool detached = false;
    bool isArray = false;
    uint32_t arrayLength = 0;
    double elements[kMaxDims] = {};
    uint32_t firstNonNumber = UINT32_MAX;  // index of the first element that is not a number
    std::vector<int32_t> copy;             // indices() copy of a shared Int32Array
  };

  std::string prefix(size_t i, const char* name) const;
  std::string describe(size_t i) const;
  std::string describe(napi_value v) const;
  const Snapshot& typed(size_t i, const char* name, const char* want) const;

  const Napi::CallbackInfo& info_;
  const char* fn_;
  DType dtype_ = DType::kNone;
  std::vector<Snapshot> snap_;
};

// Runs body(TypeTag<float>{}) or body(TypeTag<double>{}) for the dtype the call's float arrays
// share, so a binding writes its kernel call once for both precisions:
//   withDType(args, [&](auto t) { kernel(x.as(t), y.as(t)); });

template <typename F>
void withDType(const Args& args, F&& body) {
  if (args.dtype() == DType::kF32)
    body(TypeTag<float>{});
  else
    body(TypeTag<double>{});
}

}  // namespace bp
