// Fused scaled-dot-product attention, forward and backward, after FlashAttention (Dao et al.
// 2022): the scores of one tile of queries against one tile of keys live only in a small block,
// the softmax runs online (a running maximum m and sum l per query row, earlier partial outputs
// rescaled by exp(m_old - m_new)), and the backward recomputes each block from the saved
// log-sum-exp instead of keeping the Lq x Lk probabilities. Memory beyond the inputs and outputs
// is linear in the sequence length (a transposed copy of K, and V for the backward, per thread).
//
// Semantics, argument order and shapes are documented on the Backend interface
// (attentionForward / attentionBackward in lib/backend/types.ts) and implemented identically, in
// plain loops, by lib/backend/js-attention.ts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "exec_context.h"

namespace bp {

struct AttentionShape {
  size_t B, H;    // batch and heads: B*H independent problems, threaded over
  size_t Lq, Lk;  // query and key lengths (Lk >= 1)
  size_t D, Dv;   // query/key and value widths (>= 1)
  // The additive mask of problem (b, h), query row i, key j sits at
  // mask[b*maskB + h*maskH + i*maskI + j] (a stride of 0 broadcasts); no mask when null.
  size_t maskB, maskH, maskI;
  bool causal;  // key j is hidden from query i when j > i (torch's top-left alignment)
  double scale;
  // Dropout on the attention weights: weight (bh, i, j) is kept, times 1 / (1 - p), when
  // dropoutHash(seed, bh*Lq + i, j) >= p * 2^32, else zeroed. The hash makes the mask a function
  // of its position, so the backward regenerates it instead of storing Lq x Lk bits.
  double dropoutP;
  uint32_t seed;
};

// murmur3's 32-bit finaliser, and the dropout hash built from it (lib/backend/js-attention.ts
// computes the same values).
inline uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
inline uint32_t dropoutHash(uint32_t seed, uint32_t row, uint32_t col) {
  return fmix32(fmix32(seed ^ row) + col * 0x9e3779b9u);
}

// out [B, H, Lq, Dv] = dropout(softmax(scale * q k^T + mask)) v, lse [B, H, Lq] = the log-sum-exp
// of each row of the masked scores (-inf for a row that sees no key; its output is NaN, as
// torch's). q [B, H, Lq, D], k [B, H, Lk, D], v [B, H, Lk, Dv]. Uses workspace slot 0.
template <typename T>
void attentionForward(const ExecContext& ctx, const AttentionShape& s, const T* q, const T* k,
                      const T* v, const T* mask, T* out, T* lse);

// The gradients gq, gk, gv (shaped like q, k, v, overwritten) given gOut and the forward's out
// and lse. Uses workspace slot 0.
template <typename T>
void attentionBackward(const ExecContext& ctx, const AttentionShape& s, const T* q, const T* k,
                       const T* v, const T* mask, const T* out, const T* lse, const T* gOut, T* gq,
                       T* gk, T* gv);

}  // namespace bp
