#include "vision/clip_image_preprocess.h"

#include <algorithm>
#include <limits>
#include <string>

#include "core/config.h"
#include "vision/resize_bicubic.h"

namespace cc {

namespace {

// HF's size dicts: a bare int, {"shortest_edge"}, or {"height", "width"}. Sizes past 8192
// (CLIP's are 224 to 448) are refused: a crop's tensor grows with their square.
Status read_size(const nlohmann::json& j, const char* key, int* shortest, int* height, int* width) {
  const auto& v = j[key];
  auto side = [&](const nlohmann::json& x, const std::string& what) -> Result<int> {
    CC_TRY(int n, config_int_value(x, what));
    if (n > 8192) return error("preprocessor config: '" + what + "' " + std::to_string(n) + " is over 8192");
    return n;
  };
  if (v.is_number()) {
    CC_TRY(int n, side(v, key));
    if (shortest) {
      *shortest = n;
    } else {
      *height = *width = n;
    }
  } else if (v.is_object() && v.contains("shortest_edge") && shortest) {
    CC_TRY(*shortest, side(v["shortest_edge"], std::string(key) + ".shortest_edge"));
  } else if (v.is_object() && v.contains("height") && v.contains("width")) {
    CC_TRY(*height, side(v["height"], std::string(key) + ".height"));
    CC_TRY(*width, side(v["width"], std::string(key) + ".width"));
  } else {
    return error(std::string("preprocessor config: unsupported '") + key + "' " + v.dump());
  }
  return Ok{};
}

// Python's floor division, which HF's center_crop uses for its offsets.
int floor_div2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

}  // namespace

Result<ClipImagePreprocessConfig> read_clip_image_preprocess_config(const nlohmann::json& j) {
  ClipImagePreprocessConfig c;
  try {
    CC_TRY(c.do_resize, config_bool(j, "do_resize", true));
    if (j.contains("size")) {
      int shortest = 0, h = 0, w = 0;
      CC_CHECK(read_size(j, "size", &shortest, &h, &w));
      c.shortest_edge = shortest;
      c.resize_height = h;
      c.resize_width = w;
    }
    CC_TRY(c.do_center_crop, config_bool(j, "do_center_crop", true));
    if (j.contains("crop_size")) CC_CHECK(read_size(j, "crop_size", nullptr, &c.crop_height, &c.crop_width));
    CC_TRY(c.do_rescale, config_bool(j, "do_rescale", true));
    CC_TRY(c.rescale_factor, config_double(j, "rescale_factor", c.rescale_factor));
    CC_TRY(c.do_normalize, config_bool(j, "do_normalize", true));
    for (auto [key, dst] : {std::pair{"image_mean", &c.mean}, std::pair{"image_std", &c.std}}) {
      if (!j.contains(key)) continue;
      const auto& v = j[key];
      if (!v.is_array() || v.size() != 3) return error(std::string("preprocessor config: '") + key + "' needs 3 values");
      for (int i = 0; i < 3; ++i) {
        CC_TRY((*dst)[i], config_float_value(v[i], key));
      }
    }
    CC_TRY(int resample, config_int(j, "resample", 3));
    if (resample != 3) return error("preprocessor config: only resample=3 (BICUBIC) is supported, got " + std::to_string(resample));
    if (!j.value("do_convert_rgb", true)) return error("preprocessor config: do_convert_rgb=false is not supported");
  } catch (const nlohmann::json::exception& e) {
    return error(std::string("preprocessor config: ") + e.what());
  }
  if ((c.do_resize && c.shortest_edge <= 0 && (c.resize_height <= 0 || c.resize_width <= 0)) ||
      (c.do_center_crop && (c.crop_height <= 0 || c.crop_width <= 0)) || c.std[0] == 0 || c.std[1] == 0 || c.std[2] == 0)
    return error("preprocessor config: sizes must be positive and std non-zero");
  return c;
}

Status ClipImageSink::begin(int width, int height) {
  // get_resize_output_image_size(default_to_square=False): the long edge is int(short_target * long / short).
  int64_t new_w = width, new_h = height;
  if (c_.do_resize) {
    if (c_.resize_height > 0) {
      new_w = c_.resize_width;
      new_h = c_.resize_height;
    } else {
      const bool portrait = width <= height;
      const int shorter = portrait ? width : height, longer = portrait ? height : width;
      const double new_long = static_cast<double>(c_.shortest_edge) * longer / shorter;
      if (new_long > std::numeric_limits<int32_t>::max())  // Pillow's sizes are C ints too
        return error("image of " + std::to_string(width) + "x" + std::to_string(height) + " pixels is too elongated: resized to a " +
                     std::to_string(c_.shortest_edge) + "-pixel short edge its long edge would exceed 2^31 pixels");
      new_w = portrait ? c_.shortest_edge : static_cast<int64_t>(new_long);
      new_h = portrait ? static_cast<int64_t>(new_long) : c_.shortest_edge;
    }
  }
  int x0 = 0, y0 = 0, w = static_cast<int>(new_w), h = static_cast<int>(new_h);
  out_w_ = w, out_h_ = h, pad_x_ = pad_y_ = 0;
  if (c_.do_center_crop) {
    // image_transforms.center_crop: offsets (size - crop) // 2; zero padding where the crop is larger.
    const int top = floor_div2(static_cast<int>(new_h) - c_.crop_height), left = floor_div2(static_cast<int>(new_w) - c_.crop_width);
    y0 = std::max(top, 0), x0 = std::max(left, 0);
    h = std::min(static_cast<int>(new_h), top + c_.crop_height) - y0, w = std::min(static_cast<int>(new_w), left + c_.crop_width) - x0;
    out_w_ = c_.crop_width, out_h_ = c_.crop_height;
    // HF pads symmetrically with ceil((crop - size) / 2) before cropping.
    pad_y_ = std::max<int>(0, (c_.crop_height - static_cast<int>(new_h) + 1) / 2);
    pad_x_ = std::max<int>(0, (c_.crop_width - static_cast<int>(new_w) + 1) / 2);
  }
  const size_t out_bytes = static_cast<size_t>(out_w_) * out_h_ * 3;
  if (out_bytes > (size_t{1} << 31))
    return error("resizing a " + std::to_string(width) + "x" + std::to_string(height) + " image to " + std::to_string(out_w_) + "x" +
                     std::to_string(out_h_) + " pixels would need over 2 GB",
                 ErrorKind::kTooLarge);
  CC_CHECK(hold_.resize(out_bytes, "resizing a " + std::to_string(width) + "x" + std::to_string(height) + " image"));
  resizer_ = std::make_unique<BicubicWindowResizer>(width, height, static_cast<int>(new_w), static_cast<int>(new_h), x0, y0, w, h);
  return hold_.resize(out_bytes + resizer_->memory_bytes(), "resizing a " + std::to_string(width) + "x" + std::to_string(height) + " image");
}

Image ClipImageSink::finish() {
  Image window = resizer_->finish();
  resizer_.reset();
  if (window.width == out_w_ && window.height == out_h_) return window;
  Image out = make_image(out_w_, out_h_);
  for (int y = 0; y < window.height; ++y)
    std::copy_n(window.rgb.data() + static_cast<size_t>(y) * window.width * 3, window.width * 3,
                out.rgb.data() + (static_cast<size_t>(y + pad_y_) * out_w_ + pad_x_) * 3);
  return out;
}

Result<Image> resize_and_crop(const Image& img, const ClipImagePreprocessConfig& c) {
  ClipImageSink sink(c, nullptr);
  CC_CHECK(sink.begin(img.width, img.height));
  for (int y = 0; y < img.height; ++y) sink.row(img.rgb.data() + static_cast<size_t>(y) * img.width * 3);
  return sink.finish();
}

std::vector<float> clip_pixel_values(const Image& px, const ClipImagePreprocessConfig& c) {
  const size_t plane = static_cast<size_t>(px.width) * px.height;
  std::vector<float> out(3 * plane);
  for (int ch = 0; ch < 3; ++ch) {
    for (size_t i = 0; i < plane; ++i) {
      // rescale: float64 multiply, then float32 (image_transforms.rescale); normalise in float32.
      float v = c.do_rescale ? static_cast<float>(px.rgb[3 * i + ch] * c.rescale_factor) : px.rgb[3 * i + ch];
      if (c.do_normalize) v = (v - c.mean[ch]) / c.std[ch];
      out[ch * plane + i] = v;
    }
  }
  return out;
}

Result<std::vector<float>> clip_pixel_values_of(const Image& img, const ClipImagePreprocessConfig& c) {
  CC_TRY(Image px, resize_and_crop(img, c));
  return clip_pixel_values(px, c);
}

Result<std::vector<float>> clip_pixel_values_of(const uint8_t* data, size_t size, const ImageLimits& limits,
                                                const ClipImagePreprocessConfig& c) {
  ClipImageSink sink(c, limits.budget);
  CC_CHECK(decode_image(data, size, limits, sink));
  return clip_pixel_values(sink.finish(), c);
}

std::array<int, 2> clip_output_size(const ClipImagePreprocessConfig& c) {
  if (c.do_center_crop) return {c.crop_height, c.crop_width};
  if (c.resize_height > 0) return {c.resize_height, c.resize_width};
  return {c.shortest_edge, c.shortest_edge};  // only square inputs give a fixed size here
}

}  // namespace cc
