// Pillow's BICUBIC resize (Resample.c, `ImagingResample` on 8-bit RGB), bit for bit:
// Keys kernel a = -0.5 widened by the downscale factor (antialiasing), coefficients in
// 22-bit fixed point with rounding, horizontal pass then vertical, 8-bit between passes.
#pragma once

#include "vision/image.h"

namespace cc {

// The pixels [x0, x0+w) x [y0, y0+h) of `in` resized to out_w x out_h. Only that window is
// computed; each output pixel depends on its own coefficients alone, so the window equals
// the same crop of Pillow's full `resize((out_w, out_h), BICUBIC)`.
Image resize_bicubic_window(const Image& in, int out_w, int out_h, int x0, int y0, int w, int h);

}  // namespace cc
