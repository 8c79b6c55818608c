// Every decoder on every fixture, then on empty, truncated, corrupted and hostile bytes:
// always a clear error or an image, never a crash (the suite also runs under ASan+UBSan).
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include "test_util.h"
#include "vision/decode_image.h"

namespace cc {
namespace {

const std::vector<std::string>& image_files() {
  static const std::vector<std::string> files = [] {
    std::vector<std::string> out;
    const auto ref = test::fixture_json("reference/clip-tiny-a.json");
    for (const auto& e : ref["images"]) out.push_back(e["file"]);
    return out;
  }();
  return files;
}

std::vector<uint8_t> bytes_of(const std::string& file) {
  auto b = read_file(test::fixture("images/" + file));
  EXPECT_TRUE(b.ok());
  return b.ok() ? b.value() : std::vector<uint8_t>();
}

TEST(ImageDecode, EveryFixtureDecodes) {
  ASSERT_GE(image_files().size(), 25u);
  for (const auto& f : image_files()) {
    auto img = decode_image_file(test::fixture("images/" + f));
    ASSERT_TRUE(img.ok()) << f << ": " << img.error().message;
    EXPECT_EQ(img->rgb.size(), static_cast<size_t>(img->width) * img->height * 3) << f;
  }
  auto tall = decode_image_file(test::fixture("images/tall_1x2000.png"));
  ASSERT_TRUE(tall.ok());
  EXPECT_EQ(tall->width, 1);
  EXPECT_EQ(tall->height, 2000);
  auto large = decode_image_file(test::fixture("images/large_4000x3000.jpg"));
  ASSERT_TRUE(large.ok());
  EXPECT_EQ(large->width, 4000);
  EXPECT_EQ(large->height, 3000);
}

TEST(ImageDecode, EmptyAndNonImagesGetClearErrors) {
  auto empty = decode_image(nullptr, 0);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "empty image data");
  const std::string text = "hello, I am not an image";
  auto not_image = decode_image(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  ASSERT_FALSE(not_image.ok());
  EXPECT_NE(not_image.error().message.find("not an image"), std::string::npos);
  auto missing = decode_image_file("/nonexistent/cat.jpg");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/cat.jpg"), std::string::npos);
}

TEST(ImageDecode, TruncatedFilesFailOrDecodeButNeverCrash) {
  for (const auto& f : image_files()) {
    const auto b = bytes_of(f);
    for (size_t cut : {size_t{1}, size_t{2}, size_t{8}, size_t{16}, size_t{40}, b.size() / 3, b.size() / 2, b.size() - 1}) {
      if (cut >= b.size()) continue;
      auto img = decode_image(b.data(), cut);
      if (!img.ok()) {

        EXPECT_FALSE(img.error().message.empty());

      }
    }
    // Cut in half, a single-frame file has lost pixels: that must be an error, not gray fill.
    if (f.rfind("anim", 0) != 0) {
      auto half = decode_image(b.data(), b.size() / 2);
      EXPECT_FALSE(half.ok()) << f << " decoded from half its bytes";
    }
  }
}

TEST(ImageDecode, CorruptedBytesNeverCrash) {
  std::mt19937 rng(42);
  for (const auto& f : image_files()) {
    if (f.rfind("large", 0) == 0) continue;  // big; the others cover the same decoders
    const auto original = bytes_of(f);
    for (int trial = 0; trial < 60; ++trial) {
      auto b = original;
      const int flips = 1 + trial % 8;
      for (int i = 0; i < flips; ++i) b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      if (trial % 3 == 0) b[rng() % std::min<size_t>(b.size(), 64)] = static_cast<uint8_t>(rng());  // hit headers
      auto img = decode_image(b.data(), b.size());
      if (!img.ok()) {

        EXPECT_FALSE(img.error().message.empty());

      }
    }
  }
}

TEST(ImageDecode, DecompressionBombsAreRefusedBeforeAllocation) {
  // A PNG header that declares 100000 x 100000 pixels.
  auto png = bytes_of("odd_7x5.png");
  const uint8_t dims[8] = {0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
  std::copy(dims, dims + 8, png.begin() + 16);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, png.data() + 12, 17));  // IHDR type + data
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  auto img = decode_image(png.data(), png.size());
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message.find("exceeds the limit"), std::string::npos) << img.error().message;
  // And the limit is configurable.
  auto jpg = bytes_of("photo_420.jpg");
  ImageLimits small;
  small.max_pixels = 640 * 480 - 1;
  auto refused = decode_image(jpg.data(), jpg.size(), small);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("exceeds the limit"), std::string::npos);
}

TEST(ImageDecode, HostileBmpHeaders) {
  const auto good = bytes_of("rgb24.bmp");
  auto with = [&](size_t at, std::vector<uint8_t> v) {
    auto b = good;
    std::copy(v.begin(), v.end(), b.begin() + at);
    return decode_image(b.data(), b.size());
  };
  EXPECT_FALSE(with(18, {0xff, 0xff, 0xff, 0x7f}).ok());  // width 2^31-1
  EXPECT_FALSE(with(22, {0, 0, 0, 0x80}).ok());           // height -2^31
  EXPECT_FALSE(with(28, {0, 0}).ok());                    // 0 bits per pixel
  EXPECT_FALSE(with(30, {1, 0, 0, 0}).ok());              // RLE8
  EXPECT_FALSE(with(10, {0xff, 0xff, 0xff, 0xff}).ok());  // pixel data past the end
  EXPECT_FALSE(with(14, {0xff, 0, 0, 0}).ok());           // odd header size
  const auto pal = bytes_of("palette8.bmp");
  auto b = pal;
  const uint8_t many[4] = {0, 0, 0, 1};  // 2^24 palette entries
  std::copy(many, many + 4, b.begin() + 46);
  EXPECT_FALSE(decode_image(b.data(), b.size()).ok());
}

TEST(ImageDecode, SniffsByContentNotName) {
  const auto png = bytes_of("odd_7x5.png");
  EXPECT_EQ(sniff_image_format(png.data(), png.size()), ImageFormat::kPng);
  const auto webp = bytes_of("still.webp");
  EXPECT_EQ(sniff_image_format(webp.data(), webp.size()), ImageFormat::kWebp);
}

}  // namespace
}  // namespace cc
