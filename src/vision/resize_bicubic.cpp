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

  // Horizontal pass over the needed rows only: [row_lo, row_hi) x window columns. The loops read
  // through local pointers: stores through uint8_t* may alias anything, and would otherwise make
  // the compiler reload every vector's data pointer after each one.
  Image mid = make_image(w, row_hi - row_lo);
  const int* first = tx.first.data();
  const int* count = tx.count.data();
  const int* weights = tx.weights.data();
  for (int y = row_lo; y < row_hi; ++y) {
    const uint8_t* src = in.rgb.data() + static_cast<size_t>(y) * in.width * 3;
    uint8_t* dst = mid.rgb.data() + static_cast<size_t>(y - row_lo) * w * 3;
    if (!horizontal) {
      std::copy_n(src + static_cast<size_t>(x0) * 3, static_cast<size_t>(w) * 3, dst);
      continue;
    }
    for (int x = 0; x < w; ++x) {
      const int* k = weights + static_cast<size_t>(x) * tx.ksize;
      const uint8_t* s = src + static_cast<size_t>(first[x]) * 3;
      int r = 1 << (kPrecisionBits - 1), g = r, b = r;
      for (int j = 0, n = count[x]; j < n; ++j) {
        r += s[3 * j] * k[j];
        g += s[3 * j + 1] * k[j];
        b += s[3 * j + 2] * k[j];
      }
      dst[3 * x] = clip8(r);
      dst[3 * x + 1] = clip8(g);
      dst[3 * x + 2] = clip8(b);
    }
  }
  if (!vertical) return mid;

  // Vertical pass a whole row at a time: each tap adds one source row, scaled, to the row's sums.
  // Integer sums do not depend on their order, so this equals Pillow's per-pixel loop exactly.
  Image out = make_image(w, h);
  const size_t row_bytes = static_cast<size_t>(w) * 3;
  std::vector<int> acc(row_bytes);
  for (int y = 0; y < h; ++y) {
    const int* k = ty.weights.data() + static_cast<size_t>(y) * ty.ksize;
    const uint8_t* rows = mid.rgb.data() + static_cast<size_t>(ty.first[y] - row_lo) * row_bytes;
    int* a = acc.data();
    std::fill(a, a + row_bytes, 1 << (kPrecisionBits - 1));
    for (int j = 0, n = ty.count[y]; j < n; ++j) {
      const uint8_t* row = rows + static_cast<size_t>(j) * row_bytes;
      const int kj = k[j];
      for (size_t x = 0; x < row_bytes; ++x) a[x] += row[x] * kj;
    }
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * row_bytes;
    for (size_t x = 0; x < row_bytes; ++x) dst[x] = clip8(a[x]);
  }
  return out;
}

}  // namespace cc
