// Sparse-weight convolution and linear layers (SparseProp, Nikdan et al. 2023): the weight is
// [cOut, cIn*kH*kW] in CSR form (rowPtr, colIdx; values in that order) and every kernel's cost is
// linear in the nonzeros. A linear layer is the 1x1 case on a [n, in, 1, 1] input.
//
// Two layouts, as in the paper: kBatch packs the input as [cIn, H+2pH, W+2pW, n] so each nonzero
// multiplies a contiguous run of n values (best for large batches and small images, and the only
// layout a linear layer needs); kWidth keeps one image at a time, split into stride phases
// [cIn, H+2pH, sW, ceil((W+2pW)/sW)], so each nonzero multiplies a contiguous run of the output
// width (best for wide images and small batches). chooseSparseLayout picks one by shape.
#pragma once

#include <cstddef>
#include <cstdint>

#include "conv.h"
#include "exec_context.h"

namespace bp {

// Trusted by the kernels: rowPtr[0] = 0, rowPtr nondecreasing, rowPtr[cOut] = nnz, and every
// colIdx below cIn*kH*kW (the bindings check all of it).
struct SparsePattern {
  const int32_t* rowPtr;  // cOut + 1 entries
  const int32_t* colIdx;  // nnz entries
  size_t nnz;
};

enum class SparseLayout : int { kAuto = 0, kBatch = 1, kWidth = 2 };

// The layout kAuto stands for at this geometry.
SparseLayout chooseSparseLayout(const ConvGeom& g);

// y[n, cOut, oH, oW] = conv(x, W) + bias (bias nullable). Overwrites y.
template <typename T>
void sparseConv2d(const ExecContext& ctx, const T* x, const T* vals, const SparsePattern& p,
                  const T* bias, T* y, const ConvGeom& g, SparseLayout layout);

// gx[n, cIn, h, w] = d<y, gy>/dx. Overwrites gx.
template <typename T>
void sparseConv2dBackwardInput(const ExecContext& ctx, const T* gy, const T* vals,
                               const SparsePattern& p, T* gx, const ConvGeom& g,
                               SparseLayout layout);

// gv[nnz] = d<y, gy>/dvals: only the nonzeros' gradients. Overwrites gv.
template <typename T>
void sparseConv2dBackwardValues(const ExecContext& ctx, const T* x, const T* gy,
                                const SparsePattern& p, T* gv, const ConvGeom& g,
                                SparseLayout layout);

}  // namespace bp
