// CLIPImageProcessor (the slow, PIL-based one) as configured by preprocessor_config.json:
// resize the shortest edge (Pillow BICUBIC) -> center crop -> rescale -> normalise -> CHW float.
#pragma once

#include <array>
#include <vector>

#include <memory>

#include <nlohmann/json.hpp>

#include "core/memory_budget.h"
#include "vision/decode_image.h"
#include "vision/image.h"
#include "vision/resize_bicubic.h"

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

// Resize and center crop as rows arrive from a decoder: the 8-bit image Pillow holds after
// them (before rescale). Only the crop window is ever computed (see BicubicWindowResizer), so a
// large image costs its window, not its size; that working memory is taken from `budget`.
class ClipImageSink : public ImageSink {
 public:
  ClipImageSink(const ClipImagePreprocessConfig& c, MemoryBudget* budget) : c_(c), hold_(budget) {}
  Status begin(int width, int height) override;
  void row(const uint8_t* rgb) override { resizer_->push_row(rgb); }
  Image finish();  // after every row

 private:
  ClipImagePreprocessConfig c_;
  MemoryBudget::Hold hold_;
  std::unique_ptr<BicubicWindowResizer> resizer_;
  int out_w_ = 0, out_h_ = 0, pad_x_ = 0, pad_y_ = 0;  // the crop's size, and where the window sits in it
};

// The 8-bit image after resize and center crop (before rescale): what Pillow holds.
Result<Image> resize_and_crop(const Image& img, const ClipImagePreprocessConfig& c);

// rescale and normalise an image already resized and cropped: pixel_values, [3, H, W] float32.
std::vector<float> clip_pixel_values(const Image& resized, const ClipImagePreprocessConfig& c);

// The full pipeline, from an image in memory or from its encoded bytes (decoded row by row).
Result<std::vector<float>> clip_pixel_values_of(const Image& img, const ClipImagePreprocessConfig& c);
Result<std::vector<float>> clip_pixel_values_of(const uint8_t* data, size_t size, const ImageLimits& limits,
                                                const ClipImagePreprocessConfig& c);

// The (height, width) that `clip_pixel_values` produces.
std::array<int, 2> clip_output_size(const ClipImagePreprocessConfig& c);

}  // namespace cc
