// Fused scaled-dot-product attention (see attention.h). Per problem (one batch, one head) and
// per tile of kRows queries, the loop over key tiles of kCols keys computes the score block with
// the table's small GEMM (K transposed once per problem, so that its rows are the GEMM's
// contiguous operand), adds the mask and the causal cut row by row, and turns the block into
// probabilities with the table's expShiftSum; dropout multiplies the block by a mask regenerated
// from a position hash (attention.h), so the backward needs no stored mask either. Everything a
// tile touches stays in L1/L2; the per-ISA code is the table's (gemmSmall, expShiftSum), chosen at
// run time.
#include "attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "parallel.h"

namespace bp {
namespace {

constexpr size_t kRows = 64;  // queries per tile
constexpr size_t kCols = 64;  // keys per tile

// Elements rounded up to whole cache lines, so that the per-thread pieces stay aligned.
inline size_t lines(size_t n) { return (n + 15) & ~size_t(15); }

template <typename T>
void transpose(const T* a, size_t rows, size_t cols, T* at) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) at[c * rows + r] = a[r * cols + c];
}

// Scores of queries [i0, i0 + br) against keys [j0, j0 + bc) into S (br x bc): scale * Q K^T,
// plus the mask row, with the keys after the query cut to -inf when causal.
template <typename T>
void scoreBlock(const Kernels<T>& kt, const AttentionShape& s, const T* Q, const T* kT,
                const T* maskRow0, size_t i0, size_t br, size_t j0, size_t bc, T* S, T* scratch) {
  kt.gemmSmall(br, bc, s.D, static_cast<T>(s.scale), Q + i0 * s.D, s.D, 1, kT + j0, s.Lk, T(0), S,
               bc, scratch);
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (size_t r = 0; r < br; ++r) {
    T* sr = S + r * bc;
    const size_t i = i0 + r;
    if (maskRow0 != nullptr) {
      const T* mr = maskRow0 + i * s.maskI + j0;
      for (size_t j = 0; j < bc; ++j) sr[j] += mr[j];
    }
    if (s.causal && j0 + bc > i + 1)
      for (size_t j = (i + 1 > j0 ? i + 1 - j0 : 0); j < bc; ++j) sr[j] = kNegInf;
  }
}

// The mask of problem bh at query 0, key 0 (null when there is none).
template <typename T>
const T* maskOf(const AttentionShape& s, const T* mask, size_t bh) {
  if (mask == nullptr) return nullptr;
  return mask + (bh / s.H) * s.maskB + (bh % s.H) * s.maskH;
}

// Keys a query tile [i0, i0 + br) can see.
inline size_t keyEnd(const AttentionShape& s, size_t i0, size_t br) {
  return s.causal ? std::min(s.Lk, i0 + br) : s.Lk;
}

// Dropout multipliers of row `row` (= bh*Lq + i), keys [j0, j0 + n): 1/(1-p) where kept, else 0.
template <typename T>
void dropoutRow(const AttentionShape& s, uint32_t row, size_t j0, size_t n, T* mult) {
  const double threshold = s.dropoutP * 4294967296.0;
  const T keep = static_cast<T>(1.0 / (1.0 - s.dropoutP));
  for (size_t j = 0; j < n; ++j)
    mult[j] =
        static_cast<double>(dropoutHash(s.seed, row, static_cast<uint32_t>(j0 + j))) >= threshold
            ? keep
            : T(0);
}

inline size_t scratchElems(const AttentionShape& s) {
  return lines(std::max({s.D, s.Dv, kRows, kCols}) * 64);
}

