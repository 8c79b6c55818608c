// Image decoding: the format is sniffed from the bytes (never the file name), then decoded
// with the library Pillow itself uses for it, and converted to RGB as Pillow converts.
// Decoders hand rows on as they decode them, so a consumer that needs less than the whole
// image (the CLIP preprocessor needs one resized window) never holds it. Formats whose rows
// come out of order (interlaced PNG and GIF) or whose library decodes whole frames (WebP)
// hold their canvas while decoding, taken from the limits' memory budget; so does a
// progressive JPEG's coefficient buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/image.h"

namespace cc {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kWebp, kBmp };

ImageFormat sniff_image_format(const uint8_t* data, size_t size);
const char* image_format_name(ImageFormat f);

// Where a decoder puts an image: first its size, which the sink may refuse, then each row of
// RGB (width * 3 bytes), top to bottom, every row exactly once.
class ImageSink {
 public:
  virtual ~ImageSink() = default;
  virtual Status begin(int width, int height) = 0;
  virtual void row(const uint8_t* rgb) = 0;
};

Status decode_image(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink);

// The whole image in memory.
Result<Image> decode_image(const uint8_t* data, size_t size, const ImageLimits& limits = {});
Result<Image> decode_image_file(const std::string& path, const ImageLimits& limits = {});

// One decoder per format (decode_<format>.cpp).
Status decode_jpeg(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink);  // libjpeg-turbo
Status decode_png(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink);   // libpng
Status decode_gif(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink);   // giflib, first frame
Status decode_webp(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink);  // libwebp, first frame
Status decode_bmp(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink);   // uncompressed BMP

}  // namespace cc
