// GEMM: the per-ISA micro-kernel on its own, and the two entry points of gemm.h (the packed,
// cache-blocked gemmBuiltin, single- and multi-threaded, and the unpacked gemmSmall) over
// transposes, alpha/beta (beta = 0 with NaN in C must not leak), padded leading dimensions,
// odd sizes around every register tile and sizes past the cache blocks, against a naive
// product in long double. Bound: |C - ref| <= (k + 3) eps (|alpha| sum |a||b| + |beta c|).
#include "gemm.h"

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "test_support.h"
#include "thread_pool.h"

namespace {

using namespace bpt;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kSentinel = 12345.0;  // in the padding of C: must survive every call

struct Product {
  bool transA, transB;
  size_t m, n, k;
  double alpha, beta;
  size_t pad;  // extra elements per row of A, B and C (leading dimension > row length)
};

std::string describe(const Product& p) {
  return str(p.transA ? "A^T" : "A", " ", p.transB ? "B^T" : "B", " m=", p.m, " n=", p.n,
             " k=", p.k, " alpha=", p.alpha, " beta=", p.beta, " pad=", p.pad);
}

// Elements of a rows x len matrix with rows ld apart: the last row has no padding, so that
// AddressSanitizer catches a read or write past its end.
size_t stridedSize(size_t rows, size_t len, size_t ld) { return rows ? (rows - 1) * ld + len : 0; }

// Operands and the reference for one product, in T.
template <typename T>
struct Operands {
  size_t lda, ldb, ldc;
  Buf<T> a, b, c0;
  Buf<double> ref, scale;

  Operands(const Product& p, Rng& rng)
      : lda((p.transA ? p.m : p.k) + p.pad),
        ldb((p.transB ? p.k : p.n) + p.pad),
        ldc(p.n + p.pad),
        a(normalBuf<T>(rng, stridedSize(p.transA ? p.k : p.m, p.transA ? p.m : p.k, lda))),
        b(normalBuf<T>(rng, stridedSize(p.transB ? p.n : p.k, p.transB ? p.k : p.n, ldb))),
        c0(normalBuf<T>(rng, stridedSize(p.m, p.n, ldc))),
        ref(p.m * p.n),
        scale(p.m * p.n) {
    for (size_t i = 0; i + 1 < p.m; ++i)
      for (size_t j = p.n; j < ldc; ++j) c0[i * ldc + j] = static_cast<T>(kSentinel);
    if (p.beta == 0)  // must not be read
      for (size_t i = 0; i < p.m; ++i)
        for (size_t j = 0; j < p.n; ++j) c0[i * ldc + j] = static_cast<T>(kNaN);
    for (size_t i = 0; i < p.m; ++i)
      for (size_t j = 0; j < p.n; ++j) {
        long double s = 0, sAbs = 0;
        for (size_t q = 0; q < p.k; ++q) {
          const long double av = p.transA ? a[q * lda + i] : a[i * lda + q];
          const long double bv = p.transB ? b[j * ldb + q] : b[q * ldb + j];
          s += av * bv;
          sAbs += std::fabs(av * bv);
        }
        const double c = p.beta == 0 ? 0.0 : static_cast<double>(c0[i * ldc + j]);
        ref[i * p.n + j] = static_cast<double>(p.alpha * s + p.beta * c);
        scale[i * p.n + j] = static_cast<double>(std::fabs(p.alpha) * sAbs) + std::fabs(p.beta * c);
      }
  }

