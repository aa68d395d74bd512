// Argument readers that several bind_*.cc files share, built on Args: an [outer, n, inner] axis,
// window geometry (kernel sizes, output sizes) and shape formatting for error messages.
#pragma once

#include <cstddef>
#include <string>

#include "args.h"

namespace bp {

// A tensor viewed as [outer, n, inner] around one axis: arguments first, first + 1, first + 2.
struct Axis {
  size_t outer, n, inner, total, kept;
};

inline Axis readAxis(Args& args, size_t first) {
  Axis ax;
  ax.outer = args.size(first, "outer");
  ax.n = args.size(first + 1, "n");
  ax.inner = args.size(first + 2, "inner");
  ax.kept = args.mul(ax.outer, ax.inner);
  ax.total = args.mul(ax.kept, ax.n);
  return ax;
}

// "[2, 3, 4]"
inline std::string shapeString(const size_t* s, size_t n) {
  std::string r = "[";
  for (size_t i = 0; i < n; ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// A size of at least 1 (kernel sizes, strides, dilations).
inline size_t positive(Args& args, size_t i, const char* name) {
  const size_t v = args.size(i, name);
  if (v == 0) args.rangeError(i, name, "must be at least 1");
  return v;
}

// One window dimension: the output size, or a RangeError naming the op and the sizes when the
// dilated kernel does not fit in the padded input.
inline size_t windowOutSize(Args& args, size_t argIndex, const char* dim, size_t input, size_t k,
                            size_t stride, size_t pad, size_t dil) {
  const size_t span = args.add(args.mul(dil, k - 1), 1);
  const size_t padded = args.add(input, args.mul(2, pad));
  if (padded < span)
    args.rangeError(argIndex, dim,
                    "kernel " + std::string(dim) + " " + std::to_string(k) + " (span " +
                        std::to_string(span) + ") is larger than the padded input " +
                        std::to_string(input) + " + 2*" + std::to_string(pad));
  return (padded - span) / stride + 1;
}

struct ConvGeom;
// The convolution geometry of arguments first.. (n, cIn, h, w, cOut, kH, kW, strides, paddings,
// dilations), checked (bind_conv.cc).
ConvGeom readConvGeom(Args& args, size_t first);

}  // namespace bp
