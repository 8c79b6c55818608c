#include "vision/image.h"

#include <algorithm>
#include <string>

namespace cc {

Status check_image_size(int64_t width, int64_t height, const ImageLimits& limits) {
  if (width <= 0 || height <= 0)
    return error("image has no pixels (" + std::to_string(width) + "x" + std::to_string(height) + ")");
  if (width > limits.max_pixels || height > limits.max_pixels || width * height > limits.max_pixels)
    return error("image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels exceeds the limit of " +
                 std::to_string(limits.max_pixels) + " pixels (possible decompression bomb)");
  return Ok{};
}

Image make_image(int width, int height) {
  Image img;
  img.width = width;
  img.height = height;
  img.rgb.assign(static_cast<size_t>(width) * height * 3, 0);
  return img;
}

void cmyk_to_rgb(const uint8_t cmyk[4], uint8_t rgb[3]) {
  const int nk = 255 - cmyk[3];
  for (int i = 0; i < 3; ++i) {
    const int t = cmyk[i] * nk + 128;  // Pillow's MULDIV255: (a*b + 127) / 255, in shifts
    const int v = nk - (((t >> 8) + t) >> 8);
    rgb[i] = static_cast<uint8_t>(std::clamp(v, 0, 255));
  }
}

}  // namespace cc