template <typename T>
void forwardOne(const Kernels<T>& kt, const AttentionShape& s, size_t bh, const T* q, const T* k,
                const T* v, const T* mask, T* out, T* lse, T* buf) {
  const T* Q = q + bh * s.Lq * s.D;
  const T* K = k + bh * s.Lk * s.D;
  const T* V = v + bh * s.Lk * s.Dv;
  T* O = out + bh * s.Lq * s.Dv;
  T* LSE = lse + bh * s.Lq;
  const T* m0 = maskOf(s, mask, bh);
  T* kT = buf;
  T* S = kT + lines(s.D * s.Lk);
  T* m = S + lines(kRows * kCols);
  T* l = m + lines(kRows);
  T* scratch = l + lines(kRows);
  transpose(K, s.Lk, s.D, kT);
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (size_t i0 = 0; i0 < s.Lq; i0 += kRows) {
    const size_t br = std::min(kRows, s.Lq - i0);
    std::fill(m, m + br, kNegInf);
    std::fill(l, l + br, T(0));
    std::fill(O + i0 * s.Dv, O + (i0 + br) * s.Dv, T(0));
    const size_t kEnd = keyEnd(s, i0, br);
    for (size_t j0 = 0; j0 < kEnd; j0 += kCols) {
      const size_t bc = std::min(kCols, kEnd - j0);
      scoreBlock(kt, s, Q, kT, m0, i0, br, j0, bc, S, scratch);
      for (size_t r = 0; r < br; ++r) {
        T* sr = S + r * bc;
        T mx = kNegInf;
        for (size_t j = 0; j < bc; ++j) mx = std::max(mx, sr[j]);
        const T mOld = m[r], mNew = std::max(mOld, mx);
        if (mNew == kNegInf) {  // no key of this row seen yet: the block adds nothing
          std::fill(sr, sr + bc, T(0));
          continue;
        }
        const double sum = kt.expShiftSum(sr, sr, bc, mNew);
        if (mOld != mNew) {  // earlier partial output and sum were relative to exp(mOld)
          const T corr = std::exp(mOld - mNew);
          l[r] *= corr;
          T* orow = O + (i0 + r) * s.Dv;
          for (size_t d = 0; d < s.Dv; ++d) orow[d] *= corr;
        }
        l[r] += static_cast<T>(sum);
        m[r] = mNew;
        if (s.dropoutP > 0) {  // the sum l is of the weights before dropout; the output after
          T* mult = scratch;   // free until the gemm below
          dropoutRow(s, static_cast<uint32_t>(bh * s.Lq + i0 + r), j0, bc, mult);
          for (size_t j = 0; j < bc; ++j) sr[j] *= mult[j];
        }
      }
      kt.gemmSmall(br, s.Dv, bc, T(1), S, bc, 1, V + j0 * s.Dv, s.Dv, T(1), O + i0 * s.Dv, s.Dv,
                   scratch);
    }
    for (size_t r = 0; r < br; ++r) {
      // l == 0: no key visible; 0 * inf makes the row NaN, as torch's softmax over -inf does.
      const T inv = T(1) / l[r];
      T* orow = O + (i0 + r) * s.Dv;
      for (size_t d = 0; d < s.Dv; ++d) orow[d] *= inv;
      LSE[i0 + r] = m[r] + std::log(l[r]);
    }
  }
}

template <typename T>
void backwardOne(const Kernels<T>& kt, const AttentionShape& s, size_t bh, const T* q, const T* k,
                 const T* v, const T* mask, const T* out, const T* lse, const T* gOut, T* gq, T* gk,
                 T* gv, T* buf) {
  const size_t qo = bh * s.Lq, ko = bh * s.Lk;
  const T* Q = q + qo * s.D;
  const T* K = k + ko * s.D;
  const T* V = v + ko * s.Dv;
  const T* O = out + qo * s.Dv;
  const T* GO = gOut + qo * s.Dv;
  const T* LSE = lse + qo;
  T* GQ = gq + qo * s.D;
  T* GK = gk + ko * s.D;
  T* GV = gv + ko * s.Dv;
  const T* m0 = maskOf(s, mask, bh);
  T* kT = buf;
  T* vT = kT + lines(s.D * s.Lk);
  T* S = vT + lines(s.Dv * s.Lk);
  T* dP = S + lines(kRows * kCols);
  T* mult = dP + lines(kRows * kCols);  // dropout multipliers of the block
  T* delta = mult + lines(kRows * kCols);
  T* scratch = delta + lines(s.Lq);
  transpose(K, s.Lk, s.D, kT);
  transpose(V, s.Lk, s.Dv, vT);
  // delta_i = sum_d gOut[i, d] out[i, d] = sum_j P_ij dP_ij, the softmax backward's row term.
  for (size_t i = 0; i < s.Lq; ++i) {
    double acc = 0;
    for (size_t d = 0; d < s.Dv; ++d)
      acc += static_cast<double>(GO[i * s.Dv + d]) * O[i * s.Dv + d];
    delta[i] = static_cast<T>(acc);
  }
  std::fill(GQ, GQ + s.Lq * s.D, T(0));
  std::fill(GK, GK + s.Lk * s.D, T(0));
  std::fill(GV, GV + s.Lk * s.Dv, T(0));
  const T scale = static_cast<T>(s.scale);
  for (size_t i0 = 0; i0 < s.Lq; i0 += kRows) {
    const size_t br = std::min(kRows, s.Lq - i0);
    const size_t kEnd = keyEnd(s, i0, br);
    for (size_t j0 = 0; j0 < kEnd; j0 += kCols) {
      const size_t bc = std::min(kCols, kEnd - j0);
      scoreBlock(kt, s, Q, kT, m0, i0, br, j0, bc, S, scratch);
      for (size_t r = 0; r < br; ++r) kt.expShiftSum(S + r * bc, S + r * bc, bc, LSE[i0 + r]);
      const bool drop = s.dropoutP > 0;
      if (drop) {
        // The weights that reached the output, P * M (M the multipliers), go to dP for a while.
        for (size_t r = 0; r < br; ++r) {
          T* mr = mult + r * bc;
          dropoutRow(s, static_cast<uint32_t>(bh * s.Lq + i0 + r), j0, bc, mr);
          const T* pr = S + r * bc;
          T* dr = dP + r * bc;
          for (size_t j = 0; j < bc; ++j) dr[j] = pr[j] * mr[j];
        }
      }
      // gV_j += (P * M)^T gOut_i
      kt.gemmSmall(bc, s.Dv, br, T(1), drop ? dP : S, 1, bc, GO + i0 * s.Dv, s.Dv, T(1),
                   GV + j0 * s.Dv, s.Dv, scratch);
      // dP = (gOut_i V_j^T) * M, then dS = P * (dP - delta) in place
      kt.gemmSmall(br, bc, s.Dv, T(1), GO + i0 * s.Dv, s.Dv, 1, vT + j0, s.Lk, T(0), dP, bc,
                   scratch);
      for (size_t r = 0; r < br; ++r) {
        const T dr = delta[i0 + r];
        const T* pr = S + r * bc;
        T* gr = dP + r * bc;
        if (drop) {
          const T* mr = mult + r * bc;
          for (size_t j = 0; j < bc; ++j) gr[j] = pr[j] * (gr[j] * mr[j] - dr);
        } else {
          for (size_t j = 0; j < bc; ++j) gr[j] = pr[j] * (gr[j] - dr);
        }
      }
      // gQ_i += scale dS K_j; gK_j += scale dS^T Q_i
      kt.gemmSmall(br, s.D, bc, scale, dP, bc, 1, K + j0 * s.D, s.D, T(1), GQ + i0 * s.D, s.D,
                   scratch);
      kt.gemmSmall(bc, s.D, br, scale, dP, 1, bc, Q + i0 * s.D, s.D, T(1), GK + j0 * s.D, s.D,
                   scratch);
    }
  }
}

