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
template <typename T, size_t NV>
BP_INLINE void gatherBlock(const T* __restrict vals, const int64_t* __restrict offs, size_t cnt,
                           const T* __restrict x, T* __restrict y) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  V acc[NV] = {};
  for (size_t k = 0; k < cnt; ++k) {
    const V v = splat<V>(vals[k]);
    const T* p = x + offs[k];
#pragma GCC unroll 4
    for (size_t i = 0; i < NV; ++i) acc[i] += v * load<V>(p + i * L);
  }
#pragma GCC unroll 4
  for (size_t i = 0; i < NV; ++i) store(y + i * L, acc[i]);
}

template <typename T>
void sparseGatherK(const T* __restrict vals, const int64_t* __restrict offs, size_t cnt,
                   const T* __restrict x, T* __restrict y, size_t n) {
  constexpr size_t L = Vec<T>::L;
  size_t j = 0;
  for (; j + 4 * L <= n; j += 4 * L) gatherBlock<T, 4>(vals, offs, cnt, x + j, y + j);
  if (j + 2 * L <= n) {
    gatherBlock<T, 2>(vals, offs, cnt, x + j, y + j);
    j += 2 * L;
  }
  if (j + L <= n) {
    gatherBlock<T, 1>(vals, offs, cnt, x + j, y + j);
    j += L;
  }
  if (j < n) {
    // the last n % L: scalar, so that no load reaches past a row's end
    const size_t m = n - j;
    T acc[L] = {};
    for (size_t k = 0; k < cnt; ++k) {
      const T v = vals[k];
      const T* p = x + offs[k] + j;
      for (size_t i = 0; i < m; ++i) acc[i] += v * p[i];
    }
    for (size_t i = 0; i < m; ++i) y[j + i] = acc[i];
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
    if (j + L <= n) {
      store(d + j, load<V>(d + j) + v * load<V>(s + j));
      j += L;
    }
    for (; j < n; ++j) d[j] += vals[k] * s[j];
  }
}

template <typename T, typename V>
BP_INLINE T hsum(V v) {
  T s = 0;
#pragma GCC unroll 16
  for (size_t i = 0; i < sizeof(V) / sizeof(T); ++i) s += v[i];
  return s;
}

// dv[k] += dot(g[0:n], x[offs[k] + 0:n]): the gradient of each nonzero of one weight row. Two
// nonzeros at a time share each load of g.
template <typename T>
void sparseDotsK(const int64_t* __restrict offs, size_t cnt, const T* __restrict g,
                 const T* __restrict x, T* __restrict dv, size_t n) {
  typedef typename Vec<T>::V V;
  constexpr size_t L = Vec<T>::L;
  size_t k = 0;
  for (; k + 2 <= cnt; k += 2) {
    const T* p = x + offs[k];
    const T* q = x + offs[k + 1];
    V a0 = {}, a1 = {}, b0 = {}, b1 = {};
    size_t j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      const V g0 = load<V>(g + j), g1 = load<V>(g + j + L);
      a0 += g0 * load<V>(p + j);
      a1 += g1 * load<V>(p + j + L);
      b0 += g0 * load<V>(q + j);
      b1 += g1 * load<V>(q + j + L);
    }
    if (j + L <= n) {
      const V g0 = load<V>(g + j);
      a0 += g0 * load<V>(p + j);
      b0 += g0 * load<V>(q + j);
      j += L;
    }
    T sa = hsum<T>(a0 + a1), sb = hsum<T>(b0 + b1);
    for (; j < n; ++j) {
      sa += g[j] * p[j];
      sb += g[j] * q[j];
    }
    dv[k] += sa;
    dv[k + 1] += sb;
  }
  for (; k < cnt; ++k) {
    const T* p = x + offs[k];
    V a0 = {}, a1 = {};
    size_t j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      a0 += load<V>(g + j) * load<V>(p + j);
      a1 += load<V>(g + j + L) * load<V>(p + j + L);
    }
    if (j + L <= n) {
      a0 += load<V>(g + j) * load<V>(p + j);
      j += L;
    }
    T sa = hsum<T>(a0 + a1);
    for (; j < n; ++j) sa += g[j] * p[j];
    dv[k] += sa;
  }
}
