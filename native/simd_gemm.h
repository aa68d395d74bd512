// GEMM micro-kernel (MR rows x NV vectors, accumulators in registers) used by the blocked GEMM,
// and gemmSmallK, which computes small products without packing.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_gemm.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

// GEMM micro-kernel: MR rows x NV vectors, accumulators in registers.

template <typename T, int MR, int NV>
void gemmMicroK(size_t kc, const T* __restrict a, const T* __restrict b, T* c, size_t ldc, T alpha,
                T beta) {
  typedef typename Vec<T>::V V;
  constexpr int L = Vec<T>::L;
  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V{};
  for (size_t p = 0; p < kc; ++p) {
    V bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = load<V>(b + j * L);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const V av = splat<V>(a[i]);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] += av * bv[j];
    }
    a += MR;
    b += NV * L;
  }
  const V va = splat<V>(alpha);
  if (beta == T(0)) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) store(c + i * ldc + j * L, va * acc[i][j]);
  } else {
    const V vb = splat<V>(beta);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        T* p = c + i * ldc + j * L;
        store(p, va * acc[i][j] + vb * load<V>(p));
      }
  }
}

// Small GEMM: blocks of R rows x NV vectors of C accumulated in registers (R*NV independent
// FMA chains, each B vector loaded once for R rows); B rows are contiguous along the columns.
// The last n % L columns come from a zero-padded copy in scratch (row stride L) and are stored
// partially (`cols` < L).
template <typename T, int R, int NV>
BP_INLINE void smallBlock(size_t k, const T* a, size_t ars, size_t acs, const T* b, size_t ldb,
                          T* c, size_t ldc, T alpha, T beta, size_t cols) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  V s[R][NV];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) s[r][q] = V{};
  for (size_t p = 0; p < k; ++p) {
    V bv[NV];
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) bv[q] = load<V>(b + p * ldb + q * L);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V av = splat<V>(a[r * ars + p * acs]);
#pragma GCC unroll 4
      for (int q = 0; q < NV; ++q) s[r][q] += av * bv[q];
    }
  }
  const V va = splat<V>(alpha), vb = splat<V>(beta);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < NV; ++q) {
      T* cp = c + r * ldc + q * L;
      V out = va * s[r][q];
      if (cols == L) {
        if (beta != T(0)) out += vb * load<V>(cp);
        store(cp, out);
      } else {
        if (beta != T(0)) out += vb * loadPartial<V>(cp, cols);
        storePartial(cp, out, cols);
      }
    }
}

template <typename T, int R>
BP_INLINE void smallRows(size_t n, size_t k, const T* a, size_t ars, size_t acs, const T* b,
                         size_t ldb, T* c, size_t ldc, T alpha, T beta, const T* tail) {
  constexpr size_t L = Vec<T>::L;
  const size_t nFull = n - n % L;
  size_t j = 0;
  for (; j + 2 * L <= nFull; j += 2 * L)
    smallBlock<T, R, 2>(k, a, ars, acs, b + j, ldb, c + j, ldc, alpha, beta, L);
  for (; j < nFull; j += L)
    smallBlock<T, R, 1>(k, a, ars, acs, b + j, ldb, c + j, ldc, alpha, beta, L);
  if (n > nFull)
    smallBlock<T, R, 1>(k, a, ars, acs, tail, L, c + nFull, ldc, alpha, beta, n - nFull);
}

