#include "vision/resize_bicubic.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cc {

namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// For each output position: the first input index, the tap count, and fixed-point weights.
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int> weights;  // [positions, ksize]
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc, for output positions [from, from+n).
Taps compute_taps(int in_size, int out_size, int from, int n) {
  constexpr double kSupport = 2.0;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = kSupport * filterscale;
  Taps t;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(n);
  t.count.resize(n);
  t.weights.assign(static_cast<size_t>(n) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  for (int i = 0; i < n; ++i) {
    const double center = (from + i + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      t.weights[static_cast<size_t>(i) * t.ksize + x] =
          static_cast<int>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    t.first[i] = xmin;
    t.count[i] = xmax;
  }
  return t;
}

uint8_t clip8(int v) { return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255)); }

}  // namespace

Image resize_bicubic_window(const Image& in, int out_w, int out_h, int x0, int y0, int w, int h) {
  const bool horizontal = out_w != in.width, vertical = out_h != in.height;
  Taps tx = horizontal ? compute_taps(in.width, out_w, x0, w) : Taps{};
  Taps ty = vertical ? compute_taps(in.height, out_h, y0, h) : Taps{};

  // Source rows the vertical pass reads (all of the window's rows if there is no vertical pass).
  const int row_lo = vertical ? ty.first[0] : y0;
  const int row_hi = vertical ? ty.first[h - 1] + ty.count[h - 1] : y0 + h;

  // Horizontal pass over the needed rows only: [row_lo, row_hi) x window columns.
  Image mid = make_image(w, row_hi - row_lo);
  for (int y = row_lo; y < row_hi; ++y) {
    const uint8_t* src = in.rgb.data() + static_cast<size_t>(y) * in.width * 3;
    uint8_t* dst = mid.rgb.data() + static_cast<size_t>(y - row_lo) * w * 3;
    for (int x = 0; x < w; ++x) {
      if (!horizontal) {
        std::copy_n(src + static_cast<size_t>(x0 + x) * 3, 3, dst + x * 3);
        continue;
      }
      const int* k = tx.weights.data() + static_cast<size_t>(x) * tx.ksize;
      const uint8_t* s = src + static_cast<size_t>(tx.first[x]) * 3;
      int acc[3] = {1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1), 1 << (kPrecisionBits - 1)};
      for (int j = 0; j < tx.count[x]; ++j)
        for (int c = 0; c < 3; ++c) acc[c] += s[j * 3 + c] * k[j];
      for (int c = 0; c < 3; ++c) dst[x * 3 + c] = clip8(acc[c]);
    }
  }
  if (!vertical) return mid;

  Image out = make_image(w, h);
  for (int y = 0; y < h; ++y) {
    const int* k = ty.weights.data() + static_cast<size_t>(y) * ty.ksize;
    const int first = ty.first[y] - row_lo;
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * w * 3;
    for (int x = 0; x < w * 3; ++x) {
      int acc = 1 << (kPrecisionBits - 1);
      for (int j = 0; j < ty.count[y]; ++j) acc += mid.rgb[static_cast<size_t>(first + j) * w * 3 + x] * k[j];
      dst[x] = clip8(acc);
    }
  }
  return out;
}

}  // namespace cc
