// Every decoder on every fixture, then on empty, truncated, corrupted and hostile bytes:
// always a clear error or an image, never a crash (the suite also runs under ASan+UBSan).
#include <random>
#include <string>
#include <vector>

#include <png.h>
#include <zlib.h>

#include "test_util.h"
#include "vision/clip_image_preprocess.h"
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

// A width x height PNG of one colour, 16-bit RGBA, interlaced (Adam7) or not, encoded in memory.
std::vector<uint8_t> flat_png16(int width, int height, bool interlaced) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  png_set_write_fn(
      png, &out, [](png_structp p, png_bytep d, size_t n) { static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p))->insert(
                                                              static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p))->end(), d, d + n); },
      nullptr);
  png_set_IHDR(png, info, width, height, 16, PNG_COLOR_TYPE_RGBA, interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, 1);
  png_write_info(png, info);
  std::vector<uint8_t> row(static_cast<size_t>(width) * 8);
  for (int x = 0; x < width; ++x) {
    const uint8_t px[8] = {0x12, 0x34, 0x80, 0x00, 0xC0, 0xFF, 0xFF, 0xFF};
    std::copy(px, px + 8, row.begin() + 8 * x);
  }
  const int passes = interlaced ? png_set_interlace_handling(png) : 1;
  for (int pass = 0; pass < passes; ++pass)
    for (int y = 0; y < height; ++y) png_write_row(png, row.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

TEST(ImageDecode, GifEndingRightAfterItsImageDescriptorIsAnError) {
  // Found by coverage-guided fuzzing: giflib fails here with no error code, whose text is NULL.
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0,  // screen 1x1, no palette
                                    0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0};                  // image descriptor, then nothing
  ASSERT_EQ(gif.size(), 23u);
  auto img = decode_image(gif.data(), gif.size());
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message.find("GIF"), std::string::npos) << img.error().message;
}

TEST(ImageDecode, EncodedImagesGiveTheWholeImagePathsPixelsExactly) {
  // What the server and `embed` run (rows streamed into the resizer) against resizing the whole
  // decoded image, which the Pillow pixel tests hold to Pillow.
  ClipImagePreprocessConfig c;
  for (const auto& f : image_files()) {
    const auto b = bytes_of(f);
    auto whole = decode_image(b.data(), b.size());
    ASSERT_TRUE(whole.ok()) << f;
    auto want = clip_pixel_values_of(whole.value(), c);
    auto got = clip_pixel_values_of(b.data(), b.size(), {}, c);
    ASSERT_TRUE(want.ok() && got.ok()) << f;
    EXPECT_EQ(got.value(), want.value()) << f;
  }
}

TEST(ImageDecode, ALargeImageCostsItsWindowNotItsCanvas) {
  ClipImagePreprocessConfig c;
  MemoryBudget budget(8 << 20);
  ImageLimits limits;
  limits.budget = &budget;
  // 4000x3000 JPEG: 36 MB decoded, 2.7 MB streamed through the resizer.
  const auto jpg = bytes_of("large_4000x3000.jpg");
  auto pixels = clip_pixel_values_of(jpg.data(), jpg.size(), limits, c);
  ASSERT_TRUE(pixels.ok()) << pixels.error().message;
  EXPECT_EQ(pixels.value(), clip_pixel_values_of(decode_image(jpg.data(), jpg.size()).value(), c).value());
  std::printf("4000x3000 JPEG: %.1f MB of budget at most\n", budget.peak() / 1048576.0);
  EXPECT_LT(budget.peak(), 6u << 20);  // libjpeg's rows and the resizer's 224 columns
  EXPECT_EQ(budget.in_use(), 0u);
  auto whole = decode_image(jpg.data(), jpg.size(), limits);  // the whole image does not fit
  ASSERT_FALSE(whole.ok());
  EXPECT_EQ(whole.error().kind, ErrorKind::kTooLarge);
  // 16-bit RGBA PNG, 3000x3000 (72 MB of samples): streamed in a few MB.
  const auto png = flat_png16(3000, 3000, false);
  MemoryBudget png_budget(8 << 20);
  limits.budget = &png_budget;
  auto png_pixels = clip_pixel_values_of(png.data(), png.size(), limits, c);
  ASSERT_TRUE(png_pixels.ok()) << png_pixels.error().message;
  EXPECT_FLOAT_EQ(png_pixels.value()[0], (static_cast<float>(0x12 / 255.0) - c.mean[0]) / c.std[0]);
  std::printf("3000x3000 16-bit RGBA PNG: %.1f MB of budget at most\n", png_budget.peak() / 1048576.0);
  EXPECT_LT(png_budget.peak(), 4u << 20);
  // Interlaced, its rows arrive out of order: it holds its 8-bit canvas (27 MB), so this budget refuses it.
  const auto adam7 = flat_png16(3000, 3000, true);
  auto refused = clip_pixel_values_of(adam7.data(), adam7.size(), limits, c);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kTooLarge);
  EXPECT_NE(refused.error().message.find("interlaced"), std::string::npos) << refused.error().message;
  auto fits = clip_pixel_values_of(adam7.data(), adam7.size(), {}, c);
  ASSERT_TRUE(fits.ok());
  EXPECT_EQ(fits.value(), png_pixels.value());
  EXPECT_EQ(png_budget.in_use(), 0u);
}

TEST(ImageDecode, ElongatedImagesAreRefusedNotOverflowed) {
  // 1 x 20,000,000: resized to a 224-pixel short edge its long edge would pass 2^31 (Pillow's C int).
  ClipImagePreprocessConfig c;
  ClipImageSink sink(c, nullptr);
  auto st = sink.begin(1, 20'000'000);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("elongated"), std::string::npos);
}

TEST(ImageDecode, SniffsByContentNotName) {
  const auto png = bytes_of("odd_7x5.png");
  EXPECT_EQ(sniff_image_format(png.data(), png.size()), ImageFormat::kPng);
  const auto webp = bytes_of("still.webp");
  EXPECT_EQ(sniff_image_format(webp.data(), webp.size()), ImageFormat::kWebp);
}

}  // namespace
}  // namespace cc
