// The inner loops of the sparse (SparseProp) convolution and linear kernels (sparse.cc). Each
// walks the nonzeros of one weight row against rows of a dense operand laid out so that the
// vectorised dimension (the batch, or the output width) is contiguous: the cost is linear in
// the nonzeros times that length, and nothing is spent on zeros.
// Part of simd_impl.h, included only from there inside a per-ISA namespace.
// ODR rule (stated in simd_impl.h): no #include, nothing from std::.

#ifndef BP_SIMD_IMPL_PARTS
#error "simd_sparse.h is a part of simd_impl.h: include simd_impl.h, never this file"
#endif

// y[0:n] = sum_k vals[k] * x[offs[k] + 0:n], accumulators in registers over NV vectors of y at
// a time (one pass over the nonzeros per block of 4 vectors, so y is stored once).
template <typename T>
void sparseGatherK(const T* __restrict vals, const int64_t* __restrict offs, size_t cnt,
                   const T* __restrict x, T* __restrict y, size_t n) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  constexpr size_t NV = 4;
  size_t j = 0;
  for (; j + NV * L <= n; j += NV * L) {
    V acc[NV] = {};
    for (size_t k = 0; k < cnt; ++k) {
      const V v = splat<V>(vals[k]);
      const T* p = x + offs[k] + j;
#pragma GCC unroll 4
      for (size_t i = 0; i < NV; ++i) acc[i] += v * load<V>(p + i * L);
    }
#pragma GCC unroll 4
    for (size_t i = 0; i < NV; ++i) store(y + j + i * L, acc[i]);
  }
  for (; j < n; j += L) {
    const size_t m = n - j < L ? n - j : L;
    V acc = {};
    for (size_t k = 0; k < cnt; ++k) acc += splat<V>(vals[k]) * loadPartial<V>(x + offs[k] + j, m);
    storePartial(y + j, acc, m);
  }
}

// For each k: dst[dstOffs[k] + 0:n] += vals[k] * src[srcOffs[k] + 0:n] (srcOffs null: all 0).
// The transposed product: a nonzero's contribution is scattered, so each row is read, added to
// and written back; rows of different k may coincide (they are added in k order).
template <typename T>
void sparseScatterK(const T* __restrict vals, const int64_t* __restrict dstOffs,
                    const int64_t* __restrict srcOffs, size_t cnt, const T* __restrict src,
                    T* __restrict dst, size_t n) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  for (size_t k = 0; k < cnt; ++k) {
    const V v = splat<V>(vals[k]);
    const T* s = src + (srcOffs ? srcOffs[k] : 0);
    T* d = dst + dstOffs[k];
    size_t j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      const V a = load<V>(d + j) + v * load<V>(s + j);
      const V b = load<V>(d + j + L) + v * load<V>(s + j + L);
      store(d + j, a);
      store(d + j + L, b);
    }
    for (; j < n; j += L) {
      const size_t m = n - j < L ? n - j : L;
      storePartial(d + j, loadPartial<V>(d + j, m) + v * loadPartial<V>(s + j, m), m);
    }
  }
}

// dv[k] += dot(g[0:n], x[offs[k] + 0:n]): the gradient of each nonzero of one weight row.
template <typename T>
void sparseDotsK(const int64_t* __restrict offs, size_t cnt, const T* __restrict g,
                 const T* __restrict x, T* __restrict dv, size_t n) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  for (size_t k = 0; k < cnt; ++k) {
    const T* p = x + offs[k];
    V a0 = {}, a1 = {};
    size_t j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      a0 += load<V>(g + j) * load<V>(p + j);
      a1 += load<V>(g + j + L) * load<V>(p + j + L);
    }
    for (; j < n; j += L) {
      const size_t m = n - j < L ? n - j : L;
      a0 += loadPartial<V>(g + j, m) * loadPartial<V>(p + j, m);
    }
    a0 += a1;
    T s = 0;
#pragma GCC unroll 16
    for (size_t i = 0; i < L; ++i) s += a0[i];
    dv[k] += s;
  }
}
