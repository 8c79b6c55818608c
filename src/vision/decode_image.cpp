#include "vision/decode_image.h"

#include <cstring>
#include <string>

#include "core/file.h"

namespace cc {

ImageFormat sniff_image_format(const uint8_t* d, size_t n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::kJpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::kPng;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::kGif;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::kWebp;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::kJpeg: return "JPEG";
    case ImageFormat::kPng: return "PNG";
    case ImageFormat::kGif: return "GIF";
    case ImageFormat::kWebp: return "WebP";
    case ImageFormat::kBmp: return "BMP";
    case ImageFormat::kUnknown: break;
  }
  return "unknown";
}

Status decode_image(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink) {
  if (size == 0) return error("empty image data");
  switch (sniff_image_format(data, size)) {
    case ImageFormat::kJpeg: return decode_jpeg(data, size, limits, sink);
    case ImageFormat::kPng: return decode_png(data, size, limits, sink);
    case ImageFormat::kGif: return decode_gif(data, size, limits, sink);
    case ImageFormat::kWebp: return decode_webp(data, size, limits, sink);
    case ImageFormat::kBmp: return decode_bmp(data, size, limits, sink);
    case ImageFormat::kUnknown: break;
  }
  return error("not an image in a supported format (JPEG, PNG, GIF, WebP, BMP)");
}

namespace {

// Keeps every row: the whole image.
class WholeImage : public ImageSink {
 public:
  explicit WholeImage(MemoryBudget* budget) : hold_(budget) {}
  Status begin(int width, int height) override {
    CC_CHECK(hold_.resize(static_cast<size_t>(width) * height * 3, "decoding a " + std::to_string(width) + "x" + std::to_string(height) + " image"));
    image_ = make_image(width, height);
    return Ok{};
  }
  void row(const uint8_t* rgb) override {
    std::memcpy(image_.rgb.data() + static_cast<size_t>(y_++) * image_.width * 3, rgb, static_cast<size_t>(image_.width) * 3);
  }
  Image take() { return std::move(image_); }

 private:
  MemoryBudget::Hold hold_;
  Image image_;
  int y_ = 0;
};

}  // namespace

Result<Image> decode_image(const uint8_t* data, size_t size, const ImageLimits& limits) {
  WholeImage sink(limits.budget);
  CC_CHECK(decode_image(data, size, limits, sink));
  return sink.take();
}

Result<Image> decode_image_file(const std::string& path, const ImageLimits& limits) {
  CC_TRY(std::vector<uint8_t> bytes, read_file(path));
  auto img = decode_image(bytes.data(), bytes.size(), limits);
  if (!img.ok()) return img.error().context(path);
  return img;
}

}  // namespace cc
