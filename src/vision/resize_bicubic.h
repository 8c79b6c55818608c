// Pillow's BICUBIC resize (Resample.c, `ImagingResample` on 8-bit RGB), bit for bit:
// Keys kernel a = -0.5 widened by the downscale factor (antialiasing), coefficients in
// 22-bit fixed point with rounding, horizontal pass then vertical, 8-bit between passes.
#pragma once

#include <cstddef>
#include <vector>

#include "vision/image.h"

namespace cc {

// The pixels [x0, x0+w) x [y0, y0+h) of an in_w x in_h image resized to out_w x out_h, fed
// one source row at a time (top to bottom), as a decoder produces them. Only that window is
// computed; each output pixel depends on its own coefficients alone, so the window equals the
// same crop of Pillow's full `resize((out_w, out_h), BICUBIC)`. The horizontal pass runs on
// each row as it arrives, and only the rows the window's vertical taps read are kept, so a
// large image costs its window's columns times those rows, never the image.
class BicubicWindowResizer {
 public:
  BicubicWindowResizer(int in_w, int in_h, int out_w, int out_h, int x0, int y0, int w, int h);

  // Bytes it holds while rows arrive (kept rows, coefficients) and for its result.
  size_t memory_bytes() const;

  void push_row(const uint8_t* rgb);  // in_w * 3 bytes; call in_h times
  Image finish();                     // the window, after every row

 private:
  struct Taps {  // per output position: first input index, tap count, fixed-point weights
    int ksize = 0;
    std::vector<int> first, count, weights;
  };
  static Taps compute_taps(int in_size, int out_size, int from, int n);

  int w_, h_, x0_;
  bool horizontal_, vertical_;
  Taps tx_, ty_;
  int row_lo_, row_hi_;  // source rows the vertical pass reads
  int next_row_ = 0;
  Image mid_;            // horizontally resized rows [row_lo_, row_hi_)
};

// The whole-image form, for an image already in memory.
Image resize_bicubic_window(const Image& in, int out_w, int out_h, int x0, int y0, int w, int h);

}  // namespace cc
