// What the kernel tests share: the SIMD levels this CPU runs, an execution context for the
// kernels that take one, a deterministic random source, heap buffers of exact size (so that
// AddressSanitizer sees any access past the end), and the tolerances the tests use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "exec_context.h"
#include "kernels.h"

namespace bpt {

struct Level {
  const char* name;
  const bp::KernelTable* table;
};

// The kernel tables this CPU can run (the scalar one always), widest first. The first call
// prints a note for each level the CPU lacks.
const std::vector<Level>& levels();

using bp::kernelsOf;  // exec_context.h: a table's kernels for one precision

template <typename T>
constexpr const char* dtypeName();
template <>
constexpr const char* dtypeName<float>() {
  return "float32";
}
template <>
constexpr const char* dtypeName<double>() {
  return "float64";
}

// Calls fn(kernels) for every level this CPU runs and both dtypes, inside a Context naming them.
// fn is generic: [](const auto& k) { someTest(k); } with someTest(const bp::Kernels<T>&).
template <typename Fn>
void forEachKernels(Fn&& fn) {
  for (const Level& level : levels()) {
    {
      Context c(str(level.name, " float32"));
      fn(level.table->f32);
    }
    {
      Context c(str(level.name, " float64"));
      fn(level.table->f64);
    }
  }
}

// A thread pool and a workspace of their own, for the kernels that take an ExecContext (conv,
// pooling, batch norm, rnn cells): what an addon instance lends them, without BLAS.
class Exec {
 public:
  explicit Exec(int threads) : pool_(threads) {}
  bp::ExecContext on(const bp::KernelTable& table) { return {&table, &pool_, &ws_, nullptr}; }
  int threads() const { return pool_.size(); }

 private:
  bp::ThreadPool pool_;
  bp::Workspace ws_;
};

// Calls fn(ctx, T()) for every level this CPU runs, on 1 and 2 threads (so that the kernels'
// parallel paths and per-thread buffers run too) and both dtypes, inside a Context naming them.
// fn is generic: [](const bp::ExecContext& ctx, auto zero) { using T = decltype(zero); ... }.
template <typename Fn>
void forEachExec(Fn&& fn) {
  Exec one(1), two(2);
  for (const Level& level : levels())
    for (Exec* exec : {&one, &two}) {
      const bp::ExecContext ctx = exec->on(*level.table);
      {
        Context c(str(level.name, " threads=", exec->threads(), " float32"));
        fn(ctx, float(0));
      }
      {
        Context c(str(level.name, " threads=", exec->threads(), " float64"));
        fn(ctx, double(0));
      }
    }
}

// Sizes that straddle every vector width (2, 4, 8 and 16 lanes) and the unrolled loops.
extern const std::vector<size_t> kSizes;

// "2, 3, 17" (empty for a scalar's shape).
std::string shapeText(const std::vector<size_t>& shape);

// xorshift64*: the same sequence on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed * 0x9E3779B97F4A7C15ULL + 1) {}
  uint64_t next();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();
  size_t below(size_t n);  // [0, n)

 private:
  uint64_t state_;
};

// A heap array of exactly n elements (n = 0 gives a real, empty allocation, never null). For
// the arithmetic types the tests use; the storage comes from std::allocator, whose allocate(0)
// still returns a unique pointer that AddressSanitizer guards.
template <typename T>
class Buf {
 public:
  explicit Buf(size_t n, T fill = T(0)) : n_(n), data_(std::allocator<T>().allocate(n), Free{n}) {
    for (size_t i = 0; i < n; ++i) data_[i] = fill;
  }
  Buf(const Buf& other) : Buf(other.n_) {
    for (size_t i = 0; i < n_; ++i) data_[i] = other.data_[i];
  }
  Buf& operator=(const Buf&) = delete;
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  size_t size() const { return n_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }

 private:
  struct Free {
    size_t n;
    void operator()(T* p) const { std::allocator<T>().deallocate(p, n); }
  };
  size_t n_;
  std::unique_ptr<T[], Free> data_;
};

// n values uniform in [lo, hi).
template <typename T>
Buf<T> uniformBuf(Rng& rng, size_t n, double lo, double hi) {
  Buf<T> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<T>(rng.uniform(lo, hi));
  return b;
}

// n values, normal with standard deviation `spread`.
template <typename T>
Buf<T> normalBuf(Rng& rng, size_t n, double spread = 1.0) {
  Buf<T> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<T>(spread * rng.normal());
  return b;
}

template <typename T>
Buf<double> widen(const Buf<T>& b) {
  Buf<double> w(b.size());
  for (size_t i = 0; i < b.size(); ++i) w[i] = static_cast<double>(b[i]);
  return w;
}

// A reference computed in double, rounded to T as an exactly rounded kernel result would be.
template <typename T>
Buf<double> roundedTo(const Buf<double>& ref) {
  Buf<double> r(ref.size());
  for (size_t i = 0; i < ref.size(); ++i) r[i] = static_cast<double>(static_cast<T>(ref[i]));
  return r;
}

// Tolerances (as in test/support/native-vs-js.ts).
// Vectorised transcendental functions: float32 within 2e-6 relative (1e-6 absolute), float64
// within 1e-12 relative (1e-14 absolute).
template <typename T>
constexpr Tol transcendentalTol();
template <>
constexpr Tol transcendentalTol<float>() {
  return {2e-6, 1e-6};
}
template <>
constexpr Tol transcendentalTol<double>() {
  return {1e-12, 1e-14};
}
// Sums and dot products, relative to the sum of the magnitudes that went into each result.
template <typename T>
constexpr double sumTol();
template <>
constexpr double sumTol<float>() {
  return 1e-5;
}
template <>
constexpr double sumTol<double>() {
  return 1e-12;
}

// Machine epsilon of T as a double.
template <typename T>
constexpr double epsOf();
template <>
constexpr double epsOf<float>() {
  return 1.1920928955078125e-07;
}
template <>
constexpr double epsOf<double>() {
  return 2.220446049250313e-16;
}

}  // namespace bpt
