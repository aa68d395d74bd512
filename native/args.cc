#include "args.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace bp {

namespace {

const char* typedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
      return "Int8Array";
    case napi_uint8_array:
      return "Uint8Array";
    case napi_uint8_clamped_array:
      return "Uint8ClampedArray";
    case napi_int16_array:
      return "Int16Array";
    case napi_uint16_array:
      return "Uint16Array";
    case napi_int32_array:
      return "Int32Array";
    case napi_uint32_array:
      return "Uint32Array";
    case napi_float32_array:
      return "Float32Array";
    case napi_float64_array:
      return "Float64Array";
    case napi_bigint64_array:
      return "BigInt64Array";
    case napi_biguint64_array:
      return "BigUint64Array";
    default:
      return "typed array";
  }
}

std::string formatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  // The shortest form that reads back as v (1e+300, not 1.0000000000000001e+300).
  char buf[64];
  for (int precision = 1; precision <= 17; ++precision) {
    snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

}  // namespace

Args::Args(const Napi::CallbackInfo& info, const char* fn, size_t minCount, size_t maxCount)
    : info_(info), fn_(fn) {
  const size_t n = info.Length();
  if (n < minCount || n > maxCount) {
    std::string expected = minCount == maxCount
                               ? std::to_string(minCount)
                               : std::to_string(minCount) + " to " + std::to_string(maxCount);
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + expected +
                                               " arguments, got " + std::to_string(n));
  }
  napi_env env = info.Env();
  snap_.resize(n);
  // Pass 1: JS arrays, element by element. napi_get_element may run a getter (on the array or
  // on Array.prototype for a hole); each element is read exactly once, here.
  for (size_t i = 0; i < n; ++i) {
    Snapshot& s = snap_[i];
    napi_value v = info[i];
    if (napi_is_array(env, v, &s.isArray) != napi_ok || !s.isArray) continue;
    napi_get_array_length(env, v, &s.arrayLength);
    if (s.arrayLength > kMaxDims) continue;  // refused by shape() without reading it
    for (uint32_t d = 0; d < s.arrayLength; ++d) {
      napi_value e;
      double x;
      if (napi_get_element(env, v, d, &e) != napi_ok) {
        // A getter threw: leave its exception pending and stop, the call fails with it.
        throw Napi::Error::New(env);
      }
      napi_valuetype t;
      napi_typeof(env, e, &t);
      if (t != napi_number || napi_get_value_double(env, e, &x) != napi_ok) {
        if (s.firstNonNumber == UINT32_MAX) s.firstNonNumber = d;
        continue;
      }
      s.elements[d] = x;
    }
  }
  // Pass 2: typed arrays' pointers and lengths. From here until the binding returns no user JS
  // runs (numbers and booleans are read without coercion), so these stay valid.
  for (size_t i = 0; i < n; ++i) {
    Snapshot& s = snap_[i];
    napi_value v = info[i];
    bool isTyped = false;
    if (napi_is_typedarray(env, v, &isTyped) != napi_ok || !isTyped) continue;
    napi_value buffer;
    size_t byteOffset;
    if (napi_get_typedarray_info(env, v, &s.type, &s.length, &s.data, &buffer, &byteOffset) !=
        napi_ok)
      continue;
    s.isTyped = true;
    bool plain = false;
    napi_is_arraybuffer(env, buffer, &plain);
    s.shared = !plain;  // the only other backing store is a SharedArrayBuffer
    if (plain) napi_is_detached_arraybuffer(env, buffer, &s.detached);
    if (s.detached) {
      s.length = 0;
      s.data = nullptr;
    }
  }
}

bool Args::present(size_t i) const {
  if (i >= info_.Length()) return false;
  napi_valuetype t;
  napi_typeof(info_.Env(), info_[i], &t);
  return t != napi_undefined;
}

std::string Args::prefix(size_t i, const char* name) const {
  return std::string(fn_) + ": argument " + std::to_string(i + 1) + " (" + name + ") ";
}

std::string Args::describe(size_t i) const {
  if (i < snap_.size() && snap_[i].isTyped)
    return std::string("a ") + (snap_[i].detached ? "detached " : "") +
           typedArrayName(snap_[i].type);
  if (i < snap_.size() && snap_[i].isArray) return "an array";
  return describe(info_[i]);
}

