// 2-D max and average pooling over planes (n*c of them) of h x w, forward and backward, without
// dilation; padding at most half the kernel. Max pooling returns, per output, the index of its
// maximum within the plane (the first maximum; a NaN wins, and a later NaN replaces an earlier
// one, as in torch). Average pooling divides by kH*kW, padding included. Threaded over planes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "exec_context.h"

namespace bp {

// planes of h x w, kernel kH x kW, stride (sH, sW), padding (pH, pW); oH x oW output;
// HW = h*w and O = oH*oW elements per plane.
struct PoolGeom {
  size_t planes, h, w, kH, kW, sH, sW, pH, pW, oH, oW, HW, O;
};

// The geometry of sizes already checked (kernel and stride >= 1, padding at most half the
// kernel, the kernel no larger than the padded input); the bindings check them with Args.
PoolGeom poolGeom(size_t planes, size_t h, size_t w, size_t kH, size_t kW, size_t sH, size_t sW,
                  size_t pH, size_t pW);

// x, gx: planes*HW; y, gy, indices: planes*O. The backward kernels overwrite gx; maxPool2dBackward
// needs indices in [0, HW).
template <typename T>
void maxPool2d(const ExecContext& ctx, const T* x, T* y, int32_t* indices, const PoolGeom& g);
template <typename T>
void maxPool2dBackward(const ExecContext& ctx, const T* gy, const int32_t* indices, T* gx,
                       const PoolGeom& g);
template <typename T>
void avgPool2d(const ExecContext& ctx, const T* x, T* y, const PoolGeom& g);
template <typename T>
void avgPool2dBackward(const ExecContext& ctx, const T* gy, T* gx, const PoolGeom& g);

}  // namespace bp
