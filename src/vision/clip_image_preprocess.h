// CLIPImageProcessor (the slow, PIL-based one) as configured by preprocessor_config.json:
// resize the shortest edge (Pillow BICUBIC) -> center crop -> rescale -> normalise -> CHW float.
#pragma once

#include <array>
#include <vector>

#include <nlohmann/json.hpp>

#include "vision/image.h"

namespace cc {

struct ClipImagePreprocessConfig {
  bool do_resize = true;
  int shortest_edge = 224;          // size {"shortest_edge": N} (or a bare int)
  int resize_height = 0, resize_width = 0;  // size {"height", "width"}: exact resize instead
  bool do_center_crop = true;
  int crop_height = 224, crop_width = 224;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};
};

Result<ClipImagePreprocessConfig> read_clip_image_preprocess_config(const nlohmann::json& j);

// The 8-bit image after resize and center crop (before rescale): what Pillow holds.
Image resize_and_crop(const Image& img, const ClipImagePreprocessConfig& c);

// The full pipeline: pixel_values of one image, [3, H, W] float32.
std::vector<float> clip_pixel_values(const Image& img, const ClipImagePreprocessConfig& c);

// The (height, width) that `clip_pixel_values` produces.
std::array<int, 2> clip_output_size(const ClipImagePreprocessConfig& c);

}  // namespace cc