std::string Args::describe(napi_value v) const {
  napi_env env = info_.Env();
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return "an unknown value";
  switch (t) {
    case napi_undefined:
      return "undefined";
    case napi_null:
      return "null";
    case napi_boolean:
      return "a boolean";
    case napi_number: {
      double d = 0;
      napi_get_value_double(env, v, &d);
      return formatNumber(d);
    }
    case napi_string:
      return "a string";
    case napi_symbol:
      return "a symbol";
    case napi_function:
      return "a function";
    case napi_bigint:
      return "a bigint";
    case napi_external:
      return "an external";
    case napi_object: {
      bool isTyped = false;
      napi_is_typedarray(env, v, &isTyped);
      if (isTyped) {
        napi_typedarray_type tt;
        size_t len;
        napi_get_typedarray_info(env, v, &tt, &len, nullptr, nullptr, nullptr);
        return std::string("a ") + typedArrayName(tt);
      }
      bool isArray = false;
      napi_is_array(env, v, &isArray);
      return isArray ? "an array" : "an object";
    }
  }
  return "an unknown value";
}

void Args::typeError(size_t i, const char* name, const std::string& what) const {
  throw Napi::TypeError::New(info_.Env(), prefix(i, name) + what);
}

void Args::rangeError(size_t i, const char* name, const std::string& what) const {
  throw Napi::RangeError::New(info_.Env(), prefix(i, name) + what);
}

void Args::rangeError(const std::string& what) const {
  throw Napi::RangeError::New(info_.Env(), std::string(fn_) + ": " + what);
}

const Args::Snapshot& Args::typed(size_t i, const char* name, const char* want) const {
  const Snapshot& s = snap_[i];
  if (!s.isTyped) typeError(i, name, std::string("must be ") + want + ", got " + describe(i));
  if (s.detached)
    typeError(i, name,
              std::string("must be ") + want +
                  ", got one whose ArrayBuffer is detached (transferred or resized away)");
  return s;
}

FloatArg Args::floats(size_t i, const char* name) {
  const Snapshot& s = typed(i, name, "a Float32Array or Float64Array");
  const DType d = s.type == napi_float32_array   ? DType::kF32
                  : s.type == napi_float64_array ? DType::kF64
                                                 : DType::kNone;
  if (d == DType::kNone)
    typeError(i, name, "must be a Float32Array or Float64Array, got " + describe(i));
  if (dtype_ == DType::kNone) {
    dtype_ = d;
  } else if (d != dtype_) {
    typeError(i, name,
              std::string("must be a ") +
                  (dtype_ == DType::kF32 ? "Float32Array" : "Float64Array") +
                  " like the other arrays of this call, got " + describe(i));
  }
  FloatArg out;
  out.data = s.data;
  out.length = s.length;
  out.isNull = false;
  return out;
}

FloatArg Args::floatsOrNull(size_t i, const char* name) {
  if (i < info_.Length()) {
    napi_valuetype t;
    napi_typeof(info_.Env(), info_[i], &t);
    if (t != napi_null && t != napi_undefined) return floats(i, name);
  }
  return FloatArg{};
}

IndexArg Args::indicesOut(size_t i, const char* name) {
  const Snapshot& s = typed(i, name, "an Int32Array");
  if (s.type != napi_int32_array) typeError(i, name, "must be an Int32Array, got " + describe(i));
  IndexArg out;
  out.data = static_cast<int32_t*>(s.data);
  out.length = s.length;
  return out;
}

IndexArg Args::indices(size_t i, const char* name) {
  IndexArg out = indicesOut(i, name);
  Snapshot& s = snap_[i];
  if (s.shared) {
    // Another thread may write a SharedArrayBuffer at any time: check and use a private copy.
    if (s.copy.size() != out.length) s.copy.assign(out.data, out.data + out.length);
    out.data = s.copy.data();
  }
  return out;
}

double Args::number(size_t i, const char* name) {
  double v;
  if (napi_get_value_double(info_.Env(), info_[i], &v) != napi_ok)
    typeError(i, name, "must be a number, got " + describe(info_[i]));
  return v;
}

