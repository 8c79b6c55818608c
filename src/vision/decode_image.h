// Image decoding: the format is sniffed from the bytes (never the file name), then decoded
// with the library Pillow itself uses for it, and converted to RGB as Pillow converts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/image.h"

namespace cc {

enum class ImageFormat { kUnknown, kJpeg, kPng, kGif, kWebp, kBmp };

ImageFormat sniff_image_format(const uint8_t* data, size_t size);
const char* image_format_name(ImageFormat f);

Result<Image> decode_image(const uint8_t* data, size_t size, const ImageLimits& limits = {});
Result<Image> decode_image_file(const std::string& path, const ImageLimits& limits = {});

// One decoder per format (decode_<format>.cpp).
Result<Image> decode_jpeg(const uint8_t* data, size_t size, const ImageLimits& limits);  // libjpeg-turbo
Result<Image> decode_png(const uint8_t* data, size_t size, const ImageLimits& limits);   // libpng
Result<Image> decode_gif(const uint8_t* data, size_t size, const ImageLimits& limits);   // giflib, first frame
Result<Image> decode_webp(const uint8_t* data, size_t size, const ImageLimits& limits);  // libwebp, first frame
Result<Image> decode_bmp(const uint8_t* data, size_t size, const ImageLimits& limits);   // uncompressed BMP

}  // namespace cc
