// Batch-norm kernels over x of n x c x inner (inner = the pixels of a channel, 1 for a
// BatchNorm1d over (n, c)): the per-channel mean and biased variance, and the per-channel affine
// map y = x*scale[ch] + shift[ch] that applies the normalisation. Threaded over channels
// (statistics) or images (affine).
#pragma once

#include <cstddef>

#include "exec_context.h"

namespace bp {

// mean[ch], var[ch] over the n*inner values of channel ch, summed in double (two passes: the
// mean, then the squared deviations from it). NaN when n*inner is 0.
template <typename T>
void batchNormStats(const ExecContext& ctx, const T* x, size_t n, size_t c, size_t inner, T* mean,
                    T* var);

// y[i, ch, j] = x[i, ch, j] * scale[ch] + shift[ch]; y may be x.
template <typename T>
void channelAffine(const ExecContext& ctx, const T* x, size_t n, size_t c, size_t inner,
                   const T* scale, const T* shift, T* y);

}  // namespace bp
