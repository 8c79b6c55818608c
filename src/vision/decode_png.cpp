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
  std::vector<uint8_t> pixels;  // one row, or every row of an interlaced image
  std::vector<uint8_t> rgb;     // one row, converted
  MemoryBudget::Hold hold;      // for the rows above
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

Status decode_png(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink) {
  auto s = std::make_unique<PngState>();
  s->data = data;
  s->size = size;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s.get(), on_png_error, on_png_warning);
  if (!png) return error("PNG: out of memory", ErrorKind::kInternal);
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return error("PNG: out of memory", ErrorKind::kInternal);
  }
  s->hold = MemoryBudget::Hold(limits.budget);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    return error("PNG: " + s->message);
  }
  png_set_read_fn(png, s.get(), read_from_memory);
  png_read_info(png, info);

  const auto w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  const int depth = png_get_bit_depth(png, info), type = png_get_color_type(png, info);
  const bool gray16 = depth == 16 && type == PNG_COLOR_TYPE_GRAY;
  if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((type & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16 && !gray16) png_set_strip_16(png);
  png_set_strip_alpha(png);  // also drops the alpha that palette expansion makes from tRNS
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  const int channels = png_get_channels(png, info);

  // Rows of an interlaced image are complete only after the last pass: it is held whole.
  // (A block, so that no object with a destructor is alive when libpng may longjmp.)
  if (Status ready = [&]() -> Status {
    if (auto ok = check_image_size(w, h, limits); !ok.ok()) return error("PNG: " + ok.error().message);
    const size_t rows = passes > 1 ? h : 1;
    CC_CHECK(s->hold.resize(rowbytes * rows + static_cast<size_t>(w) * 3,
                         std::string("decoding a ") + (passes > 1 ? "interlaced " : "") + std::to_string(w) + "x" + std::to_string(h) + " PNG"));
    s->pixels.resize(rowbytes * rows);
    s->rgb.resize(static_cast<size_t>(w) * 3);
    return sink.begin(static_cast<int>(w), static_cast<int>(h));
  }(); !ready.ok()) {
    png_destroy_read_struct(&png, &info, nullptr);
    return ready;
  }

  auto emit = [&](const uint8_t* in) {
    uint8_t* out = s->rgb.data();
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
    sink.row(out);
  };
  if (passes > 1) {
    for (int pass = 0; pass < passes; ++pass)
      for (png_uint_32 y = 0; y < h; ++y) png_read_row(png, s->pixels.data() + y * rowbytes, nullptr);
    for (png_uint_32 y = 0; y < h; ++y) emit(s->pixels.data() + y * rowbytes);
  } else {
    for (png_uint_32 y = 0; y < h; ++y) {
      png_read_row(png, s->pixels.data(), nullptr);
      emit(s->pixels.data());
    }
  }
  png_destroy_read_struct(&png, &info, nullptr);
  return Ok{};
}

}  // namespace cc
