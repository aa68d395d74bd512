// Binary kernels: vector-vector and vector-scalar (both operand orders) for every op code, and
// the broadcasting driver (kernels_common.cc) over many shape pairs, on every SIMD level and
// both dtypes. The references compute in double and round to the dtype, which for + - * / is
// exactly the kernel's single rounding; pow goes through libm.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels_common.h"
#include "test_support.h"

namespace {

using namespace bpt;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The reference of one op code (lib/backend/types.ts BINARY_OPS); false when the code is unknown.
bool binaryRef(int op, double a, double b, double& out) {
  switch (op) {
    case bp::kAdd:
      out = a + b;
      return true;
    case bp::kSub:
      out = a - b;
      return true;
    case bp::kMul:
      out = a * b;
      return true;
    case bp::kDiv:
      out = a / b;
      return true;
    case bp::kPow:
      out = std::pow(a, b);
      return true;
    // NaN in either operand gives NaN (torch.maximum / torch.minimum).
    case bp::kMaximum:
      out = std::isnan(a) || std::isnan(b) ? kNaN : std::fmax(a, b);
      return true;
    case bp::kMinimum:
      out = std::isnan(a) || std::isnan(b) ? kNaN : std::fmin(a, b);
      return true;
    case bp::kGt:
      out = a > b;
      return true;
    case bp::kLt:
      out = a < b;
      return true;
    case bp::kGe:
      out = a >= b;
      return true;
    case bp::kLe:
      out = a <= b;
      return true;
    case bp::kEq:
      out = a == b;
      return true;
    default:
      return false;
  }
}

const char* binaryName(int op) {
  static const char* const names[] = {"add",     "sub", "mul", "div", "pow", "maximum",
                                      "minimum", "gt",  "lt",  "ge",  "le",  "eq"};
  return op >= 0 && op < static_cast<int>(sizeof names / sizeof *names) ? names[op] : "unknown";
}

template <typename T>
Tol binaryTol(int op) {
  // powf and pow are within an ulp or so; everything else is one IEEE operation or a selection.
  if (op == bp::kPow) return sizeof(T) == 4 ? Tol{1e-6, 0} : Tol{1e-15, 0};
  return kExact;
}

// Operands: normal values, with zeros of both signs, infinities, NaN and equal pairs mixed in
// (at positions that move with n, so that vector bodies and tails both meet them).
template <typename T>
void operands(Rng& rng, size_t n, int op, Buf<T>& a, Buf<T>& b) {
  for (size_t i = 0; i < n; ++i) {
    if (op == bp::kPow) {  // mostly positive bases; a negative one with an integer exponent
      a[i] = static_cast<T>(rng.uniform(0, 4));
      b[i] = static_cast<T>(rng.uniform(-4, 4));
      if (i % 5 == 3) {
        a[i] = -a[i];
        b[i] = std::round(b[i]);
      }
    } else {
      a[i] = static_cast<T>(3 * rng.normal());
      b[i] = static_cast<T>(3 * rng.normal());
    }
    const size_t special = (i * 7 + n) % 23;
    const double values[] = {0.0, -0.0, kInf, -kInf, kNaN};
    if (special < 5) b[i] = static_cast<T>(values[special]);
    if (special == 5) a[i] = static_cast<T>(values[(i / 23) % 5]);
    if (special == 6) b[i] = a[i];
  }
}

template <typename T>
void vectorVector(const bp::Kernels<T>& k) {
  Rng rng(201);
  for (int op = 0; op < bp::kBinaryCount; ++op) {
    for (size_t n : kSizes) {
      Context c(str(binaryName(op), " n=", n));
      Buf<T> a(n), b(n);
      operands(rng, n, op, a, b);
      Buf<double> ref(n);
      bool known = true;
      for (size_t i = 0; i < n && known; ++i) known = binaryRef(op, a[i], b[i], ref[i]);
      if (!known) {
        fail(__FILE__, __LINE__, str("binary op code ", op, " has no reference in binary_test.cc"));
        break;
      }
      Buf<T> out(n, std::numeric_limits<T>::quiet_NaN());
      k.binaryVV(op, a.data(), b.data(), out.data(), n);
      BP_CHECK_CLOSE("a op b", out.data(), roundedTo<T>(ref).data(), n, binaryTol<T>(op));
      // out may be a (the engine accumulates gradients in place).
      Buf<T> inPlace(a);
      k.binaryVV(op, inPlace.data(), b.data(), inPlace.data(), n);
      BP_CHECK_CLOSE("a = a op b", inPlace.data(), roundedTo<T>(ref).data(), n, binaryTol<T>(op));
    }
  }
}

BP_TEST(vectorVectorEveryOp) {
  forEachKernels([](const auto& k) { vectorVector(k); });
}

template <typename T>
void vectorScalar(const bp::Kernels<T>& k) {
  Rng rng(202);
  const double scalars[] = {2.5, -1.75, 0.0, -0.0, 3.0, kInf, kNaN};
  for (int op = 0; op < bp::kBinaryCount; ++op)
    for (double sd : scalars)
      for (bool scalarFirst : {false, true})
        for (size_t n : kSizes) {
          Context c(str(binaryName(op), " scalar=", sd,
                        scalarFirst ? " (scalar op a)" : " (a op scalar)", " n=", n));
          Buf<T> a(n), unused(n);
          operands(rng, n, op, a, unused);
          const T s = static_cast<T>(sd);
          Buf<double> ref(n);
          bool known = true;
          for (size_t i = 0; i < n && known; ++i)
            known = scalarFirst ? binaryRef(op, s, a[i], ref[i]) : binaryRef(op, a[i], s, ref[i]);
          if (!known) {
            fail(__FILE__, __LINE__,
                 str("binary op code ", op, " has no reference in binary_test.cc"));
            return;
          }
          Buf<T> out(n, std::numeric_limits<T>::quiet_NaN());
          k.binaryVS(op, a.data(), s, out.data(), n, scalarFirst);
          BP_CHECK_CLOSE("out", out.data(), roundedTo<T>(ref).data(), n, binaryTol<T>(op));
        }
}

BP_TEST(vectorScalarEveryOp) {
  forEachKernels([](const auto& k) { vectorScalar(k); });
}

// ---- broadcasting ----------------------------------------------------------------------------

typedef std::vector<size_t> Shape;

size_t numel(const Shape& s) {
  size_t n = 1;
  for (size_t d : s) n *= d;
  return n;
}

Shape broadcastShape(const Shape& a, const Shape& b) {
  const size_t dims = a.size() > b.size() ? a.size() : b.size();
  Shape out(dims);
  for (size_t r = 0; r < dims; ++r) {
    const size_t ad = r < a.size() ? a[a.size() - 1 - r] : 1;
    const size_t bd = r < b.size() ? b[b.size() - 1 - r] : 1;
    out[dims - 1 - r] = ad == 1 ? bd : ad;
  }
  return out;
}

// Flat index into `shape` (right-aligned with the output) of the output element at `index`.
size_t sourceIndex(const Shape& out, const Shape& shape, const Shape& index) {
  size_t flat = 0;
  const size_t offset = out.size() - shape.size();
  for (size_t d = 0; d < shape.size(); ++d)
    flat = flat * shape[d] + (shape[d] == 1 ? 0 : index[offset + d]);
  return flat;
}

template <typename T>
void broadcast(const bp::Kernels<T>& k) {
  Rng rng(203);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{}, {}},
      {{1}, {7}},
      {{7}, {}},
      {{}, {33}},
      {{17}, {17}},
      {{1000}, {1000}},
      {{3, 17}, {17}},
      {{3, 17}, {3, 1}},
      {{65, 1}, {1, 9}},
      {{2, 1, 33}, {5, 1}},
      {{4, 3, 1, 5}, {3, 6, 1}},
      {{1, 1, 1, 1, 1, 1, 1, 17}, {2, 1, 1, 1, 1, 1, 1, 1}},
      {{2, 2, 2, 2, 2, 2, 2, 3}, {3}},
      {{0, 5}, {5}},
      {{3, 0}, {1}},
      {{300, 257}, {257}},
      {{2, 3, 1000}, {3, 1}},
      {{9, 1, 16}, {1, 8, 1}},
      {{1, 31}, {15, 1}}};
  for (int op = 0; op < bp::kBinaryCount; ++op) {
    for (const auto& [aShape, bShape] : cases)
      for (bool swap : {false, true}) {
        const Shape& as = swap ? bShape : aShape;
        const Shape& bs = swap ? aShape : bShape;
        const Shape os = broadcastShape(as, bs);
        Context c(str(binaryName(op), " [", shapeText(as), "] op [", shapeText(bs), "]"));
        Buf<T> a(numel(as)), b(numel(bs)), scratch(std::max(numel(as), numel(bs)));
        operands(rng, a.size(), op, a, scratch);
        operands(rng, b.size(), op, scratch, b);
        const size_t total = numel(os);
        Buf<double> ref(total);
        Shape index(os.size(), 0);
        for (size_t flat = 0; flat < total; ++flat) {
          const T av = a[sourceIndex(os, as, index)], bv = b[sourceIndex(os, bs, index)];
          if (!binaryRef(op, av, bv, ref[flat])) {
            fail(__FILE__, __LINE__,
                 str("binary op code ", op, " has no reference in binary_test.cc"));
            return;
          }
          for (size_t d = os.size(); d-- > 0;) {
            if (++index[d] < os[d]) break;
            index[d] = 0;
          }
        }
        Buf<T> out(total, std::numeric_limits<T>::quiet_NaN());
        bp::broadcastBinary(k, op, a.data(), as.data(), as.size(), b.data(), bs.data(), bs.size(),
                            out.data(), os.data(), os.size());
        BP_CHECK_CLOSE("out", out.data(), roundedTo<T>(ref).data(), total, binaryTol<T>(op));
        if (numel(as) == total && as.size() == os.size()) {  // out may be a when a has out's shape
          Buf<T> inPlace(a);
          bp::broadcastBinary(k, op, inPlace.data(), as.data(), as.size(), b.data(), bs.data(),
                              bs.size(), inPlace.data(), os.data(), os.size());
          BP_CHECK_CLOSE("a = a op b", inPlace.data(), roundedTo<T>(ref).data(), total,
                         binaryTol<T>(op));
        }
      }
  }
}

BP_TEST(broadcastEveryOp) {
  forEachKernels([](const auto& k) { broadcast(k); });
}

}  // namespace
