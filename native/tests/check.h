// A small test harness: test cases register themselves with BP_TEST; checks report file:line,
// what was compared, the values (got vs expected, and the index in an array) and the context
// (SIMD level, dtype, size, ...), then let the test go on, so one run shows every failing case.
// main() lives in check.cc: `bp_kernel_tests [file-stem or test name ...] [--list]`.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <type_traits>

namespace bpt {

typedef void (*TestFn)();

// Adds a test case; returns a dummy so that registration can run from a static initialiser.
int registerTest(const char* file, const char* name, TestFn fn);

// Reports one failed check of the running test case, with the current context.
void fail(const char* file, int line, const std::string& message);

// Prints a note (not a failure), e.g. an ISA level this CPU lacks.
void note(const std::string& message);

// Text of one value: floats with enough digits to tell neighbours apart.
inline std::string show(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}
inline std::string show(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
inline std::string show(long double v) { return show(static_cast<double>(v)); }
inline std::string show(const char* s) { return s; }
inline std::string show(const std::string& s) { return s; }
inline std::string show(bool b) { return b ? "true" : "false"; }
template <typename T, typename = std::enable_if_t<std::is_integral<T>::value>>
std::string show(T v) {
  return std::to_string(v);
}

// Concatenates the text of its arguments.
template <typename... Args>
std::string str(const Args&... args) {
  std::string out;
  (out += ... += show(args));
  return out;
}

// While alive, adds `label` to every failure message (scopes nest: "avx2 float32 n=17").
class Context {
 public:
  explicit Context(const std::string& label);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
};

// |got - expected| <= atol + rtol * scale, with scale = |expected| unless given per element.
struct Tol {
  double rtol;
  double atol;
};
constexpr Tol kExact = {0, 0};

// One element: NaN matches NaN, an infinity only the same infinity, everything else by tol.
inline bool closeEnough(double got, double expected, Tol tol, double scale) {
  if (std::isnan(expected) || std::isnan(got)) return std::isnan(expected) && std::isnan(got);
  if (std::isinf(expected) || std::isinf(got)) return got == expected;
  return std::fabs(got - expected) <= tol.atol + tol.rtol * scale;
}

void reportArrayMismatch(const char* file, int line, const std::string& what, size_t bad, size_t n,
                         const std::string& firstMismatches);

// Compares got[0, n) with the reference expected[0, n); scale (optional) replaces |expected[i]|
// as the magnitude the relative tolerance applies to. Returns whether all elements matched.
template <typename T, typename R>
bool checkClose(const char* file, int line, const std::string& what, const T* got,
                const R* expected, size_t n, Tol tol, const double* scale = nullptr) {
  size_t bad = 0;
  std::string first;
  for (size_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]);
    const double e = static_cast<double>(expected[i]);
    const double s = scale ? scale[i] : std::fabs(e);
    if (closeEnough(g, e, tol, s)) continue;
    if (++bad <= 4) {
      first += str("\n    [", i, "] got ", got[i], ", expected ", e);
      if (std::isfinite(g) && std::isfinite(e))
        first += str(" (|diff| ", std::fabs(g - e), " > tol ", tol.atol + tol.rtol * s, ")");
    }
  }
  if (bad) reportArrayMismatch(file, line, what, bad, n, first);
  return bad == 0;
}

// Integer arrays (indices) must match exactly.
template <typename T>
bool checkEqualInts(const char* file, int line, const std::string& what, const T* got,
                    const T* expected, size_t n) {
  size_t bad = 0;
  std::string first;
  for (size_t i = 0; i < n; ++i) {
    if (got[i] == expected[i]) continue;
    if (++bad <= 4) first += str("\n    [", i, "] got ", got[i], ", expected ", expected[i]);
  }
  if (bad) reportArrayMismatch(file, line, what, bad, n, first);
  return bad == 0;
}

}  // namespace bpt

#define BP_TEST_CONCAT2(a, b) a##b
#define BP_TEST_CONCAT(a, b) BP_TEST_CONCAT2(a, b)

// BP_TEST(name) { body }: a test case, run by `bp_kernel_tests <this file's stem>`.
#define BP_TEST(name)                                                     \
  static void name();                                                     \
  [[maybe_unused]] static const int BP_TEST_CONCAT(bpRegistered_, name) = \
      ::bpt::registerTest(__FILE__, #name, &name);                        \
  static void name()

#define BP_CHECK(cond)                                                    \
  do {                                                                    \
    if (!(cond)) ::bpt::fail(__FILE__, __LINE__, "check failed: " #cond); \
  } while (0)

// Scalars: got == expected (exactly; use BP_CHECK_NEAR for floating-point results).
#define BP_CHECK_EQ(got, expected)                                                            \
  do {                                                                                        \
    const auto& bpGot = (got);                                                                \
    const auto& bpExpected = (expected);                                                      \
    if (!(bpGot == bpExpected))                                                               \
      ::bpt::fail(__FILE__, __LINE__,                                                         \
                  ::bpt::str(#got " is ", bpGot, ", expected " #expected " = ", bpExpected)); \
  } while (0)

#define BP_CHECK_NEAR(got, expected, tol)                                                     \
  do {                                                                                        \
    const double bpGot = static_cast<double>(got);                                            \
    const double bpExpected = static_cast<double>(expected);                                  \
    if (!::bpt::closeEnough(bpGot, bpExpected, (tol), std::fabs(bpExpected)))                 \
      ::bpt::fail(__FILE__, __LINE__,                                                         \
                  ::bpt::str(#got " is ", bpGot, ", expected " #expected " = ", bpExpected)); \
  } while (0)

// Arrays: BP_CHECK_CLOSE(what, got, expected, n, tol[, scale]) with got a T*, expected a
// reference array (double or T) and what a string naming the array.
#define BP_CHECK_CLOSE(what, got, expected, ...) \
  ::bpt::checkClose(__FILE__, __LINE__, (what), (got), (expected), __VA_ARGS__)
#define BP_CHECK_EQUAL_INTS(what, got, expected, n) \
  ::bpt::checkEqualInts(__FILE__, __LINE__, (what), (got), (expected), (n))
