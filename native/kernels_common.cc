#include "kernels_common.h"

#include <cstring>

namespace bp {

template <typename T>
void broadcastBinary(const Kernels<T>& k, int op, const T* a, const size_t* aShape, size_t aDims,
                     const T* b, const size_t* bShape, size_t bDims, T* out, const size_t* outShape,
                     size_t outDims) {
  size_t total = 1;
  for (size_t d = 0; d < outDims; ++d) total *= outShape[d];
  if (total == 0) return;
  // Right-align the shapes, give broadcast dims stride 0, then merge neighbouring dims that
  // walk both inputs the same way, so most calls end up with one or two dims.
  size_t dims[kMaxDimsCommon], sa[kMaxDimsCommon], sb[kMaxDimsCommon];
  size_t nd = 0;
  size_t strideA = 1, strideB = 1;
  size_t rdims[kMaxDimsCommon], rsa[kMaxDimsCommon], rsb[kMaxDimsCommon];
  for (size_t r = 0; r < outDims; ++r) {  // r counts from the last dim
    const size_t od = outShape[outDims - 1 - r];
    const size_t ad = r < aDims ? aShape[aDims - 1 - r] : 1;
    const size_t bd = r < bDims ? bShape[bDims - 1 - r] : 1;
    if (od == 1) continue;
    rdims[nd] = od;
    rsa[nd] = ad == 1 ? 0 : strideA;
    rsb[nd] = bd == 1 ? 0 : strideB;
    strideA *= ad;
    strideB *= bd;
    ++nd;
  }
  // Merge (still innermost first).
  size_t m = 0;
  for (size_t r = 0; r < nd; ++r) {
    if (m > 0 && rsa[r] == rsa[m - 1] * dims[m - 1] && rsb[r] == rsb[m - 1] * dims[m - 1]) {
      dims[m - 1] *= rdims[r];
    } else {
      dims[m] = rdims[r];
      sa[m] = rsa[r];
      sb[m] = rsb[r];
      ++m;
    }
  }
  if (m == 0) {  // a single element
    k.binaryVV(op, a, b, out, 1);
    return;
  }
  const size_t inner = dims[0];
  const size_t ia = sa[0], ib = sb[0];
  size_t counter[kMaxDimsCommon] = {0};
  size_t offA = 0, offB = 0;
  const size_t runs = total / inner;
  for (size_t run = 0; run < runs; ++run) {
    T* o = out + run * inner;
    if (ia == 1 && ib == 1)
      k.binaryVV(op, a + offA, b + offB, o, inner);
    else if (ia == 1 && ib == 0)
      k.binaryVS(op, a + offA, b[offB], o, inner, false);
    else if (ia == 0 && ib == 1)
      k.binaryVS(op, b + offB, a[offA], o, inner, true);
    else  // not reached: the innermost kept dim is real in at least one input
      for (size_t i = 0; i < inner; ++i)
        k.binaryVV(op, a + offA + i * ia, b + offB + i * ib, o + i, 1);
    for (size_t d = 1; d < m; ++d) {
      offA += sa[d];
      offB += sb[d];
      if (++counter[d] < dims[d]) break;
      offA -= sa[d] * dims[d];
      offB -= sb[d] * dims[d];
      counter[d] = 0;
    }
  }
}

template <typename T>
void biasAdd(const Kernels<T>& k, const T* x, size_t rows, size_t cols, const T* bias, T* out) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) k.binaryVV(kAdd, x + r * cols, bias, out + r * cols, cols);
}

template <typename T>
void permuteCopy(const T* x, const size_t* shape, const size_t* perm, size_t dims, T* out) {
  size_t total = 1;
  for (size_t d = 0; d < dims; ++d) total *= shape[d];
  if (total == 0) return;
  if (dims == 0) {
    out[0] = x[0];
    return;
  }
  size_t inStride[kMaxDimsCommon];
  size_t s = 1;
  for (size_t d = dims; d-- > 0;) {
    inStride[d] = s;
    s *= shape[d];
  }
  size_t oDim[kMaxDimsCommon], oStride[kMaxDimsCommon];
  for (size_t d = 0; d < dims; ++d) {
    oDim[d] = shape[perm[d]];
    oStride[d] = inStride[perm[d]];
  }
  const size_t inner = oDim[dims - 1];
  const size_t is = oStride[dims - 1];
  size_t counter[kMaxDimsCommon] = {0};
  size_t off = 0;
  for (size_t run = 0; run < total / inner; ++run) {
    T* o = out + run * inner;
    if (is == 1)
      std::memcpy(o, x + off, inner * sizeof(T));
    else
      for (size_t i = 0; i < inner; ++i) o[i] = x[off + i * is];
    for (size_t d = dims - 1; d-- > 0;) {
      off += oStride[d];
      if (++counter[d] < oDim[d]) break;
      off -= oStride[d] * oDim[d];
      counter[d] = 0;
    }
  }
}

template <typename T>
void gatherRows(const T* x, size_t outer, size_t n, size_t inner, const int32_t* idx, size_t len,
                T* out) {
  if (inner == 0) return;
  for (size_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < len; ++j)
      std::memcpy(out + (o * len + j) * inner, x + (o * n + static_cast<size_t>(idx[j])) * inner,
                  inner * sizeof(T));
}

template <typename T>
void scatterAddRows(const T* g, size_t outer, size_t n, size_t inner, const int32_t* idx,
                    size_t len, T* gx) {
  if (inner == 0) return;
  for (size_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < len; ++j) {
      const T* src = g + (o * len + j) * inner;
      T* dst = gx + (o * n + static_cast<size_t>(idx[j])) * inner;
      for (size_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
}

template <typename T>
void maxWithIndex(const T* x, size_t outer, size_t n, size_t inner, T* out, int32_t* indices) {
  if (inner == 0) return;
  for (size_t o = 0; o < outer; ++o) {
    const T* xo = x + o * n * inner;
    for (size_t i = 0; i < inner; ++i) {
      T best = xo[i];
      size_t arg = 0;
      if (best == best) {
        for (size_t j = 1; j < n; ++j) {
          const T v = xo[j * inner + i];
          if (v > best || v != v) {
            best = v;
            arg = j;
            if (v != v) break;
          }
        }
      }
      if (out) out[o * inner + i] = best;
      indices[o * inner + i] = static_cast<int32_t>(arg);
    }
  }
}

#define BP_INSTANTIATE(T)                                                                        \
  template void broadcastBinary<T>(const Kernels<T>&, int, const T*, const size_t*, size_t,      \
                                   const T*, const size_t*, size_t, T*, const size_t*, size_t);  \
  template void biasAdd<T>(const Kernels<T>&, const T*, size_t, size_t, const T*, T*);           \
  template void permuteCopy<T>(const T*, const size_t*, const size_t*, size_t, T*);              \
  template void gatherRows<T>(const T*, size_t, size_t, size_t, const int32_t*, size_t, T*);     \
  template void scatterAddRows<T>(const T*, size_t, size_t, size_t, const int32_t*, size_t, T*); \
  template void maxWithIndex<T>(const T*, size_t, size_t, size_t, T*, int32_t*);
BP_INSTANTIATE(float)
BP_INSTANTIATE(double)

}  // namespace bp
