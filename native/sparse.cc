// Sparse-weight convolution (sparse.h): packing into the two SparseProp layouts, the per-row
// offsets of the nonzeros, and the loops over output positions around the per-ISA row kernels
// (simd_sparse.h). Every loop over weights runs over the nonzeros only.
#include "sparse.h"

#include <algorithm>
#include <cstring>

#include "parallel.h"

namespace bp {
namespace {

// Workspace slots (sparse kernels never call other kernels, so they may use any slot).
enum Slot : size_t {
  kPacked = 0,
  kOffs,
  kPackedGrad,
  kSrcOffs,
  kStarts,
  kVals,
  kCursor,
  kSorted,
  kColumns
};

// The column of a nonzero as (input channel, kernel row, kernel column).
struct Tap {
  size_t ic, kh, kw;
};
inline Tap tapOf(int32_t col, const ConvGeom& g) {
  const size_t c = static_cast<size_t>(col), kk = g.kH * g.kW, r = c % kk;
  return {c / kk, r / g.kW, r % g.kW};
}

inline size_t rowBegin(const SparsePattern& p, size_t r) {
  return static_cast<size_t>(p.rowPtr[r]);
}
inline size_t rowCount(const SparsePattern& p, size_t r) {
  return static_cast<size_t>(p.rowPtr[r + 1] - p.rowPtr[r]);
}

// Work of one task of a loop over rows, for parallelFor's inline-or-pool decision.
inline size_t workPerRow(const SparsePattern& p, size_t rows, size_t perNonzero) {
  return (p.nnz / std::max<size_t>(rows, 1) + 1) * perNonzero;
}

// ---- batch layout: [c, hp, wp, n], the batch contiguous ----

// Packing is a transpose of [n, c*h*w] to [c*h*w, n] (rows placed with padding), done in 16x16
// tiles so that each cache line read or written is used whole while it is in L1. Tiles of the
// row index span channels, so a linear layer (h = w = 1) transposes as well as a conv.
constexpr size_t kTile = 16;

// The packed row of element q = (c, ih, iw) of one image.
struct RowMap {
  size_t h, w, hp, wp, pH, pW;
  size_t operator()(size_t q) const {
    const size_t plane = h * w, c = q / plane, r = q % plane;
    return (c * hp + r / w + pH) * wp + r % w + pW;
  }
};

// dst[c, ih + pH, iw + pW, n] = src[n, c, ih, iw]; the border is zero.
template <typename T>
void packBatch(ThreadPool& pool, const T* src, T* dst, size_t n, size_t c, size_t h, size_t w,
               size_t pH, size_t pW) {
  const RowMap row{h, w, h + 2 * pH, w + 2 * pW, pH, pW};
  const size_t rows = c * h * w;
  if (pH || pW) std::fill(dst, dst + c * row.hp * row.wp * n, T(0));
  const size_t blocks = (rows + kTile - 1) / kTile;
  parallelFor(pool, blocks, kTile * n, [&](size_t blk, size_t) {
    const size_t q0 = blk * kTile, q1 = std::min(rows, q0 + kTile);
    for (size_t b0 = 0; b0 < n; b0 += kTile) {
      const size_t b1 = std::min(n, b0 + kTile);
      for (size_t q = q0; q < q1; ++q) {
        T* o = dst + row(q) * n;
        for (size_t b = b0; b < b1; ++b) o[b] = src[b * rows + q];
      }
    }
  });
}

// dst[n, c, ih, iw] = src[c, ih + pH, iw + pW, n] (+ bias[c]).
template <typename T>
void unpackBatch(ThreadPool& pool, const T* src, T* dst, size_t n, size_t c, size_t h, size_t w,
                 size_t pH, size_t pW, const T* bias) {
  const RowMap row{h, w, h + 2 * pH, w + 2 * pW, pH, pW};
  const size_t rows = c * h * w, plane = h * w;
  const size_t blocks = (rows + kTile - 1) / kTile;
  parallelFor(pool, blocks, kTile * n, [&](size_t blk, size_t) {
    const size_t q0 = blk * kTile, q1 = std::min(rows, q0 + kTile);
    size_t at[kTile];
    T add[kTile];
    for (size_t q = q0; q < q1; ++q) {
      at[q - q0] = row(q) * n;
      add[q - q0] = bias ? bias[q / plane] : T(0);
    }
    for (size_t b = 0; b < n; ++b) {
      T* o = dst + b * rows;
      for (size_t q = q0; q < q1; ++q) o[q] = src[at[q - q0] + b] + add[q - q0];
    }
  });
}

// Offset of each nonzero's tap in the packed input, relative to its window's corner.
template <typename F>
int64_t* tapOffsets(const ExecContext& ctx, size_t slot, const SparsePattern& p, const ConvGeom& g,
                    F&& offsetOf) {
  int64_t* offs = ctx.ws->get<int64_t>(slot, std::max<size_t>(p.nnz, 1));
  for (size_t k = 0; k < p.nnz; ++k)
    offs[k] = static_cast<int64_t>(offsetOf(tapOf(p.colIdx[k], g)));
  return offs;
}

struct BatchDims {
  size_t hp, wp, n, plane;  // plane: one packed channel, hp * wp * n
  BatchDims(const ConvGeom& g)
      : hp(g.h + 2 * g.pH),
        wp(g.w + 2 * g.pW),
        n(g.n),
        plane((g.h + 2 * g.pH) * (g.w + 2 * g.pW) * g.n) {}
  size_t corner(const ConvGeom& g, size_t oh, size_t ow) const {
    return ((oh * g.sH) * wp + ow * g.sW) * n;
  }
};

// Per-thread copies of the value gradient, summed into gv at the end: the loops that reuse the
// packed input best run over output rows or images, and those share the nonzeros.
template <typename T>
struct ValueAccumulators {
  T* base;
  size_t nnz, threads;
  ValueAccumulators(const ExecContext& ctx, size_t nnz_)
      : nnz(nnz_), threads(static_cast<size_t>(ctx.pool->size())) {
    base = ctx.ws->get<T>(kVals, threads * nnz);
    std::fill(base, base + threads * nnz, T(0));
  }
  T* of(size_t thread) const { return base + thread * nnz; }
  void sumInto(T* gv) const {
    for (size_t k = 0; k < nnz; ++k) {
      T s = 0;
      for (size_t t = 0; t < threads; ++t) s += base[t * nnz + k];
      gv[k] = s;
    }
  }
};

template <typename T>
void forwardBatch(const ExecContext& ctx, const T* x, const T* vals, const SparsePattern& p,
                  const T* bias, T* y, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const BatchDims d(g);
  T* xb = ctx.ws->get<T>(kPacked, g.cIn * d.plane);
  T* yb = ctx.ws->get<T>(kPackedGrad, g.cOut * g.P * g.n);
  packBatch(*ctx.pool, x, xb, g.n, g.cIn, g.h, g.w, g.pH, g.pW);
  const int64_t* offs = tapOffsets(ctx, kOffs, p, g, [&](const Tap& t) {
    return ((t.ic * d.hp + t.kh * g.dH) * d.wp + t.kw * g.dW) * g.n;
  });
  // One task per output row: every output channel of the row reads the same few input rows,
  // which stay in cache (an outer loop over channels would stream the whole input per channel).
  parallelFor(*ctx.pool, g.oH, (p.nnz + g.cOut) * g.oW * g.n, [&](size_t oh, size_t) {
    for (size_t oc = 0; oc < g.cOut; ++oc) {
      const size_t b = rowBegin(p, oc), cnt = rowCount(p, oc);
      for (size_t ow = 0; ow < g.oW; ++ow)
        K.sparseGather(vals + b, offs + b, cnt, xb + d.corner(g, oh, ow),
                       yb + ((oc * g.oH + oh) * g.oW + ow) * g.n, g.n);
    }
  });
  unpackBatch(*ctx.pool, yb, y, g.n, g.cOut, g.oH, g.oW, 0, 0, bias);
}

// The nonzeros grouped by input channel (a counting sort): starts[ic] .. starts[ic + 1] index
// `sorted` (values) and `srcOffs`, filled by offsetOf(tap, oc).
template <typename T, typename F>
const int64_t* groupByInput(const ExecContext& ctx, const T* vals, const SparsePattern& p,
                            const ConvGeom& g, T** sorted, int64_t** srcOffs, F&& offsetOf) {
  int64_t* starts = ctx.ws->get<int64_t>(kStarts, g.cIn + 1);
  std::fill(starts, starts + g.cIn + 1, int64_t(0));
  for (size_t k = 0; k < p.nnz; ++k) ++starts[tapOf(p.colIdx[k], g).ic + 1];
  for (size_t c = 0; c < g.cIn; ++c) starts[c + 1] += starts[c];
  const size_t nz = std::max<size_t>(p.nnz, 1);
  *srcOffs = ctx.ws->get<int64_t>(kSrcOffs, nz);
  *sorted = ctx.ws->get<T>(kSorted, nz);
  int64_t* cursor = ctx.ws->get<int64_t>(kCursor, g.cIn);
  std::copy(starts, starts + g.cIn, cursor);
  for (size_t oc = 0; oc < g.cOut; ++oc)
    for (size_t k = rowBegin(p, oc), e = k + rowCount(p, oc); k < e; ++k) {
      const Tap t = tapOf(p.colIdx[k], g);
      const size_t at = static_cast<size_t>(cursor[t.ic]++);
      (*sorted)[at] = vals[k];
      (*srcOffs)[at] = static_cast<int64_t>(offsetOf(t, oc));
    }
  return starts;
}

// Stride 1: the input gradient is a correlation of gy, zero-padded by the dilated kernel span
// minus one, with the flipped kernel; each input position gathers from its nonzeros' output
// rows, accumulated in registers like the forward.
template <typename T>
void backwardInputBatchGather(const ExecContext& ctx, const T* gy, const T* vals,
                              const SparsePattern& p, T* gx, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const size_t tH = (g.kH - 1) * g.dH, tW = (g.kW - 1) * g.dW;
  const size_t hq = g.oH + 2 * tH, wq = g.oW + 2 * tW;
  T* gyp = ctx.ws->get<T>(kPackedGrad, g.cOut * hq * wq * g.n);
  T* dxb = ctx.ws->get<T>(kPacked, g.cIn * g.h * g.w * g.n);
  packBatch(*ctx.pool, gy, gyp, g.n, g.cOut, g.oH, g.oW, tH, tW);
  T* sorted = nullptr;
  int64_t* srcOffs = nullptr;
  const int64_t* starts =
      groupByInput(ctx, vals, p, g, &sorted, &srcOffs, [&](const Tap& t, size_t oc) {
        return ((oc * hq + g.pH + (g.kH - 1 - t.kh) * g.dH) * wq + g.pW +
                (g.kW - 1 - t.kw) * g.dW) *
               g.n;
      });
  parallelFor(*ctx.pool, g.h, (p.nnz + g.cIn) * g.w * g.n, [&](size_t ih, size_t) {
    for (size_t ic = 0; ic < g.cIn; ++ic) {
      const size_t b = static_cast<size_t>(starts[ic]),
                   cnt = static_cast<size_t>(starts[ic + 1]) - b;
      for (size_t iw = 0; iw < g.w; ++iw)
        K.sparseGather(sorted + b, srcOffs + b, cnt, gyp + (ih * wq + iw) * g.n,
                       dxb + ((ic * g.h + ih) * g.w + iw) * g.n, g.n);
    }
  });
  unpackBatch<T>(*ctx.pool, dxb, gx, g.n, g.cIn, g.h, g.w, 0, 0, nullptr);
}

// Any stride: each nonzero's contribution is scattered into the padded input gradient; one task
// per input channel, so no two threads write the same memory.
template <typename T>
void backwardInputBatchScatter(const ExecContext& ctx, const T* gy, const T* vals,
                               const SparsePattern& p, T* gx, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const BatchDims d(g);
  T* dxb = ctx.ws->get<T>(kPacked, g.cIn * d.plane);
  T* gyb = ctx.ws->get<T>(kPackedGrad, g.cOut * g.P * g.n);
  packBatch(*ctx.pool, gy, gyb, g.n, g.cOut, g.oH, g.oW, 0, 0);
  T* sorted = nullptr;
  int64_t* srcOffs = nullptr;
  const int64_t* starts = groupByInput(ctx, vals, p, g, &sorted, &srcOffs,
                                       [&](const Tap&, size_t oc) { return oc * g.P * g.n; });
  int64_t* dstOffs = ctx.ws->get<int64_t>(kOffs, std::max<size_t>(p.nnz, 1));
  // destination offsets in the same (grouped) order
  {
    int64_t* cursor = ctx.ws->get<int64_t>(kCursor, g.cIn);
    std::copy(starts, starts + g.cIn, cursor);
    for (size_t oc = 0; oc < g.cOut; ++oc)
      for (size_t k = rowBegin(p, oc), e = k + rowCount(p, oc); k < e; ++k) {
        const Tap t = tapOf(p.colIdx[k], g);
        dstOffs[cursor[t.ic]++] = static_cast<int64_t>(((t.kh * g.dH) * d.wp + t.kw * g.dW) * g.n);
      }
  }
  parallelFor(*ctx.pool, g.cIn, workPerRow(p, g.cIn, g.P * g.n), [&](size_t ic, size_t) {
    T* plane = dxb + ic * d.plane;
    std::fill(plane, plane + d.plane, T(0));
    const size_t b = static_cast<size_t>(starts[ic]), cnt = static_cast<size_t>(starts[ic + 1]) - b;
    if (cnt == 0) return;
    for (size_t oh = 0; oh < g.oH; ++oh)
      for (size_t ow = 0; ow < g.oW; ++ow)
        K.sparseScatter(sorted + b, dstOffs + b, srcOffs + b, cnt, gyb + (oh * g.oW + ow) * g.n,
                        plane + d.corner(g, oh, ow), g.n);
  });
  unpackBatch<T>(*ctx.pool, dxb, gx, g.n, g.cIn, g.h, g.w, g.pH, g.pW, nullptr);
}

template <typename T>
void backwardInputBatch(const ExecContext& ctx, const T* gy, const T* vals, const SparsePattern& p,
                        T* gx, const ConvGeom& g) {
  if (g.sH == 1 && g.sW == 1)
    backwardInputBatchGather(ctx, gy, vals, p, gx, g);
  else
    backwardInputBatchScatter(ctx, gy, vals, p, gx, g);
}

template <typename T>
void backwardValuesBatch(const ExecContext& ctx, const T* x, const T* gy, const SparsePattern& p,
                         T* gv, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const BatchDims d(g);
  T* xb = ctx.ws->get<T>(kPacked, g.cIn * d.plane);
  T* gyb = ctx.ws->get<T>(kPackedGrad, g.cOut * g.P * g.n);
  packBatch(*ctx.pool, x, xb, g.n, g.cIn, g.h, g.w, g.pH, g.pW);
  packBatch(*ctx.pool, gy, gyb, g.n, g.cOut, g.oH, g.oW, 0, 0);
  const int64_t* offs = tapOffsets(ctx, kOffs, p, g, [&](const Tap& t) {
    return ((t.ic * d.hp + t.kh * g.dH) * d.wp + t.kw * g.dW) * g.n;
  });
  const ValueAccumulators<T> acc(ctx, p.nnz);
  parallelFor(*ctx.pool, g.oH, (p.nnz + g.cOut) * g.oW * g.n, [&](size_t oh, size_t thread) {
    T* dv = acc.of(thread);
    for (size_t oc = 0; oc < g.cOut; ++oc) {
      const size_t b = rowBegin(p, oc), cnt = rowCount(p, oc);
      for (size_t ow = 0; ow < g.oW; ++ow)
        K.sparseDots(offs + b, cnt, gyb + ((oc * g.oH + oh) * g.oW + ow) * g.n,
                     xb + d.corner(g, oh, ow), dv + b, g.n);
    }
  });
  acc.sumInto(gv);
}

// ---- width layout: per image [c, hp, sW, wq], each stride phase of a row contiguous ----

struct WidthDims {
  size_t hp, wp, wq, row, plane, image;  // row: sW * wq; plane: hp * row; image: cIn * plane
  WidthDims(const ConvGeom& g)
      : hp(g.h + 2 * g.pH),
        wp(g.w + 2 * g.pW),
        wq((g.w + 2 * g.pW + g.sW - 1) / g.sW),
        row(g.sW * ((g.w + 2 * g.pW + g.sW - 1) / g.sW)),
        plane((g.h + 2 * g.pH) * g.sW * ((g.w + 2 * g.pW + g.sW - 1) / g.sW)),
        image(g.cIn * (g.h + 2 * g.pH) * g.sW * ((g.w + 2 * g.pW + g.sW - 1) / g.sW)) {}
  // Where padded column iw of a row lands: phase iw % sW, position iw / sW.
  size_t col(const ConvGeom& g, size_t iw) const { return (iw % g.sW) * wq + iw / g.sW; }
  // A nonzero's tap relative to output (row 0, column 0): output column ow then reads ow + q of
  // phase r, where kw * dW = q * sW + r.
  size_t tap(const ConvGeom& g, const Tap& t) const {
    return (t.ic * hp + t.kh * g.dH) * row + col(g, t.kw * g.dW);
  }
};

// Where each input column iw lands in a packed row (computed once per call: no division per
// element).
inline const size_t* columnMap(const ExecContext& ctx, const ConvGeom& g, const WidthDims& d) {
  size_t* cols = ctx.ws->get<size_t>(kColumns, std::max<size_t>(g.w, 1));
  for (size_t iw = 0; iw < g.w; ++iw) cols[iw] = d.col(g, iw + g.pW);
  return cols;
}

template <typename T>
void packWidth(const ExecContext& ctx, const T* x, T* xw, const ConvGeom& g, const WidthDims& d) {
  const size_t* cols = columnMap(ctx, g, d);
  parallelFor(*ctx.pool, g.n * g.cIn, d.plane, [&](size_t i, size_t) {
    T* o = xw + i * d.plane;
    std::fill(o, o + d.plane, T(0));
    const T* s = x + i * g.h * g.w;
    for (size_t ih = 0; ih < g.h; ++ih) {
      T* r = o + (ih + g.pH) * d.row;
      const T* in = s + ih * g.w;
      if (g.sW == 1)
        std::copy(in, in + g.w, r + g.pW);
      else
        for (size_t iw = 0; iw < g.w; ++iw) r[cols[iw]] = in[iw];
    }
  });
}

template <typename T>
void forwardWidth(const ExecContext& ctx, const T* x, const T* vals, const SparsePattern& p,
                  const T* bias, T* y, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const WidthDims d(g);
  T* xw = ctx.ws->get<T>(kPacked, g.n * d.image);
  packWidth(ctx, x, xw, g, d);
  const int64_t* offs = tapOffsets(ctx, kOffs, p, g, [&](const Tap& t) { return d.tap(g, t); });
  // tasks image-major: the output channels of one image reuse its packed copy in cache
  parallelFor(*ctx.pool, g.n * g.cOut, workPerRow(p, g.cOut, g.P), [&](size_t i, size_t) {
    const size_t img = i / g.cOut, oc = i % g.cOut;
    const size_t b = rowBegin(p, oc), cnt = rowCount(p, oc);
    const T b0 = bias ? bias[oc] : T(0);
    for (size_t oh = 0; oh < g.oH; ++oh) {
      T* out = y + (i * g.oH + oh) * g.oW;
      K.sparseGather(vals + b, offs + b, cnt, xw + img * d.image + oh * g.sH * d.row, out, g.oW);
      if (bias)
        for (size_t ow = 0; ow < g.oW; ++ow) out[ow] += b0;
    }
  });
}

template <typename T>
void backwardInputWidth(const ExecContext& ctx, const T* gy, const T* vals, const SparsePattern& p,
                        T* gx, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const WidthDims d(g);
  T* dxw = ctx.ws->get<T>(kPacked, g.n * d.image);
  const size_t* cols = columnMap(ctx, g, d);
  const int64_t* offs = tapOffsets(ctx, kOffs, p, g, [&](const Tap& t) { return d.tap(g, t); });
  // One task per image: the rows of different output channels scatter into the same image.
  parallelFor(*ctx.pool, g.n, p.nnz * g.P, [&](size_t img, size_t) {
    T* dimg = dxw + img * d.image;
    std::fill(dimg, dimg + d.image, T(0));
    for (size_t oc = 0; oc < g.cOut; ++oc) {
      const size_t b = rowBegin(p, oc), cnt = rowCount(p, oc);
      if (cnt == 0) continue;
      for (size_t oh = 0; oh < g.oH; ++oh)
        K.sparseScatter(vals + b, offs + b, nullptr, cnt,
                        gy + ((img * g.cOut + oc) * g.oH + oh) * g.oW, dimg + oh * g.sH * d.row,
                        g.oW);
    }
    for (size_t ic = 0; ic < g.cIn; ++ic) {
      const T* s = dimg + ic * d.plane;
      T* o = gx + (img * g.cIn + ic) * g.h * g.w;
      for (size_t ih = 0; ih < g.h; ++ih) {
        const T* r = s + (ih + g.pH) * d.row;
        T* out = o + ih * g.w;
        if (g.sW == 1)
          std::copy(r + g.pW, r + g.pW + g.w, out);
        else
          for (size_t iw = 0; iw < g.w; ++iw) out[iw] = r[cols[iw]];
      }
    }
  });
}

template <typename T>
void backwardValuesWidth(const ExecContext& ctx, const T* x, const T* gy, const SparsePattern& p,
                         T* gv, const ConvGeom& g) {
  const Kernels<T>& K = kernelsOf<T>(*ctx.simd);
  const WidthDims d(g);
  T* xw = ctx.ws->get<T>(kPacked, g.n * d.image);
  packWidth(ctx, x, xw, g, d);
  const int64_t* offs = tapOffsets(ctx, kOffs, p, g, [&](const Tap& t) { return d.tap(g, t); });
  const ValueAccumulators<T> acc(ctx, p.nnz);
  // one task per image, which stays in cache for all output channels
  parallelFor(*ctx.pool, g.n, p.nnz * g.P, [&](size_t img, size_t thread) {
    T* dv = acc.of(thread);
    for (size_t oc = 0; oc < g.cOut; ++oc) {
      const size_t b = rowBegin(p, oc), cnt = rowCount(p, oc);
      if (cnt == 0) continue;
      for (size_t oh = 0; oh < g.oH; ++oh)
        K.sparseDots(offs + b, cnt, gy + ((img * g.cOut + oc) * g.oH + oh) * g.oW,
                     xw + img * d.image + oh * g.sH * d.row, dv + b, g.oW);
    }
  });
  acc.sumInto(gv);
}

SparseLayout resolve(SparseLayout layout, const ConvGeom& g) {
  return layout == SparseLayout::kAuto ? chooseSparseLayout(g) : layout;
}

}  // namespace

SparseLayout chooseSparseLayout(const ConvGeom& g) {
  // A linear layer (one output position) has no width to vectorise over. Otherwise the batch
  // layout needs a batch of whole vector blocks, and (bench/sparse.js, 64->64 3x3 on 32x32,
  // batch 32) loses to the width layout at equal batch and width: its packing transposes the
  // whole input and output, the width layout's only pads.
  if (g.P == 1) return SparseLayout::kBatch;
  return g.n >= 16 && g.n >= 2 * g.oW ? SparseLayout::kBatch : SparseLayout::kWidth;
}

template <typename T>
void sparseConv2d(const ExecContext& ctx, const T* x, const T* vals, const SparsePattern& p,
                  const T* bias, T* y, const ConvGeom& g, SparseLayout layout) {
  if (g.n * g.cOut * g.P == 0) return;
  if (resolve(layout, g) == SparseLayout::kBatch)
    forwardBatch(ctx, x, vals, p, bias, y, g);
  else
    forwardWidth(ctx, x, vals, p, bias, y, g);
}

template <typename T>
void sparseConv2dBackwardInput(const ExecContext& ctx, const T* gy, const T* vals,
                               const SparsePattern& p, T* gx, const ConvGeom& g,
                               SparseLayout layout) {
  if (g.n * g.cIn * g.h * g.w == 0) return;
  if (resolve(layout, g) == SparseLayout::kBatch)
    backwardInputBatch(ctx, gy, vals, p, gx, g);
  else
    backwardInputWidth(ctx, gy, vals, p, gx, g);
}

template <typename T>
void sparseConv2dBackwardValues(const ExecContext& ctx, const T* x, const T* gy,
                                const SparsePattern& p, T* gv, const ConvGeom& g,
                                SparseLayout layout) {
  if (p.nnz == 0) return;
  if (g.n * g.P == 0) {
    std::fill(gv, gv + p.nnz, T(0));
    return;
  }
  if (resolve(layout, g) == SparseLayout::kBatch)
    backwardValuesBatch(ctx, x, gy, p, gv, g);
  else
    backwardValuesWidth(ctx, x, gy, p, gv, g);
}

#define BP_SPARSE_INSTANTIATE(T)                                                              \
  template void sparseConv2d<T>(const ExecContext&, const T*, const T*, const SparsePattern&, \
                                const T*, T*, const ConvGeom&, SparseLayout);                 \
  template void sparseConv2dBackwardInput<T>(const ExecContext&, const T*, const T*,          \
                                             const SparsePattern&, T*, const ConvGeom&,       \
                                             SparseLayout);                                   \
  template void sparseConv2dBackwardValues<T>(const ExecContext&, const T*, const T*,         \
                                              const SparsePattern&, T*, const ConvGeom&,      \
                                              SparseLayout);
BP_SPARSE_INSTANTIATE(float)
BP_SPARSE_INSTANTIATE(double)
#undef BP_SPARSE_INSTANTIATE

}  // namespace bp
