// 2-D convolution (NCHW input, OIHW weight, no groups): forward, input gradient and weight/bias
// gradient. Stride 1 (the common case) runs the direct kernels of conv_direct.cc, other strides
// im2col/col2im around the GEMM micro-kernel (conv_im2col.cc); both thread across the images of
// the batch and keep their buffers in the context's workspace. The semantics are those of the
// Backend interface (lib/backend/types.ts), which lib/backend/js-conv.ts implements too.
#pragma once

#include <cstddef>

#include "exec_context.h"

namespace bp {

// The sizes of one convolution: batch n, cIn x h x w input, cOut x cIn x kH x kW weight,
// stride (sH, sW), zero padding (pH, pW) on each side, dilation (dH, dW), oH x oW output; and
// K = cIn*kH*kW rows of columns, P = oH*oW pixels per image, NP = n*P, X = cIn*h*w.
struct ConvGeom {
  size_t n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, oH, oW;
  size_t K, P, NP, X;
};

// The output size of one window dimension: input + 2*pad must hold the dilated kernel span.
inline size_t convOutSize(size_t input, size_t k, size_t stride, size_t pad, size_t dilation) {
  return (input + 2 * pad - (dilation * (k - 1) + 1)) / stride + 1;
}

// The direct (stride-1) kernels zero-pad one whole image per thread. With a padding far larger
// than the image (a huge padding or dilation that leaves a 1x1 output) that buffer would dwarf
// the input and the output, so such geometries take im2col, whose buffers scale with the output.
inline bool directPathFits(const ConvGeom& g) {
  const double padded = static_cast<double>(g.cIn) * static_cast<double>(g.h + 2 * g.pH) *
                        static_cast<double>(g.w + 2 * g.pW);
  return padded <= 4.0 * (static_cast<double>(g.X) + static_cast<double>(g.cIn * g.P)) + 65536.0;
}

// An upper estimate of the workspace elements one call takes on `threads` threads (the bindings
// refuse a call whose estimate exceeds Args' allocation limit before anything is allocated).
inline double convWorkspaceElements(const ConvGeom& g, size_t threads) {
  const double K = static_cast<double>(g.K), P = static_cast<double>(g.P);
  const double cOut = static_cast<double>(g.cOut);
  const double padded = static_cast<double>(g.cIn) * static_cast<double>(g.h + 2 * g.pH) *
                        static_cast<double>(g.w + 2 * g.pW);
  const double perThread =
      g.sH == 1 && g.sW == 1 && directPathFits(g)
          ? padded + (cOut + 64.0) * (static_cast<double>(g.w + 2 * g.pW) + 64.0)
          : 3.0 * K * P + cOut * P + 64.0 * (K + cOut);
  return perThread * static_cast<double>(threads) + K * cOut;
}

// The geometry of sizes already checked (kernel, stride and dilation >= 1, the dilated kernel no
// larger than the padded input, no product overflowing); the bindings check them with Args.
ConvGeom convGeom(size_t n, size_t cIn, size_t h, size_t w, size_t cOut, size_t kH, size_t kW,
                  size_t sH, size_t sW, size_t pH, size_t pW, size_t dH, size_t dW);

// The entry points; they choose the path. x: n*X, weight: cOut*K, bias (nullable): cOut,
// y/gy: n*cOut*P. gb may be null. They throw std::bad_alloc (or std::length_error) when the
// workspace cannot grow.
template <typename T>
void conv2d(const ExecContext& ctx, const T* x, const T* weight, const T* bias, T* y,
            const ConvGeom& g);
template <typename T>
void conv2dBackwardInput(const ExecContext& ctx, const T* gy, const T* weight, T* gx,
                         const ConvGeom& g);
template <typename T>
void conv2dBackwardWeight(const ExecContext& ctx, const T* x, const T* gy, T* gw, T* gb,
                          const ConvGeom& g);

// The im2col path: any geometry.
template <typename T>
void conv2dIm2col(const ExecContext& ctx, const T* x, const T* weight, const T* bias, T* y,
                  const ConvGeom& g);
template <typename T>
void conv2dBackwardInputIm2col(const ExecContext& ctx, const T* gy, const T* weight, T* gx,
                               const ConvGeom& g);
template <typename T>
void conv2dBackwardWeightIm2col(const ExecContext& ctx, const T* x, const T* gy, T* gw, T* gb,
                                const ConvGeom& g);

// The direct path: stride 1 only (sH == sW == 1), and n, cOut and K (cIn for the input
// gradient) at least 1.
template <typename T>
void conv2dDirect(const ExecContext& ctx, const T* x, const T* weight, const T* bias, T* y,
                  const ConvGeom& g);
template <typename T>
void conv2dBackwardInputDirect(const ExecContext& ctx, const T* gy, const T* weight, T* gx,
                               const ConvGeom& g);
template <typename T>
void conv2dBackwardWeightDirect(const ExecContext& ctx, const T* x, const T* gy, T* gw, T* gb,
                                const ConvGeom& g);

}  // namespace bp
