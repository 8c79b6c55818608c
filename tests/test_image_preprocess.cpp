// Pixels against CLIPImageProcessor (slow, PIL) with CLIP ViT-B/32's preprocessor config:
// the 8-bit image after resize + crop must equal Pillow's on >= 99.99 % of values and never
// differ by more than one level; the float tensor must equal HF's.
#include <cstdio>

#include "core/config.h"
#include "test_util.h"
#include "vision/clip_image_preprocess.h"
#include "vision/decode_image.h"

namespace cc {
namespace {

ClipImagePreprocessConfig clip_config() {
  auto pre = read_json(test::fixture("models/clip-tiny-a/preprocessor_config.json"));
  EXPECT_TRUE(pre.ok());
  auto c = read_clip_image_preprocess_config(pre.value());
  EXPECT_TRUE(c.ok());
  return c.value();
}

TEST(ClipImagePreprocess, EightBitPixelsMatchPillow) {
  const auto c = clip_config();
  size_t total = 0, equal = 0;
  int worst = 0;
  const auto ref = test::fixture_json("reference/clip-tiny-a.json");
  for (const auto& e : ref["images"]) {
    const std::string f = e["file"];
    auto img = decode_image_file(test::fixture("images/" + f));
    ASSERT_TRUE(img.ok()) << f;
    auto want = decode_image_file(test::fixture("pixels/" + f + ".png"));
    ASSERT_TRUE(want.ok()) << f;
    const Image got = resize_and_crop(img.value(), c).value();
    ASSERT_EQ(got.width, want->width) << f;
    ASSERT_EQ(got.height, want->height) << f;
    size_t file_equal = 0;
    int file_worst = 0;
    for (size_t i = 0; i < got.rgb.size(); ++i) {
      const int d = std::abs(got.rgb[i] - want->rgb[i]);
      file_equal += d == 0;
      file_worst = std::max(file_worst, d);
    }
    EXPECT_LE(file_worst, 1) << f << ": " << got.rgb.size() - file_equal << " values differ";
    total += got.rgb.size();
    equal += file_equal;
    worst = std::max(worst, file_worst);
  }
  const double fraction = static_cast<double>(equal) / total;
  std::printf("pixel parity: %zu of %zu values equal (%.5f %%), max difference %d level(s)\n", equal, total,
              100 * fraction, worst);
  EXPECT_GE(fraction, 0.9999);
  EXPECT_LE(worst, 1);
}

TEST(ClipImagePreprocess, FloatTensorEqualsHuggingFace) {
  const auto c = clip_config();
  for (const std::string f : {"photo_420.jpg", "rgba.png"}) {
    auto img = decode_image_file(test::fixture("images/" + f));
    ASSERT_TRUE(img.ok());
    auto raw = read_file(test::fixture("pixels/" + f + ".f32"));
    ASSERT_TRUE(raw.ok());
    std::vector<float> want(raw->size() / 4);
    std::memcpy(want.data(), raw->data(), raw->size());
    const auto got = clip_pixel_values_of(img.value(), c).value();
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(test::max_abs_diff(got.data(), want), 0.0) << f;
  }
}

TEST(ClipImagePreprocess, CropLargerThanImagePadsLikeHuggingFace) {
  ClipImagePreprocessConfig c;
  c.do_resize = false;
  c.crop_height = 5;
  c.crop_width = 4;
  Image img = make_image(2, 3);
  for (auto& v : img.rgb) v = 200;
  const Image out = resize_and_crop(img, c).value();
  ASSERT_EQ(out.width, 4);
  ASSERT_EQ(out.height, 5);
  // ceil((4-2)/2) = 1 column and ceil((5-3)/2) = 1 row of zeros before the image.
  EXPECT_EQ(*out.pixel(0, 0), 0);
  EXPECT_EQ(*out.pixel(1, 1), 200);
  EXPECT_EQ(*out.pixel(2, 3), 200);
  EXPECT_EQ(*out.pixel(3, 4), 0);
}

TEST(ClipImagePreprocess, RejectsConfigsItCannotReproduce) {
  EXPECT_FALSE(read_clip_image_preprocess_config({{"resample", 2}}).ok());
  EXPECT_FALSE(read_clip_image_preprocess_config({{"size", "big"}}).ok());
  EXPECT_FALSE(read_clip_image_preprocess_config({{"image_mean", {0.5, 0.5}}}).ok());
  EXPECT_FALSE(read_clip_image_preprocess_config({{"image_std", {0, 1, 1}}}).ok());
  EXPECT_FALSE(read_clip_image_preprocess_config({{"crop_size", {{"height", "x"}, {"width", 3}}}}).ok());
}

TEST(ClipImagePreprocess, NumbersOutsideTheirTypeAreRefusedNotConverted) {
  // fuzz_config's second finding: 7e39 as shortest_edge was converted to int (UBSan).
  auto e = read_clip_image_preprocess_config(nlohmann::json::parse(R"({"size": {"shortest_edge": 7e39}})"));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("size.shortest_edge"), std::string::npos) << e.error().message;
  EXPECT_FALSE(read_clip_image_preprocess_config(nlohmann::json::parse(R"({"crop_size": 18446744073709551615})")).ok());
  EXPECT_FALSE(read_clip_image_preprocess_config({{"crop_size", 100000}}).ok());
  EXPECT_FALSE(read_clip_image_preprocess_config(nlohmann::json::parse(R"({"image_mean": [0.5, 1e300, 0.5]})")).ok());
  EXPECT_TRUE(read_clip_image_preprocess_config({{"size", {{"shortest_edge", 336}}}, {"crop_size", 336}}).ok());
  // The same rules in every config reader: an unsigned past INT64_MAX no longer wraps to -1.
  EXPECT_FALSE(config_int(nlohmann::json::parse(R"({"n": 18446744073709551615})"), "n", 0).ok());
  EXPECT_FALSE(config_float(nlohmann::json::parse(R"({"x": 1e300})"), "x", 0).ok());
  EXPECT_FALSE(config_int_list(nlohmann::json::parse(R"({"d": [2, 4294967298]})"), "d", {}).ok());
}

}  // namespace
}  // namespace cc
