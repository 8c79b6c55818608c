// JPEG through libjpeg-turbo, configured as Pillow configures it (islow DCT, fancy
// upsampling): 1 component -> L, 3 -> RGB, 4 -> CMYK read with Adobe's inverted convention.
#include <csetjmp>
#include <cstdio>
#include <memory>
#include <string>

#include <jpeglib.h>
#include <jerror.h>

#include "vision/decode_image.h"

namespace cc {

namespace {

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_jpeg_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Corrupt-data warnings are ignored, as Pillow ignores them; running out of data is not:
// Pillow refuses truncated files ("image file is truncated") and so do we.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_jpeg_error(cinfo);
}

// Everything written after setjmp lives on the heap, so a longjmp leaves nothing indeterminate.
struct JpegState {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  Image image;
  std::vector<uint8_t> row;
  std::string failure;
};

}  // namespace

Result<Image> decode_jpeg(const uint8_t* data, size_t size, const ImageLimits& limits) {
  auto s = std::make_unique<JpegState>();
  s->cinfo.err = jpeg_std_error(&s->errors.mgr);
  s->errors.mgr.error_exit = on_jpeg_error;
  s->errors.mgr.emit_message = on_jpeg_message;
  jpeg_create_decompress(&s->cinfo);
  if (setjmp(s->errors.jump)) {
    jpeg_destroy_decompress(&s->cinfo);
    return error(std::string("JPEG: ") + s->errors.message);
  }
  jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->cinfo, TRUE);

  const int components = s->cinfo.num_components;
  if (components == 1) {
    s->cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (components == 3) {
    s->cinfo.out_color_space = JCS_RGB;
  } else if (components == 4) {
    s->cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK
  } else {
    s->failure = "JPEG with " + std::to_string(components) + " components is not supported";
  }
  if (s->failure.empty()) {
    auto ok = check_image_size(s->cinfo.image_width, s->cinfo.image_height, limits);
    if (!ok.ok()) s->failure = ok.error().message;
  }
  if (!s->failure.empty()) {
    jpeg_destroy_decompress(&s->cinfo);
    return error(s->failure);
  }

  jpeg_start_decompress(&s->cinfo);
  const int w = static_cast<int>(s->cinfo.output_width), h = static_cast<int>(s->cinfo.output_height);
  s->image = make_image(w, h);
  // RGB is decoded straight into the image; gray and CMYK go through one row and are expanded.
  if (components != 3) s->row.resize(static_cast<size_t>(w) * s->cinfo.output_components);
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    uint8_t* out = s->image.rgb.data() + static_cast<size_t>(s->cinfo.output_scanline) * w * 3;
    JSAMPROW rows[1] = {components == 3 ? out : s->row.data()};
    jpeg_read_scanlines(&s->cinfo, rows, 1);
    const uint8_t* in = s->row.data();
    if (components == 1) {
      for (int x = 0; x < w; ++x) out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
    } else if (components == 4) {
      for (int x = 0; x < w; ++x) {
        // Pillow reads 4-component JPEGs as "CMYK;I": Adobe's inverted values.
        const uint8_t cmyk[4] = {static_cast<uint8_t>(255 - in[4 * x]), static_cast<uint8_t>(255 - in[4 * x + 1]),
                                 static_cast<uint8_t>(255 - in[4 * x + 2]), static_cast<uint8_t>(255 - in[4 * x + 3])};
        cmyk_to_rgb(cmyk, out + 3 * x);
      }
    }
  }
  jpeg_finish_decompress(&s->cinfo);
  jpeg_destroy_decompress(&s->cinfo);
  return std::move(s->image);
}

}  // namespace cc
