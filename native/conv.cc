// The convolution entry points: stride 1 goes to the direct kernels (conv_direct.cc), every
// other stride, and the degenerate sizes the direct kernels do not take, to im2col
// (conv_im2col.cc).
#include "conv.h"

namespace bp {

ConvGeom convGeom(size_t n, size_t cIn, size_t h, size_t w, size_t cOut, size_t kH, size_t kW,
                  size_t sH, size_t sW, size_t pH, size_t pW, size_t dH, size_t dW) {
  ConvGeom g{n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW, 0, 0, 0, 0, 0, 0};
  g.oH = convOutSize(h, kH, sH, pH, dH);
  g.oW = convOutSize(w, kW, sW, pW, dW);
  g.K = cIn * kH * kW;
  g.P = g.oH * g.oW;
  g.NP = n * g.P;
  g.X = cIn * h * w;
  return g;
}

template <typename T>
void conv2d(const ExecContext& ctx, const T* x, const T* weight, const T* bias, T* y,
            const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1 && g.n > 0 && g.cOut > 0 && g.K > 0 && directPathFits(g))
    conv2dDirect(ctx, x, weight, bias, y, g);
  else
    conv2dIm2col(ctx, x, weight, bias, y, g);
}

template <typename T>
void conv2dBackwardInput(const ExecContext& ctx, const T* gy, const T* weight, T* gx,
                         const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1 && g.n > 0 && g.cOut > 0 && g.cIn > 0 && directPathFits(g))
    conv2dBackwardInputDirect(ctx, gy, weight, gx, g);
  else
    conv2dBackwardInputIm2col(ctx, gy, weight, gx, g);
}

template <typename T>
void conv2dBackwardWeight(const ExecContext& ctx, const T* x, const T* gy, T* gw, T* gb,
                          const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1 && g.n > 0 && g.cOut > 0 && g.K > 0 && directPathFits(g))
    conv2dBackwardWeightDirect(ctx, x, gy, gw, gb, g);
  else
    conv2dBackwardWeightIm2col(ctx, x, gy, gw, gb, g);
}

#define BP_INSTANTIATE(T)                                                                         \
  template void conv2d<T>(const ExecContext&, const T*, const T*, const T*, T*, const ConvGeom&); \
  template void conv2dBackwardInput<T>(const ExecContext&, const T*, const T*, T*,                \
                                       const ConvGeom&);                                          \
  template void conv2dBackwardWeight<T>(const ExecContext&, const T*, const T*, T*, T*,           \
                                        const ConvGeom&);
BP_INSTANTIATE(float)
BP_INSTANTIATE(double)
#undef BP_INSTANTIATE

}  // namespace bp
