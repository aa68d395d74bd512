// Convolution kernels (native/conv.h) against a naive reference written here from the
// definition: forward, input gradient, weight and bias gradient; through the entry points and
// through each path on its own (the direct path at stride 1, im2col at any stride, so stride-1
// geometries run both); on every SIMD level this CPU runs, 1 and 2 threads, both dtypes.
// Geometries: padding, dilation, odd and non-square sizes, channel counts on both sides of the
// register tiles, 1x1 outputs, and the empty sizes (no image, no input or output channel).
#include "conv.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_support.h"

namespace {

using namespace bpt;

struct Shape {
  size_t n, cIn, h, w, cOut, kH, kW, sH, sW, pH, pW, dH, dW;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> all = {
      // n cIn  h   w cOut kH kW sH sW pH pW dH dW
      {2, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1},
      {1, 1, 5, 5, 1, 1, 1, 1, 1, 0, 0, 1, 1},
      {3, 2, 9, 11, 5, 5, 3, 1, 1, 2, 1, 1, 1},
      {2, 3, 8, 9, 7, 3, 2, 1, 1, 0, 1, 2, 3},
      {1, 4, 6, 6, 13, 3, 3, 1, 1, 1, 1, 1, 1},
      {2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1},   // LeNet's first layer
      {2, 6, 12, 12, 16, 5, 5, 1, 1, 0, 0, 1, 1},  // and its second
      {1, 2, 3, 3, 2, 3, 3, 1, 1, 0, 0, 1, 1},     // 1x1 output
      {1, 1, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1},     // 1x1 input, all taps but one in the padding
      {2, 3, 4, 17, 9, 1, 5, 1, 1, 0, 2, 1, 1},
      {2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1, 1, 1},
      {1, 2, 9, 10, 5, 3, 2, 3, 2, 0, 1, 1, 1},
      {2, 3, 11, 9, 6, 3, 3, 2, 1, 2, 1, 2, 2},
      {1, 5, 8, 8, 3, 1, 1, 2, 2, 0, 0, 1, 1},
      {3, 2, 6, 7, 17, 2, 2, 2, 2, 0, 0, 1, 1},
      {2, 4, 13, 13, 8, 3, 3, 2, 2, 1, 1, 1, 1},
      {2, 0, 5, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1},  // no input channel: y = bias
      {2, 3, 5, 5, 0, 3, 3, 1, 1, 1, 1, 1, 1},  // no output channel: gx = 0
      {0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1},  // no image: gw = 0, gb = 0
  };
  return all;
}

std::string describe(const Shape& s) {
  return str("n=", s.n, " cIn=", s.cIn, " ", s.h, "x", s.w, " cOut=", s.cOut, " k=", s.kH, "x",
             s.kW, " stride=", s.sH, "x", s.sW, " pad=", s.pH, "x", s.pW, " dilation=", s.dH, "x",
             s.dW);
}

// The output size from the definition: the positions where the dilated kernel fits inside the
// padded input, every stride-th one.
size_t outputSize(size_t in, size_t k, size_t stride, size_t pad, size_t dil) {
  return (in + 2 * pad - (dil * (k - 1) + 1)) / stride + 1;
}

// Input coordinate of tap k of output o, or -1 when it falls in the padding.
long long inputAt(size_t o, size_t k, size_t stride, size_t pad, size_t dil, size_t in) {
  const long long i = static_cast<long long>(o * stride + k * dil) - static_cast<long long>(pad);
  return i >= 0 && i < static_cast<long long>(in) ? i : -1;
}

// Every (output, weight, input) triple of the convolution: visit(yIndex, wIndex, xIndex) for
// each tap that lands inside the image, in flat NCHW / OIHW indices.
template <typename F>
void forEachTap(const Shape& s, F&& visit) {
  const size_t oH = outputSize(s.h, s.kH, s.sH, s.pH, s.dH);
  const size_t oW = outputSize(s.w, s.kW, s.sW, s.pW, s.dW);
  for (size_t i = 0; i < s.n; ++i)
    for (size_t co = 0; co < s.cOut; ++co)
      for (size_t oy = 0; oy < oH; ++oy)
        for (size_t ox = 0; ox < oW; ++ox)
          for (size_t ci = 0; ci < s.cIn; ++ci)
            for (size_t ky = 0; ky < s.kH; ++ky) {
              const long long iy = inputAt(oy, ky, s.sH, s.pH, s.dH, s.h);
              if (iy < 0) continue;
              for (size_t kx = 0; kx < s.kW; ++kx) {
                const long long ix = inputAt(ox, kx, s.sW, s.pW, s.dW, s.w);
                if (ix < 0) continue;
                visit(((i * s.cOut + co) * oH + oy) * oW + ox,
                      ((co * s.cIn + ci) * s.kH + ky) * s.kW + kx,
                      ((i * s.cIn + ci) * s.h + static_cast<size_t>(iy)) * s.w +
                          static_cast<size_t>(ix));
              }
            }
}

// A reference result in double, with the sum of the magnitudes of its terms (the scale of the
// rounding error a kernel in T may make).
struct Ref {
  explicit Ref(size_t n) : value(n), magnitude(n) {}
  Buf<double> value;
  Buf<double> magnitude;
  void add(size_t i, double term) {
    value[i] += term;
    magnitude[i] += std::fabs(term);
  }
};

// Sums of up to ~1600 products (a weight gradient over two 28x28 images) accumulated in T in
// some order, relative to the sum of their magnitudes.
template <typename T>
constexpr Tol accumulationTol();
template <>
constexpr Tol accumulationTol<float>() {
  return {5e-5, 0};
}
template <>
constexpr Tol accumulationTol<double>() {
  return {1e-12, 0};
}

template <typename T>
Buf<T> nanBuf(size_t n) {
  return Buf<T>(n, std::numeric_limits<T>::quiet_NaN());
}

enum class Path { kEntry, kDirect, kIm2col };
const char* pathName(Path p) {
  return p == Path::kEntry ? "entry" : p == Path::kDirect ? "direct" : "im2col";
}

template <typename T>
struct Problem {
  Problem(const Shape& s, Rng& rng)
      : shape(s),
        g(bp::convGeom(s.n, s.cIn, s.h, s.w, s.cOut, s.kH, s.kW, s.sH, s.sW, s.pH, s.pW, s.dH,
                       s.dW)),
        x(uniformBuf<T>(rng, s.n * s.cIn * s.h * s.w, -1, 1)),
        weight(uniformBuf<T>(rng, s.cOut * s.cIn * s.kH * s.kW, -1, 1)),
        bias(uniformBuf<T>(rng, s.cOut, -1, 1)),
        gy(uniformBuf<T>(rng, s.n * s.cOut * g.oH * g.oW, -1, 1)) {}
  Shape shape;
  bp::ConvGeom g;
  Buf<T> x, weight, bias, gy;
  size_t ySize() const { return gy.size(); }
};

// The paths a call may take: the entry point, and each path whose preconditions hold.
std::vector<Path> pathsFor(const bp::ConvGeom& g, bool directTakes) {
  std::vector<Path> paths = {Path::kEntry, Path::kIm2col};
  if (g.sH == 1 && g.sW == 1 && directTakes) paths.push_back(Path::kDirect);
  return paths;
}

template <typename T>
void forward(const bp::ExecContext& ctx, const Problem<T>& p, bool withBias) {
  const Shape& s = p.shape;
  Ref ref(p.ySize());
  if (withBias)
    for (size_t i = 0; i < s.n; ++i)
      for (size_t co = 0; co < s.cOut; ++co)
        for (size_t o = 0; o < p.g.oH * p.g.oW; ++o)
          ref.add((i * s.cOut + co) * p.g.oH * p.g.oW + o, p.bias[co]);
  forEachTap(s, [&](size_t yi, size_t wi, size_t xi) {
    ref.add(yi, static_cast<double>(p.weight[wi]) * static_cast<double>(p.x[xi]));
  });
  const T* bias = withBias ? p.bias.data() : nullptr;
  for (Path path : pathsFor(p.g, s.n > 0 && s.cOut > 0 && p.g.K > 0)) {
    Context c(str(pathName(path), withBias ? " with bias" : " without bias"));
    Buf<T> y = nanBuf<T>(p.ySize());
    if (path == Path::kEntry) bp::conv2d(ctx, p.x.data(), p.weight.data(), bias, y.data(), p.g);
    if (path == Path::kDirect)
      bp::conv2dDirect(ctx, p.x.data(), p.weight.data(), bias, y.data(), p.g);
    if (path == Path::kIm2col)
      bp::conv2dIm2col(ctx, p.x.data(), p.weight.data(), bias, y.data(), p.g);
    BP_CHECK_CLOSE("y", y.data(), ref.value.data(), y.size(), accumulationTol<T>(),
                   ref.magnitude.data());
  }
}

template <typename T>
void backwardInput(const bp::ExecContext& ctx, const Problem<T>& p) {
  const Shape& s = p.shape;
  Ref ref(p.x.size());
  forEachTap(s, [&](size_t yi, size_t wi, size_t xi) {
    ref.add(xi, static_cast<double>(p.weight[wi]) * static_cast<double>(p.gy[yi]));
  });
  for (Path path : pathsFor(p.g, s.n > 0 && s.cOut > 0 && s.cIn > 0)) {
    Context c(pathName(path));
    Buf<T> gx = nanBuf<T>(p.x.size());
    if (path == Path::kEntry)
      bp::conv2dBackwardInput(ctx, p.gy.data(), p.weight.data(), gx.data(), p.g);
    if (path == Path::kDirect)
      bp::conv2dBackwardInputDirect(ctx, p.gy.data(), p.weight.data(), gx.data(), p.g);
    if (path == Path::kIm2col)
      bp::conv2dBackwardInputIm2col(ctx, p.gy.data(), p.weight.data(), gx.data(), p.g);
    BP_CHECK_CLOSE("gx", gx.data(), ref.value.data(), gx.size(), accumulationTol<T>(),
                   ref.magnitude.data());
  }
}

template <typename T>
void backwardWeight(const bp::ExecContext& ctx, const Problem<T>& p, bool withBias) {
  const Shape& s = p.shape;
  Ref gwRef(p.weight.size()), gbRef(s.cOut);
  forEachTap(s, [&](size_t yi, size_t wi, size_t xi) {
    gwRef.add(wi, static_cast<double>(p.gy[yi]) * static_cast<double>(p.x[xi]));
  });
  const size_t pixels = p.g.oH * p.g.oW;
  for (size_t i = 0; i < s.n; ++i)
    for (size_t co = 0; co < s.cOut; ++co)
      for (size_t o = 0; o < pixels; ++o) gbRef.add(co, p.gy[(i * s.cOut + co) * pixels + o]);
  for (Path path : pathsFor(p.g, s.n > 0 && s.cOut > 0 && p.g.K > 0)) {
    Context c(str(pathName(path), withBias ? " with bias" : " without bias"));
    Buf<T> gw = nanBuf<T>(p.weight.size());
    Buf<T> gb = nanBuf<T>(s.cOut);
    T* gbOut = withBias ? gb.data() : nullptr;
    if (path == Path::kEntry)
      bp::conv2dBackwardWeight(ctx, p.x.data(), p.gy.data(), gw.data(), gbOut, p.g);
    if (path == Path::kDirect)
      bp::conv2dBackwardWeightDirect(ctx, p.x.data(), p.gy.data(), gw.data(), gbOut, p.g);
    if (path == Path::kIm2col)
      bp::conv2dBackwardWeightIm2col(ctx, p.x.data(), p.gy.data(), gw.data(), gbOut, p.g);
    BP_CHECK_CLOSE("gw", gw.data(), gwRef.value.data(), gw.size(), accumulationTol<T>(),
                   gwRef.magnitude.data());
    if (withBias)
      BP_CHECK_CLOSE("gb", gb.data(), gbRef.value.data(), gb.size(), accumulationTol<T>(),
                     gbRef.magnitude.data());
    else
      for (size_t co = 0; co < s.cOut; ++co) BP_CHECK(std::isnan(gb[co]));  // untouched
  }
}

BP_TEST(geometryMatchesTheDefinition) {
  for (const Shape& s : shapes()) {
    Context c(describe(s));
    const bp::ConvGeom g =
        bp::convGeom(s.n, s.cIn, s.h, s.w, s.cOut, s.kH, s.kW, s.sH, s.sW, s.pH, s.pW, s.dH, s.dW);
    BP_CHECK_EQ(g.oH, outputSize(s.h, s.kH, s.sH, s.pH, s.dH));
    BP_CHECK_EQ(g.oW, outputSize(s.w, s.kW, s.sW, s.pW, s.dW));
    BP_CHECK_EQ(g.K, s.cIn * s.kH * s.kW);
    BP_CHECK_EQ(g.P, g.oH * g.oW);
    BP_CHECK_EQ(g.NP, s.n * g.oH * g.oW);
    BP_CHECK_EQ(g.X, s.cIn * s.h * s.w);
  }
}

BP_TEST(forwardEveryPath) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(201);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      const Problem<T> p(s, rng);
      forward(ctx, p, true);
      forward(ctx, p, false);
    }
  });
}

BP_TEST(inputGradientEveryPath) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(202);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      backwardInput(ctx, Problem<T>(s, rng));
    }
  });
}

BP_TEST(weightAndBiasGradientEveryPath) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(203);
    for (const Shape& s : shapes()) {
      Context c(describe(s));
      const Problem<T> p(s, rng);
      backwardWeight(ctx, p, true);
      backwardWeight(ctx, p, false);
    }
  });
}

// One context for a sequence of differently sized calls: the workspace slots grow and are
// reused, and a smaller call after a larger one must not read the larger one's leftovers.
BP_TEST(workspaceReusedAcrossGeometries) {
  forEachExec([](const bp::ExecContext& ctx, auto zero) {
    using T = decltype(zero);
    Rng rng(204);
    for (int round = 0; round < 2; ++round)
      for (size_t i : {size_t(6), size_t(0), size_t(15), size_t(2), size_t(12)}) {
        const Shape& s = shapes()[i];
        Context c(str("round ", round, " ", describe(s)));
        const Problem<T> p(s, rng);
        forward(ctx, p, true);
        backwardWeight(ctx, p, true);
      }
  });
}

}  // namespace
