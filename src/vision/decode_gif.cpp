// GIF through giflib: the first frame, as Pillow shows it before any seek. The frame is a
// palette image (local colour map if it has one, else the global one); where it does not
// cover the logical screen, Pillow leaves index 0 (or the transparency index).
#include <algorithm>
#include <cstring>
#include <string>

#include <gif_lib.h>

#include "vision/decode_image.h"

namespace cc {

namespace {

struct GifInput {
  const uint8_t* data;
  size_t size, pos;
};

int read_gif_bytes(GifFileType* gif, GifByteType* out, int n) {
  auto* in = static_cast<GifInput*>(gif->UserData);
  const size_t take = std::min(static_cast<size_t>(n), in->size - in->pos);
  std::memcpy(out, in->data + in->pos, take);
  in->pos += take;
  return static_cast<int>(take);
}

// giflib 5.2.1's GifErrorString gives NULL for codes it has no text for (0 among them, which
// DGifGetImageDesc leaves when the file ends inside the descriptor).
std::string gif_error_text(int code) {
  const char* text = GifErrorString(code);
  return text ? text : "unexpected end of data or unknown error (giflib code " + std::to_string(code) + ")";
}

struct GifCloser {
  GifFileType* gif;
  ~GifCloser() {
    int err;
    if (gif) DGifCloseFile(gif, &err);
  }
};

}  // namespace

Status decode_gif(const uint8_t* data, size_t size, const ImageLimits& limits, ImageSink& sink) {
  GifInput input{data, size, 0};
  int err = 0;
  GifFileType* gif = DGifOpen(&input, read_gif_bytes, &err);
  if (!gif) return error("GIF: " + gif_error_text(err));
  GifCloser closer{gif};
  auto fail = [&](const char* what) { return error(std::string("GIF: ") + what + ": " + gif_error_text(gif->Error)); };

  int transparent = -1;
  for (;;) {
    GifRecordType record;
    if (DGifGetRecordType(gif, &record) == GIF_ERROR) return fail("reading record");
    if (record == TERMINATE_RECORD_TYPE) return error("GIF: file has no image frame");
    if (record == EXTENSION_RECORD_TYPE) {
      int code;
      GifByteType* ext;
      if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) return fail("reading extension");
      while (ext) {
        if (code == GRAPHICS_EXT_FUNC_CODE && ext[0] >= 4 && (ext[1] & 1)) transparent = ext[4];
        if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) return fail("reading extension");
      }
      continue;
    }
    if (record != IMAGE_DESC_RECORD_TYPE) continue;

    if (DGifGetImageDesc(gif) == GIF_ERROR) return fail("reading image descriptor");
    const GifImageDesc& d = gif->Image;
    int screen_w = gif->SWidth, screen_h = gif->SHeight;
    if (screen_w <= 0 || screen_h <= 0) {
      screen_w = d.Left + d.Width;
      screen_h = d.Top + d.Height;
    }
    if (auto ok = check_image_size(screen_w, screen_h, limits); !ok.ok()) return error("GIF: " + ok.error().message);
    if (auto ok = check_image_size(d.Width, d.Height, limits); !ok.ok()) return error("GIF: " + ok.error().message);
    const ColorMapObject* map = d.ColorMap ? d.ColorMap : gif->SColorMap;
    auto color_of = [&](int index, uint8_t* out) {
      if (map && index >= 0 && index < map->ColorCount) {
        out[0] = map->Colors[index].Red;
        out[1] = map->Colors[index].Green;
        out[2] = map->Colors[index].Blue;
      } else {
        out[0] = out[1] = out[2] = 0;  // Pillow's palettes are zero past their end
      }
    };

    // An interlaced frame's rows arrive out of order: its palette indices are held whole.
    const size_t frame_rows = d.Interlace ? static_cast<size_t>(d.Height) : 1;
    CC_TRY(auto hold, MemoryBudget::take(limits.budget, frame_rows * d.Width + static_cast<size_t>(screen_w) * 3,
                                         "decoding a " + std::string(d.Interlace ? "interlaced " : "") + std::to_string(d.Width) +
                                             "x" + std::to_string(d.Height) + " GIF"));
    std::vector<GifPixelType> indices(frame_rows * d.Width);
    if (d.Interlace) {
      for (int pass = 0; pass < 4; ++pass) {
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        for (int y = start[pass]; y < d.Height; y += step[pass])
          if (DGifGetLine(gif, indices.data() + static_cast<size_t>(y) * d.Width, d.Width) == GIF_ERROR)
            return fail("reading pixels (truncated?)");
      }
    }
    CC_CHECK(sink.begin(screen_w, screen_h));
    // The screen row by row: the fill colour where the frame does not cover it.
    std::vector<uint8_t> row(static_cast<size_t>(screen_w) * 3);
    uint8_t fill[3];
    color_of(transparent >= 0 ? transparent : 0, fill);
    for (int sy = 0; sy < screen_h; ++sy) {
      for (int x = 0; x < screen_w; ++x) std::memcpy(&row[static_cast<size_t>(x) * 3], fill, 3);
      const int fy = sy - d.Top;
      if (fy >= 0 && fy < d.Height) {
        const GifPixelType* line = indices.data();
        if (d.Interlace) {
          line += static_cast<size_t>(fy) * d.Width;
        } else if (DGifGetLine(gif, indices.data(), d.Width) == GIF_ERROR) {
          return fail("reading pixels (truncated?)");
        }
        for (int x = 0; x < d.Width; ++x) {
          const int sx = d.Left + x;
          if (sx >= 0 && sx < screen_w) color_of(line[x], &row[static_cast<size_t>(sx) * 3]);
        }
      }
      sink.row(row.data());
    }
    // Frame rows below the screen are read too: a frame cut short there is still truncated.
    if (!d.Interlace)
      for (int fy = std::max(0, screen_h - d.Top); fy < d.Height; ++fy)
        if (DGifGetLine(gif, indices.data(), d.Width) == GIF_ERROR) return fail("reading pixels (truncated?)");
    return Ok{};
  }
}

}  // namespace cc
