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

uint8_t clip8(int v) { return static_cast<uint8_t>(std::clamp(v >> kPrecisionBits, 0, 255)); }

}  // namespace

// Pillow's precompute_coeffs + normalize_coeffs_8bpc, for output positions [from, from+n).
BicubicWindowResizer::Taps BicubicWindowResizer::compute_taps(int in_size, int out_size, int from, int n) {
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

BicubicWindowResizer::BicubicWindowResizer(int in_w, int in_h, int out_w, int out_h, int x0, int y0, int w, int h)
    : w_(w), h_(h), x0_(x0), horizontal_(out_w != in_w), vertical_(out_h != in_h) {
  if (horizontal_) tx_ = compute_taps(in_w, out_w, x0, w);
  if (vertical_) ty_ = compute_taps(in_h, out_h, y0, h);
  row_lo_ = vertical_ ? ty_.first[0] : y0;
  row_hi_ = vertical_ ? ty_.first[h - 1] + ty_.count[h - 1] : y0 + h;
  mid_ = make_image(w, row_hi_ - row_lo_);
}

size_t BicubicWindowResizer::memory_bytes() const {
  const size_t taps = (tx_.weights.size() + ty_.weights.size() + 2 * (tx_.first.size() + ty_.first.size())) * sizeof(int);
  return mid_.rgb.size() + (vertical_ ? static_cast<size_t>(w_) * h_ * 3 : 0) + taps;
}

void BicubicWindowResizer::push_row(const uint8_t* src) {
  const int y = next_row_++;
  if (y < row_lo_ || y >= row_hi_) return;
  uint8_t* dst = mid_.rgb.data() + static_cast<size_t>(y - row_lo_) * w_ * 3;
  if (!horizontal_) {
    std::copy_n(src + static_cast<size_t>(x0_) * 3, static_cast<size_t>(w_) * 3, dst);
    return;
  }
  // The loop reads through local pointers: stores through uint8_t* may alias anything, and would
  // otherwise make the compiler reload every vector's data pointer after each one.
  const int* first = tx_.first.data();
  const int* count = tx_.count.data();
  const int* weights = tx_.weights.data();
  const int ksize = tx_.ksize;
  for (int x = 0; x < w_; ++x) {
    const int* k = weights + static_cast<size_t>(x) * ksize;
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

Image BicubicWindowResizer::finish() {
  if (!vertical_) return std::move(mid_);
  // Vertical pass a whole row at a time: each tap adds one source row, scaled, to the row's sums.
  // Integer sums do not depend on their order, so this equals Pillow's per-pixel loop exactly.
  Image out = make_image(w_, h_);
  const size_t row_bytes = static_cast<size_t>(w_) * 3;
  std::vector<int> acc(row_bytes);
  for (int y = 0; y < h_; ++y) {
    const int* k = ty_.weights.data() + static_cast<size_t>(y) * ty_.ksize;
    const uint8_t* rows = mid_.rgb.data() + static_cast<size_t>(ty_.first[y] - row_lo_) * row_bytes;
    int* a = acc.data();
    std::fill(a, a + row_bytes, 1 << (kPrecisionBits - 1));
    for (int j = 0, n = ty_.count[y]; j < n; ++j) {
      const uint8_t* row = rows + static_cast<size_t>(j) * row_bytes;
      const int kj = k[j];
      for (size_t x = 0; x < row_bytes; ++x) a[x] += row[x] * kj;
    }
    uint8_t* dst = out.rgb.data() + static_cast<size_t>(y) * row_bytes;
    for (size_t x = 0; x < row_bytes; ++x) dst[x] = clip8(a[x]);
  }
  return out;
}

Image resize_bicubic_window(const Image& in, int out_w, int out_h, int x0, int y0, int w, int h) {
  BicubicWindowResizer r(in.width, in.height, out_w, out_h, x0, y0, w, h);
  for (int y = 0; y < in.height; ++y) r.push_row(in.rgb.data() + static_cast<size_t>(y) * in.width * 3);
  return r.finish();
}

}  // namespace cc
