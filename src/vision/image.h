// An 8-bit RGB image: what PIL's `Image.open(...).convert("RGB")` yields. Alpha is dropped,
// never composited, and no EXIF rotation is applied, as CLIPImageProcessor does.
#pragma once

#include <cstdint>
#include <vector>

#include "core/memory_budget.h"
#include "core/result.h"

namespace cc {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, 3 bytes per pixel

  const uint8_t* pixel(int x, int y) const { return rgb.data() + (static_cast<size_t>(y) * width + x) * 3; }
};

struct ImageLimits {
  int64_t max_pixels = 89'478'485;  // Pillow's MAX_IMAGE_PIXELS: larger is a decompression bomb
  MemoryBudget* budget = nullptr;   // decoding memory is taken from it (none: not counted)
};

// Checks the dimensions a file declares before anything is allocated for it.
Status check_image_size(int64_t width, int64_t height, const ImageLimits& limits);

// Allocates a black image of checked size.
Image make_image(int width, int height);

// Pillow's cmyk2rgb (Convert.c), the conversion behind convert("RGB") of a CMYK image.
void cmyk_to_rgb(const uint8_t cmyk[4], uint8_t rgb[3]);

}  // namespace cc