// Runs one(bh, buffer) for every problem on the pool, each thread with its own piece of
// workspace slot 0 (grown here, on the calling thread, before any task runs).
template <typename T, typename F>
void perProblem(const ExecContext& ctx, const AttentionShape& s, size_t perThread, F&& one) {
  const size_t problems = s.B * s.H;
  if (problems == 0 || s.Lq == 0) return;
  const size_t threads = static_cast<size_t>(ctx.pool->size());
  const size_t piece = lines(perThread);
  T* base = ctx.ws->get<T>(0, piece * threads);
  parallelFor(*ctx.pool, problems, s.Lq * s.Lk * (s.D + s.Dv),
              [&](size_t bh, size_t thread) { one(bh, base + thread * piece); });
}

}  // namespace

template <typename T>
void attentionForward(const ExecContext& ctx, const AttentionShape& s, const T* q, const T* k,
                      const T* v, const T* mask, T* out, T* lse) {
  const Kernels<T>& kt = kernelsOf<T>(*ctx.simd);
  const size_t need = lines(s.D * s.Lk) + lines(kRows * kCols) + 2 * lines(kRows) + scratchElems(s);
  perProblem<T>(ctx, s, need,
                [&](size_t bh, T* buf) { forwardOne(kt, s, bh, q, k, v, mask, out, lse, buf); });
}

template <typename T>
void attentionBackward(const ExecContext& ctx, const AttentionShape& s, const T* q, const T* k,
                       const T* v, const T* mask, const T* out, const T* lse, const T* gOut, T* gq,
                       T* gk, T* gv) {
  const Kernels<T>& kt = kernelsOf<T>(*ctx.simd);
  const size_t need = lines(s.D * s.Lk) + lines(s.Dv * s.Lk) + 3 * lines(kRows * kCols) +
                      lines(s.Lq) + scratchElems(s);
  perProblem<T>(ctx, s, need, [&](size_t bh, T* buf) {
    backwardOne(kt, s, bh, q, k, v, mask, out, lse, gOut, gq, gk, gv, buf);
  });
}

template void attentionForward<float>(const ExecContext&, const AttentionShape&, const float*,
                                      const float*, const float*, const float*, float*, float*);
template void attentionForward<double>(const ExecContext&, const AttentionShape&, const double*,
                                       const double*, const double*, const double*, double*,
                                       double*);
template void attentionBackward<float>(const ExecContext&, const AttentionShape&, const float*,
                                       const float*, const float*, const float*, const float*,
                                       const float*, const float*, float*, float*, float*);
template void attentionBackward<double>(const ExecContext&, const AttentionShape&, const double*,
                                        const double*, const double*, const double*, const double*,
                                        const double*, const double*, double*, double*, double*);

}  // namespace bp