template <typename T>
void gemmSmallK(size_t m, size_t n, size_t k, T alpha, const T* a, size_t ars, size_t acs,
                const T* b, size_t ldb, T beta, T* c, size_t ldc, T* scratch) {
  constexpr size_t L = Vec<T>::L;
  if (n == 1 && acs == 1 && ldb == 1) {
    // Matrix-vector: one dot product per row, vectorised along k.
    typedef typename Vec<T>::V V;
    for (size_t i = 0; i < m; ++i) {
      const T* ai = a + i * ars;
      V s0 = {}, s1 = {};
      size_t p = 0;
      for (; p + 2 * L <= k; p += 2 * L) {
        s0 += load<V>(ai + p) * load<V>(b + p);
        s1 += load<V>(ai + p + L) * load<V>(b + p + L);
      }
      for (; p + L <= k; p += L) s0 += load<V>(ai + p) * load<V>(b + p);
      s0 += s1;
      T dot = 0;
      for (size_t l = 0; l < L; ++l) dot += s0[l];
      for (; p < k; ++p) dot += ai[p] * b[p];
      c[i * ldc] = beta == T(0) ? alpha * dot : alpha * dot + beta * c[i * ldc];
    }
    return;
  }
  const size_t nFull = n - n % L, rem = n % L;
  if (rem) {
    for (size_t p = 0; p < k; ++p) {
      T* d = scratch + p * L;
      for (size_t j = 0; j < L; ++j) d[j] = j < rem ? b[p * ldb + nFull + j] : T(0);
    }
  }
  size_t i = 0;
  for (; i + 4 <= m; i += 4)
    smallRows<T, 4>(n, k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, alpha, beta, scratch);
  for (; i < m; ++i)
    smallRows<T, 1>(n, k, a + i * ars, ars, acs, b, ldb, c + i * ldc, ldc, alpha, beta, scratch);
}

// Transposing pack for the blocked GEMM: dst[p*w + r] = src[r*ld + p] for r < rows, p < cols,
// and zeros in rows [rows, w). Both packs that interleave rows into micro-panels use it (A not
// transposed: w = mr; B transposed, a linear layer's weight: w = nr). Element by element it
// cost about as much as the products of a 32-row NT product (784-512-256-10 inference at batch
// 32); here L x L blocks are transposed in registers, log2(L) rounds of two-input shuffles.
#if !defined(__clang__)
template <typename T>
struct ShuffleMask;
template <>
struct ShuffleMask<float> {
  typedef int I __attribute__((vector_size(BP_VBYTES)));
};
template <>
struct ShuffleMask<double> {
  typedef long long I __attribute__((vector_size(BP_VBYTES)));
};

// Transposes the L x L block held as L row vectors: each round interleaves rows i and i + L/2
// element by element (a perfect shuffle of both the row and the column index); log2(L) rounds
// bring element (i, j) to (j, i).
template <typename T>
BP_INLINE void transposeBlock(typename Vec<T>::V (&r)[Vec<T>::L]) {
  typedef typename Vec<T>::V V;
  typedef typename ShuffleMask<T>::I I;
  constexpr int L = Vec<T>::L;
  I lo, hi;
#pragma GCC unroll 16
  for (int j = 0; j < L; ++j) {
    lo[j] = (j & 1) ? L + j / 2 : j / 2;
    hi[j] = lo[j] + L / 2;
  }
  for (int round = 0; (1 << round) < L; ++round) {
    V t[L];
#pragma GCC unroll 16
    for (int i = 0; i < L / 2; ++i) {
      t[2 * i] = __builtin_shuffle(r[i], r[i + L / 2], lo);
      t[2 * i + 1] = __builtin_shuffle(r[i], r[i + L / 2], hi);
    }
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i) r[i] = t[i];
  }
}
#endif

template <typename T>
void packTK(const T* src, size_t ld, size_t rows, size_t cols, size_t w, T* dst) {
  size_t r0 = 0;
#if !defined(__clang__)
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  if (L > 1) {
    for (; r0 + L <= rows; r0 += L) {
      size_t p0 = 0;
      for (; p0 + L <= cols; p0 += L) {
        V v[L];
#pragma GCC unroll 16
        for (size_t i = 0; i < L; ++i) v[i] = load<V>(src + (r0 + i) * ld + p0);
        transposeBlock<T>(v);
#pragma GCC unroll 16
        for (size_t j = 0; j < L; ++j) store(dst + (p0 + j) * w + r0, v[j]);
      }
      for (; p0 < cols; ++p0)
        for (size_t i = 0; i < L; ++i) dst[p0 * w + r0 + i] = src[(r0 + i) * ld + p0];
    }
  }
#endif
  for (size_t r = r0; r < rows; ++r)
    for (size_t p = 0; p < cols; ++p) dst[p * w + r] = src[r * ld + p];
  for (size_t r = rows; r < w; ++r)
    for (size_t p = 0; p < cols; ++p) dst[p * w + r] = T(0);
}
