// Kernels that are memory movement or index work rather than arithmetic: broadcasting driver,
// bias rows, permute, gather/scatter, max with indices. Compiled once for the baseline; the
// broadcasting driver and the bias rows call the per-ISA contiguous kernels on their runs.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace bp {

constexpr size_t kMaxDimsCommon = 8;

// out = a op b with NumPy broadcasting; shapes were validated (at most 8 dims each).
template <typename T>
void broadcastBinary(const Kernels<T>& k, int op, const T* a, const size_t* aShape, size_t aDims,
                     const T* b, const size_t* bShape, size_t bDims, T* out, const size_t* outShape,
                     size_t outDims);

// out[r, :] = x[r, :] + bias for each of `rows` rows of `cols` values (the table's binaryVV).
template <typename T>
void biasAdd(const Kernels<T>& k, const T* x, size_t rows, size_t cols, const T* bias, T* out);

template <typename T>
void permuteCopy(const T* x, const size_t* shape, const size_t* perm, size_t dims, T* out);

template <typename T>
void gatherRows(const T* x, size_t outer, size_t n, size_t inner, const int32_t* idx, size_t len,
                T* out);

template <typename T>
void scatterAddRows(const T* g, size_t outer, size_t n, size_t inner, const int32_t* idx,
                    size_t len, T* gx);

// out may be null (argmax). NaN counts as the maximum, as in torch.
template <typename T>
void maxWithIndex(const T* x, size_t outer, size_t n, size_t inner, T* out, int32_t* indices);

}  // namespace bp