size_t Args::size(size_t i, const char* name) {
  const double v = number(i, name);
  if (!(v >= 0) || v != std::floor(v) || v > static_cast<double>(kMaxSize))
    rangeError(
        i, name,
        "must be an integer in [0, " + std::to_string(kMaxSize) + "], got " + formatNumber(v));
  return static_cast<size_t>(v);
}

int Args::code(size_t i, const char* name, int count) {
  const double v = number(i, name);
  if (!(v >= 0) || v != std::floor(v) || v >= count)
    rangeError(i, name,
               "must be an integer in [0, " + std::to_string(count) + "), got " + formatNumber(v));
  return static_cast<int>(v);
}

bool Args::boolean(size_t i, const char* name) {
  bool b;
  if (napi_get_value_bool(info_.Env(), info_[i], &b) != napi_ok)
    typeError(i, name, "must be a boolean, got " + describe(info_[i]));
  return b;
}

size_t Args::shape(size_t i, const char* name, size_t* dims) {
  const Snapshot& s = snap_[i];
  if (!s.isArray) typeError(i, name, "must be an array of sizes, got " + describe(i));
  const uint32_t len = s.arrayLength;
  if (len > kMaxDims)
    rangeError(
        i, name,
        "must have at most " + std::to_string(kMaxDims) + " dims, got " + std::to_string(len));
  for (uint32_t d = 0; d < len; ++d) {
    if (d >= s.firstNonNumber)
      typeError(i, name, "must hold numbers, element " + std::to_string(d) + " is not a number");
    const double x = s.elements[d];
    if (!(x >= 0) || x != std::floor(x) || x > static_cast<double>(kMaxSize))
      rangeError(i, name,
                 "element " + std::to_string(d) + " must be an integer in [0, " +
                     std::to_string(kMaxSize) + "], got " + formatNumber(x));
    dims[d] = static_cast<size_t>(x);
  }
  return len;
}

void Args::atLeast(const FloatArg& a, size_t need, size_t i, const char* name) const {
  if (a.length < need)
    rangeError(i, name,
               "must have at least " + std::to_string(need) + " elements, got " +
                   std::to_string(a.length));
}

void Args::atLeast(const IndexArg& a, size_t need, size_t i, const char* name) const {
  if (a.length < need)
    rangeError(i, name,
               "must have at least " + std::to_string(need) + " elements, got " +
                   std::to_string(a.length));
}

void Args::indicesBelow(const IndexArg& a, size_t count, size_t n, size_t i, const char* name,
                        const char* at, const char* range) const {
  for (size_t j = 0; j < count; ++j) {
    const int32_t v = a.data[j];
    if (v < 0 || static_cast<size_t>(v) >= n)
      rangeError(i, name,
                 "holds " + std::to_string(v) + " at " + at + std::to_string(j) + ", outside " +
                     range + "[0, " + std::to_string(n) + ")");
  }
}

void Args::exactly(const FloatArg& a, size_t need, size_t i, const char* name) const {
  if (a.length != need)
    rangeError(i, name,
               "must have " + std::to_string(need) + " elements, got " + std::to_string(a.length));
}

size_t Args::mul(size_t a, size_t b) const {
  size_t r;
  if (__builtin_mul_overflow(a, b, &r)) rangeError("sizes are too large (overflow)");
  return r;
}

size_t Args::add(size_t a, size_t b) const {
  size_t r;
  if (__builtin_add_overflow(a, b, &r)) rangeError("sizes are too large (overflow)");
  return r;
}

uint64_t Args::allocBytes(uint64_t count, uint64_t elementBytes, const char* what) const {
  uint64_t bytes;
  if (__builtin_mul_overflow(count, elementBytes, &bytes) || bytes > kMaxAllocBytes)
    rangeError(std::string(what) + " would need " +
               (bytes > kMaxAllocBytes && !__builtin_mul_overflow(count, elementBytes, &bytes)
                    ? std::to_string(bytes)
                    : std::to_string(count) + " x " + std::to_string(elementBytes)) +
               " bytes, more than the limit of " + std::to_string(kMaxAllocBytes) + " bytes");
  return bytes;
}

}  // namespace bp
