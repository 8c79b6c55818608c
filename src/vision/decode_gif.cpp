// GIF through giflib: the first frame, as Pillow shows it before any seek. The frame is a
// palette image (local colour map if it has one, else the global one); where it does not
// cover the logical screen, Pillow leaves index 0 (or the transparency index).
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

struct GifCloser {
  GifFileType* gif;
  ~GifCloser() {
    int err;
    if (gif) DGifCloseFile(gif, &err);
  }
};

}  // namespace

Result<Image> decode_gif(const uint8_t* data, size_t size, const ImageLimits& limits) {
  GifInput input{data, size, 0};
  int err = 0;
  GifFileType* gif = DGifOpen(&input, read_gif_bytes, &err);
  if (!gif) return error(std::string("GIF: ") + GifErrorString(err));
  GifCloser closer{gif};
  auto fail = [&](const char* what) { return error(std::string("GIF: ") + what + ": " + GifErrorString(gif->Error)); };

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

    Image img = make_image(screen_w, screen_h);
    uint8_t fill[3];
    color_of(transparent >= 0 ? transparent : 0, fill);
    for (size_t i = 0; i < img.rgb.size(); i += 3) std::memcpy(&img.rgb[i], fill, 3);

    std::vector<GifPixelType> line(d.Width);
    std::vector<int> order;  // rows in the order they are stored
    if (d.Interlace) {
      for (int pass = 0; pass < 4; ++pass) {
        static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
        for (int y = start[pass]; y < d.Height; y += step[pass]) order.push_back(y);
      }
    } else {
      for (int y = 0; y < d.Height; ++y) order.push_back(y);
    }
    for (int y : order) {
      if (DGifGetLine(gif, line.data(), d.Width) == GIF_ERROR) return fail("reading pixels (truncated?)");
      const int sy = d.Top + y;
      if (sy < 0 || sy >= screen_h) continue;
      for (int x = 0; x < d.Width; ++x) {
        const int sx = d.Left + x;
        if (sx >= 0 && sx < screen_w) color_of(line[x], &img.rgb[(static_cast<size_t>(sy) * screen_w + sx) * 3]);
      }
    }
    return img;
  }
}

}  // namespace cc
