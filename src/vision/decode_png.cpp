// PNG through libpng, converted as Pillow converts each PNG mode to RGB: palette and
// low-bit gray expanded, 16-bit colour keeps its high byte ("RGB;16B"), 16-bit gray is
// Pillow's "I;16" whose conversion clips at 255, alpha and tRNS dropped, gamma ignored.
#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <memory>
#include <string>

#include <png.h>

#include "vision/decode_image.h"

namespace cc {

namespace {

struct PngState {
  const uint8_t* data = nullptr;
  size_t size = 0, pos = 0;
  std::string message;
  Image image;
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
};

void on_png_error(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  s->message = msg;
  png_longjmp(png, 1);
}

void on_png_warning(png_structp, png_const_charp) {}

void read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "file is truncated");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

}  // namespace

Result<Image> decode_png(const uint8_t* data, size_t size, const ImageLimits& limits) {
  auto s = std::make_unique<PngState>();
  s->data = data;
  s->size = size;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s.get(), on_png_error, on_png_warning);
  if (!png) return error("PNG: out of memory");
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return error("PNG: out of memory");
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return error("PNG: " + s->message);
  }
  png_set_read_fn(png, s.get(), read_from_memory);
  png_read_info(png, info);

  const auto w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
  if (auto ok = check_image_size(w, h, limits); !ok.ok()) {
    png_destroy_read_struct(&png, &info, nullptr);
    return error("PNG: " + ok.error().message);
  }
  const bool gray16 = depth == 16 && type == PNG_COLOR_TYPE_GRAY;
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((type & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16 && !gray16) png_set_strip_16(png);
  png_set_strip_alpha(png);  // also drops the alpha that palette expansion makes from tRNS
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const size_t rowbytes = png_get_rowbytes(png, info);
  const int channels = png_get_channels(png, info);
  s->pixels.resize(rowbytes * h);
  s->rows.resize(h);
  for (png_uint_32 y = 0; y < h; ++y) s->rows[y] = s->pixels.data() + y * rowbytes;
  png_read_image(png, s->rows.data());
  png_destroy_read_struct(&png, &info, nullptr);

  Image img = make_image(static_cast<int>(w), static_cast<int>(h));
  for (png_uint_32 y = 0; y < h; ++y) {
    const uint8_t* in = s->rows[y];
    uint8_t* out = img.rgb.data() + static_cast<size_t>(y) * w * 3;
    for (png_uint_32 x = 0; x < w; ++x) {
      if (gray16) {
        const int v = (in[2 * x] << 8) | in[2 * x + 1];  // big-endian sample
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = static_cast<uint8_t>(std::min(v, 255));
      } else if (channels <= 2) {
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x * channels];
      } else {
        std::memcpy(out + 3 * x, in + static_cast<size_t>(x) * channels, 3);
      }
    }
  }
  return img;
}

}  // namespace cc
