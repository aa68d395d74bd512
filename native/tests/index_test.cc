// The data-movement kernels of kernels_common.cc: permuteCopy, gatherRows and scatterAddRows,
// against naive index loops.
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels_common.h"
#include "test_support.h"

namespace {

using namespace bpt;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// permuteCopy: out has shape shape[perm[0]], shape[perm[1]], ...
template <typename T>
void permuteCase(Rng& rng, const std::vector<size_t>& shape, const std::vector<size_t>& perm) {
  Context c(str(dtypeName<T>(), " shape [", shapeText(shape), "] perm [", shapeText(perm), "]"));
  const size_t dims = shape.size();
  size_t total = 1;
  for (size_t d : shape) total *= d;
  Buf<T> x = normalBuf<T>(rng, total);
  std::vector<size_t> outShape(dims), stride(dims);
  size_t s = 1;
  for (size_t d = dims; d-- > 0;) {
    stride[d] = s;
    s *= shape[d];
  }
  for (size_t d = 0; d < dims; ++d) outShape[d] = shape[perm[d]];
  Buf<double> ref(total);
  std::vector<size_t> index(dims, 0);  // index into out
  for (size_t flat = 0; flat < total; ++flat) {
    size_t src = 0;
    for (size_t d = 0; d < dims; ++d) src += index[d] * stride[perm[d]];
    ref[flat] = x[src];
    for (size_t d = dims; d-- > 0;) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  Buf<T> out(total, static_cast<T>(kNaN));
  bp::permuteCopy(x.data(), shape.data(), perm.data(), dims, out.data());
  BP_CHECK_CLOSE("out", out.data(), ref.data(), total, kExact);
}

BP_TEST(permuteCopyEveryRank) {
  Rng rng(303);
  // Fixed cases: transposes, the identity, a scalar, empty extents, the full 8 dims.
  const std::vector<std::pair<std::vector<size_t>, std::vector<size_t>>> cases = {
      {{}, {}},
      {{7}, {0}},
      {{3, 17}, {1, 0}},
      {{17, 3}, {0, 1}},
      {{33, 65}, {1, 0}},
      {{2, 3, 4}, {2, 0, 1}},
      {{2, 3, 4}, {1, 2, 0}},
      {{0, 5}, {1, 0}},
      {{4, 0, 3}, {2, 1, 0}},
      {{1, 9, 1, 8}, {3, 1, 2, 0}},
      {{2, 2, 2, 2, 2, 2, 2, 3}, {7, 6, 5, 4, 3, 2, 1, 0}},
      {{2, 1, 3, 1, 2, 1, 3, 2}, {1, 3, 5, 0, 2, 4, 6, 7}}};
  for (const auto& [shape, perm] : cases) {
    permuteCase<float>(rng, shape, perm);
    permuteCase<double>(rng, shape, perm);
  }
  // Random ranks 1..8, extents 1..5, random permutations.
  for (int t = 0; t < 60; ++t) {
    const size_t dims = 1 + rng.below(8);
    std::vector<size_t> shape(dims), perm(dims);
    for (size_t d = 0; d < dims; ++d) {
      shape[d] = 1 + rng.below(dims > 5 ? 3 : 5);
      perm[d] = d;
    }
    for (size_t d = dims; d-- > 1;) std::swap(perm[d], perm[rng.below(d + 1)]);
    permuteCase<double>(rng, shape, perm);
    permuteCase<float>(rng, shape, perm);
  }
}

// gatherRows: out[o, j, i] = x[o, idx[j], i]; scatterAddRows: gx[o, idx[j], i] += g[o, j, i].
template <typename T>
void gatherScatterCase(Rng& rng, size_t outer, size_t n, size_t inner, size_t len) {
  Context c(str(dtypeName<T>(), " outer=", outer, " n=", n, " inner=", inner, " indices=", len));
  const Buf<T> x = normalBuf<T>(rng, outer * n * inner);
  Buf<int32_t> idx(len);
  for (size_t j = 0; j < len; ++j)  // repeats on purpose, and the last row
    idx[j] = static_cast<int32_t>(j % 4 == 3 ? n - 1 : rng.below(n));
  Buf<double> ref(outer * len * inner);
  for (size_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < len; ++j)
      for (size_t i = 0; i < inner; ++i)
        ref[(o * len + j) * inner + i] = x[(o * n + static_cast<size_t>(idx[j])) * inner + i];
  Buf<T> out(ref.size(), static_cast<T>(kNaN));
  bp::gatherRows(x.data(), outer, n, inner, idx.data(), len, out.data());
  BP_CHECK_CLOSE("gather", out.data(), ref.data(), ref.size(), kExact);

  const Buf<T> g = normalBuf<T>(rng, outer * len * inner);
  Buf<T> gx = normalBuf<T>(rng, outer * n * inner);  // accumulates onto what is there
  Buf<double> gxRef(gx.size()), scale(gx.size());
  for (size_t i = 0; i < gx.size(); ++i) {
    gxRef[i] = gx[i];
    scale[i] = std::fabs(gx[i]);
  }
  for (size_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < len; ++j)
      for (size_t i = 0; i < inner; ++i) {
        const size_t dst = (o * n + static_cast<size_t>(idx[j])) * inner + i;
        gxRef[dst] += g[(o * len + j) * inner + i];
        scale[dst] += std::fabs(g[(o * len + j) * inner + i]);
      }
  bp::scatterAddRows(g.data(), outer, n, inner, idx.data(), len, gx.data());
  // Repeated indices add in T, one rounding per addition.
  BP_CHECK_CLOSE("scatterAdd", gx.data(), gxRef.data(), gx.size(), Tol{4 * epsOf<T>() * len, 0},
                 scale.data());
}

BP_TEST(gatherAndScatterAddRows) {
  Rng rng(304);
  for (size_t outer : {1, 3})
    for (size_t n : {1, 2, 9, 33})
      for (size_t inner : {0, 1, 7, 16, 65})
        for (size_t len : {0, 1, 5, 40}) {
          gatherScatterCase<float>(rng, outer, n, inner, len);
          gatherScatterCase<double>(rng, outer, n, inner, len);
        }
}

}  // namespace
