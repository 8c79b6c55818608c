#include "vision/clip_image_preprocess.h"

#include <algorithm>

#include "core/config.h"
#include "vision/resize_bicubic.h"

namespace cc {

namespace {

// HF's size dicts: a bare int, {"shortest_edge"}, or {"height", "width"}.
Status read_size(const nlohmann::json& v, const char* key, int* shortest, int* height, int* width) {
  if (v.is_number_integer()) {
    if (shortest) {
      *shortest = v.get<int>();
    } else {
      *height = *width = v.get<int>();
    }
  } else if (v.is_object() && v.contains("shortest_edge") && shortest) {
    *shortest = v["shortest_edge"].get<int>();
  } else if (v.is_object() && v.contains("height") && v.contains("width")) {
    *height = v["height"].get<int>();
    *width = v["width"].get<int>();
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
      CC_CHECK(read_size(j["size"], "size", &shortest, &h, &w));
      c.shortest_edge = shortest;
      c.resize_height = h;
      c.resize_width = w;
    }
    CC_TRY(c.do_center_crop, config_bool(j, "do_center_crop", true));
    if (j.contains("crop_size")) CC_CHECK(read_size(j["crop_size"], "crop_size", nullptr, &c.crop_height, &c.crop_width));
    CC_TRY(c.do_rescale, config_bool(j, "do_rescale", true));
    if (j.contains("rescale_factor")) c.rescale_factor = j["rescale_factor"].get<double>();
    CC_TRY(c.do_normalize, config_bool(j, "do_normalize", true));
    for (auto [key, dst] : {std::pair{"image_mean", &c.mean}, std::pair{"image_std", &c.std}}) {
      if (!j.contains(key)) continue;
      const auto& v = j[key];
      if (!v.is_array() || v.size() != 3) return error(std::string("preprocessor config: '") + key + "' needs 3 values");
      for (int i = 0; i < 3; ++i) (*dst)[i] = v[i].get<float>();
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

Image resize_and_crop(const Image& img, const ClipImagePreprocessConfig& c) {
  // get_resize_output_image_size(default_to_square=False): the long edge is int(short_target * long / short).
  int new_w = img.width, new_h = img.height;
  if (c.do_resize) {
    if (c.resize_height > 0) {
      new_w = c.resize_width;
      new_h = c.resize_height;
    } else {
      const bool portrait = img.width <= img.height;
      const int shorter = portrait ? img.width : img.height, longer = portrait ? img.height : img.width;
      const int new_long = static_cast<int>(static_cast<double>(c.shortest_edge) * longer / shorter);
      new_w = portrait ? c.shortest_edge : new_long;
      new_h = portrait ? new_long : c.shortest_edge;
    }
  }
  if (!c.do_center_crop) return resize_bicubic_window(img, new_w, new_h, 0, 0, new_w, new_h);

  // image_transforms.center_crop: offsets (size - crop) // 2; zero padding where the crop is larger.
  const int top = floor_div2(new_h - c.crop_height), left = floor_div2(new_w - c.crop_width);
  const int y0 = std::max(top, 0), x0 = std::max(left, 0);
  const int h = std::min(new_h, top + c.crop_height) - y0, w = std::min(new_w, left + c.crop_width) - x0;
  Image window = resize_bicubic_window(img, new_w, new_h, x0, y0, w, h);
  if (w == c.crop_width && h == c.crop_height) return window;
  // HF pads symmetrically with ceil((crop - size) / 2) before cropping.
  Image out = make_image(c.crop_width, c.crop_height);
  const int pad_y = std::max(0, (c.crop_height - new_h + 1) / 2), pad_x = std::max(0, (c.crop_width - new_w + 1) / 2);
  for (int y = 0; y < h; ++y)
    std::copy_n(window.rgb.data() + static_cast<size_t>(y) * w * 3, w * 3,
                out.rgb.data() + (static_cast<size_t>(y + pad_y) * c.crop_width + pad_x) * 3);
  return out;
}

std::vector<float> clip_pixel_values(const Image& img, const ClipImagePreprocessConfig& c) {
  const Image px = resize_and_crop(img, c);
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

std::array<int, 2> clip_output_size(const ClipImagePreprocessConfig& c) {
  if (c.do_center_crop) return {c.crop_height, c.crop_width};
  if (c.resize_height > 0) return {c.resize_height, c.resize_width};
  return {c.shortest_edge, c.shortest_edge};  // only square inputs give a fixed size here
}

}  // namespace cc
