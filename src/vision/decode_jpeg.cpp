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

// A progressive (or multi-scan) JPEG keeps every DCT coefficient of the image until its last
// scan (jdcoefct.c's whole-image buffer); a sequential one, a few rows of blocks. What that
// takes, from the header.
size_t coefficient_bytes(jpeg_decompress_struct& c) {
  if (!c.progressive_mode && !c.buffered_image && !jpeg_has_multiple_scans(&c)) return 0;
  size_t total = 0;
  for (int i = 0; i < c.num_components; ++i) {
    const jpeg_component_info& comp = c.comp_info[i];
    const size_t w = (comp.width_in_blocks + comp.h_samp_factor - 1) / comp.h_samp_factor * comp.h_samp_factor;
    const size_t h = (comp.height_in_blocks + comp.v_samp_factor - 1) / comp.v_samp_factor * comp.v_samp_factor;
    total += w * h * sizeof(JBLOCK);
  }
  return total;
}

// Everything written after setjmp lives on the heap, so a longjmp leaves nothing indeterminate.
struct JpegState {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  std::vector<uint8_t> rgb, raw;  // one row
  MemoryBudget::Hold hold;        // libjpeg's buffers
};

}  // namespace

Status decode_jpeg(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink) {
  auto s = std::make_unique<JpegState>();
  s->cinfo.err = jpeg_std_error(&s->errors.mgr);
  s->errors.mgr.error_exit = on_jpeg_error;
  s->errors.mgr.emit_message = on_jpeg_message;
  jpeg_create_decompress(&s->cinfo);
  s->hold = MemoryBudget::Hold(limits.budget);
  if (setjmp(s->errors.jump)) {
    const bool over = s->cinfo.err->msg_code == JERR_NO_BACKING_STORE;
    jpeg_destroy_decompress(&s->cinfo);
    if (over) return error("JPEG: needs more memory than its header announced", ErrorKind::kTooLarge);
    return error(std::string("JPEG: ") + s->errors.message);
  }
  jpeg_mem_src(&s->cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&s->cinfo, TRUE);

  const int components = s->cinfo.num_components;
  const int w = static_cast<int>(s->cinfo.image_width), h = static_cast<int>(s->cinfo.image_height);
  // (An if-statement's scope, so that no object with a destructor is alive when libjpeg may longjmp.)
  if (Status ready = [&]() -> Status {
    if (components == 1) s->cinfo.out_color_space = JCS_GRAYSCALE;
    else if (components == 3) s->cinfo.out_color_space = JCS_RGB;
    else if (components == 4) s->cinfo.out_color_space = JCS_CMYK;  // libjpeg turns YCCK into CMYK
    else return error("JPEG with " + std::to_string(components) + " components is not supported");
    CC_CHECK(check_image_size(w, h, limits));
    // The coefficient buffer, plus libjpeg's row buffers (up to 16 rows of each component and of
    // the output, with context rows for upsampling): held while decoding, and the most libjpeg
    // may take for its large buffers (beyond it, it fails instead of allocating).
    const size_t need = coefficient_bytes(s->cinfo) + static_cast<size_t>(w) * (components + 3) * 48 + (1 << 20);
    CC_CHECK(s->hold.resize(need, "decoding a " + std::to_string(w) + "x" + std::to_string(h) + " JPEG"));
    s->cinfo.mem->max_memory_to_use = static_cast<long>(need);
    return sink.begin(w, h);
  }(); !ready.ok()) {
    jpeg_destroy_decompress(&s->cinfo);
    return ready;
  }

  jpeg_start_decompress(&s->cinfo);
  s->rgb.resize(static_cast<size_t>(w) * 3);
  // RGB is decoded straight into the row; gray and CMYK go through another and are expanded.
  if (components != 3) s->raw.resize(static_cast<size_t>(w) * s->cinfo.output_components);
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    uint8_t* out = s->rgb.data();
    JSAMPROW rows[1] = {components == 3 ? out : s->raw.data()};
    jpeg_read_scanlines(&s->cinfo, rows, 1);
    const uint8_t* in = s->raw.data();
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
    sink.row(out);
  }
  jpeg_finish_decompress(&s->cinfo);
  jpeg_destroy_decompress(&s->cinfo);
  return Ok{};
}

}  // namespace cc