  // C's p.n columns against the reference, and its padding against the sentinel.
  void check(const char* file, int line, const Product& p, const Buf<T>& c) const {
    Buf<T> body(p.m * p.n);
    std::vector<double> padding;
    for (size_t i = 0; i < p.m; ++i) {
      for (size_t j = 0; j < p.n; ++j) body[i * p.n + j] = c[i * ldc + j];
      if (i + 1 < p.m)
        for (size_t j = p.n; j < ldc; ++j) padding.push_back(c[i * ldc + j]);
    }
    const Tol tol = {static_cast<double>(p.k + 3) * epsOf<T>(), 0};
    checkClose(file, line, "C", body.data(), ref.data(), body.size(), tol, scale.data());
    const std::vector<double> sentinels(padding.size(), kSentinel);
    checkClose(file, line, "padding of C", padding.data(), sentinels.data(), padding.size(),
               kExact);
  }
};

// Sizes 1..17 (across every mr x nr tile), 31, 33, 65, each in the role of m, n and k.
std::vector<Product> smallProducts(Rng& rng) {
  const size_t sizes[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 31, 33, 65};
  const double alphaBeta[][2] = {{1, 0}, {0.5, 0}, {1, 1}, {-2, 0.25}};
  std::vector<Product> out;
  size_t variant = 0;
  auto add = [&](size_t m, size_t n, size_t k) {
    for (int t = 0; t < 4; ++t, ++variant) {
      const double* ab = alphaBeta[variant % 4];
      out.push_back(
          {(t & 1) != 0, (t & 2) != 0, m, n, k, ab[0], ab[1], variant % 3 == 0 ? 3u : 0u});
    }
  };
  for (size_t s : sizes) {
    add(s, s, s);
    add(s, 17, 5);
    add(5, s, 17);
    add(17, 5, s);
  }
  for (int i = 0; i < 20; ++i)
    add(sizes[rng.below(20)], sizes[rng.below(20)], sizes[rng.below(20)]);
  // Degenerate: nothing to do, k = 0 (C = beta C), alpha = 0.
  out.push_back({false, false, 0, 5, 3, 1, 0, 0});
  out.push_back({false, false, 5, 0, 3, 1, 0, 1});
  out.push_back({false, true, 5, 7, 0, 1, 0, 2});
  out.push_back({true, false, 5, 7, 0, 1, 0.5, 0});
  out.push_back({false, false, 6, 9, 4, 0, 0, 1});
  out.push_back({true, true, 6, 9, 4, 0, -1.5, 0});
  return out;
}

// Past the cache blocks: several row blocks (m > 16 mr), k-blocks (k > kc), column panels
// (n > 1024), and products big enough for the threaded path (>= 200^3 multiply-adds).
std::vector<Product> largeProducts() {
  std::vector<Product> out;
  const size_t shapes[][3] = {{200, 130, 257}, {300, 67, 129}, {5, 1100, 3}, {256, 256, 300}};
  int variant = 0;
  for (const auto& s : shapes)
    for (int t = 0; t < 4; ++t, ++variant)
      out.push_back({(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], variant % 2 ? 0.75 : 1.0,
                     variant % 3 == 0 ? 0.0 : 0.5, variant % 2 ? 1u : 0u});
  return out;
}

template <typename T>
void runBuiltin(const Product& p, const Operands<T>& o, const bp::Kernels<T>& k,
                bp::ThreadPool& pool, bp::Workspace& ws) {
  Buf<T> c(o.c0);
  bp::gemmBuiltin<T>(p.transA, p.transB, p.m, p.n, p.k, static_cast<T>(p.alpha), o.a.data(), o.lda,
                     o.b.data(), o.ldb, static_cast<T>(p.beta), c.data(), o.ldc, k, pool, ws);
  o.check(__FILE__, __LINE__, p, c);
}

template <typename T>
void runSmall(const Product& p, const Operands<T>& o, const bp::Kernels<T>& k, bp::Workspace& ws) {
  Buf<T> c(o.c0);
  bp::gemmSmall<T>(p.transA, p.transB, p.m, p.n, p.k, static_cast<T>(p.alpha), o.a.data(), o.lda,
                   o.b.data(), o.ldb, static_cast<T>(p.beta), c.data(), o.ldc, k, ws);
  o.check(__FILE__, __LINE__, p, c);
}

template <typename T>
void entryPoints() {
  Rng rng(601);
  bp::ThreadPool single(1), pair(2);
  bp::Workspace ws;  // reused across calls and sizes, as the addon does
  for (const Product& p : smallProducts(rng)) {
    const Operands<T> o(p, rng);
    for (const Level& level : levels()) {
      Context c(str(level.name, " ", dtypeName<T>(), " ", describe(p)));
      const bp::Kernels<T>& k = kernelsOf<T>(*level.table);
      {
        Context c1("gemmBuiltin, 1 thread");
        runBuiltin(p, o, k, single, ws);
      }
      {
        Context c2("gemmBuiltin, 2 threads");
        runBuiltin(p, o, k, pair, ws);
      }
      {
        Context c3("gemmSmall");
        runSmall(p, o, k, ws);
      }
    }
  }
}

template <typename T>
void largeEntryPoints() {
  Rng rng(602);
  bp::ThreadPool pair(2);
  bp::Workspace ws;
  for (const Product& p : largeProducts()) {
    const Operands<T> o(p, rng);
    for (const Level& level : levels()) {
      Context c(str(level.name, " ", dtypeName<T>(), " ", describe(p), " gemmBuiltin, 2 threads"));
      runBuiltin(p, o, kernelsOf<T>(*level.table), pair, ws);
    }
  }
}

BP_TEST(builtinAndSmallOddSizes) {
  entryPoints<float>();
  entryPoints<double>();
}

BP_TEST(builtinPastTheCacheBlocks) {
  largeEntryPoints<float>();
  largeEntryPoints<double>();
}

// The micro-kernel alone: C[mr x nr] = alpha * Apanel Bpanel + beta * C, with C's rows ldc apart.
template <typename T>
void microKernel(const bp::Kernels<T>& k) {
  Rng rng(603);
  const size_t mr = static_cast<size_t>(k.mr), nr = static_cast<size_t>(k.nr);
  const size_t ldc = nr + 5;
  const double alphaBeta[][2] = {{1, 0}, {0.5, 0}, {1, 1}, {-2, 0.25}};
  for (size_t kc : {0, 1, 2, 7, 8, 9, 17, 64, 65, 256})
    for (const auto& ab : alphaBeta) {
      Context c(str("mr=", mr, " nr=", nr, " kc=", kc, " alpha=", ab[0], " beta=", ab[1]));
      const Buf<T> a = normalBuf<T>(rng, kc * mr), b = normalBuf<T>(rng, kc * nr);
      Buf<T> c0 = normalBuf<T>(rng, mr * ldc);
      for (size_t i = 0; i < mr; ++i)
        for (size_t j = 0; j < ldc; ++j)
          if (j >= nr)
            c0[i * ldc + j] = static_cast<T>(kSentinel);
          else if (ab[1] == 0)
            c0[i * ldc + j] = static_cast<T>(kNaN);
      Buf<double> ref(mr * ldc), scale(mr * ldc);
      for (size_t i = 0; i < mr; ++i)
        for (size_t j = 0; j < ldc; ++j) {
          if (j >= nr) {
            ref[i * ldc + j] = kSentinel;
            scale[i * ldc + j] = 0;
            continue;
          }
          long double s = 0, sAbs = 0;
          for (size_t q = 0; q < kc; ++q) {
            const long double prod = static_cast<long double>(a[q * mr + i]) * b[q * nr + j];
            s += prod;
            sAbs += std::fabs(prod);
          }
          const double cv = ab[1] == 0 ? 0.0 : static_cast<double>(c0[i * ldc + j]);
          ref[i * ldc + j] = static_cast<double>(ab[0] * s + ab[1] * cv);
          scale[i * ldc + j] = static_cast<double>(std::fabs(ab[0]) * sAbs) + std::fabs(ab[1] * cv);
        }
      Buf<T> cOut(c0);
      k.gemmMicro(kc, a.data(), b.data(), cOut.data(), ldc, static_cast<T>(ab[0]),
                  static_cast<T>(ab[1]));
      BP_CHECK_CLOSE("C (and its padding)", cOut.data(), ref.data(), mr * ldc,
                     Tol{static_cast<double>(kc + 3) * epsOf<T>(), 0}, scale.data());
    }
}

BP_TEST(microKernelEveryLevel) {
  forEachKernels([](const auto& k) { microKernel(k); });
}

}  // namespace
